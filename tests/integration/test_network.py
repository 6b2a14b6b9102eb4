# SPDX-License-Identifier: MIT
"""A 3-seed, 10-peer network: formation, registries, broadcast, bulk traffic, propagation time."""
import os
import re
import statistics
import threading
import time
import uuid

from gossipnet import LOCAL, CURRENT_PEERS_RE, fmt_utc, graph_connected, log, wait_until
from wireproto import CtlConn


def test_network_forms(big_net):
    peers, seeds = big_net.peers, big_net.seeds
    all_peers = {p.addr for p in peers}

    # Every peer is ready (READY=1 was received) and says so; it registered with a
    # majority (2 of 3) of the seeds and knows every other peer.
    for p in peers:
        st = p.status()
        assert st["state"] == "ready", st
        assert st["node"] == p.addr
        assert (st["seeds_known"], st["seeds_required"], st["seeds_registered"]) == (3, 2, 2), st
        assert st["neighbours"] >= 1, st
        assert p.is_ready()

    # The overlay: every link is up on both sides and the graph is connected.
    adj = big_net.wait_connected()
    assert set(adj) == all_peers
    assert graph_connected(adj)
    for p in peers:
        for n in p.neighbours():
            assert n["direction"] in ("in", "out") and n["addr"] in all_peers - {p.addr}, n

    # Each seed registered exactly the peers that say they registered with it, and its log
    # shows them: one "New peer registered" line each, and the last "Current peers" set.
    union = set()
    for s in seeds:
        claimed = {p.addr for p in peers
                   if p.log_lines(rf"Registered with seed {re.escape(s.addr)} ")}
        registry = s.registry()
        assert registry == claimed, f"{s.name}: registry {registry} != peers registered with it {claimed}"
        new_lines = s.log_lines(r"New peer registered: ")
        registered = [re.search(r"New peer registered: (\S+)\. Current peers: \{", ln).group(1)
                      for ln in new_lines]
        assert sorted(registered) == sorted(claimed), new_lines
        for ln in new_lines:
            assert re.match(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] New peer registered: "
                            r"127\.0\.0\.1:\d+\. Current peers: \{[^{}]*\}$", ln), ln
        assert s.current_peers() == claimed
        union |= registry
    # Every peer is in a majority of the seeds, so their union lists every peer.
    assert union == all_peers
    for p in peers:
        assert sum(p.addr in s.registry() for s in seeds) == 2


def test_broadcast_reaches_every_peer_once(big_net):
    peers = big_net.peers
    origin, others = peers[0], peers[1:]
    text = f"hello gossip {uuid.uuid4().hex}"
    before_sent = origin.status()["messages_sent"]
    t0 = time.time()
    msg_id = origin.send(*text.split(" "))
    big_net.wait_delivered(others, text)
    # Let any late duplicate copies arrive before checking there are none.
    time.sleep(0.5)

    for p in others:
        lines = [r for r in p.received() if r["text"] == text]
        assert len(lines) == 1, f"{p.name} delivered {len(lines)} times: {lines}"
        r = lines[0]
        assert r["origin"] == origin.addr and r["oip"] == LOCAL
        assert r["frm"] in {q.addr for q in peers} - {p.addr}
        # The origin's timestamp, to the second, in local time (TZ=UTC here).
        assert abs(time.mktime(time.strptime(r["otime"], "%Y-%m-%d %H:%M:%S")) - time.mktime(
            time.gmtime(t0))) <= 2
        # The per-node log has the same line followed by the message id.
        logged = [ln for ln in p.log_lines(r"Received from ") if f"'{text}' (id " in ln]
        assert len(logged) == 1, logged
        assert logged[0].endswith(f"(id {msg_id})")
        # tail --json shows the same id and contents.
        entries = [e for e in p.tail() if e["id"] == msg_id]
        assert len(entries) == 1, entries
        e = entries[0]
        assert e["text"] == text and e["size"] == len(text) and e["origin"] == origin.addr
        assert e["from"] == r["frm"]
        assert fmt_utc(e["timestamp"]) == r["otime"]
        assert e["received"] >= e["timestamp"]

    # The origin does not deliver its own message (not even once).
    assert not [ln for ln in origin.output_lines() if text in ln]
    assert not [e for e in origin.tail() if e["id"] == msg_id]
    assert origin.status()["messages_sent"] == before_sent + 1
    # A fresh broadcast tree (or flooding) makes duplicate copies; the seen cache dropped them.
    assert sum(p.stats()["duplicates_received"] for p in peers) > 0


def test_bulk_messages_concurrently(big_net):
    peers = big_net.peers
    token = uuid.uuid4().hex[:12]
    origins = peers[:5]
    per_origin = 40
    sent = {}  # id -> (origin addr, text)
    lock = threading.Lock()
    errors = []

    def via_socket(p):
        try:
            with CtlConn(str(p.ctl_path)) as c:
                for i in range(per_origin):
                    text = f"bulk {token} {p.port} {i}"
                    mid = c.send(text.encode())
                    with lock:
                        sent[mid] = (p.addr, text)
        except Exception as e:  # reported below
            errors.append(repr(e))

    def via_gossipctl(p):
        try:
            for i in range(per_origin):
                text = f"bulk {token} {p.port} {i}"
                mid = p.send(text)
                with lock:
                    sent[mid] = (p.addr, text)
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=via_gossipctl if i == 0 else via_socket, args=(p,))
               for i, p in enumerate(origins)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    total = len(origins) * per_origin
    assert len(sent) == total  # distinct ids

    def expected_for(p):
        return {mid for mid, (o, _) in sent.items() if o != p.addr}

    def ids_at(p):
        return [m.group(1) for ln in p.log_lines(rf"'bulk {token} ")
                for m in [re.search(r"\(id ([0-9a-f]{64})\)$", ln)] if m]

    def missing():
        return {p.name: len(expected_for(p) - set(ids_at(p))) for p in peers
                if expected_for(p) - set(ids_at(p))}
    wait_until(lambda: not missing(), 60, what=lambda: f"all {total} messages everywhere; missing {missing()}")
    time.sleep(0.5)

    for p in peers:
        ids = ids_at(p)
        assert len(ids) == len(set(ids)), f"{p.name} delivered some message twice"
        assert set(ids) == expected_for(p)
        texts = [r["text"] for r in p.received() if r["text"].startswith(f"bulk {token} ")]
        assert len(texts) == len(set(texts)) == len(expected_for(p))
        assert sorted(texts) == sorted(t for mid, (o, t) in sent.items() if o != p.addr)
        # It never delivers its own messages.
        assert not [t for t in texts if t.split(" ")[2] == str(p.port)]


def test_propagation_time(big_net):
    """Measures the time from a send to its delivery at the last of the other 9 peers."""
    peers = big_net.peers
    samples = []
    for k in range(5):
        origin = peers[k % len(peers)]
        text = f"timing {uuid.uuid4().hex}"
        msg_id = origin.send(text)
        others = [p for p in peers if p is not origin]
        big_net.wait_delivered(others, text)
        received = []
        ts = None
        for p in others:
            e = [e for e in p.tail(20) if e["id"] == msg_id]
            assert len(e) == 1
            received.append(e[0]["received"])
            ts = e[0]["timestamp"]
        samples.append((max(received) - ts) / 1000.0)
    worst, median = max(samples), statistics.median(samples)
    line = (f"propagation to all {len(peers) - 1} other peers of a {len(peers)}-peer network: "
            f"median {median:.2f} ms, max {worst:.2f} ms over {len(samples)} messages "
            f"(samples: {', '.join(f'{s:.2f}' for s in samples)} ms)")
    log("\n" + line)
    out = os.environ.get("GOSSIP_BENCH_OUT")
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")
    assert worst < 5000, line

# SPDX-License-Identifier: MIT
"""Joining: a late joiner, seeds down at start, the prototype's command lines and seed list."""
import re
import time
import uuid

from conftest import FAST, STEADY
from gossipnet import LOCAL, Peer, Seed, SEED_BIN, PEER_BIN, base_env, free_port, run_ctl, wait_until

# PEER_JOIN_SLACK_USEC (src/core/peer.h), in seconds.
JOIN_SLACK_S = 2


def test_late_joiner_learns_the_network(network):
    net = network("late", peer_degree=2, **STEADY)
    net.start_seeds(3)
    early = net.start_peers(5)
    net.wait_connected()
    text = f"before the join {uuid.uuid4().hex}"
    sent_at = time.time()
    early[0].send(text)
    net.wait_delivered(early[1:], text)

    # A message stamped up to PEER_JOIN_SLACK_USEC (2 s) before a peer joined may still be
    # delivered to it (gossip(7)): the newcomer joins after that, which is what is tested here.
    time.sleep(max(0.0, sent_at + JOIN_SLACK_S + 0.5 - time.time()))
    late = net.add_peer()
    st = late.status()
    assert st["state"] == "ready"
    # Registered with a majority, so it learned of every registered peer.
    assert st["known_peers"] == len(early), st
    net.wait_connected()
    assert late.up_neighbours() <= {p.addr for p in early}

    # It receives what is sent after it joined (not what was sent before: no anti-entropy)...
    text2 = f"after the join {uuid.uuid4().hex}"
    msg_id = early[-1].send(text2)
    net.wait_delivered([late], text2)
    assert [e["id"] for e in late.tail() if e["text"] == text2] == [msg_id]
    assert not [ln for ln in late.output_lines() if text in ln]
    # ...and what it sends reaches everyone.
    text3 = f"from the newcomer {uuid.uuid4().hex}"
    late.send(text3)
    net.wait_delivered(early, text3)
    # The existing peers learn of it too (through its links or their next refresh).
    assert any(late.addr in p.up_neighbours() for p in early)


def test_one_seed_of_three_down(network):
    net = network("seeddown", peer_degree=2, **STEADY)
    seeds = net.start_seeds(3, started=2)
    down = seeds[2]
    assert not down.alive() and down.proc is None
    peers = net.start_peers(3)  # waits for READY=1 of each
    for p in peers:
        st = p.status()
        assert st["state"] == "ready"
        assert (st["seeds_known"], st["seeds_required"], st["seeds_registered"]) == (3, 2, 2)
        assert p.log_lines(rf"Peer {re.escape(p.addr)} ready: registered with 2 of 3 seeds")
    for s in seeds[:2]:
        assert s.registry() == {p.addr for p in peers}
    net.wait_connected()
    text = f"two seeds suffice {uuid.uuid4().hex}"
    peers[0].send(text)
    net.wait_delivered(peers[1:], text)


def test_no_seed_majority_then_seeds_come_up(network):
    net = network("nomajority", peer_register_retry_max=1.0, **STEADY)
    seeds = net.start_seeds(3, started=1)
    peer = net.add_peer(wait=False)

    # It keeps retrying, one log line per round, and does not become ready.
    retry = r"warning: Registered with [01] of 2 required seeds \(3 known\); retrying in \d+\.\d s$"
    peer.wait_log(retry, count=3, timeout=20)
    assert not peer.is_ready()
    st = peer.status()  # the control socket works while registering
    assert st["state"] == "registering"
    assert st["seeds_required"] == 2 and st["seeds_registered"] <= 1
    assert not peer.log_lines(r" ready: registered with")

    # The missing seeds start: it becomes ready on a later retry.
    for s in seeds[1:]:
        s.start()
    for s in seeds[1:]:
        s.wait_ready()
    peer.wait_ready(timeout=20)
    st = peer.status()
    assert st["state"] == "ready" and st["seeds_registered"] == 2
    wait_until(lambda: sum(peer.addr in s.registry() for s in seeds) == 2, 10)


def test_prototype_command_lines(network):
    """gossip-seed <ip> <port> and gossip-peer <ip> <port> <seed list>, run in a directory
    where they write their logs, as the Python prototype was run."""
    net = network("proto")
    seed_ports = [free_port() for _ in range(3)]
    workdir = net.dir / "proto"
    workdir.mkdir()
    # config.txt in the prototype's format: one IP:PORT per line.
    (workdir / "config.txt").write_text("".join(f"{LOCAL}:{p}\n" for p in seed_ports))
    seeds = []
    for port in seed_ports:
        s = Seed(net, port, f"seed-{port}", argv=[SEED_BIN, LOCAL, port], cwd=workdir)
        net.seeds.append(s)
        seeds.append(s.start())
    for s in seeds:
        s.wait_ready()
    peers = []
    for _ in range(3):
        port = free_port()
        pdir = workdir / f"p{port}"
        pdir.mkdir()
        # Peers run in their own directories (each writes output.txt there) with the
        # seed list given by a relative path, and the default control socket.
        p = Peer(net, port, f"peer-{port}", argv=[PEER_BIN, LOCAL, port, "../config.txt"], cwd=pdir,
                 ctl_path=net.dir / "run" / f"peer-{port}.sock")
        net.peers.append(p)
        peers.append(p.start())
    for p in peers:
        p.wait_ready()
        assert p.log_path == p.cwd / f"peer_{LOCAL}_{p.port}.log" and p.log_path.exists()
        assert p.ctl_path.exists()
    # Each peer registers with a random majority (2 of the 3 seeds), so a seed may have none.
    registered = {}
    for s in seeds:
        assert (workdir / f"seed_{LOCAL}_{s.port}.log").exists()
        for ln in s.log_lines(r"New peer registered: "):
            addr = re.search(r"New peer registered: (\S+)\. Current", ln).group(1)
            registered[addr] = registered.get(addr, 0) + 1
    assert registered == {p.addr: 2 for p in peers}, registered

    # gossipctl finds each peer's default socket by port.
    env = base_env(net.dir)
    text = f"like the prototype {uuid.uuid4().hex}"
    r = run_ctl(["-i", str(peers[0].port), "send", text], env)
    assert r.returncode == 0, r
    assert re.fullmatch(rb"sent [0-9a-f]{64}\n", r.stdout)
    net.wait_delivered(peers[1:], text)
    for p in peers[1:]:
        (line,) = [ln for ln in p.output_lines() if text in ln]
        assert re.fullmatch(
            rf"\[\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\] Received from {LOCAL}:\d+: {LOCAL}:{peers[0].port} - "
            rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d:{LOCAL}:'{text}'", line), line
    # Seed log lines in the prototype's form.
    for s in seeds:
        for ln in s.log_lines(r"New peer registered: "):
            assert re.fullmatch(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] New peer registered: "
                                r"127\.0\.0\.1:\d+\. Current peers: \{127\.0\.0\.1:\d+(, 127\.0\.0\.1:\d+)*\}",
                                ln), ln

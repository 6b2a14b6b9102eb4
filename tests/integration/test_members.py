# SPDX-License-Identifier: MIT
"""gossipctl members (gossip(7), MEMBERSHIP VIEW): every seed asked, the counts of seeds
holding each registration, a killed peer disappearing, seeds that do not answer, the JSON
parsed strictly, the exit statuses; and the seed's MEMBERS answer over the wire: pages at the
cap, the incarnation from HELLO, refused without a certificate under TLS, refused by
version."""
import ipaddress
import json
import re

import wireproto as w
from gossipnet import LOCAL, run_ctl, wait_until

MEMBER_KEYS = ["addr", "seeds", "held_by", "state", "incarnation", "lease_age", "registered_for"]
ADDR_RE = re.compile(r"\d+\.\d+\.\d+\.\d+:\d+")
REUSE = 1.05  # a peer gives its last answer again for a second (MEMBERS_REUSE_USEC)


def strict_json(text):
    """json.loads that refuses what Python tolerates: NaN, Infinity, duplicate keys."""
    def no_dupes(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate keys {keys}"
        return dict(pairs)

    def bad_constant(name):
        raise AssertionError(f"non-JSON constant {name}")
    assert text.endswith("\n") and text.count("\n") == 1, "one line of JSON"
    return json.loads(text, object_pairs_hook=no_dupes, parse_constant=bad_constant)


def members_json(peer, check=True):
    """gossipctl --json members, checked field by field; returns (seeds, members)."""
    p = peer.ctl("--json", "members", check=check)
    doc = strict_json(p.stdout.decode())
    assert list(doc) == ["seeds", "members"]
    for s in doc["seeds"]:
        assert list(s) == ["seed", "answered", "registrations", "error"], s
        assert ADDR_RE.fullmatch(s["seed"]) and isinstance(s["answered"], bool)
        assert isinstance(s["registrations"], int) and isinstance(s["error"], str)
        assert (s["error"] == "") == s["answered"], s
    addrs = [m["addr"] for m in doc["members"]]
    assert addrs == sorted(addrs, key=lambda a: (ipaddress.ip_address(a.rsplit(":", 1)[0]),
                                                 int(a.rsplit(":", 1)[1]))), addrs
    for m in doc["members"]:
        assert list(m) == MEMBER_KEYS, m
        assert ADDR_RE.fullmatch(m["addr"])
        assert isinstance(m["seeds"], int) and m["seeds"] >= 1
        held = m["held_by"].split(",")
        assert len(held) == m["seeds"] == len(set(held)), m
        assert m["state"] in ("alive", "suspect")
        assert re.fullmatch(r"[0-9a-f]{16}", m["incarnation"]), m
        assert isinstance(m["lease_age"], (int, float)) and 0 <= m["lease_age"] < 60
        assert isinstance(m["registered_for"], (int, float)) and m["registered_for"] >= 0
    return doc["seeds"], {m["addr"]: m for m in doc["members"]}


def test_members_counts_kills_and_seeds_down(network):
    net = network("members", seed_lease_time=6)
    seeds = net.start_seeds(3)
    peers = net.start_peers(4)
    seed_addrs = {f"{LOCAL}:{s.port}" for s in seeds}
    peer_addrs = {p.addr for p in peers}

    # Every peer, held by a majority (2 of 3) of the seeds: those whose registries hold it.
    def settled():
        sd, mem = members_json(peers[0])
        return (sd, mem) if set(mem) == peer_addrs and \
            all(m["seeds"] == 2 for m in mem.values()) else None
    sd, mem = wait_until(settled, what="every peer held by 2 seeds")
    assert {s["seed"] for s in sd} == seed_addrs and all(s["answered"] for s in sd)
    for s in seeds:
        holds = {a for a, m in mem.items() if f"{LOCAL}:{s.port}" in m["held_by"].split(",")}
        assert holds == s.registry() & peer_addrs, s.name
        assert next(x for x in sd if x["seed"] == f"{LOCAL}:{s.port}")["registrations"] == \
            len(s.registry())
    assert all(m["state"] == "alive" for m in mem.values())
    # Another peer sees the same registrations and incarnations.
    _, mem2 = members_json(peers[1])
    assert {a: m["incarnation"] for a, m in mem2.items()} == \
        {a: m["incarnation"] for a, m in mem.items()}
    assert len({m["incarnation"] for m in mem.values()}) == len(mem)

    # The table: a header, a row per peer, and the count of seeds.
    out = peers[2].ctl("members").stdout.decode().splitlines()
    assert out[0].split() == ["MEMBER", "SEEDS", "STATE", "LEASE", "AGE", "REGISTERED",
                              "INCARNATION", "HELD", "BY"]
    rows = [ln.split() for ln in out[1:-1]]
    assert sorted(r[0] for r in rows) == sorted(peer_addrs)
    assert all(r[1] == "2" and r[2] == "alive" for r in rows)
    assert out[-1] == "3 of 3 seeds answered, 4 registrations"

    # A killed peer disappears: its neighbours report it, the seeds' probes are refused.
    victim = peers[3]
    victim.kill()
    wait_until(lambda: victim.addr not in members_json(peers[0])[1], interval=REUSE,
               what=f"{victim.addr} gone from members")
    assert set(members_json(peers[0])[1]) == peer_addrs - {victim.addr}

    # A seed down: named on stderr, the others' registrations still shown, exit 0.
    seeds[2].stop()
    down = f"{LOCAL}:{seeds[2].port}"

    def one_down():
        p = peers[0].ctl("--json", "members")
        sd = strict_json(p.stdout.decode())["seeds"]
        return (p, sd) if [s["seed"] for s in sd if not s["answered"]] == [down] else None
    p, sd = wait_until(one_down, interval=REUSE, what="the stopped seed reported")
    assert f"seed {down} did not answer" in p.stderr.decode()
    assert "connect" in next(s["error"] for s in sd if s["seed"] == down)

    # No seed answers: exit 1, nothing on stdout, one line saying why.
    for s in seeds[:2]:
        s.stop()

    def none_answer():
        p = peers[0].ctl("members", check=False)
        return p if p.returncode == 1 else None
    p = wait_until(none_answer, interval=REUSE, what="members failing without seeds")
    assert p.stdout == b""
    err = p.stderr.decode()
    assert "no seed answered (3 asked)" in err and down in err, err


def test_members_not_running(network):
    net = network("members-nr")
    net.start_seeds(1)
    peer = net.add_peer()
    peer.stop()
    p = run_ctl(["-s", str(peer.ctl_path), "members"], peer.env())
    assert p.returncode == 3 and p.stdout == b"", p.stderr


def recv_members(conn):
    fr = conn.recv_frame()
    assert fr is not None and fr[0] == w.MEMBERS, f"unexpected reply {fr!r}"
    return w.decode_members(fr[1])


def test_seed_pages_at_the_cap(network):
    """One more registration than a page holds: two pages, in address order, each once."""
    net = network("members-cap", seed_max_peers_per_host=0)
    seed = net.start_seeds(1)[0]
    n = w.MEMBERS_MAX + 1
    ports = list(range(20000, 20000 + n))
    with w.WireConn(seed.port) as c:
        c.send(w.hello(LOCAL, ports[5], incarnation=0x0123456789ABCDEF))
        assert c.recv_frame()[0] == w.HELLO
        for port in reversed(ports):
            c.send(w.register(LOCAL, port))
        for _ in ports:
            assert c.recv_frame()[0] == w.PEER_LIST
        c.send(w.members_req())
        total, more, first = recv_members(c)
        assert (total, more, len(first)) == (n, 1, w.MEMBERS_MAX)
        c.send(w.members_req(first[-1]["addr"]))
        total, more, rest = recv_members(c)
        assert (total, more, len(rest)) == (n, 0, 1)
        got = [e["addr"][1] for e in first + rest]
        assert got == ports
        assert all(e["state"] == 1 for e in first + rest)
        assert {e["addr"][1]: e["incarnation"] for e in first if e["incarnation"]} == \
            {ports[5]: 0x0123456789ABCDEF}
        # A frame stamped version 3 (gossip 0.3) is refused: closed.
        c.send(w.members_req(version=3))
        assert c.wait_closed()
    assert seed.wait_log("malformed frame: unsupported protocol version")


def test_seed_refuses_plaintext_members_under_tls(network):
    net = network("members-tls")
    net.use_tls(mode="optional")
    seed = net.start_seeds(1)[0]
    peer = net.add_peer()
    with w.WireConn(seed.port) as c:
        c.send(w.members_req())
        fr = c.recv_frame()
        assert fr is not None and fr[0] == w.ERROR and fr[1][:2] == b"\x00\x04", fr
        assert b"verified certificate" in fr[1]
        assert c.wait_closed()
    # The peer asks over TLS with the cluster's certificate: answered.
    sd, mem = members_json(peer)
    assert sd[0]["answered"] and set(mem) == {peer.addr}

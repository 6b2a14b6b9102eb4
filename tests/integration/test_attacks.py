# SPDX-License-Identifier: MIT
"""Attacks on the daemons from the network, each tried as an attacker would and shown refused.

Every test here reproduces one finding of the security review against the
daemons on loopback; with the weakness back in place the test fails (or the
network's teardown finds a sanitizer report, a crash or a hang). An attacker
connects from an address of its own (ATTACKER, another 127.0.0.x), so that
per-host limits and the seeds' reserved slots can tell it from the nodes.

Findings covered elsewhere: forged, altered and replayed broadcasts (1) in
test_signatures.py; claims outside a node's certificate, a spoofed LEAVE
among them (2, 3), in test_tls.py.
"""
import os
import pwd
import re
import socket
import struct
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import wireproto as w
from gossipnet import LOCAL, Follower, Listener, base_env, run_ctl, wait_until

ATTACKER = "127.0.0.9"
STEADY = dict(peer_ping_interval=1.0, peer_ping_timeout=1.0, peer_ping_misses=3)


def send_and_reset(port, data):
    """Connects, writes data in one call and closes with a TCP reset (SO_LINGER 0)."""
    s = socket.create_connection((LOCAL, port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.sendall(data)
    s.close()


def closed_by_remote(sock, timeout=10.0):
    """True when the other end closes sock (EOF or reset) within timeout; what it sent before
    is skipped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
    return False


def stop_and_summary(seed):
    """Stops the seed (SIGTERM) and returns the counters of its last log line."""
    seed.stop()
    (ln,) = seed.log_lines(r"Seed \S+ stopping \(signal 15\)")
    return {k: int(v) for v, k in re.findall(r"(\d+) (sent|encoded|idle|not reading)", ln)} | {
        "suppressed": int(re.search(r"(\d+) log lines suppressed", ln).group(1)),
        "registrations_refused": int(re.search(r"(\d+) registrations over", ln).group(1)),
    }


# --- finding 4: use after free ---------------------------------------------------------------

def test_gossip_then_reset_does_not_use_freed_neighbour(network):
    """Finding 4: HELLO and a valid GOSSIP in one write, then a reset. Forwarding the message
    flushed the sender's own connection; the write failed, the failure declared the sender
    dead (peer.ping_misses = 1) and freed it, and the received-line formatting read it after
    the free (an AddressSanitizer report under SANITIZE=1). The peer must survive, log the
    message once, and keep serving."""
    net = network("uaf", peer_ping_misses=1, peer_ping_interval=0.5, peer_ping_timeout=0.5)
    net.start_seeds(1)
    (peer,) = net.start_peers(1)
    rounds = 20
    for i in range(rounds):
        fake = (LOCAL, 40000 + i)
        fr, _ = w.gossip(fake, f"reset-{i}".encode())
        send_and_reset(peer.port, w.hello(*fake) + fr)
    wait_until(lambda: len([ln for ln in peer.output_lines() if "reset-" in ln]) == rounds,
               what=lambda: f"{rounds} messages in output.txt; have {peer.output_lines()}")
    assert peer.alive(), "the peer died after a GOSSIP frame followed by a reset"
    texts = [ln.rsplit(":'", 1)[1].rstrip("'") for ln in peer.output_lines() if "reset-" in ln]
    assert sorted(texts) == sorted(f"reset-{i}" for i in range(rounds))
    assert peer.status()["state"] == "ready"


# --- finding 2: link hijack --------------------------------------------------------------------

def test_hello_claiming_a_live_neighbour_does_not_take_its_link(network):
    """Finding 2: an impostor's HELLO claiming a neighbour's address, where that address sorts
    below the receiver's (the duplicate-link rule kept the lower address's link), dropped the
    real link and gave the impostor its slot. An inbound HELLO never displaces a live link: the
    impostor is told it is a duplicate and closed, the real link stays and carries the next
    broadcast."""
    net = network("hijack", peer_degree=1, **STEADY)
    net.start_seeds(1)
    a, b = net.start_peers(2)
    net.wait_connected()
    low, high = sorted((a, b), key=lambda p: p.port)
    (before,) = [n for n in high.neighbours() if n["addr"] == low.addr]
    for _ in range(5):
        with w.WireConn(high.port, source=ATTACKER) as c:
            c.send(w.hello(LOCAL, low.port))
            fr = c.recv_frame()
            assert fr is not None and fr[0] == w.ERROR, fr
            assert c.wait_closed(), "the impostor's connection stayed open"
    (after,) = [n for n in high.neighbours() if n["addr"] == low.addr]
    # The same link: up all along (a new one would have started its clock again).
    assert after["state"] == "up" and after["direction"] == before["direction"], (before, after)
    assert after["connected_for"] >= before["connected_for"], (before, after)
    token = f"after hijack attempts {time.monotonic_ns()}"
    high.send(token)
    net.wait_delivered([low], token)
    assert low.received()[-1]["frm"] == high.addr


# --- finding 3: the seed's registry ------------------------------------------------------------

def test_registrations_from_one_host_are_capped(network):
    """Finding 3: fake REGISTERs filled seed.max_peers and kept a real peer out. One host now
    registers seed.max_peers_per_host addresses at most (here 20, of a registry of 25): the
    20th is accepted, the 21st refused with an error and the connection closed, and a peer
    from another host still registers."""
    net = network("reg-flood", seed_max_peers=25, seed_max_peers_per_host=20, **STEADY)
    (seed,) = net.start_seeds(1)
    flood = b"".join(w.register(ATTACKER, 1000 + i) for i in range(30))
    with w.WireConn(seed.port, source=ATTACKER) as c:
        c.send(flood)
        lists = 0
        while True:
            fr = c.recv_frame()
            if fr is None:
                break
            if fr[0] == w.ERROR:
                assert b"too many registrations from this host" in fr[1], fr
                assert c.wait_closed()
                break
            assert fr[0] == w.PEER_LIST, fr
            lists += 1
    assert lists == 20
    fake = {f"{ATTACKER}:{1000 + i}" for i in range(20)}
    assert seed.registry() == fake
    seed.wait_log(rf"refusing registration of {ATTACKER}:1020 from {ATTACKER}:\d+: 20 "
                  r"registrations from that host already \(seed\.max_peers_per_host\)")
    peer = net.add_peer(ip="127.0.0.2")
    wait_until(lambda: peer.addr in seed.registry(), what=f"{peer.addr} registered")
    assert stop_and_summary(seed)["registrations_refused"] == 1


def hold_pending(port, n, source):
    """n connections to port from source that never say HELLO; returns the sockets."""
    socks = []
    for _ in range(n):
        s = socket.create_connection((LOCAL, port), timeout=10, source_address=(source, 0))
        socks.append(s)
    return socks


def report_dead_and_see_it_rejected(seed, peer, tls=None):
    """The attacker reports peer dead; the seed's probe reaches it, the report is rejected and
    the peer stays registered."""
    with w.WireConn(seed.port, source=ATTACKER, tls=tls) as c:
        c.send(w.dead_report((LOCAL, peer.port), (ATTACKER, 1)))
        seed.wait_log(rf"Dead-node report about {re.escape(peer.addr)} from {ATTACKER}:1 "
                      r"rejected: it answered the seed's probe")
    assert peer.addr in seed.registry()
    assert not seed.log_lines("Removed peer")


def test_probe_gets_through_slots_held_by_strangers(network):
    """Finding 3: an attacker holding all 64 pre-HELLO slots of a peer made the seed's probe of
    it fail, so its own dead report about that peer was "confirmed". Connections from a seed's
    host have slots of their own: the 65th stranger is refused, the probe is answered and the
    report rejected."""
    net = network("probe-slots", **STEADY)
    (seed,) = net.start_seeds(1)
    (peer,) = net.start_peers(1)
    held = hold_pending(peer.port, 64, ATTACKER)
    try:
        wait_until(lambda: peer.stats()["connections_accepted"] == 64,
                   what="the 64 held connections accepted")
        extra = socket.create_connection((LOCAL, peer.port), timeout=10,
                                         source_address=(ATTACKER, 0))
        assert closed_by_remote(extra), "a 65th pending connection was accepted"
        extra.close()
        assert peer.stats()["connections_refused"] == 1
        report_dead_and_see_it_rejected(seed, peer)
    finally:
        for s in held:
            s.close()


def test_probe_gets_through_a_handshake_flood(network):
    """Finding 3, with TLS: connections waiting in their handshake are limited (256 in all),
    and strangers who hold them all made the seed's probe fail the same way. One host holds
    16 at most, and a seed's host is not held to the global limit: 17 hosts holding 16 each
    (the 17th host's refused) do not stop the probe."""
    net = network("hs-flood", **STEADY)
    ca = net.use_tls()
    (seed,) = net.start_seeds(1)
    (peer,) = net.start_peers(1)
    member_cert, member_key = net.issue(ca, "member", (ATTACKER,))
    hosts = [f"127.0.0.{10 + i}" for i in range(17)]
    held = []
    try:
        held += hold_pending(peer.port, 16, hosts[0])
        # A 17th connection from that host: refused at once.
        extra = socket.create_connection((LOCAL, peer.port), timeout=10,
                                         source_address=(hosts[0], 0))
        assert closed_by_remote(extra), "a 17th handshake from one host was accepted"
        extra.close()
        peer.wait_log(r"refusing connection from 127\.0\.0\.10:\d+: 16 connections from that "
                      r"host already in their TLS handshake")
        for h in hosts[1:]:  # 16 more hosts: 272 in all, over the global 256
            held += hold_pending(peer.port, 16, h)
        peer.wait_log(r"refusing connection from 127\.0\.0\.26:\d+: 256 connections in all "
                      r"already in their TLS handshake")
        report_dead_and_see_it_rejected(seed, peer,
                                        w.tls_context(ca / "ca.crt", member_cert, member_key))
    finally:
        for s in held:
            s.close()


# --- finding 5: the seed's memory --------------------------------------------------------------

def test_seed_caps_partial_frames_and_closes_idle_clients(network):
    """Finding 5: a seed client could leave a partial frame of up to 1 MiB, and idle clients
    were never closed (400 of them took a seed to 416 MB). A frame may be 4096 bytes at most
    (a valid one is far smaller): the header of a 1 MiB frame and 8 KiB of it close the
    connection. A client silent for seed.lease_time is closed; one that talks stays."""
    net = network("seed-mem", seed_lease_time=2.0)
    (seed,) = net.start_seeds(1)
    with w.WireConn(seed.port, source=ATTACKER) as big:
        big.send(w.frame(w.ERROR, length=1024 * 1024)[:8] + b"x" * 8192)
        assert big.wait_closed(), "the seed kept buffering a partial frame over the limit"
    seed.wait_log(rf"closing connection from {ATTACKER}:\d+: malformed frame: frame over this "
                  r"connection's size limit")
    # At the limit: a whole frame of 4096 bytes is read (and found malformed), not refused
    # for its size.
    with w.WireConn(seed.port, source=ATTACKER) as edge:
        edge.send(w.frame(w.ERROR, b"\0" * (4096 - 8)))
        assert edge.wait_closed()
    seed.wait_log(rf"closing connection from {ATTACKER}:\d+: malformed frame: (?!frame over)")
    idle = w.WireConn(seed.port, source=ATTACKER)
    busy = w.WireConn(seed.port, source=ATTACKER)
    try:
        start = time.monotonic()
        nonce = 0
        while not closed_by_remote(idle.sock, timeout=0.2):
            nonce += 1
            busy.send(w.ping(nonce))
            assert busy.recv_frame() == (w.PONG, struct.pack(">Q", nonce))
            assert time.monotonic() - start < 20, "the idle client was never closed"
        # The one that kept talking is still served.
        busy.send(w.ping(424242))
        assert busy.recv_frame() == (w.PONG, struct.pack(">Q", 424242))
    finally:
        idle.close()
        busy.close()
    seed.wait_log(rf"closing connection from {ATTACKER}:\d+: nothing received for 2\.0 s "
                  r"\(seed\.lease_time\)")
    assert stop_and_summary(seed)["idle"] >= 1


def test_connections_from_one_host_are_capped(network):
    """Finding 5: nothing bounded the connections one host could open to a seed. At
    seed.max_connections_per_host (here 8) the 9th is refused, while another host is served."""
    net = network("seed-conns", seed_max_connections_per_host=8)
    (seed,) = net.start_seeds(1)
    conns = [w.WireConn(seed.port, source=ATTACKER) for _ in range(8)]
    try:
        for i, c in enumerate(conns):  # all eight served
            c.send(w.ping(i))
            assert c.recv_frame() == (w.PONG, struct.pack(">Q", i))
        ninth = socket.create_connection((LOCAL, seed.port), timeout=10,
                                         source_address=(ATTACKER, 0))
        assert closed_by_remote(ninth), "a 9th connection from one host was accepted"
        ninth.close()
        seed.wait_log(rf"refusing connection from {ATTACKER}:\d+: 8 connections from that host "
                      r"already \(seed\.max_connections_per_host\)")
        with w.WireConn(seed.port, source="127.0.0.2") as other:
            other.send(w.ping(99))
            assert other.recv_frame() == (w.PONG, struct.pack(">Q", 99))
    finally:
        for c in conns:
            c.close()


# --- finding 6: CPU amplification --------------------------------------------------------------

def test_peer_list_requests_reuse_one_encoding(network):
    """Finding 6: every PEER_LIST_REQ encoded the whole registry again. The encoding is cached
    until the registry changes: 3000 requests after 300 registrations cost 300 encodings plus
    one, and a client that does not read its answers is closed once, in one log line."""
    net = network("list-cache", seed_max_peers_per_host=0)
    (seed,) = net.start_seeds(1)
    with w.WireConn(seed.port, source=ATTACKER) as c:
        c.send(b"".join(w.register(ATTACKER, 1000 + i) for i in range(300)))
        for _ in range(300):
            assert c.recv_frame()[0] == w.PEER_LIST
        for _ in range(6):  # 500 at a time: 1 MB of answers, within the client's queue
            c.send(w.peer_list_req() * 500)
            for _ in range(500):
                fr = c.recv_frame()
                assert fr[0] == w.PEER_LIST and len(w.decode_peer_list(fr[1])) == 300
    # 20,000 requests that are never read: the queue fills, the client is closed.
    s = socket.create_connection((LOCAL, seed.port), timeout=10, source_address=(ATTACKER, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        s.sendall(w.peer_list_req() * 20000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    seed.wait_log(rf"closing connection from {ATTACKER}:\d+: it does not read its answers")
    s.close()
    assert len(seed.log_lines("does not read its answers")) == 1
    assert not seed.log_lines("cannot queue peer list")
    st = stop_and_summary(seed)
    assert st["sent"] >= 3300 and st["encoded"] <= 301, st
    assert st["not reading"] == 1, st


# --- finding 7: dialing addresses an attacker chose ------------------------------------------

def test_seed_is_not_made_to_probe_an_address_a_member_does_not_own(network):
    """Finding 7: REGISTER X then DEAD_REPORT X made the seed connect to X, anyone's address.
    With TLS a member registers only addresses its certificate lists; a report about an
    address nobody registered is not probed. The same steps for the member's own address do
    make the seed probe it (the control): a probe of X would have come first."""
    net = network("dial", **STEADY)
    ca = net.use_tls()
    (seed,) = net.start_seeds(1)
    cert, key = net.issue(ca, "member", (ATTACKER,))
    ctx = w.tls_context(ca / "ca.crt", cert, key)
    victim, own = Listener("127.0.0.3"), Listener(ATTACKER)
    try:
        with w.WireConn(seed.port, source=ATTACKER, tls=ctx) as c:
            c.send(w.register(*victim.addr))
            fr = c.recv_frame()
            assert fr is not None and fr[0] == w.ERROR, fr
        with w.WireConn(seed.port, source=ATTACKER, tls=ctx) as c:
            c.send(w.dead_report(victim.addr, (ATTACKER, 1)))
            c.send(w.register(*own.addr))
            assert c.recv_frame()[0] == w.PEER_LIST
            c.send(w.dead_report(own.addr, (ATTACKER, 1)))
            seed.wait_log(rf"not removing {ATTACKER}:{own.addr[1]} yet: the seed.s probe")
        wait_until(lambda: own.count >= 1, what="the seed's probe of the member's own address")
        assert victim.count == 0, "the seed dialled an address the member does not own"
    finally:
        victim.close()
        own.close()


def test_plaintext_hello_claim_is_not_redialled(network):
    """Finding 7: a HELLO claiming X made peers redial X once the link closed, and report it
    dead to the seeds. In tls.mode optional a plaintext HELLO proves nothing: its address is
    neither redialled nor reported. Checked over six of the peer's ping rounds, counted by its
    own pings."""
    net = network("redial", **STEADY)
    net.use_tls(mode="optional")
    (seed,) = net.start_seeds(1)
    a, b = net.start_peers(2)
    net.wait_connected()
    victim = Listener("127.0.0.3")
    try:
        with w.WireConn(a.port, source=ATTACKER) as c:
            c.send(w.hello(*victim.addr))
            fr = c.recv_frame()
            assert fr is not None and fr[0] == w.HELLO, fr
        wait_until(lambda: f"{victim.addr[0]}:{victim.addr[1]}" not in
                   {n["addr"] for n in a.neighbours()}, what="the plaintext neighbour gone")
        pings = a.stats()["pings_sent"]
        wait_until(lambda: a.stats()["pings_sent"] >= pings + 6, what="six more ping rounds")
        assert victim.count == 0, "the peer redialled an address only a plaintext HELLO claimed"
        assert not seed.log_lines(rf"Dead Node:127\.0\.0\.3:{victim.addr[1]}:")
    finally:
        victim.close()


# --- finding 8: GRAFT amplification ------------------------------------------------------------

def read_gossip_until_ping(conn, msg_id):
    """Copies of msg_id received before the next PING (which answers to frames sent before it
    were queued ahead of)."""
    copies = 0
    while True:
        fr = conn.recv_frame(timeout=15)
        assert fr is not None, "the peer closed the connection"
        if fr[0] == w.GOSSIP and fr[1][:32] == msg_id:
            copies += 1
        if fr[0] == w.PING:
            conn.send(w.frame(w.PONG, fr[1]))
            return copies


def test_graft_answers_each_id_once(network):
    """Finding 8: 100 KB of GRAFTs naming one message returned 208 MB of copies of it. A GRAFT
    is answered once per id and link (an answer over TCP is not lost); the repeats are refused
    and counted."""
    net = network("graft-amp", peer_max_message_size=65536, **STEADY)
    net.start_seeds(1)
    (peer,) = net.start_peers(1)
    c = w.WireConn(peer.port, source=ATTACKER)
    try:
        c.send(w.hello(ATTACKER, 40001))
        assert c.recv_frame()[0] == w.HELLO
        wait_until(lambda: peer.status()["neighbours"] == 1, what="the attacker a neighbour")
        peer.ctl("send", "-", input=b"x" * 60000)
        while True:
            fr = c.recv_frame()
            if fr[0] == w.GOSSIP:
                msg_id = fr[1][:32]
                break
        asks = 3 * 1024
        c.send(w.graft([msg_id] * 1024) * 3)  # ~100 KB
        wait_until(lambda: peer.stats()["grafts_refused"] >= asks - 1,
                   what=f"{asks - 1} repeated GRAFTs refused")
        copies = read_gossip_until_ping(c, msg_id)
        assert copies <= 1, f"{copies} copies sent for one GRAFTed id"
        st = peer.stats()
        assert st["grafts_answered"] == 1 and st["grafts_refused"] == asks - 1, st
    finally:
        c.close()


# --- finding 9: log amplification --------------------------------------------------------------

def test_remote_log_lines_are_rate_limited(network):
    """Finding 9: every frame a client sends could write a log line, unbounded (150 KB of
    REGISTERs wrote 6.8 MB of log). 3000 dead reports about unknown peers (6000 lines before)
    write the first 1000 report lines and 100 "not registered" lines per 10 s; the rest are
    counted and reported as suppressed."""
    net = network("log-amp")
    (seed,) = net.start_seeds(1)
    before = len(seed.log_lines())
    with w.WireConn(seed.port, source=ATTACKER) as c:
        c.send(b"".join(w.dead_report((ATTACKER, 2000 + i), (ATTACKER, 1)) for i in range(3000)))
        c.send(w.ping(7))  # answered once every report before it was handled
        assert c.recv_frame() == (w.PONG, struct.pack(">Q", 7))
    added = len(seed.log_lines()) - before
    assert added <= 1000 + 100 + 5, f"{added} log lines for 3000 reports"
    assert len(seed.log_lines("Dead Node:")) == 1000
    assert 1 <= len(seed.log_lines("is not registered here")) <= 100
    assert stop_and_summary(seed)["suppressed"] >= 6000 - 1100


# --- finding 10: local -------------------------------------------------------------------------

def test_idle_control_clients_make_room(network):
    """Finding 10: clients that connect to the control socket and say nothing locked gossipctl
    out at peer.max_control_clients. A newcomer takes the place of the client idle longest
    (once idle 1 s); and a client silent for peer.control_idle_timeout is closed, one following
    tail -f is not."""
    net = network("ctl-idle", peer_max_control_clients=4, peer_control_idle_timeout=600.0,
                  **STEADY)
    net.start_seeds(1)
    (peer,) = net.start_peers(1)
    idle = [w.CtlConn(str(peer.ctl_path)) for _ in range(4)]
    try:
        # Until the idlest has been idle 1 s a newcomer is refused; then it is served.
        wait_until(lambda: peer.ctl("status", check=False).returncode == 0,
                   what="gossipctl status served with 4 idle clients connected")
        assert sum(closed_by_remote(c.sock, timeout=0.5) for c in idle) >= 1
        peer.wait_log(r"peer\.max_control_clients \(4\) reached: disconnecting pid \d+, idle")
    finally:
        for c in idle:
            c.close()

    net2 = network("ctl-idle2", peer_control_idle_timeout=0.5, **STEADY)
    net2.start_seeds(1)
    p2, p3 = net2.start_peers(2)
    net2.wait_connected()
    follower = Follower(["-s", p2.ctl_path, "tail", "-f", "-n", "0"], p2.env())
    silent = w.CtlConn(str(p2.ctl_path))
    try:
        assert closed_by_remote(silent.sock, timeout=20), "an idle control client stayed"
        p2.wait_log(r"control socket: disconnecting pid \d+: no request for 0\.5 s")
        token = f"follower still here {time.monotonic_ns()}"
        p3.send(token)
        line = follower.out.next(what="the message on tail -f")
        assert token in line, line
    finally:
        silent.close()
        follower.close()


def free_uid():
    """A uid no user has, with no /tmp/gossip-<uid> yet."""
    for uid in range(60100, 60999):
        try:
            pwd.getpwuid(uid)
            continue
        except KeyError:
            pass
        if not os.path.lexists(f"/tmp/gossip-{uid}"):
            return uid
    pytest.skip("no free uid found")


FAKE_SERVER = r"""
import os, socket, sys
os.setgid(int(sys.argv[3])); os.setuid(int(sys.argv[2]))
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); s.listen(4)
print("ready", flush=True)
s.settimeout(30)
try:
    c, _ = s.accept()
    print("connected", flush=True)
    print("request" if c.recv(100) else "nothing", flush=True)
except socket.timeout:
    print("timeout", flush=True)
"""


def fake_server(path, uid):
    """A control socket at path served by a process of uid; returns it once listening."""
    p = subprocess.Popen([sys.executable, "-c", FAKE_SERVER, str(path), str(uid), str(uid)],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to act as two other users")
def test_gossipctl_ignores_a_runtime_directory_someone_else_owns(tmp_path):
    """Finding 10: gossipctl used /tmp/gossip-<uid> without checking who made it; anyone could
    create it first and serve a socket in it. gossipctl skips it, says why, and sends nothing."""
    user = free_uid()
    attacker = user + 1  # any other user (not root, nor gossip)
    d = Path(f"/tmp/gossip-{user}")
    d.mkdir(mode=0o755)
    try:
        os.chown(d, attacker, attacker)
        srv = fake_server(d / "peer-7000.sock", attacker)
        env = base_env(tmp_path, GOSSIP_RUNTIME_DIR=None)
        p = run_ctl(["-i", "7000", "status"], env,
                    preexec_fn=lambda: (os.setgid(user), os.setuid(user)))
        err = p.stderr.decode()
        assert p.returncode == 3, (p.returncode, err)
        assert f"ignoring {d}: owned by uid {attacker}, not by root, uid {user} or gossip" in err
        srv.kill()
        out = srv.communicate()[0]
        assert "connected" not in out, "gossipctl connected to a socket in the attacker's directory"
    finally:
        for f in d.iterdir():
            f.unlink()
        d.rmdir()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to serve a socket as another user")
def test_gossipctl_refuses_a_socket_served_by_another_user(tmp_path):
    """Finding 10: gossipctl talked to whatever served the socket. It checks the server's
    credentials (root, the user or gossip) and refuses another's before sending the request."""
    uid = free_uid()
    d = Path(tempfile.mkdtemp(prefix="gossip-cred-", dir="/tmp"))
    try:
        d.chmod(0o777)  # the other user must be able to create its socket here
        sock = d / "peer-7000.sock"
        srv = fake_server(sock, uid)
        d.chmod(0o755)
        p = run_ctl(["-s", str(sock), "send", "secret"], base_env(tmp_path))
        err = p.stderr.decode()
        assert p.returncode == 4, (p.returncode, err)
        assert f"refusing {sock}: it is served by uid {uid}" in err, err
        out = srv.communicate(timeout=30)[0]
        assert "request" not in out, "gossipctl sent its request to another user's socket"
    finally:
        shutil.rmtree(d)

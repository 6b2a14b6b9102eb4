# SPDX-License-Identifier: MIT
"""Garbage on every port: seeds, peers and the control socket close the connection, log the
remote and the reason, and keep serving."""
import os
import re
import socket
import struct
import time
import uuid

import pytest

import wireproto as w
from conftest import STEADY
from gossipnet import LOCAL, wait_until


@pytest.fixture(scope="module")
def net(module_network):
    net = module_network("robust", peer_degree=1, **STEADY).formed(1, 2)
    return net


def garbage():
    # Not starting with 'G': random bytes are never mistaken for a frame.
    return b"\x00" + os.urandom(63)


FAKE = (LOCAL, 1)  # an address nobody listens on, used by the forged frames
FAKE2 = (LOCAL, 2)  # a second one

# name -> (bytes to send, reason the node logs)
COMMON_CASES = {
    "random-bytes": (garbage, "bad magic (not a gossip frame)"),
    "http-request": (lambda: b"GET / HTTP/1.0\r\n\r\n", "bad magic (not a gossip frame)"),
    "wrong-version": (lambda: w.frame(w.PING, struct.pack(">Q", 1), version=1), "unsupported protocol version"),
    "unknown-type": (lambda: w.frame(0x7F, b""), "unknown frame type"),
    "type-zero": (lambda: w.frame(0, b""), "unknown frame type"),
    "oversized-length": (lambda: w.frame(w.PING, b"", length=0xFFFFFFFF), "frame length over the limit"),
    "just-over-limit": (lambda: w.frame(w.PING, b"", length=w.WIRE_MAX_BODY + 1), "frame length over the limit"),
    "short-body": (lambda: w.frame(w.PING, b"\x00" * 4), "truncated body"),
    "trailing-bytes": (lambda: w.frame(w.PEER_LIST_REQ, b"\x00" * 4), "trailing bytes after body"),
}
SEED_CASES = dict(COMMON_CASES, **{
    "bad-address-family": (lambda: w.frame(w.REGISTER, b"\x09" + bytes(4) + b"\x17\x70"), "bad address family"),
    "port-zero": (lambda: w.frame(w.REGISTER, w.addr(LOCAL, 0)), "address with port 0"),
    "truncated-address": (lambda: w.frame(w.REGISTER, w.addr(LOCAL, 6000)[:5]), "truncated address"),
    "gossip-to-seed": (lambda: w.gossip(FAKE, b"hi")[0], "unexpected frame type for a seed"),
})
PEER_CASES = dict(COMMON_CASES, **{
    "gossip-before-hello": (lambda: w.gossip(FAKE, b"hi")[0], "expected HELLO first"),
    "bad-role": (lambda: w.frame(w.HELLO, b"\x07" + w.addr(*FAKE) + bytes(8)), "bad role in HELLO"),
    "bad-id": (lambda: w.hello(*FAKE) + w.gossip(FAKE, b"forged", msg_id=b"\x01" * 32)[0],
               "message id does not match its contents"),
    "empty-payload": (lambda: w.hello(*FAKE) + w.gossip(FAKE, b"")[0], "empty payload"),
    "payload-length-mismatch": (lambda: w.hello(*FAKE) + bad_length_gossip(), "payload length does not match"),
    "register-to-peer": (lambda: w.hello(*FAKE) + w.register(*FAKE), "unexpected frame type between peers"),
})


def bad_length_gossip():
    fr, _ = w.gossip(FAKE, b"abcdef")
    body = bytearray(fr[8:])
    # The u32 payload length sits after id (32), origin (7), time (8), seq (8) and the
    # signature length (1, here 0).
    struct.pack_into(">I", body, 32 + 7 + 16 + 1, 5)
    return w.frame(w.GOSSIP, bytes(body))


def check_closed_and_logged(node, conn, payload, reason):
    conn.send(payload)
    assert conn.wait_closed(10), f"{node.name} kept the connection open after {payload[:16]!r}"
    node.wait_log(rf"warning: closing \S*\s?connection (from )?{re.escape(conn.local)}: "
                  rf"malformed frame: {re.escape(reason)}", timeout=10)


def seed_still_serves(net, seed):
    assert seed.alive()
    assert seed.registry() == {p.addr for p in net.peers}
    with w.WireConn(seed.port) as c:
        c.send(w.ping(77))
        assert c.recv_frame() == (w.PONG, struct.pack(">Q", 77))


def peer_still_serves(net, peer):
    assert peer.alive()
    with w.WireConn(peer.port) as c:
        # A seed-style probe: HELLO then PING, answered with HELLO and PONG.
        c.send(w.hello(LOCAL, net.seeds[0].port, role=w.ROLE_SEED) + w.ping(99))
        assert c.recv_frame()[0] == w.HELLO
        assert c.recv_frame() == (w.PONG, struct.pack(">Q", 99))
    assert peer.status()["state"] == "ready"


@pytest.mark.parametrize("case", sorted(SEED_CASES))
def test_seed_rejects(net, case):
    seed = net.seeds[0]
    make, reason = SEED_CASES[case]
    with w.WireConn(seed.port) as c:
        check_closed_and_logged(seed, c, make(), reason)
    seed_still_serves(net, seed)


@pytest.mark.parametrize("case", sorted(PEER_CASES))
def test_peer_rejects(net, case):
    peer = net.peers[0]
    make, reason = PEER_CASES[case]
    before = peer.stats()["malformed_frames"]
    with w.WireConn(peer.port) as c:
        check_closed_and_logged(peer, c, make(), reason)
    assert peer.stats()["malformed_frames"] == before + 1
    peer_still_serves(net, peer)
    assert not [ln for ln in peer.output_lines() if "forged" in ln]


def test_peer_accepts_a_wellformed_foreign_peer(net):
    """The Python encoder is right (so the rejections above are about the garbage): a HELLO
    and a GOSSIP built here are accepted, delivered and forwarded."""
    a, b = net.peers
    with w.WireConn(a.port) as c:
        c.send(w.hello(*FAKE))
        ftype, body = c.recv_frame()
        assert ftype == w.HELLO and body[0] == w.ROLE_PEER
        assert w.parse_addr(body, 1)[0] == (LOCAL, a.port)
        text = f"from python {uuid.uuid4().hex}"
        fr, mid = w.gossip(FAKE, text.encode(), seq=42)
        c.send(fr)
        net.wait_delivered([a, b], text)
        for p in (a, b):
            (e,) = [e for e in p.tail() if e["text"] == text]
            assert e["id"] == mid.hex() and e["origin"] == f"{LOCAL}:1" and e["seq"] == 42
        # A duplicate is not delivered again. Over the link the first copy came by, it
        # prunes nothing: that link is how the message reached this peer.
        before = a.stats()
        c.send(fr + w.ping(5))
        assert frames_until_pong(c, 5) == [(w.PONG, struct.pack(">Q", 5))]
        after = a.stats()
        assert after["duplicates_received"] == before["duplicates_received"] + 1
        assert after["prunes_withheld"] == before["prunes_withheld"] + 1
        assert after["prunes_sent"] == before["prunes_sent"]
        # Over another link it proves a cycle: that link is pruned from the broadcast tree
        # (PRUNE back), and stays up.
        with w.WireConn(a.port) as c2:
            c2.send(w.hello(*FAKE2))
            assert c2.recv_frame()[0] == w.HELLO
            c2.send(fr + w.ping(6))
            assert frames_until_pong(c2, 6) == [(w.PRUNE, b""), (w.PONG, struct.pack(">Q", 6))]
            assert a.stats()["duplicates_received"] == before["duplicates_received"] + 2
            c2.send(w.leave(*FAKE2))
            a.wait_log(rf"Neighbour {LOCAL}:2 left")
        assert len([ln for ln in a.output_lines() if text in ln]) == 1
        c.send(w.leave(*FAKE))
        a.wait_log(rf"Neighbour {LOCAL}:1 left")


def frames_until_pong(c, nonce):
    """The frames c receives up to the PONG for nonce, without the peer's own PINGs and IHAVEs."""
    got = []
    while (w.PONG, struct.pack(">Q", nonce)) not in got:
        f = w.without_carried(c.recv_frame())
        assert f is not None, f"connection closed after {got}"
        if f[0] not in (w.PING, w.IHAVE):
            got.append(f)
    return got


@pytest.mark.parametrize("target", ["seed", "peer"])
def test_truncated_frame_then_close(net, target):
    """A frame cut short by the remote closing: the node drops the connection and goes on."""
    node = net.seeds[0] if target == "seed" else net.peers[0]
    for data in (w.ping(1)[:5], w.frame(w.PING, b"\x00" * 4, length=8), w.hello(*FAKE)[:12]):
        with w.WireConn(node.port) as c:
            c.send(data)
            c.sock.shutdown(socket.SHUT_WR)
            assert c.wait_closed(10)
    if target == "seed":
        seed_still_serves(net, node)
    else:
        peer_still_serves(net, node)


def test_silent_connections_are_closed_by_peer(net):
    """An inbound connection that never says HELLO is closed after 5 s and logged."""
    peer = net.peers[1]
    with w.WireConn(peer.port) as c:
        t0 = time.monotonic()
        assert c.wait_closed(15)
        assert 4 <= time.monotonic() - t0 <= 12
        peer.wait_log(rf"closing inbound connection {re.escape(c.local)}: no HELLO in time")
    peer_still_serves(net, peer)


def test_many_garbage_connections_at_once(net):
    """A burst of bad connections to the seed and a peer: all closed, both keep serving."""
    seed, peer = net.seeds[0], net.peers[0]
    conns = [w.WireConn(n.port) for n in (seed, peer) for _ in range(20)]
    try:
        for c in conns:
            c.send(garbage())
        for c in conns:
            assert c.wait_closed(10)
    finally:
        for c in conns:
            c.close()
    seed_still_serves(net, seed)
    peer_still_serves(net, peer)
    text = f"after the burst {uuid.uuid4().hex}"
    peer.send(text)
    net.wait_delivered([net.peers[1]], text)


# --- control socket ----------------------------------------------------------------------

CTL_CASES = {
    "random-bytes": (garbage, "bad magic (not a control frame)"),
    "wire-frame": (lambda: w.ping(1), "bad magic (not a control frame)"),
    "wrong-version": (lambda: w.ctl_frame(w.CTL_STATUS, version=9), "unsupported control protocol version"),
    "unknown-type": (lambda: w.ctl_frame(0x42), "unknown control frame type"),
    "oversized-length": (lambda: w.ctl_frame(w.CTL_SEND, length=0xFFFFFFFF), "control frame length over the limit"),
    "reply-as-request": (lambda: w.ctl_frame(w.CTL_END, b"\x00\x00\x00"), "not a request frame"),
}


@pytest.mark.parametrize("case", sorted(CTL_CASES))
def test_control_socket_rejects(net, case):
    peer = net.peers[0]
    make, reason = CTL_CASES[case]
    with w.CtlConn(str(peer.ctl_path)) as c:
        c.send_raw(make())
        recs, status, text = c.reply()
        assert (recs, status) == ([], 7), (recs, status, text)
        assert reason in text
        assert c.recv_frame() is None  # then closed
    peer.wait_log(rf"warning: control client \(pid {os.getpid()}, uid {os.getuid()}\): malformed request: "
                  rf"{re.escape(reason)}; closing")
    assert peer.status()["state"] == "ready"


def test_control_socket_bad_tail_request_keeps_connection(net):
    peer = net.peers[0]
    with w.CtlConn(str(peer.ctl_path)) as c:
        for body in (b"", b"\x02\x00\x00\x00\x01", b"\x00\x00\x00\x00\x01\x00"):
            recs, status, text = c.request(w.CTL_TAIL, body)
            assert (recs, status) == ([], 2) and "malformed TAIL" in text, (status, text)
        # The same connection still serves requests.
        recs, status, _ = c.request(w.CTL_STATUS)
        assert status == 0 and recs[0]["state"] == b"ready"
        recs, status, _ = c.request(w.CTL_STATS)
        assert status == 0 and "malformed_frames" in recs[0]


def test_control_socket_truncated_request_then_close(net):
    peer = net.peers[0]
    for data in (w.ctl_frame(w.CTL_SEND, b"trunc!", length=10), w.ctl_frame(w.CTL_STATUS)[:5]):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(str(peer.ctl_path))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        assert s.recv(100) == b""
        s.close()
    assert peer.status()["state"] == "ready"
    assert not [ln for ln in peer.output_lines() if "trunc!" in ln]

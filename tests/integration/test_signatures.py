# SPDX-License-Identifier: MIT
"""Signed origins: a member of the cluster cannot forge another origin, alter a message, replay an
old one or inject an unsigned one; certificates travel with the messages that need them."""
import subprocess
import time

import wireproto as w
from gossipnet import LOCAL, wait_until

STEADY = dict(peer_ping_interval=1.0, peer_ping_timeout=1.0, peer_ping_misses=3)
MEMBER_IP = "127.0.0.5"


def sign(key, data, tmp_path):
    """An Ed25519 signature of data with the key file (openssl pkeyutl -rawin)."""
    msg, sig = tmp_path / "msg", tmp_path / "sig"
    msg.write_bytes(data)
    subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", str(key), "-rawin", "-in", str(msg),
                    "-out", str(sig)], check=True, capture_output=True)
    return sig.read_bytes()


def signed_gossip(key, origin, payload, tmp_path, timestamp=None):
    """A GOSSIP frame signed with key, and its id."""
    ts = int(time.time() * 1e6) if timestamp is None else timestamp
    mid = w.message_id(origin, ts, 7, payload)
    sig = sign(key, w.signed_bytes(mid), tmp_path)
    return w.gossip(origin, payload, timestamp=ts, seq=7, msg_id=mid, sig=sig)


class Member:
    """A member of the cluster with its own certificate (for MEMBER_IP), linked to a peer as a
    neighbour: TLS, then HELLO both ways."""

    def __init__(self, net, ca, peer, port=40010):
        self.cert, self.key = net.issue(ca, "member", (MEMBER_IP,))
        self.addr = (MEMBER_IP, port)
        self.conn = w.WireConn(peer.port, tls=w.tls_context(ca / "ca.crt", self.cert, self.key))
        self.conn.send(w.hello(*self.addr))
        fr = self.conn.recv_frame()
        assert fr is not None and fr[0] == w.HELLO, fr

    def send(self, data):
        self.conn.send(data)

    def close(self):
        self.conn.close()


def tls_net(network, name, peers=2):
    net = network(name, **STEADY)
    ca = net.use_tls()
    net.start_seeds(1)
    net.start_peers(peers)
    if peers > 1:
        net.wait_connected()
    return net, ca


def stat(peer, key):
    return peer.stats()[key]


def test_member_own_signed_message_is_delivered(network, tmp_path):
    """The control for the tests below: a member's message in its own name, signed with its
    key, is delivered and forwarded."""
    net, ca = tls_net(network, "sig-own")
    a, b = net.peers
    m = Member(net, ca, a)
    fr, _ = signed_gossip(m.key, m.addr, b"member-genuine", tmp_path)
    m.send(fr)
    net.wait_delivered([a, b], "member-genuine")
    m.close()


def test_forged_origin_is_refused(network, tmp_path):
    """A member signs a message in the name of a peer that has another certificate: the peers
    know that peer's key, so the signature is refused, counted and logged; nothing delivered."""
    net, ca = tls_net(network, "sig-forge")
    a, b = net.peers
    m = Member(net, ca, a)
    fr, _ = signed_gossip(m.key, (LOCAL, b.port), b"forged-origin", tmp_path)
    m.send(fr)
    wait_until(lambda: stat(a, "signatures_bad") == 1, what="the bad signature counted")
    a.wait_log(r"dropping message [0-9a-f]+ from %s:40010: its signature is not 127\.0\.0\.1:%d's"
               % (MEMBER_IP.replace(".", r"\."), b.port))
    assert not any("forged-origin" in ln for ln in a.output_lines() + b.output_lines())
    m.close()


def test_unknown_origin_waits_then_is_dropped(network, tmp_path):
    """A message from an origin whose certificate nobody shows (an address no member has): the
    peer asks for it (CERT_REQ), waits, and drops the message."""
    net, ca = tls_net(network, "sig-unknown", peers=1)
    (a,) = net.peers
    m = Member(net, ca, a)
    fr, _ = signed_gossip(m.key, ("127.0.0.77", 6000), b"nobody-vouches", tmp_path)
    m.send(fr)
    got = m.conn.recv_frame()
    assert got is not None and got[0] == w.CERT_REQ, got
    wait_until(lambda: stat(a, "cert_waits_expired") == 1, timeout=20,
               what="the message dropped after its wait")
    assert not any("nobody-vouches" in ln for ln in a.output_lines())
    m.close()


def test_altered_message_is_refused(network, tmp_path):
    """A relay changes a message (and its id, which covers the payload) but cannot sign it."""
    net, ca = tls_net(network, "sig-alter", peers=1)
    (a,) = net.peers
    m = Member(net, ca, a)
    ts = int(time.time() * 1e6)
    _, mid = signed_gossip(m.key, m.addr, b"original text", tmp_path, timestamp=ts)
    sig = sign(m.key, w.signed_bytes(mid), tmp_path)
    fr, _ = w.gossip(m.addr, b"altered text", timestamp=ts, seq=7, sig=sig)
    m.send(fr)
    wait_until(lambda: stat(a, "signatures_bad") == 1, what="the altered message refused")
    assert not any("altered text" in ln for ln in a.output_lines())
    m.close()


def test_unsigned_and_replayed_messages_are_refused(network, tmp_path):
    """With tls.mode required, an unsigned message is dropped; so is a genuinely signed one
    stamped before the window (peer.seen_cache_age - peer.max_clock_skew), or ahead of it."""
    net, ca = tls_net(network, "sig-replay", peers=1)
    (a,) = net.peers
    m = Member(net, ca, a)
    fr, _ = w.gossip(m.addr, b"unsigned")
    m.send(fr)
    wait_until(lambda: stat(a, "unsigned_dropped") == 1, what="the unsigned message dropped")
    now = int(time.time() * 1e6)
    old, _ = signed_gossip(m.key, m.addr, b"replayed-old", tmp_path, timestamp=now - 700_000_000)
    ahead, _ = signed_gossip(m.key, m.addr, b"from-the-future", tmp_path,
                             timestamp=now + 120_000_000)
    m.send(old + ahead)
    wait_until(lambda: stat(a, "out_of_window_dropped") == 2, what="both outside the window")
    a.wait_log(r"its origin %s:40010 stamped it -700\.\d s from our clock, outside the window"
               % MEMBER_IP.replace(".", r"\."))
    text = "\n".join(a.output_lines())
    assert "unsigned" not in text and "replayed-old" not in text and "from-the-future" not in text
    m.close()


def test_certificates_travel_with_messages(network):
    """Peers with certificates of their own (each its own 127.0.0.x) that are not neighbours of
    an origin learn its certificate from the neighbour that forwards its first message: every
    message of every origin is delivered, none waited in vain, and none failed its check."""
    net = network("sig-travel", peer_degree=1, peer_max_neighbours=2, **STEADY)
    ca = net.use_tls()
    net.start_seeds(1)
    peers = []
    for i in range(6):
        ip = f"127.0.0.{10 + i}"
        cert, key = net.issue(ca, f"peer{i}", (ip,))
        cfg = net.write_config(net.dir / f"peer{i}.conf", tls_cert_file=str(cert),
                               tls_key_file=str(key))
        peers.append(net.add_peer(wait=False, config=cfg, ip=ip))
    for p in peers:
        p.wait_ready()
    net.wait_connected()
    for i, p in enumerate(peers):
        p.send(f"travel-{i}")
    for i in range(len(peers)):
        net.wait_delivered([p for j, p in enumerate(peers) if j != i], f"travel-{i}")
    stats = [p.stats() for p in peers]
    assert sum(s["certs_received"] for s in stats) > 0, stats
    assert sum(s["certs_sent"] for s in stats) >= sum(s["certs_received"] for s in stats)
    for s in stats:
        assert s["signatures_bad"] == 0 and s["cert_waits_expired"] == 0, s
        assert s["unsigned_dropped"] == 0, s

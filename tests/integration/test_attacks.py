# SPDX-License-Identifier: MIT
"""Attacks on the daemons from the network, each tried as an attacker would and shown refused.

Every test here reproduces one finding of the security review against the
daemons on loopback; with the weakness back in place the test fails (or the
network's teardown finds a sanitizer report, a crash or a hang).
"""
import socket
import struct

import wireproto as w
from gossipnet import LOCAL, wait_until


def send_and_reset(port, data):
    """Connects, writes data in one call and closes with a TCP reset (SO_LINGER 0)."""
    s = socket.create_connection((LOCAL, port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.sendall(data)
    s.close()


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

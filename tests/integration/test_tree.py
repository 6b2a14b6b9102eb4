# SPDX-License-Identifier: MIT
"""The broadcast tree (peer.lazy_push): messages travel in full over a spanning tree and
as ids (IHAVE) elsewhere, so each peer gets about one copy; a missing message is asked
for (GRAFT) and resent; duplicates prune links. With lazy_push = false: flooding."""
import random
import struct
import time
import uuid

import pytest

import wireproto as w
from conftest import STEADY
from gossipnet import LOCAL, wait_until

FAKE = (LOCAL, 1)
N = 10
MSGS = 40
GRAFT_TIMEOUT = 0.05


def payload_frames(net):
    return sum(p.stats()["gossip_frames_sent"] for p in net.peers)


def send_all_and_check(net, rng):
    """Sends MSGS messages one at a time from random peers; every other peer delivers each
    exactly once. Returns the payload frames sent across the network per message, over N-1."""
    before = payload_frames(net)
    texts = {}
    for i in range(MSGS):
        text = f"tree {i} {uuid.uuid4().hex}"
        origin = rng.choice(net.peers)
        origin.send(text)
        texts[text] = origin
        net.wait_delivered([p for p in net.peers if p is not origin], text)
    # Late copies still in flight are counted too: wait until the counters settle.
    last = [None]

    def settled():
        now = payload_frames(net)
        done = now == last[0]
        last[0] = now
        return done
    wait_until(settled, interval=0.3, what="frame counters to settle")
    for p in net.peers:
        got = [r["text"] for r in p.received() if r["text"] in texts]
        want = [t for t, o in texts.items() if o is not p]
        assert sorted(got) == sorted(want), f"{p.name}: delivered {len(got)} of {len(want)}"
    return (last[0] - before) / (MSGS * (N - 1))


@pytest.mark.parametrize("lazy", [True, False], ids=["tree", "flood"])
def test_redundancy(network, lazy):
    net = network(f"redund-{lazy}", peer_degree=4, peer_lazy_push=lazy, **STEADY).formed(1, N)
    rng = random.Random(7)
    # The tree forms as the first messages meet duplicates; measure after it has.
    send_all_and_check(net, rng)
    ratio = send_all_and_check(net, rng)
    print(f"payload frames per peer per message ({'tree' if lazy else 'flood'}): {ratio:.3f}")
    # Every message reached every other peer exactly once (checked above) and cost:
    if lazy:
        assert ratio < 1.5, f"tree: {ratio:.2f} payload frames per peer per message"
        stats = [p.stats() for p in net.peers]
        assert sum(s["prunes_sent"] for s in stats) > 0
        assert sum(s["ihave_ids_sent"] for s in stats) > 0
        assert sum(s["lazy_links"] for s in stats) > 0
        assert any(n["push"] == "lazy" for p in net.peers for n in p.neighbours())
    else:
        # Flooding over degree >= 4 sends each message on nearly every link, both ways.
        assert ratio > 2.0, f"flood: {ratio:.2f} payload frames per peer per message"
        assert all(p.stats()["ihave_ids_sent"] == 0 for p in net.peers)
        assert all(n["push"] == "eager" for p in net.peers for n in p.neighbours())


@pytest.fixture(scope="module")
def pair(module_network):
    net = module_network("tree-wire", peer_degree=1, peer_graft_timeout=GRAFT_TIMEOUT, **STEADY)
    net.formed(1, 2)
    return net


def fake_neighbour(peer):
    c = w.WireConn(peer.port)
    c.send(w.hello(*FAKE))
    ftype, _ = c.recv_frame()
    assert ftype == w.HELLO
    return c


def recv_skipping_pings(c, timeout=10.0):
    """The next frame that is not a PING (answered) or IHAVE."""
    deadline = time.monotonic() + timeout
    while True:
        ftype, body = c.recv_frame(timeout=max(0.01, deadline - time.monotonic()))
        if ftype == w.PING:
            c.send(w.frame(w.PONG, body))
            continue
        if ftype == w.IHAVE:
            continue
        return ftype, body


def test_ihave_for_an_unknown_message_is_grafted(pair):
    a = pair.peers[0]
    with fake_neighbour(a) as c:
        fr, mid = w.gossip(FAKE, f"grafted {uuid.uuid4().hex}".encode(), seq=7)
        before = a.stats()["grafts_sent"]
        t0 = time.monotonic()
        c.send(w.frame(w.IHAVE, struct.pack(">H", 1) + mid))
        # No copy comes within graft_timeout (0.05 s here): then, and not before, the
        # peer asks the announcer for it.
        assert recv_skipping_pings(c) == (w.GRAFT, struct.pack(">H", 1) + mid)
        assert time.monotonic() - t0 >= GRAFT_TIMEOUT
        assert a.stats()["grafts_sent"] == before + 1
        c.send(fr)
        wait_until(lambda: any(e["id"] == mid.hex() for e in a.tail()), what="grafted delivery")
        # Announcing it again asks for nothing: it is known now. A second unknown id
        # announced after it is grafted, so the first one would have been too.
        fr2, mid2 = w.gossip(FAKE, f"second {uuid.uuid4().hex}".encode(), seq=8)
        c.send(w.frame(w.IHAVE, struct.pack(">H", 1) + mid))
        c.send(w.frame(w.IHAVE, struct.pack(">H", 1) + mid2))
        assert recv_skipping_pings(c) == (w.GRAFT, struct.pack(">H", 1) + mid2)
        assert a.stats()["grafts_sent"] == before + 2
        # Answered, so no retry GRAFT reaches the next test's connection.
        c.send(fr2)
        wait_until(lambda: any(e["id"] == mid2.hex() for e in a.tail()), what="second delivery")


def test_grafts_are_batched(pair):
    """Ids announced together and missing together are asked for in one GRAFT."""
    a = pair.peers[0]
    with fake_neighbour(a) as c:
        msgs = [w.gossip(FAKE, f"batched {i} {uuid.uuid4().hex}".encode(), seq=20 + i)
                for i in range(3)]
        ids = b"".join(mid for _, mid in msgs)
        before = a.stats()["grafts_sent"]
        c.send(w.frame(w.IHAVE, struct.pack(">H", 3) + ids))
        assert recv_skipping_pings(c) == (w.GRAFT, struct.pack(">H", 3) + ids)
        assert a.stats()["grafts_sent"] == before + 3
        c.send(b"".join(fr for fr, _ in msgs))
        wait_until(lambda: {mid.hex() for _, mid in msgs} <= {e["id"] for e in a.tail()},
                   what="the grafted messages")


def test_graft_gets_the_message_resent(pair):
    a, b = pair.peers
    text = f"resend {uuid.uuid4().hex}"
    mid = b.send(text)
    pair.wait_delivered([a], text)
    with fake_neighbour(a) as c:
        c.send(w.frame(w.GRAFT, struct.pack(">H", 1) + bytes.fromhex(mid)))
        ftype, body = recv_skipping_pings(c)
        assert ftype == w.GOSSIP and body[:32].hex() == mid and body.endswith(text.encode())
        # An id it never had is not an error: nothing is sent, the link stays.
        c.send(w.frame(w.GRAFT, struct.pack(">H", 1) + b"\x01" * 32) + w.ping(3))
        assert recv_skipping_pings(c) == (w.PONG, struct.pack(">Q", 3))


@pytest.mark.parametrize("body", [b"", struct.pack(">H", 0), struct.pack(">H", 2) + b"x" * 32,
                                  struct.pack(">H", 1025) + b"x" * 32 * 1025],
                         ids=["empty", "zero", "short", "too-many"])
def test_bad_ids_frames_close_the_link(pair, body):
    a = pair.peers[0]
    with fake_neighbour(a) as c:
        c.send(w.frame(w.IHAVE, body))
        assert c.wait_closed(timeout=10)
    a.wait_log(rf"{LOCAL}:\d+.*(no ids|too many ids|id count does not match|truncated body)")
    assert a.alive()

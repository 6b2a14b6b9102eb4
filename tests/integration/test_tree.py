# SPDX-License-Identifier: MIT
"""The broadcast tree (peer.lazy_push): messages travel in full over a spanning tree and
as ids (IHAVE) elsewhere, so each peer gets about one copy; a missing message is asked
for (GRAFT) and resent; duplicates prune links. With lazy_push = false: flooding."""
import hashlib
import random
import select
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
    """The next frame that is not a PING (answered) or IHAVE; a PONG without the ids it carries."""
    deadline = time.monotonic() + timeout
    while True:
        ftype, body = c.recv_frame(timeout=max(0.01, deadline - time.monotonic()))
        if ftype == w.PING:
            c.send(w.frame(w.PONG, body))
            continue
        if ftype == w.IHAVE:
            continue
        return w.without_carried((ftype, body))


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
        # An id it never had is not an error: nothing is sent, the link stays; it is counted.
        before = a.stats()["grafts_unanswerable"]
        c.send(w.frame(w.GRAFT, struct.pack(">H", 1) + b"\x01" * 32) + w.ping(3))
        assert recv_skipping_pings(c) == (w.PONG, struct.pack(">Q", 3))
        assert a.stats()["grafts_unanswerable"] == before + 1


def test_graft_after_the_resend_cache_released_the_copy(network):
    """peer.resend_cache_size holds two of these messages, not three: a GRAFT for the
    oldest is counted unanswerable and nothing is sent; the newest is resent."""
    msgs = [w.gossip(FAKE, f"cached {i} {uuid.uuid4().hex}".encode() * 40, seq=200 + i)
            for i in range(3)]
    size = len(msgs[0][0])
    net = network("tree-resend", peer_degree=1, peer_resend_cache_size=2 * size + size // 2, **STEADY)
    net.start_seeds(1)
    a = net.add_peer()
    with fake_neighbour(a) as c:
        for fr, _ in msgs:
            c.send(fr)
        net.wait_delivered([a], "cached 2 ")
        assert a.stats()["resend_cache_bytes"] == 2 * size
        before = a.stats()["grafts_unanswerable"]
        c.send(w.frame(w.GRAFT, struct.pack(">H", 1) + msgs[0][1]) + w.ping(4))
        assert recv_skipping_pings(c) == (w.PONG, struct.pack(">Q", 4))
        assert a.stats()["grafts_unanswerable"] == before + 1
        c.send(w.frame(w.GRAFT, struct.pack(">H", 1) + msgs[2][1]))
        ftype, body = recv_skipping_pings(c)
        assert ftype == w.GOSSIP and body[:32] == msgs[2][1]
        assert a.stats()["grafts_unanswerable"] == before + 1


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


# --- one real peer and fake neighbours: who gets asked, and when ------------------------------

SOLO_GRAFT = 0.05
FAKES = [(LOCAL, 11), (LOCAL, 12), (LOCAL, 13)]


@pytest.fixture(scope="module")
def solo(module_network):
    net = module_network("tree-solo", peer_degree=1, peer_graft_timeout=SOLO_GRAFT,
                         peer_ihave_delay=0.3, **STEADY)
    net.start_seeds(1)
    return net.add_peer()  # ready: registered and listening; its only neighbours are fakes


class Fakes:
    """Fake neighbours of one peer, read together: PINGs answered, frames kept with their time."""

    def __init__(self, peer, addrs):
        self.conns = []
        caught_up = peer.stats()["catch_up_ids_sent"]
        for a in addrs:
            c = w.WireConn(peer.port)
            c.send(w.hello(*a))
            assert c.recv_frame()[0] == w.HELLO
            self.conns.append(c)
        self.got = [[] for _ in addrs]  # (monotonic time, type, body) per neighbour
        # A link that comes up is told of the peer's messages of the last 10 s (earlier
        # tests'): those IHAVEs are read and set aside, so a test sees only its own frames.
        due = peer.stats()["catch_up_ids_sent"] - caught_up
        self.pump(10, until=lambda f: f.ids_announced() >= due)
        assert self.ids_announced() == due, (self.ids_announced(), due)
        self.got = [[] for _ in addrs]

    def ids_announced(self):
        return sum(struct.unpack_from(">H", body)[0]
                   for i in range(len(self.conns)) for _, body in self.of_type(i, w.IHAVE))

    def pump(self, seconds, until=None):
        """Reads for `seconds`, or until until(self) is true."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (until and until(self)):
            ready, _, _ = select.select([c.sock for c in self.conns], [], [],
                                        max(0.0, deadline - time.monotonic()))
            for i, c in enumerate(self.conns):
                if c.sock not in ready:
                    continue
                f = c.recv_frame(timeout=1.0)
                assert f is not None, f"the peer closed fake neighbour {i}"
                if f[0] == w.PING:
                    c.send(w.frame(w.PONG, f[1]))
                else:
                    self.got[i].append((time.monotonic(), f[0], f[1]))

    def of_type(self, i, ftype):
        return [(t, body) for t, ty, body in self.got[i] if ty == ftype]

    def close(self):
        for c, a in zip(self.conns, FAKES):
            c.send(w.leave(*a))
            c.close()


@pytest.fixture
def fakes(solo):
    made = []

    def make(n):
        f = Fakes(solo, FAKES[:n])
        made.append(f)
        return f
    yield make
    for f in made:
        f.close()
    for a in FAKES:
        wait_until(lambda a=a: all(n["addr"] != f"{a[0]}:{a[1]}" for n in solo.neighbours()),
                   what="the fake neighbours to be gone")


def ids_body(*ids):
    return struct.pack(">H", len(ids)) + b"".join(ids)


def test_graft_retries_ask_one_neighbour_at_a_time(solo, fakes):
    """The announcer first, then one other neighbour per attempt, the fifth time all."""
    f = fakes(3)
    _, mid = w.gossip(FAKE, f"never sent {uuid.uuid4().hex}".encode(), seq=101)
    before = solo.stats()
    t0 = time.monotonic()
    f.conns[0].send(w.frame(w.IHAVE, ids_body(mid)))

    def grafts(fk):
        return [(t, i) for i in range(3) for t, body in fk.of_type(i, w.GRAFT)
                if body == ids_body(mid)]
    f.pump(30, until=lambda fk: len(grafts(fk)) >= 7)
    got = sorted(grafts(f))
    assert len(got) == 7, f"GRAFTs (time, neighbour): {got}"
    # The first went to the announcer, after the wait.
    assert got[0][1] == 0 and got[0][0] - t0 >= SOLO_GRAFT
    # The next three each to one neighbour other than the announcer, waiting twice as long
    # each time; the fifth to all three.
    for k in (1, 2, 3):
        assert got[k][1] in (1, 2), f"retry {k} went to the announcer: {got}"
        assert got[k][0] - got[k - 1][0] >= SOLO_GRAFT * 2 ** k * 0.9, got
    assert sorted(i for _, i in got[4:]) == [0, 1, 2]
    after = solo.stats()
    assert after["graft_retries"] == before["graft_retries"] + 4
    assert after["grafts_sent"] == before["grafts_sent"] + 7
    # After one more doubled wait it gives up, and says so.
    solo.wait_log(rf"message {mid.hex()} was announced but never arrived after 5 GRAFT attempts")
    assert solo.stats()["grafts_failed"] == before["grafts_failed"] + 1


def test_graft_waits_while_other_messages_arrive(solo, fakes):
    """A peer that keeps receiving messages in full waits longer for an announced one: the
    tree is delivering, only late. Then it asks anyway."""
    f = fakes(2)
    feeder, announcer = f.conns
    announcer.send(w.frame(w.PRUNE))  # a lazy link, as IHAVE comes over
    wait_until(lambda: any(n["addr"] == f"{LOCAL}:12" and n["push"] == "lazy"
                           for n in solo.neighbours()), what="the announcer's link to be lazy")
    late, mid = w.gossip(FAKE, f"late {uuid.uuid4().hex}".encode(), seq=201)
    before = solo.stats()
    t0 = time.monotonic()
    announcer.send(w.frame(w.IHAVE, ids_body(mid)))
    seq = 300
    graft = []
    while not graft and time.monotonic() - t0 < 10:
        fr, _ = w.gossip(FAKE, f"flowing {seq} {uuid.uuid4().hex}".encode(), seq=seq)
        feeder.send(fr)
        seq += 1
        f.pump(SOLO_GRAFT / 4)
        graft = [t for t, body in f.of_type(1, w.GRAFT) if body == ids_body(mid)]
    assert graft, "no GRAFT at all"
    # Not after one wait, as without other messages (test_ihave_for_an_unknown_message_is_grafted),
    # but after four.
    assert graft[0] - t0 >= 4 * SOLO_GRAFT
    assert solo.stats()["grafts_deferred"] >= before["grafts_deferred"] + 1
    # Answered, so that no retry reaches the next test's neighbours.
    announcer.send(late)
    wait_until(lambda: any(e["id"] == mid.hex() for e in solo.tail()), what="the late message")


def test_duplicate_over_a_pruned_first_link_prunes_nothing(solo, fakes):
    f = fakes(2)
    first, second = f.conns
    fr, mid = w.gossip(FAKE, f"twice {uuid.uuid4().hex}".encode(), seq=401)
    first.send(fr)
    wait_until(lambda: any(e["id"] == mid.hex() for e in solo.tail()), what="the first copy")
    first.send(w.frame(w.PRUNE))  # the link of the first copy leaves the tree
    wait_until(lambda: any(n["addr"] == f"{LOCAL}:11" and n["push"] == "lazy"
                           for n in solo.neighbours()), what="the first link to be lazy")
    before = solo.stats()
    second.send(fr + w.ping(9))
    f.pump(5, until=lambda fk: any(ty == w.PONG for _, ty, _ in fk.got[1]))
    # The duplicate came over the only eager link left: it stays.
    assert not f.of_type(1, w.PRUNE)
    after = solo.stats()
    assert after["duplicates_received"] == before["duplicates_received"] + 1
    assert after["prunes_withheld"] == before["prunes_withheld"] + 1
    assert any(n["addr"] == f"{LOCAL}:12" and n["push"] == "eager" for n in solo.neighbours())


def test_pruned_out_of_the_tree_asks_back_in(solo, fakes):
    f = fakes(2)
    fr, mid = w.gossip(FAKE, f"last {uuid.uuid4().hex}".encode(), seq=501)
    f.conns[0].send(fr)
    wait_until(lambda: any(e["id"] == mid.hex() for e in solo.tail()), what="the message")
    before = solo.stats()
    f.conns[0].send(w.frame(w.PRUNE))
    wait_until(lambda: any(n["addr"] == f"{LOCAL}:11" and n["push"] == "lazy"
                           for n in solo.neighbours()), what="the first link to be lazy")
    assert solo.stats()["tree_rejoins"] == before["tree_rejoins"]
    f.conns[1].send(w.frame(w.PRUNE))
    # The second PRUNE leaves it with no eager link: it asks that neighbour back, for the
    # last message it received.
    f.pump(5, until=lambda fk: (0, ids_body(mid)) in [(0, b) for _, b in fk.of_type(1, w.GRAFT)])
    assert ids_body(mid) in [body for _, body in f.of_type(1, w.GRAFT)]
    assert ids_body(mid) not in [body for _, body in f.of_type(0, w.GRAFT)]
    assert solo.stats()["tree_rejoins"] == before["tree_rejoins"] + 1
    wait_until(lambda: any(n["addr"] == f"{LOCAL}:12" and n["push"] == "eager"
                           for n in solo.neighbours()), what="the link to be eager again")


def test_no_ihave_to_a_neighbour_that_has_the_message(solo, fakes):
    """Ids wait peer.ihave_delay (0.3 s here); one the lazy neighbour announces meanwhile is
    not announced back to it."""
    f = fakes(2)
    sender, lazy = f.conns
    lazy.send(w.frame(w.PRUNE))
    wait_until(lambda: any(n["addr"] == f"{LOCAL}:12" and n["push"] == "lazy"
                           for n in solo.neighbours()), what="a lazy link")
    fr1, id1 = w.gossip(FAKE, f"known {uuid.uuid4().hex}".encode(), seq=601)
    fr2, id2 = w.gossip(FAKE, f"unknown {uuid.uuid4().hex}".encode(), seq=602)
    before = solo.stats()
    sender.send(fr1 + fr2)
    wait_until(lambda: {id1.hex(), id2.hex()} <= {e["id"] for e in solo.tail()},
               what="both messages")
    lazy.send(w.frame(w.IHAVE, ids_body(id1)))
    f.pump(5, until=lambda fk: fk.of_type(1, w.IHAVE))
    assert [body for _, body in f.of_type(1, w.IHAVE)] == [ids_body(id2)]
    assert solo.stats()["ihave_ids_spared"] == before["ihave_ids_spared"] + 1


def test_ihave_over_an_eager_link_is_not_waited_on(solo, fakes):
    """An IHAVE over a link still in the tree means a push held back for a full queue: the
    message comes only when asked for, so messages arriving meanwhile do not defer it."""
    f = fakes(2)
    feeder, announcer = f.conns  # both links new, so eager
    late, mid = w.gossip(FAKE, f"held back {uuid.uuid4().hex}".encode(), seq=701)
    before = solo.stats()
    announcer.send(w.frame(w.IHAVE, ids_body(mid)))
    seq, t0, graft = 710, time.monotonic(), []
    while not graft and time.monotonic() - t0 < 10:
        fr, _ = w.gossip(FAKE, f"flowing {seq} {uuid.uuid4().hex}".encode(), seq=seq)
        feeder.send(fr)
        seq += 1
        f.pump(SOLO_GRAFT / 4)
        graft = [t for t, body in f.of_type(1, w.GRAFT) if body == ids_body(mid)]
    assert graft, "no GRAFT at all"
    assert solo.stats()["grafts_deferred"] == before["grafts_deferred"]
    announcer.send(late)
    wait_until(lambda: any(e["id"] == mid.hex() for e in solo.tail()), what="the message")


@pytest.mark.parametrize("waiting", [32, 33], ids=["at-limit", "over-limit"])
def test_ids_spared_only_while_few_wait(solo, fakes, waiting):
    """The search for an id to spare covers up to 32 waiting ids (under load frames carry
    hundreds, and the search would cost more than the id)."""
    f = fakes(2)
    sender, lazy = f.conns
    lazy.send(w.frame(w.PRUNE))
    wait_until(lambda: any(n["addr"] == f"{LOCAL}:12" and n["push"] == "lazy"
                           for n in solo.neighbours()), what="a lazy link")
    msgs = [w.gossip(FAKE, f"many {i} {uuid.uuid4().hex}".encode(), seq=800 + i)
            for i in range(waiting)]
    before = solo.stats()
    sender.send(b"".join(fr for fr, _ in msgs))
    wait_until(lambda: {mid.hex() for _, mid in msgs} <= {e["id"] for e in solo.tail(200)},
               what="the messages")
    first = msgs[0][1]
    lazy.send(w.frame(w.IHAVE, ids_body(first)))
    f.pump(5, until=lambda fk: fk.of_type(1, w.IHAVE))
    announced = {body[2 + 32 * k:34 + 32 * k] for _, body in f.of_type(1, w.IHAVE)
                 for k in range(struct.unpack_from(">H", body)[0])}
    spared = solo.stats()["ihave_ids_spared"] - before["ihave_ids_spared"]
    if waiting <= 32:
        assert first not in announced and spared == 1
        assert announced == {mid for _, mid in msgs[1:]}
    else:
        assert first in announced and spared == 0
        assert announced == {mid for _, mid in msgs}


def test_a_full_fifo_asks_for_its_oldest_at_once(network):
    """With more announced messages waiting than the 16384 a FIFO holds, the oldest is asked
    for at once instead of forgotten (graft_timeout is 30 s here: no GRAFT is due)."""
    net = network("tree-full", peer_degree=1, peer_graft_timeout=30, **STEADY)
    net.start_seeds(1)
    peer = net.add_peer()
    f = Fakes(peer, FAKES[:1])
    try:
        ids = [hashlib.sha256(b"full %d" % i).digest() for i in range(16384 + 2)]
        for off in range(0, 16384, 1024):
            f.conns[0].send(w.frame(w.IHAVE, ids_body(*ids[off:off + 1024])))
        wait_until(lambda: peer.stats()["ihave_ids_received"] >= 16384, what="16384 ids read")
        f.pump(1)
        assert not f.of_type(0, w.GRAFT), "a GRAFT before any was due"
        f.conns[0].send(w.frame(w.IHAVE, ids_body(ids[16384], ids[16385])))
        f.pump(10, until=lambda fk: len(fk.of_type(0, w.GRAFT)) >= 1)
        asked = [body[2 + 32 * k:34 + 32 * k] for _, body in f.of_type(0, w.GRAFT)
                 for k in range(struct.unpack_from(">H", body)[0])]
        assert asked[:2] == ids[:2], "the two oldest, in order"
        assert ids[2] not in asked
        assert peer.stats()["announcements_dropped"] == 0
    finally:
        f.close()


def test_a_copy_older_than_the_seen_cache_is_not_delivered_twice(network):
    """A full seen cache forgets its oldest ids; a copy of one of those messages arriving
    later (a late GRAFT answer, a push that waited in a queue) is dropped as stale, not
    delivered again, while messages sent after it are delivered, however late they come."""
    net = network("tree-stale", peer_degree=1, peer_seen_cache_size=16,
                  peer_graft_timeout=SOLO_GRAFT, **STEADY)
    # A member for an hour, by its state file: messages stamped before its start are its own.
    state = net.dir / "member.state"
    state.write_bytes(b"GSSTATE1" + struct.pack(">Q", int((time.time() - 3600) * 1e6)))
    net.settings.update(peer_state_file=str(state))
    net.write_config()
    net.start_seeds(1)
    peer = net.add_peer()
    f = Fakes(peer, FAKES[:1])
    origin = (LOCAL, 21)
    try:
        now = int(time.time() * 1e6)
        old, old_id = w.gossip(origin, b"old", timestamp=now - 10_000_000)
        f.conns[0].send(old)
        for i in range(16):  # evicts "old": the cache holds 16 ids
            f.conns[0].send(w.gossip(origin, b"filler %d" % i, timestamp=now, seq=2 + i)[0])
        wait_until(lambda: peer.stats()["messages_received"] == 17, what="17 messages delivered")
        assert peer.stats()["seen_cache_evicted"] >= 1
        f.conns[0].send(old)
        wait_until(lambda: peer.stats()["stale_dropped"] == 1, what="the old copy dropped")
        # Sent after "old" but before every filler, and first seen only now: a peer that
        # lags behind gets messages late, in order; they are new, not stale.
        f.conns[0].send(w.gossip(origin, b"late", timestamp=now - 5_000_000, seq=99)[0])
        f.conns[0].send(w.gossip(origin, b"new", seq=100)[0])
        wait_until(lambda: peer.stats()["messages_received"] == 19, what="late and new delivered")
        stats = peer.stats()
        assert stats["stale_dropped"] == 1 and stats["messages_received"] == 19, stats
        peer.wait_log(r"dropped 1 message\(s\) sent before the latest one the full seen cache forgot "
                      r"\(it reached back (9|1[0-4])\.\d s at the last drop\): .* "
                      r"raise peer\.seen_cache_size \(now 16\)")
        texts = [r["text"] for r in peer.tail(32)]
        assert texts.count("old") == 1, texts
        # Dropped as stale, it counts as seen: an IHAVE naming it asks for nothing.
        f.conns[0].send(w.frame(w.IHAVE, ids_body(old_id)))
        wait_until(lambda: peer.stats()["ihave_ids_received"] >= 1, what="the IHAVE read")
        f.pump(20 * SOLO_GRAFT)
        assert not f.of_type(0, w.GRAFT), "a GRAFT for a message dropped as stale"
        # One warning per 10 s at most: a second drop right after the first waits for it
        # (ticks are 1 s apart here), then is reported on its own.
        warning = r"warning: dropped 1 message\(s\) sent before the latest one the full seen cache"
        f.conns[0].send(old)
        wait_until(lambda: peer.stats()["stale_dropped"] == 2, what="the old copy dropped again")
        f.pump(3)
        assert len(peer.log_lines(warning)) == 1, peer.log_lines(warning)
        first, second = peer.wait_log(warning, count=2)
        stamp = lambda ln: time.mktime(time.strptime(ln[1:20], "%Y-%m-%d %H:%M:%S"))
        assert stamp(second) - stamp(first) >= 9, (first, second)  # stamps are whole seconds
    finally:
        f.close()

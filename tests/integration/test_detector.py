# SPDX-License-Identifier: MIT
"""The failure detector on real daemons (gossip(7), FAILURE DETECTION): a neighbour silent on
its own link is suspected and probed through other neighbours; one that answers them is not
dead; one that answers nobody is, after peer.suspicion_timeout; a seed drops it on two
peers' reports when its own probe is unanswered."""
import re
import signal
import struct

from conftest import FAST
from gossipnet import LOCAL, Listener, wait_until
import wireproto as w


class MuteNeighbour:
    """A node at LOCAL:port holding a neighbour link to a peer on which it never answers (its
    pings go unanswered, as over a path that loses them), while it answers every probe made
    to its own listening address: HELLO in the probe role, then PING."""

    def __init__(self):
        self.probes = 0
        self.link = None
        self.listener = Listener(LOCAL, handler=self._answer)
        self.addr = self.listener.addr
        self.name = f"{LOCAL}:{self.addr[1]}"

    def _answer(self, sock):
        conn = w.WireConn.accepted(sock)
        try:
            fr = conn.recv_frame(timeout=5.0)
            if fr is None or fr[0] != w.HELLO or fr[1][0] != w.ROLE_PROBE:
                return
            conn.send(w.hello(*self.addr))
            fr = conn.recv_frame(timeout=5.0)
            if fr is not None and fr[0] == w.PING:
                self.probes += 1
                conn.send(w.pong(struct.unpack(">Q", fr[1][:8])[0]))
        except (OSError, TimeoutError):
            pass
        finally:
            conn.close()

    def join(self, peer):
        """Becomes peer's neighbour: HELLO over a link of its own, answered with HELLO."""
        self.link = w.WireConn(peer.port)
        self.link.send(w.hello(*self.addr))
        fr = self.link.recv_frame()
        assert fr is not None and fr[0] == w.HELLO, fr

    def close(self):
        self.listener.close()
        if self.link:
            self.link.close()


def test_neighbour_silent_on_its_link_is_refuted_through_another(network):
    """A suspects M, which says nothing on its link to A, and asks B to probe it; M answers B,
    so A keeps it. Without indirect probes A would declare M dead."""
    net = network("refute", peer_degree=1, **FAST)
    net.start_seeds(1)
    a, b = net.start_peers(2)
    net.wait_connected()
    m = MuteNeighbour()
    try:
        m.join(a)
        wait_until(lambda: m.name in a.up_neighbours(), what=f"{m.name} up at {a.name}")
        a.wait_log(rf"Neighbour {re.escape(m.name)} is suspected: \d+ missed pings or failed "
                   r"reconnects; asked 1 neighbours to probe it")
        a.wait_log(rf"Neighbour {re.escape(m.name)} answered a probe through "
                   rf"{re.escape(b.addr)}: no longer suspected")
        assert m.probes >= 1
        assert b.stats()["probe_requests_received"] >= 1
        st = a.stats()
        assert st["suspicions_refuted"] >= 1 and st["probe_requests_sent"] >= 1, st
        assert st["neighbours_dead"] == 0, st
        assert m.name in a.up_neighbours()
        assert not a.log_lines(rf"Neighbour {re.escape(m.name)} is dead")
    finally:
        m.close()


def test_stopped_peer_is_dead_after_its_suspicion_and_dropped_on_two_reports(network):
    """A stopped process keeps its sockets: connections to it open, and nothing answers. Its
    two neighbours suspect it, each asks the other, neither reaches it, and each declares it
    dead after peer.suspicion_timeout. The seed's own probe is unanswered too: it drops the
    peer because two peers reported it."""
    net = network("stopped", peer_degree=2, **FAST)
    (seed,) = net.start_seeds(1)
    peers = net.start_peers(3)
    net.wait_connected()
    victim, others = peers[2], peers[:2]
    for p in others:
        wait_until(lambda p=p: victim.addr in p.up_neighbours(), what=f"{victim.name} at {p.name}")
    victim.signal(signal.SIGSTOP)
    try:
        for p in others:
            p.wait_log(rf"Neighbour {re.escape(victim.addr)} is suspected: .*asked 1 "
                       r"neighbours to probe it")
        for p in others:
            (ln,) = p.wait_log(rf"Neighbour {re.escape(victim.addr)} is dead: suspected for "
                               r"\d+\.\d s, and none of the 1 neighbours asked reached it")
            waited = float(re.search(r"suspected for (\d+\.\d) s", ln).group(1))
            assert waited >= 4.0, ln
            st = p.stats()
            assert st["probe_requests_received"] >= 1, st
            assert st["suspicions_refuted"] == 0, st
        (ln,) = seed.wait_log(rf"Removed peer {re.escape(victim.addr)} \(dead: reported by 2 "
                              r"peers, and the seed's probe got no answer")
        assert victim.addr not in seed.registry()
        # Nobody else was suspected to death.
        for p in others:
            for ln in p.log_lines(r"Neighbour \S+ is dead"):
                assert victim.addr in ln, f"{p.name}: false death: {ln}"
    finally:
        victim.signal(signal.SIGCONT)

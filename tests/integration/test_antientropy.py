# SPDX-License-Identifier: MIT
"""Anti-entropy and the state file on real daemons (gossip(7), ANTI-ENTROPY; gossip-peer(8),
FILES): a peer that was down receives what was broadcast meanwhile, and delivers nothing
twice across a restart, even one after SIGKILL."""
import re
import time
import uuid

from conftest import FAST
from gossipnet import wait_until

# Anti-entropy rounds every 0.5 s: recovery within seconds.
AE = dict(peer_anti_entropy_interval=0.5, **FAST)


def count_lines(peer, text):
    return sum(1 for ln in peer.output_lines() if text in ln)


def ae_rounds(peer):
    st = peer.stats()
    return st["ae_summaries_sent"] + st["ae_summaries_received"]


def test_restarted_peer_receives_what_it_missed_and_nothing_twice(network):
    """C is killed (SIGKILL), misses two messages, and is started again on the same port and
    log directory 11 s later: anti-entropy brings it the two (older than what links coming up
    announce), and its state file keeps it from delivering again the one it had, which its
    neighbours still list."""
    net = network("ae-restart", peer_degree=2, **AE)
    net.start_seeds(1)
    a, b, c = net.start_peers(3)
    net.wait_connected()
    tag = uuid.uuid4().hex
    before = f"before {tag}"
    a.send(before)
    net.wait_delivered([b, c], before)
    c.kill()
    during = [f"during-{i} {tag}" for i in range(2)]
    for text in during:
        a.send(text)
    for text in during:
        net.wait_delivered([b], text)
    # Down longer than a link coming up announces (its other end's last 10 s): what it
    # missed can come back only by anti-entropy. The scenario's length, not a wait.
    time.sleep(11)
    c.start()
    c.wait_ready()
    # The log is appended to: the second start's line is the second.
    ln = c.wait_log(r"State file \S+: \d+ message ids held before this start", count=2)[-1]
    assert int(re.search(r": (\d+) message ids held", ln).group(1)) >= 1, ln
    for text in during:
        net.wait_delivered([c], text)
    # Several rounds over buckets holding all three messages (a bucket is compared once it
    # ended 10 s ago: up to 20 s after the first message), each a chance to deliver twice.
    rounds = ae_rounds(c)
    wait_until(lambda: ae_rounds(c) >= rounds + 6, 60, what=f"anti-entropy rounds at {c.name}")
    assert count_lines(c, before) == 1, c.output_lines()
    for text in during:
        assert count_lines(c, text) == 1, c.output_lines()
    assert c.stats()["ae_fetched"] >= 2
    assert b.stats()["ae_ids_sent"] + a.stats()["ae_ids_sent"] >= 2


def test_state_file_damage_is_reported_and_what_is_valid_kept(network):
    """A record cut short is ignored and the rest kept; a file that is not a state file is
    started anew; a state file that cannot be created stops the peer with the reason."""
    net = network("state-file", **FAST)
    net.start_seeds(1)
    a = net.add_peer()
    a.send("one")
    a.send("two")
    assert a.stop() == 0
    (path,) = a.dir.glob("peer_*.state")
    data = path.read_bytes()
    # The header: the magic and the time the peer first started with this file.
    assert data[:8] == b"GSSTATE1" and len(data) == 16 + 2 * 40, len(data)
    path.write_bytes(data[:-3])
    a.start()
    a.wait_ready()
    a.wait_log(rf"warning: state file {re.escape(str(path))}: its last record is cut short "
               r"\(37 bytes\); ignored")
    a.wait_log(r"State file \S+: 1 message ids held before this start")
    assert a.log_lines(r"State file \S+: \d+ message ids held")[-1].endswith(
        ": 1 message ids held before this start")
    assert a.stop() == 0
    assert len(path.read_bytes()) == 16 + 40
    assert path.read_bytes()[:16] == data[:16]  # a member since its first start
    path.write_bytes(b"hello, world")
    a.start()
    a.wait_ready()
    a.wait_log(r"not a gossip-peer state file \(no GSSTATE1 header\); starting it anew")
    a.wait_log(r"State file \S+: \d+ message ids held before this start", count=3)
    assert a.log_lines(r"State file \S+: \d+ message ids held")[-1].endswith(
        ": 0 message ids held before this start")
    assert a.stop() == 0
    fresh = path.read_bytes()
    assert fresh[:8] == b"GSSTATE1" and len(fresh) == 16 and fresh != data[:16]

    bad = network("state-file-bad", peer_state_file=str(a.dir / "missing" / "x.state"), **FAST)
    bad.start_seeds(1)
    p = bad.add_peer(wait=False)
    assert p.proc.wait(timeout=20) != 0
    p.expected_exit = True
    assert re.search(r"cannot use the state file \S+/missing/x\.state: No such file or directory",
                     p.stderr_text() + p.log_text()), p.stderr_text()

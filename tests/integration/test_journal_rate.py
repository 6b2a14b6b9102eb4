# SPDX-License-Identifier: MIT
"""peer.journal_message_rate: past rate x 10 per-message events ("received", "sent") in a
10 s window, a peer stops logging them one by one to the journal or stderr and says, at the
window's end, how many it did not log; its log file and output file still have every
message."""
import re
import sys
import uuid

from conftest import STEADY
from gossipnet import REPO, RECEIVED_RE, wait_until

sys.path.insert(0, str(REPO / "tests" / "bench"))
from ctlproto import CtlClient  # noqa: E402

COUNT = 80
SUMMARY_RE = re.compile(r"(\d+) message events not logged one by one in the last 10 s "
                        r"\((\d+) received, (\d+) sent; over peer\.journal_message_rate = "
                        r"(\d+) a second\); the log file has each, and (\S+) each message "
                        r"received$")


def received_lines(text, tag):
    return [ln for ln in text.splitlines() if "Received from " in ln and tag in ln]


def summaries(text):
    return [m for ln in text.splitlines() if (m := SUMMARY_RE.search(ln))]


def send_all(peer):
    """COUNT messages "<tag>-<i>" broadcast from peer over one control connection; the tag."""
    tag = uuid.uuid4().hex[:12]
    client = CtlClient(str(peer.ctl_path))
    try:
        for i in range(COUNT):
            client.send(f"{tag}-{i}".encode())
    finally:
        client.close()
    return tag


def test_received_events_over_the_rate_are_counted(network):
    net = network("jrate", **STEADY)
    net.start_seeds(1)
    # 5 a second: 50 events one by one in a window; 0: none, only the counts.
    five = net.write_config(net.dir / "five.conf", peer_journal_message_rate=5)
    zero = net.write_config(net.dir / "zero.conf", peer_journal_message_rate=0)
    a = net.add_peer()
    b = net.add_peer(config=five)
    c = net.add_peer(config=zero)
    d = net.add_peer()
    net.wait_connected()
    tag = send_all(a)
    for p, logged in ((b, 50), (c, 0)):
        # The output file and the log file: every message.
        wait_until(lambda: len([ln for ln in p.output_lines() if tag in ln]) == COUNT,
                   what=f"{COUNT} messages in {p.name}'s output file")
        wait_until(lambda: len(received_lines(p.log_text(), tag)) == COUNT,
                   what=f"{COUNT} received lines in {p.name}'s log file")
        # Standard error (the journal under systemd): the first ones, then the count.
        found = wait_until(lambda: summaries(p.stderr_text()), timeout=25,
                           what=f"the count of events not logged by {p.name}")
        assert len(found) == 1, found
        held, received, sent, rate, path = found[0].groups()
        assert (int(held), int(received), int(sent), int(rate), path) == \
            (COUNT - logged, COUNT - logged, 0, logged // 10, str(p.output_path))
        lines = received_lines(p.stderr_text(), tag)
        assert len(lines) == logged, lines
        assert all(RECEIVED_RE.match(ln) for ln in lines), lines
    # Under the rate (the default, 100 a second): each one, and no count.
    assert len(received_lines(d.stderr_text(), tag)) == COUNT
    assert summaries(d.stderr_text()) == []


def test_sent_events_share_the_rate(network):
    """The sender's "sent" events count against the same rate."""
    net = network("jrate-sent", **STEADY)
    net.start_seeds(1)
    five = net.write_config(net.dir / "five.conf", peer_journal_message_rate=5)
    a = net.add_peer(config=five)
    b = net.add_peer()
    net.wait_connected()
    tag = send_all(a)
    found = wait_until(lambda: summaries(a.stderr_text()), timeout=25,
                       what=f"the count of events not logged by {a.name}")
    held, received, sent, rate, _ = found[0].groups()
    assert (int(held), int(received), int(sent), int(rate)) == (COUNT - 50, 0, COUNT - 50, 5)
    # The log file has all of them, standard error the first 50.
    broadcast = r"\] Broadcast message [0-9a-f]{64} "
    assert len(a.log_lines(broadcast)) == COUNT
    assert len(re.findall(broadcast, a.stderr_text())) == 50

# SPDX-License-Identifier: MIT
"""A peer whose standard input is a terminal: each typed line is broadcast; 'exit' (or the end
of input) stops the reading of input, and the peer keeps running, receiving and relaying."""
import os
import pty
import re
import uuid
from pathlib import Path

import pytest

from conftest import STEADY
from gossipnet import Peer, free_port

PROMPT = r"Type a message and press Enter to broadcast it; 'exit' stops input"


class TtyPeer(Peer):
    """A peer started like gossipnet's, but with a pseudo-terminal as its standard input;
    the test types on the master side (self.type)."""

    master = slave = None

    def stdin(self):
        self.master, self.slave = pty.openpty()
        return self.slave

    def type(self, text):
        data = text.encode()
        while data:
            n = os.write(self.master, data)
            data = data[n:]

    def unread_input(self):
        """What was typed and is still waiting in the terminal, unread by the peer."""
        os.set_blocking(self.slave, False)
        chunks = []
        try:
            while True:
                chunks.append(os.read(self.slave, 4096))
        except BlockingIOError:
            pass
        finally:
            os.set_blocking(self.slave, True)
        return b"".join(chunks).decode(errors="replace")

    def close_terminal(self):
        for fd in (self.master, self.slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.master = self.slave = None


@pytest.fixture
def ttys():
    """Closes the terminals of the TtyPeers a test made, after the test (before the network's
    own teardown stops the peers)."""
    made = []
    yield made
    for p in made:
        p.close_terminal()


def add_tty_peer(net, ttys, config=None):
    port = free_port()
    p = TtyPeer(net, port, f"peer-{port}", config=config)
    net.peers.append(p)
    ttys.append(p)
    p.start()
    p.wait_ready()
    p.wait_log(PROMPT)
    return p


def messages_from(peer, origin, fragment):
    return [e for e in peer.tail(100) if e["origin"] == origin.addr and fragment in e["text"]]


def test_typed_lines_are_broadcast(network, ttys):
    net = network("tty", peer_degree=2, **STEADY)
    net.start_seeds(1)
    cfg = net.write_config(Path(net.dir) / "tty.conf", peer_degree=2, peer_max_message_size=100)
    t = add_tty_peer(net, ttys, config=cfg)
    others = net.start_peers(2)
    net.wait_connected()
    # A peer whose input is not a terminal does not read it.
    for p in others:
        assert not p.log_lines(PROMPT)

    token = uuid.uuid4().hex
    lines = [f"hello from the terminal {token}", f"second line {token} with  two spaces"]
    t.type(lines[0] + "\n")
    net.wait_delivered(others, lines[0])
    # An empty line is ignored; a line over peer.max_message_size is discarded with a warning;
    # the next line goes out.
    t.type("\n")
    t.type(f"too long {token} " + "x" * 100 + "\n")
    t.type(lines[1] + "\n")
    net.wait_delivered(others, lines[1])
    t.wait_log(r"warning: input line of 1\d\d bytes is over peer\.max_message_size \(100\); not sent")
    for p in others:
        got = messages_from(p, t, token)
        assert [e["text"] for e in got] == lines, got
        assert [ln for ln in p.output_lines() if token in ln][0].endswith(f":'{lines[0]}'")
    assert t.status()["messages_sent"] == 2
    assert t.alive() and t.status()["state"] == "ready"


def test_exit_stops_input_and_peer_keeps_relaying(network, ttys):
    # A line a - t - b: a and b take a single neighbour each, so what one sends to the other
    # goes through t, the peer with the terminal.
    net = network("ttyexit", peer_degree=1, **STEADY)
    net.start_seeds(1)
    t = add_tty_peer(net, ttys, config=net.write_config(Path(net.dir) / "t.conf", peer_degree=2))
    one = net.write_config(Path(net.dir) / "one.conf", peer_degree=1, peer_max_neighbours=1)
    a = net.add_peer(config=one)
    b = net.add_peer(config=one)
    net.wait_connected()
    assert a.up_neighbours() == {t.addr} and b.up_neighbours() == {t.addr}, "not a line a - t - b"

    token = uuid.uuid4().hex
    t.type(f"before exit {token}\n")
    net.wait_delivered([a, b], f"before exit {token}")
    t.type("exit\n")
    t.wait_log(r"exit typed: no longer reading input; the peer keeps running")
    t.type(f"after exit {token}\n")

    # It still receives and relays what others send...
    relayed = f"relayed by t {token}"
    a.send(relayed)
    net.wait_delivered([t, b], relayed)
    (e,) = messages_from(b, a, relayed)
    assert e["from"] == t.addr
    # ...and broadcasts with gossipctl.
    sent = f"sent with gossipctl {token}"
    t.send(sent)
    net.wait_delivered([a, b], sent)

    # The line typed after 'exit' was never read, so never sent.
    assert f"after exit {token}" in t.unread_input()
    for p in (a, b):
        assert not messages_from(p, t, "after exit"), p.name
    st = t.status()
    assert st["messages_sent"] == 2 and st["state"] == "ready"
    assert len(t.log_lines(r"exit typed")) == 1
    assert t.alive()


@pytest.mark.parametrize("how", ["ctrl-d", "hangup"])
def test_end_of_input_keeps_peer_running(network, ttys, how):
    net = network("ttyeof", peer_degree=1, **STEADY)
    net.start_seeds(1)
    t = add_tty_peer(net, ttys)
    other = net.add_peer()
    net.wait_connected()
    token = uuid.uuid4().hex
    t.type(f"typed {token}\n")
    net.wait_delivered([other], f"typed {token}")
    if how == "ctrl-d":
        t.type("\x04")  # VEOF at the start of a line: read() returns 0
    else:
        t.close_terminal()  # the terminal goes away: read() fails
    t.wait_log(r"end of input: no longer reading it; the peer keeps running")
    assert t.alive()
    back = f"still listening {token}"
    other.send(back)
    net.wait_delivered([t], back)
    out = f"still sending {token}"
    t.send(out)
    net.wait_delivered([other], out)
    assert t.status()["messages_sent"] == 2
    assert not re.search(r"\] error: ", t.stderr_text()), t.stderr_text()

# SPDX-License-Identifier: MIT
"""Log rotation without copytruncate: the files are renamed, then SIGHUP makes each daemon
reopen its per-node log and its output file at their paths. While messages flow at about
1,000 msg/s, every line lands once, in the rotated file or in the new one. A file that
cannot be reopened is reported with its cause, and the daemon keeps writing to the file it
had. gossip-peer -o puts the output file where it is told."""
import collections
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

from conftest import STEADY
from gossipnet import LOCAL, PEER_BIN, REPO, RECEIVED_RE, Peer, free_port, wait_until

sys.path.insert(0, str(REPO / "tests" / "bench"))
from ctlproto import CtlClient  # noqa: E402

RATE = 1000.0      # messages per second offered
SECONDS = 6.0      # of sending
ROTATIONS = 3      # during the sending, each of every daemon's files


def ready_count(d):
    return d.notify.count("READY=1")


def hangup(d):
    """SIGHUP, and wait for the READY=1 that ends its handling (files reopened by then)."""
    before = ready_count(d)
    d.signal(signal.SIGHUP)
    wait_until(lambda: ready_count(d) > before, what=f"READY=1 from {d.name} after SIGHUP")


def rotate(d, paths, n):
    """What logrotate does (rename, no copy), then the signal."""
    for p in paths:
        os.rename(p, f"{p}.{n}")
    hangup(d)


def send_paced(peer, texts, rate, sent):
    """Sends texts over one control connection, the i-th at i/rate seconds; appends the
    ones the peer accepted to sent."""
    c = CtlClient(str(peer.ctl_path))
    t0 = time.monotonic()
    try:
        for i, text in enumerate(texts):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            c.send(text.encode())
            sent.append(text)
    finally:
        c.close()


def texts_in(paths, rx=RECEIVED_RE):
    """The message texts of every Received line of the files, in file order."""
    out = []
    for p in paths:
        with open(p, errors="replace") as f:
            for line in f:
                m = rx.match(line.rstrip("\n"))
                if m:
                    out.append(m.group("text"))
    return out


def all_versions(path):
    """path and its rotated copies path.1, path.2, ..."""
    return [path] + sorted(str(p) for p in path.parent.glob(path.name + ".*"))


def test_rotation_while_messages_flow_loses_and_repeats_nothing(network):
    net = network("rotate", **STEADY)
    seeds = net.start_seeds(1)
    a, b, c = net.start_peers(3)
    net.wait_connected()
    tag = uuid.uuid4().hex[:8]
    texts = [f"rot-{tag}-{i:05d}" for i in range(int(RATE * SECONDS))]
    sent = []
    sender = threading.Thread(target=send_paced, args=(a, texts, RATE, sent))
    started = time.monotonic()
    sender.start()
    try:
        for n in range(1, ROTATIONS + 1):
            # Rotate while the flow is on: wait for lines written since the last rotation.
            wait_until(lambda: len(sent) >= n * len(texts) // (ROTATIONS + 1),
                       what=f"{n} quarter(s) of the messages sent")
            for p in (b, c):
                rotate(p, [p.output_path, p.log_path], n)
            rotate(a, [a.log_path], n)
            rotate(seeds[0], [seeds[0].log_path], n)
    finally:
        sender.join()
    elapsed = time.monotonic() - started
    assert sent == texts
    assert len(texts) / elapsed > 0.8 * RATE, f"offered {len(texts) / elapsed:.0f} msg/s only"

    for p in (b, c):
        outputs = all_versions(p.output_path)
        logs = all_versions(p.log_path)
        assert len(outputs) == ROTATIONS + 1 and len(logs) == ROTATIONS + 1, (outputs, logs)
        wait_until(lambda: len(texts_in(outputs)) >= len(texts),
                   what=lambda: f"{p.name}: {len(texts)} lines across {outputs}; "
                                f"got {len(texts_in(outputs))}")
        got = collections.Counter(texts_in(outputs))
        assert sorted(set(texts) - set(got)) == [], f"{p.name}: lines lost"
        assert {t: n for t, n in got.items() if n != 1} == {}, f"{p.name}: lines repeated"
        assert set(got) == set(texts)
        # The rotations happened during the flow: every file got some of the lines.
        for path in outputs:
            assert texts_in([path]), f"{path} is empty: the rotation missed the flow"
        # The per-node log has every received message once too, across its files.
        logged = collections.Counter(texts_in(logs))
        assert set(logged) == set(texts) and set(logged.values()) == {1}, f"{p.name}: log lines"
    # Each daemon says, in its new files, that it reopened them.
    for p in (a, b, c):
        assert p.log_lines(r"Reopened the log file " + re.escape(str(p.log_path)) + "$")
    for p in (b, c):
        assert p.log_lines(r"Reopened the output file " + re.escape(str(p.output_path)) + "$")
    assert seeds[0].log_lines(r"Reopened the log file ")


def test_reopen_failure_is_logged_and_the_old_files_kept(network):
    net = network("reopen-fail", **STEADY)
    net.start_seeds(1)
    a, b = net.start_peers(2)
    net.wait_connected()
    out, log = b.output_path, b.log_path
    out_old, log_old = f"{out}.1", f"{log}.1"
    # Rotated, and each name taken by a directory: neither file can be opened again.
    os.rename(out, out_old)
    os.rename(log, log_old)
    os.mkdir(out)
    os.mkdir(log)
    hangup(b)
    with open(log_old) as f:
        text = f.read()
    assert re.search(r"error: cannot reopen the log file " + re.escape(str(log)) +
                     r": Is a directory; still writing to the file open before", text), text
    assert re.search(r"error: cannot reopen the output file " + re.escape(str(out)) +
                     r": Is a directory; still writing to the file open before", text), text
    assert "cannot reopen the output file" in b.stderr_text()
    # Still running, and still writing: to the files it had.
    assert b.alive() and b.status()["state"] == "ready"
    token = f"kept-{uuid.uuid4().hex}"
    a.send(token)
    wait_until(lambda: token in texts_in([out_old]), what=f"{token} in {out_old}")
    wait_until(lambda: token in texts_in([log_old]), what=f"{token} in {log_old}")

    # Once the paths can be used again, the next SIGHUP reopens them.
    os.rmdir(out)
    os.rmdir(log)
    hangup(b)
    token = f"new-{uuid.uuid4().hex}"
    a.send(token)
    wait_until(lambda: token in texts_in([out]), what=f"{token} in the new {out}")
    assert token not in texts_in([out_old])
    assert b.log_lines(r"Reopened the output file ")


class OutputPeer(Peer):
    """A peer started with -o FILE."""

    def __init__(self, net, port, name, output, **kw):
        super().__init__(net, port, name, **kw)
        self.output = output

    def argv(self):
        return super().argv()[:-2] + ["-o", self.output, self.ip, self.port]

    @property
    def output_path(self):
        return self.output


def test_output_option_names_the_file(network):
    net = network("output-opt", **STEADY)
    net.start_seeds(1)
    a = net.add_peer()
    where = net.dir / "instance" / "output.txt"
    where.parent.mkdir()
    port = free_port()
    b = OutputPeer(net, port, f"peer-{port}", where)
    net.peers.append(b)
    b.start().wait_ready()
    net.wait_connected()
    token = f"opt-{uuid.uuid4().hex}"
    a.send(token)
    wait_until(lambda: token in texts_in([where]), what=f"{token} in {where}")
    assert not (b.dir / "output.txt").exists()
    assert b.log_lines(r"output " + re.escape(str(where)) + ",")
    # Rotated there too.
    rotate(b, [where], 1)
    token = f"opt-{uuid.uuid4().hex}"
    a.send(token)
    wait_until(lambda: token in texts_in([where]), what=f"{token} in the new {where}")
    assert token not in texts_in([f"{where}.1"])

    # A file that cannot be opened at start: its path and the cause, and no start.
    missing = net.dir / "missing" / "output.txt"
    p = subprocess.run([str(x) for x in (PEER_BIN, "-c", net.config_path, "-L", b.dir,
                                         "-s", net.dir / "bad.sock", "-o", missing,
                                         LOCAL, free_port())],
                       env=b.env(), stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert p.returncode == 1, p
    assert re.search(rb"error: cannot open " + re.escape(str(missing).encode()) +
                     rb": No such file or directory", p.stderr), p.stderr

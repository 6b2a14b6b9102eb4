# SPDX-License-Identifier: MIT
"""Flow control: while a neighbour's send queue is over half of peer.send_queue_limit (or
512 KiB, whichever is less), the peer stops reading gossipctl requests, so a burst of sends
waits instead of overflowing the queue; reading resumes once the queue drains (or the stuck
neighbour is dropped). A peer that forwards announces messages instead of queueing them past
three quarters of it."""
import re
import socket
import struct
import subprocess
import threading
import time

import wireproto as w
from gossipnet import CTL_BIN, LOCAL, wait_until

FAKE = (LOCAL, 2)
LIMIT = 65536
SIZE = 60000


def stuck_neighbour(port):
    """A neighbour that says HELLO and then never reads: its tiny receive buffer fills."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.connect((LOCAL, port))
    s.sendall(w.hello(*FAKE))
    return s


def start_sender(peer, stop):
    """A thread sending SIZE-byte messages to peer until stop is set (200 at most): one
    gossipctl per message, each allowed to wait as long as needed. Returns the thread and
    the list of exit codes it fills."""
    results = []

    def sender():
        for i in range(200):
            if stop.is_set():
                break
            p = subprocess.run([str(CTL_BIN), "-s", str(peer.ctl_path), "-t", "0", "send", "-"],
                               input=bytes([65 + i % 26]) * SIZE, env=peer.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            results.append(p.returncode)
    t = threading.Thread(target=sender)
    t.start()
    return t, results


def test_sends_wait_for_a_full_queue(network):
    # Slow liveness, so the stuck neighbour stays long enough to be waited for.
    net = network("flow", peer_degree=1, peer_send_queue_limit=LIMIT, peer_max_message_size=SIZE, peer_ping_interval=0.5,
                  peer_ping_timeout=0.5, peer_ping_misses=4)
    net.start_seeds(1)
    a = net.add_peer()
    stuck = stuck_neighbour(a.port)
    try:
        wait_until(lambda: f"{FAKE[0]}:{FAKE[1]}" in a.up_neighbours(), what="stuck neighbour up")
        stop = threading.Event()
        t, results = start_sender(a, stop)
        try:
            # The queue to the stuck neighbour passes half the limit: requests stop being
            # read, the queue never overflows, and the neighbour is not dropped as slow.
            wait_until(lambda: a.stats()["control_pauses"] >= 1 or not t.is_alive(),
                       what="a pause of the control socket")
        finally:
            stop.set()
        stats = a.stats()
        assert stats["control_pauses"] >= 1, stats
        assert stats["neighbours_dropped_slow"] == 0, stats
        # It stops answering pings, is declared dead, and the waiting send goes through.
        t.join(timeout=60)
        assert not t.is_alive()
        assert results and results == [0] * len(results), results
        a.wait_log(rf"Neighbour {FAKE[0]}:{FAKE[1]} is dead")
        stats = a.stats()
        assert stats["messages_sent"] == len(results), stats
        assert stats["neighbours_dropped_slow"] == 0, stats
    finally:
        stuck.close()


def test_the_pause_keeps_the_backlog_short(network):
    """With the default send_queue_limit (8 MiB), half of it would be seconds of backlog of
    small messages; the pause comes at 512 KiB instead."""
    cap = 512 * 1024
    net = network("flow-cap", peer_degree=1, peer_max_message_size=SIZE, peer_ping_interval=0.5,
                  peer_ping_timeout=0.5, peer_ping_misses=4)
    net.start_seeds(1)
    a = net.add_peer(start=False)
    a.custom_argv = [*a.argv(), "--debug"]  # the pause is logged at debug level, with the queue's size
    a.start()
    a.wait_ready()
    stuck = stuck_neighbour(a.port)
    try:
        wait_until(lambda: f"{FAKE[0]}:{FAKE[1]}" in a.up_neighbours(), what="stuck neighbour up")
        stop = threading.Event()
        t, results = start_sender(a, stop)
        pattern = re.compile(r"pausing reading gossipctl requests: a neighbour has (\d+) bytes queued")
        try:
            m = wait_until(lambda: pattern.search(a.stderr_text()), what="a pause of the control socket")
        finally:
            stop.set()
        queued = int(m.group(1))
        # Past the cap by at most the one message that crossed it; far below half the limit.
        assert cap < queued <= cap + SIZE + 1024, queued
        t.join(timeout=60)
        assert not t.is_alive()
        assert results and results == [0] * len(results), results
        a.wait_log(rf"Neighbour {FAKE[0]}:{FAKE[1]} is dead")
        assert a.stats()["neighbours_dropped_slow"] == 0
    finally:
        stuck.close()


def read_frames(sock, buf, timeout):
    """Frames (type, body) that arrive on a raw socket within timeout; buf keeps a partial one."""
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(1 << 20)
        except socket.timeout:
            break
        if not data:
            break
        buf += data
        while len(buf) >= 8:
            (blen,) = struct.unpack_from(">I", buf, 4)
            if len(buf) < 8 + blen:
                break
            out.append((buf[3], bytes(buf[8:8 + blen])))
            del buf[:8 + blen]
    return out


def test_a_forwarder_announces_what_a_slow_neighbour_cannot_take(network):
    """Flow control holds back only the origin. A peer that forwards to a neighbour whose
    queue is three quarters full sends it the ids instead of the messages (IHAVE); the
    neighbour is not dropped as slow and gets every message once it asks (GRAFT)."""
    # Slow liveness: the stuck neighbour must outlive the burst, not be declared dead.
    net = network("flow-fwd", peer_degree=1, peer_send_queue_limit=LIMIT, peer_max_message_size=SIZE, peer_ping_interval=1.0,
                  peer_ping_timeout=1.0, peer_ping_misses=20)
    net.start_seeds(1)
    a = net.add_peer()
    b = net.add_peer()
    wait_until(lambda: f"{LOCAL}:{a.port}" in b.up_neighbours(), what="a and b linked")
    stuck = stuck_neighbour(b.port)
    try:
        wait_until(lambda: f"{FAKE[0]}:{FAKE[1]}" in b.up_neighbours(), what="stuck neighbour up")
        # Until the kernel's buffers towards the stuck neighbour are full (TCP grows them to
        # megabytes), b's own queue stays empty and every message goes to it in full.
        ids = []
        for i in range(400):
            ids.append(a.send(chr(65 + i % 26) * SIZE))
            if b.stats()["pushes_deferred"] >= 3:
                break
        net.wait_delivered([b], chr(65 + (len(ids) - 1) % 26) * 64)
        stats = b.stats()
        assert stats["pushes_deferred"] >= 3, stats
        assert stats["neighbours_dropped_slow"] == 0, stats
        assert f"{FAKE[0]}:{FAKE[1]}" in b.up_neighbours()

        # The stuck neighbour reads what it was sent: some messages, the ids of the rest.
        buf, full, announced = bytearray(), set(), set()

        def take(frames):
            for ftype, body in frames:
                if ftype == w.GOSSIP:
                    full.add(body[:32].hex())
                elif ftype == w.IHAVE:
                    (n,) = struct.unpack_from(">H", body)
                    announced.update(body[2 + 32 * k:34 + 32 * k].hex() for k in range(n))
                elif ftype == w.PING:
                    stuck.sendall(w.frame(w.PONG, body))

        deadline = time.monotonic() + 30
        while not set(ids) <= full | announced and time.monotonic() < deadline:
            take(read_frames(stuck, buf, 0.5))
        assert set(ids) <= full | announced, "neither sent nor announced: %s" % (
            set(ids) - full - announced)
        assert announced - full, "nothing was announced instead of sent"
        # Asked for, the announced messages come in full: as many at a time as fit in
        # three quarters of the queue, so what is still missing is asked for again, as a
        # peer does after its GRAFT timeout.
        deadline = time.monotonic() + 30
        while not set(ids) <= full and time.monotonic() < deadline:
            wanted = sorted(announced - full)
            stuck.sendall(w.frame(w.GRAFT, struct.pack(">H", len(wanted)) +
                                  b"".join(bytes.fromhex(x) for x in wanted)))
            take(read_frames(stuck, buf, 0.5))
        assert set(ids) <= full, "not resent: %s" % (set(ids) - full)
        assert b.stats()["neighbours_dropped_slow"] == 0
    finally:
        stuck.close()

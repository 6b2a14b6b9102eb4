# SPDX-License-Identifier: MIT
"""Flow control: while a neighbour's send queue is over half of peer.send_queue_limit, the
peer stops reading gossipctl requests, so a burst of sends waits instead of overflowing the
queue; reading resumes once the queue drains (or the stuck neighbour is dropped)."""
import socket
import subprocess
import threading

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


def test_sends_wait_for_a_full_queue(network):
    # Slow liveness, so the stuck neighbour stays long enough to be waited for.
    net = network("flow", peer_degree=1, peer_send_queue_limit=LIMIT, peer_ping_interval=0.5,
                  peer_ping_timeout=0.5, peer_ping_misses=4)
    net.start_seeds(1)
    a = net.add_peer()
    stuck = stuck_neighbour(a.port)
    try:
        wait_until(lambda: f"{FAKE[0]}:{FAKE[1]}" in a.up_neighbours(), what="stuck neighbour up")
        results = []
        stop = threading.Event()

        def sender():
            # One gossipctl per message, each allowed to wait as long as needed, until the
            # kernel's socket buffers are full and the peer's own queue fills (at most 12 MB).
            for i in range(200):
                if stop.is_set():
                    break
                p = subprocess.run([str(CTL_BIN), "-s", str(a.ctl_path), "-t", "0", "send", "-"],
                                   input=bytes([65 + i % 26]) * SIZE, env=a.env(),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
                results.append(p.returncode)
        t = threading.Thread(target=sender)
        t.start()
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

# SPDX-License-Identifier: MIT
"""Sends messages at a steady rate through several peers' control sockets, run inside the
system test's container: message i is "<tag>-<i>" and goes through socket i mod n.
Requests are pipelined (a thread per socket reads the replies), so the rate does not
depend on each reply's round trip. Optionally runs a command (logrotate) half-way through,
in a thread, while the flow goes on. Prints one JSON object: what was sent and accepted,
how long it took, and the command's result.

    python3 sender.py --rate 1000 --seconds 60 --tag T [--midway CMD] SOCKET...
"""
import argparse
import json
import shlex
import socket
import subprocess
import sys
import threading
import time

from ctlproto import SEND, FrameReader, encode


class Pipe:
    """One control connection: requests written by the caller, replies counted by a thread."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sent = self.accepted = self.refused = 0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        reader = FrameReader()
        while True:
            data = self.sock.recv(1 << 20)
            if not data:
                return
            reader.feed(data)
            ok, bad = reader.count_ends()
            self.accepted += ok
            self.refused += bad

    def send(self, payload):
        self.sock.sendall(encode(SEND, payload))
        self.sent += 1

    def answered(self):
        return self.accepted + self.refused == self.sent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--midway")
    ap.add_argument("sockets", nargs="+")
    args = ap.parse_args()
    clients = [Pipe(p) for p in args.sockets]
    count = int(args.rate * args.seconds)
    midway = {}

    def run_midway():
        p = subprocess.run(shlex.split(args.midway), capture_output=True, text=True)
        midway.update(returncode=p.returncode, stdout=p.stdout, stderr=p.stderr,
                      at=time.monotonic() - t0)
    t0 = time.monotonic()
    thread = None
    late = 0.0
    for i in range(count):
        delay = t0 + i / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            late = max(late, -delay)
        if args.midway and thread is None and i >= count // 2:
            thread = threading.Thread(target=run_midway)
            thread.start()
        clients[i % len(clients)].send(f"{args.tag}-{i:06d}".encode())
    seconds = time.monotonic() - t0
    deadline = time.monotonic() + 60
    while not all(c.answered() for c in clients) and time.monotonic() < deadline:
        time.sleep(0.05)
    if thread:
        thread.join()
    for c in clients:
        c.sock.close()
    json.dump({"sent": count, "seconds": seconds, "rate": count / seconds, "most_late": late,
               "accepted": sum(c.accepted for c in clients),
               "refused": sum(c.refused for c in clients), "midway": midway}, sys.stdout)


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: MIT
"""A user-space link emulator for network namespaces (this kernel has no netem).

Each host is a network namespace with one TUN device, `gt0`, holding its address in a private
/16: every packet it sends to another host goes to the TUN device, where this process reads it.
One thread forwards each packet to the destination host's TUN device after the one-way latency,
or drops it: at random with the loss rate, or when the two hosts are in different partition
groups. Packets to an address no host has are dropped.

The TUN devices are created inside the namespaces (a short-lived thread enters each with
setns(2) to open /dev/net/tun), so nothing touches the machine's own interfaces; they go away
with their namespaces.
"""
import fcntl
import heapq
import os
import random
import select
import struct
import threading
import time

from netnslib import in_netns

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
TUN_NAME = "gt0"


def open_tun_in(ns):
    """A TUN device gt0 created in namespace ns: its fd (non-blocking), usable from here."""
    def make():
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", TUN_NAME.encode(), IFF_TUN | IFF_NO_PI))
        return fd
    return in_netns(ns, make)


class LinkEmulator:
    """Forwards IPv4 packets between the hosts' TUN devices with latency, loss and partitions."""

    def __init__(self, latency_s=0.1, seed=1):
        self.latency = latency_s
        self.loss = 0.0
        self.groups = None  # {ip bytes: group}: packets between groups are dropped
        self.fds = {}       # ip bytes -> TUN fd
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stop = False
        self.thread = None
        self.counts = {"forwarded": 0, "lost": 0, "cut": 0, "unroutable": 0, "bytes": 0}

    def add_host(self, ip, fd):
        self.fds[bytes(int(x) for x in ip.split("."))] = fd

    def set_loss(self, rate):
        with self.lock:
            self.loss = rate

    def partition(self, groups):
        """groups: {ip string: group number}, or None to heal."""
        with self.lock:
            self.groups = None if groups is None else {
                bytes(int(x) for x in ip.split(".")): g for ip, g in groups.items()}

    def start(self):
        self.thread = threading.Thread(target=self._run, name="linkemu", daemon=True)
        self.thread.start()

    def close(self):
        self.stop = True
        if self.thread:
            self.thread.join(timeout=5)
        for fd in self.fds.values():
            os.close(fd)
        self.fds = {}

    def _decide(self, src, dst):
        with self.lock:
            if self.groups is not None and self.groups.get(src) != self.groups.get(dst):
                return "cut"
            if self.loss and self.rng.random() < self.loss:
                return "lost"
        return None

    def _read_all(self, fd, now, queue, seq):
        while True:
            try:
                pkt = os.read(fd, 65535)
            except BlockingIOError:
                return seq
            except OSError:
                return seq
            if len(pkt) < 20 or pkt[0] >> 4 != 4:
                continue  # IPv4 only (the namespaces have no IPv6 address on gt0)
            src, dst = pkt[12:16], pkt[16:20]
            if dst not in self.fds:
                self.counts["unroutable"] += 1
                continue
            verdict = self._decide(src, dst)
            if verdict:
                self.counts[verdict] += 1
                continue
            seq += 1
            heapq.heappush(queue, (now + self.latency, seq, dst, pkt))

    def _run(self):
        queue, seq = [], 0
        poller = select.epoll()
        by_fd = {}
        for fd in self.fds.values():
            poller.register(fd, select.EPOLLIN)
            by_fd[fd] = True
        while not self.stop:
            now = time.monotonic()
            while queue and queue[0][0] <= now:
                _, _, dst, pkt = heapq.heappop(queue)
                try:
                    os.write(self.fds[dst], pkt)
                    self.counts["forwarded"] += 1
                    self.counts["bytes"] += len(pkt)
                except OSError:
                    self.counts["unroutable"] += 1
            timeout = 0.05 if not queue else max(0.0, min(0.05, queue[0][0] - now))
            for fd, _ in poller.poll(timeout):
                seq = self._read_all(fd, time.monotonic(), queue, seq)
        poller.close()

# SPDX-License-Identifier: MIT
"""The same propagation measurement on HashiCorp Serf agents (Debian package `serf`).

N agents on loopback join agent 0; each runs a bash event handler that appends
"$EPOCHREALTIME $SERF_USER_EVENT" to its own file, so receive times are taken
on the receiving side, by each agent's handler. User events are sent with
`serf event -coalesce=false` from a random agent, one at a time; the origin
agent's own handler run is the send time (it runs the handler for its own
event, so the handler start-up cost is on both sides).
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from benchnet import _all_procs, free_port_block, proc_mem_kb

HANDLER = """#!/bin/bash
echo "$EPOCHREALTIME $SERF_USER_EVENT" >> "$SERF_BENCH_OUT"
"""


def serf_bin():
    return shutil.which("serf") or ("/usr/bin/serf" if os.access("/usr/bin/serf", os.X_OK) else None)


def available():
    return serf_bin() is not None


def _pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


def _summary(values):
    if not values:
        return {"count": 0, "p50": None, "p99": None, "max": None}
    return {"count": len(values), "p50": _pct(values, 50), "p99": _pct(values, 99), "max": max(values)}


class SerfNet:
    def __init__(self, n, profile="lan", keep=False, rng=None):
        self.n = n
        self.profile = profile
        self.keep = keep
        self.rng = rng
        self.dir = tempfile.mkdtemp(prefix="gossip-bench-serf.")
        self.procs = []
        self.outs = []

    def start(self, timeout=None):
        serf = serf_bin()
        handler = os.path.join(self.dir, "handler.sh")
        with open(handler, "w") as f:
            f.write(HANDLER)
        os.chmod(handler, 0o755)
        base = free_port_block(2 * self.n, rng=self.rng)
        self.bind = [base + i for i in range(self.n)]
        self.rpc = [base + self.n + i for i in range(self.n)]
        t0 = time.monotonic()
        for i in range(self.n):
            out = os.path.join(self.dir, "agent%d.events" % i)
            open(out, "w").close()
            self.outs.append(out)
            env = dict(os.environ, SERF_BENCH_OUT=out)
            argv = [serf, "agent", "-node=a%d" % i, "-bind=127.0.0.1:%d" % self.bind[i],
                    "-rpc-addr=127.0.0.1:%d" % self.rpc[i], "-profile=%s" % self.profile,
                    "-event-handler=user=%s" % handler, "-log-level=warn"]
            if i:
                argv.append("-retry-join=127.0.0.1:%d" % self.bind[0])
                argv.append("-retry-interval=1s")
            logf = open(os.path.join(self.dir, "agent%d.log" % i), "wb")
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                 env=env, cwd=self.dir)
            logf.close()
            self.procs.append(p)
            _all_procs.append(p)
        # Ready: every agent's RPC answers and lists n alive members.
        deadline = time.monotonic() + (timeout or 60 + self.n * 0.5)
        todo = list(range(self.n))
        while todo:
            still = []
            for i in todo:
                if self.procs[i].poll() is not None:
                    raise RuntimeError("serf agent %d exited (%s)" % (i, self.procs[i].returncode))
                if self.alive_members(i) != self.n:
                    still.append(i)
            todo = still
            if todo:
                if time.monotonic() > deadline:
                    raise RuntimeError("%d serf agents do not see all %d members" % (len(todo), self.n))
                time.sleep(0.2)
        return time.monotonic() - t0

    def alive_members(self, i):
        r = subprocess.run([serf_bin(), "members", "-status=alive", "-rpc-addr=127.0.0.1:%d" % self.rpc[i]],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=20)
        if r.returncode != 0:
            return -1
        return sum(1 for line in r.stdout.decode().splitlines() if line.strip())

    def event(self, i, name, payload="x"):
        subprocess.run([serf_bin(), "event", "-coalesce=false", "-rpc-addr=127.0.0.1:%d" % self.rpc[i],
                        name, payload], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True, timeout=20)

    def received(self, name):
        """{agent index: handler timestamp (s)} for event `name`."""
        out = {}
        for i, path in enumerate(self.outs):
            try:
                with open(path) as f:
                    for line in f:
                        ts, _, ev = line.strip().partition(" ")
                        if ev == name:
                            out[i] = float(ts)
                            break
            except OSError:
                pass
        return out

    def rss_mb(self):
        vals = [proc_mem_kb(p.pid) for p in self.procs if p.poll() is None]
        return [v["rss"] / 1024.0 for v in vals if v]

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p in _all_procs:
                _all_procs.remove(p)
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def measure(n, k, rng, profile="lan", keep=False, log=print, timeout=30.0):
    net = SerfNet(n, profile=profile, keep=keep, rng=rng)
    try:
        t_ready = net.start()
        log("  %d agents joined in %.1f s" % (n, t_ready))
        rss = net.rss_mb()
        lat, last, from_cli = [], [], []
        delivered = 0
        for j in range(k):
            name = "bench%d_%d" % (j, rng.randrange(1 << 30))
            o = rng.randrange(n)
            t_cli = time.time()
            net.event(o, name)
            deadline = time.monotonic() + timeout
            while True:
                got = net.received(name)
                if len(got) == n or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            t0 = got.get(o, t_cli)
            ds = [(ts - t0) * 1e3 for i, ts in got.items() if i != o]
            lat += ds
            delivered += len(ds)
            if len(got) == n:
                last.append(max(ds) if ds else 0.0)
                from_cli.append((max(got.values()) - t_cli) * 1e3)
            time.sleep(0.2)  # let the broadcast queues drain before the next event
        res = {"n": n, "events": k, "profile": profile, "join_seconds": t_ready,
               "latency_ms": _summary(lat), "last_agent_ms": _summary(last),
               "last_agent_from_cli_ms": _summary(from_cli),
               "pairs": k * (n - 1), "delivered_pairs": delivered,
               "delivery": delivered / (k * (n - 1)) if n > 1 else None,
               "rss_mb_median": _pct(rss, 50), "rss_mb_max": max(rss) if rss else None}
        log("  Serf N=%d: p50 %.1f ms, p99 %.1f ms, last agent p50 %.1f ms (max %.1f), delivery %.4f, RSS %.1f MB/agent"
            % (n, res["latency_ms"]["p50"] or -1, res["latency_ms"]["p99"] or -1,
               res["last_agent_ms"]["p50"] or -1, res["last_agent_ms"]["max"] or -1, res["delivery"],
               res["rss_mb_median"] or -1))
        return res
    finally:
        net.stop()

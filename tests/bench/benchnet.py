# SPDX-License-Identifier: MIT
"""Starting and stopping a gossip network on loopback for the benchmark.

S seeds and N peers, each in its own log directory under one temporary
directory. Readiness comes from the daemons themselves: every daemon gets
NOTIFY_SOCKET pointing at one datagram socket with SO_PASSCRED, so each
READY=1 is attributed to the sending PID. After every peer is ready, the
overlay is checked (PEERS on every peer) until it is connected.

With tls=True the network runs as shipped: a cluster CA and one certificate
for 127.0.0.1 (gossip-cert), tls.mode "required", broadcasts signed; without,
plaintext and unsigned.
"""
import grp
import os
import random
import resource
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

from ctlproto import PEERS, CtlClient, query_all

USER_HZ = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

_all_procs = []  # every process any network started, for the last-resort cleanup


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def port_free(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_port_block(count, lo=20000, hi=32000, rng=None):
    """`count` consecutive free ports below the ephemeral range, so outgoing connections never take them."""
    rng = rng or random.Random()
    for _ in range(200):
        base = rng.randrange(lo, hi - count)
        if all(port_free(p) for p in range(base, base + count)):
            return base
    raise RuntimeError("no block of %d free ports in %d-%d" % (count, lo, hi))


def kill_all_started():
    """Last resort (atexit / signal): SIGKILL every process the harness started and still owns."""
    for p in _all_procs:
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass
    for p in _all_procs:
        try:
            p.wait(timeout=5)
        except Exception:
            pass


def proc_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_mem_kb(pid):
    """{'rss', 'pss', 'anon'} in kB from /proc/PID/smaps_rollup (anon: private + shared anonymous)."""
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Rss", "Pss", "Anonymous"):
                    out[{"Rss": "rss", "Pss": "pss", "Anonymous": "anon"}[k]] = int(v.split()[0])
    except OSError:
        return None
    return out


def host_cpu_ticks():
    """(steal, total) clock ticks of the whole machine from /proc/stat, or None.

    Steal is time the hypervisor gave this machine's virtual CPUs to someone
    else: on a shared host it makes latency and CPU figures noisy, so each
    phase reports its share (host_steal_pct) beside them.
    """
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    vals = [int(x) for x in fields[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    return (vals[7] if len(vals) > 7 else 0, sum(vals[:8]))


def steal_pct(t0, t1):
    if not t0 or not t1 or t1[1] <= t0[1]:
        return None
    return 100.0 * (t1[0] - t0[0]) / (t1[1] - t0[1])


def proc_cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / USER_HZ


class NotifyListener(threading.Thread):
    """Receives sd_notify datagrams; records READY=1 per sender PID."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        except OSError:
            pass
        self.sock.settimeout(0.2)
        self.ready = {}  # pid -> time.monotonic() of the first READY=1
        self.cond = threading.Condition()
        self.stopping = False

    def run(self):
        csize = socket.CMSG_SPACE(struct.calcsize("3i"))
        while not self.stopping:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, csize)
            except socket.timeout:
                continue
            except OSError:
                break
            pid = None
            for level, ctype, cdata in anc:
                if level == socket.SOL_SOCKET and ctype == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", cdata[:struct.calcsize("3i")])[0]
            if pid is None:
                continue
            if b"READY=1" in data.split(b"\n"):
                with self.cond:
                    self.ready.setdefault(pid, time.monotonic())
                    self.cond.notify_all()

    def stop(self):
        self.stopping = True
        self.join(timeout=2)
        self.sock.close()


class Node:
    def __init__(self, kind, index, port, dirpath):
        self.kind = kind
        self.index = index
        self.port = port
        self.addr = "127.0.0.1:%d" % port
        self.dir = dirpath
        self.proc = None
        self.ctl = None
        self.started_at = None

    @property
    def pid(self):
        return self.proc.pid

    @property
    def log_path(self):
        name = "seed" if self.kind == "seed" else "peer"
        return os.path.join(self.dir, "%s_127.0.0.1_%d.log" % (name, self.port))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


def libconfig_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int):
        return "%dL" % v if v > 2**31 - 1 else str(v)
    return '"%s"' % v


class Network:
    def __init__(self, build, n_peers, n_seeds=3, peer_conf=None, seed_conf=None, keep=False,
                 log=print, rng=None, daemon_stderr=False, tmp_root=None, tls=False):
        self.build = build
        self.tls = tls
        self.n_peers = n_peers
        self.n_seeds = n_seeds
        self.peer_conf = dict(peer_conf or {})
        self.seed_conf = dict(seed_conf or {})
        self.keep = keep
        self.log = log
        self.rng = rng or random.Random()
        self.daemon_stderr = daemon_stderr
        self.dir = tempfile.mkdtemp(prefix="gossip-bench.", dir=tmp_root)
        self.run_dir = os.path.join(self.dir, "run")
        os.makedirs(self.run_dir)
        self.seeds = []
        self.peers = []
        self.notify = None
        self.timings = {}

    # ---- start -------------------------------------------------------------------------

    def _write_config(self, seed_base):
        path = os.path.join(self.dir, "gossip.conf")
        with open(path, "w") as f:
            f.write("# written by tests/bench\n")
            f.write("seeds = [ %s ];\n" % ", ".join(
                '"127.0.0.1:%d"' % (seed_base + i) for i in range(self.n_seeds)))
            tls = self._make_certificates() if self.tls else {}
            for section, conf in (("seed", self.seed_conf), ("peer", self.peer_conf),
                                  ("tls", tls)):
                if conf:
                    f.write("%s = {\n" % section)
                    for k, v in conf.items():
                        f.write("  %s = %s;\n" % (k, libconfig_value(v)))
                    f.write("};\n")
        return path

    def _make_certificates(self):
        """A CA and one node certificate for 127.0.0.1 in <dir>/tls; the tls settings."""
        d = os.path.join(self.dir, "tls")
        cert = os.path.join(self.build, "gossip-cert")
        group = grp.getgrgid(os.getgid()).gr_name
        for argv in ([cert, "init", "--dir", d],
                     [cert, "issue", "--dir", d, "--address", "127.0.0.1", "--name", "bench",
                      "--out", os.path.join(d, "node"), "--group", group]):
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        return {"mode": "required", "ca_file": os.path.join(d, "ca.crt"),
                "cert_file": os.path.join(d, "node.crt"), "key_file": os.path.join(d, "node.key")}

    def _spawn(self, node, argv):
        os.makedirs(node.dir, exist_ok=True)
        env = dict(os.environ)
        env["NOTIFY_SOCKET"] = self.notify.path
        env["GOSSIP_RUNTIME_DIR"] = self.run_dir
        env.pop("LISTEN_FDS", None)
        env.pop("LISTEN_PID", None)
        env.pop("JOURNAL_STREAM", None)
        err = open(os.path.join(node.dir, "stderr"), "wb") if self.daemon_stderr else subprocess.DEVNULL
        node.started_at = time.monotonic()
        node.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=err, env=env, cwd=node.dir, close_fds=True)
        if err is not subprocess.DEVNULL:
            err.close()
        _all_procs.append(node.proc)

    def _wait_ready(self, nodes, timeout, what):
        deadline = time.monotonic() + timeout
        with self.notify.cond:
            while True:
                missing = [n for n in nodes if n.pid not in self.notify.ready]
                if not missing:
                    return
                dead = [n for n in missing if n.proc.poll() is not None]
                if dead:
                    raise RuntimeError("%s %s exited with status %s; log:\n%s" % (
                        what, dead[0].addr, dead[0].proc.returncode, self.tail_log(dead[0])))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("%d of %d %ss not ready after %.0f s (first: %s); log:\n%s" % (
                        len(missing), len(nodes), what, timeout, missing[0].addr,
                        self.tail_log(missing[0])))
                self.notify.cond.wait(min(left, 0.5))

    def tail_log(self, node, lines=15):
        out = []
        for p in (node.log_path, os.path.join(node.dir, "stderr")):
            try:
                with open(p, errors="replace") as f:
                    out += f.read().splitlines()[-lines:]
            except OSError:
                pass
        return "\n".join(out)

    def start(self, ready_timeout=None):
        raise_nofile()
        total = self.n_seeds + self.n_peers
        base = free_port_block(total, rng=self.rng)
        seed_base, peer_base = base, base + self.n_seeds
        self.config = self._write_config(seed_base)
        self.notify = NotifyListener(os.path.join(self.dir, "notify.sock"))
        self.notify.start()
        t0 = time.monotonic()
        for i in range(self.n_seeds):
            n = Node("seed", i, seed_base + i, os.path.join(self.dir, "seed%d" % i))
            self._spawn(n, [os.path.join(self.build, "gossip-seed"), "-c", self.config,
                            "-L", n.dir, "127.0.0.1", str(n.port)])
            self.seeds.append(n)
        self._wait_ready(self.seeds, 30, "seed")
        t1 = time.monotonic()
        for i in range(self.n_peers):
            n = Node("peer", i, peer_base + i, os.path.join(self.dir, "peer%d" % i))
            self._spawn(n, [os.path.join(self.build, "gossip-peer"), "-c", self.config,
                            "-L", n.dir, "127.0.0.1", str(n.port)])
            self.peers.append(n)
        t2 = time.monotonic()
        self._wait_ready(self.peers, ready_timeout or (30 + self.n_peers * 0.1), "peer")
        t3 = time.monotonic()
        self.connect_all()
        self.wait_overlay(timeout=ready_timeout or (30 + self.n_peers * 0.1))
        t4 = time.monotonic()
        self.timings = {"seeds_ready_s": t1 - t0, "peers_spawned_s": t2 - t1,
                        "peers_ready_s": t3 - t1, "overlay_connected_s": t4 - t1}
        return self.timings

    def start_extra_peer(self, timeout=30):
        """One more peer, with the network's configuration: (its Node, seconds from spawn to its
        READY=1). Stop it with stop_node()."""
        port = free_port_block(1, rng=self.rng)
        n = Node("peer", len(self.peers) + 1000, port, os.path.join(self.dir, "extra%d" % port))
        self._spawn(n, [os.path.join(self.build, "gossip-peer"), "-c", self.config,
                        "-L", n.dir, "127.0.0.1", str(n.port)])
        self._wait_ready([n], timeout, "peer")
        return n, self.notify.ready[n.pid] - n.started_at

    def stop_node(self, n):
        n.proc.send_signal(signal.SIGTERM)
        n.proc.wait(timeout=10)
        if n.proc in _all_procs:
            _all_procs.remove(n.proc)

    def socket_path(self, node):
        return os.path.join(self.run_dir, "peer-%d.sock" % node.port)

    def connect_all(self):
        for n in self.peers:
            if n.ctl is None and n.alive():
                n.ctl = CtlClient(self.socket_path(n))

    def live_peers(self):
        return [n for n in self.peers if n.alive()]

    def overlay(self):
        """{peer index: set of neighbour addrs that are up}, plus the count of links still connecting."""
        peers = self.live_peers()
        res = query_all([n.ctl for n in peers], PEERS)
        graph = {}
        connecting = 0
        for n, recs in zip(peers, res):
            if recs is None:
                graph[n.addr] = set()
                continue
            graph[n.addr] = {r["addr"] for r in recs if r.get("state") == "up"}
            connecting += sum(1 for r in recs if r.get("state") != "up")
        return graph, connecting

    @staticmethod
    def connected(graph):
        if not graph:
            return True
        nodes = set(graph)
        adj = {a: set() for a in nodes}
        for a, nbs in graph.items():
            for b in nbs:
                if b in adj:
                    adj[a].add(b)
                    adj[b].add(a)
        start = next(iter(nodes))
        seen = {start}
        todo = [start]
        while todo:
            a = todo.pop()
            for b in adj[a]:
                if b not in seen:
                    seen.add(b)
                    todo.append(b)
        return len(seen) == len(nodes)

    def wait_overlay(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            graph, connecting = self.overlay()
            isolated = [a for a, nb in graph.items() if not nb]
            if self.connected(graph) and not connecting and not isolated:
                self.graph = graph
                return graph
            if time.monotonic() > deadline:
                raise RuntimeError("overlay not connected after %.0f s: %d isolated, %d links connecting"
                                   % (timeout, len(isolated), connecting))
            time.sleep(0.05)

    # ---- measurements ---------------------------------------------------------------------

    def rss_kb(self, nodes=None):
        return [proc_rss_kb(n.pid) for n in (nodes or self.live_peers())]

    def mem_kb(self, nodes=None):
        """Per-peer {'rss', 'pss', 'anon'} in kB."""
        return [m for m in (proc_mem_kb(n.pid) for n in (nodes or self.live_peers())) if m]

    def cpu_seconds(self, nodes=None):
        return sum(proc_cpu_seconds(n.pid) or 0.0 for n in (nodes or self.live_peers()))

    def truncate_outputs(self, limit=256 << 20):
        """Keeps long runs from filling the disk: output.txt and logs are appended with O_APPEND."""
        for n in self.peers + self.seeds:
            for p in (os.path.join(n.dir, "output.txt"), n.log_path):
                try:
                    if os.path.getsize(p) > limit:
                        os.truncate(p, 0)
                except OSError:
                    pass

    # ---- stop ------------------------------------------------------------------------------

    def stop(self):
        for n in self.peers:
            if n.ctl:
                n.ctl.close()
                n.ctl = None
        procs = [n.proc for n in self.peers + self.seeds if n.proc is not None]
        for p in procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.monotonic() + 10
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for p in procs:
            if p in _all_procs:
                _all_procs.remove(p)
        if self.notify:
            self.notify.stop()
            self.notify = None
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

# SPDX-License-Identifier: MIT
"""Helpers of the integration tests: start seeds and peers on loopback and watch them.

A Network owns a temporary directory, a generated configuration, and the
daemons it started; it waits for each daemon's READY=1 on a per-process
sd_notify socket, wraps gossipctl, reads the log files, and on close stops
every process it started (and only those), checking that each stopped
cleanly and that no sanitizer report appeared on its standard error.
"""
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("GOSSIP_BUILD") or REPO / "build" / "release").resolve()
SEED_BIN = BUILD / "gossip-seed"
PEER_BIN = BUILD / "gossip-peer"
CTL_BIN = BUILD / "gossipctl"
CERT_BIN = BUILD / "gossip-cert"

LOCAL = "127.0.0.1"
STAMP = r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\]"
# "[t] Received from <from>: <origin> - <otime>:<oip>:'<text>'"
RECEIVED_RE = re.compile(
    r"^\[(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] Received from (?P<frm>\S+): (?P<origin>\S+) - "
    r"(?P<otime>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d):(?P<oip>[0-9.]+):'(?P<text>.*)'"
    r"(?: \(id (?P<id>[0-9a-f]{64})\))?$")
CURRENT_PEERS_RE = re.compile(r"Current peers: \{(.*)\}$")
# What the sanitizers print when they find something.
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|"
                          r"SUMMARY: \w+Sanitizer|AddressSanitizer:DEADLYSIGNAL")

# Timeouts generous enough for a loaded 2-core machine under ASan.
READY_TIMEOUT = 20.0
WAIT_TIMEOUT = 20.0


def wait_until(cond, timeout=WAIT_TIMEOUT, interval=0.05, what=None):
    """Polls cond() until it returns a truthy value, which is returned.

    On timeout raises AssertionError naming `what` (a string or a callable
    giving one, evaluated then so it can describe the last state seen).
    """
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            desc = what() if callable(what) else (what or getattr(cond, "__name__", "condition"))
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for: {desc}")
        time.sleep(interval)


# --- ports -------------------------------------------------------------------------------

_ports_lock = threading.Lock()
_ports_taken = set()


def _port_free(port):
    for kind in (socket.SOCK_STREAM,):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((LOCAL, port))
        except OSError:
            return False
        finally:
            s.close()
    # Nothing may be listening either (a wildcard listener on another address).
    try:
        with socket.create_connection((LOCAL, port), timeout=0.2):
            return False
    except OSError:
        return True


def free_port():
    """A TCP port on 127.0.0.1 that is free now, below the ephemeral range so that no
    outgoing connection takes it meanwhile, and never handed out twice by this process."""
    rng = random.Random()
    with _ports_lock:
        for _ in range(2000):
            port = rng.randrange(20000, 32700)
            if port in _ports_taken:
                continue
            if _port_free(port):
                _ports_taken.add(port)
                return port
    raise RuntimeError("no free port found")


# --- environment -------------------------------------------------------------------------

def base_env(netdir, **extra):
    """An explicit environment: nothing of the caller's runtime or log directories leaks in."""
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "HOME": str(netdir),
        "GOSSIP_RUNTIME_DIR": str(Path(netdir) / "run"),
        "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0"),
        "UBSAN_OPTIONS": os.environ.get("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1"),
    }
    if "LSAN_OPTIONS" in os.environ:
        env["LSAN_OPTIONS"] = os.environ["LSAN_OPTIONS"]
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def sanitizer_report(text):
    """The first lines of a sanitizer report in text, or None."""
    m = SANITIZER_RE.search(text)
    if not m:
        return None
    start = text.rfind("\n", 0, m.start()) + 1
    return text[start:start + 3000]


def run_ctl(args, env, *, input=None, timeout=30, preexec_fn=None, check_sanitizer=True):
    """Runs gossipctl with args (str or bytes); returns CompletedProcess with bytes output."""
    cmd = [str(CTL_BIN)] + list(args)
    if isinstance(input, str):
        input = input.encode()
    p = subprocess.run(cmd, env=env, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                       capture_output=True, timeout=timeout, preexec_fn=preexec_fn)
    if check_sanitizer:
        rep = sanitizer_report(p.stderr.decode(errors="replace"))
        assert rep is None, f"gossipctl {args!r}: sanitizer report:\n{rep}"
    return p


# --- gossipctl tail -f -------------------------------------------------------------------

class LineReader:
    """Reads the lines of a pipe in a thread, so a test can wait for each with a timeout."""

    def __init__(self, stream):
        self.q = queue.Queue()
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream):
        for ln in iter(stream.readline, b""):
            self.q.put(ln)
        self.q.put(None)

    def next(self, timeout=WAIT_TIMEOUT, what="a line"):
        try:
            ln = self.q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}") from None
        assert ln is not None, f"end of output while waiting for {what}"
        return ln.decode(errors="replace").rstrip("\n")

    def at_eof(self, timeout=WAIT_TIMEOUT):
        """True when nothing but the end of output is left."""
        return self.q.get(timeout=timeout) is None


class Listener:
    """A TCP listener at ip (a free port) counting the connections made to it: a victim a
    daemon must not be made to dial, or, with handler, a fake node that answers each
    connection (handler(sock) runs in the listener's thread, and closes it)."""

    def __init__(self, ip, handler=None):
        self.sock = socket.socket()
        self.sock.bind((ip, 0))
        self.sock.listen(64)
        self.addr = (ip, self.sock.getsockname()[1])
        self.count = 0
        self.handler = handler
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.05)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.count += 1
            if self.handler:
                c.settimeout(None)
                self.handler(c)
            else:
                c.close()

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


class Follower:
    """gossipctl ... tail -f as a subprocess; stopped (SIGINT, then SIGKILL) by close()."""

    def __init__(self, args, env):
        self.proc = subprocess.Popen([str(CTL_BIN)] + [str(a) for a in args], env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out = LineReader(self.proc.stdout)
        self.err_data = b""

    def interrupt(self, timeout=15):
        """SIGINT and wait: gossipctl(1) says tail -f then exits 0."""
        self.proc.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout=15):
        rc = self.proc.wait(timeout=timeout)
        self.err_data = self.proc.stderr.read()
        rep = sanitizer_report(self.err_data.decode(errors="replace"))
        assert rep is None, f"gossipctl tail -f: sanitizer report:\n{rep}"
        return rc

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()


# --- notify sockets ----------------------------------------------------------------------

class NotifyListener:
    """An sd_notify socket for one daemon, drained by a thread (the daemon's sd_notify
    blocks when the socket's queue is full, so the queue must always be read)."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            lines = data.decode(errors="replace").split("\n")
            with self.lock:
                self.messages.extend(lines)
            if "READY=1" in lines:
                self.ready.set()

    def count(self, line):
        with self.lock:
            return self.messages.count(line)

    def close(self):
        self.stopping.set()
        self.thread.join(timeout=2)
        self.sock.close()


# --- daemons -----------------------------------------------------------------------------

class Daemon:
    kind = "daemon"

    def __init__(self, net, port, name, *, argv=None, cwd=None, env=None, ip=LOCAL):
        self.net = net
        self.port = port
        self.ip = ip  # another 127.0.0.x gives a node an address of its own (TLS tests)
        self.addr = f"{ip}:{port}"
        self.name = name
        self.dir = Path(net.dir) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cwd = Path(cwd) if cwd else self.dir
        self.custom_argv = argv
        self.extra_env = env or {}
        self.proc = None
        self.notify = None
        self.expected_exit = False  # the test killed it on purpose
        self.returncode = None
        self.stderr_path = self.dir / "stderr"
        self.stdout_path = self.dir / "stdout"

    # subclasses give the command line and the log file
    def argv(self):
        raise NotImplementedError

    @property
    def log_path(self):
        raise NotImplementedError

    def stdin(self):
        """What the daemon's standard input is (a subclass may give it a terminal)."""
        return subprocess.DEVNULL

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} already running"
        stdin = self.stdin()
        notify_path = self.dir / "notify"
        if notify_path.exists():
            notify_path.unlink()
        if self.notify:
            self.notify.close()
        self.notify = NotifyListener(notify_path)
        env = base_env(self.net.dir, NOTIFY_SOCKET=notify_path, **self.extra_env)
        argv = self.custom_argv or self.argv()
        with open(self.stderr_path, "ab") as err, open(self.stdout_path, "ab") as out:
            self.proc = subprocess.Popen([str(a) for a in argv], cwd=self.cwd, env=env,
                                         stdin=stdin, stdout=out, stderr=err,
                                         start_new_session=True)
        self.expected_exit = False
        self.returncode = None
        if self not in self.net.started:
            self.net.started.append(self)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while not self.notify.ready.wait(0.05):
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode} before READY=1;"
                                     f" stderr:\n{self.stderr_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not ready after {timeout} s; stderr:\n"
                                     f"{self.stderr_text()[-3000:]}")
        return self

    def is_ready(self):
        return self.notify is not None and self.notify.ready.is_set()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        """SIGKILL, on purpose: the daemon's death is part of the test."""
        self.expected_exit = True
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.returncode = self.proc.returncode

    def stop(self, timeout=10.0):
        """SIGTERM and wait; returns the exit status (SIGKILL, and None, if it hangs)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.returncode = None
        return self.returncode

    def log_text(self):
        try:
            return Path(self.log_path).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines(self, pattern=None):
        lines = self.log_text().splitlines()
        if pattern is None:
            return lines
        rx = re.compile(pattern)
        return [ln for ln in lines if rx.search(ln)]

    def wait_log(self, pattern, count=1, timeout=WAIT_TIMEOUT):
        """Waits until the log has `count` lines matching the regex; returns them."""
        def cond():
            lines = self.log_lines(pattern)
            return lines if len(lines) >= count else None
        return wait_until(cond, timeout, what=lambda: f"{count} line(s) /{pattern}/ in {self.name}'s log; "
                                                      f"log tail:\n" + "\n".join(self.log_lines()[-20:]))

    def __repr__(self):
        return f"<{self.name}>"


class Seed(Daemon):
    kind = "seed"

    def argv(self):
        return [SEED_BIN, "-c", self.net.config_path, "-L", self.dir, LOCAL, self.port]

    @property
    def log_path(self):
        return self.cwd / f"seed_{LOCAL}_{self.port}.log" if self.custom_argv else \
            self.dir / f"seed_{LOCAL}_{self.port}.log"

    def registry(self):
        """The addresses the seed has registered, asked over the wire (with the network's own
        certificate when it runs TLS)."""
        from wireproto import seed_peer_list, tls_context
        st = self.net.settings
        tls = tls_context(st["tls_ca_file"], st["tls_cert_file"], st["tls_key_file"]) \
            if st.get("tls_mode", "required" if st.get("tls_cert_file") else "off") != "off" else None
        return seed_peer_list(self.port, tls=tls)

    def current_peers(self):
        """The peer set of the last 'Current peers: {...}' line of the log, or None."""
        last = None
        for ln in self.log_lines():
            m = CURRENT_PEERS_RE.search(ln)
            if m:
                last = m.group(1)
        if last is None:
            return None
        return {a.strip() for a in last.split(",") if a.strip()}


class Peer(Daemon):
    kind = "peer"

    def __init__(self, net, port, name, *, config=None, ctl_path=None, **kw):
        super().__init__(net, port, name, **kw)
        self.config = config
        self.ctl_path = Path(ctl_path) if ctl_path else self.dir / "ctl.sock"

    def argv(self):
        return [PEER_BIN, "-c", self.config or self.net.config_path, "-L", self.dir,
                "-s", self.ctl_path, self.ip, self.port]

    @property
    def log_path(self):
        return (self.cwd if self.custom_argv else self.dir) / f"peer_{self.ip}_{self.port}.log"

    @property
    def output_path(self):
        return (self.cwd if self.custom_argv else self.dir) / "output.txt"

    def output_lines(self):
        try:
            return Path(self.output_path).read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def received(self):
        """The parsed lines of output.txt, as dicts (see RECEIVED_RE)."""
        out = []
        for ln in self.output_lines():
            m = RECEIVED_RE.match(ln)
            assert m, f"{self.name}: output.txt line not in the prototype's format: {ln!r}"
            out.append(m.groupdict())
        return out

    def env(self):
        return base_env(self.net.dir)

    def ctl(self, *args, json_out=False, input=None, timeout=30, check=True):
        """gossipctl -s <our socket> [--json] args...; asserts success when check is set."""
        full = ["-s", str(self.ctl_path)] + (["--json"] if json_out else []) + list(args)
        p = run_ctl(full, self.env(), input=input, timeout=timeout)
        if check:
            assert p.returncode == 0, (f"gossipctl {full!r} on {self.name} exited {p.returncode}: "
                                       f"{p.stderr.decode(errors='replace')}")
        return p

    def ctl_json(self, *args, **kw):
        p = self.ctl(*args, json_out=True, **kw)
        return json.loads(p.stdout)

    def status(self):
        return self.ctl_json("status")

    def neighbours(self):
        return self.ctl_json("peers")

    def up_neighbours(self):
        return {n["addr"] for n in self.neighbours() if n["state"] == "up"}

    def stats(self):
        return self.ctl_json("stats")

    def tail(self, n=100):
        p = self.ctl("tail", "-n", str(n), json_out=True)
        return [json.loads(ln) for ln in p.stdout.decode().splitlines() if ln.strip()]

    def send(self, *words):
        """gossipctl send; returns the id it printed."""
        p = self.ctl("send", "--", *words)
        out = p.stdout.decode().strip()
        m = re.fullmatch(r"sent ([0-9a-f]{64})", out)
        assert m, f"unexpected output of gossipctl send: {out!r}"
        return m.group(1)


# --- networks ----------------------------------------------------------------------------

class Network:
    """Seeds and peers sharing one generated configuration in one temporary directory."""

    def __init__(self, name="net", **settings):
        self.dir = Path(tempfile.mkdtemp(prefix=f"gn-{name[:12]}-", dir="/tmp"))
        (self.dir / "run").mkdir()
        self.started = []
        self.seeds = []
        self.peers = []
        self.seed_ports = []
        self.settings = settings
        self.config_path = self.dir / "gossip.conf"
        self.closed = False

    # configuration
    def set_seed_ports(self, ports):
        self.seed_ports = list(ports)
        self.write_config()

    def write_config(self, path=None, seed_ports=None, **overrides):
        """Writes a libconfig file: seeds, then seed.* and peer.* settings given as
        seed_lease_time=..., peer_degree=... (keyword arguments of the Network or here)."""
        settings = dict(self.settings, **overrides)
        ports = self.seed_ports if seed_ports is None else seed_ports
        sections = {"seed": {}, "peer": {}, "tls": {}}
        top = {}
        for k, v in settings.items():
            sec, _, name = k.partition("_")
            if sec in sections:
                sections[sec][name] = v
            else:
                top[k] = v

        def fmt(v):
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, str):
                return json.dumps(v)
            return repr(v)
        lines = ["seeds = [ " + ", ".join(f'"{LOCAL}:{p}"' for p in ports) + " ];"]
        lines += [f"{k} = {fmt(v)};" for k, v in top.items()]
        for sec, vals in sections.items():
            if vals:
                lines.append(f"{sec} = {{")
                lines += [f"  {k} = {fmt(v)};" for k, v in vals.items()]
                lines.append("};")
        path = Path(path) if path else self.config_path
        path.write_text("\n".join(lines) + "\n")
        return path

    # TLS
    def make_ca(self, name="ca"):
        """A cluster CA in <dir>/<name> (gossip-cert init); returns its directory."""
        d = self.dir / name
        d.mkdir(exist_ok=True)
        cert_tool("init", "--dir", d)
        return d

    def issue(self, ca_dir, name, addresses=(LOCAL,), *extra):
        """A node certificate signed by the CA in ca_dir; returns (cert, key) paths."""
        prefix = Path(ca_dir) / name
        cert_tool("issue", "--dir", ca_dir, "--address", ",".join(addresses), "--name", name,
                  "--out", prefix, "--group", "nonexistent-group", *extra)
        return Path(f"{prefix}.crt"), Path(f"{prefix}.key")

    def use_tls(self, mode="required", name="node", addresses=(LOCAL,)):
        """Every node of this network: mutual TLS with one CA and one certificate for 127.0.0.1."""
        ca = self.make_ca()
        cert, key = self.issue(ca, name, addresses)
        self.settings.update(tls_mode=mode, tls_ca_file=str(ca / "ca.crt"), tls_cert_file=str(cert),
                             tls_key_file=str(key))
        self.write_config()
        return ca

    # daemons
    def add_seed(self, port=None, start=True, wait=True, **kw):
        port = port or free_port()
        s = Seed(self, port, f"seed-{port}", **kw)
        self.seeds.append(s)
        if start:
            s.start()
            if wait:
                s.wait_ready()
        return s

    def start_seeds(self, n, started=None):
        """Reserves n seed ports, writes the configuration, starts `started` (default all)
        of them and waits until they are ready. Returns all n Seed objects."""
        ports = [free_port() for _ in range(n)]
        self.set_seed_ports(ports)
        started = n if started is None else started
        seeds = [self.add_seed(p, start=i < started, wait=False) for i, p in enumerate(ports)]
        for s in seeds[:started]:
            s.wait_ready()
        return seeds

    def add_peer(self, port=None, start=True, wait=True, **kw):
        port = port or free_port()
        p = Peer(self, port, f"peer-{port}", **kw)
        self.peers.append(p)
        if start:
            p.start()
            if wait:
                p.wait_ready()
        return p

    def start_peers(self, n, wait=True, **kw):
        peers = [self.add_peer(start=True, wait=False, **kw) for _ in range(n)]
        if wait:
            for p in peers:
                p.wait_ready()
        return peers

    def formed(self, seeds, peers):
        """Starts seeds, then peers, and waits until the overlay is connected; returns self."""
        self.start_seeds(seeds)
        self.start_peers(peers)
        self.wait_connected()
        return self

    def live_peers(self):
        return [p for p in self.peers if p.alive()]

    def wait_connected(self, peers=None, timeout=WAIT_TIMEOUT):
        """Waits until every peer has at least one neighbour up and the graph of up links
        is connected and symmetric. Returns {addr: set of up neighbours}."""
        peers = peers or self.live_peers()
        state = {}

        def cond():
            state.clear()
            for p in peers:
                state[p.addr] = p.up_neighbours()
            if not all(state.values()):
                return None
            for a, ns in state.items():
                for b in ns:
                    if b in state and a not in state[b]:
                        return None
            return state if graph_connected(state) else None
        return wait_until(cond, timeout, what=lambda: f"a connected overlay; last seen {state}")

    def wait_delivered(self, peers, text_fragment, timeout=WAIT_TIMEOUT):
        """Waits until every peer's output.txt has a line containing text_fragment."""
        def missing():
            return [p.name for p in peers if not any(text_fragment in ln for ln in p.output_lines())]
        wait_until(lambda: not missing(), timeout,
                   what=lambda: f"message {text_fragment!r} at every peer; missing at {missing()}")

    def close(self):
        """Stops every process this network started (peers first), and returns a list of
        problems: processes that died unexpectedly, failed to stop, exited non-zero on
        SIGTERM, or printed a sanitizer report."""
        if self.closed:
            return []
        self.closed = True
        problems = []
        procs = [d for d in self.started if d.proc is not None]
        # Processes that died on their own before teardown: a crash.
        for d in procs:
            if d.proc.poll() is not None and not d.expected_exit and d.returncode is None:
                problems.append(f"{d.name} (pid {d.pid}) died unexpectedly with status {d.proc.returncode}")
                d.expected_exit = True
        by_kind = [[d for d in procs if d.kind == "peer"], [d for d in procs if d.kind != "peer"]]
        for group in by_kind:
            running = [d for d in group if d.proc.poll() is None]
            for d in running:
                try:
                    os.kill(d.pid, signal.SIGCONT)
                    d.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
            for d in running:
                try:
                    rc = d.proc.wait(timeout=15)
                    if rc != 0:
                        problems.append(f"{d.name} (pid {d.pid}) exited with status {rc} on SIGTERM")
                except subprocess.TimeoutExpired:
                    d.proc.kill()
                    d.proc.wait(timeout=10)
                    problems.append(f"{d.name} (pid {d.pid}) did not stop within 15 s of SIGTERM")
        for d in procs:
            if d.proc.poll() is None:
                problems.append(f"{d.name} (pid {d.pid}) still running after teardown")
            rep = sanitizer_report(d.stderr_text())
            if rep:
                problems.append(f"{d.name}: sanitizer report on stderr:\n{rep}")
            if d.notify:
                d.notify.close()
        return problems

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def cert_tool(*args):
    """Runs gossip-cert; asserts it succeeded."""
    p = subprocess.run([str(CERT_BIN)] + [str(a) for a in args], capture_output=True, timeout=60)
    assert p.returncode == 0, f"gossip-cert {args!r} failed: {p.stderr.decode(errors='replace')}"
    return p


def graph_connected(adj):
    nodes = set(adj)
    if not nodes:
        return True
    start = next(iter(nodes))
    seen, todo = {start}, [start]
    while todo:
        a = todo.pop()
        for b in adj.get(a, ()):
            if b in nodes and b not in seen:
                seen.add(b)
                todo.append(b)
    return seen == nodes


def fmt_utc(usec):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(usec // 1_000_000))


def log(msg):
    """Prints to the real stdout, shown by pytest -s."""
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()

# SPDX-License-Identifier: MIT
"""gossipctl: every error path with its documented exit status and one clear line on stderr,
the read commands in text and JSON, tail -f, and how it chooses the peer (-s, -i, the only
running one, several running, sockets left by peers that are gone)."""
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

import wireproto as w
from conftest import STEADY
from gossipnet import (CTL_BIN, LOCAL, PEER_BIN, Follower, Peer, base_env, free_port, run_ctl,
                       sanitizer_report, wait_until)

MAXMSG = 1000  # peer.max_message_size of the module's peers
CLIENT_MAX = 1_000_000  # what gossipctl itself accepts at most

# The keys of each JSON reply, in the order gossipctl(1) documents.
STATUS_KEYS = ["node", "state", "version", "pid", "uptime", "seeds_known", "seeds_required",
               "seeds_registered", "neighbours", "degree", "known_peers", "messages_received",
               "messages_sent", "control_socket", "log_file", "output_file"]
PEER_KEYS = ["addr", "direction", "state", "rtt_ms", "misses", "queued_bytes", "connected_for"]
STATS_KEYS = ["messages_sent", "messages_received", "duplicates_received", "gossip_frames_sent",
              "gossip_frames_received", "gossip_bytes_sent", "pings_sent", "pongs_received",
              "neighbours_dead", "neighbours_dropped_slow", "malformed_frames", "oversized_dropped",
              "seen_cache_entries", "seen_cache_evicted", "connections_accepted"]
TAIL_KEYS = ["id", "from", "origin", "timestamp", "received", "seq", "size", "text"]
SEND_KEYS = ["id", "seq", "size"]

TRY_HELP = "Try 'gossipctl --help'."


# --- helpers -----------------------------------------------------------------------------

def run(args, env, **kw):
    """run_ctl with every argument made a string (ports, paths)."""
    return run_ctl([str(a) for a in args], env, **kw)


def error_line(p, status, *fragments, usage=None):
    """Checks a failed gossipctl run: its exit status, nothing on stdout, and one error line
    'gossipctl: ...' holding every fragment on stderr. Usage errors (status 2) may add the
    hint line "Try 'gossipctl --help'." after it, and nothing else. Returns the error line."""
    err = p.stderr.decode(errors="replace")
    assert p.returncode == status, f"exit {p.returncode}, expected {status}; stderr: {err!r}"
    assert p.stdout == b"", p.stdout
    lines = err.splitlines()
    assert lines, "nothing on stderr"
    if usage is None:
        usage = status == 2
    extra = lines[1:]
    if usage and extra:
        assert extra == [TRY_HELP], f"more than one error line on stderr: {lines!r}"
    else:
        assert not extra, f"more than one line on stderr: {lines!r}"
    line = lines[0]
    assert line.startswith("gossipctl: ") and len(line) > len("gossipctl: ") + 5, line
    for f in fragments:
        assert f in line, f"{f!r} not in {line!r}"
    return line


def ctl_run(cmd_prefix, args, env, *, input=None, timeout=30):
    """Runs gossipctl behind a command prefix (setpriv, unshare...), like run_ctl."""
    cmd = [str(a) for a in cmd_prefix] + [str(CTL_BIN)] + [str(a) for a in args]
    p = subprocess.run(cmd, env=env, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    rep = sanitizer_report(p.stderr.decode(errors="replace"))
    assert rep is None, f"gossipctl {args!r}: sanitizer report:\n{rep}"
    return p


def _probe_private_mounts():
    """Whether gossipctl can run in a private mount namespace with /run hidden under a tmpfs
    (root with util-linux's unshare), which keeps the host's /run/gossip out of the tests."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    try:
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            "mount -t tmpfs gossip-test /run && test ! -e /run/gossip"],
                           capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


PRIVATE_MOUNTS = _probe_private_mounts()
HIDE_HOST_DIRS = ('mount -t tmpfs gossip-test /run && d=/tmp/gossip-$(id -u) && '
                  '{ [ ! -d "$d" ] || mount -t tmpfs gossip-test "$d"; } && exec "$@"')


def host_sockets():
    """peer-*.sock files in the runtime directories of the host that every gossipctl searches."""
    found = []
    for d in ("/run/gossip", f"/tmp/gossip-{os.getuid()}"):
        try:
            found += [f"{d}/{n}" for n in os.listdir(d) if re.fullmatch(r"peer-\d+\.sock", n)]
        except OSError:
            pass
    return found


def hermetic_ctl(args, env, **kw):
    """gossipctl without -s/-i, blind to the host's /run/gossip and /tmp/gossip-<uid> (other
    peers running on the machine), so that only the runtime directories of the test count."""
    if PRIVATE_MOUNTS:
        prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", HIDE_HOST_DIRS, "sh"]
        return ctl_run(prefix, args, env, **kw)
    busy = host_sockets()
    if busy:
        pytest.skip(f"peers of the host are running ({busy}) and they cannot be hidden "
                    f"(needs root and unshare)")
    return run(args, env, **kw)


def default_socket_peer(net, *, env=None, runtime_dir=None, start=True):
    """A peer started without -s: its control socket is <runtime dir>/peer-<port>.sock, the
    runtime directory coming from its environment (GOSSIP_RUNTIME_DIR=<net>/run by default)."""
    port = free_port()
    name = f"peer-{port}"
    pdir = Path(net.dir) / name
    argv = [PEER_BIN, "-c", net.config_path, "-L", pdir, LOCAL, port]
    rdir = Path(runtime_dir) if runtime_dir else Path(net.dir) / "run"
    p = Peer(net, port, name, argv=argv, cwd=pdir, ctl_path=rdir / f"peer-{port}.sock", env=env)
    net.peers.append(p)
    if start:
        p.start()
        p.wait_ready()
        assert p.ctl_path.exists(), f"{p.name} has no socket at {p.ctl_path}"
        assert p.status()["control_socket"] == str(p.ctl_path)
    return p


def parse_fields(text):
    """'key: value' lines of status/stats as a dict, checking that the values are aligned."""
    fields, columns = {}, set()
    for ln in text.splitlines():
        m = re.fullmatch(r"([a-z_]+):( +)(\S.*)", ln)
        assert m, f"not a 'key: value' line: {ln!r}"
        fields[m.group(1)] = m.group(3)
        columns.add(m.start(3))
    assert len(columns) == 1, f"values not aligned: {text}"
    return fields


def in_order(keys, documented):
    """The documented keys are all there, in the documented order (new keys may be added)."""
    pos = [keys.index(k) for k in documented if k in keys]
    return len(pos) == len(documented) and pos == sorted(pos)


class FakeControlServer:
    """A control socket served by this test: behaviour(conn) handles each client."""

    def __init__(self, path, behaviour):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.behaviour = behaviour
        self.stopping = threading.Event()
        self.errors = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                conn.settimeout(10)
                self.behaviour(conn, self.stopping)
            except Exception as e:  # reported by close()
                self.errors.append(repr(e))
            finally:
                conn.close()

    def close(self):
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()
        assert not self.errors, self.errors

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_request(conn):
    """One control request frame from conn: (type, body)."""
    buf = b""
    while len(buf) < 8 or len(buf) < 8 + struct.unpack_from(">I", buf, 4)[0]:
        data = conn.recv(65536)
        assert data, "client closed before a whole request"
        buf += data
    assert buf[:3] == w.CTL_MAGIC + bytes([w.CTL_VERSION]), buf[:8]
    return buf[3], buf[8:]


def end_frame(status, text):
    t = text.encode()
    return w.ctl_frame(w.CTL_END, bytes([status]) + struct.pack(">H", len(t)) + t)


# --- the module's network ----------------------------------------------------------------

@pytest.fixture(scope="module")
def net(module_network):
    """One seed and two peers with their control sockets at <peer dir>/ctl.sock (-s)."""
    net = module_network("ctl", peer_degree=2, peer_max_message_size=MAXMSG, **STEADY)
    net.formed(1, 2)
    return net


def exchange(net, origin, receivers, n=1):
    """Sends n fresh messages from origin and waits until every receiver has them."""
    token = uuid.uuid4().hex
    ids = []
    for i in range(n):
        ids.append(origin.send(f"msg {token} {i}"))
        for r in receivers:
            net.wait_delivered([r], f"msg {token} {i}'")
    return token, ids


# --- errors ------------------------------------------------------------------------------

USAGE_CASES = {
    # name: (arguments after -s SOCKET, fragments of the error line)
    "unknown-command": (["frobnicate"], ["unknown command 'frobnicate'"]),
    "missing-command": ([], ["missing command"]),
    "json-without-command": (["--json"], ["missing command"]),
    "unknown-short-option": (["-x", "status"], ["unknown option '-x'"]),
    "unknown-long-option": (["--bogus", "status"], ["unknown or ambiguous option '--bogus'"]),
    "option-after-command": (["status", "-t"], ["status: unexpected argument '-t'"]),
    "timeout-not-a-number": (["-t", "soon", "status"], ["invalid timeout 'soon' for -t"]),
    "timeout-negative": (["-t", "-1", "status"], ["invalid timeout '-1' for -t"]),
    "timeout-too-large": (["-t", "1000001", "status"], ["invalid timeout '1000001' for -t"]),
    "status-extra-argument": (["status", "now"], ["status: unexpected argument 'now'"]),
    "peers-extra-argument": (["peers", "all"], ["peers: unexpected argument 'all'"]),
    "stats-extra-argument": (["stats", "-x"], ["stats: unexpected argument '-x'"]),
    "tail-unknown-option": (["tail", "-x"], ["tail: unknown option '-x'"]),
    "tail-unknown-long-option": (["tail", "--bogus"], ["tail: unknown or ambiguous option '--bogus'"]),
    "tail-count-not-a-number": (["tail", "-n", "ten"], ["tail: invalid count 'ten' for -n"]),
    "tail-count-too-large": (["tail", "-n", "100001"], ["tail: invalid count '100001' for -n"]),
    "tail-count-negative": (["tail", "--lines=-1"], ["tail: invalid count '-1' for -n"]),
    "tail-count-missing": (["tail", "--lines"], ["tail: option '--lines' needs an argument"]),
    "tail-n-missing": (["tail", "-n"], ["tail: option '-n' needs an argument"]),
    "tail-extra-argument": (["tail", "5"], ["tail: unexpected argument '5'"]),
    "tail-follow-takes-no-value": (["tail", "--follow=yes"], ["tail: option '--follow' takes no argument"]),
    "send-unknown-option": (["send", "--bogus", "x"], ["send: unknown or ambiguous option '--bogus'"]),
    "send-unknown-short-option": (["send", "-q", "x"], ["send: unknown option '-q'"]),
}


@pytest.mark.parametrize("case", sorted(USAGE_CASES))
def test_usage_errors(net, case):
    peer = net.peers[0]
    args, fragments = USAGE_CASES[case]
    before = peer.stats()
    p = run(["-s", peer.ctl_path] + args, peer.env())
    error_line(p, 2, *fragments)
    # Nothing reached the peer: no message was sent, no malformed request either.
    after = peer.stats()
    assert after["messages_sent"] == before["messages_sent"]
    assert after["malformed_frames"] == before["malformed_frames"]


GLOBAL_USAGE_CASES = {
    "socket-and-instance": (["-s", "/tmp/x.sock", "-i", "6000", "status"], ["-s and -i cannot be used together"]),
    "empty-socket-path": (["-s", "", "status"], ["empty socket path for -s"]),
    "socket-needs-argument": (["-s"], ["option '-s' needs an argument"]),
    "timeout-needs-argument": (["-t"], ["option '-t' needs an argument"]),
    "socket-long-needs-argument": (["--socket"], ["option '--socket' needs an argument"]),
    "instance-port-zero": (["-i", "0", "status"], ["invalid port '0' for -i (1 to 65535)"]),
    "instance-port-too-large": (["-i", "65536", "status"], ["invalid port '65536' for -i"]),
    "instance-not-a-port": (["--instance", "web", "status"], ["invalid port 'web' for -i"]),
    "json-takes-no-value": (["--json=yes", "status"], ["option '--json' takes no argument"]),
    "socket-path-too-long": (["-s", "/tmp/" + "x" * 200 + ".sock", "status"], ["socket path too long"]),
}


@pytest.mark.parametrize("case", sorted(GLOBAL_USAGE_CASES))
def test_usage_errors_choosing_the_peer(tmp_path, case):
    args, fragments = GLOBAL_USAGE_CASES[case]
    p = run(args, base_env(tmp_path))
    error_line(p, 2, *fragments)


def test_help_and_version():
    env = base_env("/nonexistent")
    for args in (["--help"], ["-h"], ["tail", "--help"], ["send", "-h"]):
        p = run(args, env)
        assert p.returncode == 0 and p.stderr == b"", (args, p)
        out = p.stdout.decode()
        assert out.startswith("Usage: gossipctl "), out
        # The help lists every exit status of EXIT STATUS in gossipctl(1).
        for code in range(8):
            assert re.search(rf"^  {code}  \S", out, re.M), f"exit status {code} not in --help"
    for args in (["--version"], ["-V"]):
        p = run(args, env)
        assert p.returncode == 0 and p.stderr == b""
        assert re.fullmatch(rb"gossipctl \d+\.\d+\.\d+\n", p.stdout), p.stdout


def test_not_running_socket_absent(tmp_path):
    path = tmp_path / "peer-1.sock"
    p = run(["-s", path, "status"], base_env(tmp_path))
    error_line(p, 3, "not running", str(path), "No such file or directory")
    # A directory that does not exist either.
    path = tmp_path / "nodir" / "ctl.sock"
    p = run(["-s", path, "--json", "peers"], base_env(tmp_path))
    error_line(p, 3, "not running", str(path))


def test_not_running_stale_socket(tmp_path):
    """A socket file left behind by a peer that died: nobody accepts on it."""
    path = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()
    assert stat.S_ISSOCK(path.stat().st_mode)
    for args in (["status"], ["send", "hello"], ["tail", "-f"]):
        p = run(["-s", path] + args, base_env(tmp_path))
        error_line(p, 3, "not running", str(path), "Connection refused")


def test_not_running_instance(tmp_path):
    env = base_env(tmp_path)
    port = free_port()
    p = run(["-i", port, "status"], env)
    line = error_line(p, 3, f"gossip-peer on port {port} is not running")
    # It names every place it looked, the test's runtime directory first.
    assert f"{env['GOSSIP_RUNTIME_DIR']}/peer-{port}.sock" in line
    assert f"/run/gossip/peer-{port}.sock" in line


def test_message_too_long(net):
    peer = net.peers[0]
    before = peer.status()["messages_sent"]
    # Over the peer's peer.max_message_size, as words: the peer refuses it.
    p = peer.ctl("send", "x" * (MAXMSG - 10), "y" * 10, check=False)
    error_line(p, 5, "message too long", f"{MAXMSG + 1} bytes", f"peer.max_message_size is {MAXMSG}")
    # Over what any peer accepts: gossipctl refuses it itself, even with no peer to ask.
    words = ["z" * 100_000] * 10 + ["end"]
    assert sum(map(len, words)) + len(words) - 1 > CLIENT_MAX
    p = peer.ctl("send", *words, check=False)
    error_line(p, 5, "message too long", f"over {CLIENT_MAX} bytes")
    p = run(["-s", Path(net.dir) / "nobody.sock", "send", "-"], peer.env(),
                input=b"q" * (CLIENT_MAX + 1))
    error_line(p, 5, "message too long")
    # The largest allowed one goes out.
    token = uuid.uuid4().hex
    text = token + "w" * (MAXMSG - len(token))
    p = peer.ctl("send", text)
    assert re.fullmatch(rb"sent [0-9a-f]{64}\n", p.stdout)
    net.wait_delivered([net.peers[1]], token)
    assert peer.status()["messages_sent"] == before + 1


@pytest.mark.parametrize("args,inp", [(["send"], None), (["send", "--"], None), (["send", ""], None),
                                      (["send", "-"], b""), (["send", "-"], b"\n")],
                         ids=["no-words", "dashdash-only", "empty-word", "empty-stdin", "newline-stdin"])
def test_empty_message(net, args, inp):
    peer = net.peers[0]
    before = peer.status()["messages_sent"]
    p = peer.ctl(*args, input=inp, check=False)
    error_line(p, 6, "empty message")
    assert peer.status()["messages_sent"] == before


def test_permission_denied(network):
    """The socket's permissions refuse a user outside peer.control_group (status 4); so does
    the peer itself when the file's permissions let that user connect; a member is served."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to run gossipctl as another user")
    if not shutil.which("setpriv"):
        pytest.skip("needs setpriv (util-linux) to run gossipctl as another user")
    nobody = pwd.getpwnam("nobody")
    # A group nobody is in, given by number as peer.control_group allows.
    gid = next(g for g in range(4242, 5000) if not _group_exists(g))
    net = network("perm", **STEADY)
    net.start_seeds(1)
    cfg = net.write_config(Path(net.dir) / "perm.conf", peer_control_group=str(gid))
    peer = net.add_peer(config=cfg)
    other = net.add_peer()
    net.wait_connected()
    # Let other users reach the socket's directory, so only the socket's own mode decides.
    for d in (Path(net.dir), peer.ctl_path.parent):
        d.chmod(0o755)
    st = peer.ctl_path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == gid and st.st_uid == os.geteuid(), st

    def as_nobody(*groups):
        grp_opt = ["--clear-groups"] if not groups else ["--groups=" + ",".join(map(str, groups))]
        return ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}"] + grp_opt

    env = peer.env()
    # Outside the group: the socket file refuses the connection.
    for args in (["status"], ["--json", "peers"], ["send", "not allowed"], ["tail", "-f"]):
        p = ctl_run(as_nobody(), ["-s", peer.ctl_path] + args, env)
        error_line(p, 4, "permission denied", str(peer.ctl_path))
    # A member of the group (supplementary or primary) is served.
    p = ctl_run(as_nobody(gid), ["-s", peer.ctl_path, "--json", "status"], env)
    assert p.returncode == 0, p
    assert json.loads(p.stdout)["node"] == peer.addr
    token = uuid.uuid4().hex
    p = ctl_run(["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={gid}", "--clear-groups"],
                ["-s", peer.ctl_path, "send", "from a member", token], env)
    assert p.returncode == 0, p
    net.wait_delivered([other], token)

    # The file opened to everyone: the peer checks the caller itself and refuses.
    peer.ctl_path.chmod(0o666)
    before = peer.status()["messages_sent"]
    for args in (["status"], ["send", "still not allowed"]):
        p = ctl_run(as_nobody(), ["-s", peer.ctl_path] + args, env)
        error_line(p, 4, "permission denied")
    peer.wait_log(rf"warning: control socket: refusing pid \d+ uid {nobody.pw_uid}: not root, "
                  rf"not uid {os.geteuid()} and not in the control group", count=2)
    assert peer.status()["messages_sent"] == before
    # Root is always served.
    assert peer.status()["state"] == "ready"


def _group_exists(gid):
    try:
        grp.getgrgid(gid)
        return True
    except KeyError:
        return False


def test_failure_no_reply_in_time(tmp_path):
    """A socket that accepts but never answers: status 1 after the -t time limit."""
    path = tmp_path / "silent.sock"

    def silent(conn, stopping):
        read_request(conn)
        stopping.wait(15)
    with FakeControlServer(path, silent):
        p = run(["-s", path, "-t", "0.5", "status"], base_env(tmp_path))
        error_line(p, 1, f"no reply from {path} within 0.5 s")


def test_failure_connection_closed(tmp_path):
    path = tmp_path / "closer.sock"
    with FakeControlServer(path, lambda conn, stopping: read_request(conn)):
        p = run(["-s", path, "stats"], base_env(tmp_path))
        error_line(p, 1, "daemon closed the connection", str(path))


@pytest.mark.parametrize("status,text,expected", [
    (1, "cannot broadcast: whatever", 1),
    (2, "malformed TAIL request", 2),
    (4, "permission denied", 4),
    (7, "malformed request: unsupported control protocol version", 7),
    (42, "from the future", 1),
])
def test_peer_status_becomes_exit_status(tmp_path, status, text, expected):
    """The status the peer returns is gossipctl's exit status (unknown ones are failures),
    with the peer's text as the error line, and nothing on stdout."""
    path = tmp_path / "fake.sock"

    def reply(conn, stopping):
        read_request(conn)
        conn.sendall(end_frame(status, text))
    with FakeControlServer(path, reply):
        p = run(["-s", path, "status"], base_env(tmp_path))
        error_line(p, expected, text, usage=False)


def test_protocol_error_from_peer(tmp_path):
    path = tmp_path / "garbage.sock"

    def garbage(conn, stopping):
        read_request(conn)
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
    with FakeControlServer(path, garbage):
        p = run(["-s", path, "peers"], base_env(tmp_path))
        error_line(p, 1, "protocol error from", str(path))


def test_too_many_control_clients(network):
    net = network("maxclients", **STEADY)
    net.start_seeds(1)
    cfg = net.write_config(Path(net.dir) / "one-client.conf", peer_max_control_clients=1)
    peer = net.add_peer(config=cfg)
    with w.CtlConn(str(peer.ctl_path)) as held:
        recs, status, _ = held.request(w.CTL_STATUS)
        assert status == 0 and recs[0]["state"] == b"ready"
        p = peer.ctl("status", check=False)
        error_line(p, 1, "too many control clients")
        peer.wait_log(r"warning: control socket: refusing pid \d+: peer.max_control_clients \(1\) reached")
    # Once the held client is gone, gossipctl is served again.
    wait_until(lambda: peer.ctl("status", check=False).returncode == 0, 10,
               what="gossipctl served after the other client left")


# --- success paths -----------------------------------------------------------------------

def test_send_prints_id(net):
    a, b = net.peers
    token = uuid.uuid4().hex
    p = a.ctl("send", "plain", token)
    m = re.fullmatch(rb"sent ([0-9a-f]{64})\n", p.stdout)
    assert m and p.stderr == b"", p
    mid = m.group(1).decode()
    p = a.ctl("send", "json", token, json_out=True)
    out = p.stdout.decode()
    assert out.endswith("\n") and out.count("\n") == 1
    rec = json.loads(out)
    assert in_order(list(rec), SEND_KEYS), rec
    assert re.fullmatch(r"[0-9a-f]{64}", rec["id"]) and rec["id"] != mid
    assert rec["size"] == len(f"json {token}") and isinstance(rec["seq"], int)
    net.wait_delivered([b], f"json {token}")
    ids = {e["id"] for e in b.tail(10)}
    assert {mid, rec["id"]} <= ids


def test_status(net):
    a, b = net.peers
    p = a.ctl("status")
    assert p.stderr == b""
    text = parse_fields(p.stdout.decode())
    js = a.status()
    keys = list(js)
    assert in_order(keys, STATUS_KEYS), keys
    assert list(text) == keys, "text and JSON show different fields"
    assert js["node"] == text["node"] == a.addr
    assert js["state"] == text["state"] == "ready"
    assert js["pid"] == a.pid and text["pid"] == str(a.pid)
    version = run(["--version"], a.env()).stdout.decode().split()[1]
    assert js["version"] == text["version"] == version
    assert (js["seeds_known"], js["seeds_required"], js["seeds_registered"]) == (1, 1, 1)
    assert js["degree"] == 2 and js["neighbours"] >= 1 and isinstance(js["known_peers"], int)
    assert js["control_socket"] == text["control_socket"] == str(a.ctl_path)
    assert js["log_file"] == str(a.log_path) and js["output_file"] == str(a.output_path)
    assert isinstance(js["uptime"], (int, float)) and js["uptime"] > 0
    assert re.fullmatch(r"\d+\.\d{3}", text["uptime"]), text["uptime"]
    for k in ("messages_received", "messages_sent", "seeds_known", "neighbours"):
        assert isinstance(js[k], int) and re.fullmatch(r"\d+", text[k]), k
    # The counters follow what happens.
    sent, received = js["messages_sent"], b.status()["messages_received"]
    exchange(net, a, [b])
    assert a.status()["messages_sent"] == sent + 1
    assert b.status()["messages_received"] == received + 1


def test_peers_table_with_state_and_rtt(net):
    a, b = net.peers

    def measured():
        ns = a.neighbours()
        return ns if ns and all(n["state"] == "up" and n["rtt_ms"] > 0 for n in ns) else None
    ns = wait_until(measured, what=lambda: f"measured round-trip times at {a.name}: {a.neighbours()}")
    assert [n["addr"] for n in ns] == [b.addr]
    (n,) = ns
    assert in_order(list(n), PEER_KEYS), list(n)
    assert n["direction"] in ("in", "out") and n["misses"] == 0 and n["queued_bytes"] >= 0
    assert 0 < n["rtt_ms"] < 5000 and n["connected_for"] > 0
    # b sees the same link from the other side.
    (nb,) = b.neighbours()
    assert nb["addr"] == a.addr and {nb["direction"], n["direction"]} == {"in", "out"}

    p = a.ctl("peers")
    lines = p.stdout.decode().splitlines()
    assert re.fullmatch(r"NEIGHBOUR +DIR +STATE +RTT +MISSES +QUEUED", lines[0]), lines
    assert len(lines) == 2, lines
    cells = lines[1].split()
    assert cells[0] == b.addr and cells[1] == n["direction"] and cells[2] == "up", cells
    assert re.fullmatch(r"\d+\.\d{3}ms", cells[3]), cells
    assert re.fullmatch(r"\d+", cells[4]) and re.fullmatch(r"\d+", cells[5]), cells
    # Columns: the header's RTT ends where the row's RTT ends (numbers right-aligned).
    assert lines[0].index("RTT") + 3 == lines[1].index(cells[3]) + len(cells[3]), lines


def test_peers_without_neighbours(network):
    net = network("alone", **STEADY)
    net.start_seeds(1)
    peer = net.add_peer()
    assert peer.ctl("peers").stdout == b"no neighbours\n"
    assert peer.ctl("peers", json_out=True).stdout == b"[]\n"


def test_stats(net):
    a, b = net.peers
    p = a.ctl("stats")
    text = parse_fields(p.stdout.decode())
    js = a.stats()
    assert in_order(list(js), STATS_KEYS), list(js)
    assert list(text) == list(js)
    assert all(isinstance(v, int) and v >= 0 for v in js.values()), js
    assert all(re.fullmatch(r"\d+", v) for v in text.values()), text
    wait_until(lambda: a.stats()["pongs_received"] > 0, what="a pong counted")
    before_a, before_b = a.stats(), b.stats()
    exchange(net, a, [b], n=2)
    after_a, after_b = a.stats(), b.stats()
    assert after_a["messages_sent"] == before_a["messages_sent"] + 2
    assert after_a["gossip_frames_sent"] >= before_a["gossip_frames_sent"] + 2
    assert after_a["gossip_bytes_sent"] > before_a["gossip_bytes_sent"]
    assert after_b["messages_received"] == before_b["messages_received"] + 2
    assert after_b["gossip_frames_received"] >= before_b["gossip_frames_received"] + 2
    assert after_b["seen_cache_entries"] >= before_b["seen_cache_entries"] + 2


def test_tail(net):
    a, b = net.peers
    token, ids = exchange(net, a, [b], n=3)
    out = b.output_lines()
    # Default: the last 10, oldest first, as output.txt has them.
    lines = b.ctl("tail").stdout.decode().splitlines()
    assert len(lines) == min(10, len(out)) and lines == out[-len(lines):], (lines, out[-10:])
    for args, n in ((["-n", "2"], 2), (["--lines", "1"], 1), (["--lines=3"], 3), (["-n2"], 2)):
        lines = b.ctl("tail", *args).stdout.decode().splitlines()
        assert lines == out[-n:], (args, lines)
    assert lines[-1].endswith(f":'msg {token} 2'")
    assert b.ctl("tail", "-n", "0").stdout == b""
    # More than it has: all it has.
    lines = b.ctl("tail", "-n", "100000").stdout.decode().splitlines()
    assert lines == out[-len(lines):] and len(lines) == min(len(out), 100)
    # JSON: one object per line, with the documented keys.
    entries = b.tail(3)
    assert [e["id"] for e in entries] == ids
    for i, e in enumerate(entries):
        assert in_order(list(e), TAIL_KEYS), list(e)
        assert e["text"] == f"msg {token} {i}" and e["size"] == len(e["text"])
        assert e["origin"] == a.addr and e["from"] == a.addr
        assert e["received"] >= e["timestamp"] > 0 and isinstance(e["seq"], int)
    # The sender has none of its own.
    assert not [e for e in a.tail(100) if token in e["text"]]


def test_tail_follow(net):
    a, b = net.peers
    exchange(net, a, [b])  # so that -n 1 prints something at once
    for json_out in (False, True):
        last = b.tail(1)[0]
        args = ["-s", b.ctl_path] + (["--json"] if json_out else []) + ["tail", "-f", "-n", "1"]
        f = Follower(args, b.env())
        try:
            # The history first: the request is being served from now on.
            first = f.out.next(what="the last message of the history")
            if json_out:
                assert json.loads(first)["id"] == last["id"]
            else:
                assert first == b.output_lines()[-1], first
            token = uuid.uuid4().hex
            texts = [f"live {token} {i}" for i in range(3)]
            for t in texts:
                a.send(t)
            for t in texts:
                ln = f.out.next(what=f"{t!r} followed")
                if json_out:
                    e = json.loads(ln)
                    assert e["text"] == t and e["origin"] == a.addr and set(TAIL_KEYS) <= set(e)
                else:
                    assert re.fullmatch(rf"\[[^]]+\] Received from {re.escape(a.addr)}: {re.escape(a.addr)} - "
                                        rf"[^']*:{LOCAL}:'{t}'", ln), ln
            assert f.proc.poll() is None, "tail -f ended by itself"
            # A message sent by the followed peer itself is not one it received.
            own = f"own {token}"
            b.send(own)
            net.wait_delivered([a], own)
            probe = f"probe {token}"
            a.send(probe)
            assert probe in f.out.next(what="the probe message")
            # Interrupted: exit status 0, nothing on stderr.
            assert f.interrupt() == 0
            assert f.err_data == b"", f.err_data
            assert f.out.at_eof()
        finally:
            f.close()
    # The peer is fine and serves the next client.
    assert b.status()["state"] == "ready"


def test_tail_follow_ends_when_peer_stops(network):
    net = network("tailstop", peer_degree=1, **STEADY)
    net.start_seeds(1)
    a, b = net.start_peers(2)
    net.wait_connected()
    token = uuid.uuid4().hex
    a.send(f"before {token}")
    net.wait_delivered([b], f"before {token}")
    f = Follower(["-s", b.ctl_path, "--json", "tail", "-f", "-n", "1"], b.env())
    try:
        assert json.loads(f.out.next(what="the history"))["text"] == f"before {token}"
        a.send(f"during {token}")
        assert json.loads(f.out.next(what="a followed message"))["text"] == f"during {token}"
        # The peer leaves: gossipctl ends with status 0 and no error.
        assert b.stop() == 0
        assert f.wait() == 0, f.err_data
        assert f.err_data == b""
        assert f.out.at_eof()
    finally:
        f.close()


@pytest.mark.parametrize("case", ["lines-0", "empty-history"])
def test_tail_follow_with_nothing_to_show_yet(network, case):
    """gossipctl(1): 'With -f, -n 0 shows only the messages received from now on'; a peer that
    has received nothing yet shows nothing, then follows. Regression: the empty first reply
    used to wedge the peer in a zero-length write loop (conn_flush() in src/io/conn.c) for
    as long as the client followed: no gossip, no pings, no control replies, SIGTERM ignored."""
    net = network("tailzero", peer_degree=1, **STEADY)
    net.start_seeds(1)
    a, b = net.start_peers(2)
    net.wait_connected()
    if case == "lines-0":
        old = f"old {uuid.uuid4().hex}"
        a.send(old)
        net.wait_delivered([b], old)
        args = ["tail", "-f", "-n", "0"]
    else:
        assert b.tail(10) == []
        args = ["tail", "-f"]
    f = Follower(["-s", b.ctl_path, "--json"] + args, b.env())
    try:
        # The peer goes on serving others while the client follows.
        def served():
            p = b.ctl("--json", "status", check=False, timeout=30)
            assert p.returncode == 0, f"the peer stopped answering: {p.stderr!r}"
            return json.loads(p.stdout)["state"] == "ready"
        wait_until(served, 10, what="a status reply")
        token = uuid.uuid4().hex
        n = 0

        def following():
            # With nothing printed at first, keep sending until one arrives.
            nonlocal n
            n += 1
            a.send(f"new {token} {n}")
            try:
                return json.loads(f.out.next(timeout=2, what="a followed message"))
            except AssertionError:
                return None
        first = wait_until(following, 20, interval=0, what="tail -f following")
        assert first["text"].startswith(f"new {token} ")
        assert f.proc.poll() is None
        assert f.interrupt() == 0
    finally:
        f.close()
    # The peer serves the next client (and, had it wedged, recovers so that the teardown
    # reports this test's failure rather than a peer that does not stop).
    wait_until(lambda: b.ctl("status", check=False, timeout=30).returncode == 0, 30,
               what="the peer answering again")


# --- choosing the peer -------------------------------------------------------------------

def test_socket_option_selects_the_peer(net):
    a, b = net.peers
    env = base_env(net.dir)
    for peer in (a, b):
        for opt in ("-s", "--socket"):
            p = run([opt, peer.ctl_path, "--json", "status"], env)
            assert p.returncode == 0, p
            assert json.loads(p.stdout)["node"] == peer.addr
        p = run([f"--socket={peer.ctl_path}", "--json", "status"], env)
        assert json.loads(p.stdout)["node"] == peer.addr


def test_instance_option_and_only_running_peer(network):
    net = network("select", peer_degree=1, **STEADY)
    net.start_seeds(1)
    env = base_env(net.dir)
    rundir = Path(env["GOSSIP_RUNTIME_DIR"])

    # No peer at all: status 3, naming where it looked.
    p = hermetic_ctl(["status"], env)
    line = error_line(p, 3, "no running gossip-peer found")
    assert str(rundir) in line and "/run/gossip" in line

    # One peer, its socket in the runtime directory: chosen without -s or -i.
    a = default_socket_peer(net)
    assert a.ctl_path == rundir / f"peer-{a.port}.sock"
    for args in (["--json", "status"], ["--json", "stats"], ["--json", "peers"], ["tail", "-n", "1"]):
        p = hermetic_ctl(args, env)
        assert p.returncode == 0, (args, p)
    assert json.loads(hermetic_ctl(["--json", "status"], env).stdout)["node"] == a.addr
    for opt in (["-i", str(a.port)], ["--instance", str(a.port)], [f"--instance={a.port}"]):
        p = run(opt + ["--json", "status"], env)
        assert p.returncode == 0 and json.loads(p.stdout)["node"] == a.addr, (opt, p)

    # Other files in the directory are not peers.
    (rundir / "notes.txt").write_text("not a socket\n")
    (rundir / "peer-abc.sock").write_text("")
    (rundir / f"peer-{free_port()}.sock").write_text("a regular file, not a socket")
    assert json.loads(hermetic_ctl(["--json", "status"], env).stdout)["node"] == a.addr

    # Two peers: none is chosen by default (status 2, both ports listed in order)...
    b = default_socket_peer(net)
    net.wait_connected()
    for args in (["status"], ["send", "to whom?"], ["tail", "-f"]):
        p = hermetic_ctl(args, env)
        line = error_line(p, 2, "several peers are running", "pick one with -i PORT or -s PATH",
                          usage=False)
        lo, hi = sorted((a.port, b.port))
        assert f"({lo}, {hi}; 2 in all)" in line, line
    assert a.status()["messages_sent"] == 0 and b.status()["messages_sent"] == 0
    # ...but each can be picked by port, or by socket.
    for peer in (a, b):
        p = run(["-i", peer.port, "--json", "status"], env)
        assert json.loads(p.stdout)["node"] == peer.addr
        p = run(["-s", peer.ctl_path, "--json", "status"], env)
        assert json.loads(p.stdout)["node"] == peer.addr
    token = uuid.uuid4().hex
    assert run(["-i", b.port, "send", token], env).returncode == 0
    net.wait_delivered([a], token)

    # b stops and removes its socket: a is the only one again.
    assert b.stop() == 0
    assert not b.ctl_path.exists()
    assert json.loads(hermetic_ctl(["--json", "status"], env).stdout)["node"] == a.addr
    p = run(["-i", b.port, "status"], env)
    error_line(p, 3, f"gossip-peer on port {b.port} is not running")

    # a dies without removing its socket: the stale socket is found but nobody answers.
    a.kill()
    assert a.ctl_path.exists()
    p = hermetic_ctl(["status"], env)
    error_line(p, 3, "not running", str(a.ctl_path), "Connection refused")
    p = run(["-i", a.port, "status"], env)
    error_line(p, 3, "not running", str(a.ctl_path), "Connection refused")


def test_runtime_directory_order(network):
    """RUNTIME_DIRECTORY (its first entry) comes before GOSSIP_RUNTIME_DIR, which comes before
    $XDG_RUNTIME_DIR/gossip, both for -i and for the default choice."""
    net = network("rtdirs", peer_degree=1, **STEADY)
    net.start_seeds(1)
    first = Path(net.dir) / "systemd-run"
    unused = Path(net.dir) / "second-entry"
    # A peer with RUNTIME_DIRECTORY (as systemd sets it) creates its socket there.
    x = default_socket_peer(net, env={"RUNTIME_DIRECTORY": f"{first}:{unused}"}, runtime_dir=first)
    assert not unused.exists()
    # Another peer whose socket has the same name in GOSSIP_RUNTIME_DIR.
    gdir = Path(net.dir) / "run"
    y = net.add_peer(ctl_path=gdir / f"peer-{x.port}.sock")
    net.wait_connected()

    with_rd = base_env(net.dir, RUNTIME_DIRECTORY=f"{first}:{unused}")
    without_rd = base_env(net.dir)
    p = run(["-i", x.port, "--json", "status"], with_rd)
    assert json.loads(p.stdout)["node"] == x.addr
    p = run(["-i", x.port, "--json", "status"], without_rd)
    assert json.loads(p.stdout)["node"] == y.addr
    # By default: both directories hold a socket for the same port, counted once: x's.
    p = hermetic_ctl(["--json", "status"], with_rd)
    assert p.returncode == 0, p
    assert json.loads(p.stdout)["node"] == x.addr
    p = hermetic_ctl(["--json", "status"], without_rd)
    assert json.loads(p.stdout)["node"] == y.addr

    # $XDG_RUNTIME_DIR/gossip, searched after the others.
    xdg = Path(net.dir) / "xdg"
    (xdg / "gossip").mkdir(parents=True)
    zport = free_port()
    z = net.add_peer(zport, ctl_path=xdg / "gossip" / f"peer-{zport}.sock")
    only_xdg = base_env(net.dir, GOSSIP_RUNTIME_DIR=None, XDG_RUNTIME_DIR=xdg)
    p = run(["-i", z.port, "--json", "status"], only_xdg)
    assert p.returncode == 0 and json.loads(p.stdout)["node"] == z.addr, p
    p = hermetic_ctl(["--json", "status"], only_xdg)
    assert p.returncode == 0 and json.loads(p.stdout)["node"] == z.addr, p
    # With GOSSIP_RUNTIME_DIR too, y's socket (another port) makes two.
    p = hermetic_ctl(["status"], base_env(net.dir, XDG_RUNTIME_DIR=xdg))
    line = error_line(p, 2, "several peers are running", usage=False)
    assert str(x.port) in line and str(z.port) in line


# --- sockets left by peers that are gone (issue 19) -------------------------------------

def stale_socket(path):
    """A socket file nobody accepts on, as a peer killed by SIGKILL or a crash leaves it."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(str(path))
    finally:
        s.close()
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    return Path(path)


def named_ports(line, ports):
    """The ports of `ports` that the line names (as whole numbers)."""
    return [p for p in ports if re.search(rf"(?<!\d){p}(?!\d)", line)]


def test_default_peer_among_stale_sockets(network):
    """Without -s or -i, sockets nobody answers on (a killed peer's, a crashed peer's) are not
    running peers: beside them, the one peer that answers is used."""
    net = network("stale-live", peer_degree=1, **STEADY)
    net.start_seeds(1)
    rundir = Path(net.dir) / "run"
    killed = default_socket_peer(net)
    live = default_socket_peer(net)
    killed.kill()
    assert stat.S_ISSOCK(os.lstat(killed.ctl_path).st_mode)
    stale = [killed.ctl_path] + [stale_socket(rundir / f"peer-{free_port()}.sock") for _ in range(3)]
    # In a later runtime directory too, and one for the live peer's own port in an earlier one.
    xdg = Path(net.dir) / "xdg"
    (xdg / "gossip").mkdir(parents=True)
    stale.append(stale_socket(xdg / "gossip" / f"peer-{free_port()}.sock"))
    first = Path(net.dir) / "systemd-run"
    first.mkdir()
    stale.append(stale_socket(first / f"peer-{live.port}.sock"))
    env = base_env(net.dir, XDG_RUNTIME_DIR=xdg, RUNTIME_DIRECTORY=first)

    p = hermetic_ctl(["--json", "status"], env)
    assert p.returncode == 0, p
    assert json.loads(p.stdout)["node"] == live.addr
    p = hermetic_ctl(["status"], env)
    assert p.returncode == 0, p
    assert parse_fields(p.stdout.decode())["node"] == live.addr
    token = uuid.uuid4().hex
    p = hermetic_ctl(["send", token], env)
    assert p.returncode == 0, p
    assert live.status()["messages_sent"] == 1
    # gossipctl leaves the stale sockets alone.
    for path in stale:
        assert stat.S_ISSOCK(os.lstat(path).st_mode), path


def test_default_peer_only_stale_sockets(tmp_path):
    """Only sockets nobody answers on: no peer is running (status 3), however many there are."""
    env = base_env(tmp_path)
    rundir = Path(env["GOSSIP_RUNTIME_DIR"])
    rundir.mkdir()
    stale = [stale_socket(rundir / f"peer-{free_port()}.sock") for _ in range(4)]
    for args in (["status"], ["send", "hello"], ["tail", "-f"]):
        p = hermetic_ctl(args, env)
        line = error_line(p, 3, "gossip-peer is not running", "Connection refused",
                          "no answer on 3 other control sockets")
        assert [s for s in stale if str(s) in line], line
    for path in stale:
        assert stat.S_ISSOCK(os.lstat(path).st_mode), path


def test_default_peer_two_running_among_stale_sockets(network):
    """Two peers that answer and ten stale sockets: status 2, naming the two and their count,
    not the stale ones."""
    net = network("stale-two", peer_degree=1, **STEADY)
    net.start_seeds(1)
    env = base_env(net.dir)
    rundir = Path(env["GOSSIP_RUNTIME_DIR"])
    a = default_socket_peer(net)
    b = default_socket_peer(net)
    stale_ports = [free_port() for _ in range(10)]
    for port in stale_ports:
        stale_socket(rundir / f"peer-{port}.sock")
    lo, hi = sorted((a.port, b.port))
    for args in (["status"], ["send", "to whom?"]):
        p = hermetic_ctl(args, env)
        line = error_line(p, 2, "several peers are running", f"({lo}, {hi}; 2 in all)",
                          "pick one with -i PORT or -s PATH", usage=False)
        assert not named_ports(line, stale_ports), line
    assert a.status()["messages_sent"] == 0 and b.status()["messages_sent"] == 0


def test_default_peer_many_running_list_is_short(tmp_path):
    """With many peers answering, the message names the first five ports and the count."""
    env = base_env(tmp_path)
    rundir = Path(env["GOSSIP_RUNTIME_DIR"])
    rundir.mkdir()
    live_ports = sorted(free_port() for _ in range(8))
    stale_ports = [free_port() for _ in range(6)]
    listeners = []
    try:
        for port in live_ports:
            # Listening is answering: connect() succeeds from the backlog, without accept().
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listeners.append(s)
            s.bind(str(rundir / f"peer-{port}.sock"))
            s.listen(8)
        for port in stale_ports:
            stale_socket(rundir / f"peer-{port}.sock")
        p = hermetic_ctl(["status"], env)
        first = ", ".join(str(port) for port in live_ports[:5])
        line = error_line(p, 2, f"several peers are running ({first} and 3 more; 8 in all): "
                                "pick one with -i PORT or -s PATH", usage=False)
        assert named_ports(line, live_ports) == live_ports[:5], line
        assert not named_ports(line, stale_ports), line
    finally:
        for s in listeners:
            s.close()


def test_default_peer_busy_socket_counts(tmp_path):
    """A socket whose listen backlog is full refuses the connection for now (EAGAIN), but a
    peer is there: it counts as running, beside another one."""
    env = base_env(tmp_path)
    rundir = Path(env["GOSSIP_RUNTIME_DIR"])
    rundir.mkdir()
    ports = sorted(free_port() for _ in range(2))
    socks = []
    try:
        for port, backlog in zip(ports, (0, 8)):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(str(rundir / f"peer-{port}.sock"))
            s.listen(backlog)
        busy = rundir / f"peer-{ports[0]}.sock"
        # Fill the backlog of the first: connect until one would block.
        while True:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            socks.append(c)
            try:
                c.connect(str(busy))
            except BlockingIOError:
                break
        p = hermetic_ctl(["status"], env)
        error_line(p, 2, f"several peers are running ({ports[0]}, {ports[1]}; 2 in all)",
                   usage=False)
        # Alone, it is the one: gossipctl waits for room in the backlog until -t runs out.
        socks[1].close()
        os.unlink(rundir / f"peer-{ports[1]}.sock")
        p = hermetic_ctl(["-t", "0.3", "status"], env)
        error_line(p, 1, f"no reply from {busy} within 0.3 s")
    finally:
        for s in socks:
            s.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_peer_replaces_stale_socket_and_removes_it(network, sig):
    """A peer started where a crashed one left its socket takes the path over and serves
    gossipctl there; on a clean stop it removes its socket."""
    net = network("stale-start", peer_degree=1, **STEADY)
    net.start_seeds(1)
    env = base_env(net.dir)
    peer = default_socket_peer(net, start=False)
    stale_socket(peer.ctl_path)
    p = run(["-s", peer.ctl_path, "status"], env)
    error_line(p, 3, "not running", "Connection refused")
    peer.start()
    peer.wait_ready()
    assert peer.status()["control_socket"] == str(peer.ctl_path)
    p = hermetic_ctl(["--json", "status"], env)
    assert p.returncode == 0 and json.loads(p.stdout)["node"] == peer.addr, p
    p = run(["-i", peer.port, "--json", "status"], env)
    assert p.returncode == 0 and json.loads(p.stdout)["node"] == peer.addr, p

    peer.signal(sig)
    assert peer.proc.wait(timeout=15) == 0
    peer.returncode = 0
    assert not os.path.lexists(peer.ctl_path)
    p = hermetic_ctl(["status"], env)
    error_line(p, 3, "no running gossip-peer found")

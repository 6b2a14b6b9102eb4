# SPDX-License-Identifier: MIT
"""Configuration and command line of both daemons: errors reported as file:line: message with
no start, --check-config, options, --help/--version, SIGHUP reloads (good and broken) and the
exit status on SIGINT/SIGTERM."""
import re
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

import wireproto as w
from conftest import STEADY
from gossipnet import LOCAL, PEER_BIN, SEED_BIN, STAMP, base_env, free_port, run_ctl, wait_until

DAEMONS = ["seed", "peer"]
BINS = {"seed": SEED_BIN, "peer": PEER_BIN}
SEEDS_LINE = 'seeds = [ "127.0.0.1:5000", "127.0.0.1:5001" ];'
# For the command-line tests, which are about the command line (see test_usage_exit_leaks_nothing).
NO_LEAK_CHECK = "detect_leaks=0:abort_on_error=0"


# --- helpers -----------------------------------------------------------------------------

def run_daemon(argv, env, *, cwd=None, timeout=30):
    """Runs a daemon that is expected to exit by itself (a hung one is killed by the timeout,
    which fails the test)."""
    return subprocess.run([str(a) for a in argv], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout)


def daemon_argv(kind, config, logdir, port, sock=None):
    if kind == "seed":
        return [SEED_BIN, "-c", config, "-L", logdir, LOCAL, port]
    return [PEER_BIN, "-c", config, "-L", logdir, "-s", sock, LOCAL, port]


def error_lines(stderr):
    """The messages of the 'error: ' lines of a daemon's stderr (time stamp checked, removed)."""
    out = []
    for ln in stderr.decode(errors="replace").splitlines():
        m = re.fullmatch(rf"{STAMP} error: (.*)", ln)
        if m:
            out.append(m.group(1))
    return out


def port_listening(port):
    try:
        with socket.create_connection((LOCAL, port), timeout=1):
            return True
    except OSError:
        return False


def assert_did_not_start(kind, p, tmp, port, sock):
    assert p.returncode == 1, f"{kind} exited {p.returncode}: {p.stderr!r}"
    assert p.stdout == b""
    assert not port_listening(port)
    log = tmp / f"{kind}_{LOCAL}_{port}.log"
    assert not log.exists(), f"{kind} started far enough to open its log: {log.read_text()}"
    assert not (tmp / "output.txt").exists()
    assert not Path(sock).exists()


# name: (file name, contents, [(line or None, message)], daemons concerned)
ERROR_CASES = {
    "syntax-error": ("gossip.conf", f"{SEEDS_LINE}\npeer = {{\n  degree = = 4;\n}};\n",
                     [(3, "syntax error")], DAEMONS),
    "unterminated-group": ("gossip.conf", f"{SEEDS_LINE}\npeer = {{ degree = 4;\n",
                           [(3, "syntax error")], DAEMONS),
    "duplicate-setting": ("gossip.conf", f"{SEEDS_LINE}\npeer = {{ degree = 4; }};\n"
                          "peer = { history = 4; };\n", [(3, "duplicate setting name")], DAEMONS),
    "unknown-setting": ("gossip.conf", f"{SEEDS_LINE}\n# tuning\npeer = {{\n  degree = 4;\n  bogus = 1;\n}};\n",
                        [(5, "unknown setting peer.bogus")], DAEMONS),
    "unknown-top-level-setting": ("gossip.conf", f"{SEEDS_LINE}\nverbose = true;\n",
                                  [(2, "unknown setting verbose")], DAEMONS),
    "unknown-group": ("gossip.conf", f"{SEEDS_LINE}\nnetwork = {{ degree = 4; }};\n",
                      [(2, "unknown setting network")], DAEMONS),
    "duration-not-a-number": ("gossip.conf", f'{SEEDS_LINE}\nseed = {{ lease_time = "long"; }};\n',
                              [(2, "seed.lease_time must be a number of seconds")], DAEMONS),
    "boolean-as-number": ("gossip.conf", f"{SEEDS_LINE}\nseed = {{\n  confirm_dead = 1;\n}};\n",
                          [(3, "seed.confirm_dead must be true or false")], DAEMONS),
    "integer-as-float": ("gossip.conf", f"{SEEDS_LINE}\npeer = {{ degree = 4.0; }};\n",
                         [(2, "peer.degree must be an integer")], DAEMONS),
    "string-as-number": ("gossip.conf", f"{SEEDS_LINE}\nlog_dir = 5;\n", [(2, "log_dir must be a string")],
                         DAEMONS),
    "group-as-value": ("gossip.conf", f"{SEEDS_LINE}\npeer = 5;\n",
                       [(2, "peer must be a group: peer = { ... };")], DAEMONS),
    "integer-out-of-range": ("gossip.conf", f"{SEEDS_LINE}\npeer = {{ degree = 100; }};\n",
                             [(2, "peer.degree = 100 out of range [1, 64]")], DAEMONS),
    "duration-out-of-range": ("gossip.conf", f"{SEEDS_LINE}\nseed = {{ lease_time = 0.5; }};\n",
                              [(2, "seed.lease_time = 0.5 out of range [1.0, 86400.0] seconds")], DAEMONS),
    "large-integer-without-L": ("gossip.conf", f"{SEEDS_LINE}\npeer = {{ send_queue_limit = 4294967296; }};\n",
                                [(2, "peer.send_queue_limit = 0 out of range [65536, 17179869184] (write "
                                     "integers above 2147483647 with an L suffix")], DAEMONS),
    "empty-string": ("gossip.conf", f'{SEEDS_LINE}\naddress = "";\n', [(2, "address must not be empty")],
                     DAEMONS),
    "several-errors": ("gossip.conf", f"{SEEDS_LINE}\npeer = {{\n  degree = 0;\n  history = -1;\n"
                       "  bogus = 1;\n};\n",
                       [(3, "peer.degree = 0 out of range [1, 64]"),
                        (4, "peer.history = -1 out of range [0, 100000]"),
                        (5, "unknown setting peer.bogus")], DAEMONS),
    "bad-seed-address": ("gossip.conf", 'seeds = [\n  "127.0.0.1:5000",\n  "localhost:70000",\n'
                         '  "127.0.0.1:5002"\n];\n',
                         [(3, "seeds[1]: expected \"HOST:PORT\", got 'localhost:70000' "
                              "(port out of range 1-65535)")], DAEMONS),
    "seed-not-a-string": ("gossip.conf", 'seeds = ( "127.0.0.1:5000", 5001 );\n',
                          [(1, "seeds[1]: expected a \"HOST:PORT\" string")], DAEMONS),
    "seeds-and-seed-file": ("gossip.conf", f'{SEEDS_LINE}\nseed_file = "seeds.txt";\n',
                            [(2, "give either seeds or seed_file, not both")], DAEMONS),
    # The prototype's seed list format: one HOST:PORT per line.
    "seed-list-bad-line": ("seeds.txt", "# seeds\n127.0.0.1:5000\n\nfoo\n127.0.0.1:5001\n",
                           [(4, "expected HOST:PORT, got 'foo' (no port)")], DAEMONS),
    "seed-list-bad-port": ("seeds.txt", "127.0.0.1:5000\n127.0.0.1:70000\n",
                           [(2, "expected HOST:PORT, got '127.0.0.1:70000' (port out of range 1-65535)")],
                           DAEMONS),
    "seed-list-bad-host-name": ("seeds.txt", "127.0.0.1:5000\n  seed.example-.org:5000  # a typo\n",
                                [(2, "expected HOST:PORT, got 'seed.example-.org:5000' (a label of the "
                                     "host name ends with '-')")], DAEMONS),
    "seed-list-ipv6-without-brackets": ("seeds.txt", "::1:5000\n",
                                        [(1, "expected HOST:PORT, got '::1:5000' (an IPv6 address goes "
                                             "in brackets: [IPv6]:PORT)")], DAEMONS),
    # The line of the issue: a name without its port was taken for a libconfig setting.
    "seed-list-name-without-port": ("s2.txt", "localhost\n",
                                    [(1, "expected HOST:PORT, got 'localhost' (no port)")], DAEMONS),
    "seed-list-duplicate": ("seeds.txt", "127.0.0.1:5000\n127.0.0.1:5001 # again below\n127.0.0.1:5001\n",
                            [(3, "duplicate seed 127.0.0.1:5001")], DAEMONS),
    "seed-list-duplicate-name": ("seeds.txt", "localhost:5000\nLocalHost.:5000\n",
                                 [(2, "duplicate seed LocalHost.:5000")], DAEMONS),
    # Checked once every file is read: named by the file, without a line.
    "ping-timeout-over-interval": ("gossip.conf", f"{SEEDS_LINE}\npeer = {{ ping_interval = 0.2; "
                                   "ping_timeout = 0.3; };\n",
                                   [(None, "peer.ping_timeout must not exceed peer.ping_interval")], DAEMONS),
    "queue-under-message": ("gossip.conf", f"{SEEDS_LINE}\npeer = {{ max_message_size = 1000000; "
                            "send_queue_limit = 524288; };\n",
                            [(None, "peer.send_queue_limit must be at least peer.max_message_size "
                                    "+ 144 (1000144)")], DAEMONS),
    "address-not-ip-nor-name": ("gossip.conf", f'{SEEDS_LINE}\naddress = "gossip example";\n',
                                [(None, 'address "gossip example" is not an IPv4 or IPv6 address or a '
                                        'host name (host name has a character other than')], DAEMONS),
    "no-seeds": ("gossip.conf", "peer = { degree = 2; };\n",
                 [(None, 'no seeds configured (seeds = [ "HOST:PORT", ... ];)')], ["peer"]),
}


def write_case(tmp, case):
    name, contents, expected, kinds = ERROR_CASES[case]
    path = tmp / name
    path.write_text(contents)
    return path, [f"{path}:{line}: {msg}" if line else f"{path}: {msg}" for line, msg in expected], kinds


def expect_errors(errors, expected):
    assert len(errors) == len(expected), f"errors {errors}, expected {expected}"
    for got, want in zip(errors, expected):
        assert got.startswith(want), f"{got!r} does not start with {want!r}"


CASE_IDS = [(case, kind) for case in sorted(ERROR_CASES) for kind in ERROR_CASES[case][3]]


@pytest.mark.parametrize("case,kind", CASE_IDS, ids=[f"{k}-{c}" for c, k in CASE_IDS])
def test_config_error_stops_start(tmp_path, case, kind):
    path, expected, _ = write_case(tmp_path, case)
    port = free_port()
    sock = tmp_path / "ctl.sock"
    p = run_daemon(daemon_argv(kind, path, tmp_path, port, sock), base_env(tmp_path), cwd=tmp_path)
    expect_errors(error_lines(p.stderr), expected)
    assert_did_not_start(kind, p, tmp_path, port, sock)
    # --check-config reports the same errors and prints no configuration.
    c = run_daemon([BINS[kind], "--check-config", "-c", path], base_env(tmp_path), cwd=tmp_path)
    assert c.returncode == 1 and c.stdout == b"", c
    expect_errors(error_lines(c.stderr), expected)


@pytest.mark.parametrize("kind", DAEMONS)
def test_bad_last_seed_reported_on_its_line(tmp_path, kind):
    """Regression: libconfig gives an array element the line of the token after it (here the
    closing ']'), which apply_seeds() in src/io/conffile.c used to report."""
    cfg = tmp_path / "gossip.conf"
    cfg.write_text('seeds = [\n  "127.0.0.1:5000",\n  "localhost:0"\n\n];\n')
    p = run_daemon([BINS[kind], "-n", "-c", cfg], base_env(tmp_path))
    assert p.returncode == 1
    assert error_lines(p.stderr) == [f"{cfg}:3: seeds[1]: expected \"HOST:PORT\", got 'localhost:0' "
                                     f"(port out of range 1-65535)"]


@pytest.mark.parametrize("kind", DAEMONS)
def test_missing_config_file(tmp_path, kind):
    port = free_port()
    sock = tmp_path / "ctl.sock"
    missing = tmp_path / "nowhere.conf"
    p = run_daemon(daemon_argv(kind, missing, tmp_path, port, sock), base_env(tmp_path), cwd=tmp_path)
    assert error_lines(p.stderr) == [f"{missing}: cannot open: No such file or directory"]
    assert_did_not_start(kind, p, tmp_path, port, sock)
    if kind == "peer":
        # The prototype's command line, with the seed list missing.
        p = run_daemon([PEER_BIN, "-L", tmp_path, "-s", sock, LOCAL, port, "config.txt"],
                       base_env(tmp_path), cwd=tmp_path)
        assert error_lines(p.stderr) == ["config.txt: cannot open: No such file or directory"]
        assert_did_not_start(kind, p, tmp_path, port, sock)


def test_unknown_control_group_stops_peer(tmp_path):
    cfg = tmp_path / "gossip.conf"
    cfg.write_text(f'{SEEDS_LINE}\npeer = {{ control_group = "no-such-group-{uuid.uuid4().hex[:8]}"; }};\n')
    port = free_port()
    sock = tmp_path / "ctl.sock"
    p = run_daemon(daemon_argv("peer", cfg, tmp_path, port, sock), base_env(tmp_path), cwd=tmp_path)
    assert p.returncode == 1, p
    errs = error_lines(p.stderr)
    assert any(re.fullmatch(r"peer\.control_group: no group named 'no-such-group-[0-9a-f]{8}'", e)
               for e in errs), errs
    assert not sock.exists() and not port_listening(port)


# --- --check-config ------------------------------------------------------------------------

def config_values(text):
    """{'seeds': [...], 'peer.degree': '4', ...} from --check-config output (and 'header')."""
    vals, section = {}, ""
    lines = text.splitlines()
    vals["header"] = lines[0]
    for ln in lines[1:]:
        if m := re.fullmatch(r"(\w+) = \{", ln):
            section = m.group(1) + "."
        elif ln == "};":
            section = ""
        elif m := re.fullmatch(r"seeds = \[ (.*) \];", ln):
            vals["seeds"] = re.findall(r'"([^"]+)"', m.group(1))
        elif m := re.fullmatch(r" *(\w+) = (.*);", ln):
            vals[section + m.group(1)] = m.group(2)
        elif m := re.fullmatch(r" *# (\w+) unset \(default\)", ln):
            vals[section + m.group(1)] = None
        else:
            raise AssertionError(f"unexpected line in --check-config output: {ln!r}")
    return vals


def test_check_config_peer(tmp_path):
    cfg = tmp_path / "gossip.conf"
    cfg.write_text('seeds = [ "127.0.0.1:5000", "[::1]:5001" ];\nlog_dir = "/var/tmp";\n'
                   "peer = {\n  degree = 7;\n  ping_interval = 0.25;\n  ping_timeout = 0.25;\n"
                   "  send_queue_limit = 4294967296L;\n};\nseed = { confirm_dead = false; };\n")
    env = base_env(tmp_path)
    for args in (["--check-config", cfg], ["-n", cfg], ["-n", "-c", cfg]):
        p = run_daemon([PEER_BIN] + args, env, cwd=tmp_path)
        assert p.returncode == 0 and p.stderr == b"", p
        v = config_values(p.stdout.decode())
        assert v["header"] == f"# effective configuration from {cfg}"
        assert v["seeds"] == ["127.0.0.1:5000", "[::1]:5001"]
        assert v["log_dir"] == '"/var/tmp"' and v["address"] is None
        # What the file sets...
        assert (v["peer.degree"], v["peer.ping_interval"], v["peer.ping_timeout"]) == ("7", "0.25", "0.25")
        assert v["peer.send_queue_limit"] == "4294967296L" and v["seed.confirm_dead"] == "false"
        # ...and the defaults of everything else.
        assert (v["peer.ping_misses"], v["peer.max_neighbours"], v["peer.history"]) == ("3", "32", "100")
        assert (v["seed.lease_time"], v["peer.max_message_size"]) == ("30.0", "65536")
        assert v["peer.control_socket"] is None and v["peer.control_group"] is None
    # The output is itself a valid configuration that gives the same result.
    out = p.stdout.decode()
    again = tmp_path / "again.conf"
    again.write_text(out)
    q = run_daemon([PEER_BIN, "-n", again], env, cwd=tmp_path)
    assert q.returncode == 0, q
    assert q.stdout.decode().splitlines()[1:] == out.splitlines()[1:]


def test_check_config_layers(tmp_path):
    """Later files override earlier ones, config_file comes last, a missing -C file is skipped
    while a missing -c file is an error."""
    base = tmp_path / "gossip.conf"
    base.write_text(f"{SEEDS_LINE}\npeer = {{ degree = 3; history = 50; }};\n")
    over = tmp_path / "peer-6000.conf"
    over.write_text("peer = { degree = 5; };\n")
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# prototype format\n127.0.0.1:7000\n")
    env = base_env(tmp_path)
    p = run_daemon([PEER_BIN, "-n", "-c", base, "-C", over, "-C", tmp_path / "absent.conf"], env)
    assert p.returncode == 0, p
    v = config_values(p.stdout.decode())
    assert v["header"] == f"# effective configuration from {base}, {over}"
    assert (v["peer.degree"], v["peer.history"]) == ("5", "50")
    assert v["seeds"] == ["127.0.0.1:5000", "127.0.0.1:5001"]
    # A seed list replaces the seeds and nothing else.
    p = run_daemon([PEER_BIN, "-n", "-c", base, "-c", over, "-c", seeds], env)
    assert p.returncode == 0, p
    v = config_values(p.stdout.decode())
    assert v["seeds"] == ["127.0.0.1:7000"] and v["peer.degree"] == "5"
    p = run_daemon([PEER_BIN, "-n", "-c", base, "-c", tmp_path / "absent.conf"], env)
    assert p.returncode == 1 and p.stdout == b""
    assert error_lines(p.stderr) == [f"{tmp_path / 'absent.conf'}: cannot open: No such file or directory"]


def test_check_config_seed(tmp_path):
    env = base_env(tmp_path)
    # No file: the built-in defaults; a seed needs no seeds.
    p = run_daemon([SEED_BIN, "--check-config"], env, cwd=tmp_path)
    assert p.returncode == 0 and p.stderr == b"", p
    v = config_values(p.stdout.decode())
    assert v["header"] == "# effective configuration" and v["seeds"] is None
    assert (v["seed.lease_time"], v["seed.max_peers"], v["seed.confirm_dead"]) == ("30.0", "10000", "true")
    cfg = tmp_path / "seed.conf"
    cfg.write_text("seed = {\n  lease_time = 12.5;\n  max_peers = 7;\n  probe_timeout = 0.05;\n};\n")
    p = run_daemon([SEED_BIN, "-n", "-c", cfg], env, cwd=tmp_path)
    assert p.returncode == 0 and p.stderr == b"", p
    v = config_values(p.stdout.decode())
    assert v["header"] == f"# effective configuration from {cfg}"
    assert (v["seed.lease_time"], v["seed.max_peers"], v["seed.probe_timeout"]) == ("12.5", "7", "0.05")
    assert v["seed.max_connections"] == "16384"


# --- command line --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", DAEMONS)
def test_help_and_version(tmp_path, kind):
    env = base_env(tmp_path)
    for opt in ("--help", "-h"):
        p = run_daemon([BINS[kind], opt], env)
        assert p.returncode == 0 and p.stderr == b"", p
        assert p.stdout.decode().startswith(f"Usage: gossip-{kind} "), p.stdout
        assert "--check-config" in p.stdout.decode()
    ctl_version = run_ctl(["--version"], env).stdout.decode().split()[1]
    for opt in ("--version", "-V"):
        p = run_daemon([BINS[kind], opt], env)
        assert p.returncode == 0 and p.stderr == b"", p
        assert p.stdout.decode() == f"gossip-{kind} {ctl_version}\n"


CLI_ERRORS = {
    "unknown-long-option": (["--bogus", LOCAL, "5000"], r"unrecognized option '--bogus'"),
    "unknown-short-option": (["-x", LOCAL, "5000"], r"invalid option -- 'x'"),
    "missing-option-argument": (["-L"], r"option requires an argument -- 'L'"),
    "no-arguments": ([], r"expected <ip> <port>"),
    "too-many-arguments": ([LOCAL, "5000", "x", "y"], r"expected <ip> <port>"),
    "port-out-of-range": ([LOCAL, "70000"], r"invalid address 127\.0\.0\.1 70000"),
    "port-not-a-number": ([LOCAL, "http"], r"invalid address 127\.0\.0\.1 http"),
    "bad-ip": (["127.0.0.256", "5000"], r"invalid address 127\.0\.0\.256 5000"),
}


@pytest.mark.parametrize("kind", DAEMONS)
@pytest.mark.parametrize("case", sorted(CLI_ERRORS))
def test_command_line_errors(tmp_path, kind, case):
    args, pattern = CLI_ERRORS[case]
    if kind == "peer" and len(args) == 2 and not args[0].startswith("-"):
        args = args + [tmp_path / "seeds.txt"]  # the peer's <config_file>
        (tmp_path / "seeds.txt").write_text("127.0.0.1:5000\n")
    p = run_daemon([BINS[kind]] + args, base_env(tmp_path, ASAN_OPTIONS=NO_LEAK_CHECK), cwd=tmp_path)
    err = p.stderr.decode()
    assert p.returncode == 2, (p.returncode, err)
    assert p.stdout == b""
    first = err.splitlines()[0]
    assert re.search(pattern, first), first
    assert first.startswith((f"gossip-{kind}: ", str(BINS[kind]) + ": ")), first
    assert not list(tmp_path.glob("*.log"))


def test_peer_refuses_unspecified_address(tmp_path):
    (tmp_path / "seeds.txt").write_text("127.0.0.1:5000\n")
    p = run_daemon([PEER_BIN, "-L", tmp_path, "0.0.0.0", free_port(), tmp_path / "seeds.txt"],
                   base_env(tmp_path, ASAN_OPTIONS=NO_LEAK_CHECK), cwd=tmp_path)
    assert p.returncode == 2, p
    assert "0.0.0.0 is not an address other peers can reach" in p.stderr.decode().splitlines()[0]


@pytest.mark.parametrize("case", ["peer-bad-port", "peer-unspecified-address", "seed-bad-port"])
def test_usage_exit_leaks_nothing(tmp_path, case):
    """Exit status 2 after the configuration was read; under AddressSanitizer also checks
    that nothing leaked (which would change the status). Regression: main() of both daemons
    returned 2 on a bad address without conf_free() of the configuration it had loaded."""
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("127.0.0.1:5000\n")
    cfg = tmp_path / "seed.conf"
    cfg.write_text("seed = { max_peers = 5; };\n")
    argv = {"peer-bad-port": [PEER_BIN, "-L", tmp_path, LOCAL, "70000", seeds],
            "peer-unspecified-address": [PEER_BIN, "-L", tmp_path, "0.0.0.0", free_port(), seeds],
            "seed-bad-port": [SEED_BIN, "-c", cfg, "-L", tmp_path, LOCAL, "70000"]}[case]
    p = run_daemon(argv, base_env(tmp_path, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"), cwd=tmp_path)
    err = p.stderr.decode(errors="replace")
    assert "LeakSanitizer" not in err, err[-2000:]
    assert p.returncode == 2, (p.returncode, err)


def test_too_many_config_files(tmp_path):
    cfg = tmp_path / "a.conf"
    cfg.write_text(f"{SEEDS_LINE}\n")
    p = run_daemon([PEER_BIN, "-n"] + ["-c", cfg] * 4, base_env(tmp_path))
    assert p.returncode == 2 and "at most 3 configuration files" in p.stderr.decode(), p
    p = run_daemon([SEED_BIN, "-n"] + ["-c", cfg] * 5, base_env(tmp_path))
    assert p.returncode == 2 and "at most 4 configuration files" in p.stderr.decode(), p
    p = run_daemon([SEED_BIN, "-n"] + ["-c", cfg] * 4, base_env(tmp_path))
    assert p.returncode == 0, p


# --- reloading -----------------------------------------------------------------------------

def notify_count(daemon, line):
    return daemon.notify.count(line)


def test_peer_reload(network):
    net = network("reload", peer_degree=1, **STEADY)
    net.start_seeds(1)
    cfg = Path(net.dir) / "peer.conf"
    net.write_config(cfg, peer_degree=2, peer_max_message_size=1000)
    a = net.add_peer(config=cfg)
    b = net.add_peer()
    net.wait_connected()
    assert a.status()["degree"] == 2
    assert notify_count(a, "READY=1") == 1

    # A changed setting takes effect.
    net.write_config(cfg, peer_degree=5, peer_max_message_size=50)
    a.signal(signal.SIGHUP)
    a.wait_log(r"configuration reloaded: degree 5, ping every 1\.000 s, 3 misses\b")
    wait_until(lambda: notify_count(a, "RELOADING=1") == 1 and notify_count(a, "READY=1") == 2,
               what="RELOADING=1 then READY=1")
    assert a.status()["degree"] == 5
    p = a.ctl("send", "x" * 51, check=False)
    assert p.returncode == 5 and b"peer.max_message_size is 50" in p.stderr, p
    token = uuid.uuid4().hex
    a.send(token + "y" * (50 - len(token)))
    net.wait_delivered([b], token)

    # A setting that needs a restart: the peer says so and keeps the old value.
    net.write_config(cfg, peer_degree=5, peer_max_message_size=50, peer_history=7)
    a.signal(signal.SIGHUP)
    a.wait_log(r"warning: reload: peer\.history changed; the new value takes effect at the next restart")
    a.wait_log(r"configuration reloaded: degree 5,", count=2)

    # Broken files are rejected, naming file:line, and the running configuration is kept.
    broken = {
        "out of range": (f"{SEEDS_LINE}\npeer = {{\n  degree = 9;\n  ping_misses = 1000;\n"
                         "  max_message_size = 5000;\n};\n",
                         rf"{re.escape(str(cfg))}:4: peer\.ping_misses = 1000 out of range \[1, 100\]"),
        "syntax": (f"{SEEDS_LINE}\npeer = {{\n  degree = 9;\n  max_message_size = = 5000;\n}};\n",
                   rf"{re.escape(str(cfg))}:4: syntax error"),
    }
    for n, (text, error) in enumerate(broken.values(), start=1):
        cfg.write_text(text)
        a.signal(signal.SIGHUP)
        a.wait_log(rf"error: {error}$")
        a.wait_log(r"error: reload failed; keeping the previous configuration$", count=n)
        wait_until(lambda: notify_count(a, "READY=1") == 3 + n, what="READY=1 after the failed reload")
        assert a.alive()
        st = a.status()
        assert st["state"] == "ready" and st["degree"] == 5
        p = a.ctl("send", "x" * 51, check=False)
        assert p.returncode == 5 and b"peer.max_message_size is 50" in p.stderr, p
        # It still relays both ways.
        t1, t2 = f"to a {uuid.uuid4().hex}", f"from a {uuid.uuid4().hex}"
        b.send(t1)
        net.wait_delivered([a], t1)
        a.send(t2)
        net.wait_delivered([b], t2)
    assert len(a.log_lines(r"configuration reloaded")) == 2


def test_seed_reload(network):
    net = network("seedreload", **STEADY)
    (seed,) = net.start_seeds(1)
    cfg = net.config_path

    def register(port):
        with w.WireConn(seed.port) as c:
            c.send(w.register(LOCAL, port))
            return c.recv_frame()[0]

    assert register(1) == w.PEER_LIST
    assert seed.registry() == {f"{LOCAL}:1"}

    # seed.max_peers lowered: new registrations are refused, the registered peer stays.
    net.write_config(seed_max_peers=1)
    seed.signal(signal.SIGHUP)
    seed.wait_log(r"configuration reloaded\b")
    wait_until(lambda: notify_count(seed, "RELOADING=1") == 1 and notify_count(seed, "READY=1") == 2,
               what="RELOADING=1 then READY=1")
    assert register(2) == w.ERROR
    seed.wait_log(rf"warning: refusing registration of {LOCAL}:2: registry full \(seed\.max_peers = 1\)")
    assert register(1) == w.PEER_LIST  # a refresh is not a new registration
    assert seed.registry() == {f"{LOCAL}:1"}

    # A broken file that would raise the limit is rejected as a whole.
    cfg.write_text(f"{SEEDS_LINE}\nseed = {{\n  max_peers = 100;\n  lease = 30;\n}};\n")
    seed.signal(signal.SIGHUP)
    seed.wait_log(rf"error: {re.escape(str(cfg))}:4: unknown setting seed\.lease$")
    seed.wait_log(r"error: reload failed; keeping the previous configuration$")
    wait_until(lambda: notify_count(seed, "READY=1") == 3, what="READY=1 after the failed reload")
    assert seed.alive()
    assert register(3) == w.ERROR
    seed.wait_log(rf"refusing registration of {LOCAL}:3: registry full \(seed\.max_peers = 1\)")
    assert seed.registry() == {f"{LOCAL}:1"}
    assert len(seed.log_lines(r"configuration reloaded\b")) == 1


# --- stopping ------------------------------------------------------------------------------

def test_peer_sigint_leaves_and_exits_0(network):
    """Ctrl-C (SIGINT) makes a peer leave like SIGTERM (test_failure.py covers SIGTERM)."""
    net = network("sigint", peer_degree=1, **STEADY)
    (seed,) = net.start_seeds(1)
    a, b = net.start_peers(2)
    net.wait_connected()
    a.signal(signal.SIGINT)
    assert a.proc.wait(timeout=15) == 0
    a.returncode = 0
    assert a.log_lines(rf"Peer {re.escape(a.addr)} leaving the network \(signal 2\)")
    assert a.log_lines(rf"Peer {re.escape(a.addr)} stopped")
    # The listener thread may read the datagram after the exit is seen: wait for it.
    wait_until(lambda: notify_count(a, "STOPPING=1") >= 1, what="STOPPING=1")
    assert notify_count(a, "STOPPING=1") == 1
    seed.wait_log(rf"Peer left: {re.escape(a.addr)}\.")
    assert seed.registry() == {b.addr}
    b.wait_log(rf"Neighbour {re.escape(a.addr)} left")
    assert not a.ctl_path.exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_seed_stops_with_status_0(network, sig):
    net = network("seedstop", **STEADY)
    (seed,) = net.start_seeds(1)
    seed.signal(sig)
    assert seed.proc.wait(timeout=15) == 0
    seed.returncode = 0
    assert seed.log_lines(rf"Seed {re.escape(seed.addr)} stopping \(signal {int(sig)}\)")
    # The listener thread may read the datagram after the exit is seen: wait for it.
    wait_until(lambda: notify_count(seed, "STOPPING=1") >= 1, what="STOPPING=1")
    assert notify_count(seed, "STOPPING=1") == 1
    assert not port_listening(seed.port)

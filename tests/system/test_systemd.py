# SPDX-License-Identifier: MIT
"""gossip under a real systemd: the installed units, socket activation, restarts,
the watchdog, reload, a clean stop, the journal and the control socket's permissions.

The build is installed with "make install" into a staging tree, copied into a
throw-away container (container.py) booted with systemd as PID 1, and driven
there with systemctl, journalctl and gossipctl. Needs root and systemd-nspawn
(package systemd-container); skipped otherwise, with the reason. One container
serves the whole module; tests that stop or reconfigure a service put it back
(the net fixture restarts whatever is down). Waits poll systemctl, gossipctl
and the journal (after journalctl --sync) with timeouts, never fixed sleeps.

Known bugs are xfail(strict=True) with a "BUG:" reason, so a fix shows up as
XPASS and fails the run until the marker is removed.
"""

import collections
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from container import Container

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEEDS = (5000, 5001, 5002)
PEERS = (6000, 6001, 6002)
BROKEN_PEER = 6003  # only ever started with a broken configuration
SEED_UNITS = [f"gossip-seed@{p}.service" for p in SEEDS]
PEER_UNITS = [f"gossip-peer@{p}.service" for p in PEERS]
# Host services the overlay would otherwise boot too: slow, or noisy, or both.
MASK = ("postgresql.service", "postgresql@15-main.service", "serf.service",
        "e2scrub_reap.service", "apt-daily.timer", "apt-daily-upgrade.timer",
        "dpkg-db-backup.timer", "e2scrub_all.timer", "fstrim.timer", "man-db.timer",
        "logrotate.timer")
MAKE_ENV = {k: v for k, v in os.environ.items() if k not in ("DESTDIR", "PREFIX")}


def skip_reason():
    if os.geteuid() != 0:
        return "system tests boot a container and must run as root"
    for tool in ("systemd-nspawn", "unshare", "nsenter"):
        if not shutil.which(tool):
            pkg = "systemd-container" if tool == "systemd-nspawn" else "util-linux"
            return f"{tool} not found (install {pkg})"
    return None


# -- helpers -------------------------------------------------------------------


def wait_for(what, fn, timeout=10.0, interval=0.05):
    """Polls fn() until it returns a true value, which is returned; fails after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def show(c, unit, *props):
    r = c.run("systemctl", "show", *[f"--property={p}" for p in props], unit)
    out = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition("=")
        out[k] = v
    return out


def is_active(c, unit):
    return c.run("systemctl", "is-active", unit, check=False).stdout.strip()


def _field(v):
    if isinstance(v, list):  # repeated field or binary data
        if v and all(isinstance(x, int) for x in v):
            return bytes(v).decode(errors="replace")
        return str(v[-1]) if v else ""
    return "" if v is None else str(v)


def journal(c, *args, after=None):
    """journalctl entries as dicts of strings; after: a mark from mark_now(), to see only later ones.

    (journalctl --after-cursor together with field matches skips the first match in
    systemd 252, so marks are timestamps.)
    """
    # Everything logged before this point is in the journal files once --sync returns.
    c.run("journalctl", "--sync")
    cmd = ["journalctl", "--no-pager", "-o", "json", *args]
    if after is not None:
        cmd.append(f"--since=@{after // 1000000 - 1}")
    r = c.run(*cmd)
    entries = [{k: _field(v) for k, v in json.loads(line).items()}
               for line in r.stdout.splitlines() if line.startswith("{")]
    if after is not None:
        entries = [e for e in entries if int(e["__REALTIME_TIMESTAMP"]) >= after]
    return entries


def mark_now():
    """Now, in the journal's realtime microseconds (the container shares the host's clock)."""
    return time.time_ns() // 1000


def ctl(c, port, *args, user=None, check=True, timeout=30):
    return c.run("gossipctl", "-i", str(port), *args, user=user, check=check, timeout=timeout)


def status(c, port):
    return json.loads(ctl(c, port, "--json", "status").stdout)


def send(c, port, text):
    out = ctl(c, port, "send", text).stdout.strip()
    m = re.fullmatch(r"sent ([0-9a-f]{64})", out)
    assert m, f"gossipctl send printed {out!r}"
    return m.group(1)


def write_file(c, path, text):
    c.run("sh", "-c", 'mkdir -p "$(dirname "$0")" && cat > "$0"', path, input=text)


def received(c, port, msg_id, after=None):
    return journal(c, "-u", f"gossip-peer@{port}.service", "GOSSIP_EVENT=received",
                   f"GOSSIP_MSG_ID={msg_id}", after=after)


def peer_ready(c, port):
    """The peer's unit is active and the peer says it is ready, with a neighbour whose link
    is up (a neighbour still being connected to does not carry messages yet)."""
    if is_active(c, f"gossip-peer@{port}.service") != "active":
        return False
    st = status(c, port)
    if st["state"] != "ready":
        return False
    peers = json.loads(ctl(c, port, "--json", "peers").stdout)
    return any(n["state"] == "up" for n in peers) and st


def ensure_network(c, timeout=15):
    """Starts the seeds and peers if needed; returns when every peer is ready with a neighbour.

    With 3 peers that each have a neighbour, the overlay is connected.
    """
    c.run("systemctl", "start", *SEED_UNITS, *PEER_UNITS)
    for port in PEERS:
        try:
            wait_for(f"gossip-peer@{port} ready with a neighbour", lambda: peer_ready(c, port),
                     timeout=timeout)
        except AssertionError as e:
            diag = c.run("sh", "-c", f"systemctl status --no-pager -n 0 'gossip-*'; "
                         f"gossipctl -i {port} status; gossipctl -i {port} peers; "
                         f"journalctl --no-pager -n 40 -u 'gossip-*'", check=False)
            raise AssertionError(f"{e}\n{diag.stdout}{diag.stderr}") from None


def output_file(port):
    """Where the unit gossip-peer@PORT writes the messages it receives."""
    return f"/var/log/gossip/peer-{port}/output.txt"


def main_pid(c, unit):
    return int(show(c, unit, "MainPID")["MainPID"])


# -- fixtures ------------------------------------------------------------------


def private_tree(dst, units=True):
    """Copies what make install needs, with the current build and its timestamps.

    make then works on the copy: nothing in the shared tree (build/units/) is rewritten.
    units: also copy build/units/ (generated for the PREFIX of the last "make").
    """
    os.makedirs(os.path.join(dst, "build"))
    for name in ("Makefile", "src", "systemd", "etc", "man"):
        subprocess.run(["cp", "-a", os.path.join(REPO, name), dst], check=True)
    for name in ("release", "units") if units else ("release",):
        if os.path.isdir(os.path.join(REPO, "build", name)):
            subprocess.run(["cp", "-a", os.path.join(REPO, "build", name),
                            os.path.join(dst, "build")], check=True)
    return dst


def make(tree, *args):
    r = subprocess.run(["make", "-s", *args], cwd=tree, env=MAKE_ENV, text=True,
                       capture_output=True)
    assert r.returncode == 0, f"make {' '.join(args)}: exit status {r.returncode}\n{r.stderr}"


def stage_install(share):
    """make install DESTDIR=share/root PREFIX=/usr; returns the staging root.

    The copy gets this build's binaries but not build/units/: "make" generated those for
    its own PREFIX and make install would not regenerate them (the Makefile bug of
    test_installed_units_follow_prefix), so here they are generated for PREFIX=/usr.
    """
    root = os.path.join(share, "root")
    with tempfile.TemporaryDirectory(prefix="gossip-system-tree-") as tree:
        make(private_tree(tree, units=False), "install", f"DESTDIR={root}", "PREFIX=/usr")
    units = glob.glob(os.path.join(root, "**", "gossip-*@.service"), recursive=True)
    assert len(units) == 2, units
    for unit in units:
        with open(unit) as f:
            exe = re.search(r"^ExecStart=(\S+)", f.read(), re.M).group(1)
        assert os.access(root + exe, os.X_OK), f"{unit}: ExecStart={exe} is not installed"
    return root


@pytest.fixture(scope="module")
def staged():
    """The staging tree of make install DESTDIR=... PREFIX=/usr, in a directory for the container."""
    share = tempfile.mkdtemp(prefix=f"gossip-system-{os.getpid()}-share-")
    try:
        yield stage_install(share)
    finally:
        shutil.rmtree(share, ignore_errors=True)


def _setup_state(c):
    """What the account and directories of the package look like right now."""
    def out(*argv):
        r = c.run(*argv, check=False)
        return r.stdout.strip() if r.returncode == 0 else None
    return {
        "passwd": out("getent", "passwd", "gossip"),
        "group": out("getent", "group", "gossip"),
        "/run/gossip": out("stat", "-c", "%F %a %U %G", "/run/gossip"),
        "/var/log/gossip": out("stat", "-c", "%F %a %U %G", "/var/log/gossip"),
    }


@pytest.fixture(scope="module")
def container(staged):
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with Container("gossip-system", os.path.dirname(staged), mask_units=MASK) as c:
        # Install the build into the container only; the host's root is untouched.
        c.run("sh", "-c", "cd /mnt/share/root && tar -c * | "
              "tar -x -C / --keep-directory-symlink --no-overwrite-dir")
        c.before_setup = _setup_state(c)
        # The README's steps after make install, and the catalog for journalctl -x.
        c.run("systemd-sysusers")
        c.run("systemd-tmpfiles", "--create")
        c.run("systemctl", "daemon-reload")
        c.run("journalctl", "--update-catalog")
        c.run("gossip-cert", "setup")  # the CA and certificate gossip.conf asks for
        c.after_setup = _setup_state(c)
        yield c


@pytest.fixture
def net(container):
    ensure_network(container)
    return container


# -- tests ---------------------------------------------------------------------


def test_installed_units_follow_prefix(tmp_path):
    # "make" then "make install PREFIX=...": the units must name the installed binaries.
    tree = private_tree(str(tmp_path / "tree"))
    make(tree, "all", "PREFIX=/usr/local", "-W", "systemd/gossip-peer@.service.in",
         "-W", "systemd/gossip-seed@.service.in")
    prefix, dest = "/opt/gossip-systest", str(tmp_path / "dest")
    make(tree, "install", f"DESTDIR={dest}", f"PREFIX={prefix}")
    units = glob.glob(f"{dest}/**/gossip-*@.service", recursive=True)
    assert len(units) == 2, units
    for unit in units:
        with open(unit) as f:
            exe = re.search(r"^ExecStart=(\S+)", f.read(), re.M).group(1)
        assert exe.startswith(f"{prefix}/sbin/"), f"{os.path.basename(unit)}: ExecStart={exe}"
        assert os.path.exists(f"{dest}{exe}"), f"{exe} not installed"


def test_sysusers_and_tmpfiles_create_user_and_dirs(container):
    c = container
    before, after = c.before_setup, c.after_setup
    # make install alone creates neither: systemd-sysusers and systemd-tmpfiles --create do.
    assert before == {"passwd": None, "group": None, "/run/gossip": None,
                      "/var/log/gossip": None}, before
    name, _, uid, gid, _, home, shell = after["passwd"].split(":")
    assert name == "gossip" and 0 < int(uid) < 1000, after  # a system user
    assert shell in ("/usr/sbin/nologin", "/sbin/nologin"), after
    assert after["group"].split(":")[:3:2] == ["gossip", gid], after
    assert after["/run/gossip"] == "directory 755 root root", after
    assert after["/var/log/gossip"] == "directory 750 gossip gossip", after


def test_check_config(container):
    c = container
    r = c.run("gossip-peer", "--check-config", "/etc/gossip/gossip.conf")
    assert 'seeds = [ "127.0.0.1:5000", "127.0.0.1:5001", "127.0.0.1:5002" ];' in r.stdout
    assert re.search(r"^\s*degree = \d+;", r.stdout, re.M), r.stdout
    c.run("gossip-seed", "--check-config", "/etc/gossip/gossip.conf")
    # The unit's own options, with a per-instance override layered on the shared file.
    write_file(c, "/etc/gossip/peer-6100.conf", "peer = { degree = 7; };\n")
    try:
        r = c.run("gossip-peer", "--config", "/etc/gossip/gossip.conf", "--config-optional",
                  "/etc/gossip/peer-6100.conf", "--check-config", "6100")
        assert re.search(r"^\s*degree = 7;", r.stdout, re.M), r.stdout
        assert "127.0.0.1:5002" in r.stdout
        write_file(c, "/etc/gossip/peer-6100.conf", "peer = {\n  degree = -1;\n};\n")
        r = c.run("gossip-peer", "--config", "/etc/gossip/gossip.conf", "--config-optional",
                  "/etc/gossip/peer-6100.conf", "--check-config", "6100", check=False)
        assert r.returncode != 0
        assert "/etc/gossip/peer-6100.conf:2: " in r.stdout + r.stderr, r
    finally:
        c.run("rm", "-f", "/etc/gossip/peer-6100.conf")


def test_services_active_with_status(net):
    c = net
    uid, gid = c.run("id", "-u", "gossip").stdout.strip(), c.run("id", "-g", "gossip").stdout.strip()
    for unit in SEED_UNITS + PEER_UNITS:
        p = show(c, unit, "ActiveState", "SubState", "Type", "StatusText", "User",
                 "WatchdogUSec", "MainPID")
        assert (p["ActiveState"], p["SubState"], p["Type"], p["User"]) == \
            ("active", "running", "notify", "gossip"), (unit, p)
        assert p["StatusText"], f"{unit}: no StatusText"
        assert p["WatchdogUSec"] not in ("", "0", "infinity"), f"{unit}: no watchdog: {p}"
        # The process itself runs as gossip (real, effective, saved and fs ids).
        proc = c.run("cat", f"/proc/{p['MainPID']}/status").stdout
        ids = {k: v.split() for k, _, v in (line.partition(":\t") for line in proc.splitlines())}
        assert ids["Uid"] == [uid] * 4 and ids["Gid"] == [gid] * 4, (unit, ids["Uid"], ids["Gid"])
    for port in PEERS:
        def ready_status():
            st = show(c, f"gossip-peer@{port}.service", "StatusText")["StatusText"]
            m = re.fullmatch(r"ready: registered with (\d+)/3 seeds, (\d+) neighbours, "
                             r"\d+ messages received, \d+ sent", st)
            return m and int(m.group(1)) >= 2 and int(m.group(2)) >= 1
        wait_for(f"gossip-peer@{port}'s StatusText: ready, registered, with neighbours",
                 ready_status, timeout=5)

    def seeds_agree():
        # Every registration a peer reports is counted by exactly one seed's status line.
        total = 0
        for port in SEEDS:
            st = show(c, f"gossip-seed@{port}.service", "StatusText")["StatusText"]
            m = re.match(rf"seed 127\.0\.0\.1:{port}: (\d+) peers? registered", st)
            assert m, st
            total += int(m.group(1))
        expected = sum(status(c, port)["seeds_registered"] for port in PEERS)
        return total == expected and (total, expected)
    wait_for("the seeds' StatusText to count every registration", seeds_agree)
    for port in PEERS:
        sock = c.run("stat", "-c", "%F %a %U %G", f"/run/gossip/peer-{port}.sock").stdout.split()
        assert sock[-3:] == ["660", "root", "gossip"], sock


def test_services_run_mutual_tls(net):
    """As installed, with gossip-cert setup's files: every instance requires TLS, says so with
    its certificate, and refuses a plaintext connection; the key is readable by group gossip
    only."""
    c = net
    assert c.run("stat", "-c", "%a %U %G", "/etc/gossip/tls/node.key").stdout.split() == \
        ["640", "root", "gossip"]
    assert c.run("stat", "-c", "%a %U", "/etc/gossip/tls/ca.key").stdout.split() == ["600", "root"]
    for unit in SEED_UNITS + PEER_UNITS:
        msgs = [e["MESSAGE"] for e in journal(c, "-u", unit)]
        assert any(re.fullmatch(r"TLS required: certificate \S+ \(/etc/gossip/tls/node\.crt\), "
                                r"\d+ days left", m) for m in msgs), (unit, msgs[:5])
        assert not [m for m in msgs if "without TLS" in m], unit
    # A stranger's plaintext frame to a seed: refused, and logged.
    c.run("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/5000; printf 'GS\\002\\010\\000\\000\\000\\000' >&3; "
          "cat <&3 >/dev/null || true")
    wait_for("the seed's refusal of a plaintext connection", lambda: [
        e for e in journal(c, "-u", "gossip-seed@5000.service")
        if "refusing plaintext connection from 127.0.0.1" in e["MESSAGE"]])


def test_units_bound_memory_and_tasks(net):
    """MemoryMax= and TasksMax= of the units (sizes measured, see the units' comments), and the
    single-threaded daemons well inside them."""
    c = net
    for unit in SEED_UNITS + PEER_UNITS:
        p = show(c, unit, "MemoryMax", "TasksMax", "MainPID")
        assert (p["MemoryMax"], p["TasksMax"]) == (str(1 << 30), "8"), (unit, p)
        # (The container's cgroups may not count tasks and memory: the process says.)
        st = dict(line.split(":\t", 1) for line in
                  c.run("cat", f"/proc/{p['MainPID']}/status").stdout.splitlines() if ":\t" in line)
        assert st["Threads"].strip() == "1", (unit, st["Threads"])
        assert int(st["VmRSS"].split()[0]) < 64 * 1024, (unit, st["VmRSS"])


def test_connection_to_another_address_is_refused(net):
    """The socket units listen on every address of the port; a daemon answers on its own address
    (127.0.0.1 here) only, and says so."""
    c = net
    c.run("bash", "-c", "exec 3<>/dev/tcp/127.0.0.2/5000; cat <&3 >/dev/null || true")
    wait_for("the seed's refusal of a connection to 127.0.0.2", lambda: [
        e for e in journal(c, "-u", "gossip-seed@5000.service")
        if re.search(r"refusing connection from \S+ to 127\.0\.0\.2:5000: this node listens on "
                     r"127\.0\.0\.1:5000 only", e["MESSAGE"])])


def test_broadcast_reaches_journal_and_output(net):
    c = net
    mark = mark_now()
    # The README's command, verbatim; the container is fresh, so 'hello' is this message only.
    hello = send(c, 6000, "hello")
    for port in (6001, 6002):
        wait_for(f"gossip-peer@{port} to log {hello} as received",
                 lambda: received(c, port, hello))
    # As a user would type it: the message is there, with its id.
    out = c.run("journalctl", "--no-pager", "-u", "gossip-peer@6001",
                "GOSSIP_EVENT=received").stdout
    assert re.search(rf"127\.0\.0\.1:6000 - [\d: -]+:127\.0\.0\.1:'hello' \(id {hello}\)$",
                     out, re.M), out
    # Exactly the messages 6001 received: those of the other peers, not its own, each once.
    from_6002 = send(c, 6002, f"to everyone from 6002 {uuid.uuid4().hex}")
    from_6001 = send(c, 6001, f"to everyone from 6001 {uuid.uuid4().hex}")
    for port, msg_id in ((6001, from_6002), (6000, from_6002), (6000, from_6001),
                         (6002, from_6001)):
        wait_for(f"gossip-peer@{port} to receive {msg_id}", lambda: received(c, port, msg_id))
    got = journal(c, "-u", "gossip-peer@6001", "GOSSIP_EVENT=received", after=mark)
    assert sorted(e["GOSSIP_MSG_ID"] for e in got) == sorted([hello, from_6002]), got
    # ...and over its whole run: the same list as its own history and counter.
    inv = show(c, "gossip-peer@6001.service", "InvocationID")["InvocationID"]
    got = journal(c, "-u", "gossip-peer@6001.service", "GOSSIP_EVENT=received",
                  f"_SYSTEMD_INVOCATION_ID={inv}")
    ids = [e.get("GOSSIP_MSG_ID") for e in got]
    assert len(ids) == len(set(ids)), f"a message was logged as received twice: {ids}"
    history = [json.loads(line)["id"] for line in
               ctl(c, 6001, "--json", "tail", "-n", "100000").stdout.splitlines()]
    assert sorted(ids) == sorted(history)
    assert status(c, 6001)["messages_received"] == len(ids)
    # The structured fields of the entry.
    mine = [e for e in got if e["GOSSIP_MSG_ID"] == hello]
    assert len(mine) == 1, mine
    e = mine[0]
    assert e["GOSSIP_EVENT"] == "received"
    assert e["GOSSIP_NODE"] == "127.0.0.1:6001"
    assert e["GOSSIP_ROLE"] == "peer"
    assert e["GOSSIP_ORIGIN"] == "127.0.0.1:6000"
    assert re.fullmatch(r"127\.0\.0\.1:600[02]", e["GOSSIP_REMOTE"]), e
    assert e["MESSAGE_ID"] == "1f7e3b9a5c2d4e6f8a0b1c2d3e4f5a84"
    assert "'hello'" in e["MESSAGE"] and hello in e["MESSAGE"]
    # The catalog explains the entry (journalctl -x).
    x = c.run("journalctl", "--no-pager", "-x", "-u", "gossip-peer@6001.service",
              f"GOSSIP_MSG_ID={hello}").stdout
    assert f"Subject: gossip message {hello} received" in x, x
    flat = " ".join(x.replace("\u2591", " ").split())  # catalog lines start with "░░"
    assert "It was written to output.txt and forwarded to the other neighbours" in flat, x
    # The sender logged it as sent, not received.
    sent = journal(c, "-u", "gossip-peer@6000.service", "GOSSIP_EVENT=sent",
                   f"GOSSIP_MSG_ID={hello}")
    assert len(sent) == 1 and sent[0]["GOSSIP_NODE"] == "127.0.0.1:6000", sent
    assert sent[0]["MESSAGE_ID"] == "a6d2c8e4f0b14a3c9e7d5b3a1f0e8c95", sent
    assert not received(c, 6000, hello)
    # Each instance's own output file (LogsDirectory=gossip/peer-PORT): once in each
    # receiver's, in the prototype's format; the sender's has none. No shared output.txt.
    for port, expect in ((6000, 0), (6001, 1), (6002, 1)):
        lines = [line for line in c.run("cat", output_file(port)).stdout.splitlines()
                 if line.endswith("'hello'")]
        assert len(lines) == expect, (port, lines)
        for line in lines:
            assert re.fullmatch(r"\[[\d: -]+\] Received from 127\.0\.0\.1:600[012]: "
                                r"127\.0\.0\.1:6000 - [\d: -]+:127\.0\.0\.1:'hello'", line), line
    assert c.run("test", "-e", "/var/log/gossip/output.txt", check=False).returncode == 1
    for port, expect in ((6000, 0), (6001, 1), (6002, 1)):
        log = c.run("cat", f"/var/log/gossip/peer_127.0.0.1_{port}.log").stdout
        n = len(re.findall(rf"Received from .*'hello' \(id {hello}\)$", log, re.M))
        assert n == expect, f"peer_127.0.0.1_{port}.log: {n} receptions of {hello}"
    # Each peer's state file in StateDirectory holds the id (sent or received), so a
    # restarted peer does not deliver it again.
    assert c.run("stat", "-c", "%U %G %a", "/var/lib/gossip").stdout.split() == \
        ["gossip", "gossip", "750"]
    for port in (6000, 6001, 6002):
        state = c.run("od", "-An", "-v", "-tx1", f"/var/lib/gossip/peer-{port}.state").stdout
        assert "".join(state.split()).find(hello) > 0, f"peer-{port}.state lacks {hello}"


def test_journal_fields_on_every_entry(net):
    c = net
    checked = 0
    for unit, node, role in (("gossip-peer@6001.service", "127.0.0.1:6001", "peer"),
                             ("gossip-seed@5000.service", "127.0.0.1:5000", "seed")):
        inv = show(c, unit, "InvocationID")["InvocationID"]
        for e in journal(c, "-u", unit, f"_SYSTEMD_INVOCATION_ID={inv}"):
            if e.get("_TRANSPORT") != "journal" or e.get("_COMM") not in ("gossip-peer",
                                                                          "gossip-seed"):
                continue
            checked += 1
            assert e.get("GOSSIP_NODE") == node and e.get("GOSSIP_ROLE") == role, e
            code = e.get("CODE_FILE", "")
            assert os.path.basename(code) != "log.c", f"CODE_FILE is the logger: {e}"
            assert os.path.isfile(os.path.join(REPO, code)), f"CODE_FILE={code!r}: no such file"
            assert e.get("CODE_LINE", "").isdigit() and e.get("CODE_FUNC"), e
    assert checked >= 4
    # Nothing bypasses the journal API (raw stderr lines would lose the fields).
    raw = journal(c, "_TRANSPORT=stdout", "_SYSTEMD_SLICE=system-gossip\\x2dpeer.slice") + \
        journal(c, "_TRANSPORT=stdout", "_SYSTEMD_SLICE=system-gossip\\x2dseed.slice")
    assert not raw, [e["MESSAGE"] for e in raw]
    # Registrations carry the catalog's MESSAGE_ID on the seed side.
    reg = journal(c, "-u", "gossip-seed@*", "GOSSIP_EVENT=registered")
    assert reg and all(e.get("MESSAGE_ID") == "5b1d0a3e8c7f4e2a9d6b1c0f3a7e5d21" for e in reg)


def test_control_socket_permissions(net):
    c = net
    # nobody is outside group gossip: refused at once, exit status 4 (README), no hang.
    assert "gossip" not in c.run("id", "-nG", "nobody").stdout.split()
    for args in (("status",), ("send", "from nobody"), ("--json", "peers")):
        t0 = time.monotonic()
        r = ctl(c, 6000, *args, user="nobody", check=False, timeout=10)
        elapsed = time.monotonic() - t0
        assert r.returncode == 4, (args, r)
        assert "permission denied" in r.stderr, (args, r)
        assert elapsed < 3, f"gossipctl {' '.join(args)} took {elapsed:.1f} s to be refused"
    # Root may send.
    msg_id = send(c, 6000, f"from root {uuid.uuid4().hex}")
    wait_for("root's message to arrive", lambda: received(c, 6001, msg_id))
    # So may a member of group gossip (an extra group, not its primary one).
    if c.run("id", "gossiptest", check=False).returncode != 0:
        c.run("useradd", "--system", "--no-create-home", "--no-user-group", "--gid", "nogroup",
              "--groups", "gossip", "gossiptest")
    r = ctl(c, 6000, "--json", "status", user="gossiptest")
    assert json.loads(r.stdout)["node"] == "127.0.0.1:6000"
    text = f"from a member {uuid.uuid4().hex}"
    r = ctl(c, 6000, "send", text, user="gossiptest")
    m = re.fullmatch(r"sent ([0-9a-f]{64})", r.stdout.strip())
    assert m, r
    wait_for("the member's message to arrive", lambda: received(c, 6001, m.group(1)))
    # The refused sender's message went nowhere.
    assert not [e for e in journal(c, "-u", "gossip-peer@6001", "GOSSIP_EVENT=received")
                if "from nobody" in e.get("MESSAGE", "")]


def test_metrics_service_writes_textfile_atomically(net):
    """gossip-metrics.service (its timer not enabled by make install) writes every peer's
    metrics into node_exporter's textfile directory by renaming a complete file over the last
    one; a run that cannot write leaves the last file as it was, and no temporary file."""
    c = net
    d = "/var/lib/prometheus/node-exporter"
    assert show(c, "gossip-metrics.timer", "UnitFileState")["UnitFileState"] == "disabled"
    # Without the collector's directory there is nothing to do: skipped, not failed.
    c.run("rm", "-rf", d)
    c.run("systemctl", "start", "gossip-metrics.service")
    assert show(c, "gossip-metrics.service", "ConditionResult")["ConditionResult"] == "no"
    c.run("mkdir", "-p", d)
    inodes = []
    for _ in range(2):
        c.run("systemctl", "start", "gossip-metrics.service", timeout=60)
        assert c.run("ls", "-A", d).stdout.split() == ["gossip.prom"]
        inodes.append(c.run("stat", "-c", "%i %a %U", f"{d}/gossip.prom").stdout.split())
    assert inodes[0][0] != inodes[1][0], "gossip.prom was rewritten in place, not replaced"
    assert inodes[1][1:] == ["644", "root"]
    text = c.run("cat", f"{d}/gossip.prom").stdout
    for port in PEERS:
        assert f'gossip_ready{{instance="{port}"}} 1' in text, text
        assert re.search(rf'^gossip_messages_received_total{{instance="{port}"}} \d+$', text,
                         re.M), text
    # A run that cannot write (the directory read-only, even to root without capabilities).
    c.run("chmod", "0555", d)
    try:
        r = c.run("systemctl", "start", "gossip-metrics.service", check=False, timeout=60)
        assert r.returncode != 0 and is_active(c, "gossip-metrics.service") == "failed"
        assert c.run("stat", "-c", "%i", f"{d}/gossip.prom").stdout.split() == [inodes[1][0]]
        assert c.run("cat", f"{d}/gossip.prom").stdout == text
        assert c.run("ls", "-A", d).stdout.split() == ["gossip.prom"]
    finally:
        c.run("chmod", "0755", d)
        c.run("systemctl", "reset-failed", "gossip-metrics.service")
    # The timer, once enabled, is scheduled.
    c.run("systemctl", "enable", "--now", "gossip-metrics.timer")
    try:
        assert is_active(c, "gossip-metrics.timer") == "active"
    finally:
        c.run("systemctl", "disable", "--now", "gossip-metrics.timer")


def stay_inactive(c, unit, seconds):
    """Fails as soon as unit becomes active within seconds (an absence: nothing to wait for)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert is_active(c, unit) == "inactive", f"{unit} was started again by itself"
        time.sleep(0.05)


def settled_around(c, port, others=(6000, 6001)):
    """Another peer's link to the peer at port is up, and none is being connected: a
    neighbour still dialling it would wake it again through its socket after a stop."""
    me = f"127.0.0.1:{port}"
    states = [n["state"] for o in others if is_active(c, f"gossip-peer@{o}.service") == "active"
              for n in json.loads(ctl(c, o, "--json", "peers").stdout) if n["addr"] == me]
    return "up" in states and all(st == "up" for st in states)


def test_socket_activation(net):
    c = net
    unit, port = "gossip-peer@6002.service", 6002
    me = f"127.0.0.1:{port}"
    c.run("systemctl", "reset-failed", unit, check=False)
    mark = mark_now()
    c.run("systemctl", "stop", unit)
    assert is_active(c, unit) == "inactive"
    assert is_active(c, "gossip-peer@6002.socket") == "active"
    old = show(c, unit, "InvocationID")["InvocationID"]
    # Its neighbours saw it leave; after that none of them (nor a seed) may connect to its port
    # and wake it: watch for a few ping intervals (0.5 s each).
    wait_for("a neighbour to see it leave",
             lambda: journal(c, "GOSSIP_ROLE=peer", "GOSSIP_EVENT=left", f"GOSSIP_REMOTE={me}",
                             after=mark))
    stay_inactive(c, unit, 1.5)
    # A TCP connection to its port starts it.
    c.run("bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}")
    wait_for(f"{unit} started by a TCP connection", lambda: is_active(c, unit) == "active")
    new = show(c, unit, "InvocationID")["InvocationID"]
    assert new != old
    wait_for("the peer to log that systemd passed its socket", lambda: any(
        "listening socket passed by systemd" in e.get("MESSAGE", "")
        for e in journal(c, "-u", unit, f"_SYSTEMD_INVOCATION_ID={new}")))
    wait_for(f"{unit} ready", lambda: peer_ready(c, port))
    # So does gossipctl on the control socket /run/gossip/peer-6002.sock. First, as before the
    # first stop, the network settles around the restarted peer.
    wait_for("its neighbours' links to it up", lambda: settled_around(c, port))
    mark = mark_now()
    c.run("systemctl", "stop", unit)
    assert is_active(c, unit) == "inactive"
    wait_for("a neighbour to see it leave again",
             lambda: journal(c, "GOSSIP_ROLE=peer", "GOSSIP_EVENT=left", f"GOSSIP_REMOTE={me}",
                             after=mark))
    stay_inactive(c, unit, 1.5)
    r = ctl(c, port, "--json", "status")
    assert json.loads(r.stdout)["node"] == f"127.0.0.1:{port}"
    wait_for(f"{unit} started by gossipctl", lambda: is_active(c, unit) == "active")
    assert show(c, unit, "InvocationID")["InvocationID"] not in (old, new)
    wait_for(f"{unit} ready", lambda: peer_ready(c, port))


def test_kill9_restarts_and_rejoins(net):
    c = net
    unit, port = "gossip-peer@6001.service", 6001
    c.run("systemctl", "reset-failed", unit, check=False)
    before = show(c, unit, "MainPID", "NRestarts")
    pid, n = int(before["MainPID"]), int(before["NRestarts"])
    mark = mark_now()
    c.run("kill", "-9", str(pid))

    def restarted():
        p = show(c, unit, "MainPID", "NRestarts", "ActiveState")
        return (int(p["NRestarts"]) == n + 1 and p["ActiveState"] == "active"
                and int(p["MainPID"]) not in (0, pid) and p)
    p = wait_for(f"{unit} restarted after kill -9", restarted, timeout=15)
    new = int(p["MainPID"])
    assert any("status=9/KILL" in e.get("MESSAGE", "")
               for e in journal(c, "-u", unit, after=mark)), "no 'killed' line from systemd"
    # It registered again with a majority of the seeds and told systemd READY=1.
    regs = journal(c, "-u", unit, "GOSSIP_EVENT=registered", f"_PID={new}", after=mark)
    assert len(regs) >= 2, regs
    assert journal(c, "-u", unit, "GOSSIP_EVENT=ready", f"_PID={new}", after=mark)
    for q in PEERS:
        wait_for(f"gossip-peer@{q} ready with a neighbour", lambda: peer_ready(c, q), timeout=15)
    # Messages flow again, both ways.
    msg_id = send(c, 6000, f"after kill {uuid.uuid4().hex}")
    try:
        wait_for("the restarted peer to receive a message",
                 lambda: journal(c, "-u", unit, "GOSSIP_EVENT=received",
                                 f"GOSSIP_MSG_ID={msg_id}", f"_PID={new}"))
    except AssertionError as e:
        diag = c.run("sh", "-c", "for p in 6000 6001 6002; do gossipctl -i $p peers; done; "
                     "journalctl --no-pager -n 60 -u 'gossip-*'", check=False)
        raise AssertionError(f"{e}\n{diag.stdout}{diag.stderr}") from None
    msg_id = send(c, port, f"from the restarted peer {uuid.uuid4().hex}")
    wait_for("the restarted peer's message to arrive", lambda: received(c, 6000, msg_id))


def test_watchdog_restarts_a_stopped_process(net, report):
    c = net
    unit, port = "gossip-peer@6002.service", 6002
    dropin = f"/etc/systemd/system/{unit}.d/50-systemtest-watchdog.conf"
    default = show(c, unit, "WatchdogUSec")["WatchdogUSec"]
    assert default not in ("", "0", "infinity"), f"{unit} has no watchdog"
    write_file(c, dropin, "[Service]\nWatchdogSec=2s\n")
    pid = None
    try:
        c.run("systemctl", "daemon-reload")
        c.run("systemctl", "reset-failed", unit, check=False)
        c.run("systemctl", "restart", unit)
        p = show(c, unit, "WatchdogUSec", "MainPID", "NRestarts")
        assert p["WatchdogUSec"] == "2s", p
        wait_for(f"{unit} ready", lambda: peer_ready(c, port))
        pid, n = int(p["MainPID"]), int(p["NRestarts"])
        mark = mark_now()
        t0 = time.monotonic()
        c.run("kill", "-STOP", str(pid))

        def restarted():
            p = show(c, unit, "MainPID", "NRestarts")
            return int(p["NRestarts"]) == n + 1 and int(p["MainPID"]) not in (0, pid)
        wait_for(f"{unit} restarted by the watchdog", restarted, timeout=15)
        report.append(("watchdog restart after SIGSTOP (WatchdogSec=2s)",
                       f"{time.monotonic() - t0:.1f} s"))
        msgs = [e.get("MESSAGE", "") for e in journal(c, "-u", unit, after=mark)]
        assert any("Watchdog timeout" in m for m in msgs), msgs
        assert any("Failed with result 'watchdog'" in m for m in msgs), msgs
        wait_for(f"{unit} ready again", lambda: peer_ready(c, port), timeout=15)
    finally:
        if pid is not None:
            c.run("kill", "-CONT", str(pid), check=False)
        c.run("rm", "-f", dropin)
        c.run("systemctl", "daemon-reload")
        c.run("systemctl", "reset-failed", unit, check=False)
        c.run("systemctl", "restart", unit)
    assert show(c, unit, "WatchdogUSec")["WatchdogUSec"] == default


def test_reload(net):
    c = net
    unit, port, conf = "gossip-peer@6000.service", 6000, "/etc/gossip/peer-6000.conf"
    pid = main_pid(c, unit)
    degree = status(c, port)["degree"]
    new_degree = 2 if degree != 2 else 3
    try:
        # A changed configuration takes effect without a restart.
        write_file(c, conf, f"peer = {{ degree = {new_degree}; history = 10; }};\n")
        mark = mark_now()
        c.run("systemctl", "reload", unit)
        wait_for("the new degree", lambda: status(c, port)["degree"] == new_degree)
        msgs = [e.get("MESSAGE", "") for e in journal(c, "-u", unit, after=mark)]
        assert any(f"configuration reloaded: degree {new_degree}" in m for m in msgs), msgs
        assert any(m.startswith("Reloaded gossip-peer@6000.service") for m in msgs), msgs
        # history cannot change in place, and says so.
        assert any("history" in m and "next restart" in m for m in msgs), msgs
        assert main_pid(c, unit) == pid
        # A broken one is rejected with file:line, and the running configuration kept.
        write_file(c, conf, "peer = {\n  degree = ;\n};\n")
        mark = mark_now()
        c.run("systemctl", "reload", unit)

        def rejected():
            return [e for e in journal(c, "-u", unit, "PRIORITY=3", after=mark)
                    if e.get("MESSAGE", "").startswith(f"{conf}:2: ")]
        wait_for("the reload's file:line error", rejected)
        wait_for("the reload to be refused",
                 lambda: any("keeping the previous configuration" in e.get("MESSAGE", "")
                             for e in journal(c, "-u", unit, after=mark)))
        assert is_active(c, unit) == "active"
        assert main_pid(c, unit) == pid
        assert status(c, port)["degree"] == new_degree
    finally:
        c.run("rm", "-f", conf)
        c.run("systemctl", "reload", unit, check=False)
    wait_for("the original degree", lambda: status(c, port)["degree"] == degree)
    # A seed reloads too, and keeps its status line.
    mark = mark_now()
    c.run("systemctl", "reload", "gossip-seed@5000.service")
    wait_for("the seed's reload", lambda: any(
        e.get("MESSAGE") == "configuration reloaded"
        for e in journal(c, "-u", "gossip-seed@5000.service", after=mark)))
    wait_for("the seed's StatusText after its reload", lambda: show(
        c, "gossip-seed@5000.service", "StatusText")["StatusText"].startswith("seed "), timeout=3)


@pytest.mark.parametrize("broken", [False, True], ids=["good", "broken"])
def test_status_text_after_reload(net, broken):
    c = net
    unit, conf = "gossip-peer@6001.service", "/etc/gossip/peer-6001.conf"
    try:
        if broken:
            write_file(c, conf, "peer = {\n  degree = ;\n};\n")
        c.run("systemctl", "reload", unit)
        wait_for(f"{unit}'s StatusText to leave 'reloading configuration'", lambda: show(
            c, unit, "StatusText")["StatusText"].startswith("ready: "), timeout=2)
    finally:
        c.run("rm", "-f", conf)


@pytest.mark.parametrize("kind, port", [("peer", BROKEN_PEER), ("seed", 5003)])
def test_start_with_broken_config_fails(container, kind, port):
    c = container
    unit, conf = f"gossip-{kind}@{port}.service", f"/etc/gossip/{kind}-{port}.conf"
    write_file(c, conf, f"{kind} = {{\n  no_such_setting = 3;\n}};\n")
    try:
        mark = mark_now()
        r = c.run("systemctl", "start", unit, check=False)
        assert r.returncode != 0, r
        p = show(c, unit, "Result", "ExecMainStatus")
        assert p["Result"] == "exit-code" and p["ExecMainStatus"] != "0", p
        errs = [e["MESSAGE"] for e in journal(c, "-u", unit, "PRIORITY=3", after=mark)]
        assert any(re.match(rf"{re.escape(conf)}:2: .*no_such_setting", m) for m in errs), errs
    finally:
        c.run("systemctl", "stop", f"gossip-{kind}@{port}.socket", unit, check=False)
        c.run("systemctl", "reset-failed", f"gossip-{kind}@{port}.socket", unit, check=False)
        c.run("rm", "-f", conf)


def test_stop_is_clean_and_seeds_drop_the_peer(net):
    c = net
    unit, port = "gossip-peer@6002.service", 6002
    registered = status(c, port)["seeds_registered"]
    pid = main_pid(c, unit)
    mark = mark_now()
    c.run("systemctl", "stop", unit)
    p = show(c, unit, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
    assert p == {"ActiveState": "inactive", "Result": "success", "ExecMainCode": "1",
                 "ExecMainStatus": "0"}, p
    me = f"127.0.0.1:{port}"

    def seeds_saw_leave():
        return [e for e in journal(c, "GOSSIP_ROLE=seed", "GOSSIP_EVENT=left",
                                   f"GOSSIP_REMOTE={me}", after=mark)]
    left = wait_for("the seeds to log the leave", lambda: len(seeds_saw_leave()) >= registered
                    and seeds_saw_leave())
    assert len({e["GOSSIP_NODE"] for e in left}) == registered == len(left), left
    for e in left:
        current = e["MESSAGE"].partition("Current peers:")[2]
        assert current and me not in current, e["MESSAGE"]
    msgs = [e.get("MESSAGE", "") for e in journal(c, "-u", unit, f"_PID={pid}", after=mark)]
    assert any("leaving the network" in m for m in msgs), msgs
    wait_for("a neighbour to see it leave",
             lambda: journal(c, "GOSSIP_ROLE=peer", "GOSSIP_EVENT=left", f"GOSSIP_REMOTE={me}",
                             after=mark))


def exposure(out, unit):
    m = re.search(rf"Overall exposure level for {re.escape(unit)}: (\d+\.\d+) (\S+)", out)
    assert m, out
    return float(m.group(1)), m.group(2)


def test_security_scores_offline(staged, report):
    """systemd-analyze security --offline=yes on the installed unit files (no manager needed)."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not found (install systemd)")
    for name in ("gossip-seed@.service", "gossip-peer@.service", "gossip-metrics.service"):
        (path,) = glob.glob(os.path.join(staged, "**", name), recursive=True)
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", path],
                           text=True, capture_output=True, env=dict(MAKE_ENV, SYSTEMD_COLORS="0"))
        # An offline template is rated as instance "i".
        score, word = exposure(r.stdout, name.replace("@.", "@i."))
        report.append((f"systemd-analyze security --offline=yes {name}", f"{score} {word}"))
        assert score <= 2.0, r.stdout


def test_security_scores_loaded(net, report):
    """The same rating of the units as loaded by the running manager."""
    c = net
    for unit in ("gossip-seed@5000.service", "gossip-peer@6000.service", "gossip-metrics.service"):
        out = c.run("systemd-analyze", "security", "--no-pager", unit).stdout
        score, word = exposure(out, unit)
        report.append((f"systemd-analyze security {unit} (loaded)", f"{score} {word}"))
        assert score <= 2.0, out


# -- a sustained rate, and log rotation, under systemd ----------------------------------

RATE = 1000  # messages per second, through the 3 peers in turn
SECONDS = float(os.environ.get("GOSSIP_SYSTEM_SUSTAINED_SECONDS", "60"))
LOGROTATE = "logrotate -f /etc/logrotate.d/gossip"
# journald's own entry when it drops a service's messages over its rate limit.
JOURNAL_DROPPED = "a596d6fe7bfa4994828e72309e95d61e"


def tagged(c, path, tag):
    """The texts '<tag>-N' of the output lines in path and its rotated copies, per file."""
    out = c.run("sh", "-c", 'for f in "$0"*; do echo "== $f"; zcat -f "$f" | '
                'grep -o -- "$1-[0-9]*" || true; done', path, tag).stdout
    files = {}
    for line in out.splitlines():
        if line.startswith("== "):
            cur = files.setdefault(line[3:], [])
        else:
            cur.append(line)
    return files


def journal_count(c, unit, after, *matches, grep):
    """How many journal entries of unit since after match, and have grep in their message."""
    c.run("journalctl", "--sync")
    r = c.run("sh", "-c", f"journalctl --no-pager -o cat -u {unit} --since=@{after // 1000000 - 1} "
              + " ".join(matches) + f" | grep -c -- '{grep}' || true")
    return int(r.stdout.strip() or 0)


def held_received(summary):
    """The received events a not-logged line counts."""
    m = re.match(r"\d+ message events not logged one by one in the last 10 s \((\d+) received, "
                 r"\d+ sent; over peer\.journal_message_rate", summary)
    assert m, summary
    return int(m.group(1))


def test_sustained_rate_with_logrotate(net, staged, report):
    """1,000 msg/s for 60 s through the 3 peers, with logrotate run half-way: every message
    once in each receiver's output file (rotated and new), gossipctl stats agreeing with
    the files, and every received event either in the journal or counted as not logged
    there one by one (peer.journal_message_rate), none dropped by journald."""
    c = net
    share = os.path.dirname(staged)
    for f in ("tests/system/sender.py", "tests/bench/ctlproto.py"):
        shutil.copy(os.path.join(REPO, f), share)
    for port in PEERS:
        exec_start = show(c, f"gossip-peer@{port}.service", "ExecStart")["ExecStart"]
        assert f"--output {output_file(port)} " in exec_start, exec_start
        assert c.run("stat", "-c", "%U %G %a", os.path.dirname(output_file(port))).stdout.split() \
            == ["gossip", "gossip", "750"]
    tag = f"sus{uuid.uuid4().hex[:8]}"
    before = {p: status(c, p)["messages_received"] for p in PEERS}
    mark = mark_now()
    r = c.run("python3", "/mnt/share/sender.py", "--rate", RATE, "--seconds", SECONDS,
              "--tag", tag, "--midway", LOGROTATE,
              *[f"/run/gossip/peer-{p}.sock" for p in PEERS], timeout=3 * SECONDS + 60)
    sent = json.loads(r.stdout)
    report.append(("sustained under systemd", f"{sent['sent']} messages in {sent['seconds']:.1f} s "
                   f"({sent['rate']:.0f} msg/s offered through 3 peers)"))
    assert sent["midway"]["returncode"] == 0, sent["midway"]
    assert sent["rate"] >= 0.9 * RATE, sent
    assert sent["accepted"] == sent["sent"] and sent["refused"] == 0, sent
    n = sent["sent"]
    expected = {port: {f"{tag}-{i:06d}" for i in range(n) if PEERS[i % 3] != port}
                for port in PEERS}
    wait_for("every message delivered", lambda: all(
        status(c, p)["messages_received"] - before[p] >= len(expected[p]) for p in PEERS),
        timeout=60, interval=0.5)
    for port in PEERS:
        unit = f"gossip-peer@{port}.service"
        files = tagged(c, output_file(port), tag)
        got = collections.Counter(t for lines in files.values() for t in lines)
        assert sorted(expected[port] - set(got))[:5] == [], f"{port}: lost"
        assert {t: k for t, k in got.items() if k != 1} == {}, f"{port}: written twice"
        assert set(got) == expected[port]
        # The rotation split the flow between the rotated file and the new one.
        assert sorted(files) == [output_file(port), output_file(port) + ".1"], files
        assert all(files.values()), {f: len(v) for f, v in files.items()}
        stats = json.loads(ctl(c, port, "--json", "stats").stdout)
        assert stats["messages_received"] - before[port] == sum(got.values()), (stats, port)
        # The journal: every received event is there, or counted in a summary line.
        # The last window's summary line comes at its end, up to 10 s after the last message.
        def counted():
            logged = journal_count(c, unit, mark, "GOSSIP_EVENT=received", grep=f"{tag}-")
            summaries = [e["MESSAGE"] for e in journal(c, "-u", unit,
                                                       "GOSSIP_EVENT=not-logged", after=mark)]
            return logged, sum(held_received(m) for m in summaries), summaries
        try:
            wait_for("the last window's summary line",
                     lambda: sum(counted()[:2]) >= len(expected[port]), timeout=20, interval=1)
        except AssertionError:
            pass  # the assertion below says what is missing
        logged, held, summaries = counted()
        report.append((f"journal of {unit} at {len(expected[port]) / sent['seconds']:.0f} "
                       f"msg/s received", f"{logged} received events, {held} counted in "
                       f"{len(summaries)} summary lines"))
        assert logged + held == len(expected[port]), (logged, held, summaries[:3])
        for what in ("log", "output"):
            assert journal_count(c, unit, mark, grep=f"Reopened the {what} file ") >= 1, (unit, what)
    for port in SEEDS:
        assert journal_count(c, f"gossip-seed@{port}.service", mark,
                             grep="Reopened the log file ") >= 1
    dropped = journald_drops(c, mark)
    report.append(("journald's drops during the sustained run", "; ".join(dropped) or "none"))
    assert dropped == [], dropped
    logs = c.run("ls", "/var/log/gossip").stdout.split()
    for name in ("peer_127.0.0.1_6001.log", "peer_127.0.0.1_6001.log.1",
                 "seed_127.0.0.1_5000.log", "seed_127.0.0.1_5000.log.1"):
        assert name in logs, logs


JOURNALD_DROPIN = "/etc/systemd/journald.conf.d/50-gossip-system-test.conf"


def journald_drops(c, after):
    """journald's entries since after saying it dropped a gossip unit's messages."""
    return [e["MESSAGE"] for e in journal(c, f"MESSAGE_ID={JOURNAL_DROPPED}", after=after)
            if "gossip-" in e["MESSAGE"]]


def send_for(c, tag, seconds):
    r = c.run("python3", "/mnt/share/sender.py", "--rate", RATE, "--seconds", seconds,
              "--tag", tag, *[f"/run/gossip/peer-{p}.sock" for p in PEERS], timeout=120)
    sent = json.loads(r.stdout)
    assert sent["accepted"] == sent["sent"], sent
    return sent["sent"]


def set_journal_rate(c, rate):
    """peer.journal_message_rate = rate on every peer, reloaded (systemctl reload returns
    before the daemon has read the file: its log line says when)."""
    mark = mark_now()
    for port in PEERS:
        write_file(c, f"/etc/gossip/peer-{port}.conf", f"peer = {{ journal_message_rate = {rate}; }};\n")
        c.run("systemctl", "reload", f"gossip-peer@{port}.service")
    for unit in PEER_UNITS:
        wait_for(f"{unit} to reload", lambda: any(
            e.get("MESSAGE", "").startswith("configuration reloaded")
            for e in journal(c, "-u", unit, after=mark)))


def test_journald_limit_kept_by_journal_message_rate(net, staged, report):
    """With journald's limit made small, per-message events at 1,000 msg/s are dropped by
    journald (which the sustained test's check sees), and peer.journal_message_rate keeps
    the peers under it, every event logged or counted."""
    c = net
    share = os.path.dirname(staged)
    for f in ("tests/system/sender.py", "tests/bench/ctlproto.py"):
        shutil.copy(os.path.join(REPO, f), share)
    write_file(c, JOURNALD_DROPIN, "[Journal]\nRateLimitIntervalSec=10s\nRateLimitBurst=250\n")
    try:
        c.run("systemctl", "restart", "systemd-journald.service")
        # Every event one by one: more than journald lets through.
        set_journal_rate(c, 100000)
        mark = mark_now()
        send_for(c, f"drop{uuid.uuid4().hex[:8]}", 4)

        def dropped():
            # journald says so at the unit's first entry of a later window: give it entries.
            c.run("systemctl", "reload", *PEER_UNITS)
            drops = journald_drops(c, mark)
            return all(any(u in d for d in drops) for u in PEER_UNITS) and drops
        drops = wait_for("journald to report dropped entries of every peer", dropped,
                         timeout=30, interval=1)
        report.append(("journald (burst 250 in 10 s) with every event one by one", drops[0]))
        # peer.journal_message_rate under journald's limit: nothing dropped, all counted.
        # (journald restarted: its windows start anew.)
        c.run("systemctl", "restart", "systemd-journald.service")
        set_journal_rate(c, 20)
        mark = mark_now()
        tag = f"kept{uuid.uuid4().hex[:8]}"
        before = {p: status(c, p)["messages_received"] for p in PEERS}
        n = send_for(c, tag, 4)
        wait_for("every message delivered", lambda: all(
            status(c, p)["messages_received"] - before[p] >= n * 2 // 3 for p in PEERS),
            timeout=30, interval=0.5)
        for port in PEERS:
            unit = f"gossip-peer@{port}.service"
            expected = status(c, port)["messages_received"] - before[port]
            logged = journal_count(c, unit, mark, "GOSSIP_EVENT=received", grep=f"{tag}-")

            def counted():
                msgs = [e["MESSAGE"] for e in journal(c, "-u", unit,
                                                      "GOSSIP_EVENT=not-logged", after=mark)]
                held = sum(held_received(m) for m in msgs)
                return logged + held == expected and held
            wait_for(f"{unit}: every event logged or counted", counted, timeout=25, interval=0.5)
        assert journald_drops(c, mark) == []
    finally:
        c.run("rm", "-f", JOURNALD_DROPIN, *[f"/etc/gossip/peer-{p}.conf" for p in PEERS])
        c.run("systemctl", "restart", "systemd-journald.service")
        for port in PEERS:
            c.run("systemctl", "reload", f"gossip-peer@{port}.service")


def test_stop_target_stops_everything_cleanly(net):
    c = net
    c.run("systemctl", "stop", "gossip.target")

    def all_down():
        out = c.run("systemctl", "list-units", "--all", "--plain", "--no-legend",
                    "gossip-*").stdout
        busy = [line for line in out.splitlines()
                if line.split()[2:3] and line.split()[2] not in ("inactive", "failed")]
        return not busy and (out or "(no gossip unit loaded)")
    out = wait_for("every gossip unit to stop", all_down)
    assert " failed " not in out, out
    for unit in SEED_UNITS + PEER_UNITS:
        p = show(c, unit, "Result", "ExecMainStatus", "ActiveState")
        assert p == {"Result": "success", "ExecMainStatus": "0", "ActiveState": "inactive"}, \
            (unit, p)
    assert c.run("sh", "-c", "ls /run/gossip").stdout.split() == []


def test_logrotate_with_nothing_running(container):
    """logrotate's postrotate signals the running instances: with none, it still succeeds."""
    c = container
    assert c.run("sh", "-c", "systemctl list-units --plain --no-legend --state=active "
                 "'gossip-*@*.service'").stdout.strip() == ""
    c.run("sh", "-c", "echo more >> /var/log/gossip/seed_127.0.0.1_5000.log")
    r = c.run("logrotate", "-v", "-f", "/etc/logrotate.d/gossip", check=False)
    assert r.returncode == 0, r.stderr
    assert "running postrotate script" in r.stderr, r.stderr

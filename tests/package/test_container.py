# SPDX-License-Identifier: MIT
"""The .deb in a booted systemd container: "apt install ./gossip_*.deb", the
operator's workflow, an in-place upgrade keeping an edited conffile, "dpkg -r"
(configuration and logs kept), "dpkg --purge" (nothing left but the user),
then a second installation purged while its instances run.

The steps share one container and run in order; a step after a failed one
fails at once. Uses tests/system/container.py (an overlay of the host's root,
booted by systemd-nspawn, torn down on exit even after a failure); needs root,
systemd-nspawn (systemd-container), unshare and nsenter (util-linux), else
every step is skipped with the reason.
"""

import json
import os
import re
import shutil
import sys
import time

import pytest

from conftest import TOP, deb_field, run
from test_filelists import deb_files

sys.path.insert(0, os.path.join(TOP, "tests", "system"))
try:
    from container import Container
except ImportError as e:  # pragma: no cover - reported as a failure below
    Container = None
    IMPORT_ERROR = e

SEEDS = ["gossip-seed@5000", "gossip-seed@5001", "gossip-seed@5002"]
PEERS = ["gossip-peer@6000", "gossip-peer@6001", "gossip-peer@6002"]
INSTANCES = [u + ".service" for u in SEEDS + PEERS]
PORTS_RE = r":(500[0-2]|600[0-2])\b"
CONF_EDIT = "# edited by tests/package: must survive upgrades"
# Host services the overlay would otherwise boot as well (as tests/system does).
MASK = ("postgresql.service", "postgresql@15-main.service", "serf.service",
        "e2scrub_reap.service", "apt-daily.timer", "apt-daily-upgrade.timer",
        "dpkg-db-backup.timer", "e2scrub_all.timer", "fstrim.timer", "man-db.timer",
        "logrotate.timer")
# What a "make install" on the host would have left in the overlay: removed
# inside the container (never on the host) so that only the package is tested.
HOST_LEFTOVERS = ("/usr/local/sbin/gossip-seed /usr/local/sbin/gossip-peer /usr/local/bin/gossipctl "
                  "/usr/local/sbin/gossip-cert "
                  "/etc/gossip /var/log/gossip /run/gossip /etc/systemd/system/gossip* "
                  "/etc/systemd/system/*.wants/gossip* "
                  "/lib/systemd/system/gossip* /usr/lib/systemd/system/gossip* "
                  "/usr/lib/sysusers.d/gossip.conf /usr/lib/tmpfiles.d/gossip.conf "
                  "/usr/lib/systemd/catalog/gossip.catalog /etc/logrotate.d/gossip "
                  "/usr/local/share/bash-completion/completions/gossipctl")

_failed = []


def skip_reason():
    if os.geteuid() != 0:
        return "the package tests boot a systemd container and must run as root"
    for tool in ("systemd-nspawn", "unshare", "nsenter"):
        if not shutil.which(tool):
            return f"{tool} not found (install systemd-container and util-linux)"
    return None


@pytest.fixture(autouse=True)
def _in_order(request):
    """Each step needs the previous ones: stop at the first failure."""
    if _failed:
        pytest.fail(f"not run: {_failed[0]} failed", pytrace=False)
    yield
    reports = [getattr(request.node, "rep_" + when, None) for when in ("setup", "call")]
    if any(rep is not None and rep.failed for rep in reports):  # set by conftest.py
        _failed.append(request.node.name)


@pytest.fixture(scope="module")
def box(deb, upgrade_deb, tmp_path_factory):
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    if Container is None:
        pytest.fail(f"tests/system/container.py: {IMPORT_ERROR}", pytrace=False)
    share = tmp_path_factory.mktemp("share")
    shutil.copy(deb, share / "old.deb")
    shutil.copy(upgrade_deb, share / "new.deb")
    with Container("gossip-pkg", str(share), mask_units=MASK) as c:
        clean_slate(c)
        yield c


def clean_slate(c):
    """The overlay starts as the host's root: drop any gossip found there."""
    if c.run("dpkg-query", "-W", "gossip", check=False).returncode == 0:
        dpkg(c, "--purge", "gossip")
    sh(c, f"rm -rf {HOST_LEFTOVERS}; systemctl daemon-reload; "
          "if getent passwd gossip >/dev/null; then userdel gossip; fi; "
          "if getent group gossip >/dev/null; then groupdel gossip; fi")


def sh(c, script, **kw):
    return c.run("sh", "-c", script, **kw)


def dpkg(c, *args):
    # No terminal: a conffile question would read EOF and fail the command.
    return c.run("env", "DEBIAN_FRONTEND=noninteractive", "dpkg", *args, input="", timeout=120)


def status(c):
    return c.run("dpkg-query", "-W", "-f=${Status} ${Version}", "gossip", check=False).stdout


def wait_for(what, fn, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def exists(c, path):
    return c.run("test", "-e", path, check=False).returncode == 0


def units(c, pattern):
    """{unit: active state} of the loaded units matching pattern."""
    out = c.run("systemctl", "list-units", "--all", "--plain", "--no-legend", pattern).stdout
    return {f[0]: f[2] for f in (line.split() for line in out.splitlines()) if len(f) >= 3}


def started(c):
    """{instance: (MainPID, ActiveEnterTimestampMonotonic)}."""
    out = {}
    for u in INSTANCES:
        p = dict(line.split("=", 1) for line in c.run(
            "systemctl", "show", "-p", "MainPID", "-p", "ActiveEnterTimestampMonotonic",
            u).stdout.splitlines())
        out[u] = (int(p["MainPID"]), int(p["ActiveEnterTimestampMonotonic"]))
    return out


def neighbours(c, port):
    r = c.run("gossipctl", "-i", port, "--json", "status", check=False)
    return json.loads(r.stdout).get("neighbours", 0) if r.returncode == 0 else 0


def start_network(c):
    c.run("systemctl", "start", *SEEDS, *PEERS)
    for u in INSTANCES:
        assert c.run("systemctl", "is-active", u, check=False).stdout.strip() == "active", u


def output_file(port):
    return f"/var/log/gossip/peer-{port}/output.txt"


def broadcast_and_receive(c, text):
    """gossipctl -i 6000 send TEXT: gossip-peer@6001 and @6002 log it in the journal
    (GOSSIP_EVENT=received) and write it to their output files,
    /var/log/gossip/peer-PORT/output.txt."""
    for port in (6000, 6001, 6002):
        wait_for(f"a neighbour of peer {port}", lambda: neighbours(c, port))
    out = c.run("gossipctl", "-i", "6000", "send", text).stdout
    m = re.search(r"\bsent ([0-9a-f]{16,})", out)
    assert m, out
    msg_id = m.group(1)

    for unit in ("gossip-peer@6001", "gossip-peer@6002"):
        def received():
            c.run("journalctl", "--sync", check=False)
            r = c.run("journalctl", "-u", unit, "GOSSIP_EVENT=received", "-o", "json",
                      "--no-pager", check=False)
            return [e for e in map(json.loads, r.stdout.splitlines())
                    if e.get("GOSSIP_MSG_ID") == msg_id]

        entries = wait_for(f"{unit} to log message {msg_id}", received)
        assert len(entries) == 1, entries  # delivered once
    for port in (6001, 6002):
        wait_for(f"'{text}' in {output_file(port)}",
                 lambda: f"'{text}'" in c.run("cat", output_file(port)).stdout)


def assert_stopped(c):
    """No instance or socket active, no process of user gossip, no port open."""
    active = {u: s for u, s in units(c, "gossip*").items() if s != "inactive"}
    assert active == {}
    assert c.run("pgrep", "-u", "gossip", check=False).returncode == 1
    listening = c.run("ss", "-ltnH").stdout
    assert not re.search(PORTS_RE, listening), listening


def assert_purged(c, deb):
    assert status(c) == "", status(c)
    assert_stopped(c)
    # The package's files, configuration, logs and enablement links are gone.
    for path in deb_files(deb):
        assert not exists(c, path), f"{path} left"
    for path in ("/etc/gossip", "/var/log/gossip", "/var/lib/gossip", "/run/gossip"):
        assert not exists(c, path), f"{path} left"
    left = sh(c, "find /etc /lib/systemd /usr/lib/systemd /var/lib/systemd /var/lib/dpkg/info "
                 "/var/log /run -name '*gossip*' 2>/dev/null || true").stdout.split()
    assert left == []
    # systemd's dpkg trigger rebuilt the journal catalog without gossip's entries.
    assert "gossip" not in c.run("journalctl", "--list-catalog").stdout
    # The user and group stay (Debian policy: files they own may remain).
    c.run("getent", "passwd", "gossip")
    c.run("getent", "group", "gossip")


def test_install_starts_no_instance(box, deb, upstream_version):
    c = box
    assert c.run("getent", "passwd", "gossip", check=False).returncode == 2, \
        "user gossip exists before installation"
    # As an operator would: apt resolves the dependencies from the installed packages.
    c.run("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
          "/mnt/share/old.deb", input="", timeout=180)
    assert status(c) == f"install ok installed {deb_field(deb, 'Version')}"

    assert units(c, "gossip-*@*") == {}, "an instance was started"
    assert c.run("pgrep", "-u", "gossip", check=False).returncode == 1
    assert sh(c, "ls /etc/systemd/system/*.wants/ | grep '^gossip-' || true").stdout == ""
    # gossip.target: enabled (so enabled instances start at boot) and active.
    assert c.run("systemctl", "is-enabled", "gossip.target").stdout.strip() == "enabled"
    assert c.run("systemctl", "is-active", "gossip.target").stdout.strip() == "active"
    # The metrics timer and its service: shipped, neither enabled nor started.
    for u in ("gossip-metrics.timer", "gossip-metrics.service"):
        assert c.run("systemctl", "is-enabled", u, check=False).stdout.strip() in \
            ("disabled", "static"), u
        assert c.run("systemctl", "is-active", u, check=False).stdout.strip() == "inactive", u
    assert c.run("systemctl", "is-enabled", "gossip-metrics.timer",
                 check=False).stdout.strip() == "disabled"

    # The system user, and the directories of tmpfiles.d.
    name, _, uid, gid, _, home, shell = c.run("getent", "passwd", "gossip").stdout.strip().split(":")
    assert int(uid) < 1000 and shell.endswith("nologin"), (uid, shell)
    assert c.run("getent", "group", "gossip").stdout.split(":")[2] == gid
    assert c.run("stat", "-c", "%U:%G %a", "/var/log/gossip").stdout.split() == ["gossip:gossip", "750"]
    assert c.run("stat", "-c", "%U:%G %a", "/run/gossip").stdout.split() == ["root:root", "755"]
    # Secure by default: the postinst made a cluster CA and this host's certificate, for its
    # addresses (127.0.0.1 among them), which gossip.conf names.
    assert sorted(c.run("ls", "/etc/gossip/tls").stdout.split()) == \
        ["ca.crt", "ca.key", "node.crt", "node.key"]
    assert c.run("stat", "-c", "%U:%G %a", "/etc/gossip/tls/ca.key").stdout.split() == \
        ["root:root", "600"]
    assert c.run("stat", "-c", "%U:%G %a", "/etc/gossip/tls/node.key").stdout.split() == \
        ["root:gossip", "640"]
    c.run("gossip-cert", "verify", "/etc/gossip/tls/node.crt")
    shown = json.loads(c.run("gossip-cert", "show", "--json", "/etc/gossip/tls/node.crt").stdout)
    assert "127.0.0.1" in shown["addresses"], shown
    assert 'mode = "required";' in c.run("cat", "/etc/gossip/gossip.conf").stdout

    for prog in ("gossip-seed", "gossip-peer", "gossipctl", "gossip-cert"):
        assert c.run("sh", "-c", f"command -v {prog}").stdout.strip().startswith("/usr/")
        assert c.run(prog, "--version").stdout.strip() == f"{prog} {upstream_version}"
    c.run("systemd-analyze", "verify", "--man=no", "gossip-seed@5000.service",
          "gossip-peer@6000.service", "gossip.target")
    # The man pages are found by man(1) (where man-db is installed), and the
    # catalog by journalctl.
    if sh(c, "command -v man", check=False).returncode == 0:
        for page in ("gossip-seed", "gossip-peer", "gossipctl", "gossip-cert", "gossip.conf",
                     "gossip"):
            c.run("man", "-w", page)
    assert "gossip" in c.run("journalctl", "--list-catalog").stdout


def test_operator_workflow(box):
    c = box
    start_network(c)
    assert c.run("systemctl", "show", "-P", "User", "gossip-peer@6000").stdout.strip() == "gossip"
    broadcast_and_receive(c, "hello")
    # Over mutual TLS, with the postinst's certificate.
    c.run("journalctl", "--sync")
    for u in ("gossip-seed@5000", "gossip-peer@6000"):
        text = c.run("journalctl", "-u", u, "-o", "cat").stdout
        assert "TLS required: certificate" in text and "without TLS" not in text, (u, text)
    # Every daemon's log file is in the log directory.
    logs = c.run("ls", "/var/log/gossip").stdout.split()
    for port in (5000, 5001, 5002):
        assert f"seed_127.0.0.1_{port}.log" in logs, logs
    for port in (6000, 6001, 6002):
        assert f"peer_127.0.0.1_{port}.log" in logs, logs
        assert f"peer-{port}" in logs, logs
    metrics_written(c)


def metrics_written(c):
    """gossip-metrics.service, run once and again: node_exporter's textfile holds every peer's
    metrics, and each run renames a new file over it (a new inode), leaving no temporary."""
    d = "/var/lib/prometheus/node-exporter"
    c.run("mkdir", "-p", d)
    inodes = []
    for _ in range(2):
        c.run("systemctl", "start", "gossip-metrics.service", timeout=60)
        assert sorted(c.run("ls", "-A", d).stdout.split()) == ["gossip.prom"]
        assert c.run("stat", "-c", "%U %a", f"{d}/gossip.prom").stdout.split() == ["root", "644"]
        inodes.append(c.run("stat", "-c", "%i", f"{d}/gossip.prom").stdout.strip())
    assert inodes[0] != inodes[1], "gossip.prom was rewritten in place, not replaced"
    text = c.run("cat", f"{d}/gossip.prom").stdout
    assert text.endswith("\n") and "# TYPE gossip_messages_received_total counter" in text
    for port in (6000, 6001, 6002):
        assert f'gossip_ready{{instance="{port}"}} 1' in text, text


COMPLETE = r'''
source /usr/share/bash-completion/completions/gossipctl
COMP_WORDS=(gossipctl "$@"); COMP_CWORD=$#
_gossipctl
echo "${COMPREPLY[*]}"
'''


def test_rotation_and_completion(box):
    """The shipped logrotate configuration rotates the running instances' files without a
    line lost, and the shipped bash completion offers the commands and the running ports."""
    c = box
    assert "/var/log/gossip/peer-*/output.txt" in c.run("cat", "/etc/logrotate.d/gossip").stdout
    r = c.run("logrotate", "-v", "-f", "/etc/logrotate.d/gossip", check=False)
    assert r.returncode == 0, r.stderr
    for port in (6001, 6002):
        assert "'hello'" in c.run("cat", output_file(port) + ".1").stdout
        c.run("test", "-f", f"/var/log/gossip/peer_127.0.0.1_{port}.log.1")
    broadcast_and_receive(c, "after the rotation")
    for port in (6001, 6002):
        assert "'hello'" not in c.run("cat", output_file(port)).stdout
        assert "'after the rotation'" not in c.run("cat", output_file(port) + ".1").stdout
        assert c.run("stat", "-c", "%U:%G %a", output_file(port)).stdout.split() == \
            ["gossip:gossip", "640"]
    c.run("journalctl", "--sync")
    text = c.run("journalctl", "-u", "gossip-peer@6001", "-o", "cat").stdout
    assert f"Reopened the output file {output_file(6001)}" in text, text
    ports = c.run("bash", "--norc", "-c", COMPLETE, "gossipctl", "-i", "").stdout.split()
    assert ports == ["6000", "6001", "6002"], ports
    words = c.run("bash", "--norc", "-c", COMPLETE, "gossipctl", "st").stdout.split()
    assert sorted(words) == ["stats", "status"], words


def test_upgrade_keeps_conffile_and_restarts(box, upgrade_deb):
    c = box
    sh(c, f"echo '{CONF_EDIT}' >> /etc/gossip/gossip.conf")
    c.run("systemctl", "enable", "gossip-peer@6000.service", "gossip-peer@6000.socket")
    before = started(c)
    assert all(pid for pid, _ in before.values()), before
    tls_before = sh(c, "sha256sum /etc/gossip/tls/*").stdout

    dpkg(c, "-i", "/mnt/share/new.deb")
    assert status(c) == f"install ok installed {deb_field(upgrade_deb, 'Version')}"

    conf = c.run("cat", "/etc/gossip/gossip.conf").stdout
    assert CONF_EDIT in conf
    assert sh(c, "ls -A /etc/gossip").stdout.split() == ["gossip.conf", "seeds.txt", "tls"]
    # The upgrade kept the CA and the certificate (the postinst makes only what is missing).
    assert sh(c, "sha256sum /etc/gossip/tls/*").stdout == tls_before

    after = started(c)
    for u in INSTANCES:
        assert c.run("systemctl", "is-active", u, check=False).stdout.strip() == "active", u
        assert after[u][0] and after[u][0] != before[u][0], \
            f"{u} not restarted: MainPID {before[u][0]} -> {after[u][0]}"
        assert after[u][1] > before[u][1], f"{u}: ActiveEnterTimestamp did not change"
    for u in ("gossip-peer@6000.socket", "gossip.target"):
        assert c.run("systemctl", "is-active", u).stdout.strip() == "active", u
    assert c.run("systemctl", "is-enabled", "gossip-peer@6000").stdout.strip() == "enabled"
    broadcast_and_receive(c, "hello again")


def test_remove_keeps_configuration_and_logs(box, upgrade_deb):
    c = box
    dpkg(c, "-r", "gossip")
    assert status(c) == f"deinstall ok config-files {deb_field(upgrade_deb, 'Version')}"
    assert_stopped(c)

    conffiles = run("dpkg-deb", "--info", upgrade_deb, "conffiles").stdout.split()
    assert conffiles
    for path in deb_files(upgrade_deb):
        if path not in conffiles:
            assert not exists(c, path), f"{path} left after dpkg -r"
    for path in conffiles:
        assert exists(c, path), f"conffile {path} removed by dpkg -r"
    assert CONF_EDIT in c.run("cat", "/etc/gossip/gossip.conf").stdout
    assert exists(c, "/etc/gossip/tls/ca.key") and exists(c, "/etc/gossip/tls/node.crt"), \
        "dpkg -r removed the CA or the certificate (only purge does)"
    assert "'hello again'" in c.run("cat", output_file(6001)).stdout
    c.run("getent", "passwd", "gossip")


def test_purge_after_remove(box, upgrade_deb):
    c = box
    dpkg(c, "--purge", "gossip")
    assert_purged(c, upgrade_deb)


def test_purge_running_installation(box, deb):
    """Installed again (the kept user is reused), in use, enabled, then purged at once."""
    c = box
    uid = c.run("id", "-u", "gossip").stdout
    dpkg(c, "-i", "/mnt/share/old.deb")
    assert c.run("id", "-u", "gossip").stdout == uid
    assert units(c, "gossip-*@*") == {}, "an instance was started"
    start_network(c)
    c.run("systemctl", "enable", "gossip-peer@6001.service", "gossip-peer@6001.socket",
          "gossip-seed@5000.socket")
    broadcast_and_receive(c, "hello once more")

    dpkg(c, "--purge", "gossip")
    assert_purged(c, deb)

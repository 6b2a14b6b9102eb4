# SPDX-License-Identifier: MIT
"""A throw-away systemd container over an overlay of the host's root.

Follows ../shared/docs/systemd-container-testing.md: in a private mount
namespace, a tmpfs holds the upper and work directories of an overlay whose
lower directory is the host's "/", a tmpfs covers /run/systemd, and
systemd-nspawn boots a real systemd as PID 1 of the overlay with a private
network. Nothing is written to the host's root: the overlay's changes live in
the tmpfs, which vanishes with the namespace when nspawn exits.

    with Container("gossip-sys", share_dir) as c:
        c.run("systemctl", "start", "gossip-seed@5000")

Teardown (even when a test fails, or on SIGTERM) powers the container off and
removes its cgroups and temporary directory. Should the test process be killed
outright, nspawn gets SIGTERM from the kernel (parent-death signal) and powers
the container off, and the next run removes the leftover directories.

Needs root, systemd-nspawn (package systemd-container), unshare and nsenter
(util-linux).
"""

import ctypes
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

# The launcher runs in its own mount namespace (unshare --mount --propagation
# private) and execs systemd-nspawn, so the nspawn PID is the launcher's PID and
# every mount below disappears with the namespace when nspawn exits.
_LAUNCHER = r"""
set -eu
cg=$1 scratch=$2 name=$3 share=$4
shift 4
# --keep-unit puts nspawn's payload/ and supervisor/ cgroups under ours.
for h in systemd unified; do
    if [ -d "/sys/fs/cgroup/$h" ]; then
        mkdir -p "/sys/fs/cgroup/$h/$cg"
        echo $$ > "/sys/fs/cgroup/$h/$cg/cgroup.procs"
    fi
done
mount -t tmpfs -o mode=0755 gossip-scratch "$scratch"
mkdir "$scratch/upper" "$scratch/work" "$scratch/root"
mount -t overlay -o "lowerdir=/,upperdir=$scratch/upper,workdir=$scratch/work" \
    gossip-overlay "$scratch/root"
mount -t tmpfs -o mode=0755 gossip-run-systemd /run/systemd
root=$scratch/root
# Debian images ship a policy-rc.d that forbids starting services from postinst.
rm -f "$root/usr/sbin/policy-rc.d"
for unit in "$@"; do
    ln -sfn /dev/null "$root/etc/systemd/system/$unit"
done
exec systemd-nspawn -D "$root" -M "$name" --register=no --keep-unit \
    --private-network --bind="$share:/mnt/share" --console=read-only -b
"""

# Commands inside get a clean, predictable environment rather than the host's.
_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    "SYSTEMD_PAGER": "",
    "SYSTEMD_COLORS": "0",
    "SYSTEMD_LESS": "",
}

_CGROUP_ROOT = "/sys/fs/cgroup"
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """In the launcher, before exec: SIGTERM it when the Python process dies, even by SIGKILL.

    The launcher execs systemd-nspawn, which keeps the parent-death signal and answers
    SIGTERM by powering the container off, so a killed test run leaves no container behind.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:  # the parent already died before prctl took effect
        os._exit(1)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _children(pid):
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _rmdir_tree(top):
    """Removes a cgroup directory tree depth first; a cgroup still holding processes stays."""
    for d, _, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
        try:
            os.rmdir(d)
        except OSError:
            pass


def sweep_stale(name):
    """Removes what a run killed outright (SIGKILL: no teardown) left for containers called name.

    Only leftovers whose owning test process (the PID in their name) is gone: its empty
    cgroup directories and its temporary directory. Processes are never touched.
    """
    pat = re.compile(rf"^{re.escape(name)}-(\d+)-[^/]*$")
    stale = []
    for path in (glob.glob(os.path.join(_CGROUP_ROOT, "*", f"{name}-*"))
                 + glob.glob(os.path.join(tempfile.gettempdir(), f"{name}-*"))):
        m = pat.match(os.path.basename(path))
        if m and os.path.isdir(path) and not _alive(int(m.group(1))):
            stale.append(path)
    for path in stale:
        if path.startswith(_CGROUP_ROOT + "/"):
            _rmdir_tree(path)
        else:
            # Its mounts lived in the launcher's namespace, gone with it: plain directories.
            with open("/proc/self/mountinfo") as f:
                mounted = any(path in line for line in f)
            if not mounted:
                shutil.rmtree(path, ignore_errors=True)


class Container:
    """A booted systemd container; use as a context manager."""

    def __init__(self, name: str, share_dir: str, mask_units=()):
        self.name = name
        self.share_dir = os.path.abspath(share_dir)
        self.mask_units = tuple(mask_units)
        # Unique per process so concurrent containers never share a cgroup; the PID in the
        # name lets a later run recognise what a killed run left behind (sweep_stale()).
        self.cgroup = f"{name}-{os.getpid()}-{id(self) & 0xFFFF:x}"
        self.pid = None  # the container's PID 1 on the host
        self.nspawn = None  # the systemd-nspawn Popen
        self._tmp = None
        self.console_log = None

    # -- lifecycle --------------------------------------------------------

    def __enter__(self) -> "Container":
        # A SIGTERM (a CI timeout, say) would end Python without running __exit__ and
        # leave the container behind: turn it into KeyboardInterrupt while we run.
        self._old_sigterm = None
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL):
            self._old_sigterm = signal.signal(signal.SIGTERM, _interrupt)
        try:
            self._start()
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(self, *exc):
        self._teardown()
        return False

    def _start(self, boot_timeout=60):
        sweep_stale(self.name)
        self._tmp = tempfile.mkdtemp(prefix=f"{self.name}-{os.getpid()}-")
        scratch = os.path.join(self._tmp, "scratch")
        os.mkdir(scratch)
        self.console_log = os.path.join(self._tmp, "console.log")
        with open(self.console_log, "wb") as log:
            self.nspawn = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", _LAUNCHER,
                 "gossip-launcher", self.cgroup, scratch, self.name, self.share_dir,
                 *self.mask_units],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=dict(_ENV), start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + boot_timeout
        # nspawn first forks a short-lived helper; PID 1 is the child named systemd.
        while self.pid is None:
            if self.nspawn.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited with {self.nspawn.returncode}:\n"
                                   + self.console())
            for kid in _children(self.nspawn.pid):
                if _comm(kid) == "systemd":
                    self.pid = kid
            if self.pid is None:
                if time.monotonic() > deadline:
                    raise RuntimeError("container PID 1 never appeared:\n" + self.console())
                time.sleep(0.02)
        state = ""
        while True:
            r = self.run("systemctl", "is-system-running", "--wait", check=False,
                         timeout=max(1, deadline - time.monotonic()))
            state = r.stdout.strip()
            if state in ("running", "degraded"):
                break
            if self.nspawn.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"container did not boot (state {state!r}, "
                                   f"{r.stderr.strip()}):\n" + self.console())
            time.sleep(0.05)
        self.state = state

    def console(self, tail=60):
        """The last lines nspawn printed (the boot log)."""
        try:
            with open(self.console_log, errors="replace") as f:
                return "".join(f.readlines()[-tail:])
        except (OSError, TypeError):
            return ""

    def _teardown(self):
        p = self.nspawn
        if p is not None and p.poll() is None:
            if self.pid is not None and _alive(self.pid):
                try:
                    subprocess.run(["nsenter", "-t", str(self.pid), "-a", "systemctl",
                                    "poweroff", "--no-block"], env=dict(_ENV), timeout=10,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                except (subprocess.TimeoutExpired, OSError):
                    pass
            for sig, wait in ((None, 20), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                if sig is not None:
                    try:
                        os.kill(p.pid, sig)  # that PID only
                    except ProcessLookupError:
                        pass
                try:
                    p.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    pass
        if p is not None and p.poll() is None:
            p.wait()
        # Should nspawn have died first, its PID 1 takes the whole PID namespace with it.
        if self.pid is not None and _alive(self.pid) and _comm(self.pid) == "systemd":
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 5
            while _alive(self.pid) and time.monotonic() < deadline:
                time.sleep(0.02)
        self._remove_cgroups()
        if self._tmp:
            # The mounts lived in the launcher's namespace: the host sees empty directories.
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        self.pid = None
        if getattr(self, "_old_sigterm", None) is not None:
            signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None

    def _remove_cgroups(self, timeout=10):
        deadline = time.monotonic() + timeout
        for h in ("systemd", "unified"):
            top = os.path.join(_CGROUP_ROOT, h, self.cgroup)
            while os.path.isdir(top):
                _rmdir_tree(top)
                if not os.path.isdir(top):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cannot remove cgroup {top}")
                time.sleep(0.05)

    # -- running commands -------------------------------------------------

    def run(self, *argv, input=None, check=True, timeout=60, user=None):
        """Runs argv inside the container (all its namespaces) and returns the CompletedProcess.

        user: run as that user with its groups (setpriv --init-groups).
        check: raise AssertionError, with stdout and stderr, on a non-zero exit.
        """
        if self.pid is None:
            raise RuntimeError("container is not running")
        argv = [str(a) for a in argv]
        if user is not None:
            argv = ["sh", "-c",
                    'exec setpriv --reuid="$0" --regid="$(id -g "$0")" --init-groups -- "$@"',
                    str(user), *argv]
        cmd = ["nsenter", "-t", str(self.pid), "-a", *argv]
        try:
            r = subprocess.run(cmd, input=input, text=True, capture_output=True,
                               timeout=timeout, env=dict(_ENV))
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"{' '.join(argv)}: timed out after {timeout} s\n"
                                 f"stdout: {e.stdout}\nstderr: {e.stderr}") from None
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(argv)}: exit status {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

# SPDX-License-Identifier: MIT
"""Helpers of the network-namespace test: namespaces joined by a bridge, sockets and daemons in
them, and the cluster the `hosts` fixture (conftest.py) builds from them.

Every interface is created inside the test's own namespaces (the veth pairs are made in the
switch's namespace, the far end moved straight into a host's): the machine's own interfaces,
routes and addresses are never touched. Daemons run under `ip netns exec`, which execs them (the
PID started is the daemon's); Python clients get sockets made in a host's namespace.
"""
import atexit
import ctypes
import ipaddress
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

import gossipnet  # noqa: E402
import wireproto as w  # noqa: E402
from gossipnet import wait_until  # noqa: E402

IP_BIN = shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin") or "ip"
# The subnets tried, in order: the first not in use on this machine (none of its addresses or
# routes) is taken, though the namespaces would not see the machine's anyway.
SUBNETS = ["10.199.0.0/24", "10.199.77.0/24", "172.31.199.0/24", "192.168.199.0/24",
           "198.18.199.0/24"]
SEED_PORT = 5000
PEER_PORT = 6000
# Generous for a loaded 2-core machine, and for the sanitizer build.
READY_TIMEOUT = 60.0
TIMEOUT = 60.0
# peer.* settings of every node: liveness that a loaded machine does not mistake for deaths.
STEADY = dict(ping_interval=1.0, ping_timeout=1.0, ping_misses=3)

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


# --- network namespaces ------------------------------------------------------------------

def ip(*args, check=True, timeout=30):
    """Runs `ip args...`; returns the CompletedProcess (asserting success when check is set)."""
    p = subprocess.run([IP_BIN] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    if check:
        assert p.returncode == 0, f"ip {' '.join(map(str, args))} failed: {p.stderr.strip()}"
    return p


def netns_list():
    p = ip("netns", "list", check=False)
    return {ln.split()[0] for ln in p.stdout.splitlines() if ln.strip()}


def why_no_netns():
    """Why this test cannot run here (not root, no `ip netns`), or None when it can."""
    if os.geteuid() != 0:
        return "needs root: it creates network namespaces (ip netns add)"
    if not os.access(IP_BIN, os.X_OK):
        return "needs ip(8) from iproute2 (ip netns)"
    probe = f"gossip-probe-{secrets.token_hex(4)}"
    p = ip("netns", "add", probe, check=False)
    if p.returncode != 0:
        return f"ip netns is unavailable here: ip netns add: {p.stderr.strip()}"
    _leftover.add(probe)
    if ip("netns", "del", probe, check=False).returncode == 0:
        _leftover.discard(probe)
    return None


def host_networks():
    """The IPv4 networks in use on this machine: its addresses', and its routes' but the default."""
    nets = []
    for a in json.loads(ip("-j", "-4", "addr", "show").stdout or "[]"):
        for info in a.get("addr_info", []):
            nets.append(ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False))
    for r in json.loads(ip("-j", "-4", "route", "show", "table", "all").stdout or "[]"):
        dst = r.get("dst", "")
        if dst and dst != "default":
            try:
                nets.append(ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False))
            except ValueError:
                pass
    return nets


def free_subnet():
    used = host_networks()
    for s in SUBNETS:
        net = ipaddress.ip_network(s)
        if not any(net.overlaps(u) for u in used):
            return net
    raise AssertionError(f"none of {SUBNETS} is free on this machine (in use: {used})")


def in_netns(ns, make):
    """make(), called in network namespace ns; what it returns (a socket, a TUN fd) stays usable
    from this process.

    setns(2) moves only the calling thread, so a short-lived thread enters ns and calls make,
    and this thread stays where it is."""
    result = {}

    def run():
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns({ns}): {os.strerror(e)}")
            finally:
                os.close(fd)
            result["value"] = make()
        except BaseException as e:  # handed to the caller
            result["error"] = e

    t = threading.Thread(target=run, name=f"setns-{ns}")
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def netns_socket(ns, family=socket.AF_INET, kind=socket.SOCK_STREAM):
    """A socket created in network namespace ns, usable from this process."""
    return in_netns(ns, lambda: socket.socket(family, kind))


class NsConn(w.WireConn):
    """A wire-protocol connection (wireproto.WireConn) whose socket lives in namespace ns."""

    def __init__(self, ns, host, port, tls=None, timeout=20.0):
        sock = netns_socket(ns)
        try:
            sock.settimeout(timeout)
            sock.connect((host, port))
            if tls is not None:
                sock = tls.wrap_socket(sock)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.buf = b""


_leftover = set()  # namespaces to delete at exit should a teardown never run


@atexit.register
def _delete_leftovers():
    for name in list(_leftover):
        ip("netns", "del", name, check=False)


class Host:
    """One host: a network namespace and its address on the bridge."""

    def __init__(self, n, ns, addr):
        self.n = n
        self.ns = ns
        self.ip = str(addr)
        self.cert = self.key = None  # its certificate, issued by the cluster CA

    def __repr__(self):
        return f"<host{self.n} {self.ns} {self.ip}>"


class Namespaces:
    """Four namespaces: a switch with a bridge, and three hosts linked to it by veth pairs."""

    def __init__(self):
        self.created = []
        self.subnet = free_subnet()
        self.tag = secrets.token_hex(3)
        self.switch = None
        self.hosts = []

    def _add(self, role):
        for _ in range(10):
            name = f"gossip-{self.tag}-{role}"
            p = ip("netns", "add", name, check=False)
            if p.returncode == 0:
                self.created.append(name)
                _leftover.add(name)
                return name
            if name not in netns_list():
                raise AssertionError(f"ip netns add {name} failed: {p.stderr.strip()}")
            self.tag = secrets.token_hex(3)  # taken: another suffix (only for later names)
        raise AssertionError("no free namespace name")

    def build(self, n_hosts=3):
        self.switch = self._add("sw")
        ip("-n", self.switch, "link", "set", "lo", "up")
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        addrs = list(self.subnet.hosts())
        for i in range(1, n_hosts + 1):
            ns = self._add(f"h{i}")
            # Made inside the switch's namespace, the far end moved straight into the host's.
            ip("-n", self.switch, "link", "add", f"p{i}", "type", "veth", "peer", "name", "eth0",
               "netns", ns)
            ip("-n", self.switch, "link", "set", f"p{i}", "master", "br0")
            ip("-n", self.switch, "link", "set", f"p{i}", "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "addr", "add", f"{addrs[i - 1]}/{self.subnet.prefixlen}", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            self.hosts.append(Host(i, ns, addrs[i - 1]))
        self.wait_reachable()
        return self

    def wait_reachable(self):
        """Every host reaches every other: a TCP connect to a closed port is refused (a RST
        came back) rather than timing out."""
        def reaches(src, dst):
            s = netns_socket(src.ns)
            s.settimeout(2)
            try:
                s.connect((dst.ip, 9))
                return True
            except ConnectionRefusedError:
                return True
            except OSError:
                return False
            finally:
                s.close()
        pairs = [(a, b) for a in self.hosts for b in self.hosts if a is not b]
        wait_until(lambda: all(reaches(a, b) for a, b in pairs), TIMEOUT,
                   what="the hosts to reach each other over the bridge")

    def destroy(self):
        """Deletes the namespaces this object created (their veths and bridge go with them);
        returns a list of problems."""
        problems = []
        for name in reversed(self.created):
            p = ip("netns", "del", name, check=False)
            if p.returncode != 0 and name in netns_list():
                problems.append(f"ip netns del {name}: {p.stderr.strip()}")
        left = netns_list() & set(self.created)
        if left:
            problems.append(f"namespaces left behind: {sorted(left)}")
        _leftover.difference_update(set(self.created) - left)
        self.created = [n for n in self.created if n in left]
        return problems


# --- daemons in namespaces ---------------------------------------------------------------

def netns_of_pid(pid):
    """The inode of the network namespace process pid is in."""
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def netns_inode(ns):
    return os.stat(f"/run/netns/{ns}").st_ino


class NsSeed(gossipnet.Seed):
    def __init__(self, net, host, port, name, config):
        super().__init__(net, port, name, ip=host.ip)
        self.host = host
        self.config = config

    def argv(self):
        return [IP_BIN, "netns", "exec", self.host.ns, gossipnet.SEED_BIN, "-c", self.config,
                "-L", self.dir, self.ip, self.port]

    @property
    def log_path(self):
        return self.dir / f"seed_{self.ip}_{self.port}.log"


class NsPeer(gossipnet.Peer):
    def __init__(self, net, host, port, name, config):
        super().__init__(net, port, name, config=config, ip=host.ip)
        self.host = host

    def argv(self):
        return [IP_BIN, "netns", "exec", self.host.ns] + super().argv()


class Cluster:
    """The three hosts, the cluster CA, and the daemons on them."""

    def __init__(self, net, spaces):
        self.net = net
        self.spaces = spaces
        self.hosts = spaces.hosts
        self.ca = None
        self.seed = None
        self.peers = []  # one per host, in host order

    @property
    def dir(self):
        return self.net.dir

    def seed_addr(self):
        return f"{self.hosts[0].ip}:{SEED_PORT}"

    def write_config(self, name, ca_file, cert, key, seeds=None):
        """A configuration file: the seed list, steady liveness, and TLS required."""
        seeds = seeds or [self.seed_addr()]
        lines = ["seeds = [ " + ", ".join(json.dumps(s) for s in seeds) + " ];",
                 "peer = { " + " ".join(f"{k} = {v};" for k, v in STEADY.items()) + " };",
                 "tls = {", '  mode = "required";', f"  ca_file = {json.dumps(str(ca_file))};",
                 f"  cert_file = {json.dumps(str(cert))};", f"  key_file = {json.dumps(str(key))};",
                 "};"]
        path = Path(self.dir) / f"{name}.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def add_peer(self, host, port, name, config):
        p = NsPeer(self.net, host, port, name, config)
        self.net.peers.append(p)
        return p.start()

    @staticmethod
    def check_netns(d):
        """The daemon runs in its host's namespace (ip netns exec execs it: same PID). Call it
        once the daemon has shown a sign of life (READY=1, a log line): before, the PID may
        still be ip(8) entering the namespace."""
        assert netns_of_pid(d.pid) == netns_inode(d.host.ns), \
            f"{d.name} (pid {d.pid}) not in {d.host.ns}"
        assert netns_of_pid(d.pid) != netns_of_pid(os.getpid()), \
            f"{d.name} (pid {d.pid}) in this test's own namespace"

    def tls(self, cert, key, ca=None):
        """A TLS client context trusting the cluster CA (or ca), presenting cert."""
        return w.tls_context(ca or self.ca / "ca.crt", cert, key)

    def connect(self, host, target, port, cert, key, ca=None, timeout=20.0):
        """A TLS connection from host's namespace to target (a Host) at port."""
        return NsConn(host.ns, target.ip, port, tls=self.tls(cert, key, ca), timeout=timeout)

    def registry(self):
        """The addresses the seed has registered, asked with PEER_LIST_REQ over TLS from host 2
        with host 2's own (valid) certificate."""
        h2 = self.hosts[1]
        with self.connect(h2, self.hosts[0], SEED_PORT, h2.cert, h2.key) as c:
            c.send(w.peer_list_req())
            fr = c.recv_frame(TIMEOUT)
            assert fr is not None and fr[0] == w.PEER_LIST, \
                f"unexpected reply to PEER_LIST_REQ: {fr!r}"
            return {f"{a}:{p}" for a, p in w.decode_peer_list(fr[1])}

    def all_output(self):
        """Every line of every output.txt of every peer started (intruders included)."""
        return [(p.name, ln) for p in self.net.peers for ln in p.output_lines()]

    def wait_full_mesh(self, timeout=TIMEOUT):
        """Waits until each peer has the two others as neighbours, up."""
        state = {}

        def cond():
            for p in self.peers:
                state[p.name] = p.up_neighbours()
            return all(state[p.name] >= {q.addr for q in self.peers if q is not p}
                       for p in self.peers)
        wait_until(cond, timeout, interval=0.2,
                   what=lambda: f"a full mesh of the 3 peers; last seen {state}")


def sign(key, data, workdir):
    """An Ed25519 signature of data with the key file (openssl pkeyutl -rawin)."""
    d = Path(workdir)
    msg, sig = d / f"msg-{secrets.token_hex(4)}", d / f"sig-{secrets.token_hex(4)}"
    msg.write_bytes(data)
    subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", str(key), "-rawin", "-in", str(msg),
                    "-out", str(sig)], check=True, capture_output=True, timeout=30)
    return sig.read_bytes()


def signed_gossip(key, origin, payload, workdir, seq=1):
    """A GOSSIP frame from origin (ip, port), stamped now and signed with key; and its id."""
    ts = int(time.time() * 1e6)
    mid = w.message_id(origin, ts, seq, payload)
    sig = sign(key, w.signed_bytes(mid), workdir)
    return w.gossip(origin, payload, timestamp=ts, seq=seq, msg_id=mid, sig=sig)

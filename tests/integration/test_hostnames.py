# SPDX-License-Identifier: MIT
"""Host names wherever an address is accepted: seed lists, seeds = [...], address, <ip>.

localhost resolves from /etc/hosts, without a network. What a name resolves
to is changed mid-test in a private mount namespace (root only): each daemon
that resolves runs under unshare -m with a file of the test bind-mounted over
/etc/hosts, and /etc/nsswitch.conf saying "hosts: files", so that no lookup
leaves the host. The file is rewritten in place to move a name, or drop it.
"""
import os
import re
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from gossipnet import LOCAL, PEER_BIN, SEED_BIN, Peer, Seed, base_env, free_port, wait_until

RATELIMIT_BURST = 10  # src/core/ratelimit.h: warnings of one kind let through per window
MOVED_IP = "127.0.0.2"


def peer_argv(peer, *args):
    return [PEER_BIN, "-L", peer.dir, "-s", peer.ctl_path, *args]


def test_localhost_in_seed_list_and_address(network):
    """The issue's line, localhost:PORT in a seed list, and a name as <ip>, as address and in
    seeds = [...]: the daemons start, register by the names' addresses and gossip."""
    net = network("names")
    seeds = net.start_seeds(2)
    seed_list = net.dir / "s2.txt"
    seed_list.write_text("".join(f"localhost:{s.port}\n" for s in seeds))
    p1 = Peer(net, free_port(), "by-ip-arg")
    p1.custom_argv = peer_argv(p1, "localhost", p1.port, seed_list)
    conf = net.dir / "named.conf"
    conf.write_text('address = "localhost";\nseeds = [ ' +
                    ", ".join(f'"localhost:{s.port}"' for s in seeds) + " ];\n")
    p2 = Peer(net, free_port(), "by-address")
    p2.custom_argv = peer_argv(p2, "-c", conf, p2.port)
    for p in (p1, p2):
        net.peers.append(p)
        p.start()
    for p in (p1, p2):
        p.wait_ready()
        assert p.status()["seeds_registered"] == 2
        # Its address is localhost's, in its log's name and in what it advertises.
        p.wait_log(rf"Peer {LOCAL}:{p.port} listening; registering with 2 of 2 seeds")
    for s in seeds:
        s.wait_log(rf"New peer registered: {LOCAL}:{p1.port}\.")
        s.wait_log(rf"New peer registered: {LOCAL}:{p2.port}\.")
    text = f"by name {uuid.uuid4().hex}"
    p1.send(text)
    net.wait_delivered([p2], text)
    # --check-config prints the names as written.
    c = subprocess.run([PEER_BIN, "--check-config", "-c", conf], env=base_env(net.dir),
                       capture_output=True, timeout=30)
    assert c.returncode == 0, c
    out = c.stdout.decode()
    assert f'seeds = [ "localhost:{seeds[0].port}", "localhost:{seeds[1].port}" ];' in out
    assert 'address = "localhost";' in out


def test_seed_by_name(network):
    """gossip-seed takes a name for its own address too."""
    net = network("seedname")
    port = free_port()
    net.set_seed_ports([port])
    s = Seed(net, port, "seed-by-name")
    s.custom_argv = [SEED_BIN, "-c", net.config_path, "-L", s.dir, "localhost", port]
    s.cwd = s.dir
    net.seeds.append(s)
    s.start().wait_ready()
    s.wait_log(rf"{LOCAL}:{port}")
    net.add_peer()


def _ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback address (::1) on this host")
def test_ipv6_in_brackets_still(network):
    """[::1]:PORT in a seed list, next to the names: an IPv6 seed and peer still work."""
    net = network("ipv6")
    port = free_port()
    net.set_seed_ports([port])
    seed = SeedAt(net, port, "seed-v6", ip="::1")
    net.seeds.append(seed)
    seed.start().wait_ready()
    seed_list = net.dir / "seeds.txt"
    seed_list.write_text(f"# IPv6\n[::1]:{port}\n")
    p = Peer(net, free_port(), "peer-v6", ip="::1")
    p.custom_argv = peer_argv(p, "::1", p.port, seed_list)
    net.peers.append(p)
    p.start().wait_ready()
    seed.wait_log(rf"New peer registered: \[::1\]:{p.port}\.")


# --- in a mount namespace of our own, with /etc/hosts ours ---------------------------------

def _can_unshare():
    if os.geteuid() != 0:
        return "needs root: /etc/hosts is replaced in a private mount namespace (unshare -m)"
    try:
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                           capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unshare unavailable: {e}"
    if r.returncode != 0:
        return f"unshare -m failed: {r.stderr.decode(errors='replace').strip()}"
    return None


needs_namespace = pytest.mark.skipif(_can_unshare() is not None, reason=str(_can_unshare()))


class Hosts:
    """A hosts file and an nsswitch.conf ("hosts: files") to bind-mount over the system's."""

    def __init__(self, directory, text):
        self.path = Path(directory) / "hosts"
        self.nss = Path(directory) / "nsswitch.conf"
        self.nss.write_text("hosts: files\n")
        self.write(text)

    def write(self, text):
        """Rewrites the file in place: the bind mount holds its inode."""
        with open(self.path, "r+" if self.path.exists() else "w") as f:
            f.write(text)
            f.truncate()

    def wrap(self, argv):
        """argv run in a mount namespace of its own with these files as the system's."""
        script = 'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@"'
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                self.path, self.nss, *argv]


class SeedAt(Seed):
    """A seed at another loopback address than 127.0.0.1."""

    def argv(self):
        return [SEED_BIN, "-c", self.net.config_path, "-L", self.dir, self.ip, self.port]

    @property
    def log_path(self):
        return self.dir / f"seed_{self.ip}_{self.port}.log"


def start_peer_in(hosts, net, seeds, *options, extra=""):
    """A peer in a mount namespace with hosts, its seeds the strings given, its lease 2 s."""
    conf = net.dir / "peer.conf"
    write_seeds(conf, seeds, extra)
    p = Peer(net, free_port(), "peer-ns")
    p.custom_argv = hosts.wrap(peer_argv(p, *options, "-c", conf, LOCAL, p.port))
    net.peers.append(p)
    return p.start().wait_ready(), conf


def write_seeds(conf, seeds, extra=""):
    conf.write_text("seeds = [\n" + ",\n".join(f'  "{s}"' for s in seeds) +
                    "\n];\nseed = { lease_time = 2; };\n" + extra)


def tls_lines(ca_dir, cert, key):
    return (f'tls = {{ mode = "required"; ca_file = "{ca_dir}/ca.crt"; cert_file = "{cert}"; '
            f'key_file = "{key}"; }};\n')


def run_peer_in(hosts, net, argv):
    return subprocess.run([str(a) for a in hosts.wrap(argv)], env=base_env(net.dir), capture_output=True,
                          timeout=60, cwd=net.dir)


@needs_namespace
def test_own_name_takes_ipv4_first(network):
    """/etc/hosts as Debian writes it, ::1 first: localhost is still 127.0.0.1 for the node's
    own address, and its seeds named localhost are looked for on IPv4, where they listen."""
    net = network("v4first")
    seeds = net.start_seeds(2)
    hosts = Hosts(net.dir, "::1 localhost ip6-localhost ip6-loopback\n127.0.0.1 localhost\n")
    seed_list = net.dir / "seeds.txt"
    seed_list.write_text("".join(f"localhost:{s.port}\n" for s in seeds))
    p = Peer(net, free_port(), "peer-ns")
    p.custom_argv = hosts.wrap(peer_argv(p, "localhost", p.port, seed_list))
    net.peers.append(p)
    p.start().wait_ready()
    assert p.status()["seeds_registered"] == 2
    p.wait_log(rf"Peer {LOCAL}:{p.port} listening")


@needs_namespace
def test_unresolvable_at_start(network):
    """A seed name that does not resolve, or only to the other family, and an address that
    does not: the peer does not start, and says which file:line and name."""
    net = network("unres")
    hosts = Hosts(net.dir, "127.0.0.1 localhost\n2001:db8::1 v6only.test\n")
    port = free_port()
    seed_list = net.dir / "seeds.txt"
    seed_list.write_text(f"# seeds\nlocalhost:{port}\nno-such-seed.test:{port}\nv6only.test:{port}\n")
    sock = net.dir / "ctl.sock"
    p = run_peer_in(hosts, net, [PEER_BIN, "-L", net.dir, "-s", sock, LOCAL, free_port(), seed_list])
    err = p.stderr.decode()
    assert p.returncode == 1, err
    assert f"error: {seed_list}:3: cannot resolve seed no-such-seed.test: Name or service not known" \
        in err
    assert f"error: {seed_list}:4: cannot resolve seed v6only.test: it has no IPv4 address" in err
    assert not sock.exists()

    # libconfig: the element's line.
    conf = net.dir / "gossip.conf"
    conf.write_text(f'seeds = [\n  "localhost:{port}",\n  "gone.test:{port}"\n];\n')
    p = run_peer_in(hosts, net, [PEER_BIN, "-L", net.dir, "-s", sock, LOCAL, free_port(), conf])
    assert p.returncode == 1
    assert f"error: {conf}:3: cannot resolve seed gone.test: Name or service not known" in \
        p.stderr.decode()

    # The node's own address.
    p = run_peer_in(hosts, net, [PEER_BIN, "-L", net.dir, "-s", sock, "gone.test", "6000", seed_list])
    assert p.returncode == 2
    assert "invalid address gone.test 6000: cannot resolve gone.test: Name or service not known" \
        in p.stderr.decode()
    assert not sock.exists()


@needs_namespace
def test_refresh_follows_a_moved_seed(network):
    """The name of the peer's seed moves to another address: at a lease refresh the peer
    registers there. Then the name stops resolving: rate-limited warnings, and the peer keeps
    the last good address and keeps working."""
    net = network("moves", seed_lease_time=2)
    port = free_port()
    net.set_seed_ports([port])
    old = net.add_seed(port)
    new = SeedAt(net, port, "seed-moved", ip=MOVED_IP)
    net.seeds.append(new)
    new.start().wait_ready()
    hosts = Hosts(net.dir, "127.0.0.1 localhost seed.test\n")
    p, _ = start_peer_in(hosts, net, [f"seed.test:{port}"])
    old.wait_log(rf"New peer registered: {p.addr}\.")

    hosts.write(f"127.0.0.1 localhost\n{MOVED_IP} seed.test\n")
    p.wait_log(rf"\] seed seed\.test:{port} moved from {LOCAL}:{port} to {MOVED_IP}:{port}: "
               "registering there")
    new.wait_log(rf"New peer registered: {p.addr}\.")
    assert p.status()["seeds_registered"] == 1
    assert not p.log_lines(r"lost connection to seed"), "a move is not a loss"

    # Gone from the hosts file: warned about, at most a burst a window; the seed is kept.
    hosts.write("127.0.0.1 localhost\n")
    warning = rf"warning: seed seed\.test:{port}: cannot resolve seed\.test: .*; keeping its last " \
              rf"address {re.escape(MOVED_IP)}:{port}"
    summary = p.wait_log(warning + r" \(\d+ similar lines suppressed\)", timeout=30)[0]
    lines = p.log_lines()
    before = lines[:lines.index(summary)]
    assert len([ln for ln in before if re.search(warning, ln)]) == RATELIMIT_BURST
    assert int(re.search(r"\((\d+) similar", summary).group(1)) >= 1
    assert not p.log_lines(r"moved from")[1:], "moved again"
    # Still registered at the last good address, lease after lease (2 s each), and working.
    assert p.status()["seeds_registered"] == 1
    other_conf = net.dir / "other.conf"
    write_seeds(other_conf, [f"{MOVED_IP}:{port}"])
    q = net.add_peer(config=other_conf)
    text = f"after the name went {uuid.uuid4().hex}"
    q.send(text)
    net.wait_delivered([p], text)
    assert new.current_peers() >= {p.addr, q.addr}


@needs_namespace
def test_reload_resolves_names_first(network):
    """SIGHUP: the new seeds' names are looked up before the new configuration applies; one
    that does not resolve fails the reload, which keeps the running one."""
    net = network("reload", seed_lease_time=2)
    seeds = net.start_seeds(2)
    hosts = Hosts(net.dir, "127.0.0.1 localhost seed-a.test seed-b.test\n")
    p, conf = start_peer_in(hosts, net, [f"seed-a.test:{seeds[0].port}"])
    seeds[0].wait_log(rf"New peer registered: {p.addr}\.")

    write_seeds(conf, [f"seed-a.test:{seeds[0].port}", f"gone.test:{seeds[1].port}"])
    p.signal(signal.SIGHUP)
    p.wait_log(rf"error: {re.escape(str(conf))}:3: cannot resolve seed gone\.test: ")
    p.wait_log(r"error: reload failed; keeping the previous configuration$")
    wait_until(lambda: p.notify.count("READY=1") == 2, what="READY=1 after the failed reload")
    assert p.status()["seeds_registered"] == 1

    write_seeds(conf, [f"seed-a.test:{seeds[0].port}", f"seed-b.test:{seeds[1].port}"])
    p.signal(signal.SIGHUP)
    wait_until(lambda: p.notify.count("READY=1") == 3, what="READY=1 after the reload")
    seeds[1].wait_log(rf"New peer registered: {p.addr}\.")
    wait_until(lambda: p.status()["seeds_registered"] == 2, what="registered with both seeds")


RESOLVE_MAX_ADDRS = 16  # src/io/resolve.h: addresses of one name looked at
# getaddrinfo orders a name's addresses (RFC 6724: longest prefix shared with the source,
# here 127.0.0.1): this one comes after every 127.0.0.x, wherever it is in the file.
FAR_IP = "127.128.0.1"


@needs_namespace
def test_many_addresses_capped(network):
    """A name with many addresses: the first 16 are looked at. The seed's address as the 16th
    keeps it there; as the 17th it is not seen, and the seed moves to the first."""
    net = network("cap", seed_lease_time=2)
    port = free_port()
    net.set_seed_ports([port])
    seed = SeedAt(net, port, "seed-live", ip=FAR_IP)
    net.seeds.append(seed)
    seed.start().wait_ready()
    hosts = Hosts(net.dir, f"127.0.0.1 localhost\n{FAR_IP} seed.test\n")
    p, _ = start_peer_in(hosts, net, [f"seed.test:{port}"], "-d")
    seed.wait_log(rf"New peer registered: {p.addr}\.")

    def names(n_dead):
        return f"127.0.0.1 localhost\n{FAR_IP} seed.test\n" + \
            "".join(f"127.0.0.{10 + i} seed.test\n" for i in range(n_dead))
    hosts.write(names(RESOLVE_MAX_ADDRS - 1))
    # -d: debug lines go to standard error.
    still = rf"seed seed\.test:{port} still at {FAR_IP}:{port}, address {RESOLVE_MAX_ADDRS} of " \
            rf"the {RESOLVE_MAX_ADDRS} looked at"
    wait_until(lambda: re.search(still, p.stderr_text()), what=f"/{still}/ on {p.name}'s stderr")
    assert not p.log_lines("moved from")
    hosts.write(names(RESOLVE_MAX_ADDRS))
    p.wait_log(rf"seed seed\.test:{port} moved from {FAR_IP}:{port} to 127\.0\.0\.10:{port}")


@needs_namespace
def test_tls_still_authenticates_a_moved_seed(network):
    """With TLS, a seed's name pointed at another host (here one with a certificate of another
    CA) does not make that host the peer's seed: the handshake fails and it registers nobody."""
    net = network("tlsmove", seed_lease_time=2)
    port = free_port()
    net.set_seed_ports([port])
    ca = net.use_tls()
    seed = net.add_seed(port)
    evil_ca = net.make_ca("evil")
    evil_cert, evil_key = net.issue(evil_ca, "impostor", ("127.0.0.3",))
    evil_conf = net.dir / "evil.conf"
    evil_conf.write_text("seed = { lease_time = 2; };\n" + tls_lines(evil_ca, evil_cert, evil_key))
    impostor = SeedAt(net, port, "impostor", ip="127.0.0.3")
    impostor.custom_argv = [SEED_BIN, "-c", evil_conf, "-L", impostor.dir, "127.0.0.3", port]
    net.seeds.append(impostor)
    impostor.start().wait_ready()
    hosts = Hosts(net.dir, "127.0.0.1 localhost seed.test\n")
    st = net.settings
    p, _ = start_peer_in(hosts, net, [f"seed.test:{port}"],
                         extra=tls_lines(ca, st["tls_cert_file"], st["tls_key_file"]))
    seed.wait_log(rf"New peer registered: {p.addr}\.")

    hosts.write("127.0.0.1 localhost\n127.0.0.3 seed.test\n")
    p.wait_log(rf"seed seed\.test:{port} moved from {LOCAL}:{port} to 127\.0\.0\.3:{port}")
    p.wait_log(r"seed 127\.0\.0\.3:%d unreachable: TLS handshake failed: its certificate" % port)
    impostor.wait_log(r"TLS handshake failed: .*unknown ca")
    assert not impostor.log_lines("New peer registered")
    assert p.status()["seeds_registered"] == 0

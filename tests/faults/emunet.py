# SPDX-License-Identifier: MIT
"""A cluster of real daemons, each in its own network namespace, joined by emulated links
(linkemu.py): 3 seeds and N peers with mutual TLS. Used by make faults (tests/faults/run) and
make bench-wan (tests/faults/benchwan).

Needs root (network namespaces, TUN devices): why_not() says why it cannot run here. close()
removes every namespace, TUN device and daemon it made.
"""
import ipaddress
import json
import os
from pathlib import Path

import gossipnet
from gossipnet import wait_until
from linkemu import LinkEmulator, open_tun_in
from netnslib import Namespaces, NsPeer, NsSeed, host_networks, ip, why_no_netns

SEED_PORT, PEER_PORT = 5000, 6000
SUBNETS = ["10.203.0.0/16", "10.204.0.0/16", "172.29.0.0/16"]
CERT_MAX_ADDRS = 64  # gossip-cert issue --address, at most


def why_not():
    """Why this machine cannot run an emulated network, or None."""
    why = why_no_netns()
    if why:
        return why
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun (the link emulator needs TUN devices)"
    return None


class Host:
    def __init__(self, n, ns, addr):
        self.n, self.ns, self.ip = n, ns, addr


class EmuNet:
    """3 seeds and `peers` peers; `settings` are extra peer settings ({name: libconfig value})."""

    def __init__(self, name, peers, latency, settings=None):
        self.n_peers = peers
        self.settings = settings or {}
        self.net = gossipnet.Network(name)
        self.spaces = Namespaces()
        self.emu = LinkEmulator(latency_s=latency)
        self.seeds, self.peers = [], []

    def build(self, n_hosts):
        used = host_networks()
        subnet = next((ipaddress.ip_network(s) for s in SUBNETS
                       if not any(ipaddress.ip_network(s).overlaps(u) for u in used)), None)
        assert subnet, f"none of {SUBNETS} is free here"
        addrs = list(subnet.hosts())
        hosts = []
        for i in range(n_hosts):
            ns = self.spaces._add(f"f{i}")
            ip("-n", ns, "link", "set", "lo", "up")
            fd = open_tun_in(ns)
            a = str(addrs[i + 1])
            ip("-n", ns, "addr", "add", f"{a}/{subnet.prefixlen}", "dev", "gt0")
            ip("-n", ns, "link", "set", "gt0", "up")
            self.emu.add_host(a, fd)
            hosts.append(Host(i, ns, a))
        self.emu.start()
        return hosts

    def config(self, hosts, ca, cert, key, name="emunet"):
        seeds = [f"{h.ip}:{SEED_PORT}" for h in hosts[:3]]
        lines = ["seeds = [ " + ", ".join(json.dumps(s) for s in seeds) + " ];",
                 "tls = {", '  mode = "required";', f"  ca_file = {json.dumps(str(ca))};",
                 f"  cert_file = {json.dumps(str(cert))};",
                 f"  key_file = {json.dumps(str(key))};", "};"]
        if self.settings:
            lines.append("peer = { " + " ".join(f"{k} = {v};" for k, v in self.settings.items())
                         + " };")
        path = Path(self.net.dir) / f"{name}.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self):
        hosts = self.build(3 + self.n_peers)
        ca = self.net.make_ca("ca")
        cfg = {}
        # A certificate lists at most CERT_MAX_ADDRS addresses: one per group of hosts.
        for k in range(0, len(hosts), CERT_MAX_ADDRS):
            group = hosts[k:k + CERT_MAX_ADDRS]
            cert, key = self.net.issue(ca, f"node{k}", [h.ip for h in group])
            path = self.config(hosts, ca / "ca.crt", cert, key, f"emunet{k}")
            cfg.update({h.n: path for h in group})
        for h in hosts[:3]:
            s = NsSeed(self.net, h, SEED_PORT, f"seed-{h.n}", cfg[h.n])
            s.host = h
            self.net.seeds.append(s)
            self.seeds.append(s.start())
        for s in self.seeds:
            s.wait_ready(60)
        for h in hosts[3:]:
            p = NsPeer(self.net, h, PEER_PORT, f"peer-{h.n}", cfg[h.n])
            self.net.peers.append(p)
            self.peers.append(p.start())
        for p in self.peers:
            p.wait_ready(120)
        self.wait_settled()

    def wait_settled(self, timeout=120):
        """Every live peer has a neighbour up and knows every other live peer."""
        def ok():
            live = self.live()
            for p in live:
                st = p.status()
                if st["known_peers"] < len(live) - 1 or not p.up_neighbours():
                    return False
            return True
        wait_until(ok, timeout, interval=0.5, what="every peer connected, knowing every other")

    def live(self):
        return [p for p in self.peers if p.alive()]

    def close(self):
        problems = self.net.close()
        self.emu.close()
        problems += self.spaces.destroy()
        return problems

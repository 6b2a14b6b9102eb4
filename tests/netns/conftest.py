# SPDX-License-Identifier: MIT
"""Fixtures of the network-namespace test: three hosts on a private bridge, each with its own
address, certificate and daemons.

The `hosts` fixture (one per module) creates four network namespaces (unique names with a
random suffix): a "switch" holding a Linux bridge, and three hosts, each joined to the bridge by
a veth pair and given 10.199.0.N/24 (another 10.199.x.0/24 if that one is in use on this
machine). Every interface is created inside those namespaces; the host's own interfaces, routes
and addresses are never touched. A cluster CA and one certificate per host (listing that host's
address) are made with gossip-cert. Host 1 runs the seed and a peer, hosts 2 and 3 a peer each,
all with tls.mode "required", started with `ip netns exec`; each daemon tells its readiness on
its own sd_notify socket (an AF_UNIX datagram socket in the temporary directory: network
namespaces do not isolate the file system) and is driven with gossipctl over its control socket.

At teardown, whether the tests passed or not: the daemons this fixture started are stopped by
their PIDs (and only those), a daemon that crashed, did not stop, exited non-zero on SIGTERM or
printed a sanitizer report fails the module (an error at teardown), and the namespaces (with
the veths and the bridge in them) are deleted.
"""
import os
import sys

import pytest

sys.dont_write_bytecode = True
# netnslib puts tests/integration (gossipnet, wireproto) on the path.
from netnslib import (PEER_PORT, READY_TIMEOUT, SEED_PORT, Cluster, Namespaces,  # noqa: E402
                      NsSeed, why_no_netns)
import gossipnet  # noqa: E402


def pytest_report_header(config):
    return f"gossip build: {gossipnet.BUILD}"


def pytest_sessionstart(session):
    missing = [str(b) for b in (gossipnet.SEED_BIN, gossipnet.PEER_BIN, gossipnet.CTL_BIN,
                                gossipnet.CERT_BIN) if not os.access(b, os.X_OK)]
    if missing:
        raise pytest.UsageError(f"missing binaries (build first, or set GOSSIP_BUILD): {missing}")


@pytest.fixture(scope="module")
def hosts(request):
    """Three hosts with the seed and a peer on host 1 and a peer on hosts 2 and 3, formed into a
    full mesh over TLS. Torn down whatever happens."""
    why = why_no_netns()
    if why:
        pytest.skip(why)
    failed_before = request.session.testsfailed
    net = gossipnet.Network("netns")
    spaces = Namespaces()
    cluster = Cluster(net, spaces)
    problems = []
    setup_ok = False
    try:
        spaces.build()
        gossipnet.log(f"\n[netns] namespaces {spaces.created}, subnet {spaces.subnet}, "
                      f"files in {net.dir}")
        cluster.ca = net.make_ca("ca")
        h1 = spaces.hosts[0]
        for h in spaces.hosts:
            h.cert, h.key = net.issue(cluster.ca, f"host{h.n}", (h.ip,))
        ca_crt = cluster.ca / "ca.crt"
        seed_cfg = cluster.write_config("seed", ca_crt, h1.cert, h1.key)
        cluster.seed = NsSeed(net, h1, SEED_PORT, "seed-h1", seed_cfg)
        net.seeds.append(cluster.seed)
        cluster.seed.start().wait_ready(READY_TIMEOUT)
        cluster.check_netns(cluster.seed)
        for h in spaces.hosts:
            cfg = cluster.write_config(f"peer-h{h.n}", ca_crt, h.cert, h.key)
            cluster.peers.append(cluster.add_peer(h, PEER_PORT, f"peer-h{h.n}", cfg))
        for p in cluster.peers:
            p.wait_ready(READY_TIMEOUT)
            cluster.check_netns(p)
        cluster.wait_full_mesh()
        setup_ok = True
        yield cluster
    finally:
        try:
            problems += net.close()
        finally:
            problems += spaces.destroy()
        failed = (not setup_ok or request.session.testsfailed > failed_before or bool(problems))
        if failed or os.environ.get("GOSSIP_KEEP_LOGS") == "1":
            gossipnet.log(f"[netns] logs kept in {net.dir}")
        else:
            net.remove()
    if problems:
        pytest.fail("teardown found problems:\n" + "\n".join(problems), pytrace=False)

# SPDX-License-Identifier: MIT
"""Fixtures of the integration tests: networks of real daemons on loopback.

Every network is torn down by its fixture, whether the test passed or not:
the processes it started are stopped (only those), and a process that
crashed, did not stop, exited non-zero on SIGTERM or printed a sanitizer
report makes the test fail (as an error at teardown).
"""
import os
import sys

import pytest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gossipnet  # noqa: E402


def pytest_report_header(config):
    return f"gossip build: {gossipnet.BUILD}"


def pytest_sessionstart(session):
    missing = [str(b) for b in (gossipnet.SEED_BIN, gossipnet.PEER_BIN, gossipnet.CTL_BIN)
               if not os.access(b, os.X_OK)]
    if missing:
        raise pytest.UsageError(f"missing binaries (build first, or set GOSSIP_BUILD): {missing}")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


class NetworkFactory:
    """Creates Networks and closes them all at teardown."""

    def __init__(self, scope_name):
        self.scope_name = scope_name
        self.nets = []

    def __call__(self, name="net", **settings):
        net = gossipnet.Network(name, **settings)
        self.nets.append(net)
        return net

    def close(self, failed):
        problems = []
        for net in self.nets:
            problems += net.close()
        keep = failed or bool(problems) or os.environ.get("GOSSIP_KEEP_LOGS") == "1"
        for net in self.nets:
            if keep:
                gossipnet.log(f"[{self.scope_name}] logs kept in {net.dir}")
            else:
                net.remove()
        return problems


def _finish(factory, failed):
    problems = factory.close(failed)
    if problems:
        pytest.fail("teardown found problems with the daemons:\n" + "\n".join(problems),
                    pytrace=False)


@pytest.fixture
def network(request):
    """A factory of per-test networks: network(name, peer_degree=3, ...)."""
    factory = NetworkFactory(request.node.name)
    yield factory
    rep = getattr(request.node, "rep_call", None)
    _finish(factory, failed=rep is None or rep.failed)


@pytest.fixture(scope="module")
def module_network(request):
    """The same, shared by the tests of one module."""
    factory = NetworkFactory(request.module.__name__)
    failed_before = request.session.testsfailed
    yield factory
    _finish(factory, failed=request.session.testsfailed > failed_before)


# Settings of networks that only need to work, not to detect failures fast: relaxed
# liveness so a loaded machine never produces false deaths.
STEADY = dict(peer_ping_interval=1.0, peer_ping_timeout=1.0, peer_ping_misses=3)
# Settings of networks where a failure must be detected quickly.
FAST = dict(peer_ping_interval=0.25, peer_ping_timeout=0.25, peer_ping_misses=4,
            seed_probe_timeout=1.0)


@pytest.fixture(scope="module")
def big_net(module_network):
    """3 seeds and 10 peers, formed and connected (shared by a module; not to be damaged)."""
    net = module_network("big", peer_degree=4, **STEADY).formed(3, 10)
    return net

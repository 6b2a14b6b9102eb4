# SPDX-License-Identifier: MIT
"""gossipctl metrics: every peer of the host in the Prometheus text exposition format
(version 0.0.4), parsed strictly here (names, HELP and TYPE once per family before its
samples, label syntax, values, _total on counters, counters monotonic across scrapes, one
sample per peer), and checked with promtool when it is there (make deps unpacks it)."""
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gossipnet import REPO, base_env, free_port, run_ctl
from test_gossipctl import hermetic_ctl

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
HELP_RE = re.compile(rf"# HELP ({NAME}) ((?:[^\\\n]|\\\\|\\n)*)")
TYPE_RE = re.compile(rf"# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)")
SAMPLE_RE = re.compile(rf'({NAME})\{{instance="(\d+)"\}} (\S+)')
VALUE_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN")


def parse_exposition(text):
    """{family: {"type", "help", "samples": {instance: value}}}, asserting the format."""
    assert text.endswith("\n"), "the exposition ends with a newline"
    families, current, order = {}, None, []
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = f"line {n}: {line!r}"
        if m := HELP_RE.fullmatch(line):
            name = m.group(1)
            assert name not in families, f"{where}: a second HELP for {name}"
            families[name] = {"help": m.group(2), "type": None, "samples": {}}
            current = name
            order.append(name)
        elif m := TYPE_RE.fullmatch(line):
            assert m.group(1) == current and families[current]["type"] is None, \
                f"{where}: TYPE not right after its HELP"
            assert not families[current]["samples"], f"{where}: TYPE after samples"
            families[current]["type"] = m.group(2)
        elif line.startswith("#"):
            assert line == "# no gossip-peer running", f"{where}: an unexpected comment"
        else:
            m = SAMPLE_RE.fullmatch(line)
            assert m, f"{where}: not a sample with one instance label"
            name, inst, value = m.groups()
            assert name == current and families[name]["type"], \
                f"{where}: a sample outside its family (after HELP and TYPE)"
            assert inst not in families[name]["samples"], f"{where}: a second sample"
            assert VALUE_RE.fullmatch(value), f"{where}: bad value"
            families[name]["samples"][inst] = float(value)
    for name, f in families.items():
        assert name.startswith("gossip_"), name
        assert f["type"] in ("counter", "gauge"), name
        assert f["help"], f"{name} has no help text"
        assert name.endswith("_total") == (f["type"] == "counter"), \
            f"{name}: counters and only counters end in _total"
        if f["type"] == "counter":
            assert all(v >= 0 and v == int(v) for v in f["samples"].values()), name
        assert all(not math.isnan(v) for v in f["samples"].values()), name
    return families


def promtool():
    for cand in (shutil.which("promtool"), REPO / "build" / "tools" / "usr" / "bin" / "promtool"):
        if cand and Path(cand).is_file():
            return str(cand)
    return None


def promtool_check(text):
    tool = promtool()
    if not tool:
        pytest.skip("promtool not found (make deps unpacks it from Debian's prometheus package "
                    "into build/tools)")
    p = subprocess.run([tool, "check", "metrics"], input=text.encode(), capture_output=True,
                       timeout=60)
    assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), \
        f"promtool: {p.stdout.decode()} {p.stderr.decode()}"


def scrape(net):
    """gossipctl metrics without -s or -i: every peer of the test's runtime directory."""
    p = hermetic_ctl(["metrics"], base_env(net.dir))
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode()


def start_discoverable_peers(net, n):
    """n peers whose control sockets are <runtime dir>/peer-PORT.sock, where gossipctl
    looks without -s or -i."""
    peers = []
    for _ in range(n):
        port = free_port()
        peers.append(net.add_peer(port, wait=False,
                                  ctl_path=Path(net.dir) / "run" / f"peer-{port}.sock"))
    for p in peers:
        p.wait_ready()
    return peers


def test_metrics_of_every_peer(network):
    net = network("metrics")
    net.start_seeds(1)
    peers = start_discoverable_peers(net, 3)
    net.wait_connected()
    ports = {str(p.port) for p in peers}
    text = scrape(net)
    first = parse_exposition(text)
    promtool_check(text)
    # One sample of each family per peer, labelled with its port.
    assert all(set(f["samples"]) == ports for f in first.values())
    # Every counter and gauge of stats is there, as a counter or a gauge.
    stats = peers[0].stats()
    for key in stats:
        name = key if key.startswith("gossip_") else f"gossip_{key}"
        assert name in first or f"{name}_total" in first, key
    assert first["gossip_seen_cache_evicted_total"]["type"] == "counter"
    for gauge in ("gossip_seen_cache_entries", "gossip_lazy_links", "gossip_local_health",
                  "gossip_neighbours", "gossip_known_peers", "gossip_ready",
                  "gossip_uptime_seconds"):
        assert first[gauge]["type"] == "gauge", gauge
    assert all(v == 1 for v in first["gossip_ready"]["samples"].values())
    assert first["gossip_frames_sent_total"]["type"] == "counter"
    # Traffic moves the counters forward, never back.
    for i in range(5):
        peers[0].send(f"metrics {i}")
    net.wait_delivered(peers[1:], "metrics 4")
    second = parse_exposition(scrape(net))
    assert list(second) == list(first), "the same families, in the same order"
    for name, f in first.items():
        if f["type"] != "counter":
            continue
        for inst, v in f["samples"].items():
            assert second[name]["samples"][inst] >= v, f"{name}{{{inst}}} went back"
    sent = second["gossip_messages_sent_total"]["samples"]
    assert sent[str(peers[0].port)] == first["gossip_messages_sent_total"]["samples"][
        str(peers[0].port)] + 5
    received = second["gossip_messages_received_total"]["samples"]
    assert all(received[str(p.port)] >= 5 for p in peers[1:])
    # -i: only that peer.
    one = parse_exposition(peers[1].ctl("metrics").stdout.decode())
    assert all(set(f["samples"]) == {str(peers[1].port)} for f in one.values())


def test_metrics_without_peers(network):
    net = network("metrics-none")
    (Path(net.dir) / "run").mkdir(exist_ok=True)
    text = scrape(net)
    assert text == "# no gossip-peer running\n"
    parse_exposition(text)
    promtool_check(text)
    # A peer named with -i that is not running: exit 3, as for every command.
    p = run_ctl(["-i", str(free_port()), "metrics"], base_env(net.dir))
    assert p.returncode == 3 and p.stdout == b"", p.stderr

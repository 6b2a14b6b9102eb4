#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gossip benchmark harness: propagation latency, delivery, throughput, redundancy,
resources, failure detection, payload sizes, sustained rate, memory bound, the cost of
TLS and signatures (the same figures with both on, as shipped, and off), and a
side-by-side propagation comparison with Serf.

Run by `make bench` (and `make bench-smoke`); see "Benchmarks" in README.md.
Prints tables and writes the same figures as JSON. Targets are evaluated and
printed as met / not met; they never change the exit status, which is non-zero
only when the harness itself fails (a network that does not start, ...).
"""
import argparse
import atexit
import collections
import json
import os
import platform
import random
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctlproto import STATS, TAIL, Blaster, CtlClient, query_all  # noqa: E402
from benchnet import (Network, host_cpu_ticks, kill_all_started, proc_cpu_seconds,  # noqa: E402
                      raise_nofile, steal_pct)
import secbench  # noqa: E402
import serfnet  # noqa: E402

# ---------------------------------------------------------------------------- helpers


def pct(values, p):
    """Nearest-rank percentile of a list (None when empty)."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


# /proc/stat counts in clock ticks (USER_HZ, 100 per second per CPU): a phase
# must last this long for its host steal share to be a measurement at all.
STEAL_MIN_PHASE_S = 0.1


def summary(values):
    if not values:
        return {"count": 0, "p50": None, "p99": None, "max": None, "mean": None}
    return {"count": len(values), "p50": pct(values, 50), "p99": pct(values, 99), "max": max(values),
            "mean": sum(values) / len(values)}


def fmt(v, spec="%.2f", none="-"):
    if v is None:
        return none
    return spec % v


def log(*a):
    print(*a, flush=True)


def table(headers, rows, indent="  "):
    cols = [[str(h)] + [str(r[i]) for r in rows] for i, h in enumerate(headers)]
    widths = [max(len(x) for x in c) for c in cols]
    lines = [indent + "  ".join(h.rjust(w) for h, w in zip(headers, widths))]
    lines.append(indent + "  ".join("-" * w for w in widths))
    for r in rows:
        lines.append(indent + "  ".join(str(x).rjust(w) for x, w in zip(r, widths)))
    return "\n".join(lines)


def stats_all(net, peers=None):
    peers = peers or net.live_peers()
    res = query_all([n.ctl for n in peers], STATS)
    out = []
    for n, r in zip(peers, res):
        if r is None:
            raise RuntimeError("no STATS answer from %s" % n.addr)
        out.append(r[0])
    return out


def tail_all(net, peers, count):
    body = bytes([0]) + struct.pack(">I", count)
    return query_all([n.ctl for n in peers], TAIL, body, timeout=120)


def delta(after, before, key):
    return sum(a[key] - b[key] for a, b in zip(after, before))


def mem_summary(net):
    mem = net.mem_kb()
    if not mem:
        return None
    out = {}
    for k in ("rss", "pss", "anon"):
        vals = [m[k] / 1024.0 for m in mem if k in m]
        out[k + "_mb"] = {"median": pct(vals, 50), "max": max(vals), "min": min(vals)}
    return out


# ---------------------------------------------------------------------------- measurements


def settled_stats(net, peers, quiet=0.15, timeout=5.0):
    """STATS once the announcements of the last messages are out: IHAVE ids wait up to
    peer.ihave_delay (0.1 s) in a batch, so the counters are read again until two reads
    `quiet` seconds apart agree on every IHAVE, GRAFT and PRUNE count."""
    keys = ("ihave_frames_sent", "graft_frames_sent", "prunes_sent")
    prev = stats_all(net, peers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(quiet)
        cur = stats_all(net, peers)
        if all(sum(s[key] for s in cur) == sum(s[key] for s in prev) for key in keys):
            return cur
        prev = cur
    return prev


def hop_counts(peers, tails, sent):
    """Hops of each delivery, from the neighbour each peer got each message from (TAIL's
    `from`): the tree the message took, walked back to its origin."""
    index = {p.addr: i for i, p in enumerate(peers)}
    came_from = collections.defaultdict(dict)  # id -> {peer index: neighbour index}
    for i, recs in enumerate(tails):
        for r in recs or ():
            if r["id"] in sent and i not in came_from[r["id"]]:
                came_from[r["id"]][i] = index.get(r["from"])
    hops = []
    for mid, origin in sent.items():
        tree, memo = came_from[mid], {origin: 0}

        def depth(i, seen=()):
            if i in memo:
                return memo[i]
            j = tree.get(i)
            memo[i] = None if j is None or i in seen else (
                None if depth(j, seen + (i,)) is None else depth(j, seen + (i,)) + 1)
            return memo[i]
        hops += [d for i in tree if i != origin for d in [depth(i)] if d is not None]
    return hops


def measure_latency(net, k, size, rng, timeout=10.0):
    """K messages, one at a time, each from a random peer; daemon timestamps only.

    The origin's own timestamp (taken by gossip_broadcast when it sends) is t0;
    each receiving daemon's `received` stamp is the arrival. The harness waits
    until every peer has a message (STATS polled after a short pause, so the
    polling does not compete with the propagation itself) before the next.
    """
    peers = net.live_peers()
    n = len(peers)
    before = stats_all(net, peers)
    expected = [s["messages_received"] for s in before]
    cpu0 = net.cpu_seconds(peers)
    payload_base = b"L" * size
    # One unmeasured message first: connections, caches and allocators warm up.
    o = rng.randrange(n)
    peers[o].ctl.send(payload_base)
    wait_delivery(net, peers, before, [0 if i == o else 1 for i in range(n)], stall=timeout)
    before = stats_all(net, peers)
    expected = [s["messages_received"] for s in before]
    # The harness's STATS polls wake every pending daemon and take a core of their own:
    # started before a message has spread, they compete with it for the two CPUs (at
    # N=50, polls from 2 ms on put p99 at 4.4-6.4 ms; from 7 ms on, 2.2-4.6 ms). So the
    # first poll waits for about the time a message takes to reach everyone.
    first_wait = 0.002 + n * 0.0001 + size / 50e6
    sent = {}
    ctl_rtt = []
    waits = []
    t_phase = time.monotonic()
    ticks0 = host_cpu_ticks()
    for j in range(k):
        o = rng.randrange(n)
        t_a = time.monotonic()
        rec = peers[o].ctl.send(payload_base)
        ctl_rtt.append((time.monotonic() - t_a) * 1e3)
        sent[rec["id"]] = o
        for i in range(n):
            if i != o:
                expected[i] += 1
        time.sleep(first_wait)
        pending = [i for i in range(n) if i != o]
        deadline = time.monotonic() + timeout
        while pending:
            res = query_all([peers[i].ctl for i in pending], STATS)
            left = []
            for i, r in zip(pending, res):
                got = r[0]["messages_received"] if r else -1
                if got < expected[i]:
                    left.append((i, got))
            pending = [i for i, _ in left]
            if not pending:
                break
            if time.monotonic() > deadline:
                for i, got in left:  # lost: resynchronise the expectation
                    if got >= 0:
                        expected[i] = got
                break
            time.sleep(first_wait)
        waits.append(time.monotonic() - t_a)
    phase_s = time.monotonic() - t_phase
    steal = steal_pct(ticks0, host_cpu_ticks())
    after = settled_stats(net, peers)
    cpu = net.cpu_seconds(peers) - cpu0
    tails = tail_all(net, peers, k + 16)

    lat = []
    per_msg = collections.defaultdict(list)
    delivered = 0
    dups = 0
    for i, recs in enumerate(tails):
        if recs is None:
            continue
        counts = collections.Counter(r["id"] for r in recs if r["id"] in sent)
        dups += sum(c - 1 for c in counts.values())
        seen = set()
        for r in recs:
            if r["id"] not in sent or r["id"] in seen:
                continue
            seen.add(r["id"])
            if sent[r["id"]] == i:
                continue  # an origin never receives its own message
            d = (r["received"] - r["timestamp"]) / 1e3
            lat.append(d)
            per_msg[r["id"]].append(d)
            delivered += 1
    pairs = k * (n - 1)
    last_peer = [max(v) for mid, v in per_msg.items() if len(v) == n - 1]
    frames = delta(after, before, "gossip_frames_sent")
    hops = hop_counts(peers, tails, sent)
    control = {key: delta(after, before, stat) / k for key, stat in
               (("ihave", "ihave_frames_sent"), ("graft", "graft_frames_sent"),
                ("prune", "prunes_sent"))}
    return {
        "n": n, "messages": k, "payload_bytes": size,
        "latency_ms": summary(lat),
        "last_peer_ms": summary(last_peer),
        "pairs": pairs, "delivered_pairs": delivered,
        "delivery": delivered / pairs if pairs else None,
        "duplicates_delivered": dups,
        "messages_complete": len(last_peer),
        "redundancy": frames / (k * (n - 1)) if n > 1 else None,
        "frames_sent": frames,
        "hops": summary(hops),
        "control_frames_per_message": dict(control, total=sum(control.values())),
        "duplicate_frames_received": delta(after, before, "duplicates_received"),
        "control_send_rtt_ms": summary(ctl_rtt),
        "cpu_seconds": cpu,
        "cpu_s_per_1000_delivered": cpu / (delivered / 1000.0) if delivered else None,
        "phase_seconds": phase_s,
        "host_steal_pct": steal,
    }


def wait_delivery(net, peers, before, expected, stall=5.0, timeout=600.0, poll=None):
    """Polls STATS until each peer delivered `expected[i]` more messages, or progress stalls."""
    poll = poll or (0.02 + len(peers) * 0.0002)
    last_total = -1
    last_change = time.monotonic()
    t_end = time.monotonic() + timeout
    while True:
        now_stats = stats_all(net, peers)
        got = [s["messages_received"] - b["messages_received"] for s, b in zip(now_stats, before)]
        total = sum(got)
        if all(g >= e for g, e in zip(got, expected)):
            return now_stats, True
        now = time.monotonic()
        if total != last_total:
            last_total = total
            last_change = now
        elif now - last_change > stall or now > t_end:
            return now_stats, False
        time.sleep(poll)


def measure_throughput(net, count, size, mode, rate=None, window=None, stall=5.0,
                       progress=None, origin_index=0):
    """`count` messages pushed as fast as the control interface allows (or at `rate`).

    mode 'one': all from one peer; 'all': spread over every peer at once. The
    rate reported is accepted messages / (last delivery anywhere - first send),
    both from the same clock (CLOCK_REALTIME), the end stamped by the daemons.
    """
    peers = net.live_peers()
    n = len(peers)
    origins = [peers[origin_index % n]] if mode == "one" else peers
    window = window or (4096 if mode == "one" else max(64, 4096 // n))
    before = stats_all(net, peers)
    cpu0 = net.cpu_seconds(peers)
    t_phase = time.monotonic()
    ticks0 = host_cpu_ticks()
    payload = b"T" * size
    bl = Blaster([net.socket_path(p) for p in origins], window=window)
    try:
        res = bl.run(count, payload, rate=rate, progress=progress)
    finally:
        bl.close()
    accepted = res["accepted"]
    sent_by = {p.addr: a for p, a in zip(origins, res["per_origin"])}
    expected = [accepted - sent_by.get(p.addr, 0) for p in peers]
    after, complete = wait_delivery(net, peers, before, expected, stall=stall)
    cpu = net.cpu_seconds(peers) - cpu0
    steal = steal_pct(ticks0, host_cpu_ticks())
    phase_s = time.monotonic() - t_phase
    got = [a["messages_received"] - b["messages_received"] for a, b in zip(after, before)]
    delivered = sum(min(g, e) for g, e in zip(got, expected))
    extra = sum(max(0, g - e) for g, e in zip(got, expected))
    want = sum(expected)
    last = 0
    for recs in tail_all(net, peers, 1):
        if recs:
            last = max(last, recs[-1]["received"])
    elapsed = last / 1e6 - res["t0_real"] if last else None
    frames = delta(after, before, "gossip_frames_sent")
    out = {
        "mode": mode, "n": n, "count": count, "payload_bytes": size, "offered_rate": rate,
        "accepted": accepted, "refused": res["refused"],
        "send_seconds": res["send_seconds"], "achieved_send_rate": res["achieved_send_rate"],
        "seconds_to_full_delivery": elapsed if complete else None,
        "seconds_to_last_delivery": elapsed,
        "msgs_per_s": accepted / elapsed if (elapsed and complete) else None,
        "msgs_per_s_partial": accepted / elapsed if elapsed else None,
        "delivery": delivered / want if want else None,
        "complete": complete,
        "duplicates_delivered": extra,
        "redundancy": frames / (accepted * (n - 1)) if accepted and n > 1 else None,
        "duplicate_frames_received": delta(after, before, "duplicates_received"),
        "neighbours_dropped_slow": delta(after, before, "neighbours_dropped_slow"),
        "neighbours_dead": delta(after, before, "neighbours_dead"),
        "seen_cache_evicted": delta(after, before, "seen_cache_evicted"),
        "grafts_failed": delta(after, before, "grafts_failed"),
        "grafts_unanswerable": delta(after, before, "grafts_unanswerable"),
        "cpu_seconds": cpu,
        "cpu_s_per_1000_delivered": cpu / (delivered / 1000.0) if delivered else None,
        "phase_seconds": phase_s,
        "host_steal_pct": steal,
    }
    return out


class LogWatch:
    """Reads what is appended to a set of log files."""

    def __init__(self, paths):
        self.off = {}
        for p in paths:
            try:
                self.off[p] = os.path.getsize(p)
            except OSError:
                self.off[p] = 0

    def new_lines(self, path):
        try:
            with open(path, "rb") as f:
                f.seek(self.off[path])
                data = f.read()
        except OSError:
            return []
        cut = data.rfind(b"\n") + 1
        self.off[path] += cut
        return data[:cut].decode("utf-8", "replace").splitlines()


def measure_failure(net, rng, timeout=30.0):
    """SIGKILL one peer; time until each neighbour logs it dead and each seed drops it.

    The texts come from src/: peers log "Neighbour <addr> is dead: ..." (neighbours.c
    declare_dead), seeds log "Removed peer <addr> (...)" (seed.c log_removed). The log
    files are polled every 2 ms (their own stamps have a resolution of one second).
    """
    peers = net.live_peers()
    victim = peers[rng.randrange(1, len(peers))] if len(peers) > 1 else peers[0]
    graph, _ = net.overlay()
    neighbours = [p for p in peers if p is not victim and victim.addr in graph.get(p.addr, ())]
    reg_text = "New peer registered: %s." % victim.addr
    seeds = []
    for s in net.seeds:
        try:
            with open(s.log_path, errors="replace") as f:
                if reg_text in f.read():
                    seeds.append(s)
        except OSError:
            pass
    others = [p for p in peers if p is not victim]
    watch = LogWatch([p.log_path for p in others] + [s.log_path for s in net.seeds])
    dead_text = "Neighbour %s is dead" % victim.addr
    removed_text = "Removed peer %s (" % victim.addr
    nb_times = {}
    seed_times = {}
    seed_reasons = {}
    if victim.ctl:
        victim.ctl.close()
        victim.ctl = None
    t0 = time.monotonic()
    victim.proc.kill()
    victim.proc.wait()
    deadline = t0 + timeout
    nb_paths = {p.log_path: p for p in neighbours}
    seed_paths = {s.log_path: s for s in seeds}
    false_dead = 0

    def scan(path):
        nonlocal false_dead
        hit = False
        for line in watch.new_lines(path):
            if dead_text in line or removed_text in line:
                hit = True
            elif " is dead" in line:
                false_dead += 1
        return hit

    while time.monotonic() < deadline and (len(nb_times) < len(neighbours) or len(seed_times) < len(seeds)):
        for path, p in nb_paths.items():
            if p.addr not in nb_times and scan(path):
                nb_times[p.addr] = time.monotonic() - t0
        for path, s in seed_paths.items():
            if s.addr not in seed_times and scan(path):
                seed_times[s.addr] = time.monotonic() - t0
        time.sleep(0.002)
    # The seeds' reasons, and false positives: any other peer declared dead during the window.
    for s in seeds:
        try:
            with open(s.log_path, errors="replace") as f:
                for line in f:
                    if removed_text in line:
                        seed_reasons[s.addr] = line.split(removed_text, 1)[1].rsplit(")", 1)[0]
        except OSError:
            pass
    for p in others:
        scan(p.log_path)
    net.peers = [p for p in net.peers if p is not victim]
    nbt = sorted(nb_times.values())
    sdt = sorted(seed_times.values())
    return {
        "victim": victim.addr,
        "neighbours": len(neighbours), "neighbours_detected": len(nbt),
        "first_neighbour_s": nbt[0] if nbt else None,
        "all_neighbours_s": nbt[-1] if nbt and len(nbt) == len(neighbours) else None,
        "seeds_registered_with": len(seeds), "seeds_dropped": len(sdt),
        "first_seed_s": sdt[0] if sdt else None,
        "all_seeds_s": sdt[-1] if sdt and len(sdt) == len(seeds) else None,
        "seed_reasons": seed_reasons,
        "false_dead_declarations": false_dead,
    }


# ---------------------------------------------------------------------------- phases


def peer_conf_for(args, history):
    conf = {"history": history}
    for kv in args.peer_set:
        k, _, v = kv.partition("=")
        conf[k] = json.loads(v) if v[:1].isdigit() or v in ("true", "false") else v
    return conf


def start_network(args, n, history, rng, seed_conf=None):
    net = Network(args.build, n, n_seeds=args.seeds, peer_conf=peer_conf_for(args, history),
                  seed_conf=seed_conf, keep=args.keep, rng=rng, daemon_stderr=args.daemon_stderr)
    t = time.monotonic()
    try:
        timings = net.start()
    except Exception:
        net.stop()
        raise
    timings["start_total_s"] = time.monotonic() - t
    return net, timings


def throughput_counts(args, n, size=64):
    if args.counts:
        return args.counts
    budget = args.delivery_budget
    counts = [c for c in (1000, 4000, 16000) if c * n <= budget]
    return counts or [max(50, budget // n)]


def run_n(args, n, rng):
    """Every measurement on one network of n peers."""
    k = args.k if args.k else (100 if n <= 200 else 30)
    res = {"n": n, "seeds": args.seeds}
    log("\n=== N=%d peers, %d seeds" % (n, args.seeds))
    t_all = time.monotonic()
    net, timings = start_network(args, n, history=max(k, args.size_k) + 16, rng=rng)
    res["startup"] = timings
    try:
        log("  started in %.2f s (seeds ready %.3f s, peers ready %.2f s, overlay connected %.2f s); dir %s"
            % (timings["start_total_s"], timings["seeds_ready_s"], timings["peers_ready_s"],
               timings["overlay_connected_s"], net.dir))
        degs = [len(v) for v in net.graph.values()]
        res["overlay"] = {"links": sum(degs) // 2, "degree_min": min(degs), "degree_max": max(degs),
                          "degree_mean": sum(degs) / len(degs)}
        time.sleep(args.settle)
        res["idle_mem"] = mem_summary(net)
        seeds_rss = [m["rss"] / 1024.0 for m in net.mem_kb(net.seeds)]
        res["seed_rss_mb_max"] = max(seeds_rss) if seeds_rss else None
        log("  idle memory per peer: RSS median %.2f MB (max %.2f), PSS %.2f MB, anonymous %.2f MB"
            % (res["idle_mem"]["rss_mb"]["median"], res["idle_mem"]["rss_mb"]["max"],
               res["idle_mem"]["pss_mb"]["median"], res["idle_mem"]["anon_mb"]["median"]))

        log("  propagation: %d messages of 64 B, one at a time from random peers ..." % k)
        lat = measure_latency(net, k, 64, rng)
        res["latency"] = lat
        log(table(["N", "msgs", "pairs", "delivery", "dups", "p50 ms", "p99 ms", "max ms",
                   "last-peer p50", "last p99", "last max", "redund.", "ctl rtt ms", "steal %"],
                  [[n, k, lat["pairs"], "%.4f" % lat["delivery"], lat["duplicates_delivered"],
                    fmt(lat["latency_ms"]["p50"], "%.3f"), fmt(lat["latency_ms"]["p99"], "%.3f"),
                    fmt(lat["latency_ms"]["max"], "%.3f"), fmt(lat["last_peer_ms"]["p50"], "%.3f"),
                    fmt(lat["last_peer_ms"]["p99"], "%.3f"), fmt(lat["last_peer_ms"]["max"], "%.3f"),
                    fmt(lat["redundancy"], "%.2f"), fmt(lat["control_send_rtt_ms"]["p50"], "%.3f"),
                    fmt(lat["host_steal_pct"], "%.1f")]]))
        cf = lat["control_frames_per_message"]
        log(table(["N", "hops p50", "hops p99", "hops max", "IHAVE/msg", "GRAFT/msg", "PRUNE/msg",
                   "control/msg"],
                  [[n, fmt(lat["hops"]["p50"], "%.0f"), fmt(lat["hops"]["p99"], "%.0f"),
                    fmt(lat["hops"]["max"], "%.0f"), "%.1f" % cf["ihave"], "%.1f" % cf["graft"],
                    "%.1f" % cf["prune"], "%.1f" % cf["total"]]]))

        res["throughput"] = []
        rows = []
        for mode in ("one", "all"):
            for count in throughput_counts(args, n):
                t = measure_throughput(net, count, 64, mode, stall=args.stall)
                res["throughput"].append(t)
                rows.append(throughput_row(t))
        log("  throughput (64 B, as fast as the control interface allows; rate = msgs / time until every peer has every message):")
        log(table(THROUGHPUT_HEADERS, rows))
        res["after_throughput_mem"] = mem_summary(net)
        am = res["after_throughput_mem"]
        log("  memory per peer after throughput: RSS median %.2f MB (max %.2f), PSS %.2f MB, anonymous %.2f MB"
            % (am["rss_mb"]["median"], am["rss_mb"]["max"], am["pss_mb"]["median"], am["anon_mb"]["median"]))

        if not args.no_failure and n >= 3:
            log("  failure detection: SIGKILL one peer (built-in ping settings) ...")
            fd = measure_failure(net, rng)
            res["failure"] = fd
            log(table(["victim", "neighbours", "detected", "first nb s", "all nb s", "seeds w/ it",
                       "seeds dropped", "first seed s", "all seeds s", "false dead"],
                      [[fd["victim"], fd["neighbours"], fd["neighbours_detected"],
                        fmt(fd["first_neighbour_s"], "%.3f"), fmt(fd["all_neighbours_s"], "%.3f"),
                        fd["seeds_registered_with"], fd["seeds_dropped"], fmt(fd["first_seed_s"], "%.3f"),
                        fmt(fd["all_seeds_s"], "%.3f"), fd["false_dead_declarations"]]]))
        if args.sizes and n <= args.sizes_max_n:
            res["payload"] = []
            rows = []
            for size in args.sizes:
                ks = max(5, min(args.size_k, int(args.tail_budget // (size * n))))
                l2 = measure_latency(net, ks, size, rng)
                cnt = max(20, min(args.size_count, int(args.bytes_budget // (size * n))))
                t2 = measure_throughput(net, cnt, size, "one", stall=args.stall)
                # What holding the resend cache of this size costs (peer.resend_cache_size).
                t2["mem_after"] = mem_summary(net)
                entry = {"payload_bytes": size, "latency": l2, "throughput": t2}
                res["payload"].append(entry)
                runs = [("max", t2)]
                if t2["delivery"] < 1.0 and t2["msgs_per_s_partial"]:
                    # Pushed too fast: pace at half the rate it delivered at before it broke.
                    try:
                        net.wait_overlay(timeout=30)
                    except RuntimeError as e:
                        log("  (overlay not settled before the paced run: %s)" % e)
                    rate = max(5.0, 0.5 * t2["msgs_per_s_partial"] * t2["delivery"])
                    t3 = measure_throughput(net, cnt, size, "one", rate=rate, stall=args.stall)
                    t3["mem_after"] = mem_summary(net)
                    entry["throughput_paced"] = t3
                    runs.append(("%.0f/s" % rate, t3))
                for label, tt in runs:
                    rows.append([size, ks, "%.4f" % l2["delivery"], l2["duplicates_delivered"],
                                 fmt(l2["latency_ms"]["p50"], "%.3f"), fmt(l2["latency_ms"]["p99"], "%.3f"),
                                 fmt(l2["last_peer_ms"]["p50"], "%.3f"), cnt, label,
                                 fmt(tt["msgs_per_s"], "%.0f"),
                                 fmt(tt["msgs_per_s"] * size * 8 / 1e6 if tt["msgs_per_s"] else None, "%.1f"),
                                 "%.4f" % tt["delivery"], fmt(tt["redundancy"], "%.2f"),
                                 tt["neighbours_dropped_slow"], tt["neighbours_dead"],
                                 fmt(tt["mem_after"]["rss_mb"]["max"] if tt["mem_after"] else None, "%.1f")])
            log("  payload sizes (latency: one at a time; throughput: one origin, as fast as possible):")
            log(table(["bytes", "msgs", "delivery", "dups", "p50 ms", "p99 ms", "last p50",
                       "count", "offered", "msgs/s", "Mbit/s", "delivery", "redund.", "slow drops",
                       "dead decl.", "RSS max MB"], rows))

    finally:
        net.stop()
    res["wall_seconds"] = time.monotonic() - t_all
    log("  N=%d done in %.1f s" % (n, res["wall_seconds"]))
    return res


THROUGHPUT_HEADERS = ["mode", "N", "count", "offered/s", "sent/s", "msgs/s", "delivery", "dups",
                      "redund.", "dup frames/msg", "slow drops", "dead decl.", "CPU s/1k deliv", "steal %"]


def throughput_row(t):
    return [t["mode"], t["n"], t["count"], fmt(t["offered_rate"], "%.0f", "max"),
            fmt(t["achieved_send_rate"], "%.0f"),
            fmt(t["msgs_per_s"], "%.0f", "(%s)" % fmt(t["msgs_per_s_partial"], "%.0f")),
            "%.4f" % t["delivery"], t["duplicates_delivered"], fmt(t["redundancy"], "%.2f"),
            fmt(t["duplicate_frames_received"] / t["accepted"] if t["accepted"] else None, "%.2f"),
            t["neighbours_dropped_slow"], t["neighbours_dead"], fmt(t["cpu_s_per_1000_delivered"], "%.3f"),
            fmt(t["host_steal_pct"], "%.1f")]


SUSTAINED_WARMUP = 50


def form_tree(net, rng, count):
    """Sends `count` messages one at a time from random peers, each delivered everywhere
    before the next: a new network's links all start eager, and the broadcast tree forms
    as these first messages meet duplicates, as it has in any network that carried traffic."""
    peers = net.live_peers()
    for _ in range(count):
        before = stats_all(net, peers)
        o = rng.randrange(len(peers))
        peers[o].ctl.send(b"F" * 64)
        wait_delivery(net, peers, before, [0 if i == o else 1 for i in range(len(peers))])


def run_sustained(args, rng):
    n = args.sustained_n
    log("\n=== sustained: N=%d, 64 B, offered at one peer for %.0f s per rate" % (n, args.sustained_seconds))
    net, timings = start_network(args, n, history=16, rng=rng)
    out = {"n": n, "seconds": args.sustained_seconds, "runs": [],
           "tree_forming_messages": SUSTAINED_WARMUP}
    rows = []
    try:
        form_tree(net, rng, SUSTAINED_WARMUP)
        log("  (the broadcast tree formed first: %d messages one at a time)" % SUSTAINED_WARMUP)
        for rate in args.sustained_rates:
            count = int(rate * args.sustained_seconds)
            t = measure_throughput(net, count, 64, "one", rate=rate, window=8192, stall=args.stall)
            t["holds"] = bool(t["complete"] and t["delivery"] == 1.0 and t["duplicates_delivered"] == 0)
            t["offered_achieved"] = t["achieved_send_rate"] >= 0.95 * rate
            out["runs"].append(t)
            rows.append(throughput_row(t) + ["yes" if t["holds"] else "NO",
                                             "yes" if t["offered_achieved"] else "no"])
            if not t["holds"] or not t["offered_achieved"]:
                break
            time.sleep(0.5)
        out["mem_after"] = mem_summary(net)
    finally:
        net.stop()
    log(table(THROUGHPUT_HEADERS + ["holds", "rate offered"], rows))
    good = [r for r in out["runs"] if r["holds"] and r["offered_achieved"]]
    out["max_rate_holding"] = max((r["offered_rate"] for r in good), default=None)
    first = out["runs"][0] if out["runs"] else None
    out["base_rate_holds"] = bool(first and first["holds"] and first["offered_achieved"])
    last = out["runs"][-1] if out["runs"] else None
    if last and last["holds"] and not last["offered_achieved"]:
        out["limit"] = "the harness/control interface could not offer %.0f msg/s (reached %.0f)" % (
            last["offered_rate"], last["achieved_send_rate"])
    elif last and not last["holds"]:
        out["limit"] = "delivery failed at %.0f msg/s offered" % last["offered_rate"]
    else:
        out["limit"] = "every offered rate held"
    log("  holds up to %s msg/s; %s" % (fmt(out["max_rate_holding"], "%.0f"), out["limit"]))
    return out


def run_long(args, rng):
    n = args.long_n
    total = args.long_count
    log("\n=== memory bound: N=%d, %d messages of 64 B from one peer" % (n, total))
    net, _ = start_network(args, n, history=100, rng=rng)
    samples = []
    try:
        time.sleep(args.settle)
        idle = mem_summary(net)
        chunk = max(1, total // 10)
        done = 0
        cpu0 = net.cpu_seconds()
        t0 = time.monotonic()
        while done < total:
            c = min(chunk, total - done)
            t = measure_throughput(net, c, 64, "one", rate=args.long_rate, window=8192, stall=args.stall)
            done += c
            net.truncate_outputs()
            # Right after the last delivery, queues and GRAFT waits of the burst may still
            # be held; the peers give them back at their next ticks (ping_interval).
            busy = mem_summary(net)
            time.sleep(args.long_settle)
            m = mem_summary(net)
            samples.append({"messages": done, "rss_mb_median": m["rss_mb"]["median"],
                            "rss_mb_max": m["rss_mb"]["max"], "anon_mb_max": m["anon_mb"]["max"],
                            "busy_rss_mb_max": busy["rss_mb"]["max"],
                            "delivery": t["delivery"], "msgs_per_s": t["msgs_per_s"]})
            log("  %8d messages: RSS median %.2f MB max %.2f MB (anon max %.2f; max %.2f MB at the"
                " last delivery), delivery %.4f, %s msg/s"
                % (done, m["rss_mb"]["median"], m["rss_mb"]["max"], m["anon_mb"]["max"],
                   busy["rss_mb"]["max"], t["delivery"], fmt(t["msgs_per_s"], "%.0f")))
        cpu = net.cpu_seconds() - cpu0
        wall = time.monotonic() - t0
    finally:
        net.stop()
    last = samples[-1]
    mid = samples[len(samples) // 2 - 1] if len(samples) > 1 else last
    out = {"n": n, "messages": total, "idle_mem": idle, "samples": samples, "wall_seconds": wall,
           "cpu_seconds": cpu,
           "rss_growth_second_half_mb": last["rss_mb_max"] - mid["rss_mb_max"]}
    log("  idle RSS median %.2f MB -> %.2f MB after %d messages; growth over the second half %.2f MB"
        % (idle["rss_mb"]["median"], last["rss_mb_median"], total, out["rss_growth_second_half_mb"]))
    return out


# ---------------------------------------------------------------------------- targets


def evaluate_targets(report):
    runs = {r["n"]: r for r in report["runs"]}
    t = []

    def add(name, met, value):
        t.append({"target": name, "met": met, "value": value})

    r50 = runs.get(50)
    if r50:
        p50 = r50["latency"]["latency_ms"]["p50"]
        p99 = r50["latency"]["latency_ms"]["p99"]
        st = r50["latency"]["host_steal_pct"]
        note = "" if st is None else " (host steal %.1f%% of CPU time during the phase)" % st
        add("N=50 propagation p50 < 1 ms", p50 is not None and p50 < 1.0, "%s ms%s" % (fmt(p50, "%.3f"), note))
        add("N=50 propagation p99 < 5 ms", p99 is not None and p99 < 5.0, "%s ms%s" % (fmt(p99, "%.3f"), note))
    else:
        add("N=50 propagation p50 < 1 ms", None, "N=50 not run")
        add("N=50 propagation p99 < 5 ms", None, "N=50 not run")
    cmp50 = [c for c in report.get("serf", {}).get("comparison", []) if c["n"] == 50]
    if cmp50 and cmp50[0].get("ratio_last"):
        c = cmp50[0]
        add(">= 100x faster than Serf (N=50, time until the last node has it, median)",
            c["ratio_last"] >= 100, "%.0fx (gossip %.3f ms, Serf %.1f ms)" % (
                c["ratio_last"], c["gossip_last_ms"], c["serf_last_ms"]))
    else:
        add(">= 100x faster than Serf (N=50)", None, "Serf comparison at N=50 not run")
    s = report.get("sustained")
    if s and s["runs"]:
        r0 = s["runs"][0]
        add("100%% delivery at %.0f msg/s offered, N=%d, 0 duplicates" % (r0["offered_rate"], s["n"]),
            s["base_rate_holds"], "delivery %.4f, dups %d, sent at %.0f/s; holds up to %s msg/s"
            % (r0["delivery"], r0["duplicates_delivered"], r0["achieved_send_rate"],
               fmt(s["max_rate_holding"], "%.0f")))
    else:
        add("100% delivery at 10k msg/s with N=20", None, "not run")
    idle = [r["idle_mem"]["rss_mb"]["max"] for r in report["runs"] if r.get("idle_mem")]
    pss = [r["idle_mem"]["pss_mb"]["max"] for r in report["runs"] if r.get("idle_mem")]
    if idle:
        add("idle peer RSS < 4 MB", max(idle) < 4.0,
            "max RSS %.2f MB (PSS max %.2f MB)" % (max(idle), max(pss)))
    sec = report.get("security")
    if sec:
        on, off = sec["on"], sec["off"]
        p50 = on["latency"]["latency_ms"]["p50"]
        add("N=%d propagation p50 <= 1.5 ms with TLS and signatures" % sec["n"],
            p50 is not None and p50 <= 1.5, "%s ms (p99 %s ms; off: p50 %s ms, p99 %s ms)" % (
                fmt(p50, "%.3f"), fmt(on["latency"]["latency_ms"]["p99"], "%.3f"),
                fmt(off["latency"]["latency_ms"]["p50"], "%.3f"),
                fmt(off["latency"]["latency_ms"]["p99"], "%.3f")))
        held = off["sustained"]["max_rate_holding"]
        add(">= 10000 msg/s sustained at N=%d, TLS and signing off" % sec["sustained_n"],
            held is not None and held >= 10000,
            "%s msg/s held (signing on: %s msg/s)" % (
                fmt(held, "%.0f"), fmt(on["sustained"]["max_rate_holding"], "%.0f")))
    else:
        add("N=50 propagation p50 <= 1.5 ms with TLS and signatures", None, "not run")
    lg = report.get("long")
    if lg:
        add("peer RSS bounded after %d messages" % lg["messages"], lg["rss_growth_second_half_mb"] < 1.0,
            "idle %.2f MB -> %.2f MB; growth over the second half %.2f MB" % (
                lg["idle_mem"]["rss_mb"]["median"], lg["samples"][-1]["rss_mb_median"],
                lg["rss_growth_second_half_mb"]))
    else:
        add("peer RSS bounded after 1,000,000 messages", None, "not run (BENCH_LONG=1)")
    fds = [r["failure"] for r in report["runs"] if r.get("failure")]
    if fds:
        worst = [f["all_seeds_s"] for f in fds]
        nbw = [f["all_neighbours_s"] for f in fds]
        ok = all(w is not None and w <= 3.0 for w in worst) and all(w is not None and w <= 3.0 for w in nbw)
        add("dead neighbour detected and reported to seeds within 3 s (defaults)", ok,
            "; ".join("N=%d: neighbours %s s, seeds %s s" % (r["n"], fmt(r["failure"]["all_neighbours_s"], "%.2f"),
                                                             fmt(r["failure"]["all_seeds_s"], "%.2f"))
                      for r in report["runs"] if r.get("failure")))
    r1000 = runs.get(1000)
    if r1000:
        ok = r1000["latency"]["delivery"] == 1.0 and all(x["delivery"] == 1.0 for x in r1000["throughput"])
        add("N=1000: every peer gets every message", ok,
            "latency delivery %.4f, throughput delivery %s" % (
                r1000["latency"]["delivery"], ", ".join("%.4f" % x["delivery"] for x in r1000["throughput"])))
    else:
        add("N=1000: every peer gets every message", None, "N=1000 not run")
    return t


# ---------------------------------------------------------------------------- main


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("GOSSIP_BUILD", "build/release"),
                    help="directory with gossip-seed, gossip-peer (default build/release)")
    ap.add_argument("--n", default="10 50 200", help='peer counts, e.g. "10 50 200 1000"')
    ap.add_argument("--seeds", type=int, default=3, help="seeds per network (default 3)")
    ap.add_argument("--k", type=int, default=0, help="messages for the latency measurement (default 100; 30 above N=200)")
    ap.add_argument("--counts", default="", help='throughput counts, e.g. "1000 4000" (default: by N)')
    ap.add_argument("--delivery-budget", type=int, default=1_000_000,
                    help="largest count x N for the default throughput counts")
    ap.add_argument("--sizes", default="64 1024 65536", help='payload sizes ("" skips)')
    ap.add_argument("--sizes-max-n", type=int, default=200, help="largest N with the payload-size phase")
    ap.add_argument("--size-k", type=int, default=30, help="latency messages per payload size")
    ap.add_argument("--size-count", type=int, default=2000, help="throughput count per payload size")
    ap.add_argument("--bytes-budget", type=float, default=2e9, help="payload bytes x N per size throughput run")
    ap.add_argument("--tail-budget", type=float, default=64e6, help="payload bytes x N fetched back by TAIL")
    ap.add_argument("--no-failure", action="store_true", help="skip failure detection")
    ap.add_argument("--sustained", default="1", help="run the sustained-rate phase (1/0)")
    ap.add_argument("--sustained-n", type=int, default=20)
    ap.add_argument("--sustained-seconds", type=float, default=10.0)
    ap.add_argument("--sustained-rates", default="10000 15000 20000 30000 40000 60000 80000",
                    help="offered rates, tried in order until one fails")
    ap.add_argument("--security", default="1",
                    help="run the phase measuring TLS and signatures on and off side by side (1/0)")
    ap.add_argument("--security-n", type=int, default=50, help="N of its latency phase")
    ap.add_argument("--security-k", type=int, default=100, help="messages of its latency phase")
    ap.add_argument("--security-handshakes", type=int, default=500,
                    help="connections made to one peer to measure handshakes")
    ap.add_argument("--long", default="0", help="run the 1,000,000-message memory-bound phase (1/0)")
    ap.add_argument("--long-n", type=int, default=10)
    ap.add_argument("--long-count", type=int, default=1_000_000)
    ap.add_argument("--long-settle", type=float, default=1.5,
                    help="seconds the long run waits after each chunk before reading memory")
    ap.add_argument("--long-rate", type=float, default=0, help="offered rate of the long run (0: max)")
    ap.add_argument("--serf", default="auto", help="Serf comparison: auto (if installed), 1, 0")
    ap.add_argument("--serf-max-n", type=int, default=50,
                    help="largest N for the Serf comparison (default 50: 200 Serf agents load 2 cores "
                         "so much that their RPC times out)")
    ap.add_argument("--serf-k", type=int, default=10, help="events per Serf measurement")
    ap.add_argument("--serf-profile", default="lan", help="Serf timing profile (lan, local, wan)")
    ap.add_argument("--peer-set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra peer setting for every network (e.g. degree=6)")
    ap.add_argument("--stall", type=float, default=5.0, help="seconds without progress before a run is given up")
    ap.add_argument("--settle", type=float, default=0.5, help="idle seconds after startup before measuring")
    ap.add_argument("--json", default="build/bench/bench.json", help="where the JSON report goes")
    ap.add_argument("--seed", type=int, default=None, help="random seed (reproducible choice of origins)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories (logs)")
    ap.add_argument("--daemon-stderr", action="store_true",
                    help="keep daemons' stderr in files (default /dev/null: every received message is also logged there)")
    ap.add_argument("--smoke", action="store_true",
                    help="quick check of the harness: N=5, few messages, short phases, no Serf, no thresholds")
    a = ap.parse_args(argv)

    def numbers(opt, text, kind):
        try:
            return [kind(x) for x in text.replace(",", " ").split()]
        except ValueError:
            ap.error("%s: %r is not a list of numbers (separate them with spaces or commas)" % (opt, text))

    a.n = numbers("--n", a.n, int)
    a.counts = numbers("--counts", a.counts, int)
    a.sizes = numbers("--sizes", a.sizes, int)
    a.sustained_rates = numbers("--sustained-rates", a.sustained_rates, float)
    a.sustained = a.sustained not in ("0", "", "no", "false")
    a.long = a.long not in ("0", "", "no", "false")
    a.security = a.security not in ("0", "", "no", "false")
    a.long_rate = a.long_rate or None
    if a.smoke:
        a.n = [5]
        a.k = a.k or 10
        a.counts = a.counts or [300]
        a.size_k = 3
        a.size_count = 50
        a.sustained_n = 5
        a.sustained_seconds = 1.0
        a.sustained_rates = [2000.0]
        a.security_n = 5
        a.security_k = 10
        a.security_handshakes = 20
        a.long = False
        a.serf = "0"
        a.settle = 0.1
        a.stall = 3.0
    a.build = os.path.abspath(a.build)
    return a


def main(argv):
    args = parse_args(argv)
    for prog in ("gossip-seed", "gossip-peer"):
        if not os.access(os.path.join(args.build, prog), os.X_OK):
            log("bench: %s/%s not found; run make all" % (args.build, prog))
            return 2
    raise_nofile()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    atexit.register(kill_all_started)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))

    report = {
        "meta": {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "host": platform.node(),
                 "kernel": platform.release(), "cpus": os.cpu_count(), "python": platform.python_version(),
                 "build": args.build, "seeds": args.seeds, "random_seed": seed, "smoke": args.smoke,
                 "args": {k: v for k, v in vars(args).items() if k != "build"}},
        "runs": [],
    }
    t_start = time.monotonic()
    log("gossip benchmark: N = %s, %d seeds, build %s, random seed %d%s" % (
        " ".join(map(str, args.n)), args.seeds, args.build, seed, " (smoke)" if args.smoke else ""))
    for n in args.n:
        report["runs"].append(run_n(args, n, rng))
    if args.sustained:
        report["sustained"] = run_sustained(args, rng)
    if args.security:
        report["security"] = secbench.run(args, rng, sys.modules[__name__])
    if args.long:
        report["long"] = run_long(args, rng)

    serf_on = args.serf == "1" or (args.serf == "auto" and serfnet.available())
    if serf_on:
        report["serf"] = {"runs": [], "comparison": []}
        for n in args.n:
            if n > args.serf_max_n:
                log("\n=== Serf N=%d skipped (above --serf-max-n %d)" % (n, args.serf_max_n))
                continue
            log("\n=== Serf: %d agents on loopback, profile %s, %d user events (-coalesce=false)"
                % (n, args.serf_profile, args.serf_k))
            try:
                sr = serfnet.measure(n, args.serf_k, rng, profile=args.serf_profile, keep=args.keep, log=log)
            except Exception as e:  # a Serf failure must not lose the gossip figures
                log("  Serf run failed: %s" % e)
                sr = {"n": n, "error": str(e)}
            report["serf"]["runs"].append(sr)
            g = next((r for r in report["runs"] if r["n"] == n), None)
            if g and sr.get("last_agent_ms", {}).get("p50"):
                gl = g["latency"]["last_peer_ms"]["p50"]
                gp = g["latency"]["latency_ms"]["p50"]
                report["serf"]["comparison"].append({
                    "n": n, "gossip_last_ms": gl, "serf_last_ms": sr["last_agent_ms"]["p50"],
                    "ratio_last": sr["last_agent_ms"]["p50"] / gl if gl else None,
                    "gossip_p50_ms": gp, "serf_p50_ms": sr["latency_ms"]["p50"],
                    "ratio_p50": sr["latency_ms"]["p50"] / gp if gp else None,
                    "gossip_delivery": g["latency"]["delivery"], "serf_delivery": sr["delivery"]})
        if report["serf"]["comparison"]:
            log("\n=== propagation, gossip vs Serf (%s profile), medians over messages" % args.serf_profile)
            log(table(["N", "gossip p50 ms", "Serf p50 ms", "ratio", "gossip last-peer ms",
                       "Serf last-agent ms", "ratio", "gossip deliv", "Serf deliv"],
                      [[c["n"], fmt(c["gossip_p50_ms"], "%.3f"), fmt(c["serf_p50_ms"], "%.1f"),
                        fmt(c["ratio_p50"], "%.0fx"), fmt(c["gossip_last_ms"], "%.3f"),
                        fmt(c["serf_last_ms"], "%.1f"), fmt(c["ratio_last"], "%.0fx"),
                        "%.4f" % c["gossip_delivery"], "%.4f" % c["serf_delivery"]]
                       for c in report["serf"]["comparison"]]))
    elif args.serf == "auto":
        log("\n(Serf not installed: comparison skipped; apt-get install serf)")

    # Summary across N.
    rows = []
    for r in report["runs"]:
        lat = r["latency"]
        one = [t for t in r["throughput"] if t["mode"] == "one"]
        allm = [t for t in r["throughput"] if t["mode"] == "all"]
        best = lambda ts: max((t["msgs_per_s"] or 0 for t in ts), default=0) or None  # noqa: E731
        fd = r.get("failure") or {}
        rows.append([r["n"], "%.2f" % r["startup"]["start_total_s"], fmt(lat["latency_ms"]["p50"], "%.3f"),
                     fmt(lat["latency_ms"]["p99"], "%.3f"), fmt(lat["latency_ms"]["max"], "%.3f"),
                     fmt(lat["last_peer_ms"]["p50"], "%.3f"), "%.4f" % lat["delivery"],
                     lat["duplicates_delivered"], fmt(lat["redundancy"], "%.2f"),
                     fmt(best(one), "%.0f"), fmt(best(allm), "%.0f"),
                     "%.4f" % min(t["delivery"] for t in r["throughput"]),
                     "%.2f" % r["idle_mem"]["rss_mb"]["median"],
                     "%.2f" % r["after_throughput_mem"]["rss_mb"]["median"],
                     fmt(max((t["cpu_s_per_1000_delivered"] or 0) for t in r["throughput"]), "%.3f"),
                     fmt(fd.get("all_neighbours_s"), "%.2f"), fmt(fd.get("all_seeds_s"), "%.2f"),
                     fmt(lat["host_steal_pct"], "%.1f"), "%.0f" % r["wall_seconds"]])
    log("\n=== summary (latency: daemon timestamps, ms; throughput: msgs/s until every peer has every message)")
    log(table(["N", "start s", "p50", "p99", "max", "last p50", "delivery", "dups", "redund.",
               "thr 1 origin", "thr all", "thr deliv", "RSS idle MB", "RSS after MB",
               "CPU s/1k", "dead nb s", "seeds drop s", "steal %", "wall s"], rows))

    status = 0
    if args.smoke:
        phases = [ph for r in report["runs"] for ph in [r["latency"]] + r["throughput"]]
        # No thresholds; only proof that the harness measured something end to end.
        if not all(r["latency"]["delivered_pairs"] > 0 and r["throughput"] for r in report["runs"]):
            log("\nbench-smoke: the harness delivered no message; something is broken")
            status = 1
        elif (all(ph["host_steal_pct"] is None for ph in phases) or
              any(ph["host_steal_pct"] is None and ph["phase_seconds"] >= STEAL_MIN_PHASE_S for ph in phases)):
            # A shorter phase can pass between two clock ticks of /proc/stat
            # (USER_HZ, 10 ms), so it has no figure and shows "-"; but some
            # phase must have one (none has when /proc/stat is unreadable),
            # and every phase that lasted long enough.
            log("\nbench-smoke: no phase, or a phase of %.1f s or longer, has a host steal figure"
                % STEAL_MIN_PHASE_S)
            status = 1
        else:
            log("\nbench-smoke: every phase ran (figures above; targets are not evaluated in smoke mode)")
    else:
        report["targets"] = evaluate_targets(report)
        log("\n=== targets (evaluated, never asserted)")
        for t in report["targets"]:
            state = "not measured" if t["met"] is None else ("met" if t["met"] else "NOT MET")
            log("  [%-12s] %s: %s" % (state, t["target"], t["value"]))
    report["meta"]["wall_seconds"] = time.monotonic() - t_start
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, sort_keys=True)
        log("\nJSON report: %s (%.0f s in all)" % (args.json, report["meta"]["wall_seconds"]))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

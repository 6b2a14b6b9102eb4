# SPDX-License-Identifier: MIT
"""The cost of security, measured side by side: the same network with mutual TLS and signed
broadcasts (as shipped), with TLS but unsigned broadcasts (peer.sign_messages = false), and
without either (plaintext).

For each mode: propagation latency at N=50, idle memory per peer, the sustained rate at N=20
with every message delivered, TLS handshakes a peer accepts per second (and the CPU they cost
it), and the time a new peer takes from its start to READY=1. With TLS on, a CPU profile of one
relaying peer at the highest rate that held (perf(1), where it is installed and allowed).
"""
import os
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import time

from benchnet import Network, proc_cpu_seconds

# The wire protocol version (gossip(7), WIRE PROTOCOL).
WIRE_VERSION = 4
# The rates tried with signing on, in order until one fails: verifying an Ed25519 signature
# costs each peer tens of microseconds per message.
SIGNED_RATES = [1000.0, 2000.0, 3000.0, 5000.0, 7500.0, 10000.0, 15000.0, 20000.0]
READY_REPEATS = 5
PROFILE_SECONDS = 5.0


def _frame(ftype, body=b""):
    return b"GS" + bytes([WIRE_VERSION, ftype]) + struct.pack(">I", len(body)) + body


def _probe_frames(seed_port, nonce):
    """What a seed's probe says: HELLO (role seed, 127.0.0.1:seed_port), then PING."""
    addr = bytes([4]) + socket.inet_aton("127.0.0.1") + struct.pack(">H", seed_port)
    return (_frame(1, bytes([2]) + addr + struct.pack(">Q", 1)) +
            _frame(8, struct.pack(">Q", nonce)))


def _read_pong(sock, nonce):
    buf = b""
    while True:
        while len(buf) >= 8:
            blen = struct.unpack_from(">I", buf, 4)[0]
            if len(buf) < 8 + blen:
                break
            ftype, body, buf = buf[3], buf[8:8 + blen], buf[8 + blen:]
            if ftype == 9 and body == struct.pack(">Q", nonce):
                return
        data = sock.recv(65536)
        if not data:
            raise RuntimeError("the peer closed the connection before its PONG")
        buf += data


def measure_handshakes(net, count, summary):
    """`count` connections to one peer, one after the other, each answered as a seed's probe is
    (connect, TLS handshake when on, HELLO, PING, PONG): connections per second, time to the
    PONG, and the peer's CPU time per connection."""
    peer = net.peers[0]
    ctx = None
    if net.tls:
        d = os.path.join(net.dir, "tls")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.check_hostname = False
        ctx.load_verify_locations(os.path.join(d, "ca.crt"))
        ctx.load_cert_chain(os.path.join(d, "node.crt"), os.path.join(d, "node.key"))
    seed_port = net.seeds[0].port
    cpu0 = proc_cpu_seconds(peer.pid)
    times = []
    t_all = time.monotonic()
    for i in range(count):
        t0 = time.monotonic()
        s = socket.create_connection(("127.0.0.1", peer.port), timeout=10)
        if ctx:
            s = ctx.wrap_socket(s)
        s.sendall(_probe_frames(seed_port, i + 1))
        _read_pong(s, i + 1)
        times.append((time.monotonic() - t0) * 1e3)
        s.close()
    wall = time.monotonic() - t_all
    cpu = proc_cpu_seconds(peer.pid) - cpu0
    return {"connections": count, "per_s": count / wall, "to_pong_ms": summary(times),
            "peer_cpu_ms_per_connection": cpu * 1e3 / count}


def measure_ready(net, repeats, summary):
    """A new peer started `repeats` times into the running network: seconds from its start to
    READY=1 (listening, and registered with a majority of the seeds)."""
    times = []
    for _ in range(repeats):
        node, t = net.start_extra_peer()
        times.append(t)
        net.stop_node(node)
    return summary(times)


def profile(pid, seconds, out_dir):
    """perf record of pid for `seconds` (run in the background while the load runs): a function
    that waits for it and returns the top symbols and libraries, or None without perf."""
    perf = shutil.which("perf")
    if not perf:
        return lambda: {"error": "perf not installed (apt-get install linux-perf)"}
    data = os.path.join(out_dir, "perf.data")
    p = subprocess.Popen([perf, "record", "-q", "-F", "499", "-p", str(pid), "-o", data, "--",
                          "sleep", str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def result():
        _, err = p.communicate(timeout=seconds + 60)
        if p.returncode != 0 or not os.path.exists(data):
            return {"error": "perf record failed: %s" % err.decode(errors="replace").strip()[:200]}
        out = {}
        for key in ("dso", "sym"):
            r = subprocess.run([perf, "report", "-i", data, "--stdio", "--no-children", "--sort", key,
                                "--percent-limit", "1.5"], capture_output=True, text=True, timeout=120)
            rows = []
            for line in r.stdout.splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith("%") and not line.startswith("#"):
                    name = " ".join(parts[1:]).replace("[.] ", "").replace("[k] ", "")
                    rows.append([float(parts[0][:-1]), name])
            out[key] = rows[:12]
        return out
    return result


def sustained(args, rng, b, net, rates, want_profile):
    """The offered rates in order until one fails (b: the bench module's measurements)."""
    b.form_tree(net, rng, b.SUSTAINED_WARMUP)
    runs, best = [], None
    for rate in rates:
        t = b.measure_throughput(net, int(rate * args.sustained_seconds), 64, "one", rate=rate,
                                 window=8192, stall=args.stall)
        t["holds"] = bool(t["complete"] and t["delivery"] == 1.0 and t["duplicates_delivered"] == 0
                          and t["achieved_send_rate"] >= 0.95 * rate)
        runs.append(t)
        if not t["holds"]:
            break
        best = rate
        time.sleep(0.5)
    out = {"runs": runs, "max_rate_holding": best}
    if want_profile and best:
        relay = net.live_peers()[1]
        with tempfile.TemporaryDirectory(prefix="gossip-perf.") as d:
            wait = profile(relay.pid, PROFILE_SECONDS, d)
            b.measure_throughput(net, int(best * PROFILE_SECONDS), 64, "one", rate=best, window=8192,
                                 stall=args.stall)
            out["profile"] = dict(wait(), rate=best, peer=relay.addr)
    return out


MODES = (("on", "TLS + signatures", True, True), ("tls", "TLS, unsigned", True, False),
         ("off", "plaintext", False, False))


def run_mode(args, rng, b, name, tls, sign):
    """Every measurement of one mode, on a network of N=50, then one of N=20."""
    r = {"tls": tls, "signed": sign}
    n, k = args.security_n, args.security_k
    b.log("\n--- %s: N=%d" % (name, n))
    conf = {"sign_messages": sign}
    net = Network(args.build, n, n_seeds=args.seeds, peer_conf=dict(conf, history=k + 16),
                  keep=args.keep, rng=rng, daemon_stderr=args.daemon_stderr, tls=tls)
    try:
        r["startup"] = net.start()
        time.sleep(args.settle)
        r["idle_mem"] = b.mem_summary(net)
        r["latency"] = b.measure_latency(net, k, 64, rng)
        r["handshakes"] = measure_handshakes(net, args.security_handshakes, b.summary)
        r["ready_s"] = measure_ready(net, READY_REPEATS if not args.smoke else 1, b.summary)
    finally:
        net.stop()
    b.log("  p50 %s ms, p99 %s ms, delivery %.4f; idle RSS %.2f MB; %.0f connections/s; "
          "ready in %.3f s" % (b.fmt(r["latency"]["latency_ms"]["p50"], "%.3f"),
                               b.fmt(r["latency"]["latency_ms"]["p99"], "%.3f"),
                               r["latency"]["delivery"], r["idle_mem"]["rss_mb"]["median"],
                               r["handshakes"]["per_s"], r["ready_s"]["p50"]))
    b.log("--- %s: sustained rate, N=%d" % (name, args.sustained_n))
    net = Network(args.build, args.sustained_n, n_seeds=args.seeds,
                  peer_conf=dict(conf, history=16), keep=args.keep, rng=rng,
                  daemon_stderr=args.daemon_stderr, tls=tls)
    try:
        net.start()
        rates = args.sustained_rates if not sign or args.smoke else SIGNED_RATES
        r["sustained"] = sustained(args, rng, b, net, rates, sign and not args.smoke)
    finally:
        net.stop()
    b.log("  holds up to %s msg/s" % b.fmt(r["sustained"]["max_rate_holding"], "%.0f"))
    return r


def run(args, rng, b):
    """Both modes, and the side-by-side table."""
    b.log("\n=== security: TLS and signatures on (as shipped), TLS alone, and neither, side by side")
    out = {"n": args.security_n, "sustained_n": args.sustained_n}
    for key, label, tls, sign in reversed(MODES):
        out[key] = run_mode(args, rng, b, label, tls, sign)
    rows = []
    for key, label, _, _ in MODES:
        m = out[key]
        lat, hs = m["latency"]["latency_ms"], m["handshakes"]
        rows.append([label, b.fmt(lat["p50"], "%.3f"), b.fmt(lat["p99"], "%.3f"),
                     "%.4f" % m["latency"]["delivery"],
                     b.fmt(m["sustained"]["max_rate_holding"], "%.0f"),
                     "%.0f" % hs["per_s"], b.fmt(hs["to_pong_ms"]["p50"], "%.2f"),
                     "%.2f" % hs["peer_cpu_ms_per_connection"], b.fmt(m["ready_s"]["p50"], "%.3f"),
                     "%.2f" % m["idle_mem"]["rss_mb"]["median"]])
    b.log(b.table(["mode", "N=%d p50 ms" % args.security_n, "p99 ms", "delivery",
                   "N=%d msg/s held" % args.sustained_n, "conn/s", "conn to PONG ms",
                   "peer CPU ms/conn", "new peer ready s", "idle RSS MB"], rows))
    prof = out["on"]["sustained"].get("profile")
    if prof and "error" not in prof:
        b.log("\n  where a relaying peer's CPU goes with signatures on (%s at %.0f msg/s, perf):"
              % (prof["peer"], prof["rate"]))
        b.log(b.table(["% CPU", "library"], [["%.1f" % p, s] for p, s in prof["dso"]]))
        b.log(b.table(["% CPU", "function"], [["%.1f" % p, s] for p, s in prof["sym"]]))
    elif prof:
        b.log("\n  (no profile: %s)" % prof["error"])
    return out

# SPDX-License-Identifier: MIT
"""Mutual TLS between nodes: who may connect, what they may claim, modes, rotation, bad settings."""
import signal
import socket
import ssl
import subprocess

import pytest

import wireproto as w
from gossipnet import LOCAL, PEER_BIN, SEED_BIN, base_env, wait_until

STEADY = dict(peer_ping_interval=1.0, peer_ping_timeout=1.0, peer_ping_misses=3)


def tls_net(network, name, peers=2, **kw):
    net = network(name, **STEADY, **kw)
    ca = net.use_tls()
    net.start_seeds(1)
    net.start_peers(peers)
    if peers > 1:
        net.wait_connected()
    return net, ca


def stat(peer, key):
    return peer.stats()[key]


def test_network_runs_over_tls(network):
    """Seeds and peers register, connect and deliver with TLS required, and say so at start."""
    net, _ = tls_net(network, "tls-run")
    a, b = net.peers
    a.send("over-tls")
    net.wait_delivered([b], "over-tls")
    for d in [net.seeds[0], a, b]:
        assert any("TLS required: certificate node" in ln for ln in d.log_lines()[:3]), d.name


def test_plaintext_refused_when_required(network):
    """A plaintext HELLO and GOSSIP to a TLS peer: refused with a log line, nothing delivered."""
    net, _ = tls_net(network, "tls-plain", peers=1)
    (peer,) = net.peers
    fr, _ = w.gossip((LOCAL, 40001), b"plaintext-injection")
    with w.WireConn(peer.port) as c:
        c.send(w.hello(LOCAL, 40001) + fr)
        assert c.wait_closed(10)
    peer.wait_log(r"warning: refusing plaintext connection from 127\.0\.0\.1:\d+: tls\.mode is required")
    assert not any("plaintext-injection" in ln for ln in peer.output_lines())
    assert stat(peer, "messages_received") == 0
    # The same at a seed: no registration without TLS.
    with w.WireConn(net.seeds[0].port) as c:
        c.send(w.register(LOCAL, 40002))
        assert c.wait_closed(10)
    net.seeds[0].wait_log(r"refusing plaintext connection from")


def handshake_fails(port, ctx):
    """True when the daemon at port will not finish a TLS handshake with ctx's certificate."""
    try:
        with socket.create_connection((LOCAL, port), timeout=10) as s:
            with ctx.wrap_socket(s) as t:
                # TLS 1.3: the server's verdict on our certificate comes after our Finished.
                t.settimeout(5)
                return t.recv(1) == b""
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True


def test_certificate_of_another_ca_refused(network):
    """A client whose certificate another CA signed cannot finish the handshake, and a peer
    configured with that CA cannot register."""
    net, ca = tls_net(network, "tls-ca", peers=1)
    (peer,) = net.peers
    other = net.make_ca("other-ca")
    cert, key = net.issue(other, "intruder")
    assert handshake_fails(peer.port, w.tls_context(other / "ca.crt", cert, key))
    peer.wait_log(r"closed before it was accepted: TLS handshake failed")
    # A whole peer from the other CA: never registered, never ready.
    cfg = net.write_config(net.dir / "other.conf", tls_ca_file=str(other / "ca.crt"),
                           tls_cert_file=str(cert), tls_key_file=str(key))
    bad = net.add_peer(wait=False, config=cfg)
    bad.wait_log(r"seed 127\.0\.0\.1:\d+ unreachable: TLS handshake failed")
    net.seeds[0].wait_log(r"closed before it was accepted: TLS handshake failed", count=2)
    assert not bad.is_ready()
    assert bad.addr not in net.seeds[0].registry()


def test_claims_must_match_the_certificate(network):
    """With a valid member certificate for 127.0.0.1, claiming another address is refused: a
    HELLO at a peer, a REGISTER and a LEAVE at a seed. Each is counted or logged."""
    net, ca = tls_net(network, "tls-claim", peers=1)
    (peer,) = net.peers
    seed = net.seeds[0]
    cert, key = net.issue(ca, "member")
    ctx = w.tls_context(ca / "ca.crt", cert, key)
    with w.WireConn(peer.port, tls=ctx) as c:
        c.send(w.hello("127.0.0.2", 40003))
        fr = c.recv_frame()
        assert fr is not None and fr[0] == w.ERROR, fr
        assert b"does not list" in fr[1]
    wait_until(lambda: stat(peer, "claims_refused") == 1, what="claims_refused counted")
    peer.wait_log(r"refusing HELLO from 127\.0\.0\.1:\d+: it claims 127\.0\.0\.2:40003, which its "
                  r"certificate \(member\) does not list")
    with w.WireConn(seed.port, tls=ctx) as c:
        c.send(w.register("127.0.0.2", 40004))
        fr = c.recv_frame()
        assert fr is not None and fr[0] == w.ERROR, fr
    seed.wait_log(r"refusing REGISTER from .*: it claims 127\.0\.0\.2:40004")
    assert "127.0.0.2:40004" not in seed.registry()
    # A LEAVE naming the registered peer from a certificate that does not list it: ignored.
    other_cert, other_key = net.issue(ca, "elsewhere", ("127.0.0.3",))
    with w.WireConn(seed.port, tls=w.tls_context(ca / "ca.crt", other_cert, other_key)) as c:
        c.send(w.leave(LOCAL, peer.port))
        seed.wait_log(r"refusing LEAVE from .*: it claims 127\.0\.0\.1:%d" % peer.port)
    assert peer.addr in seed.registry()
    # The same certificate, claiming what it lists: accepted.
    with w.WireConn(peer.port, tls=ctx) as c:
        c.send(w.hello(LOCAL, 40005))
        fr = c.recv_frame()
        assert fr is not None and fr[0] == w.HELLO, fr


@pytest.mark.parametrize("start,days,why", [(-10, 5, "certificate has expired"),
                                             (10, 5, "certificate is not yet valid")])
def test_expired_and_future_certificates_refused(network, start, days, why):
    net, ca = tls_net(network, "tls-dates", peers=1)
    (peer,) = net.peers
    cert, key = net.issue(ca, "dated", (LOCAL,), "--start", str(start), "--days", str(days))
    assert handshake_fails(peer.port, w.tls_context(ca / "ca.crt", cert, key))
    peer.wait_log(r"closed before it was accepted: TLS handshake failed: its certificate: " + why)


def make_crl(ca, revoked_cert):
    """A CRL of the CA in `ca` revoking revoked_cert (openssl ca); returns its path."""
    (ca / "index.txt").write_text("")
    cfg = ca / "ca.cnf"
    cfg.write_text(f"""[ca]
default_ca = gossip
[gossip]
database = {ca}/index.txt
crlnumber = {ca}/crlnumber
default_md = default
default_crl_days = 30
""")
    (ca / "crlnumber").write_text("01\n")
    for args in (["-revoke", str(revoked_cert)], ["-gencrl", "-out", str(ca / "ca.crl")]):
        subprocess.run(["openssl", "ca", "-batch", "-config", str(cfg), "-keyfile", str(ca / "ca.key"),
                        "-cert", str(ca / "ca.crt")] + args, check=True, capture_output=True)
    return ca / "ca.crl"


def test_revoked_certificate_refused(network):
    """A certificate on the CA's revocation list is refused; another one still works."""
    net = network("tls-crl", **STEADY)
    ca = net.use_tls()
    revoked, rkey = net.issue(ca, "revoked")
    good, gkey = net.issue(ca, "good")
    crl = make_crl(ca, revoked)
    net.settings["tls_crl_file"] = str(crl)
    net.write_config()
    net.start_seeds(1)
    (peer,) = net.start_peers(1)
    assert handshake_fails(peer.port, w.tls_context(ca / "ca.crt", revoked, rkey))
    peer.wait_log(r"TLS handshake failed: its certificate: certificate revoked")
    with w.WireConn(peer.port, tls=w.tls_context(ca / "ca.crt", good, gkey)) as c:
        c.send(w.hello(LOCAL, 40006))
        fr = c.recv_frame()
        assert fr is not None and fr[0] == w.HELLO, fr


def test_optional_mode_accepts_tls_and_plaintext(network):
    """A seed and a peer in optional mode serve a TLS peer and a plaintext one: signed messages
    reach all; an unsigned one reaches the optional peer but not the one requiring signatures."""
    net = network("tls-opt", peer_degree=3, **STEADY)
    ca = net.use_tls(mode="optional")
    net.start_seeds(1)
    opt = net.add_peer()
    plain_cfg = net.write_config(net.dir / "plain.conf", tls_mode="off")
    req_cfg = net.write_config(net.dir / "required.conf", tls_mode="required")
    plain = net.add_peer(config=plain_cfg)
    req = net.add_peer(config=req_cfg)
    assert any("tls.mode is off" in ln for ln in plain.log_lines()[:2])
    wait_until(lambda: opt.up_neighbours() >= {plain.addr, req.addr},
               what=lambda: f"the optional peer linked to both; has {opt.up_neighbours()}")
    req.send("from-tls")
    net.wait_delivered([opt, plain], "from-tls")
    plain.send("from-plaintext")
    net.wait_delivered([opt], "from-plaintext")
    wait_until(lambda: stat(req, "unsigned_dropped") >= 1, what="the required peer drops it")
    assert not any("from-plaintext" in ln for ln in req.output_lines())
    req.wait_log(r"dropping unsigned message [0-9a-f]+ from 127\.0\.0\.1:\d+ \(origin %s\): "
                 r"signatures are required" % plain.addr.replace(".", r"\."))


def test_reload_rotates_certificate_keeping_links(network):
    """New certificate files and SIGHUP: established links stay, new handshakes use the new
    certificate, and a wrong new certificate is rejected with the old one kept."""
    net, ca = tls_net(network, "tls-rot")
    a, b = net.peers
    before = {n["addr"]: n["connected_for"] for n in a.neighbours()}
    cert, key = net.issue(ca, "rotated")
    net.settings.update(tls_cert_file=str(cert), tls_key_file=str(key))
    net.write_config()
    for d in [net.seeds[0], a, b]:
        d.signal(signal.SIGHUP)
        d.wait_log(r"TLS required: certificate rotated")
    after = {n["addr"]: n for n in a.neighbours()}
    assert b.addr in after and after[b.addr]["state"] == "up"
    assert after[b.addr]["connected_for"] >= before[b.addr]
    assert not a.log_lines(r"lost connection to neighbour")
    c = net.add_peer()  # new handshakes, with the rotated certificates
    net.wait_connected()
    c.send("after-rotation")
    net.wait_delivered([a, b], "after-rotation")
    # A certificate from another CA: the reload is refused, the running one kept.
    other = net.make_ca("other-ca")
    bad_cert, bad_key = net.issue(other, "wrong")
    net.settings.update(tls_cert_file=str(bad_cert), tls_key_file=str(bad_key))
    net.write_config()
    a.signal(signal.SIGHUP)
    a.wait_log(r"reload failed; keeping the previous configuration")
    assert a.log_lines(r"not accepted by .*ca\.crt: unable to get local issuer certificate")
    a.send("still-running")
    net.wait_delivered([b, c], "still-running")


@pytest.mark.parametrize("settings,message", [
    ({"tls_mode": "required"}, 'tls.mode "required" needs tls.ca_file, tls.cert_file and tls.key_file'),
    ({"tls_mode": "sometimes"}, 'tls.mode "sometimes" is not one of "off", "optional", "required"'),
    ({"tls_mode": "required", "tls_ca_file": "/nonexistent/ca.crt", "tls_cert_file": "/nonexistent/n.crt",
      "tls_key_file": "/nonexistent/n.key"}, "/nonexistent/n.crt: cannot load the certificate"),
])
def test_bad_tls_settings_stop_the_start(network, settings, message):
    net = network("tls-bad")
    cfg = net.write_config(net.dir / "bad.conf", seed_ports=[5999], **settings)
    for binary, args in ((SEED_BIN, ["-c", cfg, LOCAL, "5999"]),
                         (PEER_BIN, ["-c", cfg, "-L", net.dir, LOCAL, "6999"])):
        p = subprocess.run([str(binary)] + [str(a) for a in args], env=base_env(net.dir),
                           capture_output=True, timeout=30, cwd=net.dir)
        assert p.returncode == 1, (binary, p.returncode, p.stderr)
        assert message in p.stderr.decode(), p.stderr.decode()


def test_certificate_must_list_the_advertised_address(network):
    """A node whose own certificate does not list the address it advertises does not start."""
    net = network("tls-self")
    ca = net.make_ca()
    cert, key = net.issue(ca, "elsewhere", ("127.0.0.9",))
    cfg = net.write_config(net.dir / "c.conf", seed_ports=[5998], tls_ca_file=str(ca / "ca.crt"),
                           tls_cert_file=str(cert), tls_key_file=str(key))
    p = subprocess.run([str(SEED_BIN), "-c", str(cfg), LOCAL, "5998"], env=base_env(net.dir),
                       capture_output=True, timeout=30, cwd=net.dir)
    assert p.returncode == 1
    assert "does not list 127.0.0.1, the address this node advertises" in p.stderr.decode()

# SPDX-License-Identifier: MIT
"""Three hosts in network namespaces (issue 15, "Done when"): only cluster members speak.

Host 1 runs the seed and a peer, hosts 2 and 3 a peer each, with mutual TLS required and a
certificate per host listing that host's address (conftest.py sets them up). Then, from host 3:

1. a node whose certificate another CA signed cannot register with the seed, connect to the
   peers, or inject a message;
2. a node with a valid certificate that does not list the address it claims (10.199.0.3, with a
   certificate for 10.199.0.2) has its HELLO and REGISTER refused and injects nothing;
3. a member (host 3's own certificate) cannot forge another origin (host 2's peer): the
   signature check refuses it, while the same member's message in its own name is delivered.

Each refusal is shown by the refusing daemon (a log line, a counter) and by what did not
happen (no registration, no neighbour, no line in any output.txt); each "nothing arrived" is
checked after a later message went through the same peers, not after a sleep.
"""
import re
import secrets
import ssl
import subprocess

import wireproto as w
from netnslib import IP_BIN, PEER_PORT, SEED_PORT, TIMEOUT, signed_gossip
from gossipnet import PEER_BIN, RECEIVED_RE, base_env, sanitizer_report, wait_until

# How a daemon logs a TLS client whose certificate does not chain to the cluster CA: the
# certificate alone (the Python client), or with its CA's (a daemon sends the chain it built).
NOT_OUR_CA = (r"connection from {ip}:{port} closed before it was accepted: TLS handshake failed: "
              r"its certificate: (unable to get local issuer certificate|"
              r"self-signed certificate in certificate chain)")


def rx(ip):
    return re.escape(ip)


def local_port(conn):
    """The source port of a client connection, as the daemons name it in their logs."""
    return conn.sock.getsockname()[1]


def delivered(peer, text):
    """The parsed output.txt lines of peer carrying text."""
    return [RECEIVED_RE.match(ln).groupdict() for ln in peer.output_lines() if text in ln]


def assert_nowhere(cluster, text):
    hits = [(name, ln) for name, ln in cluster.all_output() if text in ln]
    assert not hits, f"{text!r} reached an output.txt: {hits}"


def barrier(cluster, sender, receivers, what):
    """A message from sender, waited for at receivers: what a refused message would have
    reached by now, it would have reached before this one."""
    text = f"barrier-{what}-{secrets.token_hex(4)}"
    sender.send(text)
    cluster.net.wait_delivered(receivers, text, timeout=TIMEOUT)


def refused_at_tls(conn, data):
    """Sends data on a TLS connection whose handshake the server is expected to refuse (with
    TLS 1.3 the client's side completes first, and the server's verdict on our certificate
    follows). True when the server closed without sending a single frame."""
    try:
        conn.send(data)
        return conn.recv_frame(TIMEOUT) is None
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True


def test_broadcast_reaches_every_host(hosts):
    """The three peers form a mesh across the bridge; a message sent on host 2 is delivered on
    hosts 1 and 3, in host 2's peer's name; the seed lists exactly the three peers."""
    p1, p2, p3 = hosts.peers
    assert hosts.registry() == {p.addr for p in hosts.peers}
    text = f"hello-from-host2-{secrets.token_hex(4)}"
    p2.send(text)
    hosts.net.wait_delivered([p1, p3], text, timeout=TIMEOUT)
    for p in (p1, p3):
        (rec,) = delivered(p, text)
        assert rec["origin"] == p2.addr and rec["oip"] == hosts.hosts[1].ip, rec
    assert not delivered(p2, text), "the origin delivered its own message"


def test_node_without_ca_signed_certificate(hosts):
    """A second peer on host 3 with a certificate from another CA, for host 3's own address. It
    trusts the cluster CA too (its ca_file holds both), so it is the cluster that refuses it,
    not it that refuses the cluster; its seed list names the seed and every peer, so it dials
    them all. It never registers nor gets a neighbour; each daemon logs the failed handshake.
    A Python client on host 3 with the same certificate cannot inject a message at host 1's
    peer either."""
    h1, h2, h3 = hosts.hosts
    p1, p2, p3 = hosts.peers
    seed = hosts.seed
    net = hosts.net
    other = net.make_ca("other-ca")
    cert, key = net.issue(other, "intruder", (h3.ip,))
    trust = net.dir / "intruder-trust.crt"
    trust.write_text((other / "ca.crt").read_text() + (hosts.ca / "ca.crt").read_text())
    refused = NOT_OUR_CA.format(ip=rx(h3.ip), port=r"\d+")
    targets = [seed] + list(hosts.peers)
    for d in targets:
        assert not d.log_lines(refused), f"{d.name} refused a handshake before the intruder came"

    port = PEER_PORT + 1
    cfg = hosts.write_config("intruder", trust, cert, key,
                             seeds=[hosts.seed_addr()] + [p.addr for p in hosts.peers])
    intruder = hosts.add_peer(h3, port, "intruder-h3", cfg)
    for d in targets:
        d.wait_log(refused, timeout=TIMEOUT)
    hosts.check_netns(intruder)
    intruder_addr = f"{h3.ip}:{port}"
    # Cannot register: the seed's registry still lists only the members.
    assert hosts.registry() == {p.addr for p in hosts.peers}
    assert not intruder.is_ready(), "the intruder said READY=1"
    st = intruder.status()
    assert (st["state"], st["seeds_registered"], st["neighbours"]) == ("registering", 0, 0), st
    # Cannot connect: no peer has it as a neighbour, up or not.
    for p in hosts.peers:
        assert intruder_addr not in {n["addr"] for n in p.neighbours()}, p.name
    assert intruder.stop(timeout=30) == 0, "the intruder did not stop cleanly"

    # Cannot inject: HELLO and a GOSSIP signed with its key, in its own name, to host 1's peer.
    text = f"injected-by-outsider-{secrets.token_hex(4)}"
    fr, _ = signed_gossip(key, (h3.ip, port), text.encode(), net.dir)
    received = p1.stats()["messages_received"]
    with hosts.connect(h3, h1, PEER_PORT, cert, key) as c:
        assert c.local.startswith(h3.ip + ":"), c.local  # the client really is on host 3
        src = local_port(c)
        assert refused_at_tls(c, w.hello(h3.ip, port) + fr), "host 1's peer answered the outsider"
    p1.wait_log(NOT_OUR_CA.format(ip=rx(h3.ip), port=src), timeout=TIMEOUT)
    barrier(hosts, p1, [p2, p3], "outsider")
    assert p1.stats()["messages_received"] == received
    assert_nowhere(hosts, text)
    assert intruder_addr not in hosts.registry()


def test_node_claiming_an_address_not_in_its_certificate(hosts):
    """Host 3 with a valid certificate of the cluster CA that lists 10.199.0.2, not its own
    address: a daemon with it does not even start; a client with it claiming 10.199.0.3 in
    HELLO (to every peer) and REGISTER (to the seed) is refused, counted and logged; no link,
    no registration, and the GOSSIP sent right after the HELLO is delivered nowhere."""
    h1, h2, h3 = hosts.hosts
    p1, p2, p3 = hosts.peers
    seed = hosts.seed
    net = hosts.net
    cert, key = net.issue(hosts.ca, "lists-host2", (h2.ip,))
    port = PEER_PORT + 2
    claimed = f"{h3.ip}:{port}"

    # The daemon checks its own certificate first.
    cfg = hosts.write_config("lists-host2", hosts.ca / "ca.crt", cert, key)
    run = subprocess.run([IP_BIN, "netns", "exec", h3.ns, str(PEER_BIN), "-c", str(cfg), "-L",
                          str(net.dir), "-s", str(net.dir / "lists-host2.sock"), h3.ip, str(port)],
                         env=base_env(net.dir), capture_output=True, timeout=TIMEOUT, cwd=net.dir)
    err = run.stderr.decode(errors="replace")
    assert sanitizer_report(err) is None, f"sanitizer report:\n{sanitizer_report(err)}"
    assert run.returncode == 1, (run.returncode, err)
    assert f"does not list {h3.ip}, the address this node advertises" in err, err

    # HELLO claiming 10.199.0.3, then a GOSSIP in that name, to each peer.
    text = f"injected-by-wrong-claim-{secrets.token_hex(4)}"
    fr, _ = signed_gossip(key, (h3.ip, port), text.encode(), net.dir)
    claim_line = (r"refusing HELLO from {}:{}: it claims {}, which its certificate \(lists-host2\) "
                  r"does not list")
    for p in hosts.peers:
        before = p.stats()["claims_refused"]
        with hosts.connect(h3, p.host, PEER_PORT, cert, key) as c:
            src = local_port(c)
            c.send(w.hello(h3.ip, port) + fr)
            got = c.recv_frame(TIMEOUT)
            assert got is not None and got[0] == w.ERROR, f"{p.name} answered {got!r}"
            assert b"does not list" in got[1], got
            assert c.wait_closed(TIMEOUT), f"{p.name} kept the connection open"
        wait_until(lambda: p.stats()["claims_refused"] == before + 1, TIMEOUT,
                   what=f"claims_refused counted by {p.name}")
        p.wait_log(claim_line.format(rx(h3.ip), src, rx(claimed)), timeout=TIMEOUT)
        assert claimed not in {n["addr"] for n in p.neighbours()}, p.name

    # REGISTER claiming 10.199.0.3 at the seed.
    with hosts.connect(h3, h1, SEED_PORT, cert, key) as c:
        src = local_port(c)
        c.send(w.register(h3.ip, port))
        got = c.recv_frame(TIMEOUT)
        assert got is not None and got[0] == w.ERROR, f"the seed answered {got!r}"
        assert c.wait_closed(TIMEOUT), "the seed kept the connection open"
    seed.wait_log(r"refusing REGISTER from {}:{}: it claims {}, which its certificate "
                  r"\(lists-host2\) does not list".format(rx(h3.ip), src, rx(claimed)),
                  timeout=TIMEOUT)
    assert claimed not in hosts.registry()

    barrier(hosts, p3, [p1, p2], "wrong-claim")
    assert_nowhere(hosts, text)


def test_member_cannot_forge_another_origin(hosts):
    """A client on host 3 with host 3's own certificate links to host 1's peer as a member
    (its HELLO claims 10.199.0.3, which the certificate lists: accepted), then sends a message
    whose origin is host 2's peer, signed with host 3's key: host 1's peer counts and logs the
    bad signature and delivers it nowhere, nor forwards it. The control: the same client's
    message in its own name, signed with its key, is delivered on hosts 1 and 2."""
    h1, h2, h3 = hosts.hosts
    p1, p2, p3 = hosts.peers
    net = hosts.net
    port = PEER_PORT + 3
    member = (h3.ip, port)
    forged_text = f"forged-as-host2-{secrets.token_hex(4)}"
    own_text = f"genuine-from-host3-client-{secrets.token_hex(4)}"
    forged, _ = signed_gossip(h3.key, (h2.ip, PEER_PORT), forged_text.encode(), net.dir)
    own, _ = signed_gossip(h3.key, member, own_text.encode(), net.dir)
    bad = {p.name: p.stats()["signatures_bad"] for p in hosts.peers}

    with hosts.connect(h3, h1, PEER_PORT, h3.cert, h3.key) as c:
        assert c.local.startswith(h3.ip + ":"), c.local
        c.send(w.hello(*member))
        got = c.recv_frame(TIMEOUT)
        assert got is not None and got[0] == w.HELLO, \
            f"host 1's peer did not accept the member: {got!r}"
        assert f"{h3.ip}:{port}" in p1.up_neighbours(), "the member is not a neighbour"
        # Both at once, the forged one first: the client answers no PING, and a link idle for
        # a few ping intervals is dropped, which on a loaded machine could come between them.
        # One connection's frames are handled in order: the control's delivery at host 1 comes
        # after the forged message was handled there.
        c.send(forged)
        c.send(own)
        wait_until(lambda: p1.stats()["signatures_bad"] == bad[p1.name] + 1, TIMEOUT,
                   what="the forged signature counted by host 1's peer")
        p1.wait_log(r"dropping message [0-9a-f]+ from {}:{}: its signature is not {}'s"
                    .format(rx(h3.ip), port, rx(p2.addr)), timeout=TIMEOUT)
        net.wait_delivered([p1, p2], own_text, timeout=TIMEOUT)
    for p in (p1, p2):
        (rec,) = delivered(p, own_text)
        assert rec["origin"] == f"{h3.ip}:{port}", rec
    assert_nowhere(hosts, forged_text)
    for p in (p2, p3):
        assert p.stats()["signatures_bad"] == bad[p.name], f"{p.name} was sent the forged message"

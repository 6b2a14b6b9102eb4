# SPDX-License-Identifier: MIT
"""gossip-cert: the cluster CA, node certificates, show and verify, cross-checked with openssl(1).

Every run of gossip-cert is checked for sanitizer reports (make SANITIZE=1, then
GOSSIP_BUILD=$PWD/build/sanitize).
"""
import grp
import ipaddress
import json
import os
import re
import stat
import subprocess

import pytest

import gossipnet

CERT_BIN = gossipnet.BUILD / "gossip-cert"
NO_GROUP = "gossip-cert-test-no-such-group"
DAY = 86400


def cert(*args, check=None, umask=None, cwd=None):
    """Runs gossip-cert; asserts no sanitizer report and, given check, the exit status."""
    p = subprocess.run([str(CERT_BIN)] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=60, cwd=cwd,
                       preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
    rep = gossipnet.sanitizer_report(p.stderr)
    assert rep is None, f"gossip-cert {args!r}: sanitizer report:\n{rep}"
    if check is not None:
        assert p.returncode == check, (f"gossip-cert {' '.join(map(str, args))}: exit status "
                                       f"{p.returncode}, not {check}\nstdout: {p.stdout}\n"
                                       f"stderr: {p.stderr}")
    return p


def openssl(*args, check=True):
    return subprocess.run(["openssl"] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=60, check=check)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def x509_text(path):
    return openssl("x509", "-in", path, "-noout", "-text").stdout


def ext(path, name):
    """The value lines of one extension as openssl prints it, and whether it is critical."""
    out = openssl("x509", "-in", path, "-noout", "-ext", name).stdout.splitlines()
    assert out, f"{path}: no {name} extension"
    return " ".join(l.strip() for l in out[1:]), "critical" in out[0]


def alt_names(path):
    """[('IP', ip_address) or ('DNS', name)] of the subjectAltName, in order."""
    value, _ = ext(path, "subjectAltName")
    names = []
    for item in value.split(", "):
        kind, _, v = item.partition(":")
        names.append(("IP", ipaddress.ip_address(v)) if kind == "IP Address" else (kind, v))
    return names


def subject(path, which="-subject"):
    out = openssl("x509", "-in", path, "-noout", which, "-nameopt", "RFC2253").stdout
    return out.split("=", 1)[1].strip()


def valid_for_days(path, low, high):
    """openssl: still valid in `low` days, expired in `high` days."""
    def checkend(days):
        return openssl("x509", "-in", path, "-noout", "-checkend", days * DAY, check=False)
    assert checkend(low).returncode == 0
    assert checkend(high).returncode == 1


def assert_usage_error(p):
    assert p.returncode == 2, p
    assert p.stderr.startswith("gossip-cert: "), p.stderr
    assert p.stderr.rstrip().endswith("Try 'gossip-cert --help'."), p.stderr


def own_group():
    return grp.getgrgid(os.getgid()).gr_name


@pytest.fixture
def ca(tmp_path):
    d = tmp_path / "tls"
    cert("init", "--dir", d, check=0)
    return d


@pytest.fixture
def no_group():
    with pytest.raises(KeyError):
        grp.getgrnam(NO_GROUP)
    return NO_GROUP


def test_init_creates_the_ca(tmp_path):
    d = tmp_path / "a" / "tls"
    p = cert("init", "--dir", d, check=0)
    key, crt = d / "ca.key", d / "ca.crt"
    assert mode(key) == 0o600 and mode(crt) == 0o644
    assert os.stat(key).st_uid == os.geteuid()
    assert mode(d) == 0o755
    assert str(key) in p.stdout and str(crt) in p.stdout
    text = x509_text(crt)
    assert re.search(r"Public Key Algorithm: ED25519", text), text
    assert re.search(r"Signature Algorithm: ED25519", text), text
    assert ext(crt, "basicConstraints") == ("CA:TRUE, pathlen:0", True)
    assert ext(crt, "keyUsage") == ("Certificate Sign, CRL Sign", True)
    skid, critical = ext(crt, "subjectKeyIdentifier")
    assert re.fullmatch(r"([0-9A-F]{2}:){19}[0-9A-F]{2}", skid) and not critical
    assert re.fullmatch(r"CN=gossip cluster CA [0-9a-f]{16}", subject(crt)), subject(crt)
    assert subject(crt, "-issuer") == subject(crt)
    serial = int(openssl("x509", "-in", crt, "-noout", "-serial").stdout.split("=")[1], 16)
    assert 64 < serial.bit_length() <= 128
    valid_for_days(crt, 3649, 3651)
    # The key is the certificate's, and an Ed25519 one.
    assert "ED25519 Private-Key" in openssl("pkey", "-in", key, "-noout", "-text").stdout
    assert openssl("pkey", "-in", key, "-pubout").stdout == \
        openssl("x509", "-in", crt, "-noout", "-pubkey").stdout
    assert openssl("verify", "-CAfile", crt, crt).stdout.strip() == f"{crt}: OK"


def test_init_days_and_two_cas_differ(tmp_path):
    cert("init", "--dir", tmp_path / "one", "--days", "30", check=0)
    cert("init", "--dir", tmp_path / "two", check=0)
    valid_for_days(tmp_path / "one" / "ca.crt", 29, 31)
    assert subject(tmp_path / "one" / "ca.crt") != subject(tmp_path / "two" / "ca.crt")


def test_init_refuses_to_overwrite_and_force_replaces(ca):
    key, crt = ca / "ca.key", ca / "ca.crt"
    before = key.read_bytes(), crt.read_bytes()
    p = cert("init", "--dir", ca, check=1)
    assert f"{key} exists" in p.stderr and "--force" in p.stderr, p.stderr
    assert (key.read_bytes(), crt.read_bytes()) == before
    key.unlink()
    p = cert("init", "--dir", ca, check=1)
    assert f"{crt} exists" in p.stderr, p.stderr
    assert not key.exists()
    cert("init", "--dir", ca, "--force", check=0)
    assert crt.read_bytes() != before[1] and key.exists()
    assert mode(key) == 0o600 and mode(crt) == 0o644
    assert openssl("pkey", "-in", key, "-pubout").stdout == \
        openssl("x509", "-in", crt, "-noout", "-pubkey").stdout
    assert [f for f in os.listdir(ca) if f.endswith(".tmp")] == []


def test_issue_ipv4_ipv6_and_host_name(ca, no_group):
    p = cert("issue", "--dir", ca, "--address", "192.0.2.10,2001:db8::10", "--name",
             "node1.example.org", "--group", no_group, check=0)
    key, crt = ca / "node1.example.org.key", ca / "node1.example.org.crt"
    assert str(key) in p.stdout and str(crt) in p.stdout
    assert no_group in p.stderr  # the warning that the group does not exist
    assert mode(key) == 0o600 and mode(crt) == 0o644
    assert openssl("verify", "-CAfile", ca / "ca.crt", crt).stdout.strip() == f"{crt}: OK"
    assert alt_names(crt) == [("IP", ipaddress.ip_address("192.0.2.10")),
                              ("IP", ipaddress.ip_address("2001:db8::10")),
                              ("DNS", "node1.example.org")]
    assert ext(crt, "extendedKeyUsage") == \
        ("TLS Web Server Authentication, TLS Web Client Authentication", False)
    assert ext(crt, "keyUsage") == ("Digital Signature", True)
    assert ext(crt, "basicConstraints")[0] == "CA:FALSE"
    assert ext(crt, "authorityKeyIdentifier")[0] == ext(ca / "ca.crt", "subjectKeyIdentifier")[0]
    assert re.fullmatch(r"([0-9A-F]{2}:){19}[0-9A-F]{2}", ext(crt, "subjectKeyIdentifier")[0])
    assert subject(crt) == "CN=node1.example.org"
    assert subject(crt, "-issuer") == subject(ca / "ca.crt")
    assert "Public Key Algorithm: ED25519" in x509_text(crt)
    assert openssl("pkey", "-in", key, "-pubout").stdout == \
        openssl("x509", "-in", crt, "-noout", "-pubkey").stdout
    valid_for_days(crt, 824, 826)
    serials = {openssl("x509", "-in", c, "-noout", "-serial").stdout for c in (crt, ca / "ca.crt")}
    assert len(serials) == 2


def test_issue_default_name_and_ip_only_alt_names(ca, no_group):
    cert("issue", "--dir", ca, "--address", "2001:db8::7", "--address", "198.51.100.7,2001:db8::7",
         "--group", no_group, check=0)
    crt = ca / "2001_db8__7.crt"
    assert (ca / "2001_db8__7.key").exists()
    assert subject(crt) == "CN=2001:db8::7"
    assert alt_names(crt) == [("IP", ipaddress.ip_address("2001:db8::7")),
                              ("IP", ipaddress.ip_address("198.51.100.7"))]
    # A name that is no DNS host name is the CN only.
    cert("issue", "--dir", ca, "--address", "192.0.2.3", "--name", "node_3", "--group", no_group,
         check=0)
    assert alt_names(ca / "node_3.crt") == [("IP", ipaddress.ip_address("192.0.2.3"))]
    assert subject(ca / "node_3.crt") == "CN=node_3"


def test_issue_out_days_and_overwrite(ca, tmp_path, no_group):
    out = tmp_path / "elsewhere" / "n"
    out.parent.mkdir()
    cert("issue", "--dir", ca, "--address", "192.0.2.4", "--out", out, "--days", "10",
         "--group", no_group, check=0)
    crt = tmp_path / "elsewhere" / "n.crt"
    valid_for_days(crt, 9, 11)
    before = crt.read_bytes()
    p = cert("issue", "--dir", ca, "--address", "192.0.2.4", "--out", out, check=1)
    assert f"{out}.key exists" in p.stderr, p.stderr
    assert crt.read_bytes() == before
    cert("issue", "--dir", ca, "--address", "192.0.2.5", "--out", out, "--force", "--group",
         no_group, check=0)
    assert crt.read_bytes() != before
    assert alt_names(crt) == [("IP", ipaddress.ip_address("192.0.2.5"))]
    assert not (ca / "192.0.2.4.crt").exists()


def test_key_mode_0640_with_a_group_we_may_use(ca):
    group = own_group()
    p = cert("issue", "--dir", ca, "--address", "192.0.2.20", "--group", group, check=0)
    key = ca / "192.0.2.20.key"
    assert mode(key) == 0o640, p.stdout
    assert os.stat(key).st_gid == grp.getgrnam(group).gr_gid
    assert f"group {group}" in p.stdout


def test_key_mode_0600_when_the_group_does_not_exist(ca, no_group):
    p = cert("issue", "--dir", ca, "--address", "192.0.2.21", "--group", no_group, check=0)
    assert mode(ca / "192.0.2.21.key") == 0o600
    assert f"group '{no_group}' does not exist" in p.stderr, p.stderr


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_modes_are_exact_whatever_the_umask(tmp_path, umask, no_group):
    d = tmp_path / "tls"
    cert("init", "--dir", d, check=0, umask=umask)
    cert("issue", "--dir", d, "--address", "192.0.2.30", "--group", no_group, check=0, umask=umask)
    assert mode(d) == 0o755
    assert (mode(d / "ca.key"), mode(d / "ca.crt")) == (0o600, 0o644)
    assert (mode(d / "192.0.2.30.key"), mode(d / "192.0.2.30.crt")) == (0o600, 0o644)


@pytest.mark.parametrize("address", ["node1.example.org", "999.1.1.1", "0.0.0.0", "::",
                                     "::ffff:0.0.0.0", "", "192.0.2.1,", ",192.0.2.1", "1.2.3",
                                     "192.0.2.1/24", "fe80::1%lo", " 192.0.2.1", "[::1]"])
def test_bad_addresses_are_usage_errors(ca, address):
    p = cert("issue", "--dir", ca, "--address", address)
    assert_usage_error(p)
    assert "address" in p.stderr
    assert sorted(os.listdir(ca)) == ["ca.crt", "ca.key"]


def test_missing_ca_fails(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    p = cert("issue", "--dir", empty, "--address", "192.0.2.1", check=1)
    assert f"{empty}/ca.crt" in p.stderr and "gossip-cert init" in p.stderr, p.stderr
    assert os.listdir(empty) == []
    cert("init", "--dir", empty, check=0)
    (empty / "ca.key").unlink()
    p = cert("issue", "--dir", empty, "--address", "192.0.2.1", check=1)
    assert f"cannot open {empty}/ca.key" in p.stderr, p.stderr
    assert os.listdir(empty) == ["ca.crt"]


def test_ca_key_of_another_ca_fails(ca, tmp_path):
    cert("init", "--dir", tmp_path / "other", check=0)
    (ca / "ca.key").write_bytes((tmp_path / "other" / "ca.key").read_bytes())
    p = cert("issue", "--dir", ca, "--address", "192.0.2.1", check=1)
    assert "is not the key of" in p.stderr and "error:" in p.stderr, p.stderr
    assert sorted(os.listdir(ca)) == ["ca.crt", "ca.key"]


@pytest.mark.parametrize("args", [
    ["frob"], [], ["--frob"], ["-x"], ["init", "--bogus"], ["init", "extra"],
    ["init", "--dir"], ["init", "--days", "0"], ["init", "--days", "36501"],
    ["init", "--days", "-5"], ["init", "--days", "ten"], ["init", "--force=yes"],
    ["issue"], ["issue", "--address", "192.0.2.1", "--start", "x"],
    ["issue", "--address", "192.0.2.1", "--start", "+1"],
    ["issue", "--address", "192.0.2.1", "--days", "1.5"],
    ["issue", "--address", "192.0.2.1", "--name", "../evil"],
    ["issue", "--address", "192.0.2.1", "--name", "ca"],
    ["issue", "--address", "192.0.2.1", "--json"],
    ["show"], ["show", "a", "b"], ["show", "--ca", "x", "a"],
    ["verify"], ["verify", "a", "--ca", "x", "--dir", "y"],
])
def test_usage_errors(tmp_path, args):
    p = cert(*args, cwd=tmp_path)
    assert_usage_error(p)
    assert p.stdout == ""
    assert os.listdir(tmp_path) == []


def test_expired_certificate(ca, no_group):
    cert("issue", "--dir", ca, "--address", "192.0.2.40", "--name", "old", "--start", "-10",
         "--days", "5", "--group", no_group, check=0)
    crt = ca / "old.crt"
    p = cert("verify", "--dir", ca, crt, check=1)
    assert f"{crt}: certificate has expired" in p.stderr, p.stderr
    assert p.stdout == ""
    r = openssl("verify", "-CAfile", ca / "ca.crt", crt, check=False)
    assert r.returncode != 0 and "expired" in r.stdout + r.stderr
    text = cert("show", crt, check=0).stdout
    assert re.search(r"^validity: +expired 5 days ago$", text, re.M), text
    assert json.loads(cert("show", "--json", crt, check=0).stdout)["state"] == "expired"


def test_not_yet_valid_certificate(ca, no_group):
    cert("issue", "--dir", ca, "--address", "192.0.2.41", "--name", "early", "--start", "10",
         "--group", no_group, check=0)
    crt = ca / "early.crt"
    p = cert("verify", "--dir", ca, crt, check=1)
    assert f"{crt}: certificate is not yet valid" in p.stderr, p.stderr
    r = openssl("verify", "-CAfile", ca / "ca.crt", crt, check=False)
    assert r.returncode != 0 and "not yet valid" in r.stdout + r.stderr
    text = cert("show", crt, check=0).stdout
    assert re.search(r"^validity: +not valid until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC "
                     r"\(in 10 days\)$", text, re.M), text
    assert json.loads(cert("show", "--json", crt, check=0).stdout)["state"] == "not yet valid"


def test_show_text_and_json(ca, no_group):
    cert("issue", "--dir", ca, "--address", "192.0.2.50,2001:db8::50", "--name", "n50.example",
         "--group", no_group, check=0)
    crt = ca / "n50.example.crt"
    fingerprint = openssl("x509", "-in", crt, "-noout", "-fingerprint", "-sha256").stdout
    fingerprint = fingerprint.strip().split("=", 1)[1]
    serial = openssl("x509", "-in", crt, "-noout", "-serial").stdout.strip().split("=", 1)[1]
    info = json.loads(cert("show", "--json", crt, check=0).stdout)
    assert info["addresses"] == ["192.0.2.50", "2001:db8::50"]
    assert info["names"] == ["n50.example"]
    assert info["subject"] == "CN=n50.example"
    assert info["issuer"] == subject(ca / "ca.crt")
    assert info["key_type"] == "Ed25519"
    assert info["ca"] is False and info["pathlen"] is None
    assert info["state"] == "valid" and info["validity"] == "valid, 825 days left"
    assert info["sha256_fingerprint"] == fingerprint
    assert info["serial"] == serial
    assert info["file"] == str(crt)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["not_after"])
    lines = cert("show", crt, check=0).stdout.splitlines()
    fields = dict(re.match(r"^(\w+): +(.*)$", l).groups() for l in lines)
    assert list(fields) == ["subject", "issuer", "serial", "key_type", "not_before", "not_after",
                            "validity", "addresses", "names", "ca", "sha256_fingerprint"]
    assert fields["addresses"] == "192.0.2.50, 2001:db8::50"
    assert fields["names"] == "n50.example"
    assert fields["ca"] == "no"
    assert fields["sha256_fingerprint"] == fingerprint
    assert len({len(re.match(r"^\w+: +", l).group(0)) for l in lines}) == 1, "values not aligned"
    ca_info = cert("show", ca / "ca.crt", check=0).stdout
    assert re.search(r"^ca: +yes, pathlen 0$", ca_info, re.M), ca_info
    assert re.search(r"^addresses: +-$", ca_info, re.M), ca_info
    assert json.loads(cert("show", "--json", ca / "ca.crt", check=0).stdout)["pathlen"] == 0


def test_show_der_and_not_a_certificate(ca, tmp_path):
    der = tmp_path / "ca.der"
    openssl("x509", "-in", ca / "ca.crt", "-outform", "DER", "-out", der)
    assert json.loads(cert("show", "--json", der, check=0).stdout)["ca"] is True
    p = cert("show", ca / "ca.key", check=1)
    assert "cannot read a certificate" in p.stderr and "error:" in p.stderr, p.stderr
    p = cert("show", tmp_path / "missing.crt", check=1)
    assert "No such file or directory" in p.stderr, p.stderr


def test_verify_against_the_right_and_another_ca(ca, tmp_path, no_group):
    cert("issue", "--dir", ca, "--address", "192.0.2.60", "--group", no_group, check=0)
    crt = ca / "192.0.2.60.crt"
    p = cert("verify", "--dir", ca, crt, check=0)
    assert p.stdout == f"{crt}: OK\n"
    assert cert("verify", "--ca", ca / "ca.crt", crt, check=0).stdout == f"{crt}: OK\n"
    cert("init", "--dir", tmp_path / "other", check=0)
    p = cert("verify", "--dir", tmp_path / "other", crt, check=1)
    assert str(crt) in p.stderr and "issuer" in p.stderr, p.stderr
    assert p.stdout == ""
    cert("verify", "--ca", tmp_path / "other" / "ca.crt", crt, check=1)
    assert openssl("verify", "-CAfile", tmp_path / "other" / "ca.crt", crt,
                   check=False).returncode != 0
    # A node's certificate is no CA.
    p = cert("verify", "--ca", crt, crt, check=1)
    assert "not a CA certificate" in p.stderr, p.stderr
    # Missing CA file.
    p = cert("verify", "--dir", tmp_path / "none", crt, check=1)
    assert "No such file or directory" in p.stderr, p.stderr


def test_verify_rejects_a_certificate_for_another_purpose(ca, tmp_path):
    """A certificate of the CA without clientAuth verifies with openssl, not with gossip-cert."""
    key, csr, crt = tmp_path / "s.key", tmp_path / "s.csr", tmp_path / "s.crt"
    extfile = tmp_path / "ext.cnf"
    extfile.write_text("extendedKeyUsage = serverAuth\nsubjectAltName = IP:192.0.2.70\n")
    openssl("genpkey", "-algorithm", "ED25519", "-out", key)
    openssl("req", "-new", "-key", key, "-subj", "/CN=server-only", "-out", csr)
    openssl("x509", "-req", "-in", csr, "-CA", ca / "ca.crt", "-CAkey", ca / "ca.key",
            "-CAcreateserial", "-days", "1", "-extfile", extfile, "-out", crt)
    assert openssl("verify", "-CAfile", ca / "ca.crt", crt).returncode == 0
    p = cert("verify", "--dir", ca, crt, check=1)
    assert "server and client" in p.stderr, p.stderr


def test_failed_write_leaves_no_temporary_file(ca, no_group):
    """The certificate cannot be renamed over a directory: gossip-cert fails and cleans up."""
    (ca / "192.0.2.80.crt").mkdir()
    (ca / "192.0.2.80.crt" / "x").write_text("")
    p = cert("issue", "--dir", ca, "--address", "192.0.2.80", "--force", "--group", no_group,
             check=1)
    assert "192.0.2.80.crt" in p.stderr, p.stderr
    assert [f for f in os.listdir(ca) if f.endswith(".tmp")] == []


def test_help_and_version():
    p = cert("--help", check=0)
    assert p.stdout.startswith("Usage: gossip-cert ") and p.stderr == ""
    for command in ("init", "issue", "setup", "show", "verify"):
        assert re.search(rf"^  {command}\b", p.stdout, re.M), p.stdout
    assert cert("issue", "--help", check=0).stdout == p.stdout
    assert cert("-h", check=0).stdout == p.stdout
    util_h = (gossipnet.REPO / "src" / "core" / "util.h").read_text()
    version = re.search(r'#define GOSSIP_VERSION "([^"]+)"', util_h).group(1)
    assert cert("--version", check=0).stdout == f"gossip-cert {version}\n"
    assert cert("-V", check=0).stdout == f"gossip-cert {version}\n"


def host_addresses():
    """This host's addresses as setup should find them: every interface's, IPv6 link-local
    excluded (from ip(8), which reads them as getifaddrs(3) does)."""
    out = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True,
                         check=True).stdout
    found = set()
    for m in re.finditer(r"\binet6? ([0-9a-f.:]+)/", out):
        a = ipaddress.ip_address(m.group(1))
        if not (a.version == 6 and a.is_link_local):
            found.add(a)
    return found


def test_setup_makes_the_ca_and_this_hosts_certificate(tmp_path, no_group):
    """setup in an empty directory: the CA, and node.key/node.crt for every address of this host
    (loopback included), named after the host; the certificate verifies against the CA."""
    d = tmp_path / "tls"
    p = cert("setup", "--dir", d, "--group", no_group, check=0)
    assert sorted(os.listdir(d)) == ["ca.crt", "ca.key", "node.crt", "node.key"]
    assert mode(d / "ca.key") == 0o600 and mode(d / "node.key") == 0o600
    ips = {v for k, v in alt_names(d / "node.crt") if k == "IP"}
    assert ips == host_addresses(), (ips, p.stdout)
    assert ipaddress.ip_address("127.0.0.1") in ips
    host = os.uname().nodename
    assert subject(d / "node.crt") == f"CN={host}"
    assert f"issuing {d}/node.crt for " in p.stdout
    cert("verify", "--dir", d, d / "node.crt", check=0)


def test_setup_keeps_what_exists(tmp_path, no_group):
    """Run again, setup changes nothing; given a CA, it issues with that CA and keeps it."""
    d = tmp_path / "tls"
    cert("init", "--dir", d, check=0)
    ca_before = (d / "ca.crt").read_bytes()
    cert("setup", "--dir", d, "--group", no_group, "--address", "192.0.2.77", "--name", "n1",
         check=0)
    assert (d / "ca.crt").read_bytes() == ca_before
    assert ("IP", ipaddress.ip_address("192.0.2.77")) in alt_names(d / "node.crt")
    assert subject(d / "node.crt") == "CN=n1"
    files = {f: (d / f).read_bytes() for f in os.listdir(d)}
    p = cert("setup", "--dir", d, "--group", no_group, check=0)
    assert p.stdout.startswith(f"kept {d}/node.key and {d}/node.crt"), p.stdout
    assert {f: (d / f).read_bytes() for f in os.listdir(d)} == files


def test_setup_refuses_half_a_node_and_a_ca_without_its_key(tmp_path, no_group):
    """Only one of node.key and node.crt: refused, nothing written. A ca.crt copied without its
    key: the certificate cannot be issued here."""
    d = tmp_path / "tls"
    cert("setup", "--dir", d, "--group", no_group, check=0)
    (d / "node.crt").unlink()
    p = cert("setup", "--dir", d, "--group", no_group, check=1)
    assert "only one of" in p.stderr and "node.key" in p.stderr, p.stderr
    assert not (d / "node.crt").exists()
    other = tmp_path / "copied"
    other.mkdir()
    (other / "ca.crt").write_bytes((d / "ca.crt").read_bytes())
    p = cert("setup", "--dir", other, "--group", no_group, check=1)
    assert "ca.key" in p.stderr, p.stderr
    assert sorted(os.listdir(other)) == ["ca.crt"]

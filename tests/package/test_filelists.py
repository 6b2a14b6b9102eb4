# SPDX-License-Identifier: MIT
"""The .deb and the .rpm ship the same files, modes, configuration files and
version, and their maintainer scripts handle the user and the units."""

import glob
import os
import re

import pytest

from conftest import TOP, deb_field, run

# Per-distribution files: documentation and licence (checked apart below),
# the .build-id links of RPM and the lintian overrides of Debian.
DISTRO_SPECIFIC = ("/usr/share/doc/", "/usr/share/licenses/", "/usr/lib/.build-id/",
                   "/usr/share/lintian/overrides/")


def _normal(path):
    """Man pages may be compressed differently by the two tool chains."""
    if path.startswith("/usr/share/man/"):
        path = re.sub(r"\.(gz|bz2|xz|zst)$", "", path)
    return path


def deb_files(deb):
    """{path: (mode string, owner)} of the non-directories in a .deb."""
    files = {}
    for line in run("dpkg-deb", "-c", deb).stdout.splitlines():
        perms, owner, _size, _date, _time, rest = line.split(None, 5)
        if perms.startswith("d"):
            continue
        path = rest.split(" -> ")[0].lstrip(".")
        files[path] = (perms, owner)
    return files


def rpm_files(rpm):
    """{path: (mode string, owner, rpm file flags)} of the non-directories in an .rpm."""
    out = run("rpm", "-qp", "--qf",
              "[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} "
              "%{FILEFLAGS:fflags} %{FILENAMES}\n]", rpm).stdout
    files = {}
    for line in out.splitlines():
        perms, owner, flags, path = line.split(" ", 3)
        if perms.startswith("d"):
            continue
        files[path] = (perms, owner, "" if flags == "(none)" else flags)
    return files


def _shipped(files):
    return {_normal(p): v for p, v in files.items() if not p.startswith(DISTRO_SPECIFIC)}


def test_same_files_and_modes(deb, rpm):
    d, r = _shipped(deb_files(deb)), _shipped(rpm_files(rpm))
    assert d, "the .deb ships nothing"
    assert sorted(set(d) - set(r)) == [], "in the .deb only"
    assert sorted(set(r) - set(d)) == [], "in the .rpm only"
    for path in sorted(d):
        assert d[path][0] == r[path][0], f"{path}: mode {d[path][0]} (deb) != {r[path][0]} (rpm)"
        assert d[path][1] == r[path][1] == "root/root", path


def test_expected_contents(deb):
    """The programs, units, configuration and every page in man/ are shipped."""
    files = set(_shipped(deb_files(deb)))
    unitdir = run("pkg-config", "--variable=systemdsystemunitdir", "systemd").stdout.strip()
    expected = {"/usr/sbin/gossip-seed", "/usr/sbin/gossip-peer", "/usr/bin/gossipctl",
                "/usr/sbin/gossip-cert",
                "/usr/lib/sysusers.d/gossip.conf", "/usr/lib/tmpfiles.d/gossip.conf",
                "/usr/lib/systemd/catalog/gossip.catalog", "/etc/logrotate.d/gossip",
                "/usr/share/bash-completion/completions/gossipctl"}
    expected |= {f"{unitdir}/{u}" for u in ("gossip.target", "gossip-seed@.service",
                                             "gossip-seed@.socket", "gossip-peer@.service",
                                             "gossip-peer@.socket", "gossip-metrics.service",
                                             "gossip-metrics.timer")}
    expected |= {"/etc/gossip/" + f for f in os.listdir(os.path.join(TOP, "etc", "gossip"))}
    for page in glob.glob(os.path.join(TOP, "man", "*.[1-8]")):
        expected.add(f"/usr/share/man/man{page[-1]}/{os.path.basename(page)}")
    assert sorted(expected - files) == []


def test_every_program_has_a_man_page(deb, rpm):
    for files in (_shipped(deb_files(deb)), _shipped(rpm_files(rpm))):
        pages = {os.path.basename(p).rsplit(".", 1)[0] for p in files
                 if p.startswith("/usr/share/man/")}
        programs = {os.path.basename(p) for p in files if re.match(r"/usr/s?bin/", p)}
        assert programs and sorted(programs - pages) == []


def test_conffiles_match(deb, rpm):
    conffiles = run("dpkg-deb", "--info", deb, "conffiles").stdout.split()
    config = sorted(p for p, (_m, _o, flags) in rpm_files(rpm).items() if "c" in flags)
    assert sorted(conffiles) == config
    assert config and all(p.startswith("/etc/gossip/") or p == "/etc/logrotate.d/gossip"
                          for p in config)
    assert "/etc/logrotate.d/gossip" in config
    # %config(noreplace): an edited file is kept, the new one written as .rpmnew.
    assert all("n" in rpm_files(rpm)[p][2] for p in config)


def test_docs_and_license(deb, rpm):
    d, r = deb_files(deb), rpm_files(rpm)
    assert "/usr/share/doc/gossip/copyright" in d
    assert any(p.startswith("/usr/share/doc/gossip/README.md") for p in d)
    assert any(p.endswith("/README.md") and "d" in f for p, (_m, _o, f) in r.items())
    assert any(p.startswith("/usr/share/licenses/") and "l" in f for p, (_m, _o, f) in r.items())


def test_versions_agree(deb, rpm, upstream_version):
    deb_version = deb_field(deb, "Version")
    assert deb_version.rsplit("-", 1)[0] == upstream_version
    rpm_version = run("rpm", "-qp", "--qf", "%{VERSION}", rpm).stdout
    assert rpm_version == upstream_version


def _needed(path):
    """The shared libraries an ELF file needs."""
    out = run("readelf", "-d", path).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def test_openssl_shared_where_needed(deb, rpm, tmp_path):
    """The daemons and gossip-cert link the shared OpenSSL (packaging/README.md: security
    updates reach them), gossipctl neither library, and both packages depend on it."""
    roots = {"deb": tmp_path / "deb", "rpm": tmp_path / "rpm"}
    run("dpkg-deb", "-x", deb, roots["deb"])
    roots["rpm"].mkdir()
    run("sh", "-c", 'rpm2cpio "$1" | cpio -idm --quiet', "sh", rpm, cwd=roots["rpm"])
    for kind, root in roots.items():
        for prog in ("usr/sbin/gossip-seed", "usr/sbin/gossip-peer"):
            needed = _needed(root / prog)
            assert [n for n in needed if n.startswith("libssl.so")], (kind, prog, needed)
            assert [n for n in needed if n.startswith("libcrypto.so")], (kind, prog, needed)
        needed = _needed(root / "usr/bin/gossipctl")
        assert needed and not [n for n in needed if n.startswith(("libcrypto", "libssl"))], \
            (kind, "gossipctl", needed)
        needed = _needed(root / "usr/sbin/gossip-cert")
        assert [n for n in needed if n.startswith("libcrypto.so")], (kind, needed)
    depends = deb_field(deb, "Depends")
    assert "libssl" in depends, depends
    requires = run("rpm", "-qp", "--requires", rpm).stdout
    assert "libssl.so" in requires and "libcrypto.so" in requires, requires


def deb_scripts(deb):
    """{preinst, postinst, prerm, postrm: text} of the .deb ("" when absent)."""
    return {name: run("dpkg-deb", "--info", deb, name, check=False).stdout
            for name in ("preinst", "postinst", "prerm", "postrm")}


def rpm_scripts(rpm):
    """{preinstall, postinstall, preuninstall, postuninstall, ...: text} of the .rpm."""
    out = run("rpm", "-qp", "--scripts", rpm).stdout
    return dict(re.findall(r"^(\w+) scriptlet[^\n]*:\n(.*?)(?=^\w+ scriptlet|\Z)", out,
                           re.M | re.S))


INSTANCE_SERVICES = r"'gossip-seed@\*\.service' 'gossip-peer@\*\.service'"
INSTANCES_AND_SOCKETS = INSTANCE_SERVICES + r"\s+(?:\\\s+)?'gossip-seed@\*\.socket' 'gossip-peer@\*\.socket'"

# What the maintainer scripts of both packages do, and where: (duty, .deb
# script, regex, .rpm scriptlet, regex). The .rpm's regexes accept Fedora's
# systemd-rpm-macros (systemd-update-helper) as well as packaging/rpm/macros.debian.
# RPM runs the old package's %postun after an upgrade, Debian the new postinst.
DUTIES = [
    ("create the user and group gossip",
     "postinst", r"systemd-sysusers\b.*\bgossip\.conf",
     "preinstall", r"(systemd-sysusers\b[^\n]*gossip\.conf|useradd\b[^\n]*\bgossip)"),
    ("create /run/gossip and /var/log/gossip (tmpfiles.d)",
     "postinst", r"systemd-tmpfiles\b.*--create gossip\.conf",
     "postinstall", r"systemd-tmpfiles\b.*--create\b.*gossip\.conf"),
    ("enable gossip.target (by preset on Fedora) on installation",
     "postinst", r"deb-systemd-helper enable 'gossip\.target'",
     "postinstall", r"(preset|install-system-units)\b[^\n]*\bgossip\.target"),
    ("stop every instance and its sockets on removal",
     "prerm", r"deb-systemd-invoke stop " + INSTANCES_AND_SOCKETS,
     "preuninstall", r"systemctl stop " + INSTANCES_AND_SOCKETS),
    ("disable gossip.target on removal (Debian: on purge)",
     "postrm", r"deb-systemd-helper purge 'gossip\.target'",
     "preuninstall", r"(disable\b|remove-system-units\b)[^\n]*\bgossip\.target"),
    ("restart the running instances after an upgrade",
     "postinst", r"try-restart " + INSTANCE_SERVICES,
     "postuninstall", INSTANCE_SERVICES + r"[\s\S]*(try-restart|mark-restart-system-units)"),
]


@pytest.mark.parametrize("duty, deb_script, deb_re, rpm_script, rpm_re", DUTIES,
                         ids=[d[0] for d in DUTIES])
def test_scripts_agree(deb, rpm, duty, deb_script, deb_re, rpm_script, rpm_re):
    d, r = deb_scripts(deb), rpm_scripts(rpm)
    assert re.search(deb_re, d[deb_script]), f".deb {deb_script}:\n{d[deb_script]}"
    assert re.search(rpm_re, r.get(rpm_script, "")), f".rpm {rpm_script}:\n{r}"


def test_no_instance_enabled_or_started(deb, rpm, tmp_path):
    """Templates have no default instance: neither package enables or starts one."""
    for text in deb_scripts(deb).values():
        assert not re.search(r"deb-systemd-(helper enable|invoke (start|restart)) '[^']*@", text)
    for text in rpm_scripts(rpm).values():
        assert not re.search(r"systemctl\b[^\n]*\b(enable|start|restart)\b[^\n]*@[\w*]", text)
    run("dpkg-deb", "-x", deb, tmp_path)
    templates = glob.glob(str(tmp_path / "*" / "systemd" / "system" / "*@.*")) + \
        glob.glob(str(tmp_path / "usr" / "lib" / "systemd" / "system" / "*@.*"))
    assert len(templates) == 4, templates
    for unit in templates:
        with open(unit) as f:
            assert not re.search(r"^DefaultInstance=", f.read(), re.M), unit


def test_metrics_units_shipped_disabled(deb, rpm):
    """gossip-metrics.timer and .service are shipped, and neither package enables or starts
    them (gossipctl(1), METRICS); both stop them on removal."""
    d, r = deb_scripts(deb), rpm_scripts(rpm)
    # debhelper enables it again after an upgrade only where the administrator had.
    again = re.compile(r"if deb-systemd-helper --quiet was-enabled 'gossip-metrics\.\w+'; then\n"
                       r"(?:\s*#[^\n]*\n)?\s*deb-systemd-helper enable 'gossip-metrics\.\w+'[^\n]*\n"
                       r"\s*fi\n")
    assert again.search(d["postinst"]), d["postinst"]
    for text in [again.sub("", t) for t in d.values()] + list(r.values()):
        assert not re.search(r"(enable|start|preset)\b[^\n]*gossip-metrics", text), text
    assert re.search(r"deb-systemd-invoke stop\b[^\n]*gossip-metrics\.timer", d["prerm"]), d["prerm"]
    assert re.search(r"(stop|disable --now|remove-system-units)\b[^\n]*gossip-metrics\.timer",
                     r["preuninstall"]), r["preuninstall"]


def test_purge_removes_logs(deb):
    """Debian only (RPM has no purge): the logs go on purge, and on purge only."""
    postrm = deb_scripts(deb)["postrm"]
    m = re.search(r'if \[ "\$1" = "purge" \]; then\n(.*?)\nfi', postrm, re.S)
    assert m and "rm -rf /var/log/gossip" in m.group(1), postrm
    assert postrm.count("/var/log/gossip") == 1, postrm

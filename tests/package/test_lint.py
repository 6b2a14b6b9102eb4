# SPDX-License-Identifier: MIT
"""lintian and rpmlint on the built packages: no errors, and only explained warnings."""

import glob
import os
import re

from conftest import PACKAGES, TOP, require, run

RPMLINTRC = os.path.join(TOP, "packaging", "rpm", "rpmlint.toml")

# The warnings still expected, as (package, tag), and why. Any other warning
# fails: fix it, or override it (packaging/debian/gossip.lintian-overrides,
# packaging/rpm/rpmlint.toml) with the reason.
EXPLAINED = {
    # A false positive of rpmlint 2.4.0: FilesCheck records each man page's
    # section ("8") instead of its name, so no program ever has a page.
    # test_filelists.py checks that every program has its page, in both.
    ("gossip", "no-manual-page-for-binary"),
    # gossip-debuginfo (find-debuginfo, as on Fedora): the .debug files are
    # unstripped by definition, its .build-id links point to the main
    # package's, and it has no documentation of its own.
    ("gossip-debuginfo", "unstripped-binary-or-object"),
    ("gossip-debuginfo", "dangling-relative-symlink"),
    ("gossip-debuginfo", "no-documentation"),
    # The spec: BuildRoot is obsolete (rpm >= 4.6 ignores it; Fedora forbids
    # it), and Source0 is the "make dist" tarball, not a download.
    ("gossip.spec", "no-buildroot-tag"),
    ("gossip.spec", "invalid-url"),
}


def _check(out, regex, what):
    found = {(m["pkg"], m["sev"], m["tag"]) for m in re.finditer(regex, out, re.M)}
    errors = sorted((p, t) for p, s, t in found if s == "E")
    assert not errors, f"{what} errors: {errors}\n{out}"
    unexplained = sorted((p, t) for p, s, t in found if s == "W" and (p, t) not in EXPLAINED)
    assert not unexplained, f"{what} warnings without a reason: {unexplained}\n{out}"


def test_lintian():
    require("lintian")
    debs = sorted(glob.glob(os.path.join(PACKAGES, "*.deb")))
    assert debs, f"no .deb in {PACKAGES}"
    r = run("lintian", "--pedantic", "-I", "--fail-on", "error", *debs, check=False)
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"lintian exit status {r.returncode}\n{out}"
    _check(out, r"^(?P<sev>[EW]): (?P<pkg>[^\s:]+)(?: \w+)?: (?P<tag>\S+)", "lintian")


def test_rpmlint():
    require("rpmlint")
    rpms = sorted(glob.glob(os.path.join(PACKAGES, "*.rpm")))
    assert rpms, f"no .rpm in {PACKAGES}"
    r = run("rpmlint", "-c", RPMLINTRC, *rpms, check=False)
    out = r.stdout + r.stderr
    assert re.search(r"\b0 errors\b", out), out
    _check(out, r"^(?P<pkg>[^\s:]+?)(?:\.[^.\s:]+)?: (?P<sev>[EW]): (?P<tag>\S+)", "rpmlint")


def test_rpmlint_spec():
    require("rpmlint")
    r = run("rpmlint", "-c", RPMLINTRC, os.path.join(TOP, "packaging", "rpm", "gossip.spec"),
            check=False)
    out = r.stdout + r.stderr
    assert re.search(r"\b0 errors\b", out), out
    _check(out, r"^(?P<pkg>gossip\.spec): (?P<sev>[EW]): (?P<tag>\S+)", "rpmlint (spec)")

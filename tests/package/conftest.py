# SPDX-License-Identifier: MIT
"""Fixtures of the package tests: the packages "make package-check" built.

GOSSIP_PACKAGES names the directory (default: build/packages of this tree)
holding gossip_*.deb and gossip-*.rpm, and upgrade/ a .deb of a higher
version built from the same tree (make package-check builds it).
"""

import glob
import os
import re
import shutil
import subprocess

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PACKAGES = os.environ.get("GOSSIP_PACKAGES", os.path.join(TOP, "build", "packages"))


def _one(pattern, what):
    found = sorted(glob.glob(os.path.join(PACKAGES, pattern)))
    if len(found) != 1:
        pytest.fail(f"expected one {what} ({pattern}) in {PACKAGES}, found {found}; "
                    "run 'make package-check'", pytrace=False)
    return found[0]


# The Debian package each tool comes from, for the skip messages.
TOOL_PACKAGES = {"dpkg-deb": "dpkg", "rpm": "rpm", "lintian": "lintian", "rpmlint": "rpmlint",
                 "systemd-nspawn": "systemd-container", "unshare": "util-linux",
                 "nsenter": "util-linux"}


def require(*tools):
    """Skips the test, saying why, when one of the tools is not installed."""
    for tool in tools:
        if not shutil.which(tool):
            pytest.skip(f"{tool} not found (install the {TOOL_PACKAGES.get(tool, tool)} package)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item (rep_setup, rep_call)."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def run(*argv, check=True, **kw):
    """Runs argv on the host and returns the CompletedProcess (text)."""
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))}: exit status {r.returncode}\n"
                             f"stdout: {r.stdout}\nstderr: {r.stderr}")
    return r


@pytest.fixture(scope="session")
def deb():
    require("dpkg-deb")
    return _one("gossip_*.deb", "binary package")


@pytest.fixture(scope="session")
def upgrade_deb():
    require("dpkg-deb")
    return _one(os.path.join("upgrade", "gossip_*.deb"), "upgrade package")


@pytest.fixture(scope="session")
def rpm():
    require("rpm")
    return _one("gossip-[0-9]*.rpm", "binary RPM")


@pytest.fixture(scope="session")
def upstream_version():
    """GOSSIP_VERSION in src/core/util.h: what --version prints."""
    with open(os.path.join(TOP, "src", "core", "util.h")) as f:
        m = re.search(r'^#define GOSSIP_VERSION "([^"]+)"', f.read(), re.M)
    assert m, "GOSSIP_VERSION not found in src/core/util.h"
    return m.group(1)


def deb_field(path, field):
    return run("dpkg-deb", "-f", path, field).stdout.strip()

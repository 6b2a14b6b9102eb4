# SPDX-License-Identifier: MIT
"""System tests: the run time and the measured figures, printed at the end of the run."""

import time

import pytest

_START = time.monotonic()
# (label, value) lines the tests want shown after the run, e.g. security scores.
REPORT = []


@pytest.fixture(scope="session")
def report():
    return REPORT


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    tr.write_sep("-", "gossip system test")
    for label, value in REPORT:
        tr.write_line(f"{label}: {value}")
    tr.write_line(f"system test run time: {time.monotonic() - _START:.1f} s")

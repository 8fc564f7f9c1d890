"""Shared helpers for the tests, and the switch for the opt-in tests.

Tests marked ``kernel`` change kernel state (huge page pools, mounts, THP knobs: they run the
live probe as root) and tests marked ``postgres`` start a PostgreSQL server.  Neither runs
unless asked: ``pytest --kernel`` or ``PTCALC_KERNEL_TESTS=1 pytest`` (``.ci/run`` does).
Run them under ``flock /tmp/ptcalc-kernel.lock`` on a shared machine.
"""

from __future__ import annotations

import contextlib
import os
import signal

import pytest

from ptcalc.compute.scalar import scenario_rows
from ptcalc.inputs.scenario import make_scenario

KiB, MiB, GiB = 2**10, 2**20, 2**30
TABLE = 4096

# marker -> what the test does, for the skip reason
OPT_IN_MARKERS = {"kernel": "reserves huge pages and mounts tmpfs/hugetlbfs",
                  "postgres": "starts a PostgreSQL server"}


def pytest_addoption(parser):
    parser.addoption("--kernel", action="store_true", default=False,
                     help="also run the tests marked kernel (they change huge page pools, "
                          "mounts and THP knobs, and restore them) or postgres (they start "
                          "PostgreSQL); same as PTCALC_KERNEL_TESTS=1")


def kernel_tests_enabled(config) -> bool:
    return bool(config.getoption("--kernel")) or os.environ.get("PTCALC_KERNEL_TESTS") == "1"


def pytest_collection_modifyitems(config, items):
    if kernel_tests_enabled(config):
        return
    for item in items:
        for name, what in OPT_IN_MARKERS.items():
            if item.get_closest_marker(name):
                item.add_marker(pytest.mark.skip(
                    reason=f"opt-in {name} test ({what}): run with --kernel or "
                           "PTCALC_KERNEL_TESTS=1"))
                break


@pytest.fixture(autouse=True)
def _no_inherited_terminal_width(monkeypatch):
    """Tables fit COLUMNS (ptcalc.present.fit).  GNU readline, once some module imports it,
    puts COLUMNS=80 into the C environment that child processes inherit (os.environ does
    not show it): a test that wants a width sets COLUMNS itself."""
    monkeypatch.delenv("COLUMNS", raising=False)
    os.unsetenv("COLUMNS")


def rows_by_strategy(**kwargs) -> dict:
    """Model rows of one scenario keyed by strategy."""
    return {row["strategy"]: row for row in scenario_rows(make_scenario(**kwargs))}


@pytest.fixture
def model_rows():
    return rows_by_strategy


def run_cli(*argv):
    """ptcalc.cli.main.main in-process: (exit code, stdout, stderr)."""
    import contextlib
    import io

    from ptcalc.cli import main as cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


class TookTooLong(BaseException):
    """Not an Exception: nothing in ptcalc may catch it on the way out."""


@contextlib.contextmanager
def time_bound(seconds: float):
    """Raise TookTooLong in the main thread when the block runs longer than `seconds`."""
    def expired(signum, frame):
        raise TookTooLong(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

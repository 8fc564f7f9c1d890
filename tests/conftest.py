"""Shared helpers for the tests."""

from __future__ import annotations

import pytest

from ptcalc.compute.scalar import scenario_rows
from ptcalc.inputs.scenario import make_scenario

KiB, MiB, GiB = 2**10, 2**20, 2**30
TABLE = 4096


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

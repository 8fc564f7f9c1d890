"""Edge inputs that once hung, traced back or were silently taken: each is one line on stderr
with its exit code, within a time bound (a hang fails the test instead of stalling it)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli, time_bound

SOURCE = str(Path(__file__).resolve().parents[2])
ZEROS = "1" + "0" * 5000                    # 5001 digits: int() refuses more than 4300




def one_error(argv, code=2, seconds=30.0) -> str:
    with time_bound(seconds):
        exit_code, _, err = run_cli(*argv)
    assert exit_code == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ptcalc: error: "), err
    assert "Traceback" not in err and len(lines[0]) < 500
    return lines[0]


SIZE = ["--size", "1GiB", "--procs", "2"]


@pytest.mark.parametrize("argv, fragment", [
    # giant exponents: 10**999999999 was computed (minutes of CPU, then memory)
    (["compare", "--size", "1e999999999", "--procs", "2"], "exponent beyond e30"),
    (["compare", *SIZE, "--ram", "1e999999999"], "exponent beyond e30"),
    (["plan", "--size", "1GiB", "--ram", "8GiB", "--budget", "1e999999999"], "exponent"),
    (["sweep", "--size", "1GiB..2GiB/1e-999999999", "--procs", "2"], "exponent beyond e-30"),
    (["sweep", "--size", "1GiB..1e999999999/1GiB", "--procs", "2"], "exponent beyond e30"),
    (["compare", *SIZE, "--touched", "1e-999999999"], "exponent beyond e-30"),
    (["sweep", *SIZE, "--touched", "0.1..1/1e-999999999"], "exponent beyond e-30"),
    (["compare", *SIZE, "--offset", "1e999999999"], "exponent beyond e30"),
    (["compare", *SIZE, "--fault-around", "1e999999999"], "exponent beyond e30"),
    # more than 4300 digits
    (["compare", "--size", ZEROS, "--procs", "2"], "too long for a number"),
    (["compare", "--size", "1GiB", "--procs", ZEROS], "not a whole number"),
    (["sweep", "--size", "1GiB", "--procs", f"1..{ZEROS}/1"], "not a whole number"),
    (["plan", "--size", "1GiB", "--ram", "8GiB", "--reserved", ZEROS], "too long"),
    (["compare", *SIZE, "--touched", f"1/{ZEROS}"], "too long for a number"),
    # above 1.8e308 (float overflow further on), and above any address space
    (["compare", *SIZE, "--ram", "1e400"], "exponent beyond e30"),
    (["compare", *SIZE, "--cpu", "zen4", "--llc", "1e400"], "exponent beyond e30"),
    (["plan", "--size", "1GiB", "--ram", "1e400"], "exponent beyond e30"),
    (["compare", *SIZE, "--ram", "1e30"], "above 16 EiB"),
    (["compare", "--size", "1e25", "--procs", "2"], "above 16 EiB"),
    # touched below what the float formulas resolve (random: a division by zero)
    (["compare", *SIZE, "--pattern", "random", "--touched", "1e-17"], "below 1e-15"),
    # digits other than ASCII: --procs accepted them, --size did not
    (["compare", "--size", "1GiB", "--procs", "\u0661\u0662\u0663"], "procs"),
    (["compare", "--size", "\u0661\u0662\u0663", "--procs", "2"], "size"),
    (["compare", *SIZE, "--touched", "\u0660.\u0665"], "touched"),
    (["sweep", "--size", "1GiB", "--procs", "\u0661..\u0663/1"], "--procs"),
    # --ram 0 was silently ignored
    (["compare", *SIZE, "--ram", "0"], "ram '0' is empty"),
])
def test_edge_input_is_one_line(argv, fragment):
    assert fragment in one_error(argv)


def test_sweep_touched_with_a_denominator_beyond_int64_is_exact():
    # 1.2345678901234567e-15 is 12345678901234567 / 10**31: the exact dense prefix
    # ceil(t x 262144 pages) = 1 page; the denominator overflowed int64 (as 1e-19's did)
    with time_bound(60):
        code, out, err = run_cli("sweep", "--size", "1GiB", "--procs", "2", "--touched",
                                 "1.2345678901234567e-15,1e-15", "-s", "private-4k", "-f",
                                 "json")
    assert code == 0, err
    assert [row["touched_bytes"] for row in json.loads(out)] == [4096, 4096]
    # below 1e-15: one line, in sweep as in compare
    assert "below 1e-15" in one_error(["sweep", *SIZE, "--touched", "1e-19"])


def test_64_pib_five_level_tlb_columns():
    # 64 PiB x 4194304 processes: the frame switches to Python ints; the TLB columns follow
    with time_bound(120):
        code, out, err = run_cli("compare", "--size", "64PiB", "--procs", "4194304",
                                 "--paging", "5", "--cpu", "icelake-sp", "-f", "json",
                                 "-s", "private-4k", "-s", "hugetlb-1g")
    assert code == 0, err
    rows = {row["strategy"]: row for row in json.loads(out)["rows"]} \
        if isinstance(json.loads(out), dict) else {r["strategy"]: r for r in json.loads(out)}
    private = rows["private-4k"]
    # 2**44 PTEs per process / 512 per table = 2**35 PTE tables of 4 KiB = 2**47 B each,
    # times 2**22 processes = 2**69 bytes of PTE tables: beyond int64
    assert private["pte_table_bytes"] == 2**69
    assert private["walk_refs"] == 5 and rows["hugetlb-1g"]["walk_refs"] == 3


def test_evaluate_with_a_duplicated_column():
    import pandas as pd

    from ptcalc.api import evaluate
    from ptcalc.errors import InputError

    for columns in (["size_bytes", "procs", "procs"], ["size_bytes", "procs", "pattern",
                                                       "pattern"]):
        frame = pd.DataFrame([[2**30, 2, 3, 3][:len(columns)]], columns=columns)
        with pytest.raises(InputError, match=f"'{columns[-1]}' more than once"):
            evaluate(frame)


def test_tlb_plot_for_a_working_set_of_64_tib_and_more():
    pytest.importorskip("matplotlib")
    from ptcalc.present.plots import figures

    # 4x the working set (the old default top) is beyond the 128 TiB of 4-level paging
    for working_set in (64 * 2**40, 100 * 2**40):
        with time_bound(120):
            figure = figures.tlb_coverage("default", working_set)
        assert figure is not None
    with time_bound(120):
        assert figures.tlb_coverage("icelake-sp", 200 * 2**40, paging=5) is not None


def test_ctrl_c_during_start_up_is_one_line():
    """SIGINT at moments across start-up (imports of typer and the commands): never a
    traceback from ptcalc's code or its imports.  An interrupt inside the interpreter's own
    start-up (site, runpy finding the package: before any ptcalc line runs) is Python's and
    is not counted."""
    seen = []
    for step in range(14):
        child = subprocess.Popen([sys.executable, "-m", "ptcalc", "compare", *SIZE],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": SOURCE})
        time.sleep(0.04 + 0.03 * step)
        child.send_signal(signal.SIGINT)
        err = child.communicate(timeout=60)[1]
        frames = re.findall(r'File "([^"]+)"', err)
        ours = [f for f in frames if f.startswith(os.path.join(SOURCE, "ptcalc"))
                or "/typer/" in f or "/click/" in f]
        if frames and not ours:
            continue       # inside the interpreter's start-up (site, runpy): before ptcalc
        seen.append(child.returncode)
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        assert child.returncode in (0, 130, -signal.SIGINT), err
        assert err.strip() in ("", "ptcalc: interrupted"), err
    assert 130 in seen        # some interrupt did land inside ptcalc

"""The command line as a user meets it: real subprocesses, exit codes, one-line errors."""

import json
import subprocess
import sys

import pytest

from ptcalc.catalog import STRATEGY_NAMES

JSON_KEYS = {"strategy", "applicable", "reason", "leaf_page_bytes", "pt_bytes_per_process",
             "pt_bytes_total", "pte_table_bytes", "pmd_table_bytes", "pud_table_bytes",
             "savings_vs_private_4k", "huge_pages", "faults_first", "faults_next",
             "faults_total"}


def ptcalc(*args):
    return subprocess.run([sys.executable, "-m", "ptcalc", *args], capture_output=True, check=False,
                          text=True, timeout=120)


def test_default_scenario_is_the_sga():
    result = ptcalc("compare")
    assert result.returncode == 0, result.stderr
    assert "300 GiB region" in result.stdout and "1,500 processes" in result.stdout
    assert "878.906 GiB" in result.stdout        # private-4k PTE tables
    # 300 GiB + 880.6 GiB of private-4k page tables > 512 GiB; so with shmem mTHP, whose
    # folios stay PTE-mapped (the same page tables); every sharing design fits.
    mthp = ", ".join(f"thp-shmem-{size} (1.153 TiB)" for size in
                     ("8k", "16k", "32k", "64k", "128k", "256k", "512k", "1m"))
    assert f"exceed 512 GiB RAM (OOM) for: private-4k (1.153 TiB), {mthp};" in result.stdout


def test_json_contract():
    result = ptcalc("compare", "--size", "300GiB", "--procs", "1500", "--format", "json")
    rows = json.loads(result.stdout)
    assert [row["strategy"] for row in rows][:2] == ["private-4k", "thp-shmem"]
    assert len(rows) == len(STRATEGY_NAMES) == 19   # 9 strategies, 8 mTHP, 1g THP, ptshare-2026
    for row in rows:
        assert set(row) >= JSON_KEYS
    private = rows[0]
    assert private["pte_table_bytes"] == 943718400000
    assert isinstance(private["pt_bytes_total"], int)


def test_not_applicable_has_reason_and_nulls():
    result = ptcalc("compare", "--size", "1GiB", "--procs", "2", "--offset", "4KiB",
                    "--strategy", "hugetlb-1g", "--format", "json")
    (row,) = json.loads(result.stdout)
    assert row["applicable"] is False and "1 GiB" in row["reason"]
    assert row["pt_bytes_total"] is None


@pytest.mark.parametrize("fmt", ["markdown", "csv", "table"])
def test_other_formats(fmt):
    result = ptcalc("compare", "--size", "2GiB", "--procs", "4", "--format", fmt)
    assert result.returncode == 0
    assert "private-4k" in result.stdout


@pytest.mark.parametrize("args, fragment", [
    (["compare", "--size", "-5G", "--procs", "2"], "negative"),
    (["compare", "--size", "", "--procs", "2"], "size"),
    (["compare", "--size", "nan", "--procs", "2"], "size"),
    (["compare", "--size", "1G", "--procs", "0"], "procs"),
    (["compare", "--size", "1G", "--procs", "2", "--touched", "1.5"], "touched"),
    (["compare", "--size", "1G", "--procs", "2", "--offset", "1000"], "4 KiB"),
    (["compare", "--size", "200TiB", "--procs", "2"], "address space"),
    (["compare", "--size", "1G", "--procs", "2", "--strategy", "mshar"], "did you mean 'mshare'"),
    (["compare", "--size", "1G", "--procs", "2", "--format", "xml"], "format"),
    (["compare", "--frobnicate"], "No such option"),
    (["formula", "private-4k", "nope"], "metric"),
    (["nosuchcommand"], "No such command"),
])
def test_bad_input_one_line_exit_2(args, fragment):
    result = ptcalc(*args)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_formula_shows_constants():
    result = ptcalc("formula", "private-4k", "pte_table_bytes")
    assert result.returncode == 0
    # the constants appear as sizes and are named in the legend, the inputs as symbols
    assert "2 MiB: what one PTE table maps (PTE_SPAN)" in result.stdout
    assert "N: processes mapping the region (procs)" in result.stdout
    latex = ptcalc("formula", "hugetlb-1g", "pt_bytes_total", "--latex")
    assert "\\lceil \\frac{o + t}{512\\,\\mathrm{GiB}} \\rceil" in latex.stdout


def test_strategies_lists_all():
    result = ptcalc("strategies", "--format", "json")
    names = [row["name"] for row in json.loads(result.stdout)]
    assert names == list(STRATEGY_NAMES) and len(names) == 19
    assert "hugetlb-2m-pmdshare" in names and "ptshare-2026" in names

"""ptcalc sweep: list and range axes, row count and order, every output format, chunking,
files that appear complete or not at all, progress bar, errors."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction

import pytest
from conftest import run_cli as run

from ptcalc.compute.scalar import scenario_rows
from ptcalc.errors import InputError
from ptcalc.inputs.scenario import make_scenario
from ptcalc.model.strategies import STRATEGY_NAMES
from ptcalc.sweep.axes import (
    parse_offset_axis,
    parse_procs_axis,
    parse_size_axis,
    parse_touched_axis,
)
from ptcalc.sweep.run import make_sweep, scenario_frame

GiB = 2**30


# --- axes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, count, first, last", [
    ("1..3000/10", 300, 1, 2991),          # STOP not on the grid: the last value stays below
    ("1..10000/1", 10000, 1, 10000),       # STOP on the grid: included
    ("1..100", 100, 1, 100),               # procs step defaults to 1
    ("5", 1, 5, 5),
    ("1,10,100", 3, 1, 100),
    ("7..7/3", 1, 7, 7),
    ("1,2..4", 4, 1, 4),
])
def test_procs_ranges_are_inclusive(text, count, first, last):
    axis = parse_procs_axis(text)
    values = list(axis.values())
    assert len(axis) == len(values) == count
    assert (values[0], values[-1]) == (first, last)


def test_size_offset_touched_axes():
    assert list(parse_size_axis("1GiB..8GiB/1GiB").values()) == [n * GiB for n in range(1, 9)]
    assert list(parse_size_axis("1GiB..8GiB/3GiB").values()) == [GiB, 4 * GiB, 7 * GiB]
    assert list(parse_size_axis("1GiB,2GiB..3GiB/512MiB").values()) == [
        GiB, 2 * GiB, 5 * GiB // 2, 3 * GiB]
    assert list(parse_offset_axis("0..8KiB/4KiB").values()) == [0, 4096, 8192]
    touched = list(parse_touched_axis("0.1..1/0.1").values())
    assert touched == [Fraction(n, 10) for n in range(1, 11)]     # exact: 1.0 is reached
    assert list(parse_touched_axis("25%..100%/25%").values()) == [
        Fraction(1, 4), Fraction(1, 2), Fraction(3, 4), 1]


def test_axis_values_at_indices_match_the_listing():
    import numpy as np

    for axis in (parse_procs_axis("1..3000/10,5,7..9"), parse_touched_axis("0.1..1/0.1,0.33"),
                 parse_size_axis("4KiB..1MiB/12KiB")):
        listed = [float(v) if isinstance(v, Fraction) else v for v in axis.values()]
        assert axis.at(np.arange(len(axis))).tolist() == listed


@pytest.mark.parametrize("parse, text, fragment", [
    (parse_procs_axis, "1..x", "'x' is not a whole number"),
    (parse_procs_axis, "0..3", "includes 0"),
    (parse_procs_axis, "1..5000000", "includes 5000000"),
    (parse_procs_axis, "3..1", "runs backwards"),
    (parse_procs_axis, "1..3/0", "must be positive"),
    (parse_procs_axis, "1,,2", "empty item"),
    (parse_size_axis, "1GiB..2GiB", "has no step"),
    (parse_size_axis, "0..2GiB/1GiB", "empty size"),
    (parse_size_axis, "1XB", "unknown unit"),
    (parse_offset_axis, "0..8KiB/1000", "not a multiple of 4 KiB"),
    (parse_offset_axis, "512GiB", "below 512 GiB"),
    (parse_touched_axis, "0..1/0.5", "(0, 1]"),
    (parse_touched_axis, "0.5..1.5/0.5", "(0, 1]"),
])
def test_axis_errors_name_the_value(parse, text, fragment):
    with pytest.raises(InputError, match=None) as error:
        parse(text)
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_sweep_limits():
    with pytest.raises(InputError, match="does not fit"):
        make_sweep("127.75TiB", "1", offset="0..500GiB/100GiB", paging=4)
    assert make_sweep("127.75TiB", "1", offset="0..500GiB/100GiB", paging=5).scenarios == 6
    with pytest.raises(InputError, match="at most"):
        make_sweep("4KiB..100TiB/4KiB", "1..1000")


# --- the Done-when and row order --------------------------------------------------------------

def test_done_when_two_sizes_ten_thousand_counts(tmp_path):
    path = tmp_path / "x.csv"
    code, out, err = run("sweep", "--size", "1GiB,300GiB", "--procs", "1..10000/1",
                         "--output", path)
    assert code == 0, err
    n = len(STRATEGY_NAMES)                     # 19: one row per strategy and scenario
    assert f"{2 * 10000 * n:,} rows" in out      # 380,000
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 10000 * n
    # scenario-major: every strategy of (1 GiB, 1 process) first, procs fastest, size last
    assert [r["strategy"] for r in rows[:n]] == list(STRATEGY_NAMES)
    assert (rows[n]["size_bytes"], rows[n]["procs"]) == (str(GiB), "2")
    last = rows[-n]
    assert (last["size_bytes"], last["procs"]) == (str(300 * GiB), "10000")
    expected = {r["strategy"]: r for r in scenario_rows(make_scenario("300GiB", 10000))}
    for row in rows[-n:]:
        assert int(row["pt_bytes_total"]) == expected[row["strategy"]]["pt_bytes_total"]


def test_every_row_matches_compare():
    spec = make_sweep("1GiB,1028KiB", "1,7", offset="0,4KiB,1GiB",
                      touched="0.5,1", access="read,write")
    from ptcalc.sweep.run import chunks

    frames = [frame for _, frame in chunks(spec, chunk_rows=10)]
    import pandas as pd

    result = pd.concat(frames, ignore_index=True)
    assert len(result) == spec.rows == 2 * 3 * 2 * 2 * 2 * len(STRATEGY_NAMES)
    for _, row in result.iterrows():
        scenario = make_scenario(int(row.size_bytes), int(row.procs), int(row.offset_bytes),
                                 row.touched, row.access, row.pattern)
        (expected,) = scenario_rows(scenario, [row.strategy])
        assert bool(row.applicable) == expected["applicable"]
        if expected["applicable"]:
            for key in ("pt_bytes_total", "pt_bytes_per_process", "faults_total"):
                assert int(row[key]) == expected[key], (key, row.to_dict())


def test_chunks_do_not_change_the_output(tmp_path):
    texts = []
    for chunk in (7, 1 << 18):
        path = tmp_path / f"c{chunk}.csv"
        code, _, err = run("sweep", "--size", "1GiB..4GiB/1GiB", "--procs", "1..5",
                           "--pattern", "dense,random", "--access", "read,write",
                           "--chunk-rows", chunk, "--output", path)
        assert code == 0, err
        texts.append(path.read_text())
    assert texts[0] == texts[1]


def test_chunks_bound_the_work_in_memory(monkeypatch):
    from ptcalc.compute import frame
    from ptcalc.sweep import run as sweep

    seen = []
    original = frame.evaluate_frame

    def spy(scenarios, *args, **kwargs):
        seen.append(len(scenarios))
        return original(scenarios, *args, **kwargs)

    monkeypatch.setattr(frame, "evaluate_frame", spy)
    spec = make_sweep("1GiB", "1..1000")
    rows = sum(len(f) for _, f in sweep.chunks(spec, chunk_rows=900))
    n = len(STRATEGY_NAMES)
    per_chunk = 900 // n                                 # 47 scenarios of 19 rows
    assert rows == 1000 * n and max(seen[1:]) == per_chunk
    assert len(seen) == 1 + -(-1000 // per_chunk)        # the dtype probe, then 22 chunks


# --- formats ----------------------------------------------------------------------------------

def test_json_jsonl_and_parquet_files(tmp_path):
    args = ("--size", "1GiB,2GiB", "--procs", "1..3", "--offset", "0,4KiB", "-s",
            "private-4k,hugetlb-2m")
    code, _, err = run("sweep", *args, "--output", tmp_path / "s.json")
    assert code == 0, err
    rows = json.loads((tmp_path / "s.json").read_text())
    assert len(rows) == 2 * 3 * 2 * 2
    private = [r for r in rows if r["strategy"] == "private-4k"]
    assert all(isinstance(r["pt_bytes_total"], int) for r in private)
    na = [r for r in rows if not r["applicable"]]
    assert na and all(r["pt_bytes_total"] is None and "2 MiB" in r["reason"] for r in na)
    code, _, _ = run("sweep", *args, "--output", tmp_path / "s.jsonl")
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == rows
    pyarrow_parquet = pytest.importorskip("pyarrow.parquet")
    code, _, err = run("sweep", *args, "--output", tmp_path / "s.parquet")
    assert code == 0, err
    table = pyarrow_parquet.read_table(tmp_path / "s.parquet")
    assert table.num_rows == len(rows)
    assert str(table.schema.field("pt_bytes_total").type) == "int64"
    assert table.column("pt_bytes_total").to_pylist() == [r["pt_bytes_total"] for r in rows]


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json"])
def test_stdout_formats(fmt):
    code, out, err = run("sweep", "--size", "1GiB", "--procs", "1,2", "--format", fmt,
                         "--units", "si")
    assert code == 0, err
    if fmt == "json":
        assert len(json.loads(out)) == 2 * len(STRATEGY_NAMES)
    elif fmt == "csv":
        assert len(list(csv.DictReader(io.StringIO(out)))) == 2 * len(STRATEGY_NAMES)
    else:
        assert "private-4k" in out and "1.074 GB" in out      # si units
        assert (out.count("|") > 40) == (fmt == "markdown")


def test_table_output_is_capped():
    code, _, err = run("sweep", "--size", "1GiB", "--procs", "1..10000")
    assert code == 2 and "--format csv" in err


def test_parquet_needs_pyarrow(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    code, _, err = run("sweep", "--size", "1GiB", "--procs", "1", "--output",
                       tmp_path / "x.parquet")
    assert code == 2 and "pyarrow" in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_format_must_match_the_extension(tmp_path):
    code, _, err = run("sweep", "--size", "1GiB", "--procs", "1", "-f", "json", "-o",
                       tmp_path / "x.csv")
    assert code == 2 and "does not match" in err


# --- atomic files -----------------------------------------------------------------------------

@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_failed_sweep_leaves_the_old_file_and_no_temporary(monkeypatch, tmp_path, failure):
    from ptcalc.sweep import writers as sweep_output

    target = tmp_path / "x.csv"
    target.write_text("old\n")
    written = []
    original = sweep_output.CsvWriter.put

    def put(self, payload):                         # the step that writes into the file
        assert target.read_text() == "old\n"        # never half-written in place
        original(self, payload)
        written.append(payload)
        if len(written) == 2:
            raise failure("stop")

    monkeypatch.setattr(sweep_output.CsvWriter, "put", put)
    argv = ["sweep", "--size", "1GiB", "--procs", "1..100", "--chunk-rows", "90",
            "--output", str(target)]
    if failure is KeyboardInterrupt:
        run(*argv)       # the exit code is cli.main's business (typer turns ^C into Exit(130))
    else:
        with pytest.raises(RuntimeError):
            run(*argv)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]


def test_new_file_keeps_the_umask_permissions(tmp_path):
    code, _, _ = run("sweep", "--size", "1GiB", "--procs", "1", "-o", tmp_path / "p.csv")
    umask = os.umask(0)
    os.umask(umask)
    assert code == 0 and (tmp_path / "p.csv").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_remove_the_temporary_file(tmp_path, signum):
    target = tmp_path / "big.csv"
    # SIGINT as from a terminal: not ignored even when the test runs in a background job
    process = subprocess.Popen(
        [sys.executable, "-m", "ptcalc", "sweep", "--size", "1GiB..64GiB/1GiB",
         "--procs", "1..100000/1", "--output", str(target)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    try:
        deadline = time.monotonic() + 60
        while not any(p.name.startswith(".big.csv.") for p in tmp_path.iterdir()):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        time.sleep(0.3)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:               # never leave a 64 GiB x 100000 sweep running after a failure
        if process.poll() is None:
            process.kill()
            process.wait()
    if signum == signal.SIGTERM:
        assert process.returncode == 128 + signal.SIGTERM, err
    # SIGINT: KeyboardInterrupt; the exit code is cli.main's (typer returns Exit(130))
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_unwritable_targets(tmp_path):
    code, _, err = run("sweep", "--size", "1GiB", "--procs", "1", "-o", tmp_path)
    assert code == 2 and "is a directory" in err
    code, _, err = run("sweep", "--size", "1GiB", "--procs", "1", "-o",
                       tmp_path / "missing" / "x.csv")
    assert code == 2 and "does not exist" in err


# --- progress ---------------------------------------------------------------------------------

def test_progress_bar_on_request_only(tmp_path):
    code, _, err = run("sweep", "--size", "1GiB", "--procs", "1..200", "--chunk-rows", "90",
                       "--progress", "-o", tmp_path / "a.csv")
    assert code == 0
    assert "100.0% 200/200 scenarios" in err and err.endswith("\n") and "\r" in err
    code, _, err = run("sweep", "--size", "1GiB", "--procs", "1..200", "-o",
                       tmp_path / "b.csv")
    assert code == 0 and err == ""                  # stderr is not a terminal here


def test_scenario_frame_of_a_slice():
    spec = make_sweep("1GiB,2GiB", "1..3", touched="0.5,1")
    frame = scenario_frame(spec, 4, 8)
    assert frame["size_bytes"].tolist() == [GiB, GiB, 2 * GiB, 2 * GiB]
    assert frame["touched"].tolist() == [1.0, 1.0, 0.5, 0.5]
    assert frame["procs"].tolist() == [2, 3, 1, 2]


# --- metric selection and the CSV format --------------------------------------------------------

def test_columns_select_the_metrics_written():
    args = ("sweep", "--size", "1GiB,3GiB", "--procs", "1..3", "-s", "private-4k,hugetlb-1g",
            "-f", "csv")
    code, full, err = run(*args)
    assert code == 0, err
    code, some, err = run(*args, "--columns", "procs,size_bytes,strategy,faults_next,"
                          "pt_bytes_total")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(some)))
    assert list(rows[0]) == ["procs", "size_bytes", "strategy", "faults_next",
                             "pt_bytes_total"]           # those, in that order
    every = list(csv.DictReader(io.StringIO(full)))
    assert len(rows) == len(every) == 2 * 3 * 2
    for row, whole in zip(rows, every):
        assert row == {key: whole[key] for key in row}


def test_unknown_column_is_a_one_line_error():
    code, _, err = run("sweep", "--size", "1GiB", "--procs", "1", "--columns", "pt_bytes")
    assert code == 2 and "not known" in err and "pt_bytes_total" in err
    assert len(err.strip().splitlines()) == 1


def test_csv_format_is_stable(tmp_path):
    path = tmp_path / "f.csv"
    code, _, err = run("sweep", "--size", "1GiB", "--procs", "2", "--offset", "0,4KiB",
                       "-s", "private-4k,hugetlb-1g", "--columns",
                       "size_bytes,procs,offset_bytes,touched,access,pattern,strategy,"
                       "applicable,reason,pt_bytes_total,savings_vs_private_4k", "-o", path)
    assert code == 0, err
    reason = ('"offset is not 1 GiB-aligned: a 1 GiB hugetlb mapping must start on a 1 GiB '
              'boundary (mmap fails with EINVAL)"')
    # private-4k of 1 GiB at offset 0, 2 processes: 512 PTE + 1 PMD + 1 PUD tables each,
    # (512 + 2) x 4096 x 2 = 4,210,688; hugetlb-1g: one PUD table each, 8,192, and saves
    # 1 - 8192 / 4210688 = 0.99805...; at offset 4 KiB the region crosses one 2 MiB and one
    # 1 GiB boundary more: (513 + 2 + 1) x 4096 x 2 = 4,227,072, and hugetlb-1g does not apply.
    assert path.read_text().splitlines() == [
        ("size_bytes,procs,offset_bytes,touched,access,pattern,strategy,applicable,reason,"
         "pt_bytes_total,savings_vs_private_4k"),
        '1073741824,2,0,1,"write","dense","private-4k",true,,4210688,0',
        f'1073741824,2,0,1,"write","dense","hugetlb-1g",true,,8192,{1 - 8192 / 4210688!r}',
        '1073741824,2,4096,1,"write","dense","private-4k",true,,4227072,0',
        f'1073741824,2,4096,1,"write","dense","hugetlb-1g",false,{reason},,',
    ]


def test_csv_integers_beyond_64_bits_are_exact(tmp_path):
    from ptcalc.inputs.scenario import MAX_PROCS

    path = tmp_path / "big.csv"
    code, _, err = run("sweep", "--size", str(2**55), "--procs", str(MAX_PROCS), "--paging",
                       "5", "-s", "private-4k", "--columns", "pt_bytes_total", "-o", path)
    assert code == 0, err
    (row,) = list(csv.DictReader(path.open()))
    (expected,) = scenario_rows(make_scenario(2**55, MAX_PROCS, paging_levels=5),
                                ["private-4k"])
    assert int(row["pt_bytes_total"]) == expected["pt_bytes_total"] > 2**63


def test_csv_without_pyarrow_has_the_same_values(tmp_path, monkeypatch):
    args = ("sweep", "--size", "1GiB,2MiB", "--procs", "1,7", "--offset", "0,4KiB",
            "--pattern", "dense,random", "--touched", "0.3")
    code, _, err = run(*args, "-o", tmp_path / "a.csv")
    assert code == 0, err
    monkeypatch.setitem(sys.modules, "pyarrow.csv", None)
    code, _, err = run(*args, "-o", tmp_path / "p.csv")
    assert code == 0, err
    arrow = list(csv.DictReader((tmp_path / "a.csv").open()))
    plain = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert len(arrow) == len(plain) == 2 * 2 * 2 * 2 * len(STRATEGY_NAMES)
    for a, p in zip(arrow, plain):
        assert a.keys() == p.keys()
        for key in a:
            if a[key] != p[key]:         # floats may be spelled differently: 1 and 1.0
                assert float(a[key]) == float(p[key]), (key, a[key], p[key])

"""A process with many mappings (tests/inspect/many_mappings.py): each distinct what-if is
evaluated once, and the output is what evaluating every what-if on its own gives
(tests/inspect/unbatched.py), in every format."""

from __future__ import annotations

import json

import pytest

from ptcalc.inspect import scenarios, whatif
from ptcalc.inspect.render import DEFAULT_OBJECTS
from ptcalc.inspect.run import inspect, render
from tests.inspect.many_mappings import snapshot
from tests.inspect.unbatched import unbatched

PRIVATE, SHARED = 200, 300
FORMATS = ("json", "table", "markdown", "csv")


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    path = tmp_path_factory.mktemp("many") / "many.snap"
    path.write_text(snapshot(private=PRIVATE, shared=SHARED))
    return str(path)


def texts(result) -> dict:
    out = {fmt: render(result, fmt, objects=0) for fmt in FORMATS}
    out["table, shortened"] = render(result, "table")
    out["detail"] = render(result, "table", detail=True, objects=0)
    out["warnings"] = list(result.warnings)
    return out


def test_snapshot_is_consistent(snap):
    result = inspect(maps_files=[snap], what_if=False)
    (process,) = result.processes
    assert len(process.layout.mappings) == PRIVATE + SHARED
    assert process.diff_bytes == 0          # VmPTE written is what the layout needs
    assert len(result.shared_groups) == SHARED


def test_identical_what_ifs_are_evaluated_once(snap, monkeypatch):
    evaluated, seen = [], []
    run_scalar, run_columns, run = (scenarios.Results._run_scalar,
                                    scenarios.Results._run_columns, scenarios.Results.run)

    def scalar(self, i):
        evaluated.append(i)
        return run_scalar(self, i)

    def columns(self, rows):
        evaluated.extend(rows)
        return run_columns(self, rows)

    def whole(self):
        seen.append(self)
        return run(self)

    monkeypatch.setattr(scenarios.Results, "_run_scalar", scalar)
    monkeypatch.setattr(scenarios.Results, "_run_columns", columns)
    monkeypatch.setattr(scenarios.Results, "run", whole)
    inspect(maps_files=[snap])
    # Each 64 KiB shared file is asked three times: as mapped, aligned to 2 MiB, to 1 GiB
    # (fully touched and inside one 2 MiB slot: the page and slot fractions are equal, one
    # scenario each).  As mapped: 300 distinct starts.  Aligned to 2 MiB: the first file
    # starts on a 2 MiB boundary (its own key), the next ones round up to the following
    # boundary 32 at a time (32 x 64 KiB = 2 MiB): 1 + ceil(299 / 32) = 11 keys.  Aligned to
    # 1 GiB: all round up to the same boundary: 1 key.  So 900 asked, 312 evaluated, once.
    (results,) = seen
    assert len(results) == SHARED + 11 + 1
    assert sorted(evaluated) == list(range(len(results)))
    assert results.vectorized == len(results)      # 312 >= VECTOR_MIN: over numpy columns


@pytest.mark.parametrize("pattern", ["layout", "dense"])
def test_output_equals_evaluating_every_what_if(snap, pattern):
    batched = inspect(maps_files=[snap], pattern=pattern)
    alone = unbatched([snap], pattern=pattern)
    assert batched.to_dict() == alone.to_dict()
    assert texts(batched) == texts(alone)
    data = json.loads(render(batched, "json"))
    assert len(data["shared_groups"]) == SHARED and data["what_if"]


def test_output_equals_with_python_ints_only_and_mixed(snap, monkeypatch):
    alone = texts(unbatched([snap], strategies=["private-4k", "hugetlb-2m", "ptshare"]))
    monkeypatch.setattr(scenarios, "VECTOR_MIN", 10**9)          # all through compare_rows
    assert texts(inspect(maps_files=[snap], strategies=["private-4k", "hugetlb-2m",
                                                        "ptshare"])) == alone
    monkeypatch.setattr(scenarios, "VECTOR_MIN", 1)
    # the 64 KiB scenarios (size x procs = 2**16) over numpy, the realigned ones with ints
    monkeypatch.setattr(scenarios, "EXACT_PRODUCT", 2**17)
    mixed = inspect(maps_files=[snap], strategies=["private-4k", "hugetlb-2m", "ptshare"])
    assert texts(mixed) == alone


def test_random_pattern_equals_evaluating_every_what_if(tmp_path):
    path = tmp_path / "some.snap"
    path.write_text(snapshot(private=3, shared=40))
    batched = inspect(maps_files=[str(path)], pattern="random", strategies=["private-4k",
                                                                            "thp-shmem"])
    alone = unbatched([str(path)], pattern="random", strategies=["private-4k", "thp-shmem"])
    assert texts(batched) == texts(alone)


def test_tables_list_the_largest_objects_and_count_the_rest(snap):
    result = inspect(maps_files=[snap])
    shortened = render(result, "table")
    listed = [g.path for g in result.shared_groups[:DEFAULT_OBJECTS]]
    rest = result.shared_groups[DEFAULT_OBJECTS:]
    assert all(path in shortened for path in listed)
    assert result.shared_groups[DEFAULT_OBJECTS].path + " " not in shortened
    # 300 - 20 = 280 objects are counted, not listed
    assert f"... and {len(rest):,} more shared object(s)" in shortened and len(rest) == 280
    full = render(result, "table", objects=0)
    assert all(g.path + " " in full for g in result.shared_groups)
    assert "more shared object" not in full
    # the what-if sums cover every object either way
    assert shortened.split("What-if: page-table bytes")[1] == \
        full.split("What-if: page-table bytes")[1]
    assert len(json.loads(render(result, "json"))["shared_groups"]) == SHARED


def test_copies_are_handed_out():
    evaluations = whatif.Evaluations()
    first = evaluations(2**21, 0, 3, 1, 1, ["private-4k"], "layout")
    first[0]["pt_bytes_total"] = -1               # a caller changing its rows
    second = evaluations(2**21, 0, 3, 1, 1, ["private-4k"], "layout")
    assert evaluations.asked == 2 and evaluations.evaluated == 1
    # 2 MiB at offset 0, 3 processes: one PTE, PMD and PUD table each: 3 x 3 x 4 KiB
    assert second[0]["pt_bytes_total"] == 3 * 3 * 4096


def test_inspect_loads_neither_pandas_nor_sympy_and_numpy_only_when_many(snap):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    fixture = str(root / "tests" / "fixtures" / "inspect" / "memfd-1.snap")
    code = ("import sys; from ptcalc.inspect.run import inspect, render; "
            "render(inspect(maps_files=[sys.argv[1]])); "
            "print(*(m in sys.modules for m in ('numpy', 'pandas', 'sympy')))")
    loaded = {}
    for name, path in (("many", snap), ("few", fixture)):
        out = subprocess.run([sys.executable, "-c", code, path], capture_output=True,
                             text=True, check=True,
                             env={**os.environ, "PYTHONPATH": str(root)}).stdout.split()
        loaded[name] = out
    # 312 distinct scenarios: numpy columns; one memfd object: a few, with Python ints
    assert loaded == {"many": ["True", "False", "False"], "few": ["False", "False", "False"]}

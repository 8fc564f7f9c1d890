"""A process with many mappings (tests/inspect/many_mappings.py): each distinct what-if is
evaluated once, and the output is what evaluating every one of them gives."""

from __future__ import annotations

import json

import pytest

from ptcalc.inspect import whatif
from ptcalc.inspect.run import inspect, render
from tests.inspect.many_mappings import snapshot

PRIVATE, SHARED = 200, 300


@pytest.fixture
def snap(tmp_path):
    path = tmp_path / "many.snap"
    path.write_text(snapshot(private=PRIVATE, shared=SHARED))
    return str(path)


def test_snapshot_is_consistent(snap):
    result = inspect(maps_files=[snap], what_if=False)
    (process,) = result.processes
    assert len(process.layout.mappings) == PRIVATE + SHARED
    assert process.diff_bytes == 0          # VmPTE written is what the layout needs
    assert len(result.shared_groups) == SHARED


def test_identical_what_ifs_are_evaluated_once(snap, monkeypatch):
    calls = []
    original = whatif._evaluate

    def counted(*args):
        calls.append(args[:5])
        return original(*args)

    monkeypatch.setattr(whatif, "_evaluate", counted)
    inspect(maps_files=[snap])
    # Each 64 KiB shared file is asked three times: as mapped, aligned to 2 MiB, to 1 GiB.
    # As mapped: 300 distinct starts.  Aligned to 2 MiB: the first file starts on a 2 MiB
    # boundary (its own key), the next ones round up to the following boundary 32 at a time
    # (32 x 64 KiB = 2 MiB): 1 + ceil(299 / 32) = 11 keys.  Aligned to 1 GiB: all round up to
    # the same boundary: 1 key.  So 900 asked, 312 evaluated.
    assert len(calls) == len(set(calls)) == SHARED + 11 + 1


def test_output_equals_evaluating_every_what_if(snap, monkeypatch):
    shared = inspect(maps_files=[snap])
    texts = {fmt: render(shared, fmt) for fmt in ("json", "table", "csv")}

    def every_time(self, size, offset, procs, touched, touched_slots, strategies, pattern):
        self.asked += 1
        return whatif._evaluate(size, offset, procs, touched, touched_slots, strategies,
                                pattern)

    monkeypatch.setattr(whatif.Evaluations, "__call__", every_time)
    alone = inspect(maps_files=[snap])
    assert {fmt: render(alone, fmt) for fmt in texts} == texts
    data = json.loads(texts["json"])
    assert len(data["shared_groups"]) == SHARED and data["what_if"]


def test_copies_are_handed_out():
    evaluations = whatif.Evaluations()
    first = evaluations(2**21, 0, 3, 1, 1, ["private-4k"], "layout")
    first[0]["pt_bytes_total"] = -1               # a caller changing its rows
    second = evaluations(2**21, 0, 3, 1, 1, ["private-4k"], "layout")
    assert evaluations.asked == 2 and evaluations.evaluated == 1
    # 2 MiB at offset 0, 3 processes: one PTE, PMD and PUD table each: 3 x 3 x 4 KiB
    assert second[0]["pt_bytes_total"] == 3 * 3 * 4096

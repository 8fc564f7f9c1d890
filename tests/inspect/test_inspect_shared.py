"""Shared objects across snapshots: grouping, placements, what-if rows, output formats."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from ptcalc.catalog import STRATEGY_NAMES
from ptcalc.errors import InputError
from ptcalc.inspect.layout import Mapping, Presence
from ptcalc.inspect.run import inspect, render
from ptcalc.inspect.shared import kind_of, placements, shared_uses
from ptcalc.inspect.tables import split_by_mapping
from ptcalc.inspect.whatif import slot_equivalent, sum_rows
from ptcalc.paging import PTE_SPAN, PUD_SPAN, TABLE_BYTES

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inspect"
MIB = 2**20
STRATEGIES = set(STRATEGY_NAMES)     # the what-if covers every strategy of the catalogue


def files(*names):
    return [str(FIXTURES / name) for name in names]


@pytest.fixture(scope="module")
def memfd():
    return inspect(maps_files=files("memfd-1.snap", "memfd-2.snap", "memfd-3.snap"))


def _group(result, kind):
    return next(g for g in result.shared_groups if g.kind == kind)


def test_memfd_is_one_group_of_three_with_one_placement(memfd):
    group = _group(memfd, "memfd")
    assert group.procs == 3 and group.size_bytes == 64 * MIB
    assert len(group.placements) == 1
    place = group.placements[0]
    assert place.offset_bytes == (0x7e0000000000 + 3 * MIB) % PUD_SPAN
    # parent 100 %, child 50 %, child every 64th page
    assert place.touched == pytest.approx((1 + 0.5 + 1 / 64) / 3)
    assert place.touched_slots >= place.touched


def test_memfd_what_if_has_every_strategy_and_private_4k_matches_now(memfd):
    group = _group(memfd, "memfd")
    rows = {row["strategy"]: row for row in group.what_if}
    assert set(rows) == STRATEGIES
    now = group.current_physical_pt_bytes
    assert now == group.current_pt_bytes          # nothing is shared with 4 KiB pages
    # the model at the slot-equivalent fraction reproduces the measured cost within a table
    # per process (the prefix starts 1 MiB into a slot, the real pages do not)
    assert abs(rows["private-4k"]["pt_bytes_total"] - now) <= 3 * TABLE_BYTES
    assert rows["threads"]["savings_vs_current_bytes"] > 0
    # 3 MiB offset: not 2 MiB-aligned, so hugetlb is evaluated where mmap would put it
    assert rows["hugetlb-2m"]["applicable"] and rows["hugetlb-2m"]["placement"] == \
        "aligned to 2 MiB"
    assert rows["hugetlb-2m"]["reason"].startswith("as mapped: offset is not 2 MiB-aligned")
    assert rows["hugetlb-1g"]["placement"] == "aligned to 1 GiB"
    assert rows["private-4k"]["placement"] == "as mapped"


def test_private_mappings_are_not_shared_objects(memfd):
    kinds = {g.kind for g in memfd.shared_groups}
    assert "memfd" in kinds
    for proc in memfd.processes:
        assert all(use["kind"] != "" for use in proc.to_dict()["shared_mappings"])
        assert not any(use["start"] == "7d0000000000" for use in proc.to_dict()["shared_mappings"])


def test_hugetlb_pmd_sharing_is_physical_once_and_matches_the_model():
    result = inspect(maps_files=files("hugetlb-1.snap", "hugetlb-2.snap"))
    group = _group(result, "hugetlb shared-anon")
    # both processes are charged the PMD table of the full 1 GiB slot; it exists once
    assert group.current_physical_pt_bytes == group.current_pt_bytes - TABLE_BYTES
    rows = {row["strategy"]: row for row in group.what_if}
    assert rows["hugetlb-2m-pmdshare"]["pt_bytes_total"] == group.current_physical_pt_bytes
    assert rows["hugetlb-2m"]["pt_bytes_total"] == group.current_pt_bytes


def test_top_level_what_if_sums_groups(memfd):
    totals = {row["strategy"]: row for row in memfd.what_if}
    for strategy, row in totals.items():
        parts = [next(r for r in g.what_if if r["strategy"] == strategy)
                 for g in memfd.shared_groups if g.what_if]
        if row["pt_bytes_total"] is not None:
            assert row["pt_bytes_total"] == sum(p["pt_bytes_total"] for p in parts)
    assert totals["private-4k"]["current_pt_bytes"] == sum(
        g.current_physical_pt_bytes for g in memfd.shared_groups if g.what_if)


def test_json_contract(memfd):
    data = json.loads(render(memfd, "json"))
    assert set(data) >= {"processes", "shared_groups", "what_if"}
    proc = data["processes"][0]
    assert {"pid", "vmpte_bytes", "predicted_pt_bytes", "shared_mappings"} <= set(proc)
    assert proc["predicted_pt_bytes"] == proc["vmpte_bytes"]
    group = data["shared_groups"][0]
    assert {"identity", "size_bytes", "procs", "what_if"} <= set(group)
    assert {"strategy", "pt_bytes_total", "faults_total", "savings_vs_current_bytes"} <= \
        set(data["what_if"][0])
    use = proc["shared_mappings"][0]
    assert {"identity", "size_bytes", "offset_bytes", "mapped_bytes", "touched"} <= set(use)


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_tables_show_processes_objects_and_what_if(memfd, fmt):
    text = render(memfd, fmt)
    assert "VmPTE" in text and "memfd:ptcalc-fixture" in text
    for strategy in STRATEGIES:
        assert strategy in text
    detailed = render(memfd, fmt, detail=True)
    assert detailed.count("private-4k") > text.count("private-4k")


def test_csv_has_processes_then_what_if_rows(memfd):
    blocks = render(memfd, "csv").split("\n\n")
    procs = list(csv.DictReader(io.StringIO(blocks[0])))
    assert len(procs) == 3 and procs[0]["vmpte_bytes"] == procs[0]["predicted_pt_bytes"]
    rows = list(csv.DictReader(io.StringIO(blocks[1])))
    assert {r["strategy"] for r in rows if r["identity"] == "TOTAL"} == STRATEGIES


def test_unknown_format_is_an_input_error(memfd):
    with pytest.raises(InputError, match="format 'yaml' is not known"):
        render(memfd, "yaml")


def test_what_if_can_be_skipped_or_limited():
    result = inspect(maps_files=files("memfd-1.snap"), what_if=False)
    assert result.what_if == [] and all(g.what_if == [] for g in result.shared_groups)
    result = inspect(maps_files=files("memfd-1.snap"), strategies=["private-4k", "threads"])
    assert {row["strategy"] for row in result.what_if} == {"private-4k", "threads"}


def _shared(start, size, inode=5, offset=0):
    return Mapping(start, start + size, "rw-s", offset, "00:01", inode, "/dev/zero (deleted)",
                   {}, ())


def test_split_vmas_of_one_object_are_joined_and_placements_split_by_offset():
    a1, a2 = _shared(0x10000000, 2 * MIB), _shared(0x10200000, 2 * MIB, offset=2 * MIB)
    uses = shared_uses(1, "1", [a1, a2], split_by_mapping(
        [a1, a2], [Presence(0x10000000, 0x10400000)]))
    assert len(uses) == 1 and uses[0].size_bytes == 4 * MIB and uses[0].touched == 1.0
    b = _shared(0x20000000, 4 * MIB)
    other = shared_uses(2, "2", [b], split_by_mapping([b], [Presence(b.start, b.start + 4096)]))
    places = placements(uses + other)
    assert [(p.procs, p.offset_bytes) for p in places] == [(1, 0x10000000), (1, 0x20000000)]
    untouched = shared_uses(3, "3", [b], [])
    assert len(placements(untouched)) == 0


def test_slot_equivalent_fraction_spans_the_same_slots():
    # 3 touched slots of a 2 MiB-aligned 16 MiB region -> a 6 MiB prefix
    assert slot_equivalent(0, 16 * MIB, 3) == pytest.approx(6 / 16)
    # starting 1 MiB into a slot: the first slot holds only 1 MiB of the prefix
    assert slot_equivalent(MIB, 16 * MIB, 3) == pytest.approx(5 / 16)
    assert slot_equivalent(0, MIB, 1) == 1.0 and slot_equivalent(0, MIB, 0) == 0.0
    assert PTE_SPAN == 2 * MIB


def test_sum_rows_adds_metrics_and_merges_reasons():
    a = [{"strategy": "x", "applicable": True, "reason": None, "pt_bytes_total": 1,
          "placement": "as mapped"}]
    b = [{"strategy": "x", "applicable": False, "reason": "r", "pt_bytes_total": None,
          "placement": "aligned to 2 MiB"}]
    (row,) = sum_rows([a, b])
    assert row == {"strategy": "x", "applicable": False, "reason": "r", "pt_bytes_total": None,
                   "placement": "mixed"}


@pytest.mark.parametrize("path, kind", [
    ("/SYSV0020c08f (deleted)", "sysv-shm"), ("/dev/shm/PostgreSQL.1", "posix-shm"),
    ("/memfd:x (deleted)", "memfd"), ("/dev/zero (deleted)", "shared-anon"),
    ("/var/lib/data.db", "file")])
def test_kind_of(path, kind):
    assert kind_of(Mapping(0, 4096, "rw-s", 0, "00:01", 3, path, {}, ())) == kind


def test_physical_counts_a_shared_hugetlb_pmd_table_once_per_slot():
    from ptcalc.inspect.shared import physical_pt_bytes

    gib = 2**30

    def hugetlb_use(pid, start, presence):
        m = Mapping(start, start + 2 * gib, "rw-s", 0, "00:11", 7, "/anon_hugepage (deleted)",
                    {"KernelPageSize": PTE_SPAN}, ("ht",))
        (use,) = shared_uses(pid, str(pid), [m], split_by_mapping([m], presence))
        return use

    # two scattered pieces in the first 1 GiB slot, one in the second, in both processes
    pieces = [(0, PTE_SPAN), (10 * PTE_SPAN, 11 * PTE_SPAN), (gib, gib + PTE_SPAN)]
    a = hugetlb_use(1, 4 * gib, [Presence(4 * gib + s, 4 * gib + e, True) for s, e in pieces])
    b = hugetlb_use(2, 8 * gib, [Presence(8 * gib + s, 8 * gib + e, True) for s, e in pieces])
    assert a.tables.pmd == 2 and a.tables.pte == 0
    # each process: 2 PMD + 1 PUD tables; the 2 PMD tables exist once for both
    assert physical_pt_bytes([a]) == 3 * TABLE_BYTES
    assert physical_pt_bytes([a, b]) == 4 * TABLE_BYTES
    # a process mapping the object at a different file offset alignment shares nothing
    c = hugetlb_use(3, 8 * gib + PTE_SPAN, [Presence(8 * gib + PTE_SPAN, 8 * gib + 2 * PTE_SPAN,
                                                     True)])
    assert physical_pt_bytes([a, c]) == physical_pt_bytes([a]) + c.tables.bytes

"""`inspect --save-layout` on recorded snapshots: the layout file loads, `compare --layout`
under the strategy the host used gives each process's recorded VmPTE, and the baselines come
from the pages (inspect's own table count), not from VmPTE."""

from __future__ import annotations

from pathlib import Path

import pytest

from ptcalc.compute.host import evaluate_layout
from ptcalc.inputs.layout import load_layout_file
from ptcalc.inspect.run import inspect
from ptcalc.inspect.save_layout import layout_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inspect"
KiB, MiB = 2**10, 2**20
TABLE = 4096
CASES = {"hugetlb": ("hugetlb-1.snap", "hugetlb-2.snap"),
         "memfd": ("memfd-1.snap", "memfd-2.snap", "memfd-3.snap"),
         "postgres": ("postgres-1.snap.gz", "postgres-2.snap.gz", "postgres-3.snap.gz")}


def saved(tmp_path, case):
    result = inspect(maps_files=[str(FIXTURES / n) for n in CASES[case]], what_if=False)
    text, doc = layout_text(result, case)
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    return result, doc, load_layout_file(path)


@pytest.mark.parametrize("case", sorted(CASES))
def test_compare_layout_gives_each_recorded_vmpte(tmp_path, case):
    result, doc, layout = saved(tmp_path, case)
    rows = {r["group"]: r for r in evaluate_layout(layout, (doc["strategy"],))["groups"]}
    vmpte = {p.layout.pid: p.layout.vmpte_bytes for p in result.processes}
    predicted = {p.layout.pid: p.prediction.tables.bytes for p in result.processes}
    for group in doc["groups"]:
        model = rows[group["name"]]["pt_bytes_per_process"]
        for pid in group["pids"]:
            # inspect's count of the pages is within 1 % of VmPTE in these snapshots, and the
            # model's tables of the maps + the baseline are exactly that count
            assert model == predicted[pid], (case, pid)
            assert abs(model - vmpte[pid]) <= 0.01 * vmpte[pid], (case, pid)


def test_hugetlb_host_is_evaluated_as_pmd_sharing_with_the_small_file_in_the_baseline(
        tmp_path):
    # Two processes map a 1 GiB + 64 MiB hugetlb segment at 0x7e0000000000 (every page) and
    # both a 28 KiB gconv file (4 KiB pages, one has some mapped).  Most shared memory is
    # 2 MiB hugetlb, so the host is hugetlb-2m-pmdshare and the file is left to the
    # baseline: one region.
    # Its tables per process: 1 full 1 GiB slot + 1 partial = 2 PMD tables, 1 PUD table,
    # no PTE table: 12 KiB; both VmPTEs are 76 KiB, so both baselines are 64 KiB and the two
    # processes are one group of 2.
    _, doc, layout = saved(tmp_path, "hugetlb")
    assert doc["strategy"] == "hugetlb-2m-pmdshare"
    assert [r.name for r in layout.regions] == ["hugetlb-shared-anon-anon-hugepage-delete"]
    assert layout.regions[0].size_bytes == 1024 * MiB + 64 * MiB
    (group,) = layout.groups
    assert group.procs == 2 and group.baseline_pt_bytes == 64 * KiB
    (row,) = evaluate_layout(layout, ("hugetlb-2m-pmdshare",))["groups"]
    assert row["pt_bytes_per_process"] == 3 * TABLE + 64 * KiB == 76 * KiB

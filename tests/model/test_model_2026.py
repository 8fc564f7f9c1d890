"""Hand-derived values of the strategies added in 2026: shmem mTHP (PTE-mapped folios), the
1 GiB shmem THP proposal, and the file-based ptshare of mm/ptshare.c (2026)."""

import pytest
from conftest import TABLE, GiB, KiB, MiB, rows_by_strategy

from ptcalc.compute.scalar import scenario_rows
from ptcalc.inputs.scenario import make_scenario
from ptcalc.oracle import simulate

MTHP = {"thp-shmem-8k": 8 * KiB, "thp-shmem-16k": 16 * KiB, "thp-shmem-32k": 32 * KiB,
        "thp-shmem-64k": 64 * KiB, "thp-shmem-128k": 128 * KiB, "thp-shmem-256k": 256 * KiB,
        "thp-shmem-512k": 512 * KiB, "thp-shmem-1m": MiB}


@pytest.mark.parametrize("name, folio", MTHP.items())
def test_mthp_aligned_write_one_fault_per_folio(name, folio):
    # 4 MiB at offset 0 written by 2 processes.  PTE-mapped: 2 PTE + 1 PMD + 1 PUD tables per
    # process, as with 4 KiB pages.  Each process faults once per folio: 4 MiB / folio.
    rows = rows_by_strategy(size="4MiB", procs=2)
    row = rows[name]
    assert row["pt_bytes_per_process"] == (2 + 1 + 1) * TABLE
    assert row["pt_bytes_total"] == rows["private-4k"]["pt_bytes_total"] == 2 * 4 * TABLE
    assert row["faults_first"] == row["faults_next"] == 4 * MiB // folio
    assert row["leaf_page_bytes"] == 4 * KiB
    assert row["mapped_4k_bytes"] == 4 * MiB and row["mapped_2m_bytes"] == 0


@pytest.mark.parametrize("name, folio", MTHP.items())
def test_mthp_later_reader_per_folio_or_per_window(name, folio):
    # A later reader's fault-around (64 KiB) maps cached folios whole: one fault per folio
    # when a folio is >= 64 KiB, else one per 64 KiB window: 4 MiB / max(folio, 64 KiB).
    # The first reader finds nothing cached and faults once per folio.
    row = rows_by_strategy(size="4MiB", procs=2, access="read")[name]
    assert row["faults_first"] == 4 * MiB // folio
    assert row["faults_next"] == 4 * MiB // max(folio, 64 * KiB)


def test_mthp_unaligned_start_falls_back_to_4k():
    # Offset 4 KiB: VA != file offset (mod 64 KiB) for every folio: 4 KiB pages throughout,
    # the numbers of private-4k (1024 write faults; later read: 1 + 64 windows).
    for access in ("write", "read"):
        rows = rows_by_strategy(size="4MiB", procs=2, offset=4 * KiB, access=access)
        for key in ("pt_bytes_total", "faults_first", "faults_next"):
            assert rows["thp-shmem-64k"][key] == rows["private-4k"][key], (access, key)
    assert rows["thp-shmem-64k"]["faults_first"] == 1024


def test_mthp_tail_and_small_window():
    # 1 MiB + 12 KiB at offset 0 with 256 KiB folios: 4 folios, then 3 pages of 4 KiB.
    # Write: 4 + 3 = 7 faults per process.  Read by a later process with a 4 KiB window: 4
    # folio faults, then 3 windows of one page.  One PTE table, 1 PMD, 1 PUD.
    row = rows_by_strategy(size=str(MiB + 12 * KiB), procs=2)["thp-shmem-256k"]
    assert row["faults_first"] == row["faults_next"] == 4 + 3
    assert row["pt_bytes_per_process"] == 3 * TABLE
    read = rows_by_strategy(size=str(MiB + 12 * KiB), procs=2, access="read",
                            fault_around="4KiB")["thp-shmem-256k"]
    assert read["faults_next"] == 4 + 3
    # Offset 256 KiB (folio-aligned, not 2 MiB-aligned): still 4 folios + 3 pages.
    row = rows_by_strategy(size=str(MiB + 12 * KiB), procs=2, offset=256 * KiB)
    assert row["thp-shmem-256k"]["faults_first"] == 7
    assert row["thp-shmem-512k"]["faults_first"] == 259   # 512 KiB folios need 512 KiB
    #                                                     alignment: 259 pages of 4 KiB


def test_thp_1g_aligned_and_fallback():
    # 2 GiB + 6 MiB at offset 0, written by 3 processes: 2 PUD-mapped 1 GiB folios, 3 PMD-
    # mapped 2 MiB folios, no 4 KiB rest.  Tables per process: 1 PUD, 1 PMD (the third GiB),
    # no PTE table.  Faults: 2 + 3 = 5 per process.
    row = rows_by_strategy(size=str(2 * GiB + 6 * MiB), procs=3)["thp-shmem-1g"]
    assert row["pt_bytes_per_process"] == 2 * TABLE
    assert row["pt_bytes_total"] == 3 * 2 * TABLE
    assert row["faults_first"] == row["faults_next"] == 5
    assert row["mapped_1g_bytes"] == 2 * GiB and row["mapped_2m_bytes"] == 6 * MiB
    assert row["leaf_page_bytes"] == GiB
    # 2 MiB-aligned but not 1 GiB-aligned: plain thp-shmem.
    rows = rows_by_strategy(size="1GiB", procs=2, offset=2 * MiB)
    for key in ("pt_bytes_total", "faults_first", "faults_next", "mapped_2m_bytes"):
        assert rows["thp-shmem-1g"][key] == rows["thp-shmem"][key]
    assert rows["thp-shmem-1g"]["mapped_1g_bytes"] == 0


def test_ptshare_2026_charges_every_sharer():
    # 300 GiB SGA, 1500 processes, 2 MiB-aligned.  Each process is charged what private-4k
    # charges (153600 PTE + 300 PMD + 1 PUD tables: mm_inc_nr_ptes on every splice), but the
    # machine holds the 153600 PTE tables once, in the shadow mm, with the shadow's 300 PMD
    # and 1 PUD tables; every process keeps its own 300 PMD and 1 PUD tables.
    rows = rows_by_strategy(size="300GiB", procs=1500)
    row = rows["ptshare-2026"]
    assert row["pt_bytes_per_process"] == rows["private-4k"]["pt_bytes_per_process"] \
        == (153600 + 300 + 1) * TABLE
    assert row["pte_table_bytes"] == 153600 * TABLE
    assert row["pmd_table_bytes"] == 300 * TABLE * 1501
    assert row["pud_table_bytes"] == 1 * TABLE * 1501
    # Same physical bytes as the 2023 RFC (ptshare); only the charge differs.
    assert row["pt_bytes_total"] == rows["ptshare"]["pt_bytes_total"]
    assert rows["ptshare"]["pt_bytes_per_process"] == 301 * TABLE
    # Faults: the first process one per page (the populating fault also splices), a later
    # one per 2 MiB slot (the RFC's first process takes one more per slot).
    assert row["faults_first"] == 300 * GiB // (4 * KiB)
    assert row["faults_next"] == 153600
    assert rows["ptshare"]["faults_first"] == 300 * GiB // (4 * KiB) + 153600


def test_ptshare_2026_needs_2mib_alignment():
    rows = rows_by_strategy(size="4MiB", procs=2, offset=4 * KiB)
    assert not rows["ptshare-2026"]["applicable"]
    assert "PMD-aligned" in rows["ptshare-2026"]["reason"]
    rows = rows_by_strategy(size=str(3 * MiB), procs=2)
    assert not rows["ptshare-2026"]["applicable"]


NEW = (*MTHP, "thp-shmem-1g", "ptshare-2026")


@pytest.mark.parametrize("offset, size, touched", [
    (0, 4 * MiB + 12 * KiB, "1"), (64 * KiB, 3 * MiB, "1"), (2 * MiB - 16 * KiB, 5 * MiB, "1"),
    (0, 4 * MiB, "0.37"),
])
@pytest.mark.parametrize("access", ["read", "write"])
def test_new_strategies_equal_the_oracle(offset, size, touched, access):
    # The oracle plays every fault (folios mapped whole, fault-around windows, splices);
    # tests/model/test_simulator.py draws many more placements for every strategy.
    scenario = make_scenario(size, 3, offset, touched, access, "dense", 4, "64KiB")
    models = {row["strategy"]: row for row in scenario_rows(scenario, NEW)}
    for name in NEW:
        simulated = simulate(scenario, name)
        assert models[name]["applicable"] == simulated["applicable"], name
        if not simulated["applicable"]:
            continue
        for key in ("pt_bytes_per_process", "pt_bytes_total", "faults_first", "faults_next",
                    "mapped_4k_bytes", "mapped_2m_bytes", "mapped_1g_bytes"):
            assert models[name][key] == simulated[key], (name, key)

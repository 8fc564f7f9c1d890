"""Model values derived by hand (the derivation is in each comment)."""

from conftest import TABLE, GiB, KiB, MiB, rows_by_strategy


def sga():
    # The mshare cover letter's case: 300 GiB SGA, 1500 processes, every page touched.
    return rows_by_strategy(size="300GiB", procs=1500)


def test_private_4k_reproduces_the_878gb_of_ptes():
    row = sga()["private-4k"]
    # 300 GiB / 2 MiB = 153600 PTE tables per process, 4096 B each, 1500 processes:
    # 153600 * 4096 * 1500 = 943,718,400,000 B = 878.9 GiB ("878GB+ just for the PTEs").
    assert row["pte_table_bytes"] == 153600 * TABLE * 1500 == 943_718_400_000
    # 300 PMD tables (one per GiB) and 1 PUD table per process.
    assert row["pmd_table_bytes"] == 300 * TABLE * 1500
    assert row["pud_table_bytes"] == 1 * TABLE * 1500
    assert row["pt_bytes_per_process"] == (153600 + 300 + 1) * TABLE == 630_378_496
    assert row["pt_bytes_total"] == row["pt_bytes_per_process"] * 1500
    assert row["savings_vs_private_4k"] == 0
    # Write access: one fault per 4 KiB page for the first and every later process.
    assert row["faults_first"] == row["faults_next"] == 300 * GiB // (4 * KiB)


def test_sga_every_strategy_by_hand():
    rows = sga()
    per_process_private = (153600 + 300 + 1) * TABLE
    # hugetlb 2 MiB, no sharing: 300 PMD + 1 PUD table per process, no PTE tables.
    assert rows["hugetlb-2m"]["pt_bytes_per_process"] == 301 * TABLE
    assert rows["hugetlb-2m"]["pt_bytes_total"] == 301 * TABLE * 1500
    assert rows["hugetlb-2m"]["huge_pages"] == 153600
    # PMD sharing: all 300 slots are whole GiB inside the mapping: 300 PMD tables once, 1500
    # PUD tables; every sharer is still charged its 301 tables in VmPTE.
    share = rows["hugetlb-2m-pmdshare"]
    assert share["pmd_table_bytes"] == 300 * TABLE
    assert share["pud_table_bytes"] == 1500 * TABLE
    assert share["pt_bytes_per_process"] == 301 * TABLE
    assert share["faults_first"] == 153600 and share["faults_next"] == 300
    # 1 GiB pages: one PUD table per process, 300 huge pages.
    assert rows["hugetlb-1g"]["pt_bytes_total"] == 1500 * TABLE
    assert rows["hugetlb-1g"]["huge_pages"] == 300
    # THP aligned: every 2 MiB PMD-mapped: like hugetlb-2m, but no reservation.
    assert rows["thp-shmem"]["pt_bytes_total"] == 301 * TABLE * 1500
    assert rows["thp-shmem"]["huge_pages"] is None
    # ptshare: host holds 153600 PTE tables once, plus its own 300 PMD + 1 PUD; 1500 guests
    # keep 300 PMD + 1 PUD each.
    assert rows["ptshare"]["pte_table_bytes"] == 153600 * TABLE
    assert rows["ptshare"]["pmd_table_bytes"] == 300 * TABLE * 1501
    assert rows["ptshare"]["pt_bytes_per_process"] == 301 * TABLE
    # file-pt: whole region aligned: everything below the PUD shared once.
    assert rows["file-pt"]["pte_table_bytes"] == 153600 * TABLE
    assert rows["file-pt"]["pmd_table_bytes"] == 300 * TABLE
    assert rows["file-pt"]["pud_table_bytes"] == 1500 * TABLE
    # mshare: one host set of tables, no guest charge, one link fault per 512 GiB slot.
    assert rows["mshare"]["pt_bytes_total"] == per_process_private
    assert rows["mshare"]["pt_bytes_per_process"] == 0
    assert rows["mshare"]["faults_next"] == 1
    # threads: one mm.
    assert rows["threads"]["pt_bytes_total"] == per_process_private
    assert rows["threads"]["faults_total"] == 300 * GiB // (4 * KiB)


def test_straddling_a_gib_boundary():
    # 4 MiB at 1 GiB - 1 MiB: PTE slots 511..513 (3 tables), PMD slots 0 and 1, 1 PUD.
    rows = rows_by_strategy(size="4MiB", procs=2, offset=GiB - MiB)
    assert rows["private-4k"]["pt_bytes_per_process"] == (3 + 2 + 1) * TABLE
    assert not rows["hugetlb-2m"]["applicable"]
    assert "2 MiB" in rows["hugetlb-2m"]["reason"]
    assert not rows["ptshare"]["applicable"]
    # file-pt: the only whole 2 MiB slot is [1 GiB, 1 GiB + 2 MiB): one PTE table shared, the
    # two partial ones private to each of 2 processes: 1 + 2*2 = 5 PTE tables.
    assert rows["file-pt"]["pte_table_bytes"] == 5 * TABLE


def test_smaller_than_2mib():
    # 1 MiB at 0: 1 PTE, 1 PMD, 1 PUD table; THP cannot PMD-map it (no whole 2 MiB).
    rows = rows_by_strategy(size="1MiB", procs=3)
    assert rows["private-4k"]["pt_bytes_per_process"] == 3 * TABLE
    assert rows["thp-shmem"]["pt_bytes_per_process"] == 3 * TABLE
    assert rows["thp-shmem"]["leaf_page_bytes"] == 4 * KiB
    # hugetlb rounds the mapping up to one 2 MiB page: 1 PMD + 1 PUD table.
    assert rows["hugetlb-2m"]["pt_bytes_per_process"] == 2 * TABLE
    assert rows["hugetlb-2m"]["huge_pages"] == 1
    assert not rows["ptshare"]["applicable"]          # size not a multiple of 2 MiB


def test_pmd_sharing_with_partial_slots():
    # 3 GiB at 512 MiB: slots 1 and 2 whole (shared), slots 0 and 3 half covered (private).
    rows = rows_by_strategy(size="3GiB", procs=4, offset=512 * MiB)
    share = rows["hugetlb-2m-pmdshare"]
    assert share["pmd_table_bytes"] == (2 + 4 * 2) * TABLE
    assert share["pt_bytes_per_process"] == (4 + 1) * TABLE
    # a later process: 1 fault per shared slot + 256 huge pages in each private half slot.
    assert share["faults_next"] == 2 + 256 + 256
    assert share["faults_first"] == 3 * GiB // (2 * MiB)


def test_read_fault_around_for_later_readers():
    # 1 MiB at 4 KiB, read: the first reader faults per page (256); a later reader's first
    # window is [4 KiB, 64 KiB), then aligned 64 KiB windows up to 1 MiB + 4 KiB:
    # 1 + (ceil((1 MiB + 4 KiB) / 64 KiB) - 1) = 1 + 16 = 17.
    rows = rows_by_strategy(size="1MiB", procs=2, offset=4 * KiB, access="read")
    assert rows["private-4k"]["faults_first"] == 256
    assert rows["private-4k"]["faults_next"] == 17
    assert rows["private-4k"]["faults_total"] == 256 + 17


def test_thp_with_a_tail():
    # 5 MiB at 0: two PMD-mapped folios + a 1 MiB tail of 4 KiB pages in one PTE table.
    rows = rows_by_strategy(size="5MiB", procs=2, access="read")
    thp = rows["thp-shmem"]
    assert thp["pt_bytes_per_process"] == (1 + 1 + 1) * TABLE
    assert thp["faults_first"] == 2 + 256
    assert thp["faults_next"] == 2 + 16          # tail read through 16 aligned windows
    assert thp["mapped_2m_bytes"] == 4 * MiB and thp["mapped_4k_bytes"] == MiB


def test_unaligned_thp_falls_back_to_4k():
    rows = rows_by_strategy(size="8MiB", procs=2, offset=4 * KiB)
    assert rows["thp-shmem"]["pt_bytes_total"] == rows["private-4k"]["pt_bytes_total"]
    assert rows["thp-shmem"]["leaf_page_bytes"] == 4 * KiB


def test_five_level_p4d_tables_are_physical_not_vmpte():
    # 1 GiB at 0 with 5 levels: 512 PTE + 1 PMD + 1 PUD charged; the P4D table is not
    # (no P4D counter in mm_struct) but is allocated: 2 processes -> 2 P4D tables.
    rows = rows_by_strategy(size="1GiB", procs=2, paging_levels=5)
    assert rows["private-4k"]["pt_bytes_per_process"] == (512 + 1 + 1) * TABLE
    assert rows["private-4k"]["p4d_table_bytes"] == 2 * TABLE
    # mshare: host P4D + one P4D per guest to hold its link.
    assert rows["mshare"]["p4d_table_bytes"] == (1 + 2) * TABLE
    assert rows["mshare"]["pt_bytes_per_process"] == 0


def test_touched_fraction_dense_prefix():
    # Half of 4 GiB touched: 2 GiB = 1024 PTE tables, 2 PMD tables, 1 PUD per process.
    rows = rows_by_strategy(size="4GiB", procs=10, touched=0.5)
    assert rows["private-4k"]["pt_bytes_per_process"] == (1024 + 2 + 1) * TABLE


def test_mshare_ignores_the_offset():
    aligned = rows_by_strategy(size="3GiB", procs=5)["mshare"]
    shifted = rows_by_strategy(size="3GiB", procs=5, offset=4 * KiB)["mshare"]
    # Same tables and faults; only the saving differs, as the private-4k baseline moves.
    aligned.pop("savings_vs_private_4k")
    shifted.pop("savings_vs_private_4k")
    assert aligned == shifted

"""Operations on the strategies added in 2026: shmem multi-size THP (PTE-mapped folios),
the 1 GiB shmem THP proposal (thp-shmem-1g) and the 2026 ptshare prototype (ptshare-2026).

Hand-derived cases (the derivation in the comments), a page-by-page simulator of the
refaults after MADV_DONTNEED written from the kernel's fault paths (not from the closed
form), the sympy twin, and the row contract (status and source from the catalogue)."""

from __future__ import annotations

import itertools

import pytest

from ptcalc.catalog import MTHP_FOLIO_BYTES
from ptcalc.compute.operations import OPERATIONS, RANGE_OPERATIONS
from ptcalc.model import operations as ops
from tests.compute.test_operations import one, rows
from tests.conftest import GiB, KiB, MiB

PAGE, P, G = 4 * KiB, 2 * MiB, GiB
WINDOW = 64 * KiB                      # fault_around_bytes of the scenarios (the default)
NEW = ("thp-shmem-1g", "ptshare-2026", *MTHP_FOLIO_BYTES)


# --------------------------------------------------------------------------- mTHP by hand


def test_mthp_dontneed_of_whole_folios_refaults_one_per_folio():
    # 8 MiB at 0 in 64 KiB folios, written; MADV_DONTNEED [2 MiB, 6 MiB): the zap covers the
    # two PTE tables [2,4) and [4,6) MiB whole, so PT_RECLAIM frees both: VmPTE -8 KiB, and
    # the refaults allocate them again.  Every folio of the range is zapped whole, so each
    # write fault maps its whole folio (finish_fault()): 4 MiB / 64 KiB = 64 refaults
    # (private-4k: one per page, 1,024).
    row = one("madvise", "thp-shmem-64k", 8 * MiB, 2, 2 * MiB, 4 * MiB)
    assert (row["tables_freed"], row["vmpte_acting_bytes"]) == (2, -8 * KiB)
    assert (row["refaults_acting"], row["vmpte_acting_after_refault_bytes"]) == (64, 0)
    assert one("madvise", "private-4k", 8 * MiB, 2, 2 * MiB, 4 * MiB)["refaults_acting"] == 1024


def test_mthp_dontneed_cutting_folios_refaults_them_page_by_page():
    # [2 MiB + 56 KiB, +1 MiB) in 64 KiB folios, written.  The head folio [2M, 2M+64K) loses
    # its last 8 KiB: 2 pages, each its own fault (its other PTEs are still there, so
    # pte_range_none() fails and finish_fault() maps one page).  Then the whole folios
    # [2M+64K, 2M+1024K): 15, one fault each.  The tail folio [2M+1024K, 2M+1088K) loses
    # [2M+1024K, 2M+1080K): 14 pages, one fault each.  2 + 15 + 14 = 31.  Under 2 MiB: no PTE
    # table freed (the zap must cover a table's whole 2 MiB).
    row = one("madvise", "thp-shmem-64k", 8 * MiB, 2, 2 * MiB + 56 * KiB, MiB)
    assert (row["refaults_acting"], row["tables_freed"], row["vmpte_acting_bytes"]) == (31, 0, 0)


def test_mthp_reader_refaults_per_folio_or_per_window():
    # A reader's fault-around maps every cached folio it meets whole.  256 KiB folios (at
    # least the 64 KiB window): [2M+128K, 2M+1152K) meets the folios starting at 2M, 2M+256K,
    # 2M+512K, 2M+768K and 2M+1024K: 5 faults.
    row = one("madvise", "thp-shmem-256k", 8 * MiB, 2, 2 * MiB + 128 * KiB, MiB, access="read")
    assert row["refaults_acting"] == 5
    # 16 KiB folios (smaller than the window): one fault per 64 KiB window, as for 4 KiB
    # pages: [2M+8K, 2M+1032K) meets windows 32 .. 48 (of 64 KiB): 17.
    row = one("madvise", "thp-shmem-16k", 8 * MiB, 2, 2 * MiB + 8 * KiB, MiB, access="read")
    assert row["refaults_acting"] == 17
    assert one("madvise", "private-4k", 8 * MiB, 2, 2 * MiB + 8 * KiB, MiB,
               access="read")["refaults_acting"] == 17


def test_mthp_unaligned_region_and_other_operations_are_those_of_4k_pages():
    # A start that is not folio-aligned gets 4 KiB pages throughout: every metric is
    # private-4k's.  mprotect and munmap never depend on the folio size: PTEs are rewritten
    # or zapped in place and a shmem folio is not split.
    metrics = ("tables_freed", "tables_allocated", "vmpte_acting_bytes",
               "vmpte_acting_after_refault_bytes", "pagetables_after_refault_bytes",
               "refaults_acting", "flushes", "tlb_ipis", "call_ipis")
    cases = [("madvise", 8 * MiB, 2 * MiB + 4 * KiB, MiB, 4 * KiB),
             ("mprotect", 8 * MiB, 2 * MiB, 4 * MiB, 0),
             ("munmap", 64 * MiB, 2 * MiB, 20 * MiB, 0),
             ("munmap", 8 * MiB, 52 * KiB, 3 * MiB, 0)]
    for (operation, size, at, length, offset), access in itertools.product(
            cases, ("read", "write")):
        base = one(operation, "private-4k", size, 2, at, length, access=access, offset=offset)
        for name in ("thp-shmem-16k", "thp-shmem-1m"):
            got = one(operation, name, size, 2, at, length, access=access, offset=offset)
            assert got["applicable"] and got["status"] == "mainline", got["reason"]
            assert {k: got[k] for k in metrics} == {k: base[k] for k in metrics}, \
                (operation, name, access)


# --------------------------------------------------------------------------- the simulator


def simulate_mthp_refaults(size, offset, touched, start, length, folio, write):
    """Faults the acting process takes to touch again [start, start + length) of its touched
    prefix after MADV_DONTNEED of it, page by page, following mm/memory.c finish_fault()
    (writer: the whole folio if none of its PTEs is present, else one page) and
    do_fault_around() + mm/filemap.c filemap_map_pages() (reader: the 64 KiB-aligned window
    clamped to the VMA start, the VMA end and the PTE table; every cached folio it meets is
    mapped whole, every cached 4 KiB page in it singly).  Pages are cached where the others
    touched: the same dense prefix, whole folios."""
    lo, hi = offset, offset + size
    split = offset + (size // folio * folio if offset % folio == 0 else 0)
    touched_end = offset + touched

    def folio_of(page):
        return page - (page - offset) % folio if page < split else None

    def cached(page):
        f = folio_of(page)
        return (f if f is not None else page) < touched_end

    def members(page):
        f = folio_of(page)
        return range(f, f + folio, PAGE) if f is not None else range(page, page + PAGE, PAGE)

    present = set()
    for page in range(lo, touched_end, PAGE):       # before: what the process had mapped
        present.update(members(page))
    a, e = offset + start, offset + start + length
    present -= set(range(a, e, PAGE))
    faults = 0
    for page in range(a, min(e, touched_end), PAGE):
        if page in present:
            continue
        faults += 1
        if write:
            group = members(page)
            present.update(group if not any(q in present for q in group) else (page,))
            continue
        first = max(page - page % WINDOW, lo, page - page % P)
        last = min(first + WINDOW, hi, page - page % P + P)
        for q in range(first, last, PAGE):
            if cached(q):
                present.update(members(q))
    return faults


@pytest.mark.parametrize("folio", [16 * KiB, 64 * KiB, 256 * KiB, MiB])
@pytest.mark.parametrize("access", ["read", "write"])
def test_mthp_refaults_against_the_simulator(folio, access):
    name = next(n for n, f in MTHP_FOLIO_BYTES.items() if f == folio)
    checked = 0
    # offsets: folio- and window-aligned, folio-aligned only (16 KiB), unaligned (4 KiB
    # pages throughout); sizes with and without a tail after the last whole folio
    for offset, size, touched in itertools.product(
            (0, 64 * KiB, 16 * KiB, 4 * KiB), (6 * MiB, 6 * MiB + 12 * KiB),
            (1.0, 0.5)):
        for start, length in itertools.product(
                (0, 52 * KiB, 2 * MiB - 8 * KiB, 3 * MiB + 64 * KiB),
                (12 * KiB, 200 * KiB, 2 * MiB, 3 * MiB - 4 * KiB)):
            if start + length > size:
                continue
            got = one("madvise", name, size, 2, start, length, access=access, offset=offset,
                      touched=touched)
            want = simulate_mthp_refaults(size, offset, got_touched(size, touched), start,
                                          length, folio, access == "write")
            if offset % WINDOW and access == "read" and (folio < WINDOW or offset % folio):
                # 64 KiB windows over 4 KiB pages or small folios, in a region that starts off
                # a window boundary: the first window is clamped to the VMA start and shifted
                # (do_fault_around()); the formula, like the 4 KiB rule, counts aligned
                # windows: one off at most, inside the probe's +-2
                assert abs(got["refaults_acting"] - want) <= 1, (offset, size, start, length)
            else:
                assert got["refaults_acting"] == want, (offset, size, touched, start, length)
            checked += 1
    assert checked > 100


def got_touched(size, touched):
    """The touched prefix the scenario uses for a fraction (whole 4 KiB pages)."""
    from ptcalc.inputs.scenario import make_scenario

    return make_scenario(size, 2, 0, touched).touched_bytes


def test_mthp_sympy_twin_equals_the_int_evaluation():
    import sympy as sp

    from ptcalc.model import symbols as S

    rule = ops.RULE_OF_STRATEGY["thp-shmem-64k"]
    symbolic = ops.Inputs.symbolic()
    expr = ops.range_metrics(ops.sympy_math(), symbolic, rule, "madvise")["refaults_acting"]
    for access, at, length in ((0, 2 * MiB + 56 * KiB, MiB), (1, 2 * MiB + 128 * KiB, MiB),
                               (0, 2 * MiB, 4 * MiB)):
        values = {"size_bytes": 8 * MiB, "offset_bytes": 0, "touched_bytes": 8 * MiB,
                  "procs": 2, "read_access": access, "op_start_bytes": at, "op_bytes": length,
                  "cpus": 1, "host_cpus": 2, "fault_around_bytes": WINDOW}
        ints = ops.range_metrics(ops.IntMath, ops.Inputs(**values), rule, "madvise")
        subs = {getattr(symbolic, k): v for k, v in values.items()}
        subs.update(dict(S.CONSTANTS.items()))
        assert int(sp.sympify(expr).xreplace(subs)) == ints["refaults_acting"]


# --------------------------------------------------------------------------- 1 GiB THP


def test_thp_1g_whole_gib_ranges_follow_pud_leaves_as_a_proposal():
    # 3 GiB at 0 = three PUD-mapped folios.  MADV_DONTNEED of [1G, 2G): the PUD entry is
    # zapped, no table is freed, the folio stays cached: 1 refault.  munmap of it: no table
    # is wholly inside (the PUD table spans 512 GiB): nothing freed.  mprotect: one flush.
    row = one("madvise", "thp-shmem-1g", 3 * G, 2, G, G)
    assert (row["refaults_acting"], row["tables_freed"], row["status"]) == (1, 0, "proposal")
    assert "usamaarif642" in row["source"] and "deposit" in row["source"]
    row = one("munmap", "thp-shmem-1g", 3 * G, 2, G, G)
    assert (row["tables_freed"], row["refaults_acting"], row["flushes"]) == (0, 0, 1)
    assert one("mprotect", "thp-shmem-1g", 3 * G, 2, G, G)["flushes"] == 1
    # a range that cuts a folio, or a region that is not whole GiBs: a one-line reason
    assert "split" in one("madvise", "thp-shmem-1g", 3 * G, 2, G // 2, G)["reason"]
    assert "mixes" in one("madvise", "thp-shmem-1g", 3 * G + P, 2, G, G)["reason"]


# --------------------------------------------------------------------------- ptshare-2026


def test_ptshare_2026_munmap_of_the_whole_mapping_detaches_the_process():
    # 4 GiB at 0, 3 sharers.  Each process is charged what it links: 2,048 spliced PTE
    # tables + 4 PMD + 1 PUD = 2,053 tables (8,212 KiB).  munmap of the whole mapping zaps
    # no PTE (ptshare_vma_skip_zap_pte_range()) and free_pgtables() drops them all from its
    # VmPTE; the host frees only the process's own 4 PMD + 1 PUD tables (the shadow mm keeps
    # the PTE tables for the other two): PageTables -20 KiB.  No refault (nothing is left).
    row = one("munmap", "ptshare-2026", 4 * G, 3, 0, 4 * G)
    assert row["vmpte_acting_bytes"] == -2053 * 4 * KiB
    assert (row["tables_freed"], row["pagetables_bytes"]) == (5, -20 * KiB)
    assert (row["refaults_acting"], row["call_ipis"], row["status"]) == (0, 0, "proposal")
    # the last sharer: the shadow VMA goes too (2,048 PTE + its 4 PMD + 1 PUD and the
    # process's 5), and the shadow mm's mmu notifier IPIs every other CPU of the host
    row = one("munmap", "ptshare-2026", 4 * G, 1, 0, 4 * G, host_cpus=4)
    assert (row["tables_freed"], row["call_ipis"]) == (2053 + 5, 3)


def test_ptshare_2026_other_range_operations_say_why_not():
    for operation, at, length in (("mprotect", 0, 4 * G), ("madvise", 0, 4 * G),
                                  ("munmap", G, G)):
        row = one(operation, "ptshare-2026", 4 * G, 3, at, length)
        assert not row["applicable"] and "ptshare" in row["reason"], operation
        assert "Kalesh-Singh/linux" in row["source"]


# --------------------------------------------------------------------------- contract


def test_new_strategies_have_a_modelled_row_or_a_reason_for_every_operation():
    for operation in OPERATIONS:
        got = rows(operation, 4 * G, 3, G, G)
        for name in NEW:
            (row,) = got[name]
            assert row["source"], (operation, name)
            status = "mainline" if name.startswith("thp-shmem-") and name != "thp-shmem-1g" \
                else "proposal"
            assert row["status"] == status, (operation, name)
            if name in MTHP_FOLIO_BYTES or operation in ("fork", "exit") or (
                    name == "thp-shmem-1g"):
                assert row["applicable"], (operation, name, row["reason"])
            else:
                assert row["reason"] and "yet" not in row["reason"], (operation, name)
    assert set(MTHP_FOLIO_BYTES) <= set(ops.RULE_OF_STRATEGY)    # each has a --formula
    assert set(RANGE_OPERATIONS) < set(OPERATIONS)


def test_compare_says_which_designs_are_not_merged():
    from tests.conftest import run_cli

    code, out, err = run_cli("compare", "--size", "4GiB", "--procs", "100")
    assert code == 0, err
    note = next(line for line in out.splitlines() if line.startswith("not in mainline"))
    assert "ptshare-2026 = prototype, not merged" in note
    assert "ptshare = RFC posted 2022-12" in note and "thp-shmem-1g = RFC posted 2026-02" in note
    assert "hugetlb-2m-pmdshare" not in note and "threads" not in note
    code, out, _ = run_cli("compare", "--size", "4GiB", "--procs", "100", "-s", "private-4k")
    assert "not in mainline" not in out

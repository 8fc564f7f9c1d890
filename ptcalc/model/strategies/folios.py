"""Shmem multi-size THP (mTHP): the formulas of PTE-mapped large folios of one size.

One strategy per folio size the kernel offers for anonymous shared memory
(``/sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/shmem_enabled``); each module
``thp_shmem_<size>.py`` is two lines calling `folio_strategy`.

Rules (mm/shmem.c shmem_allowable_huge_orders() and shmem_suitable_orders();
include/linux/huge_mm.h thp_vma_suitable_order(); mm/memory.c finish_fault();
mm/filemap.c filemap_map_folio_range()):

* A folio of F bytes is used only where the VA is congruent to the file offset mod F (a
  shared anonymous mapping has file offset 0 at its start, so: the start is F-aligned) and
  the aligned F bytes lie inside the mapping.  Elsewhere 4 KiB pages.
* Folios stay PTE-mapped: the page tables are those of 4 KiB pages.
* A fault maps the whole folio (finish_fault() sets nr_pages PTEs for shmem), so the first
  toucher and a later writer take one fault per folio.
* A later reader's fault-around maps every cached folio of its window whole (Linux 6.18,
  "mm/filemap: Map entire large folio faultaround"): with F >= fault_around_bytes one fault
  per folio, with F < fault_around_bytes one per window, as with 4 KiB pages.
"""

from __future__ import annotations

import sympy as sp

from ptcalc.model import symbols as S
from ptcalc.model.strategies.base import Context, StrategyCounts, per_process


def folio_part_end(folio_bytes):
    """End of the folio-mapped part: the whole F pieces from the start if it is F-aligned."""
    return S.offset_bytes + sp.Piecewise(
        (S.align_down(S.size_bytes, folio_bytes), sp.Eq(sp.Mod(S.offset_bytes, folio_bytes), 0)),
        (0, True))


def folio_counts(ctx: Context, folio_bytes: int) -> StrategyCounts:
    """Counts of shmem mTHP with folios of `folio_bytes` (a power of two, 8 KiB..1 MiB)."""
    folio = sp.Integer(folio_bytes)
    touch = ctx.touch()
    start, end = S.offset_bytes, S.offset_bytes + S.size_bytes
    split = folio_part_end(folio)
    folios = touch.slots(start, split, folio)      # folios holding a touched page
    small = touch.pages(split, end)                # 4 KiB pages touched after them
    tables = per_process(ctx, start, end, touch)
    # A later reader: per folio (then per window in the 4 KiB rest) when a folio is at least
    # the fault-around window; else the windows cover whole folios: as 4 KiB pages.
    later_read = sp.Piecewise(
        (folios + touch.read_windows(split, end), folio >= S.fault_around_bytes),
        (touch.read_windows(start, end), True))
    return StrategyCounts(
        charged=tables,
        physical={level: S.procs * n for level, n in tables.items()},
        faults_first_read=folios + small, faults_first_write=folios + small,
        faults_next_read=later_read, faults_next_write=folios + small,
        leaf_page_bytes=S.PAGE,
        mapped={"4k": folio * folios + S.PAGE * small},   # whole folios are mapped
    )


def folio_strategy(folio_bytes: int):
    """(counts, not_applicable) of the mTHP strategy with folios of `folio_bytes`."""
    def counts(ctx: Context) -> StrategyCounts:
        return folio_counts(ctx, folio_bytes)

    def not_applicable(ctx: Context) -> list:
        return []      # an unaligned start falls back to 4 KiB pages, it does not fail

    return counts, not_applicable

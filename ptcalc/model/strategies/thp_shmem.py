"""thp-shmem: shmem/tmpfs transparent huge pages, PMD-mapped where the placement allows."""

from __future__ import annotations

import sympy as sp

from ptcalc.model import symbols as S
from ptcalc.model.strategies.base import Context, StrategyCounts, StrategyInfo

INFO = StrategyInfo(
    name="thp-shmem",
    shared="nothing (PMD-mapped 2 MiB folios need no PTE table)",
    rule="a 2 MiB folio is PMD-mapped only where VA = file offset (mod 2 MiB) and the aligned "
         "2 MiB lies inside the mapping; with the file mapped from offset 0 that is every full "
         "2 MiB when the start is 2 MiB-aligned, else nothing; the rest uses 4 KiB PTEs. (A "
         "file mapped from an offset congruent to its address mod 2 MiB still gets huge pages "
         "in the middle: not modelled, the region is mapped from file offset 0.)",
    source="include/linux/huge_mm.h thp_vma_suitable_order(); mm/shmem.c "
           "shmem_allowable_huge_orders(); Documentation/admin-guide/mm/transhuge.rst",
)


def pmd_mappable_bytes():
    """Bytes from the region start that are PMD-mapped: whole 2 MiB pieces if aligned."""
    return sp.Piecewise((S.align_down(S.size, S.PTE_SPAN), sp.Eq(sp.Mod(S.offset, S.PTE_SPAN), 0)),
                        (0, True))


def counts(ctx: Context) -> StrategyCounts:
    touch = ctx.touch()
    start, end = S.offset, S.offset + S.size
    split = start + pmd_mappable_bytes()
    huge = touch.slots(start, split, S.PTE_SPAN)       # PMD-mapped folios touched
    small = touch.pages(split, end)                     # 4 KiB pages touched in the rest
    tables = {level: touch.slots(start, end, S.SPAN_OF_LEVEL[level]) for level in ctx.levels}
    tables["pte"] = touch.slots(split, end, S.PTE_SPAN)
    return StrategyCounts(
        charged=tables,
        physical={level: S.procs * n for level, n in tables.items()},
        faults_first_read=huge + small, faults_first_write=huge + small,
        faults_next_read=huge + touch.read_windows(split, end), faults_next_write=huge + small,
        leaf_page_bytes=sp.Piecewise((S.PTE_SPAN, split > start), (S.PAGE, True)),
        mapped={"2m": S.PTE_SPAN * huge, "4k": S.PAGE * small},
    )


def not_applicable(ctx: Context) -> list:
    return []

"""thp-shmem-1g: the 1 GiB (PUD-mapped) shmem THP proposed in 2026, with PMD THP around it.

Where the start is 1 GiB-aligned (VA = file offset mod 1 GiB, file offset 0 at the start)
every whole GiB is one PUD-mapped folio: no PMD or PTE table, one fault per GiB per process.
The rest follows thp-shmem (2 MiB PMD-mapped where aligned, then 4 KiB).  The page-table
deposit a splittable PUD THP would keep (1 PMD + 512 PTE tables per folio) is not counted:
whether it is needed is disputed in the proposal's review.
"""

from __future__ import annotations

import sympy as sp

from ptcalc.model import symbols as S
from ptcalc.model.strategies.base import Context, StrategyCounts


def aligned_part(start, length, span):
    """Bytes from `start` mapped by leaves of `span`: the whole pieces if `start` is aligned."""
    return sp.Piecewise((S.align_down(length, span), sp.Eq(sp.Mod(start, span), 0)), (0, True))


def counts(ctx: Context) -> StrategyCounts:
    touch = ctx.touch()
    start, end = S.offset_bytes, S.offset_bytes + S.size_bytes
    gib_end = start + aligned_part(start, S.size_bytes, S.PMD_SPAN)
    pmd_end = gib_end + aligned_part(start, end - gib_end, S.PTE_SPAN)
    gigs = touch.slots(start, gib_end, S.PMD_SPAN)      # 1 GiB folios touched
    huge = touch.slots(gib_end, pmd_end, S.PTE_SPAN)    # 2 MiB folios touched
    small = touch.pages(pmd_end, end)                    # 4 KiB pages touched
    tables = {level: touch.slots(start, end, S.SPAN_OF_LEVEL[level]) for level in ctx.levels}
    tables["pmd"] = touch.slots(gib_end, end, S.PMD_SPAN)
    tables["pte"] = touch.slots(pmd_end, end, S.PTE_SPAN)
    whole = gigs + huge
    return StrategyCounts(
        charged=tables,
        physical={level: S.procs * n for level, n in tables.items()},
        faults_first_read=whole + small, faults_first_write=whole + small,
        faults_next_read=whole + touch.read_windows(pmd_end, end),
        faults_next_write=whole + small,
        leaf_page_bytes=sp.Piecewise((S.PMD_SPAN, gib_end > start), (S.PTE_SPAN, pmd_end > start),
                                     (S.PAGE, True)),
        mapped={"1g": S.PMD_SPAN * gigs, "2m": S.PTE_SPAN * huge, "4k": S.PAGE * small},
    )


def not_applicable(ctx: Context) -> list:
    return []

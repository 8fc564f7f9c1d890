"""hugetlb-2m-pmdshare: MAP_SHARED 2 MiB hugetlb pages with PMD-table sharing (mainline)."""

from __future__ import annotations

import sympy as sp

from ptcalc.model import symbols as S
from ptcalc.model.strategies import hugetlb_2m
from ptcalc.model.strategies.base import Context, StrategyCounts


def shared_slot_range():
    """[first, last) of the 1 GiB slots fully inside the hugetlb VMA."""
    vma_end = S.offset_bytes + S.align_up(S.size_bytes, S.PTE_SPAN)
    return S.align_up(S.offset_bytes, S.PMD_SPAN), S.align_down(vma_end, S.PMD_SPAN)


def counts(ctx: Context) -> StrategyCounts:
    touch = ctx.touch()
    start, end = S.offset_bytes, S.offset_bytes + S.size_bytes
    first, last = shared_slot_range()
    last_touchable = sp.Min(last, end)
    huge = hugetlb_2m.huge_pages_touched(touch, S.PTE_SPAN)
    shared_slots = touch.slots(first, last_touchable, S.PMD_SPAN)
    huge_in_shared = touch.slots(first, last_touchable, S.PTE_SPAN)
    tables = {level: touch.slots(start, end, S.SPAN_OF_LEVEL[level])
              for level in ctx.levels if level != "pte"}
    physical = {level: S.procs * n for level, n in tables.items()}
    physical["pmd"] = shared_slots + S.procs * (tables["pmd"] - shared_slots)
    later = shared_slots + huge - huge_in_shared
    return StrategyCounts(
        charged=tables,
        physical=physical,
        faults_first_read=huge, faults_first_write=huge,
        faults_next_read=later, faults_next_write=later,
        leaf_page_bytes=S.PTE_SPAN,
        mapped={"2m": S.PTE_SPAN * huge},
        huge_pages=S.CeilDiv(S.size_bytes, S.PTE_SPAN),
    )


not_applicable = hugetlb_2m.not_applicable

"""hugetlb-2m: 2 MiB hugetlb pages, no PMD sharing (MAP_PRIVATE, or sharing disabled)."""

from __future__ import annotations

import sympy as sp

from ptcalc.model import symbols as S
from ptcalc.model.strategies.base import Context, StrategyCounts


def huge_pages_touched(touch, span):
    """Huge pages of `span` holding a touched page (the mapping is rounded up to whole pages)."""
    return touch.slots(S.offset_bytes, S.offset_bytes + S.size_bytes, span)


def unshared_counts(ctx: Context, page_span, leaf: str, below: tuple) -> StrategyCounts:
    """Private hugetlb pages of `page_span`: no tables at the `below` levels, one fault per
    huge page per process, the whole mapping reserved."""
    touch = ctx.touch()
    start, end = S.offset_bytes, S.offset_bytes + S.size_bytes
    huge = huge_pages_touched(touch, page_span)
    tables = {level: touch.slots(start, end, S.SPAN_OF_LEVEL[level])
              for level in ctx.levels if level not in below}
    return StrategyCounts(
        charged=tables,
        physical={level: S.procs * n for level, n in tables.items()},
        faults_first_read=huge, faults_first_write=huge,
        faults_next_read=huge, faults_next_write=huge,
        leaf_page_bytes=page_span,
        mapped={leaf: page_span * huge},
        huge_pages=S.CeilDiv(S.size_bytes, page_span),
    )


def counts(ctx: Context) -> StrategyCounts:
    return unshared_counts(ctx, S.PTE_SPAN, "2m", below=("pte",))


def not_applicable(ctx: Context) -> list:
    return [(sp.Ne(sp.Mod(S.offset_bytes, S.PTE_SPAN), 0),
             ("offset is not 2 MiB-aligned: a 2 MiB hugetlb mapping must start on a 2 MiB "
             "boundary (mmap fails with EINVAL)"))]

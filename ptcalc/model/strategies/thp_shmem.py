"""thp-shmem: shmem/tmpfs transparent huge pages, PMD-mapped where the placement allows."""

from __future__ import annotations

import sympy as sp

from ptcalc.model import symbols as S
from ptcalc.model.strategies.base import Context, StrategyCounts


def pmd_mappable_bytes():
    """Bytes from the region start that are PMD-mapped: whole 2 MiB pieces if aligned."""
    aligned = sp.Eq(sp.Mod(S.offset_bytes, S.PTE_SPAN), 0)
    return sp.Piecewise((S.align_down(S.size_bytes, S.PTE_SPAN), aligned), (0, True))


def counts(ctx: Context) -> StrategyCounts:
    touch = ctx.touch()
    start, end = S.offset_bytes, S.offset_bytes + S.size_bytes
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

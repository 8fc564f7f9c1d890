"""file-pt: generic file-based page-table sharing, as proposed in review of mshare."""

from __future__ import annotations

import sympy as sp

from ptcalc.model import symbols as S
from ptcalc.model.strategies.base import Context, StrategyCounts


def counts(ctx: Context) -> StrategyCounts:
    touch = ctx.touch()
    start, end = S.offset_bytes, S.offset_bytes + S.size_bytes
    full_1g = (S.align_up(start, S.PMD_SPAN), S.align_down(end, S.PMD_SPAN))
    full_2m = (S.align_up(start, S.PTE_SPAN), S.align_down(end, S.PTE_SPAN))
    every = {level: touch.slots(start, end, S.SPAN_OF_LEVEL[level]) for level in ctx.levels}
    pmd_shared = touch.slots(*full_1g, S.PMD_SPAN)
    pte_shared = touch.slots(*full_2m, S.PTE_SPAN)
    pte_under_shared_pmd = touch.slots(*full_1g, S.PTE_SPAN)
    physical = {level: S.procs * n for level, n in every.items()}
    physical["pmd"] = pmd_shared + S.procs * (every["pmd"] - pmd_shared)
    physical["pte"] = pte_shared + S.procs * (every["pte"] - pte_shared)
    charged = dict(every)
    charged["pte"] = every["pte"] - pte_under_shared_pmd
    # Partial 2 MiB slots at the ends keep private PTE tables and fault per page.
    head = (start, sp.Min(full_2m[0], end))
    tail = (sp.Max(full_2m[1], full_2m[0]), end)
    private_pages = touch.pages(*head) + touch.pages(*tail)
    private_reads = touch.read_windows(*head) + touch.read_windows(*tail)
    links = pmd_shared + pte_shared - pte_under_shared_pmd
    pages = touch.pages(start, end)
    return StrategyCounts(
        charged=charged,
        physical=physical,
        faults_first_read=pages, faults_first_write=pages,
        faults_next_read=links + private_reads, faults_next_write=links + private_pages,
        leaf_page_bytes=S.PAGE,
        mapped={"4k": S.PAGE * pages},
    )


def not_applicable(ctx: Context) -> list:
    return []

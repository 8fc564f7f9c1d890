"""file-pt: generic file-based page-table sharing, as proposed in review of mshare."""

from __future__ import annotations

import sympy as sp

from ptcalc.model import symbols as S
from ptcalc.model.strategies.base import Context, StrategyCounts, StrategyInfo

INFO = StrategyInfo(
    name="file-pt",
    shared="PTE tables of full 2 MiB slots, PMD tables of full 1 GiB slots",
    rule="tables cached on the file are shared where the mapping covers their whole aligned "
         "slot (2 MiB for a PTE table, 1 GiB for a PMD table); partial slots stay private. "
         "Charging follows hugetlb: a process is charged each table it links itself (its PUD "
         "tables, one PMD table per 1 GiB slot, the PTE tables under its private PMD tables). "
         "A later process faults once per shared table it links, and per page (or fault-around "
         "window) in partial 2 MiB slots",
    source="David Hildenbrand, lore:397f3cb2-1351-afcf-cd87-e8f9fb482059@redhat.com (2022); "
           "Kirill Shutemov, lore:20220125135917.ezi6itozrchsdcxg@box.shutemov.name; "
           "no implementation posted (shared/research/sharing-strategies.md section 3)",
)


def counts(ctx: Context) -> StrategyCounts:
    touch = ctx.touch()
    start, end = S.offset, S.offset + S.size
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

"""ptshare-2026: file-backed PTE-table sharing through a shadow mm (mm/ptshare.c, 2026).

The shadow mm holds the PTE tables (and its own PMD and PUD tables above them); a process's
fault is handled in the shadow mm and, in the same fault, the shadow PTE table is spliced
into the process's PMD entry with mm_inc_nr_ptes(): every sharer is charged each PTE table
(as hugetlb charges a shared PMD table), while PageTables counts it once.  So the first
toucher takes one fault per page (no retry to link), a later process one per 2 MiB slot.
"""

from __future__ import annotations

import sympy as sp

from ptcalc.model import symbols as S
from ptcalc.model.strategies.base import Context, StrategyCounts, per_process


def counts(ctx: Context) -> StrategyCounts:
    touch = ctx.touch()
    start, end = S.offset_bytes, S.offset_bytes + S.size_bytes
    shadow = per_process(ctx, start, end, touch)           # the shadow mm's tables
    guest = {level: n for level, n in shadow.items() if level != "pte"}
    physical = {level: n + S.procs * guest.get(level, 0) for level, n in shadow.items()}
    pages = touch.pages(start, end)
    splices = shadow["pte"]
    return StrategyCounts(
        charged=dict(shadow),                              # own PMD/PUD + each spliced PTE
        physical=physical,
        faults_first_read=pages, faults_first_write=pages,
        faults_next_read=splices, faults_next_write=splices,
        leaf_page_bytes=S.PAGE,
        mapped={"4k": S.PAGE * pages},
    )


def not_applicable(ctx: Context) -> list:
    return [
        (sp.Ne(sp.Mod(S.offset_bytes, S.PTE_SPAN), 0),
         ("offset is not 2 MiB-aligned: ptshare_validate_mmap() needs a PMD-aligned address "
          "(and MAP_FIXED)")),
        (sp.Ne(sp.Mod(S.size_bytes, S.PTE_SPAN), 0),
         "size is not a multiple of 2 MiB: ptshare_validate_mmap() needs a PMD-aligned length"),
    ]

"""What every strategy module provides, and the assembly of its metrics.

A strategy module defines `counts(ctx)` (a StrategyCounts of sympy expressions) and
optionally `not_applicable(ctx)` (pairs of a sympy condition and the reason shown when it
holds); its name and prose are in ptcalc.catalog.  `assemble` turns counts into the
named metrics; the accounting rules common to all strategies live here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ptcalc import paging
from ptcalc.model import symbols as S


@dataclass(frozen=True)
class Context:
    """What a formula depends on besides the input symbols."""

    paging: paging.Paging
    pattern: str      # "dense" or "random"

    def touch(self, base=S.offset_bytes):
        return S.TOUCH_PATTERNS[self.pattern](base)

    @property
    def levels(self) -> tuple[str, ...]:
        return self.paging.level_names


@dataclass
class StrategyCounts:
    """Counts (table pages, faults, pages) from which the metrics follow.

    charged:  tables per level that one process's VmPTE grows by.
    physical: tables per level allocated by all processes together (shared ones once).
    """

    charged: dict
    physical: dict
    faults_first_read: object
    faults_first_write: object
    faults_next_read: object
    faults_next_write: object
    leaf_page_bytes: object
    mapped: dict = field(default_factory=dict)   # leaf size name -> touched bytes it maps
    huge_pages: object = None


# VmPTE is mm->pgtables_bytes: mm_inc_nr_ptes/pmds/puds (include/linux/mm.h).  There is no
# P4D counter: __p4d_alloc() in mm/memory.c charges nothing, so 5-level P4D tables show up in
# PageTables only.
VMPTE_LEVELS = ("pte", "pmd", "pud")

MAPPED_LEAVES = ("4k", "2m", "1g")


def per_process(ctx: Context, start, end, touch=None) -> dict:
    """Tables per level one process needs for the touched pages of [start, end)."""
    touch = touch or ctx.touch()
    return {level: touch.slots(start, end, S.SPAN_OF_LEVEL[level]) for level in ctx.levels}


def host_mm_counts(charged: dict, physical: dict, pages, links) -> StrategyCounts:
    """Tables held by a host mm that processes link into (ptshare, mshare), 4 KiB pages.

    The first toucher's fault populates the host, the retried access finds the guest entry
    unlinked and links it (VM_FAULT_NOPAGE), so it takes pages + links faults; a later
    process only links (find_shared_vma() in the ptshare and mshare patches).
    """
    return StrategyCounts(
        charged=charged,
        physical=physical,
        faults_first_read=pages + links, faults_first_write=pages + links,
        faults_next_read=links, faults_next_write=links,
        leaf_page_bytes=S.PAGE,
        mapped={"4k": S.PAGE * pages},
    )


def assemble(ctx: Context, counts: StrategyCounts) -> dict:
    """Metric name -> sympy expression (before savings, which needs the baseline)."""
    read = sp.Eq(S.read_access, 1)
    first = sp.Piecewise((counts.faults_first_read, read), (counts.faults_first_write, True))
    later = sp.Piecewise((counts.faults_next_read, read), (counts.faults_next_write, True))
    metrics = {
        "leaf_page_bytes": counts.leaf_page_bytes,
        "pt_bytes_per_process": S.TABLE * sum(
            (counts.charged.get(level, 0) for level in ctx.levels if level in VMPTE_LEVELS),
            sp.Integer(0)),
    }
    level_bytes = {f"{level}_table_bytes": S.TABLE * counts.physical.get(level, 0)
                   for level in ctx.levels}
    metrics["pt_bytes_total"] = sum(level_bytes.values(), sp.Integer(0))
    metrics.update(level_bytes)
    metrics["huge_pages"] = counts.huge_pages
    metrics["faults_first"] = first
    metrics["faults_next"] = later
    metrics["faults_total"] = first + (S.procs - 1) * later
    metrics["touched_bytes"] = ctx.touch().bytes_touched()
    for leaf in MAPPED_LEAVES:
        metrics[f"mapped_{leaf}_bytes"] = counts.mapped.get(leaf, sp.Integer(0))
    return metrics

"""mshare: msharefs regions whose PUD (and lower) tables live in a host mm (2022-2025)."""

from __future__ import annotations

from ptcalc.model import symbols as S
from ptcalc.model.strategies.base import (
    Context,
    StrategyCounts,
    StrategyInfo,
    host_mm_counts,
    per_process,
)

INFO = StrategyInfo(
    name="mshare",
    shared="PUD, PMD and PTE tables, held by a host mm",
    rule="the region sits on a 512 GiB boundary (mshare_align = P4D_SIZE) whatever the offset "
         "asked for; the host mm holds every table below the top level; a process only links "
         "one top-level entry per 512 GiB slot and its VmPTE does not grow; a later process "
         "takes one link fault per slot, the first toucher one per page plus the links",
    source="mshare v2/v3 (lore:20250404021902.48863-1-anthony.yznaga@oracle.com, "
           "lore:20250820010415.699353-1-anthony.yznaga@oracle.com): set_p4d(guest, host)",
)


def counts(ctx: Context) -> StrategyCounts:
    touch = ctx.touch(base=0)     # the host region starts at a 512 GiB boundary
    host = per_process(ctx, 0, S.size, touch)
    links = touch.slots(0, S.size, S.PUD_SPAN)
    physical = dict(host)
    if "p4d" in host:            # 5 levels: each guest needs a P4D table to hold its links
        physical["p4d"] = host["p4d"] + S.procs * host["p4d"]
    pages = touch.pages(0, S.size)
    return host_mm_counts({}, physical, pages, links)


def not_applicable(ctx: Context) -> list:
    return []


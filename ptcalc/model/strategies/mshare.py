"""mshare: msharefs regions whose PUD (and lower) tables live in a host mm (2022-2025)."""

from __future__ import annotations

from ptcalc.model import symbols as S
from ptcalc.model.strategies.base import (
    Context,
    StrategyCounts,
    host_mm_counts,
    per_process,
)


def counts(ctx: Context) -> StrategyCounts:
    touch = ctx.touch(base=0)     # the host region starts at a 512 GiB boundary
    host = per_process(ctx, 0, S.size_bytes, touch)
    links = touch.slots(0, S.size_bytes, S.PUD_SPAN)
    physical = dict(host)
    if "p4d" in host:            # 5 levels: each guest needs a P4D table to hold its links
        physical["p4d"] = host["p4d"] + S.procs * host["p4d"]
    pages = touch.pages(0, S.size_bytes)
    return host_mm_counts({}, physical, pages, links)


def not_applicable(ctx: Context) -> list:
    return []


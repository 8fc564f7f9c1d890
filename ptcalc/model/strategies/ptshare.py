"""ptshare: MAP_SHARED_PT (Khalid Aziz, RFC 2022-12 / v2 2023-04): PTE tables shared."""

from __future__ import annotations

import sympy as sp

from ptcalc.model import symbols as S
from ptcalc.model.strategies.base import (
    Context,
    StrategyCounts,
    host_mm_counts,
    per_process,
)


def counts(ctx: Context) -> StrategyCounts:
    touch = ctx.touch()
    start, end = S.offset_bytes, S.offset_bytes + S.size_bytes
    host = per_process(ctx, start, end, touch)
    guest = {level: n for level, n in host.items() if level != "pte"}
    physical = {level: n + S.procs * guest.get(level, 0) for level, n in host.items()}
    pages = touch.pages(start, end)
    links = host["pte"]
    return host_mm_counts(guest, physical, pages, links)


def not_applicable(ctx: Context) -> list:
    return [
        (sp.Ne(sp.Mod(S.offset_bytes, S.PTE_SPAN), 0),
         "offset is not 2 MiB-aligned: MAP_SHARED_PT needs a PMD-aligned start"),
        (sp.Ne(sp.Mod(S.size_bytes, S.PTE_SPAN), 0),
         "size is not a multiple of 2 MiB: MAP_SHARED_PT needs a PMD-sized multiple"),
    ]

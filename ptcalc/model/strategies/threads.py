"""threads: one mm, so one set of page tables whatever the number of threads."""

from __future__ import annotations

import sympy as sp

from ptcalc.model import symbols as S
from ptcalc.model.strategies.base import Context, StrategyCounts, per_process
from ptcalc.model.strategies.private_4k import private_faults


def counts(ctx: Context) -> StrategyCounts:
    tables = per_process(ctx, S.offset_bytes, S.offset_bytes + S.size_bytes)
    faults = private_faults(ctx)
    return StrategyCounts(
        charged=tables,
        physical=tables,
        faults_first_read=faults["first_read"], faults_first_write=faults["first_write"],
        faults_next_read=sp.Integer(0), faults_next_write=sp.Integer(0),
        leaf_page_bytes=S.PAGE,
        mapped={"4k": S.PAGE * ctx.touch().pages(S.offset_bytes, S.offset_bytes + S.size_bytes)},
    )


def not_applicable(ctx: Context) -> list:
    return []

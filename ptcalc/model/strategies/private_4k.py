"""private-4k: the baseline.  Every process builds its own PTE, PMD and PUD tables."""

from __future__ import annotations

from ptcalc.model import symbols as S
from ptcalc.model.strategies.base import Context, StrategyCounts, per_process


def private_faults(ctx: Context) -> dict:
    """Faults of 4 KiB shared pages: the first toucher faults once per page (read or write);
    a later writer once per page (do_shared_fault maps one page); a later reader once per
    fault-around window (do_read_fault -> do_fault_around, mm/memory.c)."""
    touch = ctx.touch()
    start, end = S.offset_bytes, S.offset_bytes + S.size_bytes
    pages = touch.pages(start, end)
    return {"first_read": pages, "first_write": pages,
            "next_read": touch.read_windows(start, end), "next_write": pages}


def counts(ctx: Context) -> StrategyCounts:
    tables = per_process(ctx, S.offset_bytes, S.offset_bytes + S.size_bytes)
    faults = private_faults(ctx)
    return StrategyCounts(
        charged=tables,
        physical={level: S.procs * n for level, n in tables.items()},
        faults_first_read=faults["first_read"], faults_first_write=faults["first_write"],
        faults_next_read=faults["next_read"], faults_next_write=faults["next_write"],
        leaf_page_bytes=S.PAGE,
        mapped={"4k": S.PAGE * ctx.touch().pages(S.offset_bytes, S.offset_bytes + S.size_bytes)},
    )


def not_applicable(ctx: Context) -> list:
    return []


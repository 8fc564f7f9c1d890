"""Capacity of a layout: per strategy, the most processes of one group that fit in RAM with
every other group held, and the huge pages to reserve per region.

A count p fits when the host's memory_bytes (data pages + page tables, baselines included,
see ptcalc.compute.host) is at most the RAM.  memory_bytes does not decrease as a group gains
processes (each adds its private tables, baseline and written pages; shared ones stay), so
the largest p is found by an exact integer bisection over 1..MAX_PROCS, then checked at p
and p + 1.  0 means even one process does not fit.
"""

from __future__ import annotations

from ptcalc.compute.host import HUGE_PAGE, evaluate_layout
from ptcalc.errors import InputError
from ptcalc.inputs.layout import Layout
from ptcalc.inputs.scenario import MAX_PROCS
from ptcalc.model.strategies import STRATEGY_NAMES

PLAN_KEYS = ("strategy", "group", "applicable", "reason", "max_procs", "memory_with_one",
             "memory_at_max", "pt_bytes_at_max", "ram_bytes", "huge_pages", "reserve")


def _memory(layout: Layout, group: str, procs: int, strategy: str):
    row = evaluate_layout(layout.with_procs(group, procs), (strategy,))["host"][0]
    return row["memory_bytes"], row


def most_procs(layout: Layout, group: str, ram: int, strategies=STRATEGY_NAMES) -> list[dict]:
    """One row per strategy: max_procs of `group` that fit `ram`."""
    try:
        layout.group(group)
    except KeyError:
        names = ", ".join(g.name for g in layout.groups)
        raise InputError(f"group {group!r} is not in the layout; groups: {names}") from None
    if any(g.forked_from == group for g in layout.groups):
        raise InputError(f"group {group!r} is the parent of a forked group and must keep one "
                         "process; plan another group")
    rows = []
    for strategy in strategies:
        memory, row = _memory(layout, group, 1, strategy)
        base = {"strategy": strategy, "group": group, "ram_bytes": ram}
        if not row["applicable"]:
            rows.append({**dict.fromkeys(PLAN_KEYS), **base, "applicable": False,
                         "reason": row["reason"]})
            continue
        if memory > ram:
            best, at = 0, None
        else:
            lo, hi = 1, MAX_PROCS            # memory(lo) <= ram; find the last such count
            if _memory(layout, group, hi, strategy)[0] <= ram:
                lo = hi
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if _memory(layout, group, mid, strategy)[0] <= ram:
                    lo = mid
                else:
                    hi = mid - 1
            best = lo
            memory, at = _memory(layout, group, best, strategy)
            assert memory <= ram
            if best < MAX_PROCS:
                assert _memory(layout, group, best + 1, strategy)[0] > ram
        page = HUGE_PAGE.get(strategy)
        reserve = None
        if page:
            counts = [(r.name, -(-r.size_bytes // page)) for r in layout.regions
                      if r.kind == "shared"]
            reserve = ", ".join(f"{name}: {n} x {page >> 20} MiB" for name, n in counts) \
                or None
        rows.append({**base, "applicable": True, "reason": None, "max_procs": best,
                     "memory_with_one": memory if best == 0 else None,
                     "memory_at_max": memory if at else None,
                     "pt_bytes_at_max": at["pt_bytes_total"] if at else None,
                     "huge_pages": at["huge_pages"] if at else row["huge_pages"],
                     "reserve": reserve})
    return rows

"""The ways a region is mapped when a huge page reservation may fall short, and the exact
capacity search over them; shared by compute/plan.py and compute/reservations.py (see the
fallback rules in compute/plan.py's docstring)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ptcalc import catalog
from ptcalc import paging as geometry
from ptcalc.compute import formulas
from ptcalc.inputs.scenario import MAX_PROCS, Scenario
from ptcalc.model.strategies import BASELINE

HUGETLB = catalog.HUGETLB_PAGE_BYTES


@dataclasses.dataclass(frozen=True)
class Layout:
    """One way the region is mapped: parts (strategy, scenario) whose tables add up."""

    parts: tuple[tuple[str, Scenario], ...]

    def total(self, procs: int):
        """pt_bytes_total of all parts for `procs` processes (exact int for dense)."""
        value = 0
        for strategy, scenario in self.parts:
            value += _pt_total(strategy, scenario, procs)
        return value


def _pt_total(strategy: str, scenario: Scenario, procs: int):
    if scenario.size_bytes == 0:
        return 0
    inputs = {**scenario.formula_inputs(), "procs": procs}
    return formulas.metrics(strategy, scenario.paging_levels, scenario.pattern,
                            **inputs)["pt_bytes_total"]


def largest_fitting(cost: Callable[[int], object], budget: int) -> int:
    """The largest p in 0..MAX_PROCS with cost(p) <= budget, cost non-decreasing, exact."""
    if cost(1) > budget:
        return 0
    if cost(MAX_PROCS) <= budget:
        return MAX_PROCS
    low, high = 1, MAX_PROCS              # cost(low) <= budget < cost(high)
    while high - low > 1:
        middle = (low + high) // 2
        if cost(middle) <= budget:
            low = middle
        else:
            high = middle
    if not (cost(low) <= budget < cost(low + 1)):
        raise RuntimeError(f"page-table bytes are not monotone in procs near {low}")
    return low


def _reserved_pages(strategy: str, reservation) -> int | None:
    """Pages of the strategy's size the reservation holds (None: none given for that size).
    `reservation` is a compute.reservations.Reservation or ("pages", count)."""
    if strategy not in HUGETLB or reservation is None:
        return None
    if isinstance(reservation, tuple):
        return reservation[1]
    return reservation.pages_for(HUGETLB[strategy])


def _layouts(strategy: str, scenario: Scenario, reservation):
    """(fallback, Layout) pairs for one strategy."""
    have = _reserved_pages(strategy, reservation)
    if have is None:
        return [(None, Layout(((strategy, scenario),)))]
    page = HUGETLB[strategy]
    needed = -(-scenario.size_bytes // page)
    if have >= needed:
        return [("none", Layout(((strategy, scenario),)))]
    huge_bytes = have * page
    rest = scenario.size_bytes - huge_bytes
    huge_touched = min(scenario.touched_bytes, huge_bytes)
    parts = []
    if huge_bytes:
        parts.append((strategy, dataclasses.replace(
            scenario, size_bytes=huge_bytes, requested_size_bytes=huge_bytes,
            touched_bytes=huge_touched)))
    parts.append((BASELINE, dataclasses.replace(
        scenario, size_bytes=rest, requested_size_bytes=rest,
        offset_bytes=(scenario.offset_bytes + huge_bytes) % geometry.TOP_ENTRY_SPAN,
        touched_bytes=scenario.touched_bytes - huge_touched)))
    return [("mixed", Layout(tuple(parts))), ("whole", Layout(((BASELINE, scenario),)))]

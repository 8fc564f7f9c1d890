"""Capacity planning: per strategy, the most processes whose page tables fit a memory budget,
the break-even against private-4k, and the huge pages to reserve.

The budget B defaults to RAM - size (the memory left beside the region).  A process count p
fits when

    g(p) = pt_bytes_total(p) + p * base_pt  <=  B

(`threads` is one mm: its own page tables outside the region count once, not p times).
pt_bytes_total is non-decreasing in procs for every strategy, so the largest p that fits is
found by an exact integer search over 0..MAX_PROCS using the compiled formulas on Python ints
(no float ever decides the boundary), and then checked: g(max_procs) <= B and, below the cap,
g(max_procs + 1) > B.  The same search gives the break-even: the fewest processes from which
the strategy's g(p) is no more than private-4k's.

A hugetlb reservation short of the region (`reserved`: pages per page size such as
"2m=26214,1g=300", a bare count of default 2 MiB pages, a size, or a percentage of the region;
see compute/reservations.py) is answered both ways databases handle it (`fallback` is None without a
reservation, "none" when the reservation covers the region):

* ``mixed`` -- the reserved pages hold the first part of the region and the rest falls back to
  4 KiB pages, as a second segment.  Oracle Database 11.2.0.3 and later with
  USE_LARGE_PAGES=TRUE: "Oracle allocates as much of the SGA as it can in large pages, and if
  it runs out, it will allocate the rest of the SGA using regular sized pages. This can cause
  the instance to create additional shared memory segments for the SGA" (Oracle Database
  Reference, USE_LARGE_PAGES, https://docs.oracle.com/en/database/oracle/oracle-database/19/
  refrn/USE_LARGE_PAGES.html).  Modelled as two mappings accounted on their own: the huge
  page part at the region's offset, the 4 KiB part (private-4k) right after it; the dense
  touched prefix fills the huge page part first.
* ``whole`` -- the whole region falls back to 4 KiB pages.  PostgreSQL with huge_pages=try:
  "the server will try to request huge pages, but fall back to the default if that fails"
  (https://www.postgresql.org/docs/current/runtime-config-resource.html#GUC-HUGE-PAGES); in
  src/backend/port/sysv_shmem.c CreateAnonymousSegment() one mmap() with MAP_HUGETLB is tried
  for the whole segment and, when it fails, one mmap() without it.  The numbers are then
  private-4k's.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from ptcalc import catalog
from ptcalc import paging as geometry
from ptcalc.compute import formulas
from ptcalc.compute.fallbacks import (
    HUGETLB,
    Layout,
    _layouts,
    _reserved_pages,
    largest_fitting,
)
from ptcalc.errors import InputError
from ptcalc.inputs.scenario import DEFAULT_FAULT_AROUND, MAX_PROCS, Scenario, make_scenario
from ptcalc.model.strategies import BASELINE, STRATEGY_NAMES
from ptcalc.units import UnitError, format_size, parse_size

ONE_MM = tuple(s.name for s in catalog.STRATEGIES if s.one_mm)
FALLBACKS = ("none", "mixed", "whole")

PLAN_KEYS = ("strategy", "fallback", "applicable", "reason", "max_procs", "max_procs_capped",
             "budget_bytes", "pt_bytes_at_max", "bytes_per_process", "break_even_procs",
             "huge_page_bytes", "huge_pages", "huge_pages_reserved", "huge_pages_short",
             "reserve",
             # the pool as each tool sizes it (compute/pool.py), on hugetlb rows
             "pool_plain_ceil", "pool_oracle_script", "pool_postgresql", "pool_autobase",
             "pool_ptcalc",
             # the inputs as read, in bytes (JSON/CSV keep their context)
             "size_bytes", "requested_size_bytes", "ram_bytes", "base_pt_bytes")


def _metric(strategy: str, scenario: Scenario, name: str):
    return formulas.metrics(strategy, scenario.paging_levels, scenario.pattern,
                            **scenario.formula_inputs())[name]


def _reasons(strategy: str, scenario: Scenario) -> list[str]:
    return [text for text, hit in formulas.conditions(strategy, scenario.paging_levels,
                                                      **scenario.formula_inputs()) if hit]


def marginal_pt_bytes(cost: Callable[[int], object]):
    """The marginal physical bytes per added process, cost(2) - cost(1): the PageTables
    growth (shared tables once) plus --base-pt that one more process brings.  Not VmPTE:
    compare's pt_bytes_per_process is what each process is charged."""
    return cost(2) - cost(1)


def first_no_worse(cost: Callable[[int], object], baseline: Callable[[int], object]):
    """The fewest processes p in 1..MAX_PROCS with cost(p) <= baseline(p), or None."""
    def worse(p):
        return cost(p) > baseline(p)

    if not worse(1):
        return 1
    if worse(MAX_PROCS):
        return None
    low, high = 1, MAX_PROCS              # worse(low), not worse(high)
    while high - low > 1:
        middle = (low + high) // 2
        if worse(middle):
            low = middle
        else:
            high = middle
    return high


def parse_reserved(text, size_bytes: int = 0, ram_bytes: int | None = None, *,
                   decimal: bool = False):
    """--reserved as a compute.reservations.Reservation (None when not given)."""
    from ptcalc.compute.reservations import parse_reservation

    return parse_reservation(text, size_bytes=size_bytes, ram_bytes=ram_bytes,
                             decimal=decimal)


def _size(text, what: str, decimal: bool = False) -> int:
    try:
        return parse_size(text, what=what, decimal=decimal)
    except UnitError as error:
        raise InputError(str(error)) from None


def parse_budget(text, ram_bytes: int | None, decimal: bool = False) -> int:
    """--budget: bytes, or a percentage of RAM ("10%": floor(RAM / 10))."""
    raw = str(text).strip()
    if not raw.endswith("%"):
        return _size(raw, "budget", decimal)
    if ram_bytes is None:
        raise InputError(f"budget {raw!r} is a fraction of RAM; give --ram too")
    try:
        fraction = Fraction(raw[:-1].strip()) / 100
    except (ValueError, ZeroDivisionError):
        raise InputError(f"budget {raw!r} is not a percentage such as 10%") from None
    if not 0 < fraction <= 1:
        raise InputError(f"budget {raw!r} is out of range; use a percentage of RAM in "
                         "(0%, 100%]")
    return int(ram_bytes * fraction)


def plan(size, ram=None, budget=None, *, base_pt=0, reserved=None, offset=0, touched=1.0,
         access="write", pattern="dense", strategies=None, paging=4,
         fault_around=DEFAULT_FAULT_AROUND, segments=None, shared_memory_size=None,
         decimal=False) -> tuple[list[dict], dict]:
    """Rows (dicts with PLAN_KEYS, plus pool_<rule> page counts on hugetlb rows) and a
    summary (budget, ram, size).  With a hugetlb reservation short of the region, each
    hugetlb strategy gives two rows: fallback "mixed" and "whole"; otherwise one row per
    strategy.  `budget` may be a percentage of RAM ("10%"); `segments` (sizes) and
    `shared_memory_size` feed the Oracle script's and PostgreSQL's pool rules
    (compute/pool.py); `decimal` reads kB/MB/GB as powers of 1000."""
    from ptcalc.inputs.scenario import parse_strategies

    if isinstance(size, str):
        size = _size(size, "size", decimal)
    scenario = make_scenario(size, 1, offset, touched, access, pattern, paging, fault_around)
    chosen = parse_strategies(strategies)
    ram_bytes = _size(ram, "ram", decimal) if ram is not None else None
    if budget is not None:
        budget_bytes = parse_budget(budget, ram_bytes, decimal)
    elif ram_bytes is None:
        raise InputError("give --ram (the budget is RAM minus the region) or --budget")
    else:
        budget_bytes = ram_bytes - scenario.size_bytes
        if budget_bytes < 0:
            raise InputError(f"size {format_size(scenario.size_bytes)} does not fit in ram "
                             f"{format_size(ram_bytes)}; give more --ram or a --budget")
    base = _size(base_pt, "base-pt", decimal)
    reservation = parse_reserved(reserved, scenario.size_bytes, ram_bytes, decimal=decimal)
    segment_bytes = [_size(s, "segment", decimal) for s in _items(segments)] or None
    pg_segment = (_size(shared_memory_size, "shared-memory-size", decimal)
                  if shared_memory_size is not None else None)
    baseline = Layout(((BASELINE, scenario),))

    def cost_of(layout: Layout, one_mm: bool):
        return lambda p: layout.total(p) + base * (1 if one_mm else p)

    baseline_cost = cost_of(baseline, False)
    rows = []
    for strategy in chosen:
        for fallback, layout in _layouts(strategy, scenario, reservation):
            reasons = [r for part, s in layout.parts for r in _reasons(part, s)]
            row = dict.fromkeys(PLAN_KEYS)
            row.update(strategy=strategy, fallback=fallback, applicable=not reasons,
                       reason=formulas.join_reasons(reasons),
                       budget_bytes=budget_bytes, size_bytes=scenario.size_bytes,
                       requested_size_bytes=scenario.requested_size_bytes,
                       ram_bytes=ram_bytes, base_pt_bytes=base)
            row.update(_huge_pages(strategy, scenario, reservation))
            row.update(_pool(strategy, scenario, segment_bytes, pg_segment))
            if reasons:
                rows.append(row)
                continue
            cost = cost_of(layout, strategy in ONE_MM)
            most = largest_fitting(cost, budget_bytes)
            row.update(max_procs=most, max_procs_capped=most == MAX_PROCS,
                       pt_bytes_at_max=cost(most) if most else None,
                       # The marginal physical bytes per added process: g(2) - g(1).
                       bytes_per_process=marginal_pt_bytes(cost),
                       break_even_procs=first_no_worse(cost, baseline_cost))
            rows.append(row)
    summary = {"size_bytes": scenario.size_bytes, "ram_bytes": ram_bytes,
               "budget_bytes": budget_bytes, "base_pt_bytes": base, "scenario": scenario,
               "reservation": reservation, "segments": segment_bytes,
               "shared_memory_size": pg_segment}
    return rows, summary


def _huge_pages(strategy: str, scenario: Scenario, reservation) -> dict:
    if strategy not in HUGETLB:
        return {}
    page = HUGETLB[strategy]
    needed = _metric(strategy, scenario, "huge_pages")
    have = _reserved_pages(strategy, reservation)
    if page == geometry.HUGE_2M_BYTES:
        hint = f"sysctl vm.nr_hugepages={needed}"
    else:
        hint = f"kernel command line: hugepagesz=1G hugepages={needed}"
    short = max(0, needed - have) if have is not None else None
    return {"huge_page_bytes": page, "huge_pages": needed, "huge_pages_reserved": have,
            "huge_pages_short": short, "reserve": hint}


def _items(values) -> list:
    """A list option given as a list or as "10GiB,2GiB"."""
    if values is None:
        return []
    if isinstance(values, (list, tuple)):
        return [v for value in values for v in _items(value)]
    return [part.strip() for part in str(values).split(",") if part.strip()]


def _pool(strategy: str, scenario: Scenario, segments, pg_segment) -> dict:
    """pool_<rule>: the pool each tool would reserve for this strategy's page size."""
    if strategy not in HUGETLB:
        return {}
    from ptcalc.compute.pool import pool_rules

    return {f"pool_{rule.key}": rule.pages
            for rule in pool_rules(scenario.requested_size_bytes, HUGETLB[strategy],
                                   segments=segments,
                                   shared_memory_size=pg_segment)}


__all__ = ["FALLBACKS", "PLAN_KEYS", "STRATEGY_NAMES", "first_no_worse", "largest_fitting",
           "parse_budget", "parse_reserved", "plan"]

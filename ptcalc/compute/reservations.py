"""Huge page reservations per page size, and the verdicts a table prints, as row values.

`--reserved` names its page size or is a size:

* ``2m=26214``, ``1g=300``, ``2m=26214,1g=300`` -- pages of that size (the pools are separate:
  /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages and hugepages-1048576kB/...,
  https://docs.kernel.org/admin-guide/mm/hugetlbpage.html); a strategy whose page size is
  not named has no reservation.
* ``26214`` -- a bare count is what vm.nr_hugepages holds: pages of the default huge page size
  (Hugepagesize in /proc/meminfo), 2 MiB on x86-64 unless default_hugepagesz= says otherwise.
* ``100GiB`` -- bytes, as a pool of each strategy's page size (floor(bytes / page) pages).
* ``80%`` -- a fraction of the region, likewise in each page size.

A reservation beyond RAM is an error (the kernel cannot hold it).  Short of the region, a
hugetlb strategy gives two rows, the two ways databases handle it (see compute/plan.py):
``mixed`` (Oracle >= 11.2.0.3, USE_LARGE_PAGES=TRUE: the rest of the SGA in 4 KiB pages) and
``whole`` (PostgreSQL huge_pages=try, and Oracle before 11.2.0.3: all of it in 4 KiB pages).
PostgreSQL's huge_pages=on ("failure to use huge pages will prevent the server from
starting up", https://www.postgresql.org/docs/current/runtime-config-resource.html
#GUC-HUGE-PAGES) and Oracle's USE_LARGE_PAGES=ONLY (the instance does not start unless the
whole SGA is in large pages, https://docs.oracle.com/en/database/oracle/oracle-database/19/
refrn/USE_LARGE_PAGES.html) fail to start instead.
"""

from __future__ import annotations

import dataclasses
import re
from fractions import Fraction

from ptcalc.compute.fallbacks import HUGETLB, Layout, _layouts, largest_fitting
from ptcalc.errors import InputError
from ptcalc.inputs.scenario import MAX_PROCS, Scenario
from ptcalc.paging import HUGE_1G_BYTES, HUGE_2M_BYTES
from ptcalc.units import (
    UnitError,
    check_number_text,
    format_size,
    parse_count,
    parse_size,
    shown,
)

DEFAULT_HUGE_PAGE = HUGE_2M_BYTES          # x86-64 Hugepagesize without default_hugepagesz=
PAGE_SIZES = (HUGE_2M_BYTES, HUGE_1G_BYTES)
RESERVED_HELP = ("a count per page size (2m=26214, 1g=300, 2m=26214,1g=4), a bare count of "
                 "default 2 MiB pages (vm.nr_hugepages), a size (100GiB) or a fraction of the "
                 "region (80%)")
FALLBACK_LABELS = {
    "mixed": "Oracle >= 11.2.0.3 USE_LARGE_PAGES=TRUE: the rest in 4 KiB pages",
    "whole": "PostgreSQL huge_pages=try (and Oracle before 11.2.0.3): all in 4 KiB pages",
}
# Verdict and input columns compare adds to every row (JSON/CSV carry what the table says).
INPUT_KEYS = ("size_bytes", "requested_size_bytes", "offset_bytes", "procs", "touched",
              "access", "pattern", "paging")
RAM_KEYS = ("ram_bytes", "fits_ram", "max_procs_in_ram", "oom_procs")
RESERVATION_KEYS = ("fallback", "huge_pages_reserved", "huge_pages_short", "starts")


@dataclasses.dataclass(frozen=True)
class Reservation:
    text: str
    pages: dict        # page bytes -> reserved pages (only the sizes the text covers)
    kind: str          # "pages", "bytes" or "percent"

    def pages_for(self, page_bytes: int) -> int | None:
        return self.pages.get(page_bytes)

    def describe(self) -> str:
        parts = [f"{count:,} x {'1G' if page == HUGE_1G_BYTES else '2M'} pages"
                 for page, count in sorted(self.pages.items())]
        return f"reserved {self.text} read as " + " and ".join(parts) + (
            " (vm.nr_hugepages counts default-size pages)" if self.kind == "bare" else "")


_KEYED = re.compile(r"^\s*([0-9.]+\s*[a-zA-Z]+)\s*=\s*(.+?)\s*$")


def parse_reservation(text, *, size_bytes: int, ram_bytes: int | None = None,
                      decimal: bool = False) -> Reservation | None:
    """--reserved as a Reservation (None when not given); InputError names the fix."""
    if text is None:
        return None
    raw = str(text).strip()
    try:
        reservation = _parse(raw, size_bytes, decimal)
    except UnitError as error:
        raise InputError(f"reserved {shown(raw)} is not understood ({error}); give "
                         f"{RESERVED_HELP}") from None
    if ram_bytes is not None:
        total = sum(page * count for page, count in reservation.pages.items()) if (
            reservation.kind in ("pages", "bare")) else max(
            (page * count for page, count in reservation.pages.items()), default=0)
        if total > ram_bytes:
            raise InputError(f"reserved {raw!r} is {format_size(total)} of huge pages, more "
                             f"than the {format_size(ram_bytes)} of RAM; the kernel cannot "
                             "reserve it: give fewer pages or more --ram")
    return reservation


def _parse(raw: str, size_bytes: int, decimal: bool) -> Reservation:
    if raw.endswith("%"):
        check_number_text(raw[:-1], "reserved")     # before Fraction: 1e999999999% hangs
        fraction = Fraction(raw[:-1].strip()) / 100 if _number(raw[:-1]) else None
        if fraction is None or not 0 <= fraction <= 1:
            raise UnitError("a fraction of the region from 0% to 100%")
        reserved = size_bytes * fraction
        return Reservation(raw, {page: int(reserved // page) for page in PAGE_SIZES}, "percent")
    if "=" not in raw:
        if re.fullmatch(r"[0-9][0-9,_]*", raw):
            return Reservation(raw, {DEFAULT_HUGE_PAGE: parse_count(raw, what="reserved")},
                               "bare")
        reserved = parse_size(raw, what="reserved", decimal=decimal)
        return Reservation(raw, {page: reserved // page for page in PAGE_SIZES}, "bytes")
    pages = {}
    # "2m=26,214,1g=300": split before each "<size>=", so counts may carry commas
    for item in re.split(r",(?=\s*[0-9.]+\s*[a-zA-Z]+\s*=)", raw):
        match = _KEYED.match(item)
        if not match:
            raise UnitError(f"{item.strip()!r} is not PAGESIZE=COUNT")
        page = parse_size(match.group(1), what="page size")
        if page not in PAGE_SIZES:
            raise UnitError(f"page size {match.group(1)!r} is not 2m or 1g")
        if page in pages:
            raise UnitError(f"page size {match.group(1)!r} is given twice")
        pages[page] = parse_count(match.group(2), what="reserved")
    return Reservation(raw, pages, "pages")


def _number(text: str) -> bool:
    return bool(re.fullmatch(r"\s*([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*", text))


def expand_rows(rows: list[dict], scenario: Scenario, reservation: Reservation | None,
                metric_rows) -> list[dict]:
    """Rows with each hugetlb strategy's reservation outcome: `fallback` "none" when it covers
    the region, else a "mixed" and a "whole" row, both with huge_pages_short and `starts`
    (False: huge_pages=on / USE_LARGE_PAGES=ONLY do not start).  `metric_rows(scenario,
    strategies)` evaluates parts (compute.scalar.scenario_rows)."""
    if reservation is None:
        return rows
    out = []
    for row in rows:
        page = HUGETLB.get(row["strategy"])
        have = reservation.pages_for(page) if page else None
        if have is None or not row["applicable"]:
            out.append(row if have is None else {**row, "huge_pages_reserved": have})
            continue
        needed = row["huge_pages"]
        short = max(0, needed - have)
        base = {**row, "huge_pages_reserved": have, "huge_pages_short": short,
                "starts": short == 0}
        if not short:
            out.append({**base, "fallback": "none"})
            continue
        (_, mixed_layout), (_, whole_layout) = _layouts(row["strategy"], scenario,
                                                        ("pages", have))
        mixed = _summed(mixed_layout, metric_rows, have)
        (baseline,) = metric_rows(scenario, ["private-4k"])
        if baseline["pt_bytes_total"]:
            mixed["savings_vs_private_4k"] = 1 - mixed["pt_bytes_total"] / baseline[
                "pt_bytes_total"]
        out.append({**base, **_no_tlb(base), **mixed, "fallback": "mixed"})
        (whole,) = metric_rows(scenario, [whole_layout.parts[0][0]])
        out.append({**base, **_no_tlb(base), **_metrics_only(whole), "huge_pages": 0,
                    "leaf_page_bytes": whole["leaf_page_bytes"], "fallback": "whole"})
    return out


_NOT_SUMMED = {"strategy", "applicable", "reason", "leaf_page_bytes", "huge_pages"}


def _no_tlb(row: dict) -> dict:
    """TLB figures of a row set to None: they were computed for the all-huge mapping."""
    return {k: None for k in row if k.startswith(("tlb_", "walk_", "pt_walk"))}


def _metrics_only(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in _NOT_SUMMED}


def _summed(layout: Layout, metric_rows, have: int) -> dict:
    """Metrics of a layout's parts added up (TLB figures left out: they do not add)."""
    total: dict = {"savings_vs_private_4k": None}
    for strategy, part in layout.parts:
        (row,) = metric_rows(part, [strategy])
        for key, value in _metrics_only(row).items():
            if key.startswith(("tlb_", "walk_", "pt_walk")) or key == "savings_vs_private_4k":
                total[key] = None
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                total[key] = (total.get(key) or 0) + value
    total["huge_pages"] = have
    return total


def add_inputs(rows: list[dict], scenario: Scenario) -> list[dict]:
    """The scenario as read (bytes, counts) on every row, and every row with the same keys
    (None where a verdict does not apply): JSON/CSV keep their context."""
    keys = list(dict.fromkeys(key for row in rows for key in row))   # one header for CSV
    rows = [{key: row.get(key) for key in keys} for row in rows]
    values = {"size_bytes": scenario.size_bytes,
              "requested_size_bytes": scenario.requested_size_bytes,
              "offset_bytes": scenario.offset_bytes, "procs": scenario.procs,
              "touched": float(scenario.touched), "access": scenario.access,
              "pattern": scenario.pattern, "paging": scenario.paging}
    return [{**row, **values} for row in rows]


def add_ram_verdicts(rows: list[dict], scenario: Scenario, ram_bytes: int,
                     reservation: Reservation | None = None) -> list[dict]:
    """fits_ram (region + page tables <= RAM at the scenario's process count),
    max_procs_in_ram (the most processes that fit, exact as in `ptcalc plan`) and oom_procs
    (the first count that does not fit; None when none up to PID_MAX_LIMIT does not)."""
    budget = ram_bytes - scenario.size_bytes
    out = []
    for row in rows:
        verdict = {"ram_bytes": ram_bytes, "fits_ram": None, "max_procs_in_ram": None,
                   "oom_procs": None}
        if row.get("applicable"):
            layout = _row_layout(row, scenario)
            verdict["fits_ram"] = scenario.size_bytes + row["pt_bytes_total"] <= ram_bytes
            most = largest_fitting(layout.total, budget) if budget >= 0 else 0
            verdict["max_procs_in_ram"] = most
            verdict["oom_procs"] = most + 1 if most < MAX_PROCS else None
        out.append({**row, **verdict})
    return out


def _row_layout(row: dict, scenario: Scenario) -> Layout:
    fallback = row.get("fallback")
    if fallback in ("mixed", "whole"):
        layouts = dict(_layouts(row["strategy"], scenario, ("pages",
                                                            row["huge_pages_reserved"])))
        return layouts[fallback]
    return Layout(((row["strategy"], scenario),))


__all__ = ["FALLBACK_LABELS", "INPUT_KEYS", "RAM_KEYS", "RESERVATION_KEYS", "RESERVED_HELP",
           "Reservation", "add_inputs", "add_ram_verdicts", "expand_rows",
           "parse_reservation"]

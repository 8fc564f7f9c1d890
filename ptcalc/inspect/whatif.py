"""What-if for one shared object: every strategy of `ptcalc.compare` at its real layout.

Placements.  compare() models one region at one address (offset = start address mod
512 GiB) mapped by `procs` processes.  Processes mapping the object with the same size at
the same offset form one placement; each is evaluated with its own process count and the
rows are summed per strategy.  Exact for strategies that share nothing, and for those that
share between equally placed processes (ptshare, PMD sharing); threads and mshare would
also share across placements, so with several placements they are overstated by one table
set per extra placement.  Fork-based servers (PostgreSQL, Redis) and fixed-address
attaches (an Oracle SGA) have a single placement.

Touched fraction (pattern "layout", the default).  Page tables are counted per 2 MiB slot,
and real pages are rarely a dense prefix: PostgreSQL backends touch 8 % of shared_buffers
spread over 15 % of its 2 MiB slots.  So table metrics (and the faults of strategies with
huge leaves, one per 2 MiB page) are evaluated with the slot-equivalent fraction: the dense
prefix spanning as many 2 MiB slots as each process really has pages in; the faults and
mapped bytes of 4 KiB-leaf strategies, and touched_bytes, with the page fraction (mapped
pages / size).  Only processes with a mapped page count.  Patterns "dense" and
"random" pass the page fraction to compare() unchanged.

Alignment.  A strategy is also evaluated where a switch to it would place the mapping: the
start rounded up to 2 MiB (then 1 GiB) and the size rounded up likewise, touched bytes
kept.  That placement is used when the strategy is not applicable as mapped (hugetlb needs
an aligned start; mmap(MAP_HUGETLB) returns one) or maps more memory with huge leaves
there (shmem THP: shmem_get_unmapped_area aligns new mappings).  Such rows say so in
`placement` and keep the reason it did not apply as mapped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from ptcalc.paging import PAGE_BYTES, PMD_SPAN, PTE_SPAN, PUD_SPAN, ceil_div

PATTERNS = ("layout", "dense", "random")
FAULT_COLUMNS = ("faults_first", "faults_next", "faults_total")
_HUGE_MAPPED = ("mapped_2m_bytes", "mapped_1g_bytes")
_GRANULES = ((PTE_SPAN, "aligned to 2 MiB"), (PMD_SPAN, "aligned to 1 GiB"))
# Columns added over placements and groups; the others are per-row facts.
SUMMED = ("pt_bytes_per_process", "pt_bytes_total", "pte_table_bytes", "pmd_table_bytes",
          "pud_table_bytes", "p4d_table_bytes", "huge_pages", "faults_first", "faults_next",
          "faults_total", "touched_bytes", "mapped_4k_bytes", "mapped_2m_bytes",
          "mapped_1g_bytes")


@dataclass
class Placement:
    """Processes mapping an object with the same size at the same offset."""

    size_bytes: int
    offset_bytes: int
    procs: int
    touched: Fraction          # mean mapped pages / size
    touched_slots: Fraction    # mean slot-equivalent fraction (see module docstring)
    pids: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"size_bytes": self.size_bytes, "offset_bytes": self.offset_bytes,
                "procs": self.procs, "touched": round(float(self.touched), 6),
                "touched_slots": round(float(self.touched_slots), 6), "pids": self.pids}


def slot_equivalent(start: int, size: int, slots: int) -> Fraction:
    """Fraction whose dense prefix from `start` spans `slots` 2 MiB slots."""
    if slots <= 0:
        return Fraction(0)
    prefix = (PTE_SPAN - start % PTE_SPAN) + (slots - 1) * PTE_SPAN
    return Fraction(min(prefix, size), size)


_PLAIN_TYPES = (int, str, bool)


def _clip(touched, size: int) -> Fraction:
    """At least one page, at most all (compare() wants a fraction in (0, 1])."""
    return min(max(Fraction(touched), Fraction(PAGE_BYTES, size)), Fraction(1))


def _plain(value):
    """numpy/pandas scalars -> JSON-friendly Python values (NaN -> None)."""
    if value is None or type(value) in _PLAIN_TYPES:
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 2**63:
            return int(value)
    return value


def compare_rows(size_bytes: int, procs: int, offset_bytes: int, touched,
                 strategies=None, pattern: str = "dense") -> list[dict]:
    """The rows of ptcalc.compare(...) as plain dicts: the one call into the core model.

    Uses the same function compare() wraps in a DataFrame (ptcalc.compute.scalar.scenario_rows),
    so the numbers are compare's, as exact ints, without loading pandas.
    """
    from ptcalc.compute.scalar import scenario_rows
    from ptcalc.inputs.scenario import make_scenario, parse_strategies

    scenario = make_scenario(size_bytes, procs, offset_bytes, _clip(touched, size_bytes),
                             "write", pattern)
    return [{key: _plain(value) for key, value in row.items()}
            for row in scenario_rows(scenario, parse_strategies(strategies))]


def _evaluate(size: int, offset: int, procs: int, touched, touched_slots,
              strategies, pattern: str) -> list[dict]:
    if pattern != "layout":
        return compare_rows(size, procs, offset, touched, strategies, pattern)
    rows = compare_rows(size, procs, offset, touched_slots, strategies, "dense")
    if touched != touched_slots:
        by_pages = compare_rows(size, procs, offset, touched, strategies, "dense")
        for row, other in zip(rows, by_pages):
            take_page_counts(row, other)
    return rows


def take_page_counts(row: dict, by_pages: dict) -> None:
    """Into `row` (evaluated on whole slots) the counts that follow the touched pages, from
    the same strategy's row evaluated on those pages: touched bytes, and with 4 KiB leaves
    the faults and the 4 KiB-mapped bytes."""
    columns = ["touched_bytes"]
    if (row.get("leaf_page_bytes") or PAGE_BYTES) <= PAGE_BYTES:
        columns += [*FAULT_COLUMNS, "mapped_4k_bytes"]
    for column in columns:
        if column in row:
            row[column] = by_pages.get(column)


def _huge(row: dict) -> int:
    return sum(row.get(column) or 0 for column in _HUGE_MAPPED)


class Evaluations:
    """The what-ifs asked so far, each evaluated once: a process with thousands of mappings
    asks the same question again and again (the aligned placements of neighbouring small
    mappings coincide).  Keyed by every input of the evaluation; hands out copies."""

    def __init__(self):
        self.rows: dict[tuple, list[dict]] = {}
        self.asked = 0

    def __call__(self, size, offset, procs, touched, touched_slots, strategies, pattern):
        self.asked += 1
        key = (size, offset, procs, Fraction(touched), Fraction(touched_slots),
               None if strategies is None else tuple(strategies), pattern)
        rows = self.rows.get(key)
        if rows is None:
            rows = self.rows[key] = _evaluate(size, offset, procs, touched, touched_slots,
                                              strategies, pattern)
        return [dict(row) for row in rows]

    @property
    def evaluated(self) -> int:
        return len(self.rows)


def evaluate_placement(p: Placement, strategies=None, pattern: str = "layout",
                       evaluations: Evaluations | None = None) -> list[dict]:
    """Every strategy for one placement, realigned where a switch would realign it.
    `evaluations` shares the evaluations between calls (each distinct one done once)."""
    evaluate = evaluations if evaluations is not None else Evaluations()
    rows = evaluate(p.size_bytes, p.offset_bytes, p.procs, p.touched, p.touched_slots,
                    strategies, pattern)
    for row in rows:
        row.update(placement="as mapped", evaluated_offset_bytes=p.offset_bytes,
                   evaluated_size_bytes=p.size_bytes)
    for granule, label in _GRANULES:
        offset = ceil_div(p.offset_bytes, granule) * granule % PUD_SPAN
        size = ceil_div(p.size_bytes, granule) * granule
        if (offset, size) == (p.offset_bytes, p.size_bytes):
            continue
        scale = Fraction(p.size_bytes, size)
        aligned = evaluate(size, offset, p.procs, p.touched * scale, p.touched_slots * scale,
                           strategies, pattern)
        by_name = {row["strategy"]: row for row in aligned}
        for index, row in enumerate(rows):
            new = by_name.get(row["strategy"])
            if new is None or not new.get("applicable"):
                continue
            if row.get("applicable") and _huge(new) <= _huge(row):
                continue
            reason = row.get("reason") if not row.get("applicable") else None
            new.update(placement=label, evaluated_offset_bytes=offset,
                       evaluated_size_bytes=size,
                       reason=f"as mapped: {reason}" if reason else new.get("reason"))
            rows[index] = new
    return rows


def sum_rows(row_sets: list[list[dict]]) -> list[dict]:
    """Add per-strategy rows of several evaluations (same strategies, same order)."""
    if not row_sets:
        return []
    out = [dict(row) for row in row_sets[0]]
    for rows in row_sets[1:]:
        for total, row in zip(out, rows):
            total["applicable"] = bool(total.get("applicable")) and bool(row.get("applicable"))
            old, new = total.get("reason"), row.get("reason")
            if new and new != old:
                reasons = [r for r in (old, new) if r]
                total["reason"] = "; ".join(dict.fromkeys(
                    part for r in reasons for part in r.split("; "))) or None
            elif not old:
                total["reason"] = None
            if row.get("placement") != total.get("placement"):
                total["placement"] = "mixed"
            for key in SUMMED:
                if key in total:
                    a, b = total[key], row.get(key)
                    total[key] = None if a is None or b is None else a + b
            for key in ("evaluated_offset_bytes", "evaluated_size_bytes"):
                total.pop(key, None)
    return out


def finish_rows(rows: list[dict], current_bytes: int) -> list[dict]:
    """Recompute the ratio of summed rows; add the saving against what is spent now."""
    base = next((r.get("pt_bytes_total") for r in rows if r.get("strategy") == "private-4k"),
                None)
    for row in rows:
        total = row.get("pt_bytes_total")
        if base and total is not None and "savings_vs_private_4k" in row:
            row["savings_vs_private_4k"] = round(1 - total / base, 6)
        row["current_pt_bytes"] = current_bytes
        row["savings_vs_current_bytes"] = None if total is None else current_bytes - total
    return rows

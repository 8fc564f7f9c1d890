"""Presentation: rows of results as a table (tabulate), markdown, csv or json.

Works on plain lists of dicts so that the CLI needs neither pandas nor numpy.
"""

from __future__ import annotations

import math

from ptcalc.units import format_size

FORMATS = ("table", "markdown", "csv", "json")
UNITS = ("iec", "si", "bytes")

# column key -> (header, kind); kind says how a value is shown in table/markdown
COMPARE_COLUMNS = (
    ("strategy", "strategy", "text"),
    ("leaf_page_bytes", "leaf", "size"),
    ("pt_bytes_per_process", "PT/process", "size"),
    ("pt_bytes_total", "PT total", "size"),
    ("pte_table_bytes", "PTE", "size"),
    ("pmd_table_bytes", "PMD", "size"),
    ("pud_table_bytes", "PUD", "size"),
    ("p4d_table_bytes", "P4D", "size"),
    ("savings_vs_private_4k", "saved", "percent"),
    ("huge_pages", "huge pages", "count"),
    ("faults_first", "faults 1st", "count"),
    ("faults_next", "faults next", "count"),
    ("faults_total", "faults total", "count"),
    ("tlb_reach_l1_bytes", "L1 reach", "size"),
    ("tlb_reach_l2_bytes", "L2 reach", "size"),
    ("tlb_coverage", "coverage", "percent"),
    ("walk_refs", "walk refs", "count"),
    ("pt_walk_footprint_llc_ratio", "PT/LLC", "ratio"),
)

# A sweep: the scenario columns first, then what compare shows.
SWEEP_COLUMNS = (
    ("size_bytes", "size", "size"),
    ("offset_bytes", "offset", "size"),
    ("touched", "touched", "fraction"),
    ("access", "access", "text"),
    ("pattern", "pattern", "text"),
    ("procs", "procs", "count"),
    *COMPARE_COLUMNS,
)

PLAN_COLUMNS = (
    ("strategy", "strategy", "text"),
    ("fallback", "fallback", "text"),
    ("max_procs", "max procs", "maxprocs"),
    # Not compare's VmPTE (pt_bytes_per_process): the physical bytes one more process adds.
    ("bytes_per_process", "PT added per process", "size"),
    ("pt_bytes_at_max", "PT at max", "size"),
    ("break_even_procs", "break-even", "count"),
    ("huge_pages", "huge pages", "count"),
    ("huge_pages_reserved", "reserved", "count"),
    ("reserve", "to reserve", "text"),
)

# Shown also for rows whose strategy does not apply: they describe the scenario, not a result.
DESCRIPTIVE = frozenset({"strategy", "fallback", "size_bytes", "offset_bytes", "touched",
                         "access", "pattern", "procs", "huge_pages_reserved"})
# PID_MAX_LIMIT (ptcalc.inputs.scenario.MAX_PROCS): a count this high means "no limit in sight".
_PROCS_CAP = 4 * 1024 * 1024


def _json_default(value):
    if hasattr(value, "item"):       # numpy scalars
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _clean(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return value
    return value


def show(value, kind: str, units: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if kind == "size":
        return format_size(value, units)
    if kind == "percent":
        text = f"{100 * value:.2f}%"
        return f"{100 * value:.4f}%" if text == "100.00%" and value < 1 else text
    if kind == "ratio":
        return f"{value:.3g}x"
    if kind == "fraction":
        return f"{100 * float(value):.4g}%"
    if kind == "maxprocs":
        return f">= {int(value):,}" if value >= _PROCS_CAP else f"{int(value):,}"
    if kind == "count":
        if isinstance(value, float) and not value.is_integer():
            return f"{value:,.1f}"
        return f"{int(value):,}"
    return str(value)


def render(rows: list[dict], fmt: str = "table", units: str = "iec", columns=COMPARE_COLUMNS,
           title: str | None = None, notes: list[str] | None = None) -> str:
    """Rows as text in one of FORMATS.  json and csv keep exact machine values."""
    if fmt == "json":
        import json

        return json.dumps([{k: _clean(v) for k, v in row.items()} for row in rows], indent=2,
                          default=_json_default)
    if fmt == "csv":
        import csv
        import io

        out = io.StringIO()
        keys = list(rows[0]) if rows else []
        writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        return out.getvalue().rstrip("\n")
    tabulate = _tabulate()
    present = [(key, header, kind) for key, header, kind in columns
               if any(key in row for row in rows)
               and (key not in DESCRIPTIVE or any(_shown(row.get(key)) for row in rows))]
    table_rows = []
    for row in rows:
        if row.get("applicable") is False:
            cells, marked = [], False
            for key, _, kind in present:
                if key in DESCRIPTIVE:
                    cells.append(show(row.get(key), kind, units))
                else:
                    cells.append("" if marked else "n/a")
                    marked = True
        else:
            cells = [show(row.get(key), kind, units) for key, _, kind in present]
        table_rows.append(cells)
    headers = [header for _, header, _ in present]
    tablefmt = "github" if fmt == "markdown" else "simple"
    text = tabulate(table_rows, headers=headers, tablefmt=tablefmt, disable_numparse=True,
                    colalign=["left" if kind == "text" else "right" for _, _, kind in present])
    parts = [title] if title else []
    parts.append(text)
    if notes:
        parts.append("\n".join(notes))
    return "\n\n".join(parts)


def _tabulate():
    """tabulate.tabulate, imported without its optional wcwidth module when nothing has
    loaded them yet: wcwidth only measures wide (CJK, emoji) characters, which these ASCII
    tables never hold, and importing it costs about 10 ms of a 200 ms cold start."""
    import sys

    if "tabulate" not in sys.modules and "wcwidth" not in sys.modules:
        sys.modules["wcwidth"] = None            # makes tabulate's `import wcwidth` fail
        try:
            import tabulate
        finally:
            del sys.modules["wcwidth"]
    import tabulate

    return tabulate.tabulate


def _shown(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def not_applicable_notes(rows: list[dict]) -> list[str]:
    """One note per strategy that does not apply (each reason once)."""
    notes = {}
    for row in rows:
        if row.get("applicable") is False:
            notes.setdefault(f"n/a {row['strategy']}: {row['reason']}", None)
    return list(notes)

"""Presentation: rows of results as a table (tabulate), markdown, csv or json.

Works on plain lists of dicts so that the CLI needs neither pandas nor numpy.
"""

from __future__ import annotations

import csv
import io
import json
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
    if kind == "count":
        if isinstance(value, float) and not value.is_integer():
            return f"{value:,.1f}"
        return f"{int(value):,}"
    return str(value)


def render(rows: list[dict], fmt: str = "table", units: str = "iec", columns=COMPARE_COLUMNS,
           title: str | None = None, notes: list[str] | None = None) -> str:
    """Rows as text in one of FORMATS.  json and csv keep exact machine values."""
    if fmt == "json":
        return json.dumps([{k: _clean(v) for k, v in row.items()} for row in rows], indent=2,
                          default=_json_default)
    if fmt == "csv":
        out = io.StringIO()
        keys = list(rows[0]) if rows else []
        writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        return out.getvalue().rstrip("\n")
    from tabulate import tabulate

    present = [(key, header, kind) for key, header, kind in columns
               if any(key in row for row in rows)]
    table_rows = []
    for row in rows:
        if row.get("applicable") is False:
            cells = [row["strategy"]] + ["n/a"] + [""] * (len(present) - 2)
        else:
            cells = [show(row.get(key), kind, units) for key, _, kind in present]
        table_rows.append(cells)
    headers = [header for _, header, _ in present]
    tablefmt = "github" if fmt == "markdown" else "simple"
    text = tabulate(table_rows, headers=headers, tablefmt=tablefmt, disable_numparse=True,
                    colalign=["left"] + ["right"] * (len(headers) - 1))
    parts = [title] if title else []
    parts.append(text)
    if notes:
        parts.append("\n".join(notes))
    return "\n\n".join(parts)


def not_applicable_notes(rows: list[dict]) -> list[str]:
    return [f"n/a {row['strategy']}: {row['reason']}" for row in rows
            if row.get("applicable") is False]

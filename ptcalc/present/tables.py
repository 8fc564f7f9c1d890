"""Presentation: rows of results as a table (tabulate, fitted to the terminal by
ptcalc.present.fit), markdown, csv or json.

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
                         "access", "pattern", "procs", "huge_pages_reserved", "line", "name",
                         "ram_bytes"})
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


# The order in which columns are kept when a table must fit the terminal (ptcalc.present.fit):
# what a row is, then the answer (page-table bytes, savings, whether it fits), TLB figures
# (present only with --cpu), then faults and the per-level detail.  Keys not listed come
# last, in display order.  docs/cli.md lists the same order.
COLUMN_PRIORITY = (
    "strategy", "name", "fallback", "group", "key", "value", "size_bytes", "procs",
    "max_procs", "operation", "pt_bytes_total", "pt_bytes_per_process", "pt_bytes_group",
    "savings_vs_private_4k", "fits_ram_text", "oom_procs", "fits", "huge_pages_short",
    # ptcalc op: the cost after the refaults first, then what the call itself does
    "vmpte_acting_after_refault_bytes", "pagetables_after_refault_bytes", "refaults_acting",
    "tlb_ipis", "tables_unshared", "tables_freed", "tables_allocated", "refaults_others",
    "call_ipis", "vmpte_acting_bytes", "vmpte_others_bytes", "tlb_ipis_min", "path", "flush",
    "tlb_coverage", "tlb_reach_l2_bytes", "walk_refs", "leaf_page_bytes", "bytes_per_process",
    "pt_bytes_at_max", "memory_at_max", "faults_total", "huge_pages", "huge_pages_reserved",
    "break_even_procs", "reserve", "summary", "source", "faults_next", "faults_first",
    "offset_bytes", "touched", "access", "pattern", "pte_table_bytes", "pmd_table_bytes",
    "pud_table_bytes", "p4d_table_bytes", "tlb_reach_l1_bytes", "pt_walk_footprint_llc_ratio",
)
# Text columns that name a row: never wrapped (a name broken in two reads as two names).
_NAMES = frozenset({"strategy", "name", "fallback", "group", "key", "operation"})


def choose_keys(rows: list[dict], columns, chosen: tuple[str, ...] | None,
                partial: bool = False):
    """The column specs for `chosen` keys (--columns), in the order given; every key must be
    a column of the table or a key of its rows (partial: of one of the output's tables, so
    keys this one lacks are skipped)."""
    if chosen is None:
        return columns
    from ptcalc.errors import InputError

    specs = {key: (key, header, kind) for key, header, kind in columns}
    known = list(specs) + [key for row in rows for key in row if key not in specs]
    known = list(dict.fromkeys(known))
    if partial:
        chosen = tuple(key for key in chosen if key in known) or chosen
    out = []
    for key in chosen:
        if key not in known:
            raise InputError(f"--columns: {key!r} is not a column of this table; known: "
                             f"{', '.join(known)}")
        out.append(specs.get(key, (key, key, "text")))
    return tuple(out)


def render(rows: list[dict], fmt: str = "table", units: str = "iec", columns=COMPARE_COLUMNS,
           title: str | None = None, notes: list[str] | None = None, fit=None,
           some_columns: bool = False) -> str:
    """Rows as text in one of FORMATS.  json and csv keep exact machine values and every key
    of the rows unless `fit.columns` (--columns) chooses; a table fits `fit.width` (default:
    the current ptcalc.present.fit.Fit, which has no limit unless the command line set one).
    some_columns: one of several tables of an output; --columns keys it lacks are skipped."""
    from ptcalc.present import fit as fitting

    fit = fit or fitting.current()
    if fmt in ("json", "csv"):
        if fit.columns is not None:
            keys = [key for key, _, _ in choose_keys(rows, (), fit.columns, some_columns)]
            rows = [{key: row.get(key) for key in keys} for row in rows]
        return _machine(rows, fmt)
    columns = choose_keys(rows, columns, fit.columns, some_columns)
    present = [(key, header, kind) for key, header, kind in columns
               if fit.columns is not None or (
                   any(key in row for row in rows)
                   and (key not in DESCRIPTIVE or any(_shown(row.get(key)) for row in rows)))]
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
    width = fit.width if fmt == "table" else None
    specs = [fitting.Column(header, "left" if kind == "text" else "right",
                            wraps=kind == "text" and key not in _NAMES and width is not None)
             for key, header, kind in present]
    keys = [key for key, _, _ in present]
    rank = {key: n for n, key in enumerate(COLUMN_PRIORITY)}
    priority = (list(range(len(keys))) if fit.columns is not None else
                sorted(range(len(keys)), key=lambda i: (rank.get(keys[i], len(rank)), i)))
    tablefmt = "github" if fmt == "markdown" else "simple"
    text, hidden = fitting.table_text(specs, table_rows, priority, tablefmt, width)
    notes = list(notes or [])
    note = fitting.hidden_note(hidden, width)
    if note:
        notes.append(note)
    parts = [fitting.wrap(title, width)] if title else []
    parts.append(text)
    if notes:
        parts.append("\n".join(fitting.wrap(line, width, indent="  ") for line in notes))
    return "\n\n".join(parts)


def _machine(rows: list[dict], fmt: str) -> str:
    if fmt == "json":
        import json

        return json.dumps([{k: _clean(v) for k, v in row.items()} for row in rows], indent=2,
                          default=_json_default)
    import csv
    import io

    out = io.StringIO()
    keys = list(rows[0]) if rows else []
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue().rstrip("\n")


def _shown(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def not_applicable_notes(rows: list[dict]) -> list[str]:
    """One note per strategy that does not apply (each reason once)."""
    notes = {}
    for row in rows:
        if row.get("applicable") is False:
            notes.setdefault(f"n/a {row['strategy']}: {row['reason']}", None)
    return list(notes)

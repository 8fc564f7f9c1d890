"""Result tables for people: a pandas Styler with headers in words and units, values shown
as 881 GiB or 1,500 while the cells keep their exact numbers (copying or exporting the
DataFrame still gives integers)."""

from __future__ import annotations

from ptcalc.present.narrative import count_text, size_text

# column -> (header, kind); kind: bytes, count, percent, text
COLUMNS = {
    "strategy": ("strategy", "text"),
    "leaf_page_bytes": ("leaf page size", "bytes"),
    "pt_bytes_per_process": ("page tables per process (VmPTE)", "bytes"),
    "pt_bytes_total": ("page tables, all processes (PageTables)", "bytes"),
    "pte_table_bytes": ("PTE tables, all processes", "bytes"),
    "pmd_table_bytes": ("PMD tables, all processes", "bytes"),
    "pud_table_bytes": ("PUD tables, all processes", "bytes"),
    "savings_vs_private_4k": ("saving vs private-4k", "percent"),
    "huge_pages": ("huge pages to reserve", "count"),
    "faults_first": ("faults, first process", "count"),
    "faults_next": ("faults, each later process", "count"),
    "faults_total": ("faults, all processes", "count"),
    "tlb_coverage": ("TLB coverage of the region", "percent"),
    "tlb_reach_l1_bytes": ("L1 TLB reach", "bytes"),
    "tlb_reach_l2_bytes": ("L2 TLB reach", "bytes"),
    "walk_refs": ("memory references per page walk", "count"),
    "max_procs": ("most processes that fit", "count"),
    "oom_procs": ("processes at which RAM runs out", "count"),
    "procs": ("processes", "count"),
    "size_bytes": ("region size", "bytes"),
    "touched": ("touched fraction", "percent"),
    "pool_bytes": ("pool size", "bytes"),
}


NO_LIMIT = {"max_procs", "oom_procs"}


def column_kind(name: str) -> str:
    """bytes, count, percent or text: from COLUMNS, else from the name (every byte column of
    ptcalc ends in _bytes, every ratio in _ratio)."""
    if name in COLUMNS:
        return COLUMNS[name][1]
    if name.endswith("_bytes"):
        return "bytes"
    if name.endswith(("_ratio", "_share")):
        return "percent"
    if name.startswith(("faults", "refaults", "ptes_", "tables_", "ipis")):
        return "count"
    return "text"


def header(name: str) -> str:
    return COLUMNS[name][0] if name in COLUMNS else name.replace("_", " ")


def _percent(value: float) -> str:
    """3 significant digits, and never 100% or 0% for what is not: 0.00195%, 99.9992%."""
    pct = 100 * value
    if pct == 0 or pct == 100:
        return f"{pct:.0f}%"
    if pct < 99:
        return f"{pct:.3g}%"
    decimals = 1
    while f"{pct:.{decimals}f}" == "100." + "0" * decimals and decimals < 8:
        decimals += 1
    return f"{pct:.{decimals + 1}f}%"


def _formatter(kind: str, missing: str = "-"):
    import pandas as pd

    def show(value):
        if value is None or pd.isna(value):
            return missing
        if kind == "bytes":
            return size_text(value)
        if kind == "count":
            return count_text(value)
        if kind == "percent":
            return _percent(float(value))
        return str(value)
    return show


def styled(frame, columns=None, index: str | None = "strategy", headers: dict | None = None):
    """A Styler of `frame[columns]` (index `index`) with readable headers and values; the
    cells keep the frame's numbers (``styled(df).data`` is a plain DataFrame of them).
    Columns default to every metric of the frame (byte, count and ratio columns)."""
    columns = [c for c in (columns or [c for c in frame.columns
                                       if c in COLUMNS or column_kind(c) != "text"])
               if c != index]
    table = frame[[c for c in ([index] if index else []) + columns if c in frame.columns]]
    if index:
        table = table.set_index(index)
    table = table[[c for c in columns if c != index]]
    headers = headers or {}
    styler = table.style.format({c: _formatter(column_kind(c),
                                               "no limit" if c in NO_LIMIT else "-")
                                 for c in table.columns})
    labels = [headers.get(c, header(c)) for c in table.columns]
    styler = styler.relabel_index(labels, axis="columns")
    if index:
        styler.index.name = COLUMNS.get(index, (index, ""))[0]
    else:
        styler = styler.hide(axis="index")
    numeric = [c for c in table.columns if column_kind(c) != "text"]
    return styler.set_properties(subset=numeric, **{"text-align": "right"})

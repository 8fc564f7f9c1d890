"""Result tables as text: readable units per column kind (sizes, percentages, counts)."""

from __future__ import annotations

from ptcalc.units import format_size

# Column kinds for readable(): by exact name first, then by suffix.
_PERCENT_COLUMNS = {"savings_vs_private_4k", "tlb_coverage", "touched"}
_RATIO_COLUMNS = {"pt_walk_footprint_llc_ratio"}
_COUNT_COLUMNS = {"procs", "huge_pages", "faults_first", "faults_next", "faults_total",
                  "walk_refs", "max_procs", "oom_procs"}


# --------------------------------------------------------------------------------------------
# Tables


def is_missing(value) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _kind(column: str) -> str | None:
    if column in _PERCENT_COLUMNS:
        return "percent"
    if column in _RATIO_COLUMNS:
        return "ratio"
    if column in _COUNT_COLUMNS:
        return "count"
    if "bytes" in column.split("_"):
        return "size"
    return None


def _show(value, kind: str, units: str) -> str:
    from ptcalc.present.tables import show

    if is_missing(value):
        return "-"
    if hasattr(value, "item"):
        value = value.item()
    if kind == "percent" and 0 < abs(value) < 1e-4:
        return f"{100 * value:.3g}%"          # 0.00002 -> "0.002%", not "0.00%"
    if kind == "ratio" and abs(value) >= 100:
        return f"{value:,.0f}x"
    return show(value, kind, units)


def readable(df, units: str = "iec"):
    """A copy of a result DataFrame (from ``compare``, ``evaluate`` or ``oom_points``) whose
    numeric columns are strings with readable units: bytes as "879.375 GiB" (``units``: "iec",
    "si" or "bytes"), fractions as "99.80%", counts with thousands separators, missing values
    as "-".  Rows of strategies that do not apply show "n/a" in their metric columns.  Column
    names are kept (they are the API's names).  For display only: compute on the original."""
    from ptcalc.present.tables import UNITS

    if units not in UNITS:
        from ptcalc.errors import InputError

        raise InputError(f"units {units!r} is not known; use one of: {', '.join(UNITS)}")
    out = df.copy()
    not_applicable = None
    if "applicable" in df:
        not_applicable = ~df["applicable"].fillna(False).astype(bool)
    for column in df.columns:
        kind = _kind(str(column))
        if kind is None:
            continue
        out[column] = [_show(value, kind, units) for value in df[column]]
        if not_applicable is not None and column not in ("size_bytes", "procs", "offset_bytes",
                                                         "touched"):
            out.loc[not_applicable, column] = "n/a"
    return out


def short_size(value, units: str = "iec") -> str:
    """Bytes with 3 significant digits: 215149015040 -> "200 GiB", 1345000 -> "1.28 MiB"."""
    text = format_size(value, units, digits=6)
    number, _, unit = text.partition(" ")
    try:
        return f"{float(number):.3g} {unit}".strip()
    except ValueError:
        return text

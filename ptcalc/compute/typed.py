"""Typed result columns shared by ptcalc.compare and ptcalc.evaluate: the same dtypes for the
same columns (so frames concatenate), exact integers (never through float), and `attrs`
saying what a frame describes.

- metric columns: nullable Int64 (whole numbers), Float64 (expected values, ratios), or
  object holding exact Python ints for a column with a value beyond int64;
- scenario columns: int64 sizes and counts, float64 `touched`, categorical `access`,
  `pattern`, `strategy` and `reason`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ptcalc.compute import formulas
from ptcalc.compute.kernels import column_kinds
from ptcalc.inputs.scenario import ACCESSES, PATTERNS

SCENARIO_COLUMNS = ("size_bytes", "procs", "offset_bytes", "touched", "access", "pattern")
RESULT_COLUMNS = ("strategy", "applicable", "reason")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def frame_attrs(strategies, levels, pattern, fault_around_bytes, metrics) -> dict:
    """What every result frame records in DataFrame.attrs (small, JSON-friendly values)."""
    from ptcalc import __version__

    return {"ptcalc_version": __version__, "paging": int(levels), "pattern": pattern,
            "fault_around_bytes": int(fault_around_bytes), "strategies": list(strategies),
            "metrics": list(metrics)}


def scenario_attrs(scenario) -> dict:
    """The one scenario of a compare() frame, as given and as resolved."""
    return {"size_bytes": scenario.size_bytes, "requested_size_bytes":
            scenario.requested_size_bytes, "procs": scenario.procs,
            "offset_bytes": scenario.offset_bytes, "touched": float(scenario.touched),
            "touched_fraction": str(scenario.touched), "touched_bytes": scenario.touched_bytes,
            "access": scenario.access, "pattern": scenario.pattern,
            "paging": scenario.paging_levels, "fault_around_bytes": scenario.fault_around_bytes}


def exact_int_column(values: list):
    """Python ints and None as Int64 (exact: built from int64 values and a mask, never via
    float), or as an object column of Python ints and None when one is beyond int64."""
    present = [v for v in values if v is not None]
    if present and (min(present) < INT64_MIN or max(present) > INT64_MAX):
        column = np.empty(len(values), dtype=object)
        column[:] = values
        return column
    mask = np.array([v is None for v in values], dtype=bool)
    data = np.array([0 if v is None else int(v) for v in values], dtype=np.int64)
    return pd.arrays.IntegerArray(data, mask)


def float_column(values: list):
    mask = np.array([v is None for v in values], dtype=bool)
    data = np.array([0.0 if v is None else float(v) for v in values], dtype=np.float64)
    return pd.arrays.FloatingArray(data, mask)


def rows_frame(scenario, strategies, rows: list[dict]):
    """compare()'s frame from the exact scalar rows (ptcalc.compute.scalar.scenario_rows) of
    one scenario: evaluate()'s columns and dtypes, the scenario also in attrs."""
    levels = scenario.paging_levels
    names = formulas.metric_names(levels)
    kinds = column_kinds(strategies, levels, (scenario.pattern,))
    n = len(rows)
    reasons = list(dict.fromkeys(r["reason"] for r in rows if r["reason"]))
    columns = {
        "size_bytes": np.full(n, scenario.size_bytes, dtype=np.int64),
        "procs": np.full(n, scenario.procs, dtype=np.int64),
        "offset_bytes": np.full(n, scenario.offset_bytes, dtype=np.int64),
        "touched": np.full(n, float(scenario.touched)),
        "access": pd.Categorical.from_codes(
            np.full(n, ACCESSES.index(scenario.access), dtype=np.int8), ACCESSES),
        "pattern": pd.Categorical.from_codes(
            np.full(n, PATTERNS.index(scenario.pattern), dtype=np.int8), PATTERNS),
        "strategy": pd.Categorical.from_codes(
            [list(strategies).index(r["strategy"]) for r in rows], list(strategies)),
        "applicable": np.array([bool(r["applicable"]) for r in rows], dtype=bool),
        "reason": pd.Categorical.from_codes(
            [reasons.index(r["reason"]) if r["reason"] else -1 for r in rows], reasons),
    }
    for name in names:
        values = [r[name] for r in rows]
        columns[name] = (float_column(values) if kinds[name] == "f"
                         else exact_int_column(values))
    frame = pd.DataFrame(columns)
    frame.attrs = {**frame_attrs(strategies, levels, scenario.pattern,
                                 scenario.fault_around_bytes, names),
                   "scenario": scenario_attrs(scenario)}
    return frame

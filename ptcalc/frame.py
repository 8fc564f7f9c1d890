"""Evaluate whole DataFrames of scenarios: validate columns, compute every strategy over
whole numpy columns with the compiled formulas, return the long format."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd

from ptcalc import paging as geometry
from ptcalc.errors import InputError
from ptcalc.compute import column_metrics, column_reasons, metric_names
from ptcalc.scenario import (
    ACCESSES,
    MAX_PROCS,
    PATTERNS,
    parse_choice,
    parse_fault_around,
    parse_paging,
    touched_prefix_bytes,
)

SCENARIO_COLUMNS = ("size_bytes", "procs", "offset_bytes", "touched", "access", "pattern")
# Beyond this, products such as procs x table bytes could pass 2**63: use Python ints.
_INT64_SAFE = 2**62


def _int_column(frame, name, default=None):
    if name not in frame:
        if default is None:
            raise InputError(f"scenarios lack the column {name!r}; give size_bytes and procs "
                             "(and optionally offset_bytes, touched, access)")
        return np.full(len(frame), default, dtype=np.int64)
    column = frame[name]
    if column.isna().any():
        raise InputError(f"column {name!r} has missing values; fill them in")
    if not pd.api.types.is_integer_dtype(column):
        values = pd.to_numeric(column, errors="coerce")
        if values.isna().any() or (values != np.floor(values)).any():
            raise InputError(f"column {name!r} must hold whole numbers (bytes or processes)")
        column = values
    return column.to_numpy(dtype=np.int64)


def _validate(frame, levels):
    sizes = _int_column(frame, "size_bytes")
    procs = _int_column(frame, "procs")
    offsets = _int_column(frame, "offset_bytes", 0)
    if (sizes <= 0).any():
        raise InputError("column 'size_bytes' must be positive")
    if ((procs < 1) | (procs > MAX_PROCS)).any():
        raise InputError(f"column 'procs' must lie in 1..{MAX_PROCS}")
    if ((offsets < 0) | (offsets % geometry.PAGE_BYTES != 0)
            | (offsets >= geometry.TOP_ENTRY_SPAN)).any():
        raise InputError("column 'offset_bytes' must be a multiple of 4 KiB below 512 GiB")
    sizes = -(-sizes // geometry.PAGE_BYTES) * geometry.PAGE_BYTES
    if (offsets + sizes > geometry.paging_for(levels).user_space_bytes).any():
        raise InputError(f"a region does not fit the user address space of {levels}-level paging")
    touched = (frame["touched"] if "touched" in frame else pd.Series(1.0, index=frame.index))
    touched = pd.to_numeric(touched, errors="coerce").to_numpy(dtype=float)
    if not ((touched > 0) & (touched <= 1)).all():
        raise InputError("column 'touched' must hold fractions in (0, 1]")
    return sizes, procs, offsets, touched


def _touched_bytes(sizes, touched):
    """Exact dense prefixes, computed once per distinct (size, touched) pair."""
    pairs = pd.DataFrame({"s": sizes, "t": touched})
    unique = pairs.drop_duplicates()
    exact = {(s, t): touched_prefix_bytes(int(s), Fraction(repr(float(t))))
             for s, t in zip(unique["s"], unique["t"], strict=False)}
    return np.fromiter((exact[(s, t)] for s, t in zip(sizes, touched)), dtype=np.int64,
                       count=len(sizes))


def _choice_column(frame, name, choices, default):
    if name not in frame:
        return np.full(len(frame), default, dtype=object)
    values = frame[name].astype(str).str.strip().str.lower()
    bad = ~values.isin(choices)
    if bad.any():
        raise InputError(f"column {name!r} has {values[bad].iloc[0]!r}; use one of: "
                         f"{', '.join(choices)}")
    return values.to_numpy(dtype=object)


def evaluate_frame(scenarios, strategies, *, pattern="dense", paging=4,
                   fault_around=65536):
    if type(scenarios).__module__.startswith("dask"):
        from ptcalc.distributed import evaluate_dask

        return evaluate_dask(scenarios, strategies, pattern=pattern, paging=paging,
                             fault_around=fault_around)
    if not isinstance(scenarios, pd.DataFrame):
        raise InputError("scenarios must be a pandas DataFrame with columns size_bytes and procs")
    levels = parse_paging(paging)
    default_pattern = parse_choice(pattern, PATTERNS, "pattern")
    fault_around = parse_fault_around(fault_around)
    frame = scenarios.reset_index(drop=True)
    sizes, procs, offsets, touched = _validate(frame, levels)
    accesses = _choice_column(frame, "access", ACCESSES, "write")
    patterns = _choice_column(frame, "pattern", PATTERNS, default_pattern)
    wide = sizes.max(initial=0) // 128 * procs.max(initial=0) >= _INT64_SAFE
    dtype = object if wide else np.int64
    columns = {
        "offset_bytes": offsets.astype(dtype), "size_bytes": sizes.astype(dtype),
        "touched_bytes": _touched_bytes(sizes, touched).astype(dtype), "touched": touched,
        "procs": procs.astype(dtype), "fault_around_bytes": fault_around,
        "read_access": (accesses == "read").astype(np.int64).astype(dtype),
    }
    scenario_part = pd.DataFrame({
        "size_bytes": sizes, "procs": procs, "offset_bytes": offsets, "touched": touched,
        "access": accesses, "pattern": patterns})
    names = metric_names(levels)
    pieces = []
    for strategy in strategies:
        piece = scenario_part.copy()
        piece.insert(len(piece.columns), "strategy", strategy)
        joined = np.full(len(frame), "", dtype=object)
        for text, hit in column_reasons(strategy, levels, columns):
            hit = np.broadcast_to(np.asarray(hit, dtype=bool), joined.shape)
            joined = np.where(hit, np.where(joined == "", text, joined + "; " + text), joined)
        reason = np.where(joined == "", None, joined)
        applicable = joined == ""
        piece["applicable"] = applicable
        piece["reason"] = reason
        metrics = {}
        for kind in PATTERNS:
            rows = patterns == kind
            if not rows.any():
                continue
            subset = {k: (v[rows] if isinstance(v, np.ndarray) else v) for k, v in columns.items()}
            for name, value in column_metrics(strategy, levels, kind, subset).items():
                if value is not None:
                    metrics[name] = _merge(metrics.get(name), value, rows)
        for name in names:
            piece[name] = _nullable(metrics.get(name), applicable)
        pieces.append(piece)
    return pd.concat(pieces, ignore_index=True)


def _merge(target, value, rows):
    """Put `value` (array or scalar) into the rows of `target`, widening its dtype if needed."""
    value = np.broadcast_to(np.asarray(value), (int(rows.sum()),))
    if target is None:
        target = np.zeros(len(rows), dtype=value.dtype)
    if value.dtype == object or target.dtype == object:
        target = target.astype(object)
    elif np.issubdtype(value.dtype, np.floating) and not np.issubdtype(target.dtype,
                                                                        np.floating):
        target = target.astype(float)
    target[rows] = value
    return target


def _nullable(values, applicable):
    """A column with NA where the strategy is not applicable (or the metric does not exist)."""
    if values is None:
        return pd.array([pd.NA] * len(applicable), dtype="Int64")
    if np.issubdtype(values.dtype, np.integer):
        return pd.arrays.IntegerArray(values, ~applicable)
    if values.dtype == object:
        return pd.Series(np.where(applicable, values, None), dtype=object)
    out = values.astype(float)
    out[~applicable] = np.nan
    return out

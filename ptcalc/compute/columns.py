"""The scenario columns of ptcalc.evaluate, validated into numpy arrays: whole numbers,
categorical codes and the exact dense prefix (touched_bytes) of every row."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd

from ptcalc import paging as geometry
from ptcalc.errors import InputError
from ptcalc.inputs import rules

# --- validation ----------------------------------------------------------------------------

def int_column(frame, name, default=None):
    if name not in frame:
        if default is None:
            raise InputError(f"scenarios lack the column {name!r}; give size_bytes and procs "
                             "(and optionally offset_bytes, touched, access, pattern)")
        return np.full(len(frame), default, dtype=np.int64)
    column = frame[name]
    if column.isna().any():
        raise InputError(f"column {name!r} has missing values; fill them in")
    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_integer_dtype(column):
        values = pd.to_numeric(column, errors="coerce")
        bad = values.isna() | (values != np.floor(values)) | (values.abs() >= 2.0**63)
        if pd.api.types.is_bool_dtype(column) or bad.any():
            shown = column[bad].iloc[0] if bad.any() else column.iloc[0]
            raise InputError(f"column {name!r} has {shown!r}; it must hold whole numbers "
                             "(bytes or processes)")
        column = values
    try:
        return column.to_numpy(dtype=np.int64)
    except (OverflowError, TypeError, ValueError):
        raise InputError(f"column {name!r} must hold whole numbers below 2**63") from None


def reject_duplicates(frame):
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:           # frame[name] would be a frame, not a column
        raise InputError(f"scenarios have the column {duplicated[0]!r} more than once; give "
                         "each column once")


def validate(frame, levels):
    reject_duplicates(frame)
    sizes = int_column(frame, "size_bytes")
    procs = int_column(frame, "procs")
    offsets = int_column(frame, "offset_bytes", 0)
    rules.SIZE.check_column(sizes)
    rules.PROCS.check_column(procs)
    for rule in rules.OFFSET_RULES:
        rule.check_column(offsets)
    # Sizes near 2**63 would overflow when rounded up: check them before rounding.
    rules.check_region_columns(sizes, np.zeros_like(offsets), levels)
    sizes = rules.whole_pages(sizes)
    rules.check_region_columns(sizes, offsets, levels)
    if "touched" in frame:
        if frame["touched"].isna().any():
            raise InputError("column 'touched' has missing values; use fractions in (0, 1]")
        touched = pd.to_numeric(frame["touched"], errors="coerce").to_numpy(dtype=float)
    else:
        touched = np.ones(len(frame))
    rules.TOUCHED.check_column(touched)
    rules.TOUCHED_RESOLVED.check_column(touched)
    return sizes, procs, offsets, touched


def codes(frame, name, choices, default) -> np.ndarray:
    """int8 codes into `choices` of a text column (case and spaces ignored)."""
    if name not in frame:
        return np.full(len(frame), choices.index(default), dtype=np.int8)
    column = frame[name]
    if isinstance(column.dtype, pd.CategoricalDtype):     # its codes: no hashing of rows
        codes, uniques = column.cat.codes.to_numpy(), column.cat.categories
    else:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
    if (codes < 0).any():
        raise InputError(f"column {name!r} has missing values; use one of: {', '.join(choices)}")
    present = np.bincount(codes, minlength=len(uniques)) > 0     # a category may be unused
    lookup = np.zeros(len(uniques), dtype=np.int8)
    for i, value in enumerate(uniques):
        if not present[i]:
            continue
        text = str(value).strip().lower()
        if text not in choices:
            raise InputError(f"column {name!r} has {value!r}; use one of: {', '.join(choices)}")
        lookup[i] = choices.index(text)
    return lookup[codes]


# --- the dense prefix, exact -----------------------------------------------------------------

def touched_bytes(sizes, touched):
    """ceil(t x pages) whole pages, t being the decimal the float `touched` prints as (so 0.1
    means 1/10, as scenario.touched_prefix_bytes reads it), exact for every row.

    t a multiple of 1/1024 (0.25, 0.5, ...): one integer expression over those rows.  Few
    other distinct values of t (the usual case: sweeps and presets): integer arithmetic over
    all rows of each value, with its Fraction made once.  Many distinct values: the float
    product p = t * pages differs from the exact one by less than 2**-51 * p, so where p is
    farther than p * 2**-40 + 2**-30 from an integer its ceiling is exact; the rows nearer an
    integer are done in integers, once per distinct t among them.
    """
    pages = sizes // geometry.PAGE_BYTES
    rest = np.flatnonzero(touched != 1.0)
    if not rest.size:
        return pages * geometry.PAGE_BYTES
    out = pages.copy()                           # touched == 1: every page
    # t = k / 1024 (0.25, 0.5, 0.75, ...): its decimal is exactly the float (at most ten
    # digits), so ceil(k x pages / 1024) in int64 (below 2**55) is the answer, with no hashing
    scaled = touched[rest] * 1024.0
    dyadic = scaled == np.floor(scaled)
    if dyadic.any():
        rows = rest[dyadic]
        out[rows] = -((-scaled[dyadic].astype(np.int64) * pages[rows]) >> 10)
        rest = rest[~dyadic]
        if not rest.size:
            return out * geometry.PAGE_BYTES
    codes, values = pd.factorize(touched[rest])
    if len(values) > _FEW_TOUCHED:
        product = touched[rest] * pages[rest]
        above = product - np.floor(product)
        margin = product * 2.0**-40 + 2.0**-30
        out[rest] = np.ceil(product).astype(np.int64)
        near = (above < margin) | (1.0 - above < margin)
        rest = rest[near]
        codes, values = pd.factorize(touched[rest])
    if len(values) == 1:
        _exact_prefix(out, rest, pages, values[0])
    elif len(values) <= _FEW_TOUCHED:
        for j, value in enumerate(values):
            _exact_prefix(out, rest[codes == j], pages, value)
    elif len(values):
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(values) + 1))
        for j, value in enumerate(values):
            _exact_prefix(out, rest[order[bounds[j]:bounds[j + 1]]], pages, value)
    return out * geometry.PAGE_BYTES


_FEW_TOUCHED = 32


def _exact_prefix(out, rows, pages, value):
    """out[rows] = ceil(value x pages[rows]) with value read as its shortest decimal."""
    fraction = Fraction(repr(float(value)))
    num, den = fraction.numerator, fraction.denominator
    group_pages = pages[rows]
    if num * int(group_pages.max(initial=0)) < 2**63 and den < 2**63:   # else: exact ints
        out[rows] = -((-num * group_pages) // den)
    else:
        out[rows] = (-((-num * group_pages.astype(object)) // den)).astype(np.int64)

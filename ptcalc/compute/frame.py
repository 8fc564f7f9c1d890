"""Evaluate whole DataFrames of scenarios: validate columns, compute every strategy over
whole numpy columns with the compiled formulas, return the long format.

How it stays fast (10^6 scenarios x 9 strategies in about a second):

- no per-row Python: the dense prefix (touched_bytes) is exact integer arithmetic over whole
  columns, with Fractions only once per distinct `touched` value whose float product lands
  near an integer (see `_touched_bytes`);
- the output columns are allocated once, strategy-major, and filled in place; the compiled
  formulas run over row chunks of CHUNK_ROWS scenarios, so their temporaries stay in cache
  and are recycled instead of being fresh memory each time;
- strings are categorical: `strategy`, `access`, `pattern` and `reason` are small integer
  codes over a few categories (a reason is a bit set of the strategy's conditions);
- the DataFrame is assembled without copying (no block consolidation, no concat).

Integers stay exact: int64 while the largest size x procs product is far from 2**63, Python
ints (object columns) beyond.  Metric columns are nullable (Int64 or Float64): NA where the
strategy does not apply or the metric does not exist for it.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd

from ptcalc import paging as geometry
from ptcalc.compute import formulas
from ptcalc.compute.formulas import metric_names
from ptcalc.errors import InputError
from ptcalc.inputs import rules
from ptcalc.inputs.scenario import (
    ACCESSES,
    PATTERNS,
    parse_choice,
    parse_fault_around,
    parse_paging,
)

SCENARIO_COLUMNS = ("size_bytes", "procs", "offset_bytes", "touched", "access", "pattern")
RESULT_COLUMNS = ("strategy", "applicable", "reason")
# Beyond this, products such as procs x table bytes could pass 2**63: use Python ints.
_INT64_SAFE = 2**62
# Scenarios per slice of the compiled formulas: 32 Ki x 8 B = 256 KiB per temporary array.
CHUNK_ROWS = 1 << 15


# --- validation ----------------------------------------------------------------------------

def _int_column(frame, name, default=None):
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


def _validate(frame, levels):
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:           # frame[name] would be a frame, not a column
        raise InputError(f"scenarios have the column {duplicated[0]!r} more than once; give "
                         "each column once")
    sizes = _int_column(frame, "size_bytes")
    procs = _int_column(frame, "procs")
    offsets = _int_column(frame, "offset_bytes", 0)
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


def _codes(frame, name, choices, default) -> np.ndarray:
    """int8 codes into `choices` of a text column (case and spaces ignored)."""
    if name not in frame:
        return np.full(len(frame), choices.index(default), dtype=np.int8)
    codes, uniques = pd.factorize(frame[name], use_na_sentinel=True)
    if (codes < 0).any():
        raise InputError(f"column {name!r} has missing values; use one of: {', '.join(choices)}")
    lookup = np.empty(len(uniques), dtype=np.int8)
    for i, value in enumerate(uniques):
        text = str(value).strip().lower()
        if text not in choices:
            raise InputError(f"column {name!r} has {value!r}; use one of: {', '.join(choices)}")
        lookup[i] = choices.index(text)
    return lookup[codes]


# --- the dense prefix, exact -----------------------------------------------------------------

def _touched_bytes(sizes, touched):
    """ceil(t x pages) whole pages, t being the decimal the float `touched` prints as (so 0.1
    means 1/10, as scenario.touched_prefix_bytes reads it), exact for every row.

    Few distinct values of t (the usual case: sweeps and presets): integer arithmetic over
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


# --- evaluation -------------------------------------------------------------------------------

def evaluate_frame(scenarios, strategies, *, pattern="dense", paging=4,
                   fault_around=65536):
    """The long format: one row per scenario and strategy (strategy-major: all scenarios of
    the first strategy, then the next), scenario columns, strategy, applicable, reason and
    the metrics.  (A dask DataFrame goes to ptcalc.compute.dask, which calls this function
    partition by partition.)"""
    if not isinstance(scenarios, pd.DataFrame):
        raise InputError("scenarios must be a pandas DataFrame with columns size_bytes and "
                         f"procs, not {type(scenarios).__name__}")
    levels = parse_paging(paging)
    default_pattern = parse_choice(pattern, PATTERNS, "pattern")
    fault_around = parse_fault_around(fault_around)
    sizes, procs, offsets, touched = _validate(scenarios, levels)
    access_codes = _codes(scenarios, "access", ACCESSES, "write")
    pattern_codes = _codes(scenarios, "pattern", PATTERNS, default_pattern)
    n, k = len(sizes), len(strategies)
    wide = bool(n) and int(sizes.max()) // 128 * int(procs.max()) >= _INT64_SAFE
    inputs = {
        "offset_bytes": offsets, "size_bytes": sizes,
        "touched_bytes": _touched_bytes(sizes, touched), "touched": touched,
        "procs": procs, "fault_around_bytes": fault_around,
        "read_access": (access_codes == ACCESSES.index("read")).astype(np.int64),
    }
    if wide:
        inputs = {name: value.astype(object) if isinstance(value, np.ndarray)
                  and value.dtype == np.int64 else value for name, value in inputs.items()}
    names = metric_names(levels)
    kinds = [code for code in range(len(PATTERNS)) if (pattern_codes == code).any()]
    plans = [_StrategyPlan(strategy, levels, kinds, n) for strategy in strategies]
    dtypes = _probe_dtypes(plans, kinds, pattern_codes, inputs, names, wide)
    outputs = _Outputs(names, dtypes, n * k, pattern_codes)
    applicable = np.empty(n * k, dtype=bool)
    reasons = _Reasons(n * k)
    with np.errstate(all="ignore"):
        for start in range(0, n, CHUNK_ROWS):
            stop = min(n, start + CHUNK_ROWS)
            args = {name: _rows(value, start, stop) for name, value in inputs.items()}
            chunk_patterns = pattern_codes[start:stop]
            if len(kinds) > 1:
                parts = {}
                for kind in kinds:
                    where = np.flatnonzero(chunk_patterns == kind)
                    if where.size:
                        parts[kind] = (where, {name: a[where] if isinstance(a, np.ndarray)
                                               else a for name, a in args.items()})
            for i, plan in enumerate(plans):
                base = i * n + start
                if plan.texts:
                    plan.bits[start:stop] = _reason_bits(plan.condition(**args), stop - start)
                if len(kinds) == 1:
                    outputs.put(plan.functions[kinds[0]](**args),
                                slice(base, base + stop - start))
                    continue
                for kind, (where, part) in parts.items():
                    outputs.put(plan.functions[kind](**part), base + where)
        for i, plan in enumerate(plans):
            block = slice(i * n, (i + 1) * n)
            if plan.texts:
                np.equal(plan.bits, 0, out=applicable[block])
                reasons.set(block, plan.bits, plan.texts)
            else:
                applicable[block] = True
                reasons.codes[block] = -1
            outputs.finish_strategy(block, applicable[block], plan.missing)
    columns = {
        "size_bytes": np.tile(sizes, k), "procs": np.tile(procs, k),
        "offset_bytes": np.tile(offsets, k), "touched": np.tile(touched, k),
        "access": pd.Categorical.from_codes(np.tile(access_codes, k), ACCESSES),
        "pattern": pd.Categorical.from_codes(np.tile(pattern_codes, k), PATTERNS),
        "strategy": pd.Categorical.from_codes(
            np.repeat(np.arange(k, dtype=np.int16), n), list(strategies)),
        "applicable": applicable,
        "reason": pd.Categorical.from_codes(reasons.codes, reasons.texts),
    }
    columns.update(outputs.columns())
    return pd.DataFrame(columns, copy=False)


def _rows(value, start, stop):
    return value[start:stop] if isinstance(value, np.ndarray) else value


def _reason_bits(hits, length) -> np.ndarray:
    """Bit b set where condition b holds (the strategy does not apply)."""
    code = np.zeros(length, dtype=np.int8)
    for bit, hit in enumerate(hits):
        code |= np.asarray(hit, dtype=np.int8) << bit
    return code


def _probe_dtypes(plans, kinds, pattern_codes, inputs, names, wide) -> dict:
    """Metric name -> numpy dtype of its column, from each formula run on one row of each
    pattern (the dtype of a numpy result depends on its inputs' dtypes, not their values).
    Also records in each plan which metrics it lacks (None) for which pattern."""
    dtypes = dict.fromkeys(names)
    for kind in kinds:
        row = int(np.flatnonzero(pattern_codes == kind)[0])
        args = {name: _rows(value, row, row + 1) for name, value in inputs.items()}
        for plan in plans:
            with np.errstate(all="ignore"):
                values = plan.functions[kind](**args)
            for name, value in zip(names, values):
                if value is None:
                    plan.missing.setdefault(name, []).append(kind)
                    continue
                kind_of = "f" if np.asarray(value).dtype.kind == "f" else "i"
                if dtypes[name] != "f":
                    dtypes[name] = kind_of
    return {name: (object if wide and kind != "f" else np.float64 if kind == "f"
                   else np.int64) for name, kind in dtypes.items()}


class _StrategyPlan:
    """One strategy's compiled functions (on the fast column backend) and its state."""

    def __init__(self, strategy, levels, kinds, n):
        condition, self.texts = formulas.conditions_function(strategy, levels)
        self.condition = _on_columns(condition)
        self.functions = {kind: _on_columns(formulas.metrics_function(strategy, levels,
                                                                      PATTERNS[kind]))
                          for kind in kinds}
        self.bits = np.zeros(n, dtype=np.int8) if self.texts else None
        self.missing: dict[str, list[int]] = {}    # metric -> pattern codes lacking it


class _Reasons:
    """Reason texts as categorical codes: -1 (applicable) or an index into `texts`."""

    def __init__(self, length):
        self.codes = np.empty(length, dtype=np.int16)
        self.texts: list[str] = []

    def set(self, block, bits, texts):
        """Codes for one strategy's rows from their condition bits; only the bit sets that
        occur become categories."""
        present = np.flatnonzero(np.bincount(bits, minlength=1 << len(texts)))
        table = np.full(1 << len(texts), -1, dtype=np.int16)
        for combination in present[present > 0]:
            text = formulas.join_reasons(t for b, t in enumerate(texts) if combination >> b & 1)
            if text not in self.texts:
                self.texts.append(text)
            table[combination] = self.texts.index(text)
        self.codes[block] = table[bits]


class _Outputs:
    """Metric columns allocated once and filled in place, then masked where NA."""

    def __init__(self, names, dtypes, length, pattern_codes):
        self.names = names
        self.length = length
        self.values = {name: np.empty(length, dtype=dtypes[name]) for name in names}
        self.not_applicable = np.empty(length, dtype=bool)
        self.missing: list[tuple[slice, str, list[int]]] = []
        self.pattern_codes = pattern_codes

    def put(self, results, rows):
        for name, value in zip(self.names, results):
            if value is None:
                continue
            target = self.values[name]
            if target.dtype == np.int64 and np.asarray(value).dtype.kind == "f":
                target = self.values[name] = target.astype(float)   # not seen by the probe
            target[rows] = value

    def finish_strategy(self, block, applicable, missing):
        np.logical_not(applicable, out=self.not_applicable[block])
        self.missing.extend((block, name, kinds) for name, kinds in missing.items())

    def columns(self) -> dict:
        masks = {}
        for block, name, kinds in self.missing:
            if name not in masks:
                masks[name] = self.not_applicable.copy()
            if len(kinds) == len(np.unique(self.pattern_codes)):
                masks[name][block] = True
            else:
                masks[name][block] |= np.isin(self.pattern_codes, kinds)
        out = {}
        for name in self.names:
            values = self.values[name]
            mask = masks.get(name)
            if mask is None:
                mask = self.not_applicable.copy()
            if values.dtype == np.int64:
                out[name] = pd.arrays.IntegerArray(values, mask)
            elif values.dtype.kind == "f":
                out[name] = pd.arrays.FloatingArray(values, mask)
            else:
                values[mask] = None
                out[name] = values
        return out


# --- a faster backend for the compiled formulas over int64 columns ----------------------------

class _ColumnBackend:
    """Same functions as ptcalc.compute.runtime, with integer division by a power-of-two constant
    done as an arithmetic shift (exact floor division for every int64); everything else is
    ptcalc.compute.runtime's.  Object (Python int) columns and scalars take the generic path."""

    def __init__(self):
        from ptcalc.compute import runtime as numeric

        self._generic = numeric

    def __getattr__(self, name):
        return getattr(self._generic, name)

    @staticmethod
    def floor_div(a, b):
        if (type(b) is int and b > 0 and not b & (b - 1) and isinstance(a, np.ndarray)
                and a.dtype == np.int64):
            return a >> (b.bit_length() - 1)
        return a // b

    @staticmethod
    def ceil_div(a, b):
        if (type(b) is int and b > 0 and not b & (b - 1) and isinstance(a, np.ndarray)
                and a.dtype == np.int64):
            return -((-a) >> (b.bit_length() - 1))
        return -((-a) // b)


_BACKEND = _ColumnBackend()
_ON_COLUMNS: dict = {}


def _on_columns(function):
    """A generated function (ptcalc.compute.formulas) with its `_n` helpers bound to _BACKEND."""
    import types

    fast = _ON_COLUMNS.get(function)
    if fast is None:
        namespace = dict(function.__globals__, _n=_BACKEND)
        fast = types.FunctionType(function.__code__, namespace, function.__name__,
                                  function.__defaults__, function.__closure__)
        _ON_COLUMNS[function] = fast
    return fast

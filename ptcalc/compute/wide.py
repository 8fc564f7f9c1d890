"""Rows whose numbers could pass int64, computed again exactly with Python ints.

ptcalc.compute.frame computes every row in int64.  A product of the formulas stays below
2**63 while size x procs < 2**68 (page tables are at most about size/128 bytes per process,
faults size/4096 per process); rows at or beyond that bound (absurd in practice: 256 PiB x
1, 64 TiB x 4M processes) may wrap, so only those rows are evaluated again over object
(Python int) columns, conditions included, and written back:

- into the int64 column where the exact value fits;
- else the metric's column becomes an object column of Python ints (None where NA), built
  from the int64 column once; the other columns stay Int64 and no other row is recomputed.
"""

from __future__ import annotations

import numpy as np

from ptcalc.compute.typed import INT64_MAX, INT64_MIN

#: size_bytes x procs from which a row is evaluated with Python ints.
WIDE_PRODUCT = 2.0**68


def wide_rows(sizes, procs) -> np.ndarray:
    """Indices of the rows that need exact Python ints (a float product: no overflow)."""
    return np.flatnonzero(sizes.astype(np.float64) * procs >= WIDE_PRODUCT)


def fix_wide_rows(evaluation, values, masks, applicable, reasons, used) -> dict:
    """Recompute the wide rows of `evaluation` (a frame._Evaluation) exactly, in place.
    Returns {metric: (positions, exact values)} for the metrics with a value beyond int64;
    their columns are built by object_column."""
    inputs = evaluation.inputs
    rows = wide_rows(inputs["size_bytes"], inputs["procs"])
    if not rows.size:
        return {}
    plan = evaluation.plan
    exact = {name: (value[rows].astype(object) if value.dtype == np.int64 else value[rows])
             if isinstance(value, np.ndarray) else value for name, value in inputs.items()}
    patterns = evaluation.patterns[rows]
    beyond: dict = {}
    for i, strategy in enumerate(plan.strategies):
        positions = evaluation._rows(i, 0, evaluation.n, rows)
        condition, texts = plan.conditions[i]
        not_applicable = np.zeros(rows.size, dtype=bool)
        if texts:
            bits = reason_bits(condition(**exact), rows.size)
            codes = plan.reason_tables[i][bits]
            np.subtract.at(used, reasons[positions].astype(np.int64) + 1, 1)
            np.add.at(used, codes.astype(np.int64) + 1, 1)
            reasons[positions] = codes
            not_applicable = bits != 0
            applicable[positions] = ~not_applicable
        for kind in np.unique(patterns):
            where = np.flatnonzero(patterns == kind)
            part = {name: value[where] if isinstance(value, np.ndarray) else value
                    for name, value in exact.items()}
            results = plan.kernel(strategy, int(kind))(**part)
            lacking = plan.missing(strategy, int(kind))
            targets = positions[where]
            for j, name in enumerate(plan.metrics):
                masks[name][targets] = True if lacking[j] else not_applicable[where]
                if lacking[j]:
                    continue
                got = np.empty(where.size, dtype=object)
                got[:] = results[j] if isinstance(results[j], np.ndarray) else [results[j]] * \
                    where.size
                _store(name, values, beyond, targets, got)
    return beyond


def _store(name, values, beyond, targets, got):
    column = values[name]
    if column.dtype.kind == "f":
        column[targets] = got.astype(np.float64)
        return
    ints = [int(v) for v in got]
    if name not in beyond and all(INT64_MIN <= v <= INT64_MAX for v in ints):
        column[targets] = np.array(ints, dtype=np.int64)
        return
    old_targets, old_values = beyond.get(name, (np.empty(0, np.int64), np.empty(0, object)))
    exact = np.empty(len(ints), dtype=object)
    exact[:] = ints
    beyond[name] = (np.concatenate([old_targets, targets]),
                    np.concatenate([old_values, exact]))


def object_column(values, mask, positions, exact):
    """An object column of Python ints (None where masked) from an int64 column, with the
    exact values at `positions`."""
    column = values.astype(object)
    column[positions] = exact
    column[mask] = None
    return column


def reason_bits(hits, length) -> np.ndarray:
    """Bit b set where condition b holds (the strategy does not apply)."""
    code = np.zeros(length, dtype=np.int8)
    for bit, hit in enumerate(hits):
        code |= np.asarray(hit, dtype=np.int8) << bit
    return code

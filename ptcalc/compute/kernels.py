"""The generated formulas (ptcalc.compute.formulas) as column kernels for evaluate.

- a faster backend over int64 columns: floor/ceil division and remainder by a power-of-two
  constant as shifts and masks (exact for every int64); everything else is
  ptcalc.compute.runtime's;
- kernels restricted to some metrics: the generated function with only the statements the
  chosen metrics need (dead code removed from its syntax tree once, then cached), so a
  selection computes less, not just writes less;
- the kind of each metric (int, float or absent), probed once per generated function.
"""

from __future__ import annotations

import ast
import functools
import inspect
import types

import numpy as np

from ptcalc.compute import formulas
from ptcalc.compute import runtime as generic


class ColumnBackend:
    """ptcalc.compute.runtime with power-of-two division and remainder of int64 columns done
    as an arithmetic shift and a mask (exact: floor semantics in two's complement).  Object
    (Python int) columns and scalars take the generic path."""

    def __getattr__(self, name):
        return getattr(generic, name)

    @staticmethod
    def _shift(a, b) -> int:
        """log2(b) when b is a positive power-of-two int and `a` an int64 column, else -1."""
        if (type(b) is int and b > 0 and not b & (b - 1) and isinstance(a, np.ndarray)
                and a.dtype == np.int64):
            return b.bit_length() - 1
        return -1

    @classmethod
    def floor_div(cls, a, b):
        shift = cls._shift(a, b)
        return a >> shift if shift >= 0 else a // b

    @classmethod
    def ceil_div(cls, a, b):
        shift = cls._shift(a, b)
        return -((-a) >> shift) if shift >= 0 else -((-a) // b)

    @classmethod
    def mod(cls, a, b):
        return a & (b - 1) if cls._shift(a, b) >= 0 else a % b


BACKEND = ColumnBackend()
_ON_COLUMNS: dict = {}


def on_columns(function):
    """A generated function with its `_n` helpers bound to BACKEND."""
    fast = _ON_COLUMNS.get(function)
    if fast is None:
        namespace = dict(function.__globals__, _n=BACKEND)
        fast = types.FunctionType(function.__code__, namespace, function.__name__,
                                  function.__defaults__, function.__closure__)
        _ON_COLUMNS[function] = fast
    return fast


@functools.cache
def metrics_kernel(strategy: str, levels: int, pattern: str, selected: tuple | None = None):
    """The strategy's generated metrics function on the column backend; with `selected`
    (indices into formulas.metric_names(levels)) one that returns only those metrics, in that
    order, computing only what they need."""
    function = formulas.metrics_function(strategy, levels, pattern)
    if selected is None:
        return on_columns(function)
    return _pruned(function, selected)


def _pruned(function, selected: tuple):
    try:
        tree = ast.parse(inspect.getsource(function))
    except (OSError, TypeError):       # no source (e.g. only bytecode installed): all of it
        full = on_columns(function)
        return lambda **inputs: tuple(full(**inputs)[i] for i in selected)
    definition = tree.body[0]
    *assignments, returned = definition.body
    elements = [returned.value.elts[i] for i in selected]
    needed = {node.id for element in elements for node in ast.walk(element)
              if isinstance(node, ast.Name)}
    kept = []
    for statement in reversed(assignments):      # backwards: keep what a kept line reads
        (target,) = statement.targets
        if target.id in needed:
            kept.append(statement)
            needed |= {node.id for node in ast.walk(statement.value)
                       if isinstance(node, ast.Name)}
    definition.body = [*reversed(kept),
                       ast.Return(ast.Tuple(elements, ast.Load()))]
    definition.decorator_list = []
    ast.fix_missing_locations(tree)
    scope = dict(function.__globals__, _n=BACKEND)
    exec(compile(tree, f"<ptcalc kernel {function.__name__}>", "exec"), scope)  # our own code
    return scope[definition.name]


def conditions_kernel(strategy: str, levels: int):
    """(function on the column backend, reason texts) of the strategy's conditions."""
    function, texts = formulas.conditions_function(strategy, levels)
    return on_columns(function), texts


_PROBE_ROW = {"offset_bytes": 4096, "size_bytes": 2**31, "touched_bytes": 2**30,
              "touched": 0.5, "procs": 3, "read_access": 1}


@functools.cache
def metric_kinds(strategy: str, levels: int, pattern: str) -> tuple:
    """Per metric of formulas.metric_names(levels): "i" (whole numbers), "f" (floats) or None
    (the metric does not exist for the strategy).  The dtype of a numpy result follows from
    its inputs' dtypes, not their values: one row of int64 (and float64 touched) decides."""
    row = {name: np.array([value], dtype=float if name == "touched" else np.int64)
           for name, value in _PROBE_ROW.items()}
    with np.errstate(all="ignore"):
        values = metrics_kernel(strategy, levels, pattern)(**row, fault_around_bytes=65536)
    return tuple(None if value is None else
                 "f" if np.asarray(value).dtype.kind == "f" else "i" for value in values)


def column_kinds(strategies, levels: int, patterns) -> dict:
    """Metric name -> "f" if any of the strategies gives it as a float under any of the
    patterns, else "i" (also for a metric no strategy has: an all-NA Int64 column)."""
    names = formulas.metric_names(levels)
    kinds = dict.fromkeys(names, "i")
    for strategy in strategies:
        for pattern in patterns:
            for name, kind in zip(names, metric_kinds(strategy, levels, pattern)):
                if kind == "f":
                    kinds[name] = "f"
    return kinds

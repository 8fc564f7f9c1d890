"""Evaluate whole DataFrames of scenarios: validate the columns, run the compiled formulas
over row chunks of numpy columns, write the long format once.

How it stays near the cost of writing its output:

- no per-row Python: the dense prefix is exact integer arithmetic over whole columns
  (ptcalc.compute.columns); the kernels (ptcalc.compute.kernels) run over CHUNK_ROWS scenarios
  at a time, so their temporaries stay in cache, and shift instead of dividing;
- every output column is allocated once and written once, chunk by chunk while its values
  are in cache: metric values and their NA masks, applicable, reason codes; the scenario
  columns are broadcast copies, strings are categorical codes;
- large frames of dense scenarios run compiled row loops instead (ptcalc.compute.loops):
  the same formulas per row, intermediates in registers, each value stored once, chunks
  spread over the CPUs, the scenario columns built beside them;
- `metrics=` runs kernels pruned to the chosen metrics: less is computed, not only written;
- the DataFrame is assembled without copying (no block consolidation, no concat).

Integers stay exact: the rows whose size x procs could take a product past int64 (size x
procs >= 2**68: none in practice) are computed again with Python ints
(ptcalc.compute.wide); a metric column becomes an object column of Python ints only when one
of its values is beyond int64, every other column stays Int64 and no other row is slowed.

Memory (4-level paging, every metric): 172 bytes per output row (scenario 34, strategy,
applicable and reason codes 3, 15 metrics x (8 value + 1 mask)), plus about 60 bytes per
scenario of validated inputs while it runs, plus O(CHUNK_ROWS) temporaries.  5-level adds 9
bytes per row.  evaluate_chunks bounds the output held at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ptcalc.compute import columns as scenario_columns
from ptcalc.compute import formulas, kernels, loops, wide
from ptcalc.compute.kernels import BACKEND as _BACKEND  # noqa: F401  (tests use it)
from ptcalc.compute.typed import RESULT_COLUMNS, SCENARIO_COLUMNS, frame_attrs
from ptcalc.errors import InputError
from ptcalc.inputs.scenario import (
    ACCESSES,
    PATTERNS,
    parse_choice,
    parse_fault_around,
    parse_paging,
)

_touched_bytes = scenario_columns.touched_bytes      # the name the tests use
# Scenarios per slice of the kernels: 32 Ki x 8 B = 256 KiB per temporary array.
CHUNK_ROWS = 1 << 15
ORDERS = ("strategy", "scenario")

__all__ = ["CHUNK_ROWS", "ORDERS", "RESULT_COLUMNS", "SCENARIO_COLUMNS", "Plan",
           "evaluate_frame", "parse_metrics"]


def parse_metrics(metrics, levels) -> tuple[str, ...]:
    """Validated metric names in the order given (None: all, in output order)."""
    names = formulas.metric_names(levels)
    if metrics is None:
        return names
    if isinstance(metrics, str):
        metrics = [part.strip() for part in metrics.split(",") if part.strip()]
    chosen = []
    for metric in metrics:
        if metric not in names:
            import difflib

            near = difflib.get_close_matches(str(metric), names, n=1, cutoff=0.4)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise InputError(f"metric {metric!r} is not known; {hint}known: {', '.join(names)}")
        if metric not in chosen:
            chosen.append(metric)
    if not chosen:
        raise InputError(f"metrics is empty; name at least one of: {', '.join(names)}")
    return tuple(chosen)


class Plan:
    """What does not change from chunk to chunk: options, strategies, chosen metrics, their
    kernels and dtypes, and the reason categories."""

    def __init__(self, strategies, *, pattern="dense", paging=4, fault_around=65536,
                 metrics=None, order="strategy", patterns=None):
        self.levels = parse_paging(paging)
        self.pattern = parse_choice(pattern, PATTERNS, "pattern")
        self.fault_around = parse_fault_around(fault_around)
        self.order = parse_choice(order, ORDERS, "order")
        self.strategies = tuple(strategies)
        self.metrics = parse_metrics(metrics, self.levels)
        every = formulas.metric_names(self.levels)
        self.selected = None if self.metrics == every else tuple(
            every.index(name) for name in self.metrics)
        kinds = kernels.column_kinds(self.strategies, self.levels, patterns or PATTERNS)
        self.kinds = {name: kinds[name] for name in self.metrics}
        self.conditions = [kernels.conditions_kernel(s, self.levels) for s in self.strategies]
        self.reasons = _all_reasons(self.conditions)
        # per strategy: condition bits -> reason code (-1: applicable)
        self.reason_tables = []
        for _, texts in self.conditions:
            table = np.full(1 << len(texts), -1, dtype=np.int16)
            for bits in range(1, 1 << len(texts)):
                table[bits] = self.reasons.index(_reason_text(texts, bits))
            self.reason_tables.append(table)
        self.code_dtype = np.int8 if len(self.reasons) < 127 else np.int16

    def kernel(self, strategy, kind):
        return kernels.metrics_kernel(strategy, self.levels, PATTERNS[kind], self.selected)

    def missing(self, strategy, kind) -> list[bool]:
        """Per chosen metric: True where the strategy lacks it under that pattern."""
        kinds = kernels.metric_kinds(strategy, self.levels, PATTERNS[kind])
        every = formulas.metric_names(self.levels)
        return [kinds[every.index(name)] is None for name in self.metrics]

    def attrs(self) -> dict:
        return frame_attrs(self.strategies, self.levels, self.pattern, self.fault_around,
                           self.metrics)


def _reason_text(texts, bits):
    return formulas.join_reasons(t for b, t in enumerate(texts) if bits >> b & 1)


def _all_reasons(conditions) -> list[str]:
    """Every reason text the strategies can give, in a fixed order (strategy, then bits)."""
    reasons: list[str] = []
    for _, texts in conditions:
        for bits in range(1, 1 << len(texts)):
            text = _reason_text(texts, bits)
            if text not in reasons:
                reasons.append(text)
    return reasons


def evaluate_frame(scenarios, strategies, *, pattern="dense", paging=4, fault_around=65536,
                   metrics=None, order="strategy", plan=None, all_reasons=False, work=None):
    """The long format: one row per scenario and strategy, the scenario columns, strategy,
    applicable, reason and the chosen metrics (all by default).  order="strategy" (default):
    all scenarios of the first strategy, then the next; order="scenario": the strategies of
    the first scenario, then the next.  `reason` has the categories that occur (all the
    strategies can give with all_reasons=True, for frames that must concatenate).  (A dask
    DataFrame goes to ptcalc.compute.dask, which calls this function partition by
    partition; ptcalc.compute.chunks slices big inputs.)"""
    if not isinstance(scenarios, pd.DataFrame):
        raise InputError("scenarios must be a pandas DataFrame with columns size_bytes and "
                         f"procs, not {type(scenarios).__name__}")
    scenario_columns.reject_duplicates(scenarios)
    pattern_codes = None
    if plan is None:
        default = parse_choice(pattern, PATTERNS, "pattern")
        pattern_codes = scenario_columns.codes(scenarios, "pattern", PATTERNS, default)
        present = np.flatnonzero(np.bincount(pattern_codes, minlength=len(PATTERNS)))
        # dtypes from the patterns that occur (float expected values only under random)
        plan = Plan(strategies, pattern=pattern, paging=paging, fault_around=fault_around,
                    metrics=metrics, order=order,
                    patterns=[PATTERNS[code] for code in present] or [default])
    return _Evaluation(scenarios, plan, pattern_codes, work).frame(all_reasons)


class _Evaluation:
    """One frame of scenarios through a Plan."""

    def __init__(self, scenarios, plan: Plan, pattern_codes=None, work=None):
        self.plan = plan
        self.work = work        # output rows of the whole input (evaluate_chunks), for loops
        sizes, procs, offsets, touched = scenario_columns.validate(scenarios, plan.levels)
        self.access = scenario_columns.codes(scenarios, "access", ACCESSES, "write")
        self.patterns = (scenario_columns.codes(scenarios, "pattern", PATTERNS, plan.pattern)
                         if pattern_codes is None else pattern_codes)
        self.n = len(sizes)
        self.inputs = {
            "offset_bytes": offsets, "size_bytes": sizes,
            "touched_bytes": scenario_columns.touched_bytes(sizes, touched),
            "touched": touched, "procs": procs, "fault_around_bytes": plan.fault_around,
            "read_access": (self.access == ACCESSES.index("read")).astype(np.int64),
        }
        self.kinds = [code for code in range(len(PATTERNS)) if (self.patterns == code).any()]

    def _rows(self, i, start, stop, where=None):
        """Output positions of strategy i for scenarios start..stop (or start + where)."""
        n, k = self.n, len(self.plan.strategies)
        if self.plan.order == "strategy":
            base = i * n + start
            return slice(base, i * n + stop) if where is None else base + where
        if where is None:
            return slice(start * k + i, stop * k, k)
        return (start + where) * k + i

    def frame(self, all_reasons=False):
        plan, n = self.plan, self.n
        k = len(plan.strategies)
        length = n * k
        values = {name: np.empty(length, dtype=np.float64 if plan.kinds[name] == "f"
                                 else np.int64) for name in plan.metrics}
        masks = {name: np.empty(length, dtype=bool) for name in plan.metrics}
        applicable = np.empty(length, dtype=bool)
        reasons = np.empty(length, dtype=plan.code_dtype)
        used = np.zeros(len(plan.reasons) + 1, dtype=np.int64)  # rows per code + 1 (0: none)
        missing = {(s, kind): plan.missing(s, kind) for s in plan.strategies
                   for kind in self.kinds}
        # the scenario columns are built beside the compiled loops when they run
        beside = {"scenario": self._scenario_columns, "strategy": self._strategy_codes}
        looped = self._looped(values, masks, applicable, reasons, used, beside)
        with np.errstate(all="ignore"):
            for start in range(0, n if len(looped) < k else 0, CHUNK_ROWS):
                stop = min(n, start + CHUNK_ROWS)
                args = {name: value[start:stop] if isinstance(value, np.ndarray) else value
                        for name, value in self.inputs.items()}
                parts = self._pattern_parts(args, start, stop)
                for i, strategy in enumerate(plan.strategies):
                    if i in looped:
                        continue
                    rows = self._rows(i, start, stop)
                    condition, texts = plan.conditions[i]
                    if texts:
                        bits = wide.reason_bits(condition(**args), stop - start)
                        codes = plan.reason_tables[i][bits]
                        used += np.bincount(codes + 1, minlength=len(used))
                        reasons[rows] = codes
                        not_applicable = bits != 0
                        applicable[rows] = ~not_applicable
                    else:
                        reasons[rows] = -1
                        applicable[rows] = True
                        not_applicable = False
                    for kind, where, part in parts:
                        results = plan.kernel(strategy, kind)(**part)
                        lacking = missing[(strategy, kind)]
                        na = not_applicable if where is None or not texts else \
                            not_applicable[where]
                        target = rows if where is None else self._rows(i, start, stop, where)
                        for j, name in enumerate(plan.metrics):
                            if lacking[j]:
                                values[name][target] = 0
                                masks[name][target] = True
                                continue
                            column = values[name]
                            value = results[j]
                            if column.dtype == np.int64 and np.asarray(value).dtype.kind == "f":
                                column = values[name] = column.astype(float)  # probe missed
                            column[target] = value
                            masks[name][target] = na
        beyond = wide.fix_wide_rows(self, values, masks, applicable, reasons, used)
        out = beside["scenario"]() if callable(beside["scenario"]) else beside["scenario"]
        codes = beside["strategy"]() if callable(beside["strategy"]) else beside["strategy"]
        out["strategy"] = pd.Categorical.from_codes(codes, plan.strategies)
        out["applicable"] = applicable
        out["reason"] = self._reason_column(reasons, used, all_reasons)
        for name in plan.metrics:
            if name in beyond:
                out[name] = wide.object_column(values[name], masks[name], *beyond[name])
            elif values[name].dtype.kind == "f":
                out[name] = pd.arrays.FloatingArray(values[name], masks[name])
            else:
                out[name] = pd.arrays.IntegerArray(values[name], masks[name])
        result = pd.DataFrame(out, copy=False)
        result.attrs = plan.attrs()
        return result

    def _looped(self, values, masks, applicable, reasons, used, beside) -> set:
        """The strategies whose rows the compiled loops filled (ptcalc.compute.loops): a
        large frame of dense scenarios only.  The functions in `beside` run in the loops'
        threads (their results replace them), when the loops run."""
        plan = self.plan
        if self.kinds != [loops.DENSE] or not loops.wanted(self.n * len(plan.strategies),
                                                              self.work):
            return set()
        chosen = [i for i, s in enumerate(plan.strategies) if loops.has_loop(s, plan.levels)]
        failed = loops.run(self, chosen, values, masks, applicable, reasons, used,
                           beside=beside)
        return set(chosen) - set(failed)

    def _pattern_parts(self, args, start, stop):
        """[(pattern code, row indices within the chunk or None for all, kernel inputs)]."""
        if len(self.kinds) == 1:
            return [(self.kinds[0], None, args)]
        chunk = self.patterns[start:stop]
        parts = []
        for kind in self.kinds:
            where = np.flatnonzero(chunk == kind)
            if where.size:
                parts.append((kind, where, {name: value[where] if isinstance(value, np.ndarray)
                                            else value for name, value in args.items()}))
        return parts

    def _broadcast(self, column):
        """A scenario column repeated for every strategy, in the output order."""
        k = len(self.plan.strategies)
        out = np.empty(self.n * k, dtype=column.dtype)
        if self.plan.order == "strategy":
            out.reshape(k, self.n)[:] = column
        else:
            out.reshape(self.n, k)[:] = column[:, None]
        return out

    def _scenario_columns(self) -> dict:
        inputs = self.inputs
        return {
            "size_bytes": self._broadcast(inputs["size_bytes"]),
            "procs": self._broadcast(inputs["procs"]),
            "offset_bytes": self._broadcast(inputs["offset_bytes"]),
            "touched": self._broadcast(inputs["touched"]),
            "access": pd.Categorical.from_codes(self._broadcast(self.access), ACCESSES),
            "pattern": pd.Categorical.from_codes(self._broadcast(self.patterns), PATTERNS),
        }

    def _strategy_codes(self):
        k = len(self.plan.strategies)
        codes = np.empty(self.n * k, dtype=np.int8 if k < 127 else np.int16)
        if self.plan.order == "strategy":
            codes.reshape(k, self.n)[:] = np.arange(k, dtype=codes.dtype)[:, None]
        else:
            codes.reshape(self.n, k)[:] = np.arange(k, dtype=codes.dtype)
        return codes

    def _reason_column(self, codes, used, all_reasons):
        categories = self.plan.reasons
        if not all_reasons and len(categories):
            present = used[1:] > 0
            if not present.all():          # keep the categories that occur, in their order
                table = np.full(len(categories) + 1, -1, dtype=codes.dtype)
                table[:-1][present] = np.arange(int(present.sum()), dtype=codes.dtype)
                codes = table[codes]       # index -1 -> the last entry, -1
                categories = [c for c, p in zip(categories, present) if p]
        return pd.Categorical.from_codes(codes, categories)

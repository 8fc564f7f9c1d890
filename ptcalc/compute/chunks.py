"""ptcalc.evaluate_chunks: the long format one bounded chunk at a time.

One Plan (kernels, dtypes, reason categories) serves every chunk, so chunks agree on their
columns, dtypes and `reason` categories (every reason the strategies can give); each chunk is
validated and evaluated only when the iterator reaches it, so memory holds one chunk of
output beside the caller's input.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import pandas as pd

from ptcalc.compute.frame import Plan, evaluate_frame
from ptcalc.errors import InputError
from ptcalc.inputs.scenario import PATTERNS, parse_choice


def evaluate_chunks(scenarios, strategies, *, rows=1 << 20, metrics=None, pattern="dense",
                    paging=4, fault_around=65536, order="strategy") -> Iterator:
    """Frames of at most `rows` output rows (at least one scenario each) for a DataFrame of
    scenarios or an iterable of them.  Arguments are checked at once, values chunk by
    chunk; dtypes follow the first frame (float expected values if it has a pattern
    column or pattern="random")."""
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise InputError(f"rows {rows!r} is not accepted; use a whole number of output rows "
                         "per chunk, at least 1 (default 1048576)")
    if not isinstance(scenarios, pd.DataFrame) and (
            isinstance(scenarios, (str, bytes, dict)) or not isinstance(scenarios, Iterable)):
        raise InputError("scenarios must be a pandas DataFrame with columns size_bytes and "
                         f"procs, or an iterable of them, not {type(scenarios).__name__}")
    frames = iter([scenarios] if isinstance(scenarios, pd.DataFrame) else scenarios)
    first = next(frames, None)
    # dtypes as evaluate() gives the first frame: float where the random pattern makes
    # expected values, only if a pattern column (or pattern="random") asks for it
    patterns = PATTERNS if isinstance(first, pd.DataFrame) and "pattern" in first else (
        parse_choice(pattern, PATTERNS, "pattern"),)
    plan = Plan(strategies, pattern=pattern, paging=paging, fault_around=fault_around,
                metrics=metrics, order=order, patterns=patterns)
    per_chunk = max(1, rows // max(1, len(plan.strategies)))
    # the whole work, when it is known (one DataFrame): the compiled loops pay off on it
    work = len(scenarios) * len(plan.strategies) if isinstance(scenarios, pd.DataFrame) \
        else None
    return _chunks(itertools.chain([] if first is None else [first], frames), plan, per_chunk,
                   work)


def _chunks(frames, plan, per_chunk, work=None):
    for frame in frames:
        if not isinstance(frame, pd.DataFrame):
            raise InputError("scenarios must be pandas DataFrames with columns size_bytes "
                             f"and procs; the iterable gave a {type(frame).__name__}")
        for start in range(0, max(len(frame), 1), per_chunk):
            part = frame.iloc[start:start + per_chunk]
            if len(part) or not len(frame):
                yield evaluate_frame(part, plan.strategies, plan=plan, all_reasons=True,
                                     work=work)

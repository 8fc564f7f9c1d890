"""Sweeps: the cross product of the values given per option, one row per scenario and strategy,
evaluated and written chunk by chunk so that memory stays bounded whatever the size.

Row order: size varies slowest, then offset, touched, access, pattern, procs; the strategies of
one scenario are consecutive rows (in the order asked).  See ptcalc.sweep.axes for the list and
range syntax.
"""

from __future__ import annotations

from dataclasses import dataclass

from ptcalc.errors import InputError
from ptcalc.inputs import rules
from ptcalc.inputs.scenario import DEFAULT_FAULT_AROUND, parse_fault_around, parse_paging
from ptcalc.sweep.axes import (
    Axis,
    ChoiceAxis,
    parse_choice_axis,
    parse_offset_axis,
    parse_procs_axis,
    parse_size_axis,
    parse_strategy_axis,
    parse_touched_axis,
)
from ptcalc.units import format_size

#: More scenarios than this would run for days; refuse them up front.
MAX_SCENARIOS = 10**9
#: Rows (scenario x strategy) per evaluated chunk: about 40 MB of results at a time.
CHUNK_ROWS = 1 << 18
#: Table and markdown output is built in memory: at most this many rows.
TABLE_ROW_LIMIT = 50_000


@dataclass(frozen=True)
class Sweep:
    size: Axis
    offset: Axis
    touched: Axis
    access: ChoiceAxis
    pattern: ChoiceAxis
    procs: Axis
    strategies: tuple[str, ...]
    paging: int = 4
    fault_around: int = DEFAULT_FAULT_AROUND
    metrics: tuple[str, ...] | None = None      # None: every metric
    columns: tuple[str, ...] | None = None      # the columns written, in order; None: all

    @property
    def axes(self):
        """The axes in nesting order, slowest first."""
        return (self.size, self.offset, self.touched, self.access, self.pattern, self.procs)

    @property
    def scenarios(self) -> int:
        count = 1
        for axis in self.axes:
            count *= len(axis)
        return count

    @property
    def rows(self) -> int:
        return self.scenarios * len(self.strategies)


def make_sweep(size, procs, offset="0", touched="1", access="write", pattern="dense",
               strategies=None, paging=4, fault_around=DEFAULT_FAULT_AROUND,
               columns=None) -> Sweep:
    """Parse the option texts (see ptcalc.sweep.axes) into a validated Sweep.  columns: the
    columns to write, in order (names or a comma list: scenario columns, strategy,
    applicable, reason, metrics); only the metrics among them are evaluated, as
    ptcalc.evaluate(metrics=...); None for every column."""
    levels = parse_paging(paging)
    chosen, metrics = _parse_columns(columns, levels)
    sweep = Sweep(
        size=parse_size_axis(size), offset=parse_offset_axis(offset),
        touched=parse_touched_axis(touched), access=parse_choice_axis(access, "access"),
        pattern=parse_choice_axis(pattern, "pattern"), procs=parse_procs_axis(procs),
        strategies=parse_strategy_axis(strategies), paging=levels,
        fault_around=parse_fault_around(fault_around), metrics=metrics, columns=chosen)
    if rules.region_overflows(rules.whole_pages(sweep.size.maximum), sweep.offset.maximum,
                              levels):
        raise InputError(rules.fits_message(
            levels, where=f"--size {format_size(sweep.size.maximum)} at --offset "
                          f"{format_size(sweep.offset.maximum)}"))
    if sweep.scenarios > MAX_SCENARIOS:
        raise InputError(f"the sweep has {sweep.scenarios:,} scenarios "
                         f"({' x '.join(str(len(a)) for a in sweep.axes)}); at most "
                         f"{MAX_SCENARIOS:,}: use coarser steps")
    return sweep


def _parse_columns(columns, levels: int):
    """(columns in order, metrics among them) of a --columns text or list; (None, None) for
    every column.  InputError names an unknown key and the known ones."""
    if columns is None:
        return None, None
    from ptcalc.compute.formulas import metric_names
    from ptcalc.compute.typed import RESULT_COLUMNS, SCENARIO_COLUMNS

    parts = columns.split(",") if isinstance(columns, str) else list(columns)
    chosen = tuple(dict.fromkeys(str(part).strip() for part in parts if str(part).strip()))
    known = (*SCENARIO_COLUMNS, *RESULT_COLUMNS, *metric_names(levels))
    for key in chosen:
        if key not in known:
            import difflib

            near = difflib.get_close_matches(key, known, n=1, cutoff=0.4)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise InputError(f"column {key!r} is not known; {hint}known: {', '.join(known)}")
    if not chosen:
        raise InputError(f"--columns is empty; name at least one of: {', '.join(known)}")
    metrics = tuple(key for key in chosen if key in metric_names(levels))
    # no metric asked: evaluate the cheapest one (the frame always has some), write none
    return chosen, metrics or ("leaf_page_bytes",)


def scenario_frame(sweep: Sweep, start: int, stop: int):
    """The scenarios with flat indices [start, stop) as a DataFrame (evaluate's columns)."""
    import numpy as np
    import pandas as pd

    index = np.arange(start, stop, dtype=np.int64)
    digits = {}
    for axis in reversed(sweep.axes):
        digits[axis.name] = index % len(axis)
        index = index // len(axis)
    return pd.DataFrame({
        "size_bytes": sweep.size.at(digits["size"]),
        "procs": sweep.procs.at(digits["procs"]),
        "offset_bytes": sweep.offset.at(digits["offset"]),
        "touched": sweep.touched.at(digits["touched"]).astype(float),
        "access": pd.Categorical.from_codes(digits["access"], sweep.access.choices),
        "pattern": pd.Categorical.from_codes(digits["pattern"], sweep.pattern.choices),
    })


def _plan(sweep: Sweep):
    """One evaluation plan for every chunk: scenario-major rows (the strategies of a
    scenario together, written as evaluated: no reordering copy), the chosen metrics, every
    reason category."""
    from ptcalc.compute.frame import Plan

    return Plan(sweep.strategies, paging=sweep.paging, fault_around=sweep.fault_around,
                metrics=sweep.metrics, order="scenario", patterns=sweep.pattern.choices)


def _column_dtypes(sweep: Sweep, plan) -> dict:
    """Columns every chunk must hold as exact Python ints: those that are beyond int64 for
    one scenario per pattern at the sweep's largest size and count (so that every chunk of
    a file has the same types)."""
    import pandas as pd

    from ptcalc.compute.frame import evaluate_frame

    probe = pd.DataFrame({
        "size_bytes": [sweep.size.maximum] * len(sweep.pattern),
        "procs": [sweep.procs.maximum] * len(sweep.pattern),
        "offset_bytes": [0] * len(sweep.pattern),
        "pattern": list(sweep.pattern.choices)})
    result = evaluate_frame(probe, sweep.strategies, plan=plan, all_reasons=True)
    return {name: dtype for name, dtype in result.dtypes.items() if str(dtype) == "object"
            and name not in ("strategy", "access", "pattern", "reason")}


def chunks(sweep: Sweep, chunk_rows: int = CHUNK_ROWS):
    """Yield (scenarios done, result DataFrame) chunk by chunk, in row order."""
    from ptcalc.compute.frame import evaluate_frame

    plan = _plan(sweep)
    dtypes = _column_dtypes(sweep, plan)
    per_chunk = max(1, chunk_rows // len(sweep.strategies))
    for start in range(0, sweep.scenarios, per_chunk):
        stop = min(sweep.scenarios, start + per_chunk)
        result = evaluate_frame(scenario_frame(sweep, start, stop), sweep.strategies,
                                plan=plan, all_reasons=True)
        for name, dtype in dtypes.items():
            if result[name].dtype != dtype:
                result[name] = result[name].astype(dtype)
        if sweep.columns is not None:
            result = result[list(sweep.columns)]
        yield stop, result


def run_sweep(sweep: Sweep, writer, progress=None, chunk_rows: int = CHUNK_ROWS) -> int:
    """Evaluate every chunk into `writer` (see ptcalc.sweep.writers); returns rows written.

    Chunks are written by other threads while the next ones are evaluated (numpy, pyarrow
    and file writes release the GIL): see ptcalc.sweep.pipeline.  An error on either side is
    raised here, after those threads have stopped."""
    from ptcalc.sweep.pipeline import Pipeline

    chunk_rows = min(chunk_rows, getattr(writer, "max_chunk_rows", chunk_rows))
    rows = 0
    with Pipeline(writer) as pipeline:
        for done, frame in chunks(sweep, chunk_rows):
            pipeline.write(frame)
            rows += len(frame)
            if progress is not None:
                progress.update(done)
    writer.close()
    if progress is not None:
        progress.finish(sweep.scenarios)
    return rows

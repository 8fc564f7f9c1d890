"""The compiled row loops of large dense frames: each strategy's formulas in one pass per row
chunk, written straight into evaluate's output columns, on every CPU the process may use.

The numpy kernels (ptcalc.compute.kernels) make a temporary column of every intermediate
value and copy each result into the output; the loops of ptcalc.compute._loops (the same
generated statements, per row) keep the intermediates in registers and store each value
once.  numba compiles them on first use and caches the machine code beside _loops.py (or in
numba's user cache when that folder is read-only), so a later process loads it in
milliseconds.  Small frames (see wanted()), the random pattern, and machines without a
working numba take the numpy kernels: the results are the same (tests compare the two).

PTCALC_LOOPS=0 turns the loops off, PTCALC_LOOPS=1 uses them at any size; PTCALC_THREADS=N
sets the threads (default: the CPUs this process may run on, at most 8).
"""

from __future__ import annotations

import itertools
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ptcalc.compute import _loops, formulas, kernels
from ptcalc.inputs.scenario import PATTERNS

#: A frame uses the compiled loops when it has MIN_ROWS output rows (scenarios x strategies)
#: or more and the work it belongs to (the frame, or the whole input of evaluate_chunks) has
#: FIRST_ROWS, or numba is loaded already: importing numba and loading the cached code (about
#: 0.7 s) costs more than the numpy kernels save on less work than that (4 Mi rows).
MIN_ROWS = 1 << 18
FIRST_ROWS = 1 << 22
#: Scenarios per call of a loop: its inputs and outputs (about 200 bytes a row) stay in L2.
CHUNK_ROWS = 1 << 14

_COMPILED: dict = {}
_STATE: dict = {}


def wanted(rows: int, work: int | None = None) -> bool:
    """Whether a frame of `rows` output rows, part of `work` rows in all (None: the frame
    alone), should run the compiled loops, and numba can compile them here.
    PTCALC_LOOPS=0: never; PTCALC_LOOPS=1: at any size (tests)."""
    setting = os.environ.get("PTCALC_LOOPS", "")
    if setting == "0":
        return False
    enough = FIRST_ROWS if _STATE.get("numba") is None else MIN_ROWS
    if setting != "1" and (rows < MIN_ROWS or max(rows, work or 0) < enough):
        return False
    return enabled()


def enabled() -> bool:
    """Whether numba can compile the loops here (imported once, on the first large frame)."""
    if "numba" not in _STATE:
        try:
            import numba
        except Exception:            # missing, or built for another numpy: the numpy kernels
            numba = None
        _STATE["numba"] = numba
    return _STATE["numba"] is not None


def has_loop(strategy: str, levels: int) -> bool:
    return (strategy, levels) in _loops.LOOPS


def threads() -> int:
    wanted = os.environ.get("PTCALC_THREADS")
    if wanted and wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    return max(1, min(8, len(os.sched_getaffinity(0))))


def compiled(strategy: str, levels: int):
    """The numba-compiled loop of a strategy (None if numba fails on it: numpy kernels)."""
    key = (strategy, levels)
    if key not in _COMPILED:
        numba = _STATE["numba"]
        try:
            _COMPILED[key] = numba.njit(cache=True, nogil=True, error_model="numpy")(
                _loops.LOOPS[key])
        except Exception:
            _COMPILED[key] = None
    return _COMPILED[key]


def python_loop(strategy: str, levels: int):
    """The same loop as plain Python (slow; for tests)."""
    return _loops.LOOPS[(strategy, levels)]


def run(evaluation, chosen, values, masks, applicable, reasons, used, *, loop=None,
        beside=None) -> list:
    """Fill the rows of the strategies `chosen` (indices into the plan's strategies) in
    `values` and `masks` (metric -> column), `applicable`, `reasons` and the per-code counts
    `used`, as ptcalc.compute.frame's numpy path would.  `beside` ({name: function}, called
    with no arguments) runs in the same threads; its results replace the functions in the
    dict (which stay functions if no loop runs).  Returns the strategies the compiled loop
    failed on (the caller gives them to the numpy kernels)."""
    beside = {} if beside is None else beside
    plan, n = evaluation.plan, evaluation.n
    loop = compiled if loop is None else loop
    names = formulas.metric_names(plan.levels)
    functions, failed = {}, []
    for i in chosen:
        function = loop(plan.strategies[i], plan.levels)
        if function is None:
            failed.append(i)
        else:
            functions[i] = function
    if not functions:
        return failed
    inputs = evaluation.inputs
    columns = [inputs[name] for name in _ARGUMENTS]
    fault_around = plan.fault_around
    # per strategy: the dtype of a column for each metric nobody asked for (the loop stores
    # every metric), and the metrics the strategy lacks (NA)
    sink_types = {i: [np.float64 if kind == "f" else np.int64
                      for kind in kernels.metric_kinds(plan.strategies[i], plan.levels, "dense")]
                  for i in functions}
    lacking = {i: plan.missing(plan.strategies[i], DENSE) for i in functions}

    def call(i, start, stop, sinks):
        rows = evaluation._rows(i, start, stop)
        views = tuple(values[name][rows] if name in values else sinks[sink_types[i][m]]
                      for m, name in enumerate(names))
        functions[i](*(column[start:stop] for column in columns[:5]), fault_around,
                     columns[5][start:stop], fault_around.bit_length() - 1, views,
                     applicable[rows], reasons[rows], plan.reason_tables[i])
        return rows

    # compile (or load) each loop here, on two rows typed as every chunk's: an error of
    # numba's then only sends that strategy to the numpy kernels
    with warnings.catch_warnings():     # numba's (e.g. a cache it cannot write) are not ours
        warnings.simplefilter("ignore")
        for i in list(functions):
            try:
                call(i, 0, min(n, 2), {dtype: np.empty(2, dtype=dtype) for dtype in _SINKS})
            except Exception:
                del functions[i]
                failed.append(i)

    def chunk(bounds):
        start, stop = bounds
        sinks = {dtype: np.empty(stop - start, dtype=dtype) for dtype in _SINKS}
        counts = np.zeros(len(used), dtype=np.int64)
        for i in functions:
            rows = call(i, start, stop, sinks)
            codes, fits = reasons[rows], applicable[rows]
            conditions = bool(plan.conditions[i][1])
            if conditions:
                counts += np.bincount(codes.astype(np.int64) + 1, minlength=len(used))
            else:
                codes[...] = -1
                fits[...] = True
            for name, lacks in zip(plan.metrics, lacking[i]):
                if lacks:
                    masks[name][rows] = True
                elif conditions:
                    np.logical_not(fits, out=masks[name][rows])
                else:
                    masks[name][rows] = False
        return counts

    starts = _chunk_bounds(n)
    workers = max(1, min(threads(), len(starts)))
    if workers == 1:
        counts = [chunk(bounds) for bounds in starts]
        beside.update((name, function()) for name, function in beside.items())
    else:      # numpy and the compiled loops release the GIL: the threads run side by side
        with ThreadPoolExecutor(workers, thread_name_prefix="ptcalc-loop") as pool:
            extra = {name: pool.submit(function) for name, function in beside.items()}
            counts = list(pool.map(chunk, starts))
            beside.update((name, future.result()) for name, future in extra.items())
    for count in counts:
        used += count
    return failed


def _chunk_bounds(n: int) -> list:
    """(start, stop) of each call: CHUNK_ROWS rows, the last one at least two rows long when
    there are two, because a one-row view is contiguous where the others of the scenario
    order are strided, and numba would compile the loop again for it (in a worker thread)."""
    edges = [*range(0, n, CHUNK_ROWS), n]
    if len(edges) > 2 and edges[-1] - edges[-2] < 2:
        del edges[-2]
    return list(itertools.pairwise(edges))


DENSE = PATTERNS.index("dense")
_SINKS = (np.int64, np.float64)
_ARGUMENTS = ("offset_bytes", "size_bytes", "touched_bytes", "touched", "procs", "read_access")

"""`ptcalc.evaluate` against the cost of writing its output, and its memory.

Scenarios: the first release's benchmark mix (sizes to 256 GiB in 4 KiB / 2 MiB
/ 1 GiB steps, aligned offsets, 1..10000 processes, touched 1/4..1, read or write) for the
nine strategies of the first release (NINE).  10**6 scenarios (10**5 in quick mode).

1. evaluate.bandwidth: wall time of evaluate over the time numpy takes to copy an array of
   as many bytes as the frame holds (`array.copy()`: a fresh destination, page faults
   included, as evaluate's output is fresh memory), the two alternating round by round.
   This is the output-bandwidth limit measured on the machine in the same run; each round's
   evaluate is divided by the fastest copy of the run (copies stall on page zeroing now and
   then, and a stalled copy is not the limit).  Goal 3.0.
   The detail line also gives the ratio against a copy into memory already faulted in
   (np.copyto), the optimistic limit no new frame can reach.
2. evaluate.one_metric: evaluate(metrics=["pt_bytes_total"]) over evaluate of every metric.
   The one-metric frame holds 46 of 172 bytes per row (27 %); the fixed part (validation,
   the dense prefix, conditions) does not shrink.  Goal 0.5: cost falls with the output.
3. evaluate.beyond_int64: the same scenarios with one row per 10**5 whose products pass
   int64 (a 32 PiB region mapped by 4 Mi processes, 5-level paging) over the frame without
   them.  Only those rows are recomputed with Python ints, but the columns that hold such
   a value become object columns (Python ints), which costs one boxing pass per such
   column.  Goal 2.0.
4. evaluate.chunked_rss_bytes_per_row: peak RSS (VmHWM) of a fresh process that streams
   evaluate_chunks over 10**7 scenarios x 9 (10**6 in quick mode; scenarios generated
   chunk by chunk, each chunk reduced to a sum), in bytes per output row.  The bound is a
   constant (one chunk of 2**20 rows, about 180 MB, plus the interpreter and libraries), so
   per row it falls with the work: goal 16 bytes per row at 9 x 10**7 rows (1.4 GiB; quick
   mode, 9 x 10**6 rows, is measured against the same goal x 10).
5. evaluate.rss_bytes_per_row: peak RSS (VmHWM) growth of evaluate (one frame of 10**6 x 9, 10**5
   in quick mode) per output row, against the 172 bytes the frame holds plus the inputs
   evaluated.  Goal 250 bytes per row.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from harness import CHILD_ENV, Figure, interleaved_calls, milliseconds, ratios

ROOT = Path(__file__).resolve().parents[2]
NINE = ("private-4k", "thp-shmem", "hugetlb-2m", "hugetlb-2m-pmdshare", "hugetlb-1g",
        "ptshare", "file-pt", "mshare", "threads")
GOAL_BANDWIDTH = 3.0
GOAL_ONE_METRIC = 0.5
GOAL_BEYOND_INT64 = 2.0
GOAL_CHUNKED_BYTES_PER_ROW = 16.0
GOAL_RSS_BYTES_PER_ROW = 250.0


def scenarios(n: int, seed: int = 2026):
    import numpy as np
    import pandas as pd

    GiB = 2**30
    rng = np.random.default_rng(seed)
    unit = rng.choice(np.array([4096, 2**21, 2**30]), n, p=[0.3, 0.4, 0.3])
    most = np.where(unit == 2**30, 1024, 256 * GiB // unit)
    return pd.DataFrame({
        "size_bytes": (rng.random(n) * most).astype(np.int64) * unit + unit,
        "procs": rng.integers(1, 10_001, n),
        "offset_bytes": (rng.random(n) * (512 * GiB // unit)).astype(np.int64) * unit,
        "touched": rng.choice([0.25, 0.5, 0.75, 1.0], n),
        "access": pd.Categorical(rng.choice(["read", "write"], n)),
    })


def _bandwidth(frame, rounds: int) -> list[Figure]:
    import numpy as np

    import ptcalc

    result = ptcalc.evaluate(frame, NINE)
    nbytes = int(result.memory_usage(index=False).sum())
    per_row = nbytes / len(result)
    del result
    source = np.ones(nbytes // 8, dtype=np.int64)
    target = np.empty_like(source)
    target[:] = 0
    times = interleaved_calls({
        "copy": source.copy,
        "copyto": lambda: np.copyto(target, source),
        "evaluate": lambda: ptcalc.evaluate(frame, NINE),
    }, rounds)
    # the limit is the best copy of the run: page zeroing stalls (THP compaction, other
    # load) hit single copies by up to 10x on a shared VM, and a stalled copy is no limit
    fresh = [t / min(times["copy"]) for t in times["evaluate"]]
    faulted = [t / min(times["copyto"]) for t in times["evaluate"]]
    rows = len(frame) * len(NINE)
    return [Figure(
        key="evaluate.bandwidth",
        title=f"evaluate {len(frame):.0e} x 9 / copy of its output",
        samples=fresh, goal=GOAL_BANDWIDTH,
        detail=(f"evaluate {milliseconds(times['evaluate'])}, copy of {nbytes / 1e6:.0f} MB "
                f"({per_row:.0f} B x {rows:,} rows) {milliseconds(times['copy'])} = "
                f"{nbytes / min(times['copy']) / 1e9:.1f} GB/s fresh; into faulted memory "
                f"{milliseconds(times['copyto'])} ({nbytes / min(times['copyto']) / 1e9:.1f} "
                f"GB/s), evaluate over that {min(faulted):.1f}/{_median(faulted):.1f}/"
                f"{max(faulted):.1f}x"))]


def _one_metric(frame, rounds: int) -> Figure:
    import ptcalc

    times = interleaved_calls({
        "all": lambda: ptcalc.evaluate(frame, NINE),
        "one": lambda: ptcalc.evaluate(frame, NINE, metrics=["pt_bytes_total"]),
    }, rounds)
    return Figure(key="evaluate.one_metric",
                  title="evaluate metrics=[one] / every metric",
                  samples=ratios(times["one"], times["all"]), goal=GOAL_ONE_METRIC,
                  detail=f"one {milliseconds(times['one'])}, all {milliseconds(times['all'])}; "
                         "output 46 / 172 bytes per row")


def _beyond_int64(frame, rounds: int) -> Figure:
    import pandas as pd

    import ptcalc

    mixed = frame.copy()
    rows = mixed.index[::100_000]
    mixed.loc[rows, "size_bytes"] = 2**55
    mixed.loc[rows, "procs"] = 4 * 2**20
    mixed.loc[rows, "offset_bytes"] = 0
    plain = frame.copy()
    check = ptcalc.evaluate(mixed, NINE, paging=5)
    wide = [name for name in check.columns if check[name].dtype == object]
    assert wide and "pt_bytes_per_process" not in wide, wide
    del check
    times = interleaved_calls({
        "plain": lambda: ptcalc.evaluate(plain, NINE, paging=5),
        "mixed": lambda: ptcalc.evaluate(mixed, NINE, paging=5),
    }, rounds)
    del pd
    return Figure(key="evaluate.beyond_int64",
                  title=f"evaluate with {len(rows)} rows beyond int64 / without",
                  samples=ratios(times["mixed"], times["plain"]), goal=GOAL_BEYOND_INT64,
                  detail=f"with {milliseconds(times['mixed'])}, without "
                         f"{milliseconds(times['plain'])}; object columns: {', '.join(wide)}")


_STREAM = textwrap.dedent('''\
    import importlib.util, sys, time
    sys.path.insert(0, sys.argv[1] + "/benchmarks")     # harness (not figures/: inspect.py)
    spec = importlib.util.spec_from_file_location(
        "figures_evaluate", sys.argv[1] + "/benchmarks/figures/evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    NINE, scenarios = module.NINE, module.scenarios
    import ptcalc

    def high_water():    # VmHWM of this mm (ru_maxrss would count the parent at fork)
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    n, step, mode = int(sys.argv[2]), 10**5, sys.argv[3]
    started = time.perf_counter()
    if mode == "chunks":
        frames = (scenarios(min(step, n - s), seed=s) for s in range(0, n, step))
        total = 0
        for part in ptcalc.evaluate_chunks(frames, NINE):
            total += int(part["pt_bytes_total"].sum())
    else:
        frame = scenarios(n)
        ptcalc.evaluate(frame.iloc[:10], NINE)          # imports and caches
        base = high_water()
        result = ptcalc.evaluate(frame, NINE)
    peak = high_water()
    print(peak, base if mode != "chunks" else 0, time.perf_counter() - started)
''')


def _rss(n: int, mode: str) -> tuple[int, int, float]:
    out = subprocess.run([sys.executable, "-c", _STREAM, str(ROOT), str(n), mode],
                         capture_output=True, text=True, env=CHILD_ENV, check=True)
    peak, base, wall = out.stdout.split()
    return int(peak) * 1024, int(base) * 1024, float(wall)


def _memory(quick: bool) -> list[Figure]:
    n_stream = 10**6 if quick else 10**7
    peak, _, wall = _rss(n_stream, "chunks")
    rows = n_stream * len(NINE)
    goal = GOAL_CHUNKED_BYTES_PER_ROW * (10 if quick else 1)
    n_frame = 10**5 if quick else 10**6
    frame_peak, frame_base, frame_wall = _rss(n_frame, "frame")
    frame_rows = n_frame * len(NINE)
    return [
        Figure(key="evaluate.chunked_rss_bytes_per_row",
               title=f"evaluate_chunks {n_stream:.0e} x 9: peak RSS per row",
               samples=[peak / rows], goal=goal, unit="B",
               detail=f"peak RSS {peak / 2**20:.0f} MiB for {rows:,} rows in {wall:.1f} s"),
        Figure(key="evaluate.rss_bytes_per_row",
               title=f"evaluate {n_frame:.0e} x 9: RSS growth per row",
               samples=[(frame_peak - frame_base) / frame_rows],
               goal=GOAL_RSS_BYTES_PER_ROW, unit="B",
               detail=f"{(frame_peak - frame_base) / 2**20:.0f} MiB over the input's "
                      f"{frame_base / 2**20:.0f} MiB process in {frame_wall:.1f} s"),
    ]


def _median(values):
    import statistics

    return statistics.median(values)


def _measured(build, *args) -> list[Figure]:
    """The figures of one builder, or none when this ptcalc cannot run it (an older release
    without metrics= or evaluate_chunks), said on stderr."""
    try:
        result = build(*args)
    except Exception as error:
        print(f"  evaluate: {build.__name__} not measured: {type(error).__name__}",
              file=sys.stderr)
        return []
    return result if isinstance(result, list) else [result]


def figures(quick: bool) -> list[Figure]:
    # after PYTHONPATH: an older release given there is the one measured
    sys.path.append(str(ROOT))
    rounds = 3 if quick else 7
    memory = _measured(_memory, quick)
    frame = scenarios(10**5 if quick else 10**6)
    out = _measured(_bandwidth, frame, rounds)
    out += _measured(_one_metric, frame, rounds)
    out += _measured(_beyond_int64, frame, rounds)
    return out + memory

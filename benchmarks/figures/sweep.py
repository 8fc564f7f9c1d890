"""`ptcalc sweep` against pyarrow writing the same table, and its peak memory.

1. sweep.csv, sweep.parquet: wall time of `ptcalc sweep ... --output FILE` (a fresh process:
   start-up, evaluation and writing) over the time pyarrow takes to write the same table,
   already in memory, to the same format (pyarrow.csv.write_csv, pyarrow.parquet.write_table:
   the table is the one the sweep wrote, read back).  Rounds alternate the two.  Goal: 2x.
2. sweep.rss_<format>: peak RSS of a sweep (10**7 scenarios, 190 million rows; 10**5 in quick
   mode) per output format.  Goal: 1024 MiB.  The sweep holds a few chunks of at most 2**18
   rows at a time, so the figure does not grow with the sweep.  Full mode needs the disk
   space of its files: about 2.3 GB (Parquet), 32 GB (CSV) and 103 GB (JSON lines).

19 strategies: 10**5 scenarios are 1.9 million rows (about 300 MB of CSV).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from harness import Figure, milliseconds, peak_rss_of, ptcalc_command, run_child

GOAL_RATIO = 2.0
GOAL_RSS_MIB = 1024
#: --size values giving 10**N scenarios with --procs 1..10000/1
SIZES = {5: "1GiB..10GiB/1GiB", 6: "1GiB..100GiB/1GiB", 7: "1GiB..1000GiB/1GiB"}


def _sweep_argv(power: int, path: Path) -> list[str]:
    return [*ptcalc_command(), "sweep", "--size", SIZES[power], "--procs", "1..10000/1",
            "--no-progress", "--output", str(path)]


def _pyarrow_write(fmt: str, table, path: Path) -> float:
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    started = time.perf_counter()
    if fmt == "csv":
        pa_csv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return time.perf_counter() - started


def _ratio_figures(quick: bool, directory: Path) -> list[Figure]:
    import pyarrow.parquet as pq

    rounds = 2 if quick else 5
    power = 5
    written = directory / "table.parquet"
    run_child(_sweep_argv(power, written))
    table = pq.read_table(written)
    out = []
    for fmt in ("csv", "parquet"):
        ours, theirs = [], []
        for _ in range(rounds):
            target = directory / f"sweep.{fmt}"
            ours.append(run_child(_sweep_argv(power, target))[0])
            size = target.stat().st_size
            target.unlink()
            theirs.append(_pyarrow_write(fmt, table, directory / f"arrow.{fmt}"))
            (directory / f"arrow.{fmt}").unlink()
        out.append(Figure(
            f"sweep.{fmt}", f"sweep 10**{power} x 19 -o .{fmt} / pyarrow writing it",
            [a / b for a, b in zip(ours, theirs, strict=True)], GOAL_RATIO,
            detail=(f"sweep {milliseconds(ours)} (a fresh process) vs pyarrow "
                    f"{milliseconds(theirs)} ({table.num_rows:,} rows, file "
                    f"{size / 2**20:,.0f} MiB)")))
    return out


def _rss_figures(quick: bool, directory: Path) -> list[Figure]:
    power = 5 if quick else 7
    formats = ("parquet", "csv") if quick else ("parquet", "csv", "jsonl")
    out = []
    for fmt in formats:
        target = directory / f"rss.{fmt}"
        wall, rss = peak_rss_of(_sweep_argv(power, target))
        size = target.stat().st_size
        target.unlink()
        out.append(Figure(
            f"sweep.rss_{fmt}", f"sweep 10**{power} x 19 -o .{fmt}: peak RSS",
            [rss / 1024], GOAL_RSS_MIB, unit="MiB",
            detail=f"{wall:.1f} s, file {size / 2**20:,.0f} MiB"))
    return out


def figures(quick: bool) -> list[Figure]:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        # memory first, while this process is small (peak_rss_of starts a fresh parent anyway)
        out = _rss_figures(quick, directory)
        out = _ratio_figures(quick, directory) + out
    return out


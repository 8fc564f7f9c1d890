"""Start-up and throughput of ptcalc against their baselines, side by side, in one run.

    python benchmarks/bench_startup_throughput.py [--quick] [--runs N] [--repeats N]

1. Start-up: median wall time of a cold `ptcalc compare` (a fresh process each time, the
   console script of this environment) against a minimal typer app with one command run by
   the same interpreter; runs alternate so that machine load hits both alike.
   Target: ratio <= 1.3.
2. Throughput: `ptcalc.evaluate` of 10**6 scenarios for all nine strategies against a
   hand-written numpy computation of one metric (private-4k pt_bytes_total, checked equal to
   evaluate's column) on the same scenarios; medians of alternating repeats, after one warm-up
   each.  Target: ratio <= 40.
3. Memory: peak RSS (ru_maxrss of the child) of `ptcalc sweep` over 10**6 scenarios written
   to Parquet (and to CSV unless --quick).  Target: <= 1 GiB.

Wall times are what the targets are about; CPU times (user + system of the process) are
printed beside them because they are less sensitive to other load on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

MINIMAL_APP = textwrap.dedent('''\
    import typer

    app = typer.Typer()


    @app.command()
    def hello(name: str = "world") -> None:
        typer.echo(f"hello {name}")


    if __name__ == "__main__":
        app()
''')

GiB = 2**30


# Children may write bytecode caches, as any Python does by default (pip compiles them at
# install time): with PYTHONDONTWRITEBYTECODE set (as in some sandboxes) a module edited since
# its cache was written would be compiled again in every cold run of an editable install.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_child(argv, **kwargs) -> tuple[float, float, int, int]:
    """(wall s, cpu s, peak RSS KiB, exit code) of one child process.  The peak RSS is the
    child's ru_maxrss, which counts the parent's RSS at fork: measure it while the parent is
    small (before numpy and pandas are imported)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=CHILD_ENV, **kwargs)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} failed ({process.returncode}): {error}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, process.returncode


def ptcalc_command() -> list[str]:
    script = shutil.which("ptcalc", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "ptcalc"]


def startup(runs: int) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        app = Path(directory, "minimal_typer_app.py")
        app.write_text(MINIMAL_APP)
        commands = {"minimal typer app": [sys.executable, str(app)],
                    "ptcalc compare": [*ptcalc_command(), "compare"]}
        times = {name: [] for name in commands}
        for i in range(runs + 2):
            for name, argv in commands.items():
                wall, cpu, _, _ = run_child(argv)
                if i >= 2:                      # two warm-up rounds fill the page cache
                    times[name].append((wall, cpu))
    result = {name: (statistics.median(w for w, _ in values),
                     statistics.median(c for _, c in values)) for name, values in times.items()}
    result["commands"] = commands
    return result


def scenarios(n: int):
    """Sizes up to 256 GiB in 4 KiB or 2 MiB steps or up to 1 TiB in 1 GiB steps, offsets
    aligned to the same unit, 1..10000 processes, touched 1/4..1, read or write."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(2026)
    unit = rng.choice(np.array([4096, 2**21, 2**30]), n, p=[0.3, 0.4, 0.3])
    most = np.where(unit == 2**30, 1024, 256 * GiB // unit)
    return pd.DataFrame({
        "size_bytes": (rng.random(n) * most).astype(np.int64) * unit + unit,
        "procs": rng.integers(1, 10_001, n),
        "offset_bytes": (rng.random(n) * (512 * GiB // unit)).astype(np.int64) * unit,
        "touched": rng.choice([0.25, 0.5, 0.75, 1.0], n),
        "access": rng.choice(["read", "write"], n),
    })


def reference(frame):
    """private-4k pt_bytes_total by hand: PTE, PMD and PUD tables over the touched prefix."""
    import numpy as np

    size = frame["size_bytes"].to_numpy()
    offset = frame["offset_bytes"].to_numpy()
    procs = frame["procs"].to_numpy()
    pages = -(-size // 4096)
    touched = np.ceil(frame["touched"].to_numpy() * pages).astype(np.int64) * 4096
    end = offset + touched
    tables = ((-(-end // 2**21) - offset // 2**21) + (-(-end // 2**30) - offset // 2**30)
              + (-(-end // 2**39) - offset // 2**39))
    return np.where(touched > 0, procs * tables * 4096, 0)


def throughput(n: int, repeats: int) -> dict:
    import numpy as np

    import ptcalc

    frame = scenarios(n)
    started = time.perf_counter()
    result = ptcalc.evaluate(frame)
    first = time.perf_counter() - started
    assert len(result) == 9 * n
    private = result[result["strategy"] == "private-4k"]["pt_bytes_total"].to_numpy("int64")
    assert np.array_equal(private, reference(frame)), "reference and evaluate differ"
    del result, private
    reference(frame)
    timings = {"reference": [], "evaluate": []}
    for _ in range(repeats):
        for name, work in (("reference", lambda: reference(frame)),
                           ("evaluate", lambda: ptcalc.evaluate(frame))):
            wall, cpu = time.perf_counter(), time.process_time()
            out = work()
            timings[name].append((time.perf_counter() - wall, time.process_time() - cpu))
            del out
    summary = {name: (statistics.median(w for w, _ in values),
                      statistics.median(c for _, c in values), min(w for w, _ in values))
               for name, values in timings.items()}
    summary["first evaluate"] = first
    return summary


def sweep_rss(fmt: str) -> tuple[float, int, int]:
    """(wall s, peak RSS KiB, rows) of a 10**6-scenario sweep written to a file."""
    with tempfile.TemporaryDirectory(dir=".") as directory:
        path = Path(directory, f"sweep.{fmt}")
        argv = [*ptcalc_command(), "sweep", "--size", "1GiB..100GiB/1GiB",
                "--procs", "1..10000/1", "--no-progress", "--output", str(path)]
        wall, _, rss, _ = run_child(argv)
        size = path.stat().st_size
    return wall, rss, size


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer runs, and no CSV sweep (the slow part)")
    parser.add_argument("--runs", type=int, default=None, help="start-up runs per command")
    parser.add_argument("--repeats", type=int, default=None, help="throughput repeats")
    parser.add_argument("--scenarios", type=int, default=10**6)
    args = parser.parse_args(argv)
    runs = args.runs or (9 if args.quick else 21)
    repeats = args.repeats or (3 if args.quick else 7)

    print(f"python {sys.version.split()[0]} on {os.uname().sysname} {os.uname().release}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")

    formats = ["parquet"] if args.quick else ["parquet", "csv"]
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        formats = ["csv"]
    # first, while this process is small: a child's ru_maxrss includes its parent at fork
    memory = {fmt: sweep_rss(fmt) for fmt in formats}

    up = startup(runs)
    (base_wall, base_cpu), (ours_wall, ours_cpu) = up["minimal typer app"], up["ptcalc compare"]
    startup_ratio = ours_wall / base_wall
    print(f"\n1. start-up: median of {runs} cold runs each, alternating")
    print(f"   minimal typer app   {base_wall * 1000:7.1f} ms wall  {base_cpu * 1000:7.1f} ms cpu")
    print(f"   ptcalc compare      {ours_wall * 1000:7.1f} ms wall  {ours_cpu * 1000:7.1f} ms cpu"
          f"   ({' '.join(up['commands']['ptcalc compare'])})")
    print(f"   ratio {startup_ratio:.2f} wall ({ours_cpu / base_cpu:.2f} cpu); target <= 1.3: "
          f"{'PASS' if startup_ratio <= 1.3 else 'FAIL'}")

    th = throughput(args.scenarios, repeats)
    ref_wall, ref_cpu, ref_best = th["reference"]
    ev_wall, ev_cpu, ev_best = th["evaluate"]
    throughput_ratio = ev_wall / ref_wall
    print(f"\n2. throughput: {args.scenarios:,} scenarios, median of {repeats} alternating "
          "repeats after a warm-up")
    print(f"   numpy private-4k pt_bytes_total  {ref_wall * 1000:8.1f} ms wall "
          f"{ref_cpu * 1000:8.1f} ms cpu  (best {ref_best * 1000:.1f} ms)")
    print(f"   ptcalc.evaluate, 9 strategies    {ev_wall * 1000:8.1f} ms wall "
          f"{ev_cpu * 1000:8.1f} ms cpu  (best {ev_best * 1000:.1f} ms; first call "
          f"{th['first evaluate'] * 1000:.0f} ms)")
    print(f"   ratio {throughput_ratio:.1f} wall ({ev_cpu / ref_cpu:.1f} cpu, "
          f"{ev_best / ref_best:.1f} best); target <= 40: "
          f"{'PASS' if throughput_ratio <= 40 else 'FAIL'}")

    print("\n3. memory: ptcalc sweep --size 1GiB..100GiB/1GiB --procs 1..10000/1 "
          "(10**6 scenarios, 9 x 10**6 rows), peak RSS of the child")
    worst = 0
    for fmt, (wall, rss, size) in memory.items():
        worst = max(worst, rss)
        print(f"   --output sweep.{fmt:<8} peak RSS {rss / 1024:7.1f} MiB  {wall:6.1f} s  "
              f"file {size / 2**20:8.1f} MiB")
    print(f"   target <= 1024 MiB: {'PASS' if worst <= 1024 * 1024 else 'FAIL'}")

    print(f"\nstart-up ratio {startup_ratio:.2f} (target 1.3), throughput ratio "
          f"{throughput_ratio:.1f} (target 40), sweep peak RSS {worst / 1024:.0f} MiB "
          "(target 1024)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

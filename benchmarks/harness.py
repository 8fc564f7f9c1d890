"""What every benchmark figure shares: the Figure record and interleaved timing.

A figure is a list of samples (lower is better), each measured side by side with its
baseline in the same round, so that load on the machine hits both alike: a start-up ratio
is `ptcalc X` over the one-command typer app run just before it, a throughput ratio is
ptcalc's time over the physical or hand-written floor measured in the same round.

Figure modules live in benchmarks/figures/<area>.py and expose
`figures(quick: bool) -> list[Figure]`; benchmarks/run.py collects and prints them.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

MINIMAL_TYPER_APP = textwrap.dedent('''\
    import typer

    app = typer.Typer()


    @app.command()
    def hello(name: str = "world") -> None:
        typer.echo(f"hello {name}")


    if __name__ == "__main__":
        app()
''')

# Children may write bytecode caches, as any Python does by default (pip compiles them at
# install time): with PYTHONDONTWRITEBYTECODE set (as in some sandboxes) a module edited since
# its cache was written would be compiled again in every cold run of an editable install.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass
class Figure:
    """One measured figure: samples from interleaved rounds, lower is better."""

    key: str                 # stable identifier, e.g. "startup.compare_cpu"
    title: str               # what a reader sees
    samples: list[float]     # one per round (a ratio, seconds, MiB, ...)
    goal: float              # the target the median must not exceed
    unit: str = "x"          # "x" for a ratio
    detail: str = ""         # the absolute figures behind a ratio, for the reader
    extra: dict = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    @property
    def met(self) -> bool:
        return self.median <= self.goal


def run_child(argv: Sequence[str], *, env: dict | None = None, stdin=None,
              cwd: str | None = None) -> tuple[float, float, int]:
    """(wall s, cpu s, peak RSS KiB) of one child process, which must exit 0.  The peak RSS is
    the child's ru_maxrss, which counts the parent's RSS at fork: measure it from a small
    parent or through `peak_rss_of`, which starts the child from a fresh interpreter."""
    started = time.perf_counter()
    process = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               stdin=stdin if stdin is not None else subprocess.DEVNULL,
                               env=env or CHILD_ENV, cwd=cwd)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if code != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited {code}: {error.strip()[-400:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def peak_rss_of(argv: Sequence[str], **kwargs) -> tuple[float, int]:
    """(wall s, peak RSS KiB) of argv started from a fresh, small Python parent, so that the
    figure is the child's own whatever the benchmark process holds."""
    launcher = ("import os,subprocess,sys,time;t=time.perf_counter();"
                "p=subprocess.Popen(sys.argv[1:],stdout=subprocess.DEVNULL);"
                "_,s,u=os.wait4(p.pid,0);c=os.waitstatus_to_exitcode(s);"
                "print(time.perf_counter()-t,u.ru_maxrss,c)")
    output = subprocess.run([sys.executable, "-c", launcher, *argv], check=False,
                            capture_output=True, text=True, env=CHILD_ENV, **kwargs)
    wall, rss, code = output.stdout.split()
    if int(code) != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited {code}")
    return float(wall), int(rss)


def ptcalc_command() -> list[str]:
    """The console script of this environment (what a user runs), else `python -m ptcalc`."""
    script = shutil.which("ptcalc", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "ptcalc"]


def typer_app(directory: str) -> list[str]:
    """argv of the one-command typer app, written into directory."""
    app = Path(directory, "minimal_typer_app.py")
    app.write_text(MINIMAL_TYPER_APP)
    return [sys.executable, str(app)]


def interleaved_children(commands: dict[str, Sequence[str]], rounds: int,
                         warmup: int = 2) -> dict[str, list[tuple[float, float]]]:
    """(wall, cpu) of each command per round, the commands alternating within a round.
    The warm-up rounds fill the page cache and are not returned."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for i in range(rounds + warmup):
        for name, argv in commands.items():
            wall, cpu, _ = run_child(argv)
            if i >= warmup:
                times[name].append((wall, cpu))
    return times


def interleaved_calls(calls: dict[str, Callable[[], object]], rounds: int,
                      warmup: int = 1) -> dict[str, list[float]]:
    """Wall seconds of each call per round, alternating within a round (results dropped
    before the next call, so one call's garbage does not slow the next)."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for i in range(rounds + warmup):
        for name, call in calls.items():
            started = time.perf_counter()
            result = call()
            elapsed = time.perf_counter() - started
            del result
            if i >= warmup:
                times[name].append(elapsed)
    return times


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Round-by-round ratios (each numerator over the baseline of the same round)."""
    return [a / b for a, b in zip(numerators, denominators, strict=True)]


def walls(samples: Sequence[tuple[float, float]]) -> list[float]:
    return [wall for wall, _ in samples]


def milliseconds(samples: Sequence[float]) -> str:
    """'min/median/max ms' of seconds, for a figure's detail."""
    return (f"{min(samples) * 1e3:.0f}/{statistics.median(samples) * 1e3:.0f}/"
            f"{max(samples) * 1e3:.0f} ms")

"""`ptcalc inspect` of one process with 10,000 mappings (goal: 0.5 s).

The process is the synthetic snapshot of tests/inspect/many_mappings.py: 5,000 private file
mappings and 5,000 MAP_SHARED files of 64 KiB, every page present.  Each sample is the wall
time of `ptcalc inspect --maps FILE` (a fresh process: start-up, parsing, predicting the
tables, the what-if of every shared object, the table output as a user gets it: the 20
largest shared objects listed, the rest counted in one line, the what-if summed over all
5,000); the one-command typer app runs before it in the same round, for reference, and
`--objects 0` (every object listed: 5,000 table rows) after it, shown in the detail.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from harness import Figure, interleaved_children, milliseconds, ptcalc_command, typer_app

GOAL_SECONDS = 0.5
ROOT = Path(__file__).resolve().parents[2]


def figures(quick: bool) -> list[Figure]:
    sys.path.insert(0, str(ROOT))
    from tests.inspect.many_mappings import snapshot

    rounds = 2 if quick else 7
    with tempfile.TemporaryDirectory() as name:
        path = Path(name, "many.snap")
        path.write_text(snapshot(private=5000, shared=5000))
        commands = {"typer": typer_app(name),
                    "inspect": [*ptcalc_command(), "inspect", "--maps", str(path)],
                    "every": [*ptcalc_command(), "inspect", "--maps", str(path),
                              "--objects", "0"]}
        times = interleaved_children(commands, rounds, warmup=1)
    walls = [wall for wall, _ in times["inspect"]]
    base = [wall for wall, _ in times["typer"]]
    cpu = sorted(c for _, c in times["inspect"])[len(walls) // 2]
    return [Figure("inspect.many_mappings", "inspect of 10,000 mappings (wall)", walls,
                   GOAL_SECONDS, unit="s",
                   detail=(f"{milliseconds(walls)}, cpu median {cpu * 1e3:.0f} ms; typer app "
                           f"{milliseconds(base)}; every object listed "
                           f"{milliseconds([wall for wall, _ in times['every']])}"))]

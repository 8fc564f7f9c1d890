"""Start-up of every ptcalc command against a one-command typer app (goal: 1.3x).

Each round runs, for every command, the typer app and then the command, each a fresh process
(the console script of this environment); a command's sample is its wall time over the typer
app's run just before it, so load on the machine hits both alike.  A warm-up round fills the
page cache first.  The CPU times (user + system) are given beside: they move less with load.
`report` and notebook execution are not start-up bound and are left out.
"""

from __future__ import annotations

import statistics
import tempfile

from harness import Figure, interleaved_children, milliseconds, ptcalc_command, ratios, typer_app

GOAL = 1.3

#: figure key -> the arguments after `ptcalc` (defaults everywhere: what a user types first)
COMMANDS = {
    "compare": ["compare"],
    "compare_cpu": ["compare", "--cpu", "skylake-sp"],
    "formula": ["formula", "private-4k", "pt_bytes_total"],
    "strategies": ["strategies"],
    "cpus": ["cpus"],
    "presets": ["presets"],
    "plan": ["plan"],
    "op": ["op", "fork"],
    "layout": ["compare", "--layout", "redis-fork-24g"],
    "inspect_help": ["inspect", "--help"],
}


def figures(quick: bool) -> list[Figure]:
    rounds = 3 if quick else 11
    with tempfile.TemporaryDirectory() as directory:
        app = typer_app(directory)
        ptcalc = ptcalc_command()
        commands = {}
        for key, args in COMMANDS.items():
            commands[f"typer before {key}"] = app
            commands[key] = [*ptcalc, *args]
        times = interleaved_children(commands, rounds, warmup=1)
    out = []
    for key in COMMANDS:
        base, samples = times[f"typer before {key}"], times[key]
        base_walls, walls = [wall for wall, _ in base], [wall for wall, _ in samples]
        cpu = statistics.median(c for _, c in samples)
        base_cpu = statistics.median(c for _, c in base)
        out.append(Figure(
            f"startup.{key}", f"ptcalc {' '.join(COMMANDS[key])} / typer app, wall",
            ratios(walls, base_walls), GOAL,
            detail=(f"{milliseconds(walls)} vs {milliseconds(base_walls)}; cpu median "
                    f"{cpu * 1e3:.0f} vs {base_cpu * 1e3:.0f} ms ({cpu / base_cpu:.2f}x)")))
    return out

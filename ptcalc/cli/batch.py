"""`ptcalc compare --from FILE`: one scenario per line of an inventory (ptcalc.inputs.batch),
every strategy for each, in any output format.  Rows: `line` (the file's line number),
`name`, then compare's columns with the scenario (size_bytes, procs, ...) on every row."""

from __future__ import annotations

import sys

import typer

#: The scenario columns a table shows before compare's.
BATCH_COLUMNS = (("line", "line", "count"), ("name", "name", "text"),
                 ("size_bytes", "size", "size"), ("procs", "procs", "count"),
                 ("ram_bytes", "RAM", "size"), ("offset_bytes", "offset", "size"),
                 ("touched", "touched", "fraction"), ("access", "access", "text"),
                 ("pattern", "pattern", "text"))
#: A progress bar from this many lines on (on a terminal; --progress forces it).
PROGRESS_LINES = 200


def read_source(path: str) -> tuple[str, str]:
    """(text, name for messages) of a file, or of stdin for '-'."""
    from ptcalc.errors import InputError

    if path == "-":
        return sys.stdin.read(), "<stdin>"
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read(), path
    except FileNotFoundError:
        raise InputError(f"--from {path!r}: no such file; give a CSV inventory or '-' for "
                         "stdin") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError(f"--from {path!r}: cannot read it: {reason}") from None


def compare_batch(path, preset, given, strategy, paging, fault_around, tlb, reserved,
                  decimal, fmt, units, progress, every_strategy) -> None:
    from ptcalc.cli.compare_scenario import add_tlb, parse_ram, table_rows, verdicts, with_upstream
    from ptcalc.compute.scalar import scenario_rows
    from ptcalc.inputs import batch
    from ptcalc.inputs.presets import choose
    from ptcalc.inputs.scenario import make_scenario, parse_strategies
    from ptcalc.present import settings
    from ptcalc.present.tables import COMPARE_COLUMNS, render
    from ptcalc.units import parse_size

    text, source = read_source(path)
    lines = batch.read_lines(text, source)
    in_file = set(lines[0].values)
    # the default preset only when the file gives neither size nor procs
    base = choose(preset, given, required=(),
                  default_preset=not in_file & {"size", "procs"}).values
    strategies = parse_strategies(strategy)

    def scenario_of(values):
        size = parse_size(values["size"], what="size", decimal=decimal)
        scenario = make_scenario(size, values["procs"], values["offset"], values["touched"],
                                 values["access"], values["pattern"], paging, fault_around)
        return scenario, parse_ram(values.get("ram"), decimal)

    bar = _progress(len(lines), progress)
    rows = []
    for done, line in enumerate(lines, start=1):
        values = batch.merged(line, base, source)
        batch.check_line(line, values, source, scenario_of)
        scenario, ram = scenario_of(values)
        found, _, _ = add_tlb(scenario_rows(scenario, strategies), scenario, tlb, "")
        found, _ = verdicts(found, scenario, ram, reserved, decimal)
        label = {"line": line.number, "name": line.values.get("name")}
        rows += [{**label, "ram_bytes": ram, **row} for row in with_upstream(found)]
        bar.update(done)
    bar.finish(len(lines))
    keys = list(dict.fromkeys(key for row in rows for key in row))    # one CSV header
    rows = [{key: row.get(key) for key in keys} for row in rows]
    if fmt in ("json", "csv"):
        typer.echo(render(rows, fmt, units))
        return
    shown, left_out = table_rows(rows, every_strategy)
    columns = settings.verdict_columns(COMPARE_COLUMNS, shown)
    scenarios = f"{len(lines):,} scenario" + ("s" if len(lines) > 1 else "")
    title = (f"{scenarios} from {source} x {len(strategies)} strategies; empty cells take "
             "the options' values, a preset's or the defaults")
    typer.echo(render(settings.for_table(shown), fmt, units, columns=(*BATCH_COLUMNS,
                                                                       *columns),
                      title=title, notes=[left_out] if left_out else None))


def _progress(total: int, enabled: bool | None):
    from ptcalc.sweep.writers import Progress, stderr_is_tty

    if enabled is None:
        enabled = stderr_is_tty() and total >= PROGRESS_LINES
    return Progress(total, what="lines", enabled=enabled)

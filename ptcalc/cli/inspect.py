"""`ptcalc inspect`: the command (registered by ptcalc.cli.main through COMMAND_MODULES).

Imports only typer and the standard library at module level.
"""

from __future__ import annotations

import sys

import typer

from ptcalc.cli import options

HELP = """Measure live processes (or snapshots from another host): VmPTE, the page-table bytes
predicted from the pages they really map, and for every object they map MAP_SHARED what
each sharing strategy would cost for the same layout.  Reading other users' processes
needs root (/proc/PID/pagemap); without it pages are estimated from Rss.  A PID or file
that cannot be read is skipped with a warning; exit 2 when nothing could be read.

Snapshot: `cat /proc/PID/status /proc/PID/smaps > PID.snap` (pages estimated from Rss), or
`ptcalc inspect --pid PID --save DIR` (exact pages from pagemap); gzip is fine."""


def register(app: typer.Typer) -> None:
    @app.command(help=HELP)
    def inspect(
        pid: list[int] | None = typer.Option(
            None, "--pid", "-p", metavar="PID", help="A live process to inspect (repeatable)."),
        pgrep: list[str] | None = typer.Option(
            None, "--pgrep", metavar="REGEX", help="Inspect processes whose name or command "
            "line matches this regular expression (repeatable)."),
        maps: list[str] | None = typer.Option(
            None, "--maps", metavar="FILE", help="A snapshot file: smaps (+ status, + pagemap "
            "lines) or maps of one process; '-' reads stdin (repeatable)."),
        fmt: str = typer.Option(
            "table", "--format", "-f", metavar="FORMAT",
            help="Output format: table, markdown, csv or json."),
        units: str = typer.Option(
            "iec", metavar="UNITS", help="Units in tables: iec (GiB), si (GB) or bytes."),
        strategy: list[str] | None = typer.Option(
            None, "--strategy", "-s", metavar="NAME",
            help="Only these strategies in the what-if (repeatable)."),
        pattern: str = typer.Option(
            "layout", metavar="PATTERN", help="Touched pages in the what-if: layout (the real "
            "pages: tables from the 2 MiB slots each process uses), dense or random (the page "
            "fraction)."),
        what_if: bool = typer.Option(
            True, "--what-if/--no-what-if", help="Evaluate the strategies for the shared "
            "objects."),
        detail: bool = typer.Option(
            False, "--detail", help="Tables: the what-if of every shared object, reasons in "
            "full."),
        min_procs: int = typer.Option(
            1, "--min-procs", metavar="N", help="Only shared objects mapped by at least this "
            "many of the inspected processes."),
        objects: int = typer.Option(
            20, "--objects", metavar="N", min=0, help="Tables: list the N largest shared "
            "objects (size x processes) and count the rest in one line; 0 lists all (csv "
            "and json always hold all, the what-if sums cover all)."),
        save: str | None = typer.Option(
            None, "--save", metavar="DIR", help="Also write a snapshot of each live process "
            "to DIR/PID.snap (for --maps elsewhere)."),
        save_layout: str | None = typer.Option(
            None, "--save-layout", metavar="FILE", help="Write the layout inspect inferred "
            "(shared objects, groups of identical processes, measured baselines) for "
            "`ptcalc compare --layout FILE`."),
        wide: bool = options.wide(),
    ) -> None:
        from ptcalc.inputs.scenario import parse_choice
        from ptcalc.inspect.render import FORMATS
        from ptcalc.inspect.run import inspect as run_inspect
        from ptcalc.inspect.run import render, save_snapshots
        from ptcalc.inspect.whatif import PATTERNS

        fmt = parse_choice(fmt, FORMATS, "format")
        units = parse_choice(units, ("iec", "si", "bytes"), "units")
        pattern = parse_choice(pattern, PATTERNS, "pattern")
        result = run_inspect(pids=pid, pgrep=pgrep, maps_files=maps, what_if=what_if,
                             strategies=strategy or None, pattern=pattern,
                             min_procs=min_procs)
        if save:
            live = [p.layout.pid for p in result.processes
                    if p.layout.source.startswith("/proc/")]
            for path in save_snapshots(live, save, result.warnings):
                print(f"ptcalc: saved {path}", file=sys.stderr)
        if save_layout:
            from ptcalc.inspect.save_layout import layout_text
            from ptcalc.present.files import atomic_write

            text, _doc = layout_text(result)
            atomic_write(save_layout, text.encode())
            print(f"ptcalc: saved layout {save_layout}", file=sys.stderr)
        for warning in result.warnings:
            print(f"ptcalc: warning: {warning}", file=sys.stderr)
        from ptcalc.present.fit import fitted

        typer.echo(render(result, fmt, units, detail, layout=fitted, objects=objects))

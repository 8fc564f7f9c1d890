"""`ptcalc sweep`, `ptcalc plan` and `ptcalc presets`.

Only typer and the standard library load with this module (start-up stays fast); everything
else is imported inside the commands.
"""

from __future__ import annotations

import sys

import typer

from ptcalc.cli import options
from ptcalc.cli.options import FORMAT_HELP

RANGE_HELP = ("a value, a list A,B,C or a range START..STOP/STEP (STOP included when the "
              "steps land on it).")

SWEEP_HELP = """Evaluate the cross product of the values given per option: one row per scenario
and strategy.  Numeric options take a value, a list (--size 1GiB,300GiB) or a range
START..STOP/STEP: START, START+STEP, ... up to and including STOP when the steps land on it
(--procs 1..3000/10 is 1, 11, ..., 2991; --procs 1..10000 steps by 1).  Sizes, offsets and
fractions need a step (--size 1GiB..8GiB/1GiB, --touched 0.1..1/0.1).  --access, --pattern and
--strategy take lists.  Rows: size varies slowest, then offset, touched, access, pattern,
procs; the strategies of a scenario are consecutive.  --output writes .csv, .json, .jsonl or
.parquet (needs pyarrow), streamed chunk by chunk (bounded memory) into a temporary file that
replaces FILE only when complete.  CSV: a header of column names, text in double quotes,
integers exact at any size, true/false, an empty field where a metric does not exist,
floats in their shortest exact text.  --columns KEYS writes only those columns, in that
order, also to files; only the metrics among them are evaluated (faster, smaller).  Without
--output the rows go to stdout in --format (table and markdown at most 50,000 rows)."""

PLAN_HELP = """Per strategy, the most processes whose page tables (pt_bytes_total, plus
--base-pt per process) fit in the budget, by default RAM minus the region; the break-even
process count against private-4k; the huge pages to reserve.  The boundary is exact: integer
arithmetic on the generated formulas, checked at max_procs and max_procs + 1.  --reserved N
models a hugetlb reservation short of the region both ways databases handle it: 'mixed' (the
rest of the region in 4 KiB pages, Oracle's USE_LARGE_PAGES=TRUE) and 'whole' (the whole
region in 4 KiB pages, PostgreSQL's huge_pages=try).  Without --size, the default preset
(oracle-sga-300g)."""


def _error(message: str):
    from ptcalc.errors import InputError

    return InputError(message)


def _choice(value, choices, what):
    from ptcalc.inputs.scenario import parse_choice

    return parse_choice(value, choices, what)


def _records(frame) -> list[dict]:
    """DataFrame rows as dicts of plain Python values (None for NA)."""
    import pandas as pd

    rows = frame.astype(object).where(pd.notna(frame), None).to_dict("records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in rows]


def register(app: typer.Typer) -> None:
    @app.command(help=SWEEP_HELP)
    def sweep(
        size: str | None = typer.Option(None, metavar="SIZES",
                                        help="Region sizes: " + RANGE_HELP),
        procs: str | None = typer.Option(None, metavar="COUNTS",
                                         help="Process counts: " + RANGE_HELP),
        offset: str | None = typer.Option(None, metavar="OFFSETS",
                                          help="Start addresses modulo 512 GiB, multiples of "
                                               "4 KiB: " + RANGE_HELP),
        touched: str | None = typer.Option(None, metavar="FRACTIONS",
                                           help="Fractions in (0, 1]: " + RANGE_HELP),
        access: str | None = typer.Option(None, metavar="LIST",
                                          help="read, write or read,write."),
        pattern: str | None = typer.Option(None, metavar="LIST",
                                           help="dense, random or dense,random."),
        strategy: list[str] | None = options.strategy(metavar="NAMES",
                                                  help="Only these strategies (repeatable, "
                                                       "or a comma list)."),
        preset: str | None = options.preset(metavar="NAME"),
        paging: str = options.paging(),
        fault_around: str = options.fault_around(metavar="SIZE"),
        output: str | None = typer.Option(None, "--output", "-o", metavar="FILE",
                                          help="Write FILE (.csv, .json, .jsonl, .parquet) "
                                               "instead of stdout."),
        fmt: str | None = options.output_format(None, metavar="FORMAT",
                                                 help=FORMAT_HELP + " (stdout; default table)"),
        units: str = options.units(metavar="UNITS"),
        progress: bool | None = typer.Option(None, "--progress/--no-progress",
                                             help="Progress bar on stderr (default: when "
                                                  "stderr is a terminal)."),
        chunk_rows: int = typer.Option(1 << 18, hidden=True, min=1, max=1 << 24),
        columns: str | None = options.columns(),
        wide: bool = options.wide(),
        layout: str | None = typer.Option(None, "--layout", metavar="NAME|FILE",
                                          help="Sweep a host layout (TOML file or name in "
                                               "models/layouts): --group G with --procs, or "
                                               "--region R with --size."),
        group: str | None = typer.Option(None, "--group", metavar="NAME",
                                         help="With --layout: the group whose processes "
                                              "--procs varies, the others held."),
        region: str | None = typer.Option(None, "--region", metavar="NAME",
                                          help="With --layout: the region whose size --size "
                                               "varies (touched fractions kept)."),
    ) -> None:
        from ptcalc.present.tables import FORMATS, UNITS

        if layout is not None:
            given = [name for name, value in (("--offset", offset), ("--touched", touched),
                                              ("--access", access), ("--pattern", pattern),
                                              ("--preset", preset)) if value is not None]
            if given:
                raise _error(f"{given[0]} does not apply to sweep --layout (the layout's "
                             "maps give it); vary --procs of a --group or --size of a "
                             "--region")
            from ptcalc.cli.layout import sweep_layout_command

            sweep_layout_command(layout, group, region, procs, size, strategy, paging,
                                 fault_around, fmt, units, output)
            return
        if group is not None or region is not None:
            raise _error("--group and --region choose what a sweep --layout varies; give "
                         "--layout FILE")
        units = _choice(units, UNITS, "units")
        if fmt is not None:
            fmt = _choice(fmt, FORMATS, "format")
        from ptcalc.inputs.presets import choose
        from ptcalc.sweep.run import make_sweep

        chosen = choose(preset, {"size": size, "procs": procs, "offset": offset,
                                 "touched": touched, "access": access, "pattern": pattern},
                        as_text=True).values

        spec = make_sweep(chosen["size"], chosen["procs"], chosen["offset"], chosen["touched"],
                          chosen["access"], chosen["pattern"], strategy, paging, fault_around,
                          columns=columns)
        if output is not None:
            _sweep_to_file(spec, output, fmt, progress, chunk_rows, columns)
        else:
            _sweep_to_stdout(spec, fmt or "table", units, progress, chunk_rows,
                             options.paging_note(paging), columns)

    @app.command(help=PLAN_HELP)
    def plan(
        size: str | None = typer.Option(None, metavar="SIZE",
                                        help="Region size: 300GiB, 10GB, ..."),
        ram: str | None = typer.Option(None, metavar="SIZE",
                                       help="Host RAM; the budget is RAM minus the "
                                            "region."),
        budget: str | None = typer.Option(None, metavar="SIZE",
                                          help="Bytes the page tables may take "
                                               "(instead of RAM minus the region)."),
        base_pt: str = typer.Option("0", metavar="BYTES",
                                    help="Each process's own page tables outside the "
                                         "region, in bytes (threads: counted once)."),
        reserved: str | None = typer.Option(None, metavar="2m=N|1g=N|N|SIZE|PCT",
                                            help="Huge pages reserved: 2m=26214, 1g=300, a "
                                                 "bare count of 2 MiB pages, a size (100GiB) "
                                                 "or a fraction of the region (80%); beyond "
                                                 "RAM is an error."),
        segments: str | None = typer.Option(None, metavar="SIZES",
                                            help="Shared memory segments (10GiB,2GiB) for "
                                                 "Oracle's hugepages_settings.sh rule "
                                                 "(default: one segment of --size)."),
        layout: str | None = typer.Option(None, metavar="FILE",
                                          help="A host layout (models/layouts): its shared "
                                               "regions are the segments (and, without "
                                               "--size, their sum the region); with --group, "
                                               "the host plan of that group."),
        shared_memory_size: str | None = typer.Option(None, metavar="SIZE",
                                                      help="PostgreSQL's whole segment "
                                                           "(postgres -C shared_memory_size), "
                                                           "larger than shared_buffers."),
        numa_nodes: int | None = typer.Option(None, min=1, max=1024, metavar="K",
                                              help="Split the pool over K NUMA nodes "
                                                   "(per-node sysfs and boot lines)."),
        decimal_units: bool = typer.Option(False, "--decimal-units",
                                           help="Read kB/MB/GB/TB as powers of 1000 "
                                                "(default 1024, as databases write them)."),
        preset: str | None = options.preset(metavar="NAME"),
        offset: str | None = typer.Option(None, metavar="SIZE",
                                          help="Start address modulo 512 GiB."),
        touched: str | None = typer.Option(None, metavar="FRACTION",
                                           help="Fraction each process touches, "
                                                "in (0, 1]."),
        access: str | None = typer.Option(None, metavar="ACCESS", help="read or write."),
        pattern: str | None = typer.Option(None, metavar="PATTERN",
                                           help="dense or random (expected values)."),
        strategy: list[str] | None = options.strategy(metavar="NAMES",
                                                  help="Only these strategies (repeatable)."),
        paging: str = options.paging(),
        fmt: str = options.output_format(metavar="FORMAT"),
        units: str = options.units(metavar="UNITS"),
        group: str | None = typer.Option(None, "--group", metavar="NAME",
                                         help="With --layout: the most processes of this "
                                              "group that fit --ram, the others held."),
        all_strategies: bool = typer.Option(
            False, "--all-strategies", help="Tables: every strategy (by default the "
            "multi-size THP sizes other than 64 KiB, whose page tables are private-4k's, "
            "are left out)."),
        columns: str | None = options.columns(),
        wide: bool = options.wide(),
    ) -> None:
        if layout and group:
            from ptcalc.cli.layout import plan_layout

            plan_layout(layout, group, strategy, paging, ram, fmt, units, decimal_units)
            return
        from ptcalc.compute.plan import plan as make_plan
        from ptcalc.present.tables import FORMATS, PLAN_COLUMNS, UNITS, not_applicable_notes, render

        fmt = _choice(fmt, FORMATS, "format")
        units = _choice(units, UNITS, "units")
        if layout is not None:
            segments, size = _layout_segments(layout, segments, size, paging)
        from ptcalc.inputs.presets import choose

        chosen = choose(preset, {"size": size, "ram": ram, "offset": offset,
                                 "touched": touched, "access": access, "pattern": pattern},
                        default_unless=("size",), required=("size",), as_text=True).values
        rows, summary = make_plan(chosen["size"], chosen.get("ram"), budget, base_pt=base_pt,
                                  reserved=reserved, offset=chosen["offset"],
                                  touched=chosen["touched"], access=chosen["access"],
                                  pattern=chosen["pattern"], strategies=strategy,
                                  paging=paging, segments=segments,
                                  shared_memory_size=shared_memory_size,
                                  decimal=decimal_units)
        if fmt in ("json", "csv"):
            typer.echo(render(rows, fmt))
            return
        from ptcalc.present.settings import plan_notes, size_readings

        notes = not_applicable_notes(rows)
        if any(row.get("max_procs_capped") for row in rows):
            notes.append(">= 4,194,304: page tables never exhaust the budget below "
                         "PID_MAX_LIMIT")
        notes += plan_notes(rows, summary, numa_nodes)
        title = _plan_title(summary, units, options.paging_note(paging)) + size_readings(
            {"size": chosen["size"], "ram": chosen.get("ram"), "budget": budget},
            decimal_units)
        from ptcalc.cli.compare_scenario import table_rows

        rows, left_out = table_rows(rows, all_strategies or bool(strategy))
        notes += [left_out] * bool(left_out)
        typer.echo(render(rows, fmt, units, columns=PLAN_COLUMNS, title=title, notes=notes))

    @app.command()
    def presets(fmt: str = options.output_format(metavar="FORMAT"),
                columns: str | None = options.columns(),
                wide: bool = options.wide()) -> None:
        """List the named workloads (models/workloads): values and the source of each."""
        from ptcalc.inputs.presets import all_presets
        from ptcalc.present.tables import FORMATS, render

        fmt = _choice(fmt, FORMATS, "format")
        loaded = all_presets()
        if fmt == "json":
            import json

            typer.echo(json.dumps([{"name": p.name, "description": p.description,
                                    "scenario": p.values, "sources": p.sources}
                                   for p in loaded], indent=2))
            return
        rows = [{"name": p.name, "key": key, "value": value, "source": p.sources.get(key)}
                for p in loaded for key, value in p.values.items()]
        if fmt == "csv":
            typer.echo(render(rows, "csv"))
            return
        columns = (("name", "preset", "text"), ("key", "key", "text"),
                   ("value", "value", "text"), ("source", "source", "text"))
        notes = [f"{p.name}: {p.description}" for p in loaded]
        typer.echo(render(rows, fmt, columns=columns, notes=notes))


def _layout_segments(path, segments, size, paging):
    """The shared regions of a layout file as the segments (their sizes in bytes), and the
    region size: --size, else their sum."""
    from ptcalc.cli.layout import load_layout

    if segments is not None:
        raise _error("give --segments or --layout, not both")
    loaded = load_layout(path, paging)
    shared = [region.size_bytes for region in loaded.regions if region.kind == "shared"]
    if not shared:
        raise _error(f"layout {path!r} has no shared region; the huge page pool is for "
                     "shared memory segments")
    return shared, size if size is not None else sum(shared)


def _plan_title(summary, units="iec", paging_note: str = "") -> str:
    from functools import partial

    from ptcalc.units import format_size

    format_size = partial(format_size, units=units)

    scenario = summary["scenario"]
    text = f"{format_size(summary['size_bytes'])} region"
    if summary["ram_bytes"] is not None:
        text += f", {format_size(summary['ram_bytes'])} RAM"
    text += f": {format_size(summary['budget_bytes'])} for page tables"
    if summary["ram_bytes"] is not None and summary["budget_bytes"] == (
            summary["ram_bytes"] - summary["size_bytes"]):
        text += " (RAM minus the region)"
    if summary["base_pt_bytes"]:
        text += f", {format_size(summary['base_pt_bytes'])} of other page tables per process"
    text += (f"; offset {format_size(scenario.offset_bytes)}, each process touching "
             f"{float(scenario.touched) * 100:.4g}% ({scenario.pattern}), {scenario.access} "
             f"access, {scenario.paging_levels}-level paging{paging_note}")
    return text


def _progress(spec, enabled):
    from ptcalc.sweep.writers import Progress, stderr_is_tty

    if enabled is None:
        enabled = stderr_is_tty() and spec.rows > 1 << 18
    return Progress(spec.scenarios, enabled=enabled)


def _sweep_to_file(spec, output, fmt, progress, chunk_rows, columns=None) -> None:
    from ptcalc.present.files import atomic_file, check_output_path
    from ptcalc.sweep.run import run_sweep
    from ptcalc.sweep.writers import file_format, open_writer

    check_output_path(output, example="sweep.csv")
    kind = file_format(output)
    if fmt is not None and fmt != kind.replace("jsonl", "json"):
        raise _error(f"--format {fmt} does not match output {output!r}; the extension "
                     "chooses the file format (or leave out --format)")
    with atomic_file(output, binary=True) as (stream, _):  # OSError: exit 1
        rows = run_sweep(spec, open_writer(kind, stream, output),
                         _progress(spec, progress), chunk_rows)
    typer.echo(f"wrote {rows:,} rows ({spec.scenarios:,} scenarios x {len(spec.strategies)} "
               f"strategies) to {output}")


def _sweep_to_stdout(spec, fmt, units, progress, chunk_rows, paging_note="",
                     columns=None) -> None:
    from ptcalc.sweep.run import TABLE_ROW_LIMIT, run_sweep
    from ptcalc.sweep.writers import open_writer

    if fmt in ("csv", "json"):
        run_sweep(spec, open_writer(fmt, sys.stdout),
                  _progress(spec, progress), chunk_rows)
        sys.stdout.flush()
        return
    if spec.rows > TABLE_ROW_LIMIT:
        raise _error(f"the sweep has {spec.rows:,} rows; --format {fmt} shows at most "
                     f"{TABLE_ROW_LIMIT:,}: use --format csv or json, or --output FILE")
    from ptcalc.present.tables import SWEEP_COLUMNS, not_applicable_notes, render

    class Collect:
        def __init__(self):
            self.rows = []

        def write(self, frame):
            self.rows.extend(_records(frame))

        def close(self):
            pass

    collected = Collect()
    run_sweep(spec, collected, _progress(spec, progress), chunk_rows)
    title = (f"{spec.scenarios:,} scenarios ({' x '.join(str(len(a)) for a in spec.axes)}: "
             f"size, offset, touched, access, pattern, procs) x {len(spec.strategies)} "
             f"strategies, {spec.paging}-level paging{paging_note}")
    present = set(collected.rows[0]) if collected.rows else set()
    columns = tuple(c for c in SWEEP_COLUMNS if c[0] in present) or SWEEP_COLUMNS
    typer.echo(render(collected.rows, fmt, units, columns=columns, title=title,
                      notes=not_applicable_notes(collected.rows)))

"""The ptcalc command line.  Thin: parses options, calls the library, prints.

Only typer and the standard library load at import; each command imports what it needs, and
`compare` runs on generated plain-Python formulas (no sympy, pandas or numpy).
"""

from __future__ import annotations

import os
import sys

import typer

from ptcalc.cli import options

app = typer.Typer(
    name="ptcalc",
    help="Page-table cost of sharing memory between processes on x86-64 Linux: page-table "
         "bytes, faults and TLB reach for each sharing strategy.",
    no_args_is_help=False,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)



def _choice(value: str, choices, what: str) -> str:
    from ptcalc.inputs.scenario import parse_choice

    return parse_choice(value, choices, what)


def _scenario_title(scenario, ram=None, paging_note: str = "") -> str:
    from ptcalc.units import format_size

    touched = f"{float(scenario.touched) * 100:.4g}%"
    text = (f"{format_size(scenario.size_bytes)} region at offset "
            f"{format_size(scenario.offset_bytes)}, {scenario.procs:,} processes, each touching "
            f"{touched} ({scenario.pattern}), {scenario.access} access, "
            f"{scenario.paging_levels}-level paging{paging_note}")
    if scenario.requested_size_bytes != scenario.size_bytes:
        text += f" (size rounded up to whole 4 KiB pages from {scenario.requested_size_bytes})"
    if ram:
        text += f", {format_size(ram)} RAM"
    return text


@app.command()
def compare(
    preset: str | None = options.preset(help="Start from a named workload (models/"
                                        "workloads); other options override its values."),
    size: str | None = options.scenario_value("Region size: 4096, 4KiB, 1.5GiB, 2M, 10GB."),
    procs: str | None = options.scenario_value("Processes mapping the region."),
    offset: str | None = options.scenario_value("Start address modulo 512 GiB "
                                                "(a multiple of 4 KiB; 0 = best aligned)."),
    touched: str | None = options.scenario_value("Fraction each process touches, in (0, 1]."),
    pattern: str | None = options.scenario_value("dense (a prefix) or random (each page "
                                                 "with probability TOUCHED; expected values)."),
    access: str | None = options.scenario_value("read or write (decides the fault counts)."),
    ram: str | None = typer.Option(None, help="Host RAM: say which strategies do not fit "
                                   "(region + page tables > RAM); `ptcalc plan` gives limits."),
    strategy: list[str] | None = options.strategy(),
    paging: str = options.paging(),
    fault_around: str = options.fault_around(),
    cpu: str | None = typer.Option(None, help="Add TLB reach and page-walk metrics for this "
                                      "CPU (see `ptcalc cpus`; 'host' detects this machine's; "
                                      "'default' is skylake-sp)."),
    virtualized: bool = typer.Option(False, "--virtualized", help="Walks are two-dimensional "
                                     "(guest and host page tables); needs --cpu."),
    host_page: str = typer.Option("4k", help="Host (EPT/NPT) page size with --virtualized: "
                                  "4k, 2m or 1g."),
    llc: str | None = typer.Option(None, help="Last-level cache size for the walk "
                                      "footprint ratio (default: the CPU file's)."),
    reserved: str | None = typer.Option(None, help="Huge pages reserved: 2m=26214, 1g=300, a "
                                        "bare count of 2 MiB pages, a size (100GiB) or 80% of "
                                        "the region; short of it, hugetlb rows show the mixed "
                                        "(Oracle) and whole (PostgreSQL) fallbacks."),
    decimal_units: bool = typer.Option(False, "--decimal-units", help="Read kB/MB/GB/TB as "
                                       "powers of 1000 (default: 1024, as PostgreSQL, Oracle "
                                       "and /proc/meminfo write them)."),
    kubernetes: bool = typer.Option(False, "--kubernetes", help="Add the pod's "
                                    "resources.limits (hugepages-2Mi/1Gi, memory with the "
                                    "page tables charged to its memory cgroup)."),
    fmt: str = options.output_format(),
    units: str = options.units(),
    layout: str | None = typer.Option(None, "--layout", help="A host layout (TOML file or "
                                      "name in models/layouts): several regions and process "
                                      "groups; shows the host and each group."),
) -> None:
    """Compare every strategy for one scenario (default: 300 GiB SGA, 1500 processes)."""
    if layout:
        from ptcalc.cli.layout import compare_layout

        compare_layout(layout, strategy, paging, fault_around, ram, fmt, units, decimal_units)
        return
    from ptcalc.compute.scalar import scenario_rows
    from ptcalc.inputs.presets import choose
    from ptcalc.inputs.scenario import make_scenario, parse_strategies
    from ptcalc.present.tables import FORMATS, UNITS, not_applicable_notes, render
    from ptcalc.units import parse_size

    fmt = _choice(fmt, FORMATS, "format")
    units = _choice(units, UNITS, "units")
    chosen = choose(preset, {"size": size, "procs": procs, "offset": offset,
                             "touched": touched, "access": access, "pattern": pattern,
                             "ram": ram}).values
    readings = _readings(chosen, ("size", "ram"), decimal_units)
    size_bytes = parse_size(chosen["size"], what="size", decimal=decimal_units)
    scenario = make_scenario(size_bytes, chosen["procs"], chosen["offset"], chosen["touched"],
                             chosen["access"], chosen["pattern"], paging, fault_around)
    rows = scenario_rows(scenario, parse_strategies(strategy))
    ram = (parse_size(chosen["ram"], what="ram", decimal=decimal_units)
           if chosen.get("ram") is not None else None)
    if ram == 0:
        from ptcalc.errors import InputError

        raise InputError(f"ram {chosen['ram']!r} is empty; give the host's RAM, e.g. 64GiB "
                         "(or leave --ram out)")
    title = _scenario_title(scenario, ram, options.paging_note(paging))
    if readings:
        title += " (" + "; ".join(readings) + ")"
    notes = not_applicable_notes(rows)
    if cpu is not None or virtualized or llc is not None:
        from ptcalc.compute.tlb import add_tlb_to_rows, parse_host_page, resolve

        parse_host_page(host_page)
        chosen_cpu, explanation = resolve(cpu)
        llc_bytes = parse_size(llc, what="llc") if llc else None
        rows = add_tlb_to_rows(rows, chosen_cpu, scenario.paging_levels, virtualized, host_page,
                               llc_bytes)
        title += f"; TLB of {chosen_cpu.name}" + (" (virtualized)" if virtualized else "")
        if explanation:
            notes.insert(0, explanation)
    from ptcalc.present import settings

    rows, extra = _verdicts(rows, scenario, ram, reserved, decimal_units)
    notes = extra + notes
    if kubernetes:
        notes += settings.kubernetes_lines(rows, scenario.size_bytes, scenario.procs)
    if fmt in ("json", "csv"):
        typer.echo(render(rows, fmt, units))
        return
    from ptcalc.present.tables import COMPARE_COLUMNS

    typer.echo(render(settings.for_table(rows), fmt, units, title=title, notes=notes,
                      columns=settings.verdict_columns(COMPARE_COLUMNS, rows)))


def _readings(chosen: dict, keys, decimal: bool) -> list[str]:
    """How the sizes among `keys` were read ("64GB read as 64 GiB"), for the title."""
    from ptcalc.units import UnitError, describe_size

    readings = []
    for key in keys:
        if chosen.get(key) is None:
            continue
        try:
            reading = describe_size(chosen[key], decimal=decimal)
        except UnitError:
            continue               # the parser reports it, with the option's name
        if reading:
            readings.append(reading)
    return readings


def _verdicts(rows, scenario, ram, reserved, decimal: bool):
    """Rows with the reservation outcomes, RAM verdicts and inputs; notes that say them."""
    from ptcalc.compute import reservations
    from ptcalc.compute.scalar import scenario_rows
    from ptcalc.present import settings

    reservation = reservations.parse_reservation(reserved, size_bytes=scenario.size_bytes,
                                                 ram_bytes=ram, decimal=decimal)
    rows = reservations.expand_rows(rows, scenario, reservation, scenario_rows)
    notes = []
    if reservation is not None:
        notes.append(reservation.describe())
        notes += settings.reservation_notes(rows, scenario.requested_size_bytes)
    if ram:
        rows = reservations.add_ram_verdicts(rows, scenario, ram)
        notes.insert(0, settings.ram_note(rows, scenario.size_bytes, ram))
    return reservations.add_inputs(rows, scenario), notes


@app.command()
def formula(
    strategy: str = typer.Argument(..., help="A strategy name (see `ptcalc strategies`)."),
    metric: str = typer.Argument(..., help="A metric, e.g. pt_bytes_total or faults_next."),
    latex: bool = typer.Option(False, "--latex", help="Print LaTeX instead of plain text."),
    paging: str = options.paging(),
    pattern: str = typer.Option("dense", help="dense or random."),
    cpu: str | None = typer.Option(None, help="For TLB metrics: fill in this CPU's entries "
                                   "(default: show the entry counts as symbols)."),
    virtualized: bool = typer.Option(False, "--virtualized", help="TLB walk_refs: 2D walk."),
    host_page: str = typer.Option("4k", help="Host page size with --virtualized."),
) -> None:
    """Print the formula of one metric of one strategy, with its constants."""
    from ptcalc.present.formula import formula_text

    typer.echo(formula_text(strategy, metric, latex=latex, paging=paging, pattern=pattern,
                            cpu=cpu, virtualized=virtualized, host_page=host_page))


@app.command()
def cpus(fmt: str = options.output_format()) -> None:
    """List the CPUs with TLB data (models/cpus), one line each."""
    from ptcalc.cpus import load as cpu_data
    from ptcalc.present.tables import FORMATS, render

    fmt = _choice(fmt, FORMATS, "format")
    if fmt != "table":
        rows = [{"name": line.split(":")[0], "summary": line.split(": ", 1)[1]}
                for line in cpu_data.summary_lines()]
        typer.echo(render(rows, fmt, columns=(("name", "cpu", "text"),
                                              ("summary", "summary", "text"))))
        return
    typer.echo("\n".join(cpu_data.summary_lines()))
    typer.echo(f"\ndefault: {cpu_data.DEFAULT_CPU}; 'host' detects this machine's CPU")


@app.command()
def strategies(fmt: str = options.output_format()) -> None:
    """List the strategies: what each shares, its rule, its sources and upstream status."""
    from ptcalc.catalog import STRATEGIES
    from ptcalc.inputs.scenario import parse_choice
    from ptcalc.present.tables import FORMATS, render

    fmt = parse_choice(fmt, FORMATS, "format")
    if fmt == "json":
        typer.echo(render([s.as_dict() for s in STRATEGIES], "json"))
        return
    rows = [{"name": s.name, "shared": s.shared, "rule": s.rule, "source": s.source,
             "upstream": s.upstream.summary(), "leaf_sizes": ",".join(s.leaf_sizes),
             "probe_backings": ",".join(s.probe_backings)} for s in STRATEGIES]
    if fmt != "table":
        typer.echo(render(rows, fmt, columns=tuple((key, key, "text") for key in rows[0])))
        return
    for s in STRATEGIES:
        typer.echo(f"{s.name}\n  shares:   {s.shared}\n  rule:     {s.rule}\n"
                   f"  layouts:  {s.layout_rule}\n"
                   f"  upstream: {s.upstream.summary()}\n"
                   + "".join(f"  source:   {what}: {address}\n" for what, address in s.sources))


# Modules that add commands: each defines register(app) and imports only typer and the
# standard library at module level (start-up stays fast).
COMMAND_MODULES = ("ptcalc.cli.probe", "ptcalc.cli.report", "ptcalc.cli.inspect",
                   "ptcalc.cli.sweep", "ptcalc.cli.op")


_registered: list[str] = []


def _register_commands() -> None:
    """Add the commands of COMMAND_MODULES to the app, once per process."""
    import importlib

    for name in COMMAND_MODULES:
        if name not in _registered:
            importlib.import_module(name).register(app)
            _registered.append(name)


def _named(error: BaseException, *names: str) -> bool:
    """Is `error` an instance of a click exception class called one of `names`?  (typer may
    bundle its own copy of click, so the classes are matched by name.)"""
    return any(cls.__name__ in names for cls in type(error).__mro__)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors, exit 2 on bad input, never a traceback."""
    from ptcalc.errors import InputError

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:        # bare `ptcalc`: show what it can do
        argv = ["--help"]
    try:
        _register_commands()
        from ptcalc.cli.lazy import click_command

        command = click_command(app, argv)          # a Ctrl-C here too is one line
        # Without standalone mode, click returns typer.Exit's code instead of raising it.
        code = command.main(args=argv, prog_name="ptcalc", standalone_mode=False)
        sys.stdout.flush()         # a full disk or EIO shows here, not at interpreter exit
        if code == 130:
            print("ptcalc: interrupted", file=sys.stderr)
        return code if isinstance(code, int) else 0
    except InputError as error:
        print(f"ptcalc: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ptcalc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as error:       # writing stdout or an output file failed: exit 1
        print(f"ptcalc: error: {_write_failure(error)}", file=sys.stderr)
        _discard_stdout()
        return 1
    except Exception as error:  # click's own exceptions, matched by class name
        if _named(error, "Exit"):
            return error.exit_code
        if _named(error, "Abort"):
            print("ptcalc: interrupted", file=sys.stderr)
            return 130
        if _named(error, "UsageError", "ClickException"):
            ctx = getattr(error, "ctx", None)
            where = f"ptcalc {ctx.info_name}" if ctx and ctx.parent else "ptcalc"
            message = " ".join(error.format_message().split())
            print(f"ptcalc: error: {message} (see: {where} --help)", file=sys.stderr)
            return 2
        raise


def _write_failure(error: OSError) -> str:
    import errno

    reason = error.strerror or str(error)
    if error.errno == errno.ENAMETOOLONG:
        reason = "file name too long; give a shorter name"
    where = f"{os.fspath(error.filename)!r}" if error.filename else "the output"
    return f"cannot write {where}: {reason}"


def _discard_stdout() -> None:
    """After stdout failed, send what is still buffered to /dev/null (no second error at
    exit)."""
    try:
        fd = sys.stdout.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


def run() -> None:
    """The entry point of older installs; see ptcalc.cli.entry."""
    from ptcalc.cli.entry import run as entry_run

    entry_run()


if __name__ == "__main__":
    run()

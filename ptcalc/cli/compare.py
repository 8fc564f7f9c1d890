"""`ptcalc compare`: every strategy for one scenario, a host layout, or one scenario per line
of an inventory file (--from).

Only typer and the standard library load with this module; `compare` runs on the generated
plain-Python formulas (no sympy, pandas or numpy).
"""

from __future__ import annotations

from typing import Literal

import typer

from ptcalc.cli import options
from ptcalc.cli.options import ACCESSES, FORMATS, HOST_PAGES, PATTERNS, UNITS

COMPARE_HELP = """Compare every strategy for one scenario (default: the oracle-sga-300g
preset, a 300 GiB SGA mapped by 1500 processes on a 512 GiB host).  Values not given come
from --preset, else the defaults shown: every page touched, write access, offset 0, dense
pattern; the title says which values were not given.  --from FILE evaluates one scenario
per line of a CSV inventory (see docs/cli.md)."""

#: The strategies a table shows when none is chosen: the multi-size THP sizes other than
#: 64 KiB have the page tables of 4 KiB pages and differ only in faults (csv/json: all).
HIDDEN_BY_DEFAULT = ("thp-shmem-8k", "thp-shmem-16k", "thp-shmem-32k", "thp-shmem-128k",
                     "thp-shmem-256k", "thp-shmem-512k", "thp-shmem-1m")


def register(app: typer.Typer) -> None:
    @app.command(help=COMPARE_HELP)
    def compare(
        preset: str | None = options.preset(),
        size: str | None = options.scenario_value(
            "Region size: 4096, 4KiB, 1.5GiB, 2M, 10GB.", "300GiB, from the preset oracle-sga-300g",
            metavar="SIZE"),
        procs: str | None = options.scenario_value(
            "Processes mapping the region.", "1500, from oracle-sga-300g",
            metavar="COUNT"),
        offset: str | None = options.scenario_value(
            "Start address modulo 512 GiB (a multiple of 4 KiB; 0 = best aligned).",
            options.SCENARIO_DEFAULTS["offset"] + " unless a preset gives it", metavar="SIZE"),
        touched: str | None = options.scenario_value(
            "Fraction each process touches, in (0, 1].",
            options.SCENARIO_DEFAULTS["touched"] + " (every page) unless a preset gives it",
            metavar="FRACTION"),
        pattern: Literal[PATTERNS] | None = options.scenario_value(
            "dense (a prefix) or random (each page with probability TOUCHED; expected "
            "values).", options.SCENARIO_DEFAULTS["pattern"] + " unless a preset gives it",
            metavar="PATTERN",
            case_sensitive=False),
        access: Literal[ACCESSES] | None = options.scenario_value(
            "read or write (decides the fault counts).",
            options.SCENARIO_DEFAULTS["access"] + " unless a preset gives it", metavar="ACCESS",
            case_sensitive=False),
        ram: str | None = typer.Option(None, metavar="SIZE", help="Host RAM: say which "
                                       "strategies do not fit (region + page tables > RAM); "
                                       "`ptcalc plan` gives limits."),
        strategy: list[str] | None = options.strategy(),
        all_strategies: bool = typer.Option(
            False, "--all-strategies", help="Tables: every strategy (by default the "
            "multi-size THP sizes but 64k are left out: the page tables of 4 KiB pages, "
            "fewer faults; csv and json always have every strategy)."),
        paging: str = options.paging(),
        fault_around: str = options.fault_around(),
        cpu: str | None = options.cpu(
            "Add TLB reach and page-walk metrics for this CPU (see `ptcalc cpus`; 'host' "
            "detects this machine's; 'default' is skylake-sp) or a CPU file (TOML, as in "
            "models/cpus)."),
        virtualized: bool = typer.Option(False, "--virtualized", help="Walks are "
                                         "two-dimensional (guest and host page tables); "
                                         "needs --cpu."),
        host_page: Literal[HOST_PAGES] = typer.Option(
            "4k", metavar="PAGE", case_sensitive=False,
            help="Host (EPT/NPT) page size with --virtualized: 4k, 2m or 1g."),
        llc: str | None = typer.Option(None, metavar="SIZE", help="Last-level cache size for "
                                       "the walk footprint ratio (default: the CPU file's)."),
        reserved: str | None = typer.Option(
            None, metavar="PAGES", help="Huge pages reserved: 2m=26214, 1g=300, a bare count "
            "of 2 MiB pages, a size (100GiB) or 80% of the region; short of it, hugetlb rows "
            "show the mixed (Oracle) and whole (PostgreSQL) fallbacks."),
        decimal_units: bool = typer.Option(False, "--decimal-units", help="Read kB/MB/GB/TB "
                                           "as powers of 1000 (default: 1024, as PostgreSQL, "
                                           "Oracle and /proc/meminfo write them)."),
        kubernetes: bool = typer.Option(False, "--kubernetes", help="Add the pod's "
                                        "resources.limits (hugepages-2Mi/1Gi, memory with the "
                                        "page tables charged to its memory cgroup)."),
        fmt: Literal[FORMATS] = options.output_format(),
        units: Literal[UNITS] = options.units(),
        layout: str | None = typer.Option(None, "--layout", metavar="NAME|FILE",
                                          help="A host layout (TOML file or name in "
                                          "models/layouts): several regions and process "
                                          "groups; shows the host and each group."),
        from_file: str | None = typer.Option(
            None, "--from", metavar="FILE", help="Evaluate one scenario per line of a CSV "
            "file ('-': stdin) with a header naming its columns: size and procs, and any of "
            "name, ram, offset, touched, access, pattern (empty: the option's value)."),
        progress: bool | None = typer.Option(None, "--progress/--no-progress",
                                             help="With --from: a progress bar on stderr "
                                                  "(default: long inputs on a terminal)."),
        columns: str | None = options.columns(),
        wide: bool = options.wide(),
    ) -> None:
        fmt, units = fmt.lower(), units.lower()
        if layout:
            from ptcalc.cli.layout import compare_layout

            compare_layout(layout, strategy, paging, fault_around, ram, fmt, units,
                           decimal_units)
            return
        given = {"size": size, "procs": procs, "offset": offset, "touched": touched,
                 "access": access, "pattern": pattern, "ram": ram}
        tlb = (cpu, virtualized, host_page.lower(), llc)
        if from_file is not None:
            from ptcalc.cli.batch import compare_batch

            compare_batch(from_file, preset, given, strategy, paging, fault_around, tlb,
                          reserved, decimal_units, fmt, units, progress,
                          all_strategies or bool(strategy))
            return
        text = compare_one(preset, given, strategy, paging, fault_around, tlb, reserved,
                           decimal_units, kubernetes, fmt, units,
                           all_strategies or bool(strategy))
        typer.echo(text)


def compare_one(preset, given, strategy, paging, fault_around, tlb, reserved, decimal_units,
                kubernetes, fmt, units, every_strategy) -> str:
    from ptcalc.compute.scalar import scenario_rows
    from ptcalc.inputs.presets import choose
    from ptcalc.inputs.scenario import make_scenario, parse_strategies
    from ptcalc.present import settings
    from ptcalc.present.tables import COMPARE_COLUMNS, not_applicable_notes, render
    from ptcalc.units import parse_size

    chosen = choose(preset, given)
    values = chosen.values
    readings = size_readings(values, ("size", "ram"), decimal_units)
    size_bytes = parse_size(values["size"], what="size", decimal=decimal_units)
    scenario = make_scenario(size_bytes, values["procs"], values["offset"], values["touched"],
                             values["access"], values["pattern"], paging, fault_around)
    rows = scenario_rows(scenario, parse_strategies(strategy))
    ram = parse_ram(values.get("ram"), decimal_units)
    title = scenario_title(scenario, ram, options.paging_note(paging))
    if readings:
        title += " (" + "; ".join(readings) + ")"
    model_rows = rows
    rows, title, explanation = add_tlb(rows, scenario, tlb, title)
    title += assumed(chosen, given)
    rows, reservation = verdicts(rows, scenario, ram, reserved, decimal_units)
    if fmt in ("json", "csv"):
        return render(rows, fmt, units)
    # the verdicts cover every strategy (the mTHP sizes left out of the table too)
    notes = verdict_notes(rows, scenario, ram, reservation) + [explanation] * bool(explanation)
    rows, left_out = table_rows(rows, every_strategy)
    shown = {row["strategy"] for row in rows}
    notes += not_applicable_notes([row for row in model_rows if row["strategy"] in shown])
    if kubernetes:
        notes += settings.kubernetes_lines(rows, scenario.size_bytes, scenario.procs)
    if left_out:
        notes.append(left_out)
    return render(settings.for_table(rows), fmt, units, title=title, notes=notes,
                  columns=settings.verdict_columns(COMPARE_COLUMNS, rows))


def table_rows(rows: list[dict], every_strategy: bool) -> tuple[list[dict], str | None]:
    """The rows a table shows, and the note that says which strategies it leaves out."""
    if every_strategy:
        return rows, None
    left_out = [name for name in HIDDEN_BY_DEFAULT if any(r["strategy"] == name for r in rows)]
    if not left_out:
        return rows, None
    shown = [row for row in rows if row["strategy"] not in left_out]
    return shown, (f"{len(left_out)} multi-size THP sizes not shown ({', '.join(left_out)}): "
                   "the page tables of private-4k, fewer faults than it; --all-strategies "
                   "or -s NAME shows them, csv and json have every strategy")


def parse_ram(value, decimal: bool):
    from ptcalc.errors import InputError
    from ptcalc.units import parse_size

    if value is None:
        return None
    ram = parse_size(value, what="ram", decimal=decimal)
    if ram == 0:
        raise InputError(f"ram {value!r} is empty; give the host's RAM, e.g. 64GiB "
                         "(or leave --ram out)")
    return ram


def add_tlb(rows, scenario, tlb, title):
    """Rows with the TLB metrics of --cpu (a name, 'host', 'default' or a file)."""
    cpu, virtualized, host_page, llc = tlb
    if cpu is None and not virtualized and llc is None:
        return rows, title, None
    from ptcalc.compute.tlb import add_tlb_to_rows, parse_host_page
    from ptcalc.units import parse_size

    parse_host_page(host_page)
    chosen_cpu, explanation = resolve_cpu(cpu)
    llc_bytes = parse_size(llc, what="llc") if llc else None
    rows = add_tlb_to_rows(rows, chosen_cpu, scenario.paging_levels, virtualized, host_page,
                           llc_bytes)
    title += f"; TLB of {chosen_cpu.name}" + (" (virtualized)" if virtualized else "")
    return rows, title, explanation


def resolve_cpu(cpu):
    """(Cpu, explanation or None) for a listed name, 'host', 'default' or a TOML file."""
    from ptcalc.compute.tlb import resolve

    return resolve(cpu)


def scenario_title(scenario, ram=None, paging_note: str = "") -> str:
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


def assumed(chosen, given: dict) -> str:
    """A second title line naming the values not given: 'from preset P: size, procs;
    defaults: pattern' ('' when every value was given)."""
    from_preset = [key for key in given if given[key] is None and chosen.preset
                   and key in chosen.preset.values]
    defaults = [key for key in given if given[key] is None and key not in from_preset
                and key in chosen.values]
    parts = []
    if from_preset:
        parts.append(f"from preset {chosen.preset.name}: {', '.join(from_preset)}")
    if defaults:
        parts.append(f"defaults: {', '.join(defaults)}")
    return "\n" + "; ".join(parts) if parts else ""


def size_readings(chosen: dict, keys, decimal: bool) -> list[str]:
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


def verdicts(rows, scenario, ram, reserved, decimal: bool):
    """Rows with the reservation outcomes, RAM verdicts and inputs, and the reservation."""
    from ptcalc.compute import reservations
    from ptcalc.compute.scalar import scenario_rows

    reservation = reservations.parse_reservation(reserved, size_bytes=scenario.size_bytes,
                                                 ram_bytes=ram, decimal=decimal)
    rows = reservations.expand_rows(rows, scenario, reservation, scenario_rows)
    if ram:
        rows = reservations.add_ram_verdicts(rows, scenario, ram)
    return reservations.add_inputs(rows, scenario), reservation


def verdict_notes(rows, scenario, ram, reservation) -> list[str]:
    """The notes on the reservation and the RAM verdicts of the rows shown."""
    from ptcalc.present import settings

    notes = []
    if ram:
        notes.append(settings.ram_note(rows, scenario.size_bytes, ram))
    if reservation is not None:
        notes.append(reservation.describe())
        notes += settings.reservation_notes(rows, scenario.requested_size_bytes)
    return notes

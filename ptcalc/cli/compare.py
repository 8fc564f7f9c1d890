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
        from ptcalc.cli.compare_scenario import compare_one

        text = compare_one(preset, given, strategy, paging, fault_around, tlb, reserved,
                           decimal_units, kubernetes, fmt, units,
                           all_strategies or bool(strategy))
        typer.echo(text)

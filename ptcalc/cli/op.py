"""`ptcalc op`: what fork, exit, mprotect, munmap and madvise(MADV_DONTNEED) cost per
strategy; `ptcalc op-probe`: those rules measured on the running kernel."""

from __future__ import annotations

import typer

from ptcalc.cli import options

OPERATION_HELP = "fork, exit, mprotect, munmap or madvise (MADV_DONTNEED)."


def register(app: typer.Typer) -> None:
    @app.command()
    def op(
        operation: str = typer.Argument(..., help=OPERATION_HELP),
        bytes_: str | None = typer.Option(None, "--bytes", metavar="SIZE",
                                          help="Length of the range the acting process "
                                               "changes (default: to the region's end)."),
        at: str = typer.Option("0", metavar="SIZE", help="Where the range starts, bytes into "
                               "the region."),
        preset: str | None = typer.Option(None, help="Start from a named workload."),
        size: str | None = typer.Option(None, help="Region size: 4096, 4KiB, 1.5GiB, 10GB."),
        procs: str | None = typer.Option(None, help="Processes mapping the region."),
        offset: str | None = typer.Option(None, help="Start address modulo 512 GiB."),
        touched: str | None = typer.Option(None, help="Fraction each process touched, (0, 1]."),
        access: str | None = typer.Option(None, help="read or write (how pages refault)."),
        layout: str | None = typer.Option(None, metavar="FILE", help="A host layout (TOML): "
                                          "the operation acts on one of its shared regions."),
        region: str | None = typer.Option(None, help="With --layout: the region acted on."),
        group: str | None = typer.Option(None, help="With --layout: the acting process's "
                                         "group (default: the first mapping the region)."),
        cpus: int = typer.Option(1, help="CPUs each sharing process runs on (its threads)."),
        host_cpus: int = typer.Option(0, help="CPUs of the host (default: procs x cpus)."),
        heap: str | None = typer.Option(None, metavar="SIZE", help="With fork: also the fork "
                                        "of a private anonymous heap of SIZE (a Redis BGSAVE "
                                        "child): tables copied and latency."),
        strategy: list[str] | None = typer.Option(None, "--strategy", "-s",
                                                  help="Only these strategies (repeatable)."),
        formula: str | None = typer.Option(None, metavar="METRIC", help="Print the formula "
                                           "of METRIC (e.g. tables_unshared) for the chosen "
                                           "strategies instead of numbers."),
        fmt: str = options.output_format(),
        units: str = options.units(),
        columns: str | None = options.columns(),
        wide: bool = options.wide(),
    ) -> None:
        """Cost of one operation by one process on the shared region, for every strategy:
        page tables freed, unshared and allocated, VmPTE and PageTables now and after the
        refaults, refaults, TLB flushes and IPIs.  Every row names its kernel source or
        the posting of a proposal."""
        from ptcalc.compute.operations import OPERATIONS, make_inputs, operation_rows
        from ptcalc.inputs.presets import DEFAULT_PRESET, load_preset
        from ptcalc.inputs.scenario import make_scenario, parse_choice, parse_strategies
        from ptcalc.present.tables import FORMATS, UNITS

        operation = parse_choice(operation, OPERATIONS, "operation")
        fmt = parse_choice(fmt, FORMATS, "format")
        units = parse_choice(units, UNITS, "units")
        chosen = {"offset": "0", "touched": "1", "access": "write"}
        if layout and (preset or size or procs or offset or touched or access):
            from ptcalc.errors import InputError

            raise InputError("--layout gives the region and processes; drop --preset, --size, "
                             "--procs, --offset, --touched and --access")
        if (region or group) and not layout:
            from ptcalc.errors import InputError

            raise InputError("--region and --group choose inside a --layout FILE")
        if layout:
            pass
        elif preset or (size is None and procs is None):
            values = load_preset(preset or DEFAULT_PRESET).values
            chosen.update({k: v for k, v in values.items() if k in
                           ("size", "procs", "offset", "touched", "access")})
        given = {"size": size, "procs": procs, "offset": offset, "touched": touched,
                 "access": access}
        chosen.update({k: v for k, v in given.items() if v is not None})
        for key in ("size", "procs"):
            if key not in chosen and not layout:
                from ptcalc.errors import InputError

                raise InputError(f"--{key} is missing; give --size and --procs, or --preset")
        strategies = parse_strategies(strategy)
        if formula:
            typer.echo(_formula_text(strategies, operation, formula))
            return
        if layout:
            from ptcalc.cli.layout import load_layout
            from ptcalc.compute.operations import scenario_from_layout

            host = load_layout(layout)
            private = _private_heap(host, group)
            if operation == "fork" and private and not heap:
                heap = str(private)
            if not any(r.kind == "shared" for r in host.regions) and operation == "fork":
                from ptcalc.present.operations import fork_latency_lines

                fork = _heap_fork(heap)
                if fmt == "json":
                    import json

                    typer.echo(json.dumps({"rows": [], "private_heap_fork": fork}, indent=2))
                else:
                    typer.echo("\n".join(fork_latency_lines(fork, units)))
                return
            scenario = scenario_from_layout(host, region, group)
        else:
            scenario = make_scenario(chosen["size"], chosen["procs"], chosen["offset"],
                                     chosen["touched"], chosen["access"])
        inputs = make_inputs(operation, scenario, at, bytes_, cpus, host_cpus)
        rows = operation_rows(inputs, strategies)
        fork = _heap_fork(heap) if heap else None
        if fmt in ("json", "csv"):
            from ptcalc.present.tables import render

            if fork and fmt == "json":
                import json

                typer.echo(json.dumps({"rows": rows, "private_heap_fork": fork}, indent=2))
                return
            typer.echo(render(rows, fmt, units))
            return
        from ptcalc.present.operations import fork_latency_lines, render_operations

        text = render_operations(rows, inputs, fmt, units, _title(inputs, units))
        if fork:
            text += "\n\n" + "\n".join(fork_latency_lines(fork, units))
        typer.echo(text)


    @app.command("op-probe")
    def op_probe(
        case: list[str] | None = typer.Option(None, help="Only cases whose name contains this "
                                              "text (repeatable)."),
        fork: bool = typer.Option(False, "--fork", help="Only measure fork() cost per GiB of "
                                  "copied page tables and store it for `ptcalc op fork "
                                  "--heap`."),
        repeat: int = typer.Option(3, help="Runs per case; the median is compared."),
        fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    ) -> None:
        """Check the operation rules on this kernel: mprotect, munmap and MADV_DONTNEED of
        PMD-shared hugetlb, 4 KiB shmem and threads (VmPTE exactly, refaults +-2, the IPIs
        CPU 1 receives within the idle noise), and fork() cost per GiB of copied tables.
        Needs root for huge pages; restores what it changes.  Exits 1 on a mismatch."""
        from ptcalc.inputs.scenario import parse_choice
        from ptcalc.probe import operations as probe

        fmt = parse_choice(fmt, ("table", "json"), "format")
        report = probe.run(case_filter=case, fork_only=fork, repeat=repeat)
        typer.echo(probe.render(report, fmt))
        raise typer.Exit(report["exit_code"])


def _private_heap(layout, group: str | None) -> int:
    """Touched bytes of the private regions the acting group (default: the first) maps."""
    groups = [g for g in layout.groups if group in (None, g.name)]
    if not groups:
        return 0
    kinds = {r.name: r.kind for r in layout.regions}
    return sum(m.touched_bytes for m in groups[0].maps if kinds.get(m.region) == "private")


def _heap_fork(heap: str) -> dict:
    from ptcalc.compute.forkcost import fork_cost, load_calibration
    from ptcalc.units import parse_size

    return fork_cost(parse_size(heap, what="heap"), load_calibration())


def _title(inputs, units: str) -> str:
    from ptcalc.units import format_size

    s = inputs.scenario
    what = (f"{inputs.operation} of [{format_size(inputs.op_start_bytes, units)}, "
            f"+{format_size(inputs.op_bytes, units)}) by one process"
            if inputs.operation in ("mprotect", "munmap", "madvise") else
            f"{inputs.operation} of one process")
    return (f"{what}: {format_size(s.size_bytes, units)} region at offset "
            f"{format_size(s.offset_bytes, units)}, {s.procs:,} processes, each touched "
            f"{format_size(s.touched_bytes, units)} ({s.access})")


def _formula_text(strategies, operation: str, metric: str) -> str:
    from ptcalc.errors import InputError
    from ptcalc.model import operations as model

    if operation not in ("mprotect", "munmap", "madvise"):
        raise InputError("formulas are shown for mprotect, munmap and madvise; fork and exit "
                         "follow the steady-state model (ptcalc formula STRATEGY METRIC)")
    if metric not in model.FORMULA_METRICS:
        raise InputError(f"metric {metric!r} has no formula; known: "
                         f"{', '.join(model.FORMULA_METRICS)}")
    lines = []
    for name in strategies:
        if name not in model.RULE_OF_STRATEGY:
            lines.append(f"{name}: no formula ({operation} is not modelled for it)")
            continue
        lines.append(f"{name}: {metric} = {model.expression(name, operation, metric)}")
    return "\n".join(lines)

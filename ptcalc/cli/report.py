"""`ptcalc report`: the sizing report as one standalone HTML or Markdown file.

Only typer and the standard library load with this module; the report builder (pandas, sympy,
matplotlib) loads inside the command.
"""

from __future__ import annotations

import shlex
import sys

import typer

REPORT_HELP = """Write a sizing report (findings, every strategy, plots of page tables
against processes with the OOM point, savings, faults and TLB coverage, huge pages to reserve,
formulas, sources) as one file.  The extension picks the format: .html is standalone (plots
embedded as base64 data URIs); .md writes its PNG plots into <stem>_files/ beside it, or
embeds them with --embed-images.  Files are replaced atomically.  --layout FILE reports on
a host layout instead (regions, groups, the host and group tables, capacity of one --group).
Needs matplotlib (pip install 'ptcalc[plot]')."""


def register(app: typer.Typer) -> None:
    @app.command(help=REPORT_HELP)
    def report(
        output: str = typer.Option(..., "--output", "-o",
                                   help="Report file: NAME.html or NAME.md."),
        preset: str | None = typer.Option(None, help="Named workload (models/workloads); "
                                          "other options override its values (default: "
                                          "oracle-sga-300g when --size and --procs are not "
                                          "given)."),
        size: str | None = typer.Option(None, help="Region size: 300GiB, 10GB, ..."),
        procs: str | None = typer.Option(None, help="Processes mapping the region."),
        ram: str | None = typer.Option(None, help="Host RAM, for the OOM point."),
        offset: str | None = typer.Option(None, help="Start address modulo 512 GiB."),
        touched: str | None = typer.Option(None, help="Fraction each process touches."),
        access: str | None = typer.Option(None, help="read or write."),
        pattern: str | None = typer.Option(None, help="dense or random."),
        cpu: str = typer.Option("default", help="CPU for the TLB plot (see `ptcalc cpus`; "
                                "'host' detects this machine's)."),
        embed_images: bool = typer.Option(False, "--embed-images",
                                          help="Markdown: embed the plots as data URIs "
                                               "instead of writing PNGs beside the file."),
        layout: str | None = typer.Option(None, "--layout", metavar="NAME|FILE",
                                          help="Report on a host layout (TOML file or name "
                                               "in models/layouts) instead of one region; "
                                               "--ram overrides its RAM."),
        group: str | None = typer.Option(None, "--group", metavar="NAME",
                                         help="With --layout: the group whose process count "
                                              "the capacity section grows (default: the "
                                              "largest that is not a fork parent)."),
    ) -> None:
        from ptcalc.errors import InputError
        from ptcalc.present.sizing.build import check_report_path

        check_report_path(output)          # fail fast, before minutes of work
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise InputError("ptcalc report needs matplotlib: pip install 'ptcalc[plot]'") \
                from None
        command = "ptcalc " + " ".join(shlex.quote(arg) for arg in sys.argv[1:]) \
            if sys.argv[1:2] == ["report"] else ""
        if layout is not None or group is not None:
            _layout_report(layout, group, output, embed_images, command, ram,
                           {"--preset": preset, "--size": size, "--procs": procs,
                            "--offset": offset, "--touched": touched, "--access": access,
                            "--pattern": pattern})
            return
        from ptcalc.present.sizing.build import build_report, write_report
        from ptcalc.units import format_size

        built = build_report(preset, size=size, procs=procs, ram=ram, offset=offset,
                             touched=touched, access=access, pattern=pattern, cpu=cpu,
                             command=command)
        written = write_report(built, output, embed_images=embed_images)
        total = sum(path.stat().st_size for path in written)
        extra = f" and {len(written) - 1} PNG files in {written[1].parent}" \
            if len(written) > 1 else ""
        typer.echo(f"wrote {written[0]} ({format_size(total)}, {len(built.figures)} plots"
                   f"{extra}): {built.scenario_text}")


def _layout_report(layout, group, output, embed_images, command, ram, scenario) -> None:
    from ptcalc.cli.layout import resolve_layout
    from ptcalc.errors import InputError
    from ptcalc.model.strategies import STRATEGY_NAMES
    from ptcalc.present.layout_report import build_layout_report, write_layout_report
    from ptcalc.units import format_size

    if layout is None:
        raise InputError("--group chooses a group of a layout; give --layout FILE")
    given = [name for name, value in scenario.items() if value is not None]
    if given:
        raise InputError(f"{given[0]} does not apply to report --layout (the layout gives "
                         "its regions and groups); --ram and --group do")
    loaded = resolve_layout(layout, ram=ram)
    if group is not None:
        try:
            loaded.group(group)
        except KeyError:
            raise InputError(f"group {group!r} is not in the layout; groups: "
                             f"{', '.join(g.name for g in loaded.groups)}") from None
    built = build_layout_report(loaded, STRATEGY_NAMES, group, command)
    written = write_layout_report(built, output, embed_images=embed_images)
    total = sum(path.stat().st_size for path in written)
    typer.echo(f"wrote {written[0]} ({format_size(total)}, {len(built.figures)} plots): "
               f"{built.summary}")

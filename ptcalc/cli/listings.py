"""`ptcalc formula`, `ptcalc cpus` and `ptcalc strategies`: what the model knows.

Only typer and the standard library load with this module.
"""

from __future__ import annotations

from typing import Literal

import typer

from ptcalc.cli import options
from ptcalc.cli.options import FORMATS, HOST_PAGES, PATTERNS


def register(app: typer.Typer) -> None:
    @app.command()
    def formula(
        strategy: str = typer.Argument(..., metavar="STRATEGY", help="A strategy name (see "
                                       "`ptcalc strategies`).",
                                       autocompletion=options.complete_strategy),
        metric: str = typer.Argument(..., metavar="METRIC", help="A metric, e.g. "
                                     "pt_bytes_total or faults_next.",
                                     autocompletion=options.complete_metric),
        latex: bool = typer.Option(False, "--latex", help="Print LaTeX instead of plain "
                                   "text."),
        paging: str = options.paging(),
        pattern: Literal[PATTERNS] = typer.Option("dense", metavar="PATTERN",
                                                  case_sensitive=False,
                                                  help="dense or random."),
        cpu: str | None = options.cpu("For TLB metrics: fill in this CPU's entries (a name "
                                      "or a CPU file; default: show the entry counts as "
                                      "symbols)."),
        virtualized: bool = typer.Option(False, "--virtualized", help="TLB walk_refs: 2D "
                                         "walk."),
        host_page: Literal[HOST_PAGES] = typer.Option("4k", metavar="PAGE",
                                                      case_sensitive=False,
                                                      help="Host page size with "
                                                           "--virtualized: 4k, 2m or 1g."),
    ) -> None:
        """Print the formula of one metric of one strategy, with its constants."""
        from ptcalc.present.formula import formula_text

        typer.echo(formula_text(strategy, metric, latex=latex, paging=paging,
                                pattern=pattern.lower(), cpu=cpu, virtualized=virtualized,
                                host_page=host_page.lower()))

    @app.command()
    def cpus(fmt: Literal[FORMATS] = options.output_format(),
             columns: str | None = options.columns(), wide: bool = options.wide()) -> None:
        """List the CPUs with TLB data (models/cpus), one line each."""
        from ptcalc.cpus import load as cpu_data
        from ptcalc.present.tables import render

        rows = [{"name": line.split(":")[0], "summary": line.split(": ", 1)[1]}
                for line in cpu_data.summary_lines()]
        notes = [(f"default: {cpu_data.DEFAULT_CPU}; 'host' detects this machine's CPU; "
                  "--cpu also takes a CPU file (TOML, as in models/cpus)")]
        fmt = fmt.lower()
        typer.echo(render(rows, fmt, columns=(("name", "cpu", "text"),
                                              ("summary", "summary", "text")),
                          notes=notes if fmt == "table" else None))

    @app.command()
    def strategies(fmt: Literal[FORMATS] = options.output_format(),
                   columns: str | None = options.columns(),
                   wide: bool = options.wide()) -> None:
        """List the strategies: what each shares, its rule, its sources and upstream
        status."""
        from ptcalc.catalog import STRATEGIES
        from ptcalc.present.tables import render

        fmt = fmt.lower()
        if fmt == "json" and columns is None:
            typer.echo(render([s.as_dict() for s in STRATEGIES], "json"))
            return
        rows = [{"name": s.name, "shared": s.shared, "rule": s.rule, "source": s.source,
                 "upstream": s.upstream.summary(), "leaf_sizes": ",".join(s.leaf_sizes),
                 "probe_backings": ",".join(s.probe_backings)} for s in STRATEGIES]
        if fmt != "table" or columns is not None:
            typer.echo(render(rows, fmt, columns=tuple((key, key, "text") for key in rows[0])))
            return
        from ptcalc.present.listing import strategy_listing

        typer.echo(strategy_listing(STRATEGIES))

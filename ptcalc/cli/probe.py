"""`ptcalc probe`: check the model against the running kernel (ptcalc.probe.run)."""

from __future__ import annotations

import sys

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def probe(
        size: str | None = typer.Option(None, help="Probe this region size (default: the "
                                        "built-in matrix of cases)."),
        offset: str = typer.Option("0", help="Start address modulo 512 GiB."),
        procs: str = typer.Option("2", help="Processes in the model; at most 4 are run."),
        access: list[str] | None = typer.Option(None, help="read and/or write (repeatable)."),
        strategy: list[str] | None = typer.Option(None, "--strategy", "-s",
                                                  help="Only these strategies (repeatable)."),
        case: list[str] | None = typer.Option(None, help="Matrix cases whose name contains "
                                              "this text (repeatable)."),
        fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
        restore: bool = typer.Option(False, "--restore", help="Only repair what a probe "
                                     "killed before it could restore (SIGKILL, OOM) left: "
                                     "huge page pools, mounts; then exit."),
        layouts: bool = typer.Option(False, "--layouts", help="Run the host-layout cases "
                                     "instead: fork, maps at other addresses, THP with a "
                                     "file offset, independent random sets."),
    ) -> None:
        """Map real regions in child processes and compare VmPTE growth and minor faults
        with the model (bytes exactly, faults within +-2 per process).  Huge page
        reservations and mounts need root; whatever it changes is restored, also on Ctrl-C.
        Exits 1 when a measurement differs from the model."""
        from ptcalc.inputs.scenario import parse_choice, parse_procs, parse_strategies
        from ptcalc.probe import run as kernel_probe

        if restore:
            try:
                repaired = kernel_probe.restore_only()
            except kernel_probe.ProbeBusy as error:
                print(f"ptcalc: error: {error}", file=sys.stderr)
                raise typer.Exit(1) from None
            nothing = "nothing to repair: no probe was killed before restoring its settings"
            for line in repaired or [nothing]:
                typer.echo(f"ptcalc probe: {line}")
            raise typer.Exit(0)

        fmt = parse_choice(fmt, ("table", "json"), "format")
        if layouts:
            _probe_layouts(fmt)
        accesses = [parse_choice(a, ("read", "write"), "access") for a in access or ["write"]]
        chosen = list(parse_strategies(strategy)) if strategy else None
        if size:
            cases = kernel_probe.user_cases(size, offset, parse_procs(procs), accesses, chosen)
        else:
            cases = kernel_probe.default_matrix()
            if chosen:
                cases = [c for c in cases if c.strategy in chosen]
            if case:
                cases = [c for c in cases if any(text in c.name for text in case)]
            if not cases:
                from ptcalc.errors import InputError

                raise InputError("no matrix case matches --strategy/--case; "
                                 "run `ptcalc probe` to see the case names")
        try:
            report = kernel_probe.run_probe(
                cases, progress=lambda text: print(text, file=sys.stderr, flush=True))
        except kernel_probe.ProbeBusy as error:
            print(f"ptcalc: error: {error}", file=sys.stderr)
            raise typer.Exit(1) from None
        for line in getattr(report, "repaired", ()):
            print(f"ptcalc probe: {line}", file=sys.stderr)
        typer.echo(kernel_probe.render(report, fmt))
        raise typer.Exit(report.exit_code)


def _probe_layouts(fmt: str) -> None:
    import json

    from ptcalc.probe import layouts as layout_probe

    cases, state = layout_probe.probe_layouts(
        lambda text: print(text, file=sys.stderr, flush=True))
    if fmt == "json":
        typer.echo(json.dumps({"cases": [{"case": c.name, "status": c.status,
                                          "reason": c.reason or None, "measured": c.measured,
                                          "model": {k: c.model.get(k) for _, k, _ in c.checks}}
                                         for c in cases], **state}, indent=2))
    else:
        typer.echo(layout_probe.render(cases))
    bad = [c for c in cases if c.status in ("FAIL", "error")] or not state["restored"]
    raise typer.Exit(1 if bad else 0)

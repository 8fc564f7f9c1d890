"""Option declarations shared by the commands: one help text and one default per option.

Each function returns a fresh typer.Option (typer keeps state per parameter); extra keyword
arguments (metavar, help) adapt it to a command.  Only typer loads here.
"""

from __future__ import annotations

import os
import sys

import typer

FORMAT_HELP = "Output format: table, markdown, csv or json."
UNITS_HELP = "Units in tables: iec (GiB), si (GB) or bytes."
PRESET_HELP = ("Take unset options from a named workload (models/workloads) or a TOML file "
               "of the same form.")


def _fixed(choices):
    """Completion of a fixed set of choices."""
    def complete(incomplete: str):
        return [choice for choice in choices if choice.startswith(incomplete.lower())]
    return complete


def output_format(default: str | None = "table", **extra):
    """--format/-f."""
    return typer.Option(default, "--format", "-f",
                        **{"help": FORMAT_HELP, "metavar": "FORMAT", "case_sensitive": False,
                           "autocompletion": _fixed(FORMATS), **extra})


def units(**extra):
    return typer.Option("iec", **{"help": UNITS_HELP, "metavar": "UNITS",
                                  "case_sensitive": False, "autocompletion": _fixed(UNITS),
                                  **extra})


def preset(**extra):
    return typer.Option(None, **{"help": PRESET_HELP, "metavar": "NAME|FILE",
                                 "autocompletion": complete_preset, **extra})


def strategy(**extra):
    """--strategy/-s, repeatable."""
    return typer.Option(None, "--strategy", "-s",
                        **{"help": "Only these strategies (repeatable, or a comma list).",
                           "metavar": "NAME", "autocompletion": complete_strategy, **extra})


def cpu(help_text: str, **extra):
    """--cpu NAME|FILE."""
    return typer.Option(None, **{"help": help_text, "metavar": "NAME|FILE",
                                 "autocompletion": complete_cpu, **extra})


PAGING_HELP = ("Paging levels: 4, 5, or auto (this host's: 5 where /proc/cpuinfo shows la57, "
               "which Linux >= 6.16 uses whenever the CPU has it).")


def paging(**extra):
    """--paging: 4 or 5 levels, or auto (the default: this host's, said in the title)."""
    return typer.Option("auto", **{"help": PAGING_HELP, "metavar": "LEVELS",
                                   "autocompletion": _fixed(PAGINGS), **extra})


def paging_note(value) -> str:
    """' (auto: why)' for titles when the levels were detected on this host, '' when given."""
    from ptcalc.inputs.host_paging import choose_paging

    reason = choose_paging(value).reason
    return f" ({reason})" if reason else ""


def fault_around(**extra):
    return typer.Option("64KiB", **{"help": "The kernel's fault_around_bytes.",
                                    "metavar": "SIZE", **extra})


def decimal_units(help_text: str):
    return typer.Option(False, "--decimal-units", help=help_text)


def scenario_value(help_text: str, default: str | None = None, **extra):
    """A scenario value (--size, --procs, --offset, ...): unset unless given, so that a preset
    or the defaults (ptcalc.inputs.presets.SCENARIO_DEFAULTS) can fill it; `default` is what
    --help says is used then."""
    if default is not None:
        help_text += f"  [default: {default}]"
    return typer.Option(None, help=help_text, **extra)


# --columns and --wide: every command that prints a table takes both.  Their callbacks set
# the current ptcalc.present.fit.Fit (the command's tables read it), so a command only
# declares them.
COLUMNS_HELP = ("Only these columns, in this order (keys as in --format json, e.g. "
                "strategy,pt_bytes_total); applies to csv and json too.")
WIDE_HELP = ("Every column, rows unwrapped, whatever the terminal's width (the default when "
             "stdout is not a terminal and COLUMNS is not set).")


def terminal_width() -> int | None:
    """The width tables fit: COLUMNS when set (as rich, ls and click read it), else the
    terminal's when stdout is one, else None (no limit: a pipe or a file gets whole rows,
    as ps and git give them; csv and json are for programs)."""
    import shutil

    text = os.environ.get("COLUMNS", "").strip()
    if text.isdigit() and int(text) > 0:
        return max(int(text), 20)
    try:
        if sys.stdout.isatty():
            return max(shutil.get_terminal_size().columns, 20)
    except (AttributeError, ValueError, OSError):
        pass
    return None


def _set_fit(ctx, key: str, value):
    from ptcalc.present import fit

    chosen = ctx.meta.setdefault("ptcalc_fit", {})
    chosen[key] = value
    wide = bool(chosen.get("wide"))
    keys = chosen.get("columns")
    fit.use(fit.Fit(width=None if wide else terminal_width(),
                    columns=_column_keys(keys) if keys else None))
    return value


def _column_keys(text: str) -> tuple[str, ...]:
    from ptcalc.errors import InputError

    keys = tuple(key.strip() for key in str(text).split(",") if key.strip())
    if not keys:
        raise InputError("--columns is empty; give column keys, e.g. "
                         "--columns strategy,pt_bytes_total")
    return keys


def _columns_callback(ctx: typer.Context, value: str | None):
    return _set_fit(ctx, "columns", value)


def _wide_callback(ctx: typer.Context, value: bool):
    return _set_fit(ctx, "wide", value)


def columns(**extra):
    """--columns KEYS."""
    return typer.Option(None, "--columns", **{"help": COLUMNS_HELP, "metavar": "KEYS",
                                              "callback": _columns_callback, **extra})


def wide(**extra):
    """--wide."""
    return typer.Option(False, "--wide", **{"help": WIDE_HELP, "callback": _wide_callback,
                                            **extra})


# Choices.  Fixed sets are literal here (the CLI loads no ptcalc module to declare its
# options; tests check them against ptcalc.present.tables and ptcalc.inputs); the names of
# strategies, CPUs, presets and metrics are read when completing or showing --help.
FORMATS = ("table", "markdown", "csv", "json")
UNITS = ("iec", "si", "bytes")
ACCESSES = ("read", "write")
PATTERNS = ("dense", "random")
PAGINGS = ("4", "5", "auto")
HOST_PAGES = ("4k", "2m", "1g")
#: Scenario values used when neither an option nor a preset gives one, as --help shows them
#: (ptcalc.inputs.presets.SCENARIO_DEFAULTS; a test keeps the two equal).
SCENARIO_DEFAULTS = {"offset": "0", "touched": "1", "access": "write", "pattern": "dense"}


def strategy_names() -> list[str]:
    from ptcalc.catalog import STRATEGY_NAMES

    return list(STRATEGY_NAMES)


def cpu_names() -> list[str]:
    from ptcalc.data import models_path

    return ["host", "default", *sorted(p.stem for p in models_path("cpus").glob("*.toml"))]


def preset_names() -> list[str]:
    from ptcalc.inputs.presets import preset_names as names

    return names()


def metric_names() -> list[str]:
    from ptcalc.compute.formulas import metric_names as names

    return list(names(5))


def _paths(incomplete: str) -> list[str]:
    """Files and folders that start with `incomplete` (a CPU or preset may be a file)."""
    import glob

    out = []
    for path in sorted(glob.glob(glob.escape(os.path.expanduser(incomplete)) + "*")):
        out.append(path + "/" if os.path.isdir(path) else path)
    return out


def _completer(names, files: bool = False):
    def complete(incomplete: str):
        if files and ("/" in incomplete or incomplete.startswith(".")):
            return _paths(incomplete)
        last = incomplete.rsplit(",", 1)             # -s a,b<TAB>: complete the last name
        head = last[0] + "," if len(last) == 2 else ""
        offered = [head + name for name in names() if name.startswith(last[-1])]
        return offered + (_paths(incomplete) if files and not offered else [])
    return complete


complete_strategy = _completer(strategy_names)
complete_cpu = _completer(cpu_names, files=True)
complete_preset = _completer(preset_names, files=True)
complete_metric = _completer(metric_names)

#: option name -> the names --help lists for it (filled in by ptcalc.cli.main when help is
#: shown: reading them at every start would cost the time the CLI saves by loading lazily).
LISTED_IN_HELP = {"strategy": strategy_names, "cpu": cpu_names, "preset": preset_names,
                  "metric": metric_names}

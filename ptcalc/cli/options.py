"""Option declarations shared by the commands: one help text and one default per option.

Each function returns a fresh typer.Option (typer keeps state per parameter); extra keyword
arguments (metavar, help) adapt it to a command.  Only typer loads here.
"""

from __future__ import annotations

import typer

FORMAT_HELP = "Output format: table, markdown, csv or json."
UNITS_HELP = "Units in tables: iec (GiB), si (GB) or bytes."
PRESET_HELP = "Take unset options from a named workload (models/workloads)."


def output_format(default: str | None = "table", **extra):
    """--format/-f."""
    return typer.Option(default, "--format", "-f", **{"help": FORMAT_HELP, **extra})


def units(**extra):
    return typer.Option("iec", **{"help": UNITS_HELP, **extra})


def preset(**extra):
    return typer.Option(None, **{"help": PRESET_HELP, **extra})


def strategy(**extra):
    """--strategy/-s, repeatable."""
    return typer.Option(None, "--strategy", "-s",
                        **{"help": "Only these strategies (repeatable).", **extra})


PAGING_HELP = ("Paging levels: 4, 5, or auto (this host's: 5 where /proc/cpuinfo shows la57, "
               "which Linux >= 6.16 uses whenever the CPU has it).")


def paging(**extra):
    """--paging: 4 or 5 levels, or auto (the default: this host's, said in the title)."""
    return typer.Option("auto", **{"help": PAGING_HELP, "metavar": "4|5|auto", **extra})


def paging_note(value) -> str:
    """' (auto: why)' for titles when the levels were detected on this host, '' when given."""
    from ptcalc.inputs.host_paging import choose_paging

    reason = choose_paging(value).reason
    return f" ({reason})" if reason else ""


def fault_around(**extra):
    return typer.Option("64KiB", **{"help": "The kernel's fault_around_bytes.", **extra})


def decimal_units(help_text: str):
    return typer.Option(False, "--decimal-units", help=help_text)


def scenario_value(help_text: str, **extra):
    """A scenario value (--size, --procs, --offset, ...): unset unless given, so that a preset
    or the defaults (ptcalc.inputs.presets.SCENARIO_DEFAULTS) can fill it."""
    return typer.Option(None, help=help_text, **extra)

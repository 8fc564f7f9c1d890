"""Build only the command that runs: typer turns every registered command into click options
before it parses anything (about 2.5 ms a command here, 30 ms for all of ptcalc's), while a
run needs one.  `ptcalc --help`, an unknown name and shell completion get the whole group.
Standard library and typer only."""

from __future__ import annotations

import copy
import os


def click_command(app, argv: list[str]):
    """The click group to run `argv` with: holding only argv[0]'s command when it names one."""
    import typer

    name = argv[0] if argv else ""
    completing = any(key.startswith("_") and key.endswith("_COMPLETE") for key in os.environ)
    if name and not name.startswith("-") and not completing:
        chosen = [info for info in app.registered_commands if _name(info) == name]
        if chosen:
            single = copy.copy(app)
            single.registered_commands = chosen
            return typer.main.get_group(single)
    return typer.main.get_command(app)


def _name(info) -> str:
    import typer

    return info.name or typer.main.get_command_name(info.callback.__name__)

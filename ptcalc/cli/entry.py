"""The `ptcalc` command's entry point (also `python -m ptcalc`): quiet from the first instant.

Importing typer and the command modules takes a noticeable moment; a Ctrl-C then would be a
KeyboardInterrupt traceback from deep inside an import.  Until the commands are loaded, SIGINT
ends the process with one line and exit 130; from then on it is a KeyboardInterrupt, which
`main()` (and the atomic file writers) turn into a clean exit.  Standard library only.
"""

from __future__ import annotations

import os
import signal
import sys


def _interrupted_while_starting(signum, frame) -> None:
    try:
        os.write(2, b"ptcalc: interrupted\n")
    except OSError:
        pass
    os._exit(130)        # nothing to clean up yet: no file is open, no setting changed


def run() -> None:
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    from ptcalc.cli import main as cli

    cli._register_commands()
    signal.signal(signal.SIGINT, signal.default_int_handler)   # KeyboardInterrupt again
    # `ptcalc sweep ... | head`: end quietly on a closed pipe, as Unix filters do.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(cli.main())

"""The `ptcalc` command's entry point (also `python -m ptcalc`): quiet from the first instant.

Importing typer and the command modules takes a noticeable moment; a Ctrl-C then would be a
KeyboardInterrupt traceback from deep inside an import.  Until the commands are loaded, SIGINT
ends the process with one line and exit 130; from then on it is a KeyboardInterrupt, which
`main()` (and the atomic file writers) turn into a clean exit.  Standard library only; this
module imports ptcalc.cli.main, never the other way round.
"""

from __future__ import annotations

import os
import signal


def _interrupted_while_starting(signum, frame) -> None:
    try:
        os.write(2, b"ptcalc: interrupted\n")
    except OSError:
        pass
    os._exit(130)        # nothing to clean up yet: no file is open, no setting changed


def run() -> None:
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    from ptcalc.cli.main import run as run_loaded  # imports typer and the commands

    run_loaded()

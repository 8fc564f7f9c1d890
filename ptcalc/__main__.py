import os
import signal

# Quiet on Ctrl-C from the first line (see ptcalc.cli.entry, which takes over at once).
signal.signal(signal.SIGINT, lambda signum, frame: (os.write(2, b"ptcalc: interrupted\n"),
                                                     os._exit(130)))

from ptcalc.cli.entry import run  # noqa: E402

run()

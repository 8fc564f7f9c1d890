try:
    import os
    import signal

    # Quiet on Ctrl-C from the first line (see ptcalc.cli.entry, which takes over at once).
    signal.signal(signal.SIGINT, lambda signum, frame: (os.write(2, b"ptcalc: interrupted\n"),
                                                         os._exit(130)))
except KeyboardInterrupt:       # Ctrl-C before the handler above was in place
    import sys

    sys.stderr.write("ptcalc: interrupted\n")
    raise SystemExit(130) from None

from ptcalc.cli.entry import run

run()

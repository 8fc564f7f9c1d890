from ptcalc.cli import run

run()

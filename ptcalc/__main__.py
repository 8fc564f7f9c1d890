from ptcalc.cli.main import run

run()

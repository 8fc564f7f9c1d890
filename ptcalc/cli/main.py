"""The ptcalc command line.  Thin: parses options, calls the library, prints.

Only typer and the standard library load at import; each command imports what it needs, and
`compare` runs on generated plain-Python formulas (no sympy, pandas or numpy).
"""

from __future__ import annotations

import os
import sys

import typer

app = typer.Typer(
    name="ptcalc",
    help="Page-table cost of sharing memory between processes on x86-64 Linux: page-table "
         "bytes, faults and TLB reach for each sharing strategy.",
    no_args_is_help=False,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib import metadata

        try:
            version = metadata.version("ptcalc")
        except metadata.PackageNotFoundError:      # run from a source tree
            from ptcalc import __version__ as version
        typer.echo(f"ptcalc {version}")
        raise typer.Exit(0)


@app.callback()
def _options(version: bool = typer.Option(False, "--version", is_eager=True,
                                          callback=_version,
                                          help="Print the version and exit.")) -> None:
    pass


# Modules that add commands, in the order --help lists them: each defines register(app)
# and imports only typer and the standard library at module level (start-up stays fast).
COMMAND_MODULES = ("ptcalc.cli.compare", "ptcalc.cli.listings", "ptcalc.cli.probe",
                   "ptcalc.cli.report", "ptcalc.cli.inspect", "ptcalc.cli.sweep",
                   "ptcalc.cli.op")


_registered: list[str] = []


def _register_commands() -> None:
    """Add the commands of COMMAND_MODULES to the app, once per process."""
    import importlib

    for name in COMMAND_MODULES:
        if name not in _registered:
            importlib.import_module(name).register(app)
            _registered.append(name)


def _named(error: BaseException, *names: str) -> bool:
    """Is `error` an instance of a click exception class called one of `names`?  (typer may
    bundle its own copy of click, so the classes are matched by name.)"""
    return any(cls.__name__ in names for cls in type(error).__mro__)


COMPLETE_VAR = "_PTCALC_COMPLETE"


def _completion_protocol() -> None:
    """Accept click's spelling of the completion request (`bash_complete`, `zsh_source`, as
    click's documentation gives it) besides typer's (`complete_bash`, what the scripts of
    --install-completion send)."""
    shell, _, instruction = os.environ.get(COMPLETE_VAR, "").partition("_")
    if instruction in ("complete", "source") and shell in ("bash", "zsh", "fish",
                                                           "powershell", "pwsh"):
        os.environ[COMPLETE_VAR] = f"{instruction}_{shell}"


def _prepare_help(command) -> None:
    """Help in one style: every value shown as an upper-case word (--size SIZE, STRATEGY;
    typer would show `<str>` where a command sets no metavar), and the names an option takes
    (strategies, CPUs, presets, metrics) listed in its help.  Done only when help is shown:
    reading the names costs start-up time."""
    from ptcalc.cli.options import LISTED_IN_HELP

    for sub in getattr(command, "commands", {}).values():
        for param in sub.params:
            if getattr(param, "param_type_name", "") == "argument":
                param.metavar = param.metavar or param.name.upper()
                param.display_type_rich = lambda ctx: None     # not "STRATEGY <str>"
            elif not (getattr(param, "is_flag", False) or param.metavar):
                longest = max(param.opts, key=len).lstrip("-")         # --format, not fmt
                param.metavar = longest.replace("-", "_").upper()
            names = LISTED_IN_HELP.get(param.name)
            if names and getattr(param, "help", None) and "One of:" not in param.help:
                param.help = f"{param.help} One of: {', '.join(names())}."


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors, exit 2 on bad input, never a traceback; a closed
    stdout (`ptcalc ... | head -1`) ends it quietly with exit 0."""
    from ptcalc.errors import InputError

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:        # bare `ptcalc`: show what it can do
        argv = ["--help"]
    token = None
    try:
        from ptcalc.cli.options import terminal_width
        from ptcalc.present import fit

        # Tables fit the terminal (--columns and --wide change that); each run sets its
        # own, so in-process callers (tests) do not inherit one.
        token = fit.use(fit.Fit(width=terminal_width()))
        _register_commands()
        _completion_protocol()
        from ptcalc.cli.lazy import click_command

        command = click_command(app, argv)          # a Ctrl-C here too is one line
        if "--help" in argv or "-h" in argv:
            _prepare_help(command)
        # Without standalone mode, click returns typer.Exit's code instead of raising it.
        code = command.main(args=argv, prog_name="ptcalc", standalone_mode=False)
        sys.stdout.flush()         # a full disk or EIO shows here, not at interpreter exit
        if code == 130:
            print("ptcalc: interrupted", file=sys.stderr)
        return code if isinstance(code, int) else 0
    except InputError as error:
        print(f"ptcalc: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ptcalc: interrupted", file=sys.stderr)
        return 130
    except SystemExit as error:
        # click ends a write to a closed pipe with exit 1; a reader that stopped reading
        # (`| head -1`) is no failure: exit 0, as for the pipes this function sees itself
        if _closed_pipe(error.__context__):
            _discard_stdout()
            return 0
        raise
    except OSError as error:
        if _closed_pipe(error):
            _discard_stdout()      # the reader has what it wanted, as `head` expects
            return 0
        print(f"ptcalc: error: {_write_failure(error)}", file=sys.stderr)  # exit 1
        _discard_stdout()
        return 1
    except Exception as error:  # click's own exceptions, matched by class name
        if _named(error, "Exit"):
            return error.exit_code
        if _named(error, "Abort"):
            print("ptcalc: interrupted", file=sys.stderr)
            return 130
        if _named(error, "UsageError", "ClickException"):
            ctx = getattr(error, "ctx", None)
            where = f"ptcalc {ctx.info_name}" if ctx and ctx.parent else "ptcalc"
            message = " ".join(error.format_message().split())
            print(f"ptcalc: error: {message} (see: {where} --help)", file=sys.stderr)
            return 2
        raise
    finally:
        if token is not None:
            from ptcalc.present import fit

            fit.restore(token)


def _closed_pipe(error) -> bool:
    import errno

    return isinstance(error, OSError) and error.errno == errno.EPIPE


def _write_failure(error: OSError) -> str:
    import errno

    reason = error.strerror or str(error)
    if error.errno == errno.ENAMETOOLONG:
        reason = "file name too long; give a shorter name"
    where = f"{os.fspath(error.filename)!r}" if error.filename else "the output"
    return f"cannot write {where}: {reason}"


def _discard_stdout() -> None:
    """After stdout failed, send what is still buffered to /dev/null (no second error at
    exit)."""
    try:
        fd = sys.stdout.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


def run() -> None:
    """The console script (ptcalc.cli.entry.run calls it after its quiet start; installs
    made before that module existed call it directly).  SIGPIPE stays ignored, as Python
    sets it: a closed stdout is a BrokenPipeError, which main() ends with exit 0."""
    import signal

    _register_commands()
    signal.signal(signal.SIGINT, signal.default_int_handler)   # KeyboardInterrupt again
    sys.exit(main())


if __name__ == "__main__":
    run()

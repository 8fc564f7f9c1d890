"""Output files that appear complete or not at all, and the one check of an output path.

Atomic files: the data goes to a temporary file in the target's directory (same file system),
which is renamed over the target (os.replace, atomic on POSIX) only after the last byte is
written, flushed and fsynced.  On any error, Ctrl-C (KeyboardInterrupt), SIGTERM, SIGHUP or
SIGQUIT the temporary file is removed and the target is left as it was.  New files get the
permissions a plain open() would give them (0666 minus the umask); an existing file keeps its
mode.  The mechanics (no link following, stale temporaries) are ptcalc.atomic's.  Stdlib only;
nothing at import time.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ptcalc import atomic
from ptcalc.errors import InputError


def check_output_path(path, example: str | None = None) -> Path:
    """Fail fast, before any work, when ``path`` cannot be written as a file: it is a
    directory, or its directory is missing or not writable.  ``example`` (a file name) is
    suggested when ``path`` is a directory."""
    target = Path(path)
    if target.is_dir():
        hint = f" such as {target / example}" if example else ""
        raise InputError(f"output {str(path)!r} is a directory; give a file name{hint}")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output {str(path)!r}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"output {str(path)!r}: directory {str(parent)!r} is not writable")
    return target


@contextlib.contextmanager
def atomic_file(path, binary: bool = False):
    """Yield (file object, temporary path); on success the temporary file replaces ``path``
    (ptcalc.atomic: never through a link, the mode of an existing file kept, stale
    temporaries of dead writers removed).  SIGTERM, SIGHUP or SIGQUIT (in the main thread)
    removes the temporary file and exits with 128 + the signal."""
    check_output_path(path)
    with atomic.open_replacement(path) as (fd, temporary):
        stream = os.fdopen(fd, "wb" if binary else "w", closefd=False,
                           newline=None if binary else "",
                           encoding=None if binary else "utf-8")
        try:
            yield stream, temporary
            stream.flush()
        finally:
            with contextlib.suppress(OSError, ValueError):
                stream.close()


def atomic_write(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see ``atomic_file``)."""
    with atomic_file(path, binary=True) as (stream, _):
        stream.write(data)


def replace_file_and_folder(path, data: bytes, folder, files: dict[str, bytes]) -> None:
    """Write ``data`` to ``path`` and ``files`` (name -> bytes) into the folder ``folder``
    beside it, as one unit: both old or both new.  A folder holding files ptcalc did not
    write is refused (InputError), never removed."""
    check_output_path(path)
    atomic.replace_file_and_folder(path, data, folder, files)


check_folder_is_ours = atomic.check_folder_is_ours


__all__ = ["atomic_file", "atomic_write", "check_folder_is_ours", "check_output_path",
           "replace_file_and_folder"]

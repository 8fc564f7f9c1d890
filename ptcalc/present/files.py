"""Output files that appear complete or not at all, and the one check of an output path.

Atomic files: the data goes to a temporary file in the target's directory (same file system),
which is renamed over the target only after the last byte is written, flushed and fsynced
(``ptcalc.atomic`` does it, for every writer of the project).  On any error, Ctrl-C
(KeyboardInterrupt) or SIGTERM the temporary file is removed and the target is left as it
was.  New files get the permissions a plain open() would give them (0666 minus the umask).
A directory of files (the Markdown report's images) is swapped in whole.  Stdlib only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from ptcalc.atomic import open_replacement
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path, binary: bool = False):
    """Yield (file object, temporary path); on success the temporary file replaces ``path``.
    The one implementation is ``ptcalc.atomic.open_replacement`` (exclusive temporary file,
    no link following, SIGTERM/SIGHUP/SIGQUIT exit with 128 + the signal)."""
    target = check_output_path(path)
    with open_replacement(target) as (fd, temporary):
        stream = os.fdopen(fd, "wb" if binary else "w", closefd=False,
                           encoding=None if binary else "utf-8",
                           newline=None if binary else "")
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


def replace_directory(target: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (name -> bytes) into a fresh temporary directory beside ``target``,
    then swap it in: ``target`` holds either the old files or all of the new ones."""
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        os.chmod(staging, 0o777 & ~_umask())
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old."))
            os.rmdir(old)
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


__all__ = ["atomic_file", "atomic_write", "check_output_path", "replace_directory"]

"""Replace a file safely, also as root in a directory other users can write.

    with replace_file("out/4242.snap", private=True) as stream:
        stream.write(text)

The data goes to a temporary file created exclusively (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600)
in the target's directory and renamed over the target only after the last byte is written and
flushed; rename(2) replaces a symbolic link planted at the target instead of following it.  A
target that is a symbolic link or not a regular file is refused; an existing file's mode is
kept and never widened (a private file becomes at most 0600).  In a world-writable directory
owned by someone else only a sticky directory (/tmp) is accepted, and only for a new file.

The writer holds an flock on its temporary file while it lives, so the next write to the same
target removes the temporaries of dead writers (SIGKILL, OOM) and never those of live ones.
On any error, KeyboardInterrupt, SIGTERM, SIGHUP or SIGQUIT the temporary file is removed and
the target is left as it was.  A refused target is an InputError; a failed write an OSError
naming the target (ENOSPC, EIO, ENAMETOOLONG); a signal SystemExit(128 + its number).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import signal
import stat
import threading

from ptcalc.errors import InputError

TERMINATING_SIGNALS = ("SIGTERM", "SIGHUP", "SIGQUIT")
_STEM = 200        # of the target's name in temporary names: they must fit NAME_MAX (255)


class Terminated(BaseException):
    """A terminating signal arrived while a file was being written."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _split(path) -> tuple[str, str]:
    path = os.fspath(path)
    directory, name = os.path.split(path)
    if not name or name in (".", ".."):
        raise InputError(f"output {path!r} is not a file name")
    return directory or ".", name


def _temporary_pattern(name: str) -> re.Pattern:
    """Temporary names of writers of `name`: ".NAME.<8 characters>.tmp" (as mkstemp makes)."""
    return re.compile(r"\." + re.escape(name[:_STEM]) + r"\.[A-Za-z0-9_]{8}\.tmp\Z")


def check_directory(directory: str, *, creating: bool = True) -> None:
    """InputError unless files may be written into `directory` safely (see the module doc).

    `creating` says the target does not exist yet (allowed in a sticky, world-writable
    directory of another user)."""
    try:
        info = os.stat(directory)
    except OSError as error:
        raise InputError(f"output directory {directory!r}: {_reason(error)}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(f"output directory {directory!r} is not a directory")
    if info.st_mode & stat.S_IWOTH and info.st_uid != os.geteuid():
        if not info.st_mode & stat.S_ISVTX:
            raise InputError(f"output directory {directory!r} is writable by every user and "
                             "not owned by you; write into a directory you own")
        if not creating:
            raise InputError(f"output directory {directory!r} is a shared directory of "
                             "another user and the file exists already; give a new name or "
                             "a directory you own")


def _reason(error: OSError) -> str:
    if error.errno == errno.ENAMETOOLONG:
        return "file name too long; give a shorter name"
    return error.strerror or str(error)


def _existing_mode(directory_fd: int, name: str, shown: str) -> int | None:
    """The permission bits of the existing target, None when there is none."""
    try:
        info = os.stat(name, dir_fd=directory_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise OSError(error.errno, _reason(error), shown) from None
    if stat.S_ISLNK(info.st_mode):
        raise InputError(f"output {shown!r} is a symbolic link; refusing to write through it "
                         "(remove it or give another name)")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"output {shown!r} exists and is not a regular file")
    return stat.S_IMODE(info.st_mode)


def remove_stale_temporaries(directory_fd: int, name: str) -> list[str]:
    """Remove the temporary files of dead writers of `name` (no flock held on them) that
    this user owns; returns their names."""
    pattern = _temporary_pattern(name)
    removed = []
    try:
        entries = os.listdir(directory_fd)
    except OSError:
        return removed
    for entry in entries:
        if not pattern.match(entry):
            continue
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         dir_fd=directory_fd)
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue                     # a live writer holds it
            current = os.stat(entry, dir_fd=directory_fd, follow_symlinks=False)
            if (current.st_dev, current.st_ino) == (info.st_dev, info.st_ino):
                os.unlink(entry, dir_fd=directory_fd)
                removed.append(entry)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def on_signals(handler_exception=Terminated):
    """Turn SIGTERM, SIGHUP and SIGQUIT into `handler_exception(signum)` inside the block
    (main thread only; elsewhere the block runs unchanged)."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        def raise_it(signum, frame):
            raise handler_exception(signum)
        for name in TERMINATING_SIGNALS:
            number = getattr(signal, name, None)
            if number is None:
                continue
            with contextlib.suppress(ValueError, OSError):
                previous[number] = signal.signal(number, raise_it)
    try:
        yield
    finally:
        for number, handler in previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(number, handler)


@contextlib.contextmanager
def replace_file(path, *, binary: bool = False, private: bool = False):
    """Yield a stream; on success its content replaces `path` (see the module doc).

    private: the file is for its owner only (0600; an existing file keeps a narrower mode).
    Otherwise a new file gets 0666 & ~umask, as open() would, and an existing one keeps its
    mode."""
    with open_replacement(path, private=private) as (fd, _temporary):
        stream = os.fdopen(fd, "wb" if binary else "w", closefd=False,
                           encoding=None if binary else "utf-8",
                           newline=None if binary else "")
        try:
            yield stream
            stream.flush()
        finally:
            with contextlib.suppress(OSError, ValueError):
                stream.close()


@contextlib.contextmanager
def open_replacement(path, *, private: bool = False):
    """The primitive of replace_file: yields (file descriptor, temporary name).  The
    descriptor stays open (and locked) until the rename; do not close it."""
    shown = os.fspath(path)
    directory, name = _split(path)
    try:
        directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise InputError(f"output directory {directory!r}: {_reason(error)}") from None
    temporary = None
    fd = None
    try:
        existing = _existing_mode(directory_fd, name, shown)
        check_directory(directory, creating=existing is None)
        remove_stale_temporaries(directory_fd, name)
        wanted = 0o600 if private else 0o666 & ~_umask()
        mode = wanted if existing is None else existing & (0o600 if private else 0o777)
        for _ in range(16):
            candidate = f".{name[:_STEM]}.{secrets.token_hex(4)}.tmp"
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                             | os.O_CLOEXEC, 0o600, dir_fd=directory_fd)
            except FileExistsError:
                continue
            temporary = candidate
            break
        else:
            raise InputError(f"cannot create a temporary file beside {shown!r}")
        fcntl.flock(fd, fcntl.LOCK_EX)
        with on_signals():
            yield fd, os.path.join(directory, temporary)
            os.fsync(fd)
            os.fchmod(fd, mode)
            os.replace(temporary, name, src_dir_fd=directory_fd, dst_dir_fd=directory_fd)
            temporary = None
    except Terminated as signal_arrived:
        raise SystemExit(128 + signal_arrived.signum) from None
    except OSError as error:      # a runtime failure (disk full, EIO): the CLI exits 1
        raise OSError(error.errno, _reason(error), shown) from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=directory_fd)
        if fd is not None:
            os.close(fd)
        os.close(directory_fd)


def write_file(path, data: bytes | str, *, private: bool = False) -> None:
    """Replace `path` with `data` (see replace_file)."""
    binary = isinstance(data, bytes)
    with replace_file(path, binary=binary, private=private) as stream:
        stream.write(data)

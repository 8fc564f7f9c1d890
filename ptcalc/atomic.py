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


# --- a file and the folder of files it links to, replaced as one unit -------------------------

MANIFEST = ".ptcalc-files"      # in a folder ptcalc wrote: the names of the files it wrote
_SWAP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGPIPE")


def _read_manifest(directory_fd: int, folder: str) -> set[str]:
    try:
        fd = os.open(os.path.join(folder, MANIFEST), os.O_RDONLY | os.O_NOFOLLOW
                     | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=directory_fd)
    except OSError:
        return set()
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return set()
        text = handle.read(1 << 20).decode("utf-8", errors="replace")
    return {line for line in text.splitlines() if line and "/" not in line}


def _folder_entries(directory_fd: int, folder: str, shown: str) -> list[str] | None:
    """The entries of an existing folder (None when there is none); InputError when it is a
    link or not a directory."""
    try:
        info = os.stat(folder, dir_fd=directory_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(f"{shown!r} exists and is not a directory (a link or a file); move it "
                         "or give another output name")
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                 dir_fd=directory_fd)
    try:
        return os.listdir(fd)
    finally:
        os.close(fd)


def check_folder_is_ours(path, names) -> None:
    """InputError when the folder `path` exists and holds anything ptcalc did not write
    there (by its manifest) and is not one of `names` (the files about to be written)."""
    directory, folder = _split(path)
    directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _foreign_check(directory_fd, folder, os.fspath(path), set(names))
    finally:
        os.close(directory_fd)


def _foreign_check(directory_fd: int, folder: str, shown: str, names: set[str]) -> set[str]:
    entries = _folder_entries(directory_fd, folder, shown)
    if entries is None:
        return set()
    ours = _read_manifest(directory_fd, folder) | names
    foreign = []
    for entry in entries:
        if entry == MANIFEST:
            continue
        info = os.stat(os.path.join(folder, entry), dir_fd=directory_fd, follow_symlinks=False)
        if entry not in ours or not stat.S_ISREG(info.st_mode):
            foreign.append(entry)
    if foreign:
        listed = ", ".join(sorted(foreign)[:3]) + (", ..." if len(foreign) > 3 else "")
        raise InputError(f"{shown!r} holds files ptcalc did not write ({listed}); ptcalc "
                         "replaces that folder with the report, so move them or give another "
                         "output name")
    return {entry for entry in entries if entry != MANIFEST}


def _remove_folder(directory_fd: int, folder: str, names) -> None:
    """Remove the files `names` and the manifest from `folder`, then the folder if empty."""
    for name in [*names, MANIFEST]:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, name), dir_fd=directory_fd)
    with contextlib.suppress(OSError):
        os.rmdir(folder, dir_fd=directory_fd)


def remove_stale_folders(directory_fd: int, folder: str) -> list[str]:
    """Remove the staging and old folders of dead writers of `folder`: ".FOLDER.<8>" and
    ".FOLDER.<8>.old" folders of this user whose manifest no live writer holds locked; only
    the files their manifest lists are removed."""
    pattern = re.compile(r"\." + re.escape(folder[:_STEM]) + r"\.[A-Za-z0-9_]{8}(\.old)?\Z")
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.listdir(directory_fd):
            if not pattern.match(entry):
                continue
            try:
                info = os.stat(entry, dir_fd=directory_fd, follow_symlinks=False)
                if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
                    continue
                fd = os.open(os.path.join(entry, MANIFEST), os.O_RDONLY | os.O_NOFOLLOW
                             | os.O_CLOEXEC, dir_fd=directory_fd)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            os.close(fd)
            _remove_folder(directory_fd, entry, _read_manifest(directory_fd, entry))
            removed.append(entry)
    return removed


def _create_private(directory_fd: int, name: str) -> int:
    return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                   0o600, dir_fd=directory_fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def replace_file_and_folder(path, data: bytes, folder_path, files: dict[str, bytes]) -> None:
    """Replace the file `path` with `data` and the folder `folder_path` (beside it) with
    `files` as one unit: afterwards both are new, or (on any error or signal) both are as
    they were.  An existing folder holding anything ptcalc did not write is refused
    (InputError); only files ptcalc wrote are ever removed.  Modes as replace_file."""
    shown = os.fspath(path)
    directory, name = _split(path)
    folder_directory, folder = _split(folder_path)
    if os.path.abspath(folder_directory) != os.path.abspath(directory):
        raise ValueError("the folder must be beside the file")
    try:
        directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise InputError(f"output directory {directory!r}: {_reason(error)}") from None
    token = secrets.token_hex(4)
    staging, old, temporary = f".{folder[:_STEM]}.{token}", f".{folder[:_STEM]}.{token}.old", \
        f".{name[:_STEM]}.{token}.tmp"
    made = []               # what exists of ours, to remove on failure
    locks = []
    swapped = []            # renames done, to undo on failure
    blocked = False
    try:
        existing = _existing_mode(directory_fd, name, shown)
        check_directory(directory, creating=existing is None)
        previous = _foreign_check(directory_fd, folder, os.fspath(folder_path), set(files))
        had_folder = _folder_entries(directory_fd, folder, shown) is not None
        remove_stale_temporaries(directory_fd, name)
        remove_stale_folders(directory_fd, folder)
        file_mode = 0o666 & ~_umask()
        with on_signals():
            os.mkdir(staging, 0o700, dir_fd=directory_fd)
            made.append(("folder", staging))
            manifest = _create_private(directory_fd, os.path.join(staging, MANIFEST))
            locks.append(manifest)
            fcntl.flock(manifest, fcntl.LOCK_EX)
            _write_all(manifest, "".join(f"{n}\n" for n in files).encode())
            for entry, content in files.items():
                if "/" in entry or entry in ("", ".", "..", MANIFEST):
                    raise ValueError(f"bad file name {entry!r}")
                fd = _create_private(directory_fd, os.path.join(staging, entry))
                try:
                    _write_all(fd, content)
                    os.fsync(fd)
                    os.fchmod(fd, file_mode)
                finally:
                    os.close(fd)
            fd = _create_private(directory_fd, temporary)
            locks.append(fd)
            made.append(("file", temporary))
            fcntl.flock(fd, fcntl.LOCK_EX)
            _write_all(fd, data)
            os.fsync(fd)
            os.fchmod(fd, file_mode if existing is None else existing)
            os.chmod(staging, 0o777 & ~_umask(), dir_fd=directory_fd)
            # the swap: no signal may split it
            signals = [getattr(signal, s) for s in _SWAP_SIGNALS if hasattr(signal, s)]
            if threading.current_thread() is threading.main_thread():
                signal.pthread_sigmask(signal.SIG_BLOCK, signals)
                blocked = True
            if had_folder:
                os.rename(folder, old, src_dir_fd=directory_fd, dst_dir_fd=directory_fd)
                swapped.append((folder, old))
            os.rename(staging, folder, src_dir_fd=directory_fd, dst_dir_fd=directory_fd)
            swapped.append((staging, folder))
            os.rename(temporary, name, src_dir_fd=directory_fd, dst_dir_fd=directory_fd)
            swapped.clear()
            made.clear()
            if had_folder:
                _remove_folder(directory_fd, old, previous)
            if blocked:
                blocked = False
                signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
    except BaseException as error:
        for source, target in reversed(swapped):
            with contextlib.suppress(OSError):
                os.rename(target, source, src_dir_fd=directory_fd, dst_dir_fd=directory_fd)
        for kind, entry in made:
            if kind == "file":
                with contextlib.suppress(OSError):
                    os.unlink(entry, dir_fd=directory_fd)
            else:
                _remove_folder(directory_fd, entry, list(files))
        if blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
        if isinstance(error, Terminated):
            raise SystemExit(128 + error.signum) from None
        if isinstance(error, OSError):
            raise OSError(error.errno, _reason(error), shown) from None
        raise
    finally:
        for fd in locks:
            with contextlib.suppress(OSError):
                os.close(fd)
        os.close(directory_fd)

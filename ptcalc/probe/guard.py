"""Kernel settings the probe changes, and their restoration.

Huge page pools (``nr_hugepages`` of each size), tmpfs/hugetlbfs mounts and the per-size
shmem mTHP switches (``transparent_hugepage/hugepages-<size>kB/shmem_enabled``) are changed only
inside ``SystemGuard``, which records every huge page size's ``nr_hugepages`` and the mount
table first, reserves only what the running case needs, refuses a case that would need more
than half of MemAvailable, and restores everything on normal exit, on an exception, and on
SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGPIPE (its handlers raise, restoration runs in
``finally``; a second signal during restoration is ignored).  Every change is written to a
root-only journal first (ptcalc.probe.journal), so that a probe killed with SIGKILL is
repaired by the next one; mounts are made nosuid,nodev,noexec in the root-only state
directory, never under $TMPDIR.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from typing import Self

from ptcalc.probe.cases import fmt_bytes

#: Lock descriptors this process holds; a forked child closes its copies (see below).
_HELD_LOCKS: set[int] = set()
_FORK_HOOK: list[bool] = []


def _hold_out_of_children(fd: int) -> None:
    """A case's children are forked, not exec'd, so they inherit the lock's descriptor, and
    an flock lasts while any copy is open: after a SIGKILL of the probe, its orphans (still
    holding their region) would keep the lock, and the next run would wait for them instead
    of killing them (journal.repair).  So every child closes its copy right after fork."""
    _HELD_LOCKS.add(fd)
    if not _FORK_HOOK:
        os.register_at_fork(after_in_child=_close_held_locks)
        _FORK_HOOK.append(True)


def _close_held_locks() -> None:
    for fd in _HELD_LOCKS:
        try:
            os.close(fd)          # the parent's copy keeps the lock
        except OSError:
            pass
    _HELD_LOCKS.clear()


class CaseSkipped(Exception):
    """The case cannot run here (reason in the message)."""



class ProbeInterrupted(KeyboardInterrupt):
    """A terminating signal arrived; restoration runs while this propagates."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class ProbeBusy(RuntimeError):
    """Another probe holds the lock for longer than the guard waits (the CLI: exit 1)."""


HUGEPAGES_DIR = "/sys/kernel/mm/hugepages"
THP_DIR = "/sys/kernel/mm/transparent_hugepage"
MNT_DETACH = 2
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
# Handled like SIGTERM: a closed terminal or dropped ssh (HUP), Ctrl-\ (QUIT), and
# `ptcalc probe | head` (PIPE) restore too.
SIGNALS = tuple(getattr(signal, name) for name in
                ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGPIPE") if hasattr(signal, name))


def hugepage_counts() -> dict[int, int]:
    """nr_hugepages of every huge page size, keyed by page size in bytes."""
    counts = {}
    try:
        names = os.listdir(HUGEPAGES_DIR)
    except OSError:
        return counts
    for name in names:
        if name.startswith("hugepages-") and name.endswith("kB"):
            kb = int(name[len("hugepages-"):-2])
            counts[kb * 1024] = _read_int(f"{HUGEPAGES_DIR}/{name}/nr_hugepages")
    return counts


def mthp_knob(folio_bytes: int) -> str:
    """The shmem_enabled switch of one shmem mTHP folio size (anonymous shared memory)."""
    return f"{THP_DIR}/hugepages-{folio_bytes // 1024}kB/shmem_enabled"


def read_choice(path: str) -> str:
    """The selected value of a sysfs choice file ('always [never]' -> 'never')."""
    with open(path) as f:
        text = f.read()
    return text[text.index("[") + 1:text.index("]")]


def mthp_settings() -> dict[str, str]:
    """Every shmem mTHP switch of this kernel and its value, keyed by folio size directory."""
    out = {}
    try:
        names = sorted(os.listdir(THP_DIR))
    except OSError:
        return out
    for name in names:
        if name.startswith("hugepages-"):
            try:
                out[name] = read_choice(f"{THP_DIR}/{name}/shmem_enabled")
            except (OSError, ValueError):
                continue
    return out


def mount_table() -> list[str]:
    """The mount table (/proc/self/mounts lines), sorted, for before/after comparison."""
    with open("/proc/self/mounts") as f:
        return sorted(f.read().splitlines())


def _read_int(path: str) -> int:
    with open(path) as f:
        return int(f.read().split()[0])


def _hp_path(page_bytes: int, name: str) -> str:
    return f"{HUGEPAGES_DIR}/hugepages-{page_bytes // 1024}kB/{name}"


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return libc


class SystemGuard:
    """Records nr_hugepages (every size) and the mount table; makes case resources
    (reservations, mounts); restores everything on exit, exception, SIGINT and SIGTERM.

    Restoration undoes exactly what the guard did: it removes the pages it added (current
    value minus its own additions) and unmounts its own mounts.  On a quiet machine that is
    "exactly as before"; when another process changes nr_hugepages or mounts meanwhile, the
    guard keeps that change (never resets someone else's reservation) and reports it in
    ``foreign`` instead.
    """

    LOCK_WAIT_SECONDS = 120.0      # another probe's whole matrix takes about a minute

    def __init__(self, *, install_signal_handlers: bool = True):
        self.install_signal_handlers = install_signal_handlers
        self._lock_fd: int | None = None
        self.saved_counts: dict[int, int] = {}
        self.saved_mounts: list[str] = []
        self.expected: dict[int, int] = {}   # what nr_hugepages should read now
        self.added: dict[int, int] = {}      # pages this guard added, per size
        self.mounts: list[str] = []          # our mount points, in mount order
        self.knobs: dict[str, str] = {}      # sysfs switches we set -> their value before
        self.saved_mthp: dict[str, str] = {}
        self.final_mthp: dict[str, str] = {}
        self.foreign: list[str] = []         # changes other processes made meanwhile
        self.final_counts: dict[int, int] = {}
        self.final_mounts: list[str] = []
        self._old_handlers: dict[int, object] = {}
        self._restoring = False
        self.restored = False
        self.problems: list[str] = []
        self.repaired: list[str] = []        # what a killed earlier probe left, undone
        self.journal = None
        self._state_dir: str | None = None

    # -- lifecycle
    def __enter__(self) -> Self:
        self._lock()
        try:
            self._repair_and_journal()
        except BaseException:
            self._unlock()
            raise
        self.saved_counts = hugepage_counts()
        self.saved_mounts = mount_table()
        self.saved_mthp = mthp_settings()
        self.expected = dict(self.saved_counts)
        self.added = dict.fromkeys(self.saved_counts, 0)
        if self.install_signal_handlers:
            try:
                for signum in SIGNALS:
                    self._old_handlers[signum] = signal.signal(signum, self._on_signal)
            except ValueError:          # not the main thread: finally-blocks still restore
                self._old_handlers.clear()
        return self

    def __exit__(self, *exc) -> bool:
        try:
            self.restore()
        finally:
            self._unlock()
        return False

    def _lock(self) -> None:
        """Serialise probes: two at once would each restore the other's reservation.  The
        lock is an flock on a file in the root-only state directory (no other user can hold
        it); without root there is nothing to change and no lock is taken."""
        import fcntl

        from ptcalc.probe import journal

        if not self.is_root():
            return
        self._state_dir = journal.state_dir()
        path = os.path.join(self._state_dir, journal.LOCK)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + self.LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                    os.close(fd)
                    raise ProbeBusy(f"another ptcalc probe (pid {holder or '?'}) has held "
                                    f"{path} for {self.LOCK_WAIT_SECONDS:.0f} s; wait for it "
                                    "to finish or stop it") from None
                time.sleep(0.1)
            except OSError:          # a filesystem without flock: run unserialised
                break
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd
        _hold_out_of_children(fd)

    def _repair_and_journal(self) -> None:
        """Holding the lock: undo what a killed probe left (its journal), then journal this
        run.  Before the baseline is read, so a leaked pool is never taken as the original."""
        from ptcalc.probe import children, journal

        if self._state_dir is None or self._lock_fd is None:
            return
        self.repaired = journal.repair(self._state_dir)
        self.journal = journal.Journal(self._state_dir)
        children.GROUP_HOOKS[:] = [self.journal.group, self.journal.group_gone]

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            _HELD_LOCKS.discard(self._lock_fd)
            os.close(self._lock_fd)    # closing releases the flock
            self._lock_fd = None

    def _on_signal(self, signum, frame):
        if self._restoring:
            return                      # never abort a restoration half-way
        raise ProbeInterrupted(signum)

    # -- resources
    @staticmethod
    def is_root() -> bool:
        return os.geteuid() == 0

    def check_memory(self, nbytes: int, what: str) -> None:
        from ptcalc.probe.kernel import read_meminfo_kb

        avail = (read_meminfo_kb("MemAvailable") or 0) * 1024
        if nbytes > avail // 2:
            raise CaseSkipped(f"refused: {what} needs {fmt_bytes(nbytes)}, more than half of "
                              f"MemAvailable ({fmt_bytes(avail)})")

    def reserve_huge_pages(self, page_bytes: int, count: int) -> None:
        """Make sure ``count`` huge pages of ``page_bytes`` are free; grows nr_hugepages by
        the shortfall only (restored by ``release``/``restore``)."""
        if page_bytes not in self.saved_counts:
            raise CaseSkipped(f"this kernel has no {fmt_bytes(page_bytes)} huge pages")
        free = _read_int(_hp_path(page_bytes, "free_hugepages"))
        resv = _read_int(_hp_path(page_bytes, "resv_hugepages"))
        short = count - (free - resv)
        if short <= 0:
            return
        if not self.is_root():
            raise CaseSkipped(f"needs root to reserve {short} huge pages of "
                              f"{fmt_bytes(page_bytes)}")
        self.check_memory(short * page_bytes, "the huge page reservation")
        path = _hp_path(page_bytes, "nr_hugepages")
        # write and count as one step: signals wait until the pages are counted as ours,
        # so an interrupt can neither leak them nor remove someone else's
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, set(SIGNALS))
        try:
            nr = self._sync(page_bytes)
            if self.journal is not None:       # written down before the change
                self.journal.hugepages(page_bytes, nr - self.added[page_bytes])
            try:
                self._write(path, nr + short)
            finally:
                now = _read_int(path)         # the kernel may find fewer pages
                self.added[page_bytes] += now - nr
                self.expected[page_bytes] = now
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        got = _read_int(_hp_path(page_bytes, "free_hugepages")) - \
            _read_int(_hp_path(page_bytes, "resv_hugepages"))
        if got < count:
            raise CaseSkipped(f"the kernel could allocate only {got} of {count} huge pages "
                              f"of {fmt_bytes(page_bytes)} (fragmented memory)")

    def mount(self, fstype: str, options: str) -> str:
        """Mount a private tmpfs/hugetlbfs on a fresh directory; returns its path."""
        import tempfile

        if not self.is_root():
            raise CaseSkipped(f"needs root to mount {fstype} ({options})")
        # in the root-only state directory: $TMPDIR may be any user's, or shared
        path = tempfile.mkdtemp(prefix=f"ptcalc-{fstype}-", dir=self._state_dir)
        self.mounts.append(path)     # before mounting: a signal in between still cleans up
        if self.journal is not None:
            self.journal.mount(path)
        libc = _libc()
        rc = libc.mount(fstype.encode(), path.encode(), fstype.encode(),
                        MS_NOSUID | MS_NODEV | MS_NOEXEC, f"{options},mode=0700".encode())
        if rc != 0:
            err = ctypes.get_errno()
            self._unmount_all()
            raise CaseSkipped(f"mount -t {fstype} -o {options} failed: {os.strerror(err)}")
        return path

    def set_choice(self, path: str, value: str) -> None:
        """Set a sysfs choice file (a shmem mTHP switch) for the running case; its value
        before is restored by ``release``/``restore``."""
        if not os.path.exists(path):
            raise CaseSkipped(f"this kernel has no {path}")
        if not self.is_root():
            raise CaseSkipped(f"needs root to set {path}")
        # record and write as one step: a signal in between cannot leave it unrecorded
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, set(SIGNALS))
        try:
            self.knobs.setdefault(path, read_choice(path))
            if self.journal is not None:       # written down before the change
                self.journal.knob(path, self.knobs[path])
            with open(path, "w") as f:
                f.write(value)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def release(self) -> None:
        """Undo one case's resources (between cases); the originals stay recorded."""
        from ptcalc.probe.kernel import kill_active_groups

        kill_active_groups()
        self._restore_knobs()
        self._unmount_all()
        self._restore_counts()

    def _restore_knobs(self) -> None:
        while self.knobs:
            path, value = next(iter(self.knobs.items()))
            try:
                with open(path, "w") as f:
                    f.write(value)
                if read_choice(path) != value:
                    self.problems.append(f"{path} is {read_choice(path)}, wanted {value}")
                elif self.journal is not None:
                    self.journal.knob_restored(path)
            except (OSError, ValueError) as exc:
                self.problems.append(f"cannot restore {path} to {value}: {exc}")
            del self.knobs[path]

    # -- restoration
    def restore(self) -> None:
        if self.restored:
            return
        self._restoring = True
        try:
            self.release()
            self.final_mounts = now = mount_table()
            ours = [line for line in now if "/ptcalc-tmpfs-" in line
                    or "/ptcalc-hugetlbfs-" in line]
            if ours:
                self.problems.append(f"probe mounts left: {ours}")
            if now != self.saved_mounts:
                extra = sorted(set(now) - set(self.saved_mounts) - set(ours))
                gone = sorted(set(self.saved_mounts) - set(now))
                if extra or gone:
                    self.foreign.append(f"mount table changed by another process: "
                                        f"added {extra}, removed {gone}")
            self.final_mthp = mthp_settings()
            for name, value in self.final_mthp.items():
                if value != self.saved_mthp.get(name, value):
                    self.foreign.append(f"{name}/shmem_enabled changed from "
                                        f"{self.saved_mthp[name]} to {value} meanwhile")
            self.final_counts = hugepage_counts()
            for size, value in self.final_counts.items():
                if value != self.expected.get(size, value):
                    self.foreign.append(f"nr_hugepages of {fmt_bytes(size)} changed from "
                                        f"{self.expected[size]} to {value} by another process")
            if self.journal is not None and not self.journal.pending():
                self.journal.close()             # all undone: nothing for the next run
        finally:
            from ptcalc.probe import children

            children.GROUP_HOOKS.clear()
            for signum, handler in self._old_handlers.items():
                signal.signal(signum, handler)
            self._old_handlers.clear()
            self._restoring = False
            self.restored = True

    def _unmount_all(self) -> None:
        libc = _libc()
        while self.mounts:
            path = self.mounts[-1]
            deadline = time.monotonic() + 10
            while libc.umount2(path.encode(), 0) != 0:
                err = ctypes.get_errno()
                if err == 22:           # EINVAL: not mounted (any more)
                    break
                if time.monotonic() > deadline:   # still busy: detach lazily, report it
                    libc.umount2(path.encode(), MNT_DETACH)
                    self.problems.append(f"{path} was busy: detached lazily")
                    break
                time.sleep(0.02)
            try:
                os.rmdir(path)
            except OSError as exc:
                self.problems.append(f"cannot remove {path}: {exc}")
            else:
                if self.journal is not None:
                    self.journal.unmounted(path)
            self.mounts.pop()

    def _sync(self, page_bytes: int) -> int:
        """nr_hugepages now; a value the guard did not write is another process's change:
        noted, and kept (the guard adds and removes only its own pages)."""
        now = _read_int(_hp_path(page_bytes, "nr_hugepages"))
        if now != self.expected[page_bytes]:
            self.foreign.append(f"nr_hugepages of {fmt_bytes(page_bytes)} changed from "
                                f"{self.expected[page_bytes]} to {now} by another process")
            self.expected[page_bytes] = now
        return now

    def _restore_counts(self) -> None:
        for page_bytes, added in self.added.items():
            if added <= 0:
                continue
            path = _hp_path(page_bytes, "nr_hugepages")
            target = max(self._sync(page_bytes) - added, 0)
            self._write(path, target)
            deadline = time.monotonic() + 10   # in-use pages are freed as children exit
            while _read_int(path) != target and time.monotonic() < deadline:
                time.sleep(0.02)
                self._write(path, target)
            now = _read_int(path)
            if now != target:
                self.problems.append(f"{path} is {now}, wanted {target}")
            elif self.journal is not None:
                self.journal.hugepages_restored(page_bytes)
            self.added[page_bytes] = 0
            self.expected[page_bytes] = now

    @staticmethod
    def _write(path: str, value: int) -> None:
        with open(path, "w") as f:
            f.write(f"{value}\n")

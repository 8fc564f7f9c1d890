"""``ptcalc probe``: check the model against the running kernel.

Each case maps a real region at a fixed virtual address in real child processes
(``ptcalc.probe.kernel``), touches it, and compares per process the measured ``VmPTE`` growth and
minor faults with the model (``ptcalc.compare``): bytes must match exactly, faults within
+-2 per process (the probe's own stack and code pages).

System settings.  Huge page pools (``nr_hugepages`` of each size) and tmpfs/hugetlbfs mounts
are changed only inside ``SystemGuard``, which records every huge page size's
``nr_hugepages`` and the mount table first, reserves only what the running case needs,
refuses a case that would need more than half of MemAvailable, and restores everything on
normal exit, on an exception, and on SIGINT/SIGTERM (its handlers raise, restoration runs
in ``finally``; a second signal during restoration is ignored).  Files live on the probe's
own mounts or are unlinked as soon as they are created.

Public entry points (the CLI command is a thin wrapper):

    run_probe(cases=None, *, model=None, progress=None, fault_around=None)
        -> ProbeReport          (never raises on SIGINT/SIGTERM: see report.interrupted)
    user_cases(size, offset=0, procs=2, access="write", strategies=None) -> list[ProbeCase]
    default_matrix() -> list[ProbeCase]
    render(report, fmt="table" | "json") -> str
    report.exit_code -> 0 agree, 1 mismatch/error/restore trouble, 128+signal interrupted
    main(argv=None) -> int        (``python -m ptcalc.probe.run``)

Without debugfs the fault-around window is measured (``kernel.measure_fault_around_bytes``)
and passed to the model.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from typing import Self

from ptcalc import catalog
from ptcalc.errors import InputError
from ptcalc.paging import HUGE_2M_BYTES, PAGE_BYTES, PUD_SPAN

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

FAULT_TOLERANCE = 2                 # per process: the probe's own stack and code pages
MAX_MEASURED_PROCS = 4              # a scenario's per-process numbers need only a few
# Which strategies can be measured, and with which backings (the first is the default),
# come from the strategy catalogue.
LIVE_STRATEGIES = catalog.MEASURABLE
NOT_IN_LINUX = {s.name: f"{s.name} cannot be measured on Linux: {s.upstream.summary()}"
                for s in catalog.STRATEGIES if not s.probe_backings}
_HUGETLB_PAGE = catalog.HUGETLB_PAGE_BYTES
_DEFAULT_BACKING = {s.name: s.probe_backings[0] for s in catalog.STRATEGIES if s.probe_backings}
_BACKINGS = {s.name: s.probe_backings for s in catalog.STRATEGIES if s.probe_backings}


class CaseSkipped(Exception):
    """The case cannot run here (reason in the message)."""


class ModelFailed(RuntimeError):
    """The model could not be evaluated for a case."""


class ProbeInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; restoration runs while this propagates."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class ProbeCase:
    """One live measurement: ``procs`` processes (threads for ``threads``) map ``size`` bytes
    at ``offset`` (start address modulo 512 GiB) and each touches all of it with ``access``.

    backing: ``anon`` (MAP_SHARED|MAP_ANONYMOUS), ``file`` (tmpfs /dev/shm), ``memfd``,
    ``thp`` (a file on a tmpfs mounted huge=always), ``hugetlb-anon`` (MAP_HUGETLB),
    ``hugetlb-memfd`` (memfd MFD_HUGETLB), ``hugetlbfs`` (a file on a hugetlbfs mount).
    hugetlb-2m maps MAP_PRIVATE (no PMD sharing); the other hugetlb strategies MAP_SHARED.
    """

    strategy: str
    size: int
    offset: int = 0
    procs: int = 2
    access: str = "write"
    backing: str | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if self.strategy not in LIVE_STRATEGIES and self.strategy not in NOT_IN_LINUX:
            known = ", ".join(LIVE_STRATEGIES + tuple(NOT_IN_LINUX))
            raise InputError(f"strategy {self.strategy!r} is not one of {known}")
        if self.backing is None:
            object.__setattr__(self, "backing", _DEFAULT_BACKING.get(self.strategy, "anon"))
        if self.strategy in _BACKINGS and self.backing not in _BACKINGS[self.strategy]:
            raise InputError(f"backing {self.backing!r} cannot realise {self.strategy}; use "
                             f"{', '.join(_BACKINGS[self.strategy])}")
        if self.size <= 0 or self.size % PAGE_BYTES:
            raise InputError(f"size {self.size} must be a positive multiple of 4096")
        if not 0 <= self.offset < PUD_SPAN or self.offset % PAGE_BYTES:
            raise InputError(f"offset {self.offset} must be a multiple of 4096 below 512 GiB")
        if self.procs < 1:
            raise InputError(f"procs {self.procs} must be >= 1")
        if self.access not in ("read", "write"):
            raise InputError(f"access {self.access!r} must be read or write")

    @property
    def name(self) -> str:
        return self.label or (f"{self.strategy}/{self.backing} {_fmt(self.size)}"
                              f"@{_fmt(self.offset)} {self.access}")

    @property
    def huge_page_bytes(self) -> int:
        return _HUGETLB_PAGE.get(self.strategy, 0)

    @property
    def private(self) -> bool:
        return self.strategy == "hugetlb-2m"

    @property
    def measured_procs(self) -> int:
        return min(self.procs, MAX_MEASURED_PROCS)

    @property
    def mapped_size(self) -> int:
        """hugetlb mappings are whole huge pages (mmap rounds the length up)."""
        hp = self.huge_page_bytes
        return -(-self.size // hp) * hp if hp else self.size

    def huge_pages_needed(self) -> int:
        """Huge pages the case allocates at once (private mappings: each process its own)."""
        if not self.huge_page_bytes:
            return 0
        pages = self.mapped_size // self.huge_page_bytes
        return pages * (self.measured_procs if self.private else 1)

    def memory_needed(self) -> int:
        """Bytes of data pages the case allocates at once."""
        if self.huge_page_bytes:
            return self.huge_pages_needed() * self.huge_page_bytes
        return self.size


def _fmt(n: int) -> str:
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if n >= unit and n % unit == 0:
            return f"{n // unit}{name}"
    if n >= MiB:
        return f"{n / MiB:.4g}MiB"
    return f"{n}B" if n < KiB else f"{n / KiB:.4g}KiB"


def default_matrix() -> list[ProbeCase]:
    """The built-in matrix: every Linux-realisable strategy, aligned and unaligned,
    read and write; small regions except where a full 1 GiB slot is the point."""
    C = ProbeCase
    cases = []
    for acc in ("write", "read"):
        cases += [
            C("private-4k", 4 * MiB, 0, 3, acc, "anon", f"4k anon aligned 4MiB {acc}"),
            C("private-4k", 4 * MiB, 4 * KiB, 2, acc, "anon", f"4k anon +4KiB 4MiB {acc}"),
            C("private-4k", 4 * MiB, GiB - MiB, 2, acc, "anon",
              f"4k anon straddles 1GiB {acc}"),
            C("private-4k", 1 * MiB, 0, 2, acc, "anon", f"4k anon 1MiB (<2MiB) {acc}"),
            C("private-4k", 4 * MiB + 8 * KiB, 2 * MiB - 12 * KiB, 2, acc, "file",
              f"4k tmpfs file unaligned {acc}"),
        ]
    cases += [
        C("private-4k", 4 * MiB, 0, 2, "read", "memfd", "4k memfd aligned read"),
        C("thp-shmem", 8 * MiB, 0, 2, "write", "thp", "thp aligned 8MiB write"),
        C("thp-shmem", 8 * MiB, 0, 2, "read", "thp", "thp aligned 8MiB read"),
        C("thp-shmem", 5 * MiB, 0, 2, "write", "thp", "thp aligned + 1MiB tail write"),
        C("thp-shmem", 6 * MiB, 1 * MiB, 2, "read", "thp", "thp unaligned +1MiB read"),
        C("thp-shmem", 4 * MiB, 4 * KiB, 2, "write", "thp", "thp unaligned +4KiB write"),
        C("hugetlb-2m-pmdshare", GiB, 0, 3, "write", "hugetlb-memfd",
          "pmdshare aligned 1GiB slot write"),
        C("hugetlb-2m-pmdshare", GiB, 0, 2, "read", "hugetlbfs",
          "pmdshare aligned 1GiB slot read (hugetlbfs)"),
        C("hugetlb-2m-pmdshare", 8 * MiB, 2 * MiB, 2, "write", "hugetlb-anon",
          "pmdshare partial slot only write"),
        C("hugetlb-2m-pmdshare", GiB + 8 * MiB, GiB - 4 * MiB, 2, "read", "hugetlb-memfd",
          "pmdshare unaligned: 1 full + 2 partial slots read"),
        C("hugetlb-2m", 8 * MiB, 0, 2, "write", "hugetlb-anon", "hugetlb-2m private write"),
        C("hugetlb-2m", 8 * MiB, 2 * MiB, 2, "read", "hugetlb-anon",
          "hugetlb-2m private +2MiB read"),
        C("hugetlb-1g", GiB, 0, 2, "write", "hugetlb-memfd", "hugetlb-1g write"),
        C("hugetlb-1g", GiB, GiB, 2, "read", "hugetlb-memfd", "hugetlb-1g @1GiB read"),
        C("threads", 4 * MiB, 4 * KiB, 3, "write", "anon", "threads +4KiB write"),
        C("threads", 4 * MiB, 0, 3, "read", "anon", "threads aligned read"),
    ]
    return cases


def user_cases(size, offset=0, procs=2, access="write", strategies=None,
               backing: str | None = None) -> list[ProbeCase]:
    """The cases for one user scenario: one per strategy (default: every strategy)."""
    from ptcalc.units import parse_size

    try:
        size_b = parse_size(size, what="size")
        offset_b = parse_size(offset, what="offset")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    names = list(strategies) if strategies else list(LIVE_STRATEGIES) + list(NOT_IN_LINUX)
    accesses = [access] if isinstance(access, str) else list(access)
    return [ProbeCase(s, size_b, offset_b, int(procs), a,
                      backing if backing and s in _BACKINGS and backing in _BACKINGS[s]
                      else None)
            for s in names for a in accesses]


# --------------------------------------------------------------------------- the model


def model_for(case: ProbeCase, fault_around: int | None = None) -> dict:
    """The model's numbers for a case: applicable, reason, pt_bytes_per_process,
    faults_first, faults_next (None where the model has no such column)."""
    import ptcalc

    kwargs = {}
    if fault_around:
        kwargs["fault_around"] = fault_around
    df = ptcalc.compare(size=case.size, procs=case.procs, offset=case.offset, touched=1.0,
                        access=case.access, strategies=[case.strategy], **kwargs)
    row = df.iloc[0].to_dict()
    out = {"applicable": bool(row.get("applicable", True)),
           "reason": row.get("reason") if isinstance(row.get("reason"), str) else None}
    for key in ("pt_bytes_per_process", "faults_first", "faults_next"):
        value = row.get(key)
        out[key] = None if value is None or math.isnan(value) else int(value)
    return out


# --------------------------------------------------------------------------- system guard


HUGEPAGES_DIR = "/sys/kernel/mm/hugepages"
MNT_DETACH = 2


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

    LOCK_PATH = HUGEPAGES_DIR      # flock()ed: one ptcalc probe at a time per machine
    LOCK_WAIT_SECONDS = 600.0

    def __init__(self, *, install_signal_handlers: bool = True):
        self.install_signal_handlers = install_signal_handlers
        self._lock_fd: int | None = None
        self.saved_counts: dict[int, int] = {}
        self.saved_mounts: list[str] = []
        self.expected: dict[int, int] = {}   # what nr_hugepages should read now
        self.added: dict[int, int] = {}      # pages this guard added, per size
        self.mounts: list[str] = []          # our mount points, in mount order
        self.foreign: list[str] = []         # changes other processes made meanwhile
        self.final_counts: dict[int, int] = {}
        self.final_mounts: list[str] = []
        self._old_handlers: dict[int, object] = {}
        self._restoring = False
        self.restored = False
        self.problems: list[str] = []

    # -- lifecycle
    def __enter__(self) -> Self:
        self._lock()
        self.saved_counts = hugepage_counts()
        self.saved_mounts = mount_table()
        self.expected = dict(self.saved_counts)
        self.added = dict.fromkeys(self.saved_counts, 0)
        if self.install_signal_handlers:
            try:
                for signum in (signal.SIGINT, signal.SIGTERM):
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
        lock is an flock on the sysfs huge page directory (no file is left behind); it is
        skipped where that directory does not exist."""
        import fcntl

        try:
            fd = os.open(self.LOCK_PATH, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return
        deadline = time.monotonic() + self.LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise RuntimeError("another ptcalc probe has been running for "
                                       f"{self.LOCK_WAIT_SECONDS:.0f} s") from None
                time.sleep(0.1)
            except OSError:          # a filesystem without flock: run unserialised
                break
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
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
            raise CaseSkipped(f"refused: {what} needs {_fmt(nbytes)}, more than half of "
                              f"MemAvailable ({_fmt(avail)})")

    def reserve_huge_pages(self, page_bytes: int, count: int) -> None:
        """Make sure ``count`` huge pages of ``page_bytes`` are free; grows nr_hugepages by
        the shortfall only (restored by ``release``/``restore``)."""
        if page_bytes not in self.saved_counts:
            raise CaseSkipped(f"this kernel has no {_fmt(page_bytes)} huge pages")
        free = _read_int(_hp_path(page_bytes, "free_hugepages"))
        resv = _read_int(_hp_path(page_bytes, "resv_hugepages"))
        short = count - (free - resv)
        if short <= 0:
            return
        if not self.is_root():
            raise CaseSkipped(f"needs root to reserve {short} huge pages of "
                              f"{_fmt(page_bytes)}")
        self.check_memory(short * page_bytes, "the huge page reservation")
        path = _hp_path(page_bytes, "nr_hugepages")
        # write and count as one step: SIGINT/SIGTERM wait until the pages are counted as
        # ours, so an interrupt can neither leak them nor remove someone else's
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            nr = self._sync(page_bytes)
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
                              f"of {_fmt(page_bytes)} (fragmented memory)")

    def mount(self, fstype: str, options: str) -> str:
        """Mount a private tmpfs/hugetlbfs on a fresh directory; returns its path."""
        import tempfile

        if not self.is_root():
            raise CaseSkipped(f"needs root to mount {fstype} ({options})")
        path = tempfile.mkdtemp(prefix=f"ptcalc-{fstype}-")
        self.mounts.append(path)     # before mounting: a signal in between still cleans up
        libc = _libc()
        rc = libc.mount(fstype.encode(), path.encode(), fstype.encode(), 0,
                        f"{options},mode=0700".encode())
        if rc != 0:
            err = ctypes.get_errno()
            self._unmount_all()
            raise CaseSkipped(f"mount -t {fstype} -o {options} failed: {os.strerror(err)}")
        return path

    def release(self) -> None:
        """Undo one case's resources (between cases); the originals stay recorded."""
        from ptcalc.probe.kernel import kill_active_groups

        kill_active_groups()
        self._unmount_all()
        self._restore_counts()

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
            self.final_counts = hugepage_counts()
            for size, value in self.final_counts.items():
                if value != self.expected.get(size, value):
                    self.foreign.append(f"nr_hugepages of {_fmt(size)} changed from "
                                        f"{self.expected[size]} to {value} by another process")
        finally:
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
            self.mounts.pop()

    def _sync(self, page_bytes: int) -> int:
        """nr_hugepages now; a value the guard did not write is another process's change:
        noted, and kept (the guard adds and removes only its own pages)."""
        now = _read_int(_hp_path(page_bytes, "nr_hugepages"))
        if now != self.expected[page_bytes]:
            self.foreign.append(f"nr_hugepages of {_fmt(page_bytes)} changed from "
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
            self.added[page_bytes] = 0
            self.expected[page_bytes] = now

    @staticmethod
    def _write(path: str, value: int) -> None:
        with open(path, "w") as f:
            f.write(f"{value}\n")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Check:
    metric: str            # pt_bytes_per_process, faults_first, faults_next
    model: int | None
    measured: tuple[int, ...]
    tolerance: int
    ok: bool | None        # None: the model has no value for this metric


@dataclass
class CaseResult:
    case: ProbeCase
    status: str                       # pass, fail, skip, error
    reason: str | None = None
    model: dict | None = None
    pt_bytes: tuple[int, ...] = ()    # measured VmPTE growth per process (thread)
    faults: tuple[int, ...] = ()      # measured minor faults per process (thread)
    noise_faults: int = 0
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        c = self.case
        return {"name": c.name, "strategy": c.strategy, "backing": c.backing,
                "size_bytes": c.size, "offset_bytes": c.offset, "procs": c.procs,
                "measured_procs": c.measured_procs, "access": c.access,
                "status": self.status, "reason": self.reason, "model": self.model,
                "measured": {"pt_bytes": list(self.pt_bytes), "faults": list(self.faults),
                             "noise_faults": self.noise_faults},
                "checks": [asdict(ch) for ch in self.checks],
                "seconds": round(self.seconds, 3)}


@dataclass
class ProbeReport:
    results: list[CaseResult]
    kernel: str
    fault_around_bytes: int | None
    fault_around_source: str = "unknown"    # debugfs, measured, or given
    environment: dict = field(default_factory=dict)
    restored: bool = False
    restore_problems: list[str] = field(default_factory=list)
    foreign_changes: list[str] = field(default_factory=list)
    state_before: dict = field(default_factory=dict)
    state_after: dict = field(default_factory=dict)
    interrupted: str | None = None

    @property
    def exit_code(self) -> int:
        """0: every case that ran agreed with the model; 1: a mismatch, an error, or
        restoration trouble; 128 + signal number when interrupted (130 SIGINT, 143 SIGTERM)."""
        if self.interrupted:
            return 128 + signal.Signals[self.interrupted].value
        bad = any(r.status in ("fail", "error") for r in self.results)
        return 1 if bad or self.restore_problems else 0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def to_dict(self) -> dict:
        return {"kernel": self.kernel, "fault_around_bytes": self.fault_around_bytes,
                "fault_around_source": self.fault_around_source,
                "environment": self.environment, "fault_tolerance": FAULT_TOLERANCE,
                "cases": [r.to_dict() for r in self.results],
                "summary": self.counts(), "restored": self.restored,
                "restore_problems": self.restore_problems,
                "foreign_changes": self.foreign_changes, "state_before": self.state_before,
                "state_after": self.state_after, "interrupted": self.interrupted,
                "exit_code": self.exit_code}


# --------------------------------------------------------------------------- running


def _region_for(case: ProbeCase, guard: SystemGuard, slot: int):
    from ptcalc.probe import kernel

    backing, directory, hp = case.backing, None, case.huge_page_bytes
    if backing == "thp":
        room = -(-case.size // HUGE_2M_BYTES) * HUGE_2M_BYTES + HUGE_2M_BYTES
        directory = guard.mount("tmpfs", f"huge=always,size={room}")
        backing = "file"
    elif backing == "hugetlbfs":
        directory = guard.mount("hugetlbfs", f"pagesize={hp // 1024}K")
        backing = "file"
    return kernel.Region(size=case.mapped_size, offset=case.offset, backing=backing,
                         private=case.private, huge_page_bytes=hp if hp else 0,
                         directory=directory, slot=slot)


def _compare(case: ProbeCase, model: dict, run) -> tuple[str, list[Check]]:
    procs = run.procs
    pt = [p.pt_bytes for p in procs]
    faults = [p.minor_faults for p in procs]
    checks = []
    if case.strategy == "threads":   # one mm: its growth is the sum over the threads
        pt_measured = (sum(pt),)
    else:
        pt_measured = tuple(pt)
    want = model.get("pt_bytes_per_process")
    checks.append(Check("pt_bytes_per_process", want, pt_measured, 0,
                        None if want is None else all(v == want for v in pt_measured)))
    for metric, values in (("faults_first", faults[:1]), ("faults_next", faults[1:])):
        want = model.get(metric)
        if not values:
            continue
        ok = None if want is None else all(abs(v - want) <= FAULT_TOLERANCE for v in values)
        checks.append(Check(metric, want, tuple(values), FAULT_TOLERANCE, ok))
    status = "fail" if any(ch.ok is False for ch in checks) else "pass"
    return status, checks


def run_case(case: ProbeCase, guard: SystemGuard, *, model=None, fault_around=None,
             slot: int = 0, hold_seconds: float = 0.0) -> CaseResult:
    """Run one case inside ``guard``; its resources are released before returning."""
    from ptcalc.probe import kernel

    t0 = time.monotonic()
    result = CaseResult(case, "skip")
    try:
        if case.strategy in NOT_IN_LINUX:
            raise CaseSkipped(NOT_IN_LINUX[case.strategy])
        problem = kernel.platform_problem()
        if problem:
            raise CaseSkipped(problem)
        model_fn = model or (lambda c: model_for(c, fault_around))
        try:
            result.model = model_fn(case)
        except InputError as exc:
            raise CaseSkipped(f"model rejects the scenario: {exc}") from None
        except Exception as exc:   # any model failure is this case's error, not a crash
            raise ModelFailed(f"model failed: {type(exc).__name__}: {exc}") from None
        if not result.model.get("applicable", True):
            raise CaseSkipped(f"model: not applicable: {result.model.get('reason')}")
        guard.check_memory(case.memory_needed(), "the region")
        if case.huge_page_bytes:
            guard.reserve_huge_pages(case.huge_page_bytes, case.huge_pages_needed())
        region = _region_for(case, guard, slot)
        n = case.measured_procs
        threads = case.strategy == "threads"
        touches = [kernel.Touch(case.access, 0, case.size)] * n
        try:
            run = kernel.run_region(region, touches, threads=threads,
                                    hold_seconds=hold_seconds)
        except kernel.KernelProbeError as exc:
            # Someone else on the machine may have taken the free huge pages between our
            # reservation and the mmap (ENOMEM): reserve again and retry once.
            if not (case.huge_page_bytes and "Cannot allocate memory" in str(exc)):
                raise
            guard.reserve_huge_pages(case.huge_page_bytes, case.huge_pages_needed())
            run = kernel.run_region(region, touches, threads=threads,
                                    hold_seconds=hold_seconds)
        result.pt_bytes = tuple(p.pt_bytes for p in run.procs)
        result.faults = tuple(p.minor_faults for p in run.procs)
        result.noise_faults = max(p.noise_faults for p in run.procs)
        result.status, result.checks = _compare(case, result.model, run)
    except CaseSkipped as exc:
        result.status, result.reason = "skip", str(exc)
    except (kernel.KernelProbeError, ModelFailed, OSError, ValueError) as exc:
        result.status, result.reason = "error", f"{type(exc).__name__}: {exc}"
    finally:
        guard.release()
        result.seconds = time.monotonic() - t0
    return result


def environment() -> dict:
    """Settings that change what the kernel does for these mappings (reported, not set)."""
    env = {}
    base = "/sys/kernel/mm/transparent_hugepage"
    for name in ("enabled", "shmem_enabled"):
        try:
            with open(f"{base}/{name}") as f:
                text = f.read()
            env[f"thp_{name}"] = text[text.index("[") + 1:text.index("]")]
        except (OSError, ValueError):
            pass
    try:   # per-size shmem mTHP (internal shmem mount): anything on changes 4 KiB faults
        on = []
        for name in sorted(os.listdir(base)):
            if name.startswith("hugepages-"):
                with open(f"{base}/{name}/shmem_enabled") as f:
                    text = f.read()
                choice = text[text.index("[") + 1:text.index("]")]
                if choice not in ("never", "inherit"):
                    on.append(f"{name}={choice}")
        env["shmem_mthp_on"] = on
    except (OSError, ValueError):
        pass
    for line in mount_table():
        parts = line.split()
        if len(parts) > 3 and parts[1] == "/dev/shm":
            env["dev_shm_options"] = parts[3]
    return env


def _fault_around(given: int | None) -> tuple[int | None, str]:
    from ptcalc.probe import kernel

    if given:
        return given, "given"
    value = kernel.fault_around_bytes()
    if value:
        return value, "debugfs"
    if kernel.platform_problem() is None:
        try:
            return kernel.measure_fault_around_bytes(), "measured"
        except (kernel.KernelProbeError, OSError):
            pass
    return None, "unknown"


def run_probe(cases=None, *, model=None, progress=None, fault_around: int | None = None,
              hold_seconds: float = 0.0, install_signal_handlers: bool = True) -> ProbeReport:
    """Run ``cases`` (default: the built-in matrix) against the live kernel.

    model(case) -> dict overrides the model (default: ``ptcalc.compare``);
    progress(text) is called before each case.  Settings are restored before returning,
    also when interrupted (then ``report.interrupted`` names the signal and the exception
    is not re-raised: the caller exits with ``report.exit_code``)."""
    import platform

    cases = default_matrix() if cases is None else list(cases)
    report = ProbeReport([], platform.release(), None)
    guard = SystemGuard(install_signal_handlers=install_signal_handlers)
    with guard:
        try:
            report.environment = environment()
            report.fault_around_bytes, report.fault_around_source = \
                _fault_around(fault_around)
            for i, case in enumerate(cases):
                if progress:
                    progress(f"[{i + 1}/{len(cases)}] {case.name}")
                report.results.append(run_case(case, guard, model=model,
                                                fault_around=report.fault_around_bytes,
                                                hold_seconds=hold_seconds))
        except KeyboardInterrupt as exc:
            signum = exc.signum if isinstance(exc, ProbeInterrupted) else signal.SIGINT
            report.interrupted = signal.Signals(signum).name
    report.restored = guard.restored
    report.restore_problems = list(guard.problems)
    report.foreign_changes = list(guard.foreign)
    report.state_before = {"nr_hugepages": {str(k): v for k, v in guard.saved_counts.items()},
                           "mounts": guard.saved_mounts}
    report.state_after = {"nr_hugepages": {str(k): v for k, v in guard.final_counts.items()},
                          "mounts": guard.final_mounts}
    return report


# --------------------------------------------------------------------------- rendering


def _cell(check: Check | None) -> tuple[str, str]:
    if check is None:
        return "", ""
    model = "-" if check.model is None else str(check.model)
    measured = ",".join(str(v) for v in check.measured)
    mark = "" if check.ok in (True, None) else " !"
    return model, measured + mark


def render_table(report: ProbeReport) -> str:
    from tabulate import tabulate

    rows = []
    for r in report.results:
        by = {ch.metric: ch for ch in r.checks}
        pt_m, pt_x = _cell(by.get("pt_bytes_per_process"))
        ff_m, ff_x = _cell(by.get("faults_first"))
        fn_m, fn_x = _cell(by.get("faults_next"))
        c = r.case
        rows.append([c.name, c.strategy, _fmt(c.size), _fmt(c.offset), c.access,
                     c.measured_procs, pt_m, pt_x, ff_m, ff_x, fn_m, fn_x,
                     r.status + (f": {r.reason}" if r.reason else "")])
    head = ["case", "strategy", "size", "offset", "access", "procs", "VmPTE model",
            "VmPTE measured", "faults_first model", "first measured", "faults_next model",
            "next measured", "status"]
    summary = ", ".join(f"{v} {k}" for k, v in sorted(report.counts().items()))
    lines = [tabulate(rows, head, tablefmt="simple", disable_numparse=True), "",
             (f"kernel {report.kernel}; fault_around_bytes "
              f"{report.fault_around_bytes or 'unknown'} ({report.fault_around_source}); "
              f"faults within +-{FAULT_TOLERANCE} per process; {summary}")]
    if report.interrupted:
        lines.append(f"interrupted by {report.interrupted}")
    lines.append("settings restored" if report.restored and not report.restore_problems
                 else f"restoration problems: {report.restore_problems}")
    lines.extend(f"note: {text}" for text in report.foreign_changes)
    return "\n".join(lines)


def render_json(report: ProbeReport) -> str:
    return json.dumps(report.to_dict(), indent=2)


def render(report: ProbeReport, fmt: str = "table") -> str:
    if fmt == "table":
        return render_table(report)
    if fmt == "json":
        return render_json(report)
    raise InputError(f"format {fmt!r} is not table or json")


# --------------------------------------------------------------------------- stand-alone


def main(argv=None) -> int:
    """``python -m ptcalc.probe.run [--size S --offset O --procs N --access A --strategy X]
    [--format table|json]``; with no size, the built-in matrix."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m ptcalc.probe.run", description=main.__doc__)
    parser.add_argument("--size")
    parser.add_argument("--offset", default="0")
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--access", choices=("read", "write"), action="append")
    parser.add_argument("--strategy", action="append")
    parser.add_argument("--case", action="append", help="run matrix cases whose name "
                        "contains this text")
    parser.add_argument("--format", default="table", choices=("table", "json"))
    parser.add_argument("--hold", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.size:
            cases = user_cases(args.size, args.offset, args.procs, args.access or ["write"],
                               args.strategy)
        else:
            cases = default_matrix()
            if args.strategy:
                cases = [c for c in cases if c.strategy in args.strategy]
            if args.case:
                cases = [c for c in cases if any(t in c.name for t in args.case)]
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        report = run_probe(cases, progress=lambda t: print(t, file=sys.stderr, flush=True),
                           hold_seconds=args.hold)
    except KeyboardInterrupt as exc:    # a second signal after restoration began
        signum = exc.signum if isinstance(exc, ProbeInterrupted) else signal.SIGINT
        print(f"interrupted by {signal.Signals(signum).name}; settings restored",
              file=sys.stderr)
        return 128 + signum
    print(render(report, args.format))
    return report.exit_code


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["CaseResult", "Check", "ProbeCase", "ProbeReport", "SystemGuard", "default_matrix",
           "main", "model_for", "render", "render_json", "render_table", "run_case",
           "run_probe", "user_cases"]

"""Live-kernel measurement: map one region at a fixed virtual address in child processes,
touch a dense range of it one access per 4 KiB page, and measure, per process, the growth of
``VmPTE`` (``/proc/self/status``) and the minor faults (``getrusage``) around the touch loop.

Layout.  Regions live in otherwise empty 512 GiB slots above ``BASE_ADDRESS`` (32 TiB):
``address = BASE_ADDRESS + slot * 512 GiB + offset``.  A fresh slot has no PUD, PMD or PTE
table yet, so a process's ``VmPTE`` growth is exactly the tables of the region (one PUD table
for the slot, plus the PMD and PTE tables the touched range needs).  ``MAP_FIXED_NOREPLACE``
places the mapping; the slot is checked to be empty first.

Processes.  ``run_region`` forks a *holder* process (its own process group) that creates the
backing object and keeps it alive; the holder forks one *worker* per process, one after the
other: worker k touches its range and reports only after worker k-1 has reported, and every
worker stays alive (mapped) until the last one has reported.  So later workers find the
pages in the page cache and, for hugetlb, an earlier sharer's PMD table to share.
Shared anonymous memory (``MAP_SHARED|MAP_ANONYMOUS``, with or without ``MAP_HUGETLB``) is
mapped by the holder and inherited over fork (a shmem object dies with its last mapping);
every other backing is mapped by each worker itself.  Fork copies no page tables of a shared
mapping without an anon_vma (``vma_needs_copy`` in mm/memory.c), and the holder never
touches the region, so workers start without tables for it.

Noise.  A forked Python child faults in interpreter text and copy-on-write heap pages the
first time it runs any code path.  Each worker therefore runs the same touch function and
the same measurement calls on a private warm-up buffer first, then once more measured: the
measured warm-up (``noise_faults``, ``noise_pt_bytes``) is reported with every result and is
0 on a quiet kernel.

Everything here is stdlib + ctypes; nothing runs at import time.  Huge page pools and tmpfs
mounts are prepared by the caller (see ``ptcalc.probe.run``).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import select
import signal
import time
from dataclasses import asdict, dataclass, field

from ptcalc.paging import HUGE_1G_BYTES, HUGE_2M_BYTES, PAGE_BYTES, PUD_SPAN

BASE_ADDRESS = 0x2000_0000_0000          # 32 TiB: far below mmap_base, above brk/heap
SLOT_BYTES = PUD_SPAN                    # 512 GiB: one PUD table (one PGD/P4D entry)
MAX_SLOTS = 64                           # slots 0..63 end at 64 TiB, inside 128 TiB user space

# <asm-generic/mman-common.h>, <asm-generic/mman.h>, <linux/mman.h> (x86-64 values)
PROT_READ = 0x1
PROT_WRITE = 0x2
MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_ANONYMOUS = 0x20
MAP_HUGETLB = 0x40000
MAP_FIXED_NOREPLACE = 0x100000
MAP_HUGE_SHIFT = 26
MAP_HUGE_2MB = 21 << MAP_HUGE_SHIFT
MAP_HUGE_1GB = 30 << MAP_HUGE_SHIFT
_PYBUF_WRITE = 0x200

BACKINGS = ("anon", "file", "memfd", "hugetlb-anon", "hugetlb-memfd")
ACCESSES = ("read", "write")
_HUGE_FLAGS = {HUGE_2M_BYTES: MAP_HUGE_2MB, HUGE_1G_BYTES: MAP_HUGE_1GB}


class KernelProbeError(RuntimeError):
    """A measurement could not be made (mapping failed, child died, timeout)."""


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class Region:
    """One region of ``size`` bytes starting at ``offset`` inside 512 GiB slot ``slot``.

    backing:
      ``anon``           MAP_SHARED|MAP_ANONYMOUS (shmem, internal mount), inherited over fork
      ``file``           a file created in ``directory`` (default /dev/shm; a tmpfs mounted
                         huge=always gives shmem THP; on a hugetlbfs mount set
                         ``huge_page_bytes`` to its page size)
      ``memfd``          memfd_create(): shmem on the internal mount
      ``hugetlb-anon``   MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_{2MB,1GB}; shared: inherited
      ``hugetlb-memfd``  memfd_create(MFD_HUGETLB|MFD_HUGE_{2MB,1GB})
    ``private`` maps MAP_PRIVATE instead of MAP_SHARED (not for ``anon``).
    ``file_offset`` is the mmap offset into the file (file-backed only).
    """

    size: int
    offset: int = 0
    backing: str = "anon"
    private: bool = False
    huge_page_bytes: int = 0
    directory: str | None = None
    file_offset: int = 0
    slot: int = 0

    def __post_init__(self) -> None:
        if self.backing not in BACKINGS:
            raise ValueError(f"backing {self.backing!r} is not one of {', '.join(BACKINGS)}")
        if self.size <= 0 or self.size % PAGE_BYTES:
            raise ValueError(f"size {self.size} must be a positive multiple of 4096")
        if self.offset < 0 or self.offset % PAGE_BYTES:
            raise ValueError(f"offset {self.offset} must be a non-negative multiple of 4096")
        if not 0 <= self.slot < MAX_SLOTS:
            raise ValueError(f"slot {self.slot} must be in 0..{MAX_SLOTS - 1}")
        if self.offset + self.size > SLOT_BYTES * (MAX_SLOTS - self.slot):
            raise ValueError("region does not fit below the last probe slot")
        if self.file_offset < 0 or self.file_offset % PAGE_BYTES:
            raise ValueError(f"file_offset {self.file_offset} must be a multiple of 4096")
        if self.backing == "anon" and self.private:
            raise ValueError("private anonymous memory is not shared; use backing='memfd'")
        if self.is_hugetlb:
            if self.huge_page_bytes not in _HUGE_FLAGS:
                raise ValueError("hugetlb needs huge_page_bytes of 2 MiB or 1 GiB")
            hp = self.huge_page_bytes
            if self.offset % hp or self.size % hp or self.file_offset % hp:
                raise ValueError(f"hugetlb offset, size and file_offset must be multiples of {hp}")
        elif self.huge_page_bytes:
            raise ValueError("huge_page_bytes is only for hugetlb backings and hugetlbfs files")

    @property
    def is_hugetlb(self) -> bool:
        """hugetlb backings, and a ``file`` on a hugetlbfs mount (``huge_page_bytes`` set)."""
        return self.backing.startswith("hugetlb") or (
            self.backing == "file" and self.huge_page_bytes > 0)

    @property
    def address(self) -> int:
        return BASE_ADDRESS + self.slot * SLOT_BYTES + self.offset

    @property
    def inherited(self) -> bool:
        """Mapped once by the holder and inherited by the workers over fork."""
        return self.backing in ("anon", "hugetlb-anon") and not self.private

    @property
    def has_fd(self) -> bool:
        return self.backing in ("file", "memfd", "hugetlb-memfd")

    @property
    def flags(self) -> int:
        flags = MAP_PRIVATE if self.private else MAP_SHARED
        if self.backing in ("anon", "hugetlb-anon"):
            flags |= MAP_ANONYMOUS
        if self.backing == "hugetlb-anon":
            flags |= MAP_HUGETLB | _HUGE_FLAGS[self.huge_page_bytes]
        return flags | MAP_FIXED_NOREPLACE


@dataclass(frozen=True)
class Touch:
    """What one process (or thread) does: one ``access`` per 4 KiB page of
    ``[start, start + length)`` (bytes into the region; ``length=None``: to its end)."""

    access: str = "write"
    start: int = 0
    length: int | None = None

    def __post_init__(self) -> None:
        if self.access not in ACCESSES:
            raise ValueError(f"access {self.access!r} must be 'read' or 'write'")
        if self.start < 0 or self.start % PAGE_BYTES:
            raise ValueError(f"touch start {self.start} must be a multiple of 4096")
        if self.length is not None and self.length < 0:
            raise ValueError(f"touch length {self.length} must be >= 0")

    def span(self, region_size: int) -> tuple[int, int]:
        length = region_size - self.start if self.length is None else self.length
        if self.start + length > region_size:
            raise ValueError(f"touch [{self.start}, +{length}) leaves the region")
        return self.start, length


@dataclass(frozen=True)
class ProcMeasure:
    """One process's (or thread's) measurement around its touch loop."""

    index: int
    role: str                 # "first" or "next"
    access: str
    start: int                # touched range, bytes into the region
    length: int
    pages: int                # 4 KiB accesses made
    pid: int
    vmpte_before_kb: int
    vmpte_after_kb: int
    minor_faults: int
    noise_faults: int         # same code path on a warm private buffer (should be 0)
    noise_pt_bytes: int
    seconds: float
    smaps: dict = field(default_factory=dict)   # the region's /proc/self/smaps fields, kB

    @property
    def pt_bytes(self) -> int:
        """VmPTE growth in bytes."""
        return (self.vmpte_after_kb - self.vmpte_before_kb) * 1024


@dataclass(frozen=True)
class RegionRun:
    """All measurements of one region.  ``threads``: the touches ran in threads of one
    process (then pt_bytes of each entry is the process's VmPTE growth during that
    thread's touch, and minor_faults are that thread's own, RUSAGE_THREAD)."""

    region: Region
    threads: bool
    procs: tuple[ProcMeasure, ...]
    address: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def first(self) -> ProcMeasure:
        return self.procs[0]

    @property
    def later(self) -> tuple[ProcMeasure, ...]:
        return self.procs[1:]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["procs"] = [dict(asdict(p), pt_bytes=p.pt_bytes) for p in self.procs]
        return d


# --------------------------------------------------------------------------- /proc readers


_VMPTE = re.compile(rb"^VmPTE:\s+(\d+) kB", re.MULTILINE)


def read_vmpte_kb(pid: int | str = "self") -> int:
    """``VmPTE`` of a process in kB (mm->pgtables_bytes >> 10, fs/proc/task_mmu.c)."""
    fd = os.open(f"/proc/{pid}/status", os.O_RDONLY)
    try:
        data = os.read(fd, 8192)
    finally:
        os.close(fd)
    m = _VMPTE.search(data)
    if m is None:
        raise KernelProbeError(f"/proc/{pid}/status has no VmPTE line")
    return int(m.group(1))


def read_meminfo_kb(key: str) -> int | None:
    with open("/proc/meminfo", "rb") as f:
        for line in f:
            name, _, rest = line.partition(b":")
            if name.decode() == key:
                return int(rest.split()[0])
    return None


_SMAPS_KEYS = ("Rss", "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb", "Private_Hugetlb",
               "AnonHugePages")


def region_smaps(address: int) -> dict:
    """Selected /proc/self/smaps fields (kB) of the mapping that starts at ``address``."""
    out, inside = {}, False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split(" ", 1)[0]
            if "-" in head and not head.endswith(":"):
                if inside:
                    break
                inside = int(head.partition("-")[0], 16) == address
            elif inside:
                key, _, rest = line.partition(":")
                if key in _SMAPS_KEYS:
                    out[key] = int(rest.split()[0])
    return out


def fault_around_bytes() -> int | None:
    """The kernel's fault_around_bytes (debugfs) if debugfs is mounted and readable."""
    for path in ("/sys/kernel/debug/fault_around_bytes",):
        try:
            with open(path) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            continue
    return None


def measure_fault_around_bytes(slot: int = 0) -> int:
    """The read fault-around window, measured: a first process writes a 2 MiB-aligned 2 MiB
    shmem region, a later one reads its first page; the later process's Rss for the region
    is then the window it mapped with that one fault (mm/memory.c do_fault_around)."""
    region = Region(HUGE_2M_BYTES, 0, "anon", slot=slot)
    run = run_region(region, [Touch("write"), Touch("read", 0, PAGE_BYTES)])
    later = run.procs[1]
    if later.minor_faults != 1:
        raise KernelProbeError(f"one read took {later.minor_faults} faults")
    return later.smaps.get("Rss", 0) * 1024


def platform_problem() -> str | None:
    """Why this machine cannot run the measurements, or None."""
    import platform

    if platform.system() != "Linux":
        return f"live-kernel probe needs Linux, this is {platform.system()}"
    if platform.machine() not in ("x86_64", "AMD64"):
        return f"live-kernel probe models x86-64 paging, this is {platform.machine()}"
    try:
        read_vmpte_kb()
    except (OSError, KernelProbeError) as exc:
        return f"cannot read VmPTE from /proc/self/status ({exc})"
    release = platform.release().split("-")[0].split(".")
    try:
        major, minor = int(release[0]), int(release[1])
    except (ValueError, IndexError):
        return None
    if (major, minor) < (4, 17):
        return f"kernel {platform.release()} lacks MAP_FIXED_NOREPLACE (needs 4.17+)"
    return None


def slot_is_empty(slot: int, maps_text: str | None = None) -> bool:
    """True if no mapping of this process intersects the 512 GiB probe slot."""
    lo = BASE_ADDRESS + slot * SLOT_BYTES
    hi = lo + SLOT_BYTES
    if maps_text is None:
        with open("/proc/self/maps") as f:
            maps_text = f.read()
    for line in maps_text.splitlines():
        a, _, b = line.split(" ", 1)[0].partition("-")
        if int(a, 16) < hi and int(b, 16) > lo:
            return False
    return True


# --------------------------------------------------------------------------- libc


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    libc.munmap.restype = ctypes.c_int
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return libc


def map_fixed(region: Region, fd: int = -1) -> int:
    """mmap the region at its fixed address (MAP_FIXED_NOREPLACE); returns the address."""
    libc = _libc()
    addr = libc.mmap(region.address, region.size, PROT_READ | PROT_WRITE, region.flags,
                     fd, region.file_offset if fd >= 0 else 0)
    if addr is None or addr == ctypes.c_void_p(-1).value:
        err = ctypes.get_errno()
        raise KernelProbeError(f"mmap at {region.address:#x} size {region.size}: "
                               f"{os.strerror(err)}")
    if addr != region.address:  # kernels < 4.17 treat the flag as a hint
        libc.munmap(addr, region.size)
        raise KernelProbeError(f"mmap placed the region at {addr:#x}, not {region.address:#x}")
    return addr


def _memoryview(addr: int, size: int) -> memoryview:
    make = ctypes.pythonapi.PyMemoryView_FromMemory
    make.restype = ctypes.py_object
    make.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_int]
    return make(addr, size, _PYBUF_WRITE)


def _create_backing(region: Region) -> int:
    """Create the backing object in the holder; returns an fd or -1."""
    size = region.file_offset + region.size
    if region.backing == "file":
        directory = region.directory or "/dev/shm"
        path = os.path.join(directory, f"ptcalc-probe-{os.getpid()}-{time.monotonic_ns()}")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.unlink(path)   # lives as long as the fd and the mappings: nothing to clean up
    elif region.backing == "memfd":
        fd = os.memfd_create("ptcalc-probe", os.MFD_CLOEXEC)
    elif region.backing == "hugetlb-memfd":
        huge = os.MFD_HUGE_2MB if region.huge_page_bytes == HUGE_2M_BYTES else os.MFD_HUGE_1GB
        fd = os.memfd_create("ptcalc-probe", os.MFD_CLOEXEC | os.MFD_HUGETLB | huge)
    else:
        return -1
    os.ftruncate(fd, size)
    return fd


# --------------------------------------------------------------------------- worker side


def _touch(mv: memoryview, start: int, end: int, write: bool) -> None:
    """One access per 4 KiB page.  A read really loads the byte (memoryview item access);
    the loop allocates nothing but the loop int (reused from pymalloc's free list)."""
    if write:
        for i in range(start, end, PAGE_BYTES):
            mv[i] = 1
    else:
        x = 0
        for i in range(start, end, PAGE_BYTES):
            x ^= mv[i]


def _measured(mv, start, end, write, who):
    import resource

    pte0 = read_vmpte_kb()
    f0 = resource.getrusage(who).ru_minflt
    t0 = time.perf_counter()
    _touch(mv, start, end, write)
    t1 = time.perf_counter()
    f1 = resource.getrusage(who).ru_minflt
    pte1 = read_vmpte_kb()
    return pte0, pte1, f1 - f0, t1 - t0


def _warm_and_noise(who) -> tuple[int, int]:
    """Run the measured code path on a private, already-touched buffer: first to fault in
    text and copy-on-write pages, then measured: returns (faults, pt_bytes) of noise."""
    warm = bytearray(b"\1" * (32 * PAGE_BYTES))
    mv = memoryview(warm)
    for write in (False, True, False, True):
        _measured(mv, 0, len(warm), write, who)
    pte0, pte1, faults, _ = _measured(mv, 0, len(warm), False, who)
    _, _, faults_w, _ = _measured(mv, 0, len(warm), True, who)
    return faults + faults_w, (pte1 - pte0) * 1024


def _one_touch(index, role, touch, region, mv, who, noise) -> dict:
    start, length = touch.span(region.size)
    pte0, pte1, faults, secs = _measured(mv, start, start + length, touch.access == "write",
                                         who)
    return {"index": index, "role": role, "access": touch.access, "start": start,
            "length": length, "pages": -(-length // PAGE_BYTES), "pid": os.getpid(),
            "vmpte_before_kb": pte0, "vmpte_after_kb": pte1, "minor_faults": faults,
            "noise_faults": noise[0], "noise_pt_bytes": noise[1], "seconds": secs}


def _worker(region, fd, touches, first_index, threads, out_w, release_r) -> None:
    import resource

    if not region.inherited:
        map_fixed(region, fd)
    mv = _memoryview(region.address, region.size)
    if not threads:
        noise = _warm_and_noise(resource.RUSAGE_SELF)
        role = "first" if first_index == 0 else "next"
        results = [_one_touch(first_index, role, touches[0], region, mv,
                              resource.RUSAGE_SELF, noise)]
    else:
        results = _thread_touches(region, mv, touches)
    smaps = region_smaps(region.address)     # after measuring: not part of the counts
    for res in results:
        res["smaps"] = smaps
    os.write(out_w, (json.dumps({"results": results}) + "\n").encode())
    os.read(release_r, 1)   # stay mapped until the holder releases every worker


def _start_holder(*args) -> None:
    os.setpgid(0, 0)      # its own process group: the parent can signal all probe processes
    _holder(*args)


def _run_child(report_fd: int, body, close_fds, *args) -> None:
    """In a forked child: close the parent's ends in `close_fds`, run body(*args), report an
    exception as a JSON line on report_fd, and never unwind into the parent's code."""
    code = 0
    try:
        for other in close_fds:
            os.close(other)
        body(*args)
    except BaseException as exc:
        try:
            os.write(report_fd, (json.dumps({"error": f"{type(exc).__name__}: {exc}"})
                                 + "\n").encode())
        except OSError:
            pass
        code = 1
    finally:
        os._exit(code)


def _thread_touches(region, mv, touches) -> list[dict]:
    """Each touch in its own thread of this process, one thread after the other.  Threads
    are started (stacks mapped and used) before any measurement."""
    import resource
    import threading

    who = resource.RUSAGE_THREAD
    results: list[dict | None] = [None] * len(touches)
    errors: list[BaseException] = []
    go = [threading.Event() for _ in touches]
    done = [threading.Event() for _ in touches]
    ready = [threading.Event() for _ in touches]
    # Threads stay alive until every touch is measured: an exiting thread's glibc
    # madvise(MADV_DONTNEED)s its stack, and with CONFIG_PT_RECLAIM the kernel then frees
    # that stack's empty PTE table in the middle of another thread's VmPTE measurement.
    finish = threading.Event()

    def body(k):
        try:
            noise = _warm_and_noise(who)
            ready[k].set()
            go[k].wait()
            results[k] = _one_touch(k, "first" if k == 0 else "next", touches[k], region,
                                    mv, who, noise)
        except BaseException as exc:  # re-raised in the worker's main thread
            errors.append(exc)
            ready[k].set()
        finally:
            done[k].set()
            finish.wait()

    workers = [threading.Thread(target=body, args=(k,), daemon=True)
               for k in range(len(touches))]
    for t in workers:
        t.start()
    for ev in ready:
        ev.wait()
    for k in range(len(touches)):
        go[k].set()
        done[k].wait()
    finish.set()
    for t in workers:
        t.join()
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


# --------------------------------------------------------------------------- holder side


def _read_line(fd: int, deadline: float) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise KernelProbeError("timed out waiting for a probe process")
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            raise KernelProbeError("a probe process died before reporting")
        buf += chunk
    return buf


def _holder(region: Region, touches, threads: bool, out_w: int, timeout: float,
            hold_seconds: float = 0.0, keep_alive: bool = True) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    deadline = time.monotonic() + timeout
    if not slot_is_empty(region.slot):
        raise KernelProbeError(f"probe slot {region.slot} is not empty in this process")
    fd = _create_backing(region)
    if region.inherited:
        map_fixed(region, fd)
    groups = [list(touches)] if threads else [[t] for t in touches]
    releases, results, pids = [], [], []
    first_index = 0
    for group in groups:
        r, w = os.pipe()
        rel_r, rel_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            _run_child(w, _worker, (r, rel_w, *releases),
                       region, fd, group, first_index, threads, w, rel_r)
        pids.append(pid)
        os.close(w)
        os.close(rel_r)
        releases.append(rel_w)
        msg = json.loads(_read_line(r, deadline))
        os.close(r)
        if "error" in msg:
            raise KernelProbeError(f"probe process {len(pids)}: {msg['error']}")
        results.extend(msg["results"])
        first_index += len(group)
        if not keep_alive:      # this worker unmaps and exits before the next one starts
            os.close(releases.pop())
            os.waitpid(pids.pop(), 0)
    report = {"results": results}
    if hold_seconds > 0:    # every worker still maps and holds its pages
        time.sleep(hold_seconds)
    os.write(out_w, (json.dumps(report) + "\n").encode())
    for rel in releases:
        os.close(rel)
    for pid in pids:
        os.waitpid(pid, 0)


def _group_members(pgid: int) -> list[int]:
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rpartition(b")")[2].split()
        # fields[0] is the state, fields[2] the process group
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(name))
    return members


def kill_group(pgid: int, timeout: float = 10.0) -> None:
    """SIGKILL a probe process group and wait until none of it holds memory or files."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    try:
        os.waitpid(pgid, 0)
    except ChildProcessError:
        pass
    deadline = time.monotonic() + timeout
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)


_ACTIVE_GROUPS: set[int] = set()


def kill_active_groups() -> None:
    """Kill every probe process group still running (used by restoration guards)."""
    for pgid in list(_ACTIVE_GROUPS):
        kill_group(pgid)
        _ACTIVE_GROUPS.discard(pgid)


def run_region(region: Region, touches, *, threads: bool = False, timeout: float = 300.0,
               hold_seconds: float = 0.0, keep_alive: bool = True) -> RegionRun:
    """Measure ``touches`` (one per process, in order; or one per thread of a single process
    with ``threads=True``) on ``region``.  Returns the measurements; raises
    KernelProbeError when a mapping or a child fails.  ``hold_seconds`` keeps every worker
    mapped (and its pages allocated) that long after the last report (tests use it to
    interrupt a run in the middle).  ``keep_alive=False`` lets each worker exit before the
    next starts (the backing object stays alive in the holder)."""
    touches = tuple(touches)
    if not touches:
        raise ValueError("need at least one touch")
    for t in touches:
        t.span(region.size)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # holder
        _run_child(w, _start_holder, (r,), region, touches, threads, w, timeout, hold_seconds,
                   keep_alive)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child already did it (or exec'd)
    _ACTIVE_GROUPS.add(pid)
    os.close(w)
    try:
        msg = json.loads(_read_line(r, time.monotonic() + timeout + hold_seconds + 5))
        # the holder releases the workers and reaps them after reporting
        os.waitpid(pid, 0)
    finally:
        os.close(r)
        if pid in _ACTIVE_GROUPS:
            kill_group(pid)
            _ACTIVE_GROUPS.discard(pid)
    if "error" in msg:
        raise KernelProbeError(msg["error"])
    procs = tuple(ProcMeasure(**res) for res in msg["results"])
    return RegionRun(region=region, threads=threads, procs=procs, address=region.address)


def measure(region: Region, access: str = "write", touched_bytes: int | None = None,
            procs: int = 2, *, threads: bool = False, later_access: str | None = None,
            timeout: float = 300.0) -> RegionRun:
    """Convenience: ``procs`` processes (or threads) each touch the dense prefix of
    ``touched_bytes`` (default: the whole region) with ``access``; later ones with
    ``later_access`` if given."""
    if procs < 1:
        raise ValueError("procs must be >= 1")
    first = Touch(access, 0, touched_bytes)
    later = Touch(later_access or access, 0, touched_bytes)
    return run_region(region, [first] + [later] * (procs - 1), threads=threads,
                      timeout=timeout)

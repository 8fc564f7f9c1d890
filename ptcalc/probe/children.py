"""The probe's processes: a *holder* (own process group) creates the backing object and forks
one *worker* per process; each worker maps the region at its fixed address, touches it and
reports its measurement as one JSON line.  See ``ptcalc.probe.kernel`` for the protocol.

Everything here is stdlib + ctypes; nothing runs at import time.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import time

from ptcalc.paging import HUGE_2M_BYTES, PAGE_BYTES
from ptcalc.probe.procfs import read_vmpte_kb, region_smaps, slot_is_empty
from ptcalc.probe.region import PROT_READ, PROT_WRITE, KernelProbeError, Region

_PYBUF_WRITE = 0x200

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


def _measured(mv, start, end, write, who):
    """VmPTE (KiB) before and after, minor faults and seconds of one access per 4 KiB page
    of [start, end).  A read really loads the byte (memoryview item access).

    The loop is written out here, not called: between the two getrusage() calls nothing but
    C code and this frame's bytecode runs.  A Python call there pushes a frame on CPython's
    frame stack, and at some call depths that push starts a new 16 KiB stack chunk, mmap()ed
    and unmapped again on return (_PyThreadState_PushFrame/PopFrame): one minor fault per
    call that no warm-up removes, seen as noise_faults=1 in cases whose worker happened to
    run at such a depth."""
    import resource

    pte0 = read_vmpte_kb()
    f0 = resource.getrusage(who).ru_minflt
    t0 = time.perf_counter()
    if write:
        for i in range(start, end, PAGE_BYTES):
            mv[i] = 1
    else:
        x = 0
        for i in range(start, end, PAGE_BYTES):
            x ^= mv[i]
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
    are all started (stacks mapped and used) before any touch is measured."""
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
    # Started one after the other: each warms up and measures its noise while the others
    # wait on an event, so no thread's window sees another's allocations (a pool or arena
    # page the interpreter touches for the first time is charged to the thread that does).
    for t, ev in zip(workers, ready, strict=True):
        t.start()
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
    """SIGKILL a probe process group and wait until none of it holds memory or files.
    `pgid` must be an unreaped child of this process (its leader): only then is the number
    still this group's (see fork_holder)."""
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
# (started(pgid), gone(pgid)): the guard's journal, so a killed probe's groups can be found
GROUP_HOOKS: list = []


def _hook(which: int, pgid: int) -> None:
    if len(GROUP_HOOKS) == 2:
        GROUP_HOOKS[which](pgid)


def kill_active_groups() -> None:
    """Kill every probe process group still running (used by restoration guards), and tell
    the journal each one is gone: a signal can stop fork_holder after it listed the group
    and before its own clean-up, and a group left listed keeps the journal for a repair."""
    for pgid in list(_ACTIVE_GROUPS):
        kill_group(pgid)
        _ACTIVE_GROUPS.discard(pgid)
        if not _group_members(pgid):
            _hook(1, pgid)


def fork_holder(region: Region, touches, threads: bool, timeout: float,
                hold_seconds: float, keep_alive: bool) -> dict:
    """Fork the holder for one run, wait for its report (a dict: ``results`` or ``error``),
    and make sure no process of its group survives."""
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
        _hook(0, pid)
        msg = json.loads(_read_line(r, time.monotonic() + timeout + hold_seconds + 5))
        # The holder releases the workers and reaps them after reporting.  Reaping it and
        # forgetting its group is one step (signals wait): once reaped, its PID may be
        # reused, and a killpg() of it would hit a stranger's group.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            os.waitpid(pid, 0)
            _ACTIVE_GROUPS.discard(pid)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    finally:
        os.close(r)
        if pid in _ACTIVE_GROUPS:     # not reaped: its PID cannot have been reused
            kill_group(pid)
            _ACTIVE_GROUPS.discard(pid)
        _hook(1, pid)
    return msg


_SIGNALS = {getattr(signal, name) for name in
            ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGPIPE") if hasattr(signal, name)}

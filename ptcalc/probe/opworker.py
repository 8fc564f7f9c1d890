"""Worker processes for the operation probes: a child pinned to one CPU that maps a region
at a fixed address and runs commands (touch, mprotect, munmap, madvise, fork, exit) sent by
the parent over a pipe, reporting VmPTE and minor faults around each.

Pinning: the parent pins itself to the worker's CPU before fork(), so the child starts on
that CPU and its new mm is only ever loaded there (x86 keeps a CPU in mm_cpumask once the mm
ran on it; a child that migrated after fork would have the first flush IPI its old CPU).

A worker may also start a *spinner* thread on another CPU: the same mm kept running there
(a ctypes memset loop, which releases the GIL), as a second thread of a multithreaded
process.  An idle sibling thread would leave its CPU in lazy-TLB mode, which x86 skips for
flushes that free no page tables (``should_flush_tlb()`` in arch/x86/mm/tlb.c).

Stdlib + ctypes only; nothing runs at import time.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import threading
import time

from ptcalc.paging import PAGE_BYTES

PROT_NONE = 0x0
PROT_READ = 0x1
PROT_WRITE = 0x2
MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_ANONYMOUS = 0x20
MAP_FIXED_NOREPLACE = 0x100000
MADV_DONTNEED = 4


class WorkerError(RuntimeError):
    """A worker failed a command or died."""


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    for name in ("munmap", "mprotect", "madvise"):
        fn = getattr(libc, name)
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t] + ([ctypes.c_int] * (name != "munmap"))
    libc.memset.restype = ctypes.c_void_p
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    return libc


def _check(rc: int, what: str) -> None:
    if rc != 0:
        raise WorkerError(f"{what}: {os.strerror(ctypes.get_errno())}")


def read_status_kb(key: str = "VmPTE", pid="self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise WorkerError(f"/proc/{pid}/status has no {key}")


class _Spinner:
    """A thread of the worker's mm kept running on `cpu`: it loops over memset() of a
    prefaulted 64 MiB buffer.  Each call runs ~10 ms without the GIL, so the thread is
    almost always in user mode with this mm loaded, not asleep on the GIL (an asleep CPU
    is in lazy-TLB mode and skipped by flushes that free no tables).  Its nice value is
    lowered (root) so that other load on that CPU does not preempt it as often; the setting
    dies with the thread."""

    BUFFER_BYTES = 64 << 20

    def __init__(self, cpu: int, libc):
        self.cpu, self.libc = cpu, libc
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.buffer = ctypes.create_string_buffer(self.BUFFER_BYTES)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(5)

    def _run(self) -> None:
        os.sched_setaffinity(0, {self.cpu})
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -10)
        except OSError:
            pass
        self.libc.memset(self.buffer, 0, len(self.buffer))
        self.ready.set()
        while not self.stop.is_set():
            self.libc.memset(self.buffer, 0, len(self.buffer))   # GIL released here

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


class _WorkerLoop:
    """The child side: executes one JSON command per line, answers one JSON line."""

    def __init__(self, cmd_fd: int, reply_fd: int):
        self.cmd = os.fdopen(cmd_fd, "r")
        self.reply = os.fdopen(reply_fd, "w")
        self.libc = _libc()
        self.spinner: _Spinner | None = None
        self.children: list[int] = []
        self.setup_measurement()

    def setup_measurement(self) -> None:
        self.warm = ctypes.create_string_buffer(64 * PAGE_BYTES)
        # /proc/interrupts is read into these around each measured call, by preadv() into
        # buffers allocated (and touched) now: the window allocates nothing and frees nothing
        # (a free that unmaps memory would flush this mm's TLB on the other CPUs and be
        # counted as the operation's)
        self.interrupts_fd = os.open("/proc/interrupts", os.O_RDONLY)
        self.interrupt_bufs = ([bytearray(INTERRUPTS_BYTES)], [bytearray(INTERRUPTS_BYTES)])

    def run(self) -> None:
        # Warm the measured code paths on a private buffer, so that they fault nothing later.
        for _ in range(2):
            self._measure_touch(ctypes.addressof(self.warm), len(self.warm), True)
            self._measure_touch(ctypes.addressof(self.warm), len(self.warm), False)
            self._measure()
        for line in self.cmd:
            request = json.loads(line)
            try:
                answer = {"ok": True, **getattr(self, "do_" + request.pop("op"))(**request)}
            except Exception as exc:  # reported to the parent, which raises
                answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            self.reply.write(json.dumps(answer) + "\n")
            self.reply.flush()
            if request.get("final"):
                break

    def _measure(self, call=None, *args) -> dict:
        """VmPTE and minor faults around `call(*args)`, a ctypes function (C, no Python
        frame: a Python call inside the window can start a new CPython frame-stack chunk,
        mmap()ed afresh each time at some call depths, one fault no warm-up removes); its
        return code is left in "rc"."""
        fd, (before, after) = self.interrupts_fd, self.interrupt_bufs
        pte0, f0 = read_status_kb(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        n0 = os.preadv(fd, before, 0)
        t0 = time.perf_counter()
        rc = call(*args) if call is not None else 0
        t1 = time.perf_counter()
        n1 = os.preadv(fd, after, 0)
        f1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        pte1 = read_status_kb()
        return {"vmpte_delta": (pte1 - pte0) * 1024, "faults": f1 - f0, "seconds": t1 - t0,
                "vmpte_kb": pte1, "rc": rc,
                "interrupts": interrupt_delta(bytes(before[0][:n0]).decode(),
                                              bytes(after[0][:n1]).decode())}

    def _measure_touch(self, addr: int, length: int, write: bool, step: int = PAGE_BYTES):
        """The same around one access per `step` bytes of [addr, addr + length), the loop
        written out in the window for the same reason."""
        char = ctypes.c_char
        pte0, f0 = read_status_kb(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        if write:
            for a in range(addr, addr + length, step):
                char.from_address(a).value = b"\1"
        else:
            x = 0
            for a in range(addr, addr + length, step):
                x ^= char.from_address(a).value[0]
        t1 = time.perf_counter()
        f1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        pte1 = read_status_kb()
        return {"vmpte_delta": (pte1 - pte0) * 1024, "faults": f1 - f0, "seconds": t1 - t0,
                "vmpte_kb": pte1}

    def _syscall(self, name: str, *args) -> dict:
        out = self._measure(getattr(self.libc, name), *args)
        _check(out.pop("rc"), name)
        return out

    # -- commands
    def do_map(self, address, size, fd=-1, private=False, anonymous=False):
        flags = (MAP_PRIVATE if private else MAP_SHARED) | MAP_FIXED_NOREPLACE
        if anonymous:
            flags |= MAP_ANONYMOUS
        got = self.libc.mmap(address, size, PROT_READ | PROT_WRITE, flags, fd, 0)
        if got != address:
            raise WorkerError(f"mmap at {address:#x}: {os.strerror(ctypes.get_errno())}")
        return {}

    def do_noise(self, seconds=0.0):
        """An idle window: the same measurement around a sleep of `seconds`."""
        out = self._measure(time.sleep, seconds)
        del out["rc"]
        return out

    def do_touch(self, address, length, write=True, step=PAGE_BYTES):
        return self._measure_touch(address, length, write, step)

    def do_mprotect(self, address, length, prot=PROT_READ):
        return self._syscall("mprotect", address, length, prot)

    def do_munmap(self, address, length):
        return self._syscall("munmap", address, length)

    def do_madvise(self, address, length, advice=MADV_DONTNEED):
        return self._syscall("madvise", address, length, advice)

    def do_fork(self):
        """fork() a child that exits at once; the time fork() took in the parent."""
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        t1 = time.perf_counter()
        os.waitpid(pid, 0)
        return {"seconds": t1 - t0}

    def do_spin(self, cpu):
        self.spinner = _Spinner(cpu, self.libc)
        return {}

    def do_status(self):
        return {"vmpte_kb": read_status_kb()}

    def do_exit(self, final=True):
        if self.spinner:
            self.spinner.close()
        return {}


#: Workers forked and not yet waited for.  A signal can interrupt a case anywhere, also in
#: the middle of its clean-up; reap_workers() then kills and waits for whatever is left, so
#: that no worker outlives the probe (or holds huge pages while the pools are restored).
LIVE_WORKERS: set[int] = set()
_FORK_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE)


def reap_workers() -> None:
    """SIGKILL and wait for every worker that was not closed."""
    for pid in list(LIVE_WORKERS):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        LIVE_WORKERS.discard(pid)


class Worker:
    """The parent's handle on one worker process."""

    def __init__(self, cpu: int, *, inherit_fds=()):
        cmd_r, cmd_w = os.pipe()
        rep_r, rep_w = os.pipe()
        saved = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})
        # no signal between fork() and the registration of the child
        masked = threading.current_thread() is threading.main_thread()
        if masked:
            signal.pthread_sigmask(signal.SIG_BLOCK, _FORK_SIGNALS)
        try:
            pid = os.fork()
        except BaseException:
            if masked:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORK_SIGNALS)
            os.sched_setaffinity(0, saved)
            raise
        if pid:
            LIVE_WORKERS.add(pid)
            if masked:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORK_SIGNALS)
        if pid == 0:   # child
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                if masked:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORK_SIGNALS)
                os.close(cmd_w)
                os.close(rep_r)
                _WorkerLoop(cmd_r, rep_w).run()
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.sched_setaffinity(0, saved)
        os.close(cmd_r)
        os.close(rep_w)
        self.pid, self.cpu = pid, cpu
        self._cmd = os.fdopen(cmd_w, "w")
        self._reply = os.fdopen(rep_r, "r")
        self.closed = False

    def call(self, op: str, **args) -> dict:
        self._cmd.write(json.dumps({"op": op, **args}) + "\n")
        self._cmd.flush()
        line = self._reply.readline()
        if not line:
            raise WorkerError(f"worker {self.pid} died during {op}")
        answer = json.loads(line)
        if not answer.pop("ok"):
            raise WorkerError(f"worker {self.pid} {op}: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.call("exit", final=True)
        except (WorkerError, OSError, ValueError):
            pass
        for stream in (self._cmd, self._reply):
            try:
                stream.close()
            except OSError:
                pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        LIVE_WORKERS.discard(self.pid)

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.close()


INTERRUPTS_BYTES = 1 << 16


def parse_interrupts(text: str, names=("TLB", "CAL")) -> dict[str, tuple[int, ...]]:
    """Per-CPU counts of /proc/interrupts lines (TLB shootdowns, function call IPIs)."""
    lines = text.splitlines()
    ncpu = len(lines[0].split()) if lines else 0
    out = {}
    for line in lines[1:]:
        head, _, rest = line.partition(":")
        if head.strip() in names:
            out[head.strip()] = tuple(int(x) for x in rest.split()[:ncpu])
    return out


def interrupt_delta(before: str, after: str) -> dict[str, list[int]]:
    """Per-CPU increase of each counted line between two /proc/interrupts texts."""
    old, new = parse_interrupts(before), parse_interrupts(after)
    return {name: [b - a for a, b in zip(old[name], new[name], strict=True)] for name in old}


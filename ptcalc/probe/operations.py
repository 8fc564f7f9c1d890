"""``ptcalc op-probe``: the operation rules measured on the running kernel.

Each case maps one region at a fixed 1 GiB-aligned address (32 TiB) in worker processes
pinned to CPUs (ptcalc.probe.opworker): the acting process on CPU 0, the other sharers on
CPU 1 (or, for threads, a second thread of the acting process kept running on CPU 1).  All
touch the region, then the acting process applies the operation, then touches again what it
still maps (its refaults), then the others touch again.  Per case it measures the acting
process's VmPTE change (``/proc/self/status``) right after the call and after the refaults,
its minor faults (``getrusage``), the others' VmPTE and faults, and the per-CPU "TLB
shootdowns" and "Function call interrupts" of CPU 1 (``/proc/interrupts``) across the call.

Noise: the same command round trip with no operation is measured five times per run; the
largest IPI count seen in those idle windows is the tolerance of the IPI checks (other
processes of the machine send IPIs too).  VmPTE must match exactly, faults within +-2 (the
worker's own code path).  Every case runs ``repeat`` times on a fresh mapping and the
median of each measurement is compared.

``--fork`` measures this host's fork() cost per GiB of copied page tables: a private
anonymous heap (MADV_NOHUGEPAGE, every 4 KiB page written) of 64 MiB and of 2 GiB, five
fork() calls each; the slope is stored for ``ptcalc op fork --heap`` (ptcalc.compute.forkcost).

Huge pages are reserved through SystemGuard and restored afterwards, also on Ctrl-C.
The model's numbers come from ``ptcalc.operations`` (the public API).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import time
from dataclasses import asdict, dataclass

from ptcalc.paging import HUGE_2M_BYTES, PAGE_BYTES
from ptcalc.probe.opworker import (
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    PROT_READ,
    Worker,
    WorkerError,
    reap_workers,
)

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
ADDRESS = 0x2000_0000_0000            # 32 TiB: 512 GiB (so 1 GiB) aligned, far from others
FAULT_TOLERANCE = 2
NOISE_WINDOWS = 5
NOISE_SECONDS = 0.02     # an idle window: longer than any operation of the cases here
MADV_NOHUGEPAGE = 15
FORK_SIZES = (64 * MiB, 2 * GiB)
FORK_SAMPLES = 5


@dataclass(frozen=True)
class OpCase:
    name: str
    strategy: str          # private-4k, threads, hugetlb-2m-pmdshare
    operation: str         # mprotect, munmap, madvise
    size: int
    procs: int
    at: int
    length: int
    access: str = "write"
    folio: int = 0         # shmem mTHP: MAP_SHARED|MAP_ANONYMOUS with this folio size on

    @property
    def hugetlb(self) -> bool:
        return self.strategy.startswith("hugetlb")

    @property
    def step(self) -> int:
        return HUGE_2M_BYTES if self.hugetlb else PAGE_BYTES


def default_cases() -> list[OpCase]:
    shm, huge = 64 * MiB, 3 * GiB
    cases = []
    for procs in (2, 3):
        cases += [
            OpCase(f"pmdshare-mprotect-part-p{procs}", "hugetlb-2m-pmdshare", "mprotect",
                   huge, procs, GiB // 2, GiB),
            OpCase(f"pmdshare-munmap-part-p{procs}", "hugetlb-2m-pmdshare", "munmap",
                   huge, procs, GiB // 2, GiB),
        ]
    cases += [
        OpCase("pmdshare-munmap-slot", "hugetlb-2m-pmdshare", "munmap", huge, 2, GiB, GiB),
        OpCase("pmdshare-dontneed-2m", "hugetlb-2m-pmdshare", "madvise", huge, 2, GiB // 2,
               2 * MiB),
        OpCase("private4k-dontneed-4m", "private-4k", "madvise", shm, 2, 2 * MiB, 4 * MiB,
               "read"),
        OpCase("private4k-dontneed-1m", "private-4k", "madvise", shm, 2, 2 * MiB, MiB, "read"),
        OpCase("private4k-munmap-20m", "private-4k", "munmap", shm, 2, 2 * MiB, 20 * MiB,
               "read"),
        OpCase("private4k-mprotect-4m", "private-4k", "mprotect", shm, 2, 2 * MiB, 4 * MiB,
               "read"),
        OpCase("threads-dontneed-4m", "threads", "madvise", shm, 2, 2 * MiB, 4 * MiB, "read"),
        OpCase("threads-munmap-20m", "threads", "munmap", shm, 2, 2 * MiB, 20 * MiB, "read"),
        OpCase("threads-munmap-4m-written", "threads", "munmap", shm, 2, 2 * MiB, 4 * MiB),
        OpCase("threads-mprotect-4m", "threads", "mprotect", shm, 2, 2 * MiB, 4 * MiB, "read"),
    ]
    # shmem mTHP: tables as 4 KiB pages; after MADV_DONTNEED a writer maps a whole folio per
    # fault where the zap took the folio whole, page by page where it cut the folio; a
    # reader's fault-around maps whole folios (or whole windows of smaller ones)
    k64, k256, k16 = 64 * KiB, 256 * KiB, 16 * KiB
    cases += [
        OpCase("mthp64k-dontneed-4m-write", "thp-shmem-64k", "madvise", 8 * MiB, 2, 2 * MiB,
               4 * MiB, "write", k64),
        OpCase("mthp64k-dontneed-cut-write", "thp-shmem-64k", "madvise", 8 * MiB, 2,
               2 * MiB + 56 * KiB, MiB, "write", k64),
        OpCase("mthp256k-dontneed-cut-read", "thp-shmem-256k", "madvise", 8 * MiB, 2,
               2 * MiB + 128 * KiB, MiB, "read", k256),
        OpCase("mthp16k-dontneed-cut-read", "thp-shmem-16k", "madvise", 8 * MiB, 2,
               2 * MiB + 8 * KiB, MiB, "read", k16),
        OpCase("mthp64k-munmap-20m", "thp-shmem-64k", "munmap", shm, 2, 2 * MiB, 20 * MiB,
               "read", k64),
    ]
    return cases


def model_for(case: OpCase) -> dict:
    import ptcalc

    frame = ptcalc.operations(case.operation, case.size, case.procs, bytes=case.length,
                              at=case.at, access=case.access, strategies=[case.strategy],
                              cpus=1, host_cpus=2)
    row = frame.iloc[0]
    return {key: int(row[key]) for key in (
        "vmpte_acting_bytes", "vmpte_acting_after_refault_bytes", "refaults_acting",
        "tlb_ipis", "tlb_ipis_min", "call_ipis", "tables_freed", "tables_unshared")}


# --------------------------------------------------------------------------- one run


def _on_cpu1(answer: dict) -> dict:
    """What CPU 1 received in the worker's measured window (the call alone)."""
    return {name: counts[1] for name, counts in answer["interrupts"].items()}


def _pagetables_kb() -> int | None:
    try:
        with open("/proc/sys/vm/stat_refresh", "w") as f:   # fold per-CPU counters
            f.write("1")
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("PageTables:"):
                return int(line.split()[1])
    return None


def _kept_ranges(case: OpCase):
    """What the acting process still maps after the operation, as (start, length)."""
    if case.operation != "munmap":
        return [(0, case.size)]
    return [(s, e - s) for s, e in ((0, case.at), (case.at + case.length, case.size)) if e > s]


def _map_shared_anonymous(size: int) -> None:
    """MAP_SHARED|MAP_ANONYMOUS at ADDRESS in this process, inherited by the workers it
    forks (the per-size shmem_enabled switches govern anonymous shared memory, not memfd)."""
    from ptcalc.probe.opworker import MAP_FIXED_NOREPLACE, MAP_SHARED, PROT_WRITE, _libc

    got = _libc().mmap(ADDRESS, size, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
    if got != ADDRESS:
        raise WorkerError(f"mmap of shared anonymous memory at {ADDRESS:#x} failed")


def _unmap(size: int) -> None:
    from ptcalc.probe.opworker import _libc

    _libc().munmap(ADDRESS, size)


def _run_once(case: OpCase) -> dict:
    # the workers fork from this process and inherit the fd (CLOEXEC matters only at exec)
    fd = -1 if case.folio else os.memfd_create("ptcalc-op-probe", os.MFD_CLOEXEC | (
        os.MFD_HUGETLB | os.MFD_HUGE_2MB if case.hugetlb else 0))
    workers = []
    parent_maps = False
    try:
        if case.folio:
            _map_shared_anonymous(case.size)
            parent_maps = True
        else:
            os.ftruncate(fd, case.size)
        acting = Worker(0)
        workers.append(acting)
        if case.strategy != "threads":
            workers += [Worker(1) for _ in range(case.procs - 1)]
        if parent_maps:    # inherited: this process no longer needs it
            _unmap(case.size)
            parent_maps = False
        for worker in workers if not case.folio else ():
            worker.call("map", address=ADDRESS, size=case.size, fd=fd)
        write = case.access == "write"
        for worker in reversed(workers):       # the others first: the actor is a later one
            worker.call("touch", address=ADDRESS, length=case.size, write=write,
                        step=case.step)
        if case.strategy == "threads":
            acting.call("spin", cpu=1)
        else:
            workers[-1].call("spin", cpu=1)    # a sharer kept running on CPU 1
        noise = [_on_cpu1(acting.call("noise", seconds=NOISE_SECONDS))
                 for _ in range(NOISE_WINDOWS)]
        args = {"address": ADDRESS + case.at, "length": case.length}
        if case.operation == "mprotect":
            args["prot"] = PROT_READ
        done = acting.call(case.operation, **args)
        ipis = _on_cpu1(done)
        refault_faults = refault_pte = 0
        # touched again as before, except after mprotect (now read-only) and munmap (the
        # kept pages were never zapped): reads
        again = write and case.operation == "madvise"
        for start, length in _kept_ranges(case):
            got = acting.call("touch", address=ADDRESS + start, length=length, write=again,
                              step=case.step)
            refault_faults += got["faults"]
            refault_pte += got["vmpte_delta"]
        others = [w.call("touch", address=ADDRESS, length=case.size, write=False,
                         step=case.step) for w in workers[1:]]
        return {
            "vmpte_now": done["vmpte_delta"], "op_faults": done["faults"],
            "vmpte_after": done["vmpte_delta"] + refault_pte, "refaults": refault_faults,
            "tlb_ipis": ipis.get("TLB", 0), "call_ipis": ipis.get("CAL", 0),
            "noise_tlb": max(n.get("TLB", 0) for n in noise),
            "noise_call": max(n.get("CAL", 0) for n in noise),
            "others_faults": max((o["faults"] for o in others), default=0),
            "others_vmpte": max((abs(o["vmpte_delta"]) for o in others), default=0),
        }
    finally:
        for worker in workers:
            worker.close()
        if fd >= 0:
            os.close(fd)
        if parent_maps:
            _unmap(case.size)


def _median(runs: list[dict], key: str) -> int:
    return int(statistics.median(run[key] for run in runs))


def run_case(case: OpCase, guard, repeat: int) -> dict:
    if case.hugetlb:
        guard.reserve_huge_pages(HUGE_2M_BYTES, case.size // HUGE_2M_BYTES + 4)
    if case.folio:         # set for the case, restored by guard.release() (also on a signal)
        from ptcalc.probe.guard import mthp_knob

        guard.set_choice(mthp_knob(case.folio), "always")
    runs = [_run_once(case) for _ in range(repeat)]
    model = model_for(case)
    measured = {key: _median(runs, key) for key in runs[0]}
    tolerance = {"tlb": max(r["noise_tlb"] for r in runs), "call": max(r["noise_call"]
                                                                       for r in runs)}
    checks = [
        ("VmPTE now", model["vmpte_acting_bytes"], measured["vmpte_now"], 0),
        ("VmPTE after refaults", model["vmpte_acting_after_refault_bytes"],
         measured["vmpte_after"], 0),
        ("refaults", model["refaults_acting"], measured["refaults"], FAULT_TOLERANCE),
        ("others' VmPTE change", 0, measured["others_vmpte"], 0),
        ("others' faults", 0, measured["others_faults"], FAULT_TOLERANCE),
    ]
    results = [{"what": what, "model": want, "measured": got, "tolerance": tol,
                "ok": abs(got - want) <= tol} for what, want, got, tol in checks]
    # TLB shootdowns: between the flushes that free tables (which reach an idle CPU of the
    # mm too) and every flush (when the other thread runs at that moment).  x86 sends them
    # through the call-function vector, so each also counts as a function-call interrupt
    # (arch/x86/kernel/smp.c sysvec_call_function(); flush_tlb_func() counts "TLB"): that
    # line is the model's sync IPIs plus the shootdowns.
    low, high = model["tlb_ipis_min"], model["tlb_ipis"]
    for what, base, got, tol in (
            ("function-call IPIs on CPU 1", model["call_ipis"], measured["call_ipis"],
             tolerance["call"]),
            ("TLB shootdowns on CPU 1", 0, measured["tlb_ipis"], tolerance["tlb"])):
        results.append({"what": what, "model": f"{base + low}..{base + high}"
                        if low != high else base + high, "measured": got, "tolerance": tol,
                        "ok": base + low - tol <= got <= base + high + tol})
    return {"case": asdict(case), "runs": runs, "measured": measured, "model": model,
            "tolerance": tolerance, "checks": results,
            "ok": all(check["ok"] for check in results)}


# --------------------------------------------------------------------------- fork


def measure_fork_rate() -> dict:
    """ms of fork() per GiB of copied page tables: the slope between two heap sizes."""
    points = []
    for size in FORK_SIZES:
        worker = Worker(0)
        try:
            worker.call("map", address=ADDRESS, size=size, private=True, anonymous=True)
            worker.call("madvise", address=ADDRESS, length=size, advice=MADV_NOHUGEPAGE)
            touched = worker.call("touch", address=ADDRESS, length=size, write=True)
            seconds = [worker.call("fork")["seconds"] for _ in range(FORK_SAMPLES)]
        finally:
            worker.close()
        points.append({"heap_bytes": size, "table_bytes": touched["vmpte_delta"],
                       "fork_ms": statistics.median(seconds) * 1000,
                       "fork_ms_samples": [s * 1000 for s in seconds]})
    small, big = points
    rate = (big["fork_ms"] - small["fork_ms"]) / ((big["table_bytes"] - small["table_bytes"])
                                                  / GiB)
    return {"ms_per_gib_of_tables": rate, "points": points,
            "ms_per_gib_of_heap": rate * (big["table_bytes"] / big["heap_bytes"])}


# --------------------------------------------------------------------------- entry points


def run(case_filter=None, fork_only: bool = False, repeat: int = 3) -> dict:
    from ptcalc.probe.guard import ProbeInterrupted
    from ptcalc.probe.procfs import platform_problem

    problem = platform_problem()
    if problem or os.cpu_count() < 2:
        return {"cases": [], "skipped": problem or "needs 2 CPUs", "exit_code": 0}
    report = {"cases": [], "skipped": None, "kernel": os.uname().release,
              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "interrupted": None}
    try:
        _run_in_guard(report, case_filter, fork_only, repeat)
    except ProbeInterrupted as exc:    # the guard has restored everything by now
        report["interrupted"] = signal.Signals(exc.signum).name
        report["exit_code"] = 128 + exc.signum
        return report
    bad = [c for c in report["cases"] if c.get("ok") is False]
    report["exit_code"] = 1 if bad else 0
    return report


def _run_in_guard(report: dict, case_filter, fork_only: bool, repeat: int) -> None:
    """The cases (and the fork calibration) inside one SystemGuard: huge page pools and
    shmem mTHP switches restored on the way out, also on SIGINT/SIGTERM."""
    from ptcalc.probe.guard import CaseSkipped, SystemGuard

    with SystemGuard() as guard:
        try:
            _cases_and_fork(report, guard, case_filter, fork_only, repeat, CaseSkipped)
        finally:        # before the guard restores: workers may hold huge pages
            reap_workers()


def _cases_and_fork(report, guard, case_filter, fork_only, repeat, skipped) -> None:
    if not fork_only:
        cases = [c for c in default_cases()
                 if not case_filter or any(text in c.name for text in case_filter)]
        for case in cases:
            try:
                report["cases"].append(run_case(case, guard, max(1, repeat)))
            except (skipped, WorkerError) as exc:
                report["cases"].append({"case": asdict(case), "ok": None,
                                        "skipped": str(exc)})
            finally:
                guard.release()
    if fork_only or not case_filter:
        from ptcalc.compute.forkcost import save_calibration

        fork = measure_fork_rate()
        fork["stored_in"] = str(save_calibration(fork["ms_per_gib_of_tables"],
                                                 fork["points"]))
        report["fork"] = fork


def render(report: dict, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(report, indent=2)
    if report.get("skipped"):
        return f"skipped: {report['skipped']}"
    lines = [(f"operation probe on Linux {report['kernel']} ({report['started']}); median of "
              "the runs; IPI tolerance = the most seen in an idle window of the same run")]
    for result in report["cases"]:
        name = result["case"]["name"]
        if result.get("ok") is None:
            lines.append(f"\n{name}: skipped ({result['skipped']})")
            continue
        lines.append(f"\n{name}: {'ok' if result['ok'] else 'MISMATCH'}")
        for check in result["checks"]:
            mark = "ok" if check["ok"] else "!!"
            lines.append(f"  {mark} {check['what']:<30} model {check['model']!s:>8}  measured "
                         f"{check['measured']:>8}  (+-{check['tolerance']})")
    if report.get("interrupted"):
        lines.append(f"\ninterrupted by {report['interrupted']}: the remaining cases did not "
                     "run; every setting the probe changed was restored")
    fork = report.get("fork")
    if fork:
        lines.append(f"\nfork: {fork['ms_per_gib_of_tables']:,.0f} ms per GiB of copied page "
                     f"tables ({fork['ms_per_gib_of_heap']:.2f} ms per GiB of heap); stored in "
                     f"{fork['stored_in']}")
        for point in fork["points"]:
            lines.append(f"  heap {point['heap_bytes'] // MiB} MiB: tables "
                         f"{point['table_bytes'] // KiB} KiB, fork {point['fork_ms']:.2f} ms "
                         "(median of 5)")
    return "\n".join(lines)


__all__ = ["MAP_ANONYMOUS", "MAP_PRIVATE", "OpCase", "default_cases", "render", "run"]

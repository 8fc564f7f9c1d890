"""Live-kernel measurement: map one region at a fixed virtual address in child processes,
touch a dense range of it one access per 4 KiB page, and measure, per process, the growth of
``VmPTE`` (``/proc/self/status``) and the minor faults (``getrusage``) around the touch loop.

The pieces: ``ptcalc.probe.region`` (where a region sits and how it is mapped: fresh 512 GiB
slots, so VmPTE growth is exactly the region's tables), ``ptcalc.probe.procfs`` (readers of
/proc and /sys), ``ptcalc.probe.children`` (the holder and worker processes).  This module
is the entry point: ``run_region``, ``measure``, ``measure_fault_around_bytes``.

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
mounts are prepared by the caller (``ptcalc.probe.guard``, used by ``ptcalc.probe.run``).
"""

from __future__ import annotations

from ptcalc.paging import HUGE_2M_BYTES, PAGE_BYTES
from ptcalc.probe.children import fork_holder, kill_active_groups, kill_group, map_fixed
from ptcalc.probe.procfs import (
    fault_around_bytes,
    platform_problem,
    read_meminfo_kb,
    read_vmpte_kb,
    region_smaps,
    slot_is_empty,
)
from ptcalc.probe.region import (
    BASE_ADDRESS,
    MAX_SLOTS,
    SLOT_BYTES,
    KernelProbeError,
    ProcMeasure,
    Region,
    RegionRun,
    Touch,
)


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
    msg = fork_holder(region, touches, threads, timeout, hold_seconds, keep_alive)
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


__all__ = ["BASE_ADDRESS", "MAX_SLOTS", "SLOT_BYTES", "KernelProbeError", "ProcMeasure", "Region",
           "RegionRun", "Touch", "fault_around_bytes", "kill_active_groups", "kill_group",
           "map_fixed", "measure", "measure_fault_around_bytes", "platform_problem",
           "read_meminfo_kb", "read_vmpte_kb", "region_smaps", "run_region", "slot_is_empty"]

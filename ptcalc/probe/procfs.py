"""Readers of /proc, /sys and debugfs for the probe (stdlib only, nothing at import time)."""

from __future__ import annotations

import os
import re

from ptcalc.probe.region import BASE_ADDRESS, SLOT_BYTES, KernelProbeError

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
               "AnonHugePages", "Private_Dirty")


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


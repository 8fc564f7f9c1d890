"""Which virtual pages of a live process hold a page-table entry: /proc/PID/pagemap.

A page counts when its PTE (or PMD/PUD leaf) is present (pagemap bit 63) or holds a swap,
migration or marker entry (bit 62): both occupy a slot in a page table.  Two readers:

- the PAGEMAP_SCAN ioctl (Linux >= 6.7, Documentation/admin-guide/mm/pagemap.rst): the
  kernel returns whole ranges with category bits, including PAGE_IS_HUGE (PMD-mapped THP or
  hugetlb); one call covers a process in microseconds;
- plain reads of 8 bytes per page (any kernel), for older kernels.  It cannot tell a
  PMD-mapped THP from 512 PTEs; the caller infers those from smaps (ShmemPmdMapped, ...).

Neither sees VM_PFNMAP mappings (the kernel's page walk skips them).
"""

from __future__ import annotations

import os

from ptcalc.inspect.layout import Mapping, Presence
from ptcalc.paging import PAGE_BYTES, PTE_SPAN

# include/uapi/linux/fs.h
PAGE_IS_PRESENT = 1 << 3
PAGE_IS_SWAPPED = 1 << 4
PAGE_IS_HUGE = 1 << 6
_ENTRY_BYTES = 8
_PM_MAPPED_BITS = (1 << 63) | (1 << 62)     # present | swapped (or other non-none entry)
_SCAN_VEC = 4096                            # regions per ioctl call
_READ_PAGES = 1 << 18                       # pages per read() in the fallback (2 MiB buffer)


def _pagemap_scan_request(arg_bytes: int) -> int:
    """_IOWR('f', 16, struct pm_scan_arg)."""
    return (3 << 30) | (arg_bytes << 16) | (ord("f") << 8) | 16


def scan_ranges(fd: int, start: int, end: int) -> list[Presence]:
    """PAGEMAP_SCAN over [start, end): mapped ranges with their huge bit.

    Raises OSError (ENOTTY/EINVAL on kernels without the ioctl).
    """
    import ctypes

    class ScanArg(ctypes.Structure):
        _fields_ = [(name, ctypes.c_uint64) for name in (
            "size", "flags", "start", "end", "walk_end", "vec", "vec_len", "max_pages",
            "category_inverted", "category_mask", "category_anyof_mask", "return_mask")]

    class Region(ctypes.Structure):
        _fields_ = [("start", ctypes.c_uint64), ("end", ctypes.c_uint64),
                    ("categories", ctypes.c_uint64)]

    libc = ctypes.CDLL(None, use_errno=True)
    request = ctypes.c_ulong(_pagemap_scan_request(ctypes.sizeof(ScanArg)))
    vec = (Region * _SCAN_VEC)()
    out: list[Presence] = []
    while start < end:
        arg = ScanArg(size=ctypes.sizeof(ScanArg), start=start, end=end,
                      vec=ctypes.addressof(vec), vec_len=_SCAN_VEC,
                      category_anyof_mask=PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
                      return_mask=PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_HUGE)
        count = libc.ioctl(fd, request, ctypes.byref(arg))
        if count < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        for region in vec[:count]:
            out.append(Presence(region.start, region.end,
                                bool(region.categories & PAGE_IS_HUGE)))
        if arg.walk_end <= start or arg.walk_end >= end:
            break
        start = arg.walk_end
    return _merge(out)


def read_ranges(fd: int, start: int, end: int) -> list[Presence]:
    """Plain pagemap reads over [start, end): mapped ranges (no huge bit)."""
    import numpy as np

    out: list[Presence] = []
    page = start // PAGE_BYTES
    last = end // PAGE_BYTES
    while page < last:
        count = min(_READ_PAGES, last - page)
        data = os.pread(fd, count * _ENTRY_BYTES, page * _ENTRY_BYTES)
        entries = np.frombuffer(data, dtype=np.uint64)
        mapped = (entries & np.uint64(_PM_MAPPED_BITS)) != 0
        if mapped.any():
            edges = np.flatnonzero(np.diff(np.concatenate(([False], mapped, [False]))
                                           .astype(np.int8)))
            for first, stop in zip(edges[::2], edges[1::2]):
                out.append(Presence((page + int(first)) * PAGE_BYTES,
                                    (page + int(stop)) * PAGE_BYTES))
        if len(entries) < count:
            break
        page += count
    return _merge(out)


def mark_pmd_mapped(presence: list[Presence], mapping: Mapping, count: int) -> list[Presence]:
    """Flag `count` fully mapped, 2 MiB-aligned slots of `mapping` as huge (PMD-mapped).

    For the read() fallback, which cannot see PMD leaves: smaps says how many 2 MiB pages
    of a shmem/file mapping are PMD-mapped (ShmemPmdMapped, FilePmdMapped); such a slot is
    always fully present and aligned, so flagging any `count` such slots counts tables
    exactly (they hold no other mapping's pages).
    """
    out: list[Presence] = []
    for piece in presence:
        if count <= 0 or piece.huge or piece.end <= mapping.start or piece.start >= mapping.end:
            out.append(piece)
            continue
        lo, hi = max(piece.start, mapping.start), min(piece.end, mapping.end)
        slot = -(-lo // PTE_SPAN) * PTE_SPAN
        cursor = piece.start
        while count > 0 and slot + PTE_SPAN <= hi:
            if slot > cursor:
                out.append(Presence(cursor, slot))
            out.append(Presence(slot, slot + PTE_SPAN, True))
            cursor = slot + PTE_SPAN
            slot += PTE_SPAN
            count -= 1
        if cursor < piece.end:
            out.append(Presence(cursor, piece.end))
    return out


def _merge(ranges: list[Presence]) -> list[Presence]:
    """Sort and join touching ranges with the same huge bit."""
    out: list[Presence] = []
    for piece in sorted(ranges, key=lambda p: p.start):
        if out and out[-1].end == piece.start and out[-1].huge == piece.huge:
            out[-1] = Presence(out[-1].start, piece.end, piece.huge)
        else:
            out.append(piece)
    return out

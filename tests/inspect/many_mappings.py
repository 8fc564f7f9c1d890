"""A synthetic snapshot of one process with many mappings (a process of 10,000 VMAs is not
rare: JVMs, browsers, databases that mmap many files), for the inspect benchmark and tests.

    text = snapshot(private=5000, shared=5000)

Laid out like a process that maps many small files: `private` read-only file mappings of
16 KiB (libraries, data files), each its own inode, then `shared` MAP_SHARED mappings of
64 KiB of distinct /dev/shm files, each fully touched, back to back from a 2 MiB-aligned
address.  Every page is present (pagemap lines), VmPTE is what the layout needs, so the
snapshot is consistent.  Each shared file is its own what-if group with one placement:
evaluated as mapped at its own offset, then as it would be placed aligned to 2 MiB (32
consecutive files round up to the same 2 MiB start) and to 1 GiB (all alike): most of the
what-ifs asked are identical.
"""

from __future__ import annotations

KIB = 1024
PRIVATE_BYTES = 16 * KIB
SHARED_BYTES = 64 * KIB
BASE = 0x7F00_0000_0000          # 2 MiB (and 1 GiB) aligned


def _mapping(start: int, size: int, perms: str, inode: int, path: str) -> list[str]:
    kb = size // KIB
    rss_shared = kb if perms[3] == "s" else 0
    return [
        f"{start:x}-{start + size:x} {perms} 00000000 00:2a {inode} {path}",
        f"Size:           {kb:8d} kB",
        "KernelPageSize:        4 kB",
        "MMUPageSize:           4 kB",
        f"Rss:            {kb:8d} kB",
        f"Shared_Clean:   {rss_shared:8d} kB",
        f"Private_Clean:  {kb - rss_shared:8d} kB",
        "Swap:                  0 kB",
        f"VmFlags: rd {'sh mr mw me ms' if perms[3] == 's' else 'mr mw me'}",
    ]


def snapshot(private: int = 5000, shared: int = 5000, pid: int = 4242) -> str:
    """The snapshot text (ptcalc.inspect.layout format, presence=pagemap)."""
    lines, pagemap = [], []
    address = BASE
    for i in range(private):
        lines += _mapping(address, PRIVATE_BYTES, "r--p", 100_000 + i, f"/usr/lib/data/{i}.so")
        pagemap.append(f"# pagemap {address:x}-{address + PRIVATE_BYTES:x}")
        address += PRIVATE_BYTES
    address = -(-address // (2 * 1024 * KIB)) * 2 * 1024 * KIB
    for i in range(shared):
        lines += _mapping(address, SHARED_BYTES, "rw-s", 200_000 + i, f"/dev/shm/segment-{i}")
        pagemap.append(f"# pagemap {address:x}-{address + SHARED_BYTES:x}")
        address += SHARED_BYTES
    # Tables: one PTE table per 2 MiB slot touched, one PMD per 1 GiB, one PUD per 512 GiB
    # (all mappings lie in one 512 GiB and, here, one 1 GiB slot).
    span = address - BASE
    pte_tables = -(-span // (2 * 1024 * KIB))
    pmd_tables = -(-span // (1024 * 1024 * KIB))
    vmpte_kb = (pte_tables + pmd_tables + 1) * 4
    head = ["# ptcalc-snapshot 1 presence=pagemap", "Name:\tmanymaps", f"Pid:\t{pid}",
            f"VmPTE:\t{vmpte_kb:8d} kB"]
    return "\n".join(head + lines + pagemap) + "\n"

"""What a probe measurement is: the region (where it sits, what backs it, how it is mapped),
the touches, and the measured numbers.

Layout.  Regions live in otherwise empty 512 GiB slots above ``BASE_ADDRESS`` (32 TiB):
``address = BASE_ADDRESS + slot * 512 GiB + offset``.  A fresh slot has no PUD, PMD or PTE
table yet, so a process's ``VmPTE`` growth is exactly the tables of the region (one PUD table
for the slot, plus the PMD and PTE tables the touched range needs).  ``MAP_FIXED_NOREPLACE``
places the mapping; the slot is checked to be empty first.
"""

from __future__ import annotations

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

BACKINGS = ("anon", "file", "memfd", "hugetlb-anon", "hugetlb-memfd")
ACCESSES = ("read", "write")
HUGE_FLAGS = {HUGE_2M_BYTES: MAP_HUGE_2MB, HUGE_1G_BYTES: MAP_HUGE_1GB}


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
            if self.huge_page_bytes not in HUGE_FLAGS:
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
            flags |= MAP_HUGETLB | HUGE_FLAGS[self.huge_page_bytes]
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


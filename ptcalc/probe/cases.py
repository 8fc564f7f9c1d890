"""The probe's cases: which strategies the live kernel can realise, with which backings, and
the built-in matrix.  Add a case to ``default_matrix`` (or build one with ``user_cases``).

A ``ProbeCase`` is one measurement: ``procs`` processes (threads for ``threads``) map ``size``
bytes at ``offset`` (start address modulo 512 GiB) and each touches all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ptcalc import catalog
from ptcalc.errors import InputError
from ptcalc.inputs import rules

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

MAX_MEASURED_PROCS = 4              # a scenario's per-process numbers need only a few
# Which strategies can be measured, and with which backings (the first is the default),
# come from the strategy catalogue.
LIVE_STRATEGIES = catalog.MEASURABLE
NOT_IN_LINUX = {s.name: f"{s.name} cannot be measured on Linux: {s.upstream.summary()}"
                for s in catalog.STRATEGIES if not s.probe_backings}
_HUGETLB_PAGE = catalog.HUGETLB_PAGE_BYTES
_DEFAULT_BACKING = {s.name: s.probe_backings[0] for s in catalog.STRATEGIES if s.probe_backings}
_BACKINGS = {s.name: s.probe_backings for s in catalog.STRATEGIES if s.probe_backings}
# shmem mTHP strategies (backing "mthp"): folio bytes from the name, thp-shmem-64k -> 64 KiB.
MTHP_FOLIO_BYTES = {
    s.name: int(s.name.rsplit("-", 1)[1][:-1]) * (MiB if s.name.endswith("m") else KiB)
    for s in catalog.STRATEGIES if "mthp" in s.probe_backings}


@dataclass(frozen=True)
class ProbeCase:
    """One live measurement: ``procs`` processes (threads for ``threads``) map ``size`` bytes
    at ``offset`` (start address modulo 512 GiB) and each touches all of it with ``access``.

    backing: ``anon`` (MAP_SHARED|MAP_ANONYMOUS), ``file`` (tmpfs /dev/shm), ``memfd``,
    ``thp`` (a file on a tmpfs mounted huge=always), ``hugetlb-anon`` (MAP_HUGETLB),
    ``hugetlb-memfd`` (memfd MFD_HUGETLB), ``hugetlbfs`` (a file on a hugetlbfs mount),
    ``mthp`` (MAP_SHARED|MAP_ANONYMOUS with the strategy's folio size switched on in
    hugepages-<size>kB/shmem_enabled for the case).  hugetlb-2m maps MAP_PRIVATE (no PMD
    sharing); the other hugetlb strategies MAP_SHARED.
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
        # The scenario domain rules (ptcalc.inputs.rules), plus whole pages: the probe maps
        # exactly the bytes asked for.
        for rule, value in ((rules.SIZE, self.size), (rules.SIZE_WHOLE_PAGES, self.size),
                            *((rule, self.offset) for rule in rules.OFFSET_RULES),
                            (rules.PROCS, self.procs)):
            rule.check(value)
        if self.access not in ("read", "write"):
            raise InputError(f"access {self.access!r} must be read or write")

    @property
    def name(self) -> str:
        return self.label or (f"{self.strategy}/{self.backing} {fmt_bytes(self.size)}"
                              f"@{fmt_bytes(self.offset)} {self.access}")

    @property
    def folio_bytes(self) -> int:
        """The shmem mTHP folio size the case switches on (0: none)."""
        return MTHP_FOLIO_BYTES.get(self.strategy, 0)

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


def fmt_bytes(n: int) -> str:
    """Bytes as the shortest exact KiB/MiB/GiB text (4MiB, 1GiB, 12KiB)."""
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
    return cases + mthp_matrix()


def mthp_matrix() -> list[ProbeCase]:
    """shmem mTHP: every folio size read (the first reader faults once per folio, a later
    one per folio or per fault-around window), two sizes written, and a folio-aligned start
    that is not 2 MiB-aligned, 4 KiB tails and an unaligned start (4 KiB pages throughout)."""
    C = ProbeCase
    cases = [C(name, 4 * MiB, 0, 2, "read", "mthp", f"mthp {name[10:]} aligned 4MiB read")
             for name in MTHP_FOLIO_BYTES]
    cases += [C(name, 4 * MiB, 0, 2, "write", "mthp", f"mthp {name[10:]} aligned 4MiB write")
              for name in ("thp-shmem-16k", "thp-shmem-1m")]
    cases += [
        C("thp-shmem-16k", 4 * MiB, 4 * KiB, 2, "read", "mthp", "mthp 16k +4KiB read"),
        C("thp-shmem-64k", 4 * MiB + 12 * KiB, 64 * KiB, 2, "write", "mthp",
          "mthp 64k @64KiB + 12KiB tail write"),
        C("thp-shmem-256k", MiB + 12 * KiB, 256 * KiB, 3, "read", "mthp",
          "mthp 256k @256KiB + 12KiB tail read"),
        C("thp-shmem-1m", 6 * MiB, 1 * MiB, 2, "read", "mthp", "mthp 1m @1MiB read"),
    ]
    return [c for c in cases if c.strategy in LIVE_STRATEGIES]


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


"""Shared mappings across inspected processes, grouped by backing object, and their what-if.

A shared mapping is a MAP_SHARED VMA ('s' in maps): SysV shm, POSIX shm (/dev/shm), memfd,
hugetlbfs, shared anonymous memory (/dev/zero), MAP_SHARED files.  Its identity is the
device and inode maps prints; all inputs are taken to come from one host.

What-if per group: ptcalc.inspect.whatif (placements, touched fraction, alignment).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from ptcalc.inspect.layout import Mapping
from ptcalc.inspect.tables import Piece, TableCount, count_tables, distinct_slots, page_count
from ptcalc.paging import PAGE_BYTES, PMD_SPAN, PTE_SPAN, PUD_SPAN, TABLE_BYTES


def kind_of(mapping: Mapping) -> str:
    """What sort of shared memory a mapping is, from its path and page size."""
    path = mapping.path
    if path.startswith("/SYSV"):
        kind = "sysv-shm"
    elif path.startswith("/dev/shm/"):
        kind = "posix-shm"
    elif path.startswith("/memfd:"):
        kind = "memfd"
    elif path.startswith(("/dev/zero", "/anon_hugepage", "[anon_shmem")) or path == "":
        kind = "shared-anon"
    else:
        kind = "file"
    return f"hugetlb {kind}" if mapping.hugetlb else kind


@dataclass
class SharedUse:
    """One process's mapping of a shared object (adjacent split VMAs joined)."""

    pid: int | None
    label: str
    identity: str
    path: str
    kind: str
    start: int
    end: int
    file_offset: int
    page_bytes: int
    pieces: list[Piece] = field(default_factory=list)
    _tables: tuple | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def size_bytes(self) -> int:
        return self.end - self.start

    @property
    def mapped_bytes(self) -> int:
        return page_count(self.pieces) * PAGE_BYTES

    @property
    def touched(self) -> Fraction:
        return Fraction(self.mapped_bytes, self.size_bytes)

    @property
    def slots_touched(self) -> int:
        """2 MiB slots holding at least one mapped page of this mapping."""
        return distinct_slots([(p.start, p.end) for p in self.pieces], PTE_SPAN)

    @property
    def tables(self) -> TableCount:
        """Tables this mapping alone needs (as if no neighbour shared them); counted once
        the pieces are complete (reports ask for it many times)."""
        key = (len(self.pieces), self.start, self.end)
        if self._tables is None or self._tables[0] != key:
            self._tables = (key, count_tables(self.pieces))
        return self._tables[1]

    def to_dict(self) -> dict:
        tables = self.tables
        return {"identity": self.identity, "path": self.path, "kind": self.kind,
                "start": f"{self.start:x}", "end": f"{self.end:x}",
                "size_bytes": self.size_bytes, "file_offset": self.file_offset,
                "offset_bytes": self.start % PUD_SPAN, "page_bytes": self.page_bytes,
                "mapped_bytes": self.mapped_bytes, "touched": round(float(self.touched), 6),
                "pt_bytes": tables.bytes, "pte_tables": tables.pte, "pmd_tables": tables.pmd,
                "pud_tables": tables.pud}


def shared_uses(pid, label, mappings: list[Mapping], pieces: list[Piece]) -> list[SharedUse]:
    """The shared mappings of one process, with the mapped pages of each."""
    by_mapping: dict[int, list[Piece]] = {}
    for piece in pieces:
        by_mapping.setdefault(id(piece.mapping), []).append(piece)
    uses: list[SharedUse] = []
    for mapping in mappings:
        if not mapping.shared:
            continue
        mine = by_mapping.get(id(mapping), [])
        last = uses[-1] if uses else None
        if last is not None and last.identity == mapping.identity and \
                last.end == mapping.start and \
                last.file_offset + last.size_bytes == mapping.offset:
            last.end = mapping.end
            last.pieces.extend(mine)
            continue
        uses.append(SharedUse(pid, label, mapping.identity, mapping.path, kind_of(mapping),
                              mapping.start, mapping.end, mapping.offset, mapping.page_bytes,
                              list(mine)))
    return uses


def physical_pt_bytes(uses: list[SharedUse]) -> int:
    """What the machine spends now on the tables of these mappings (PageTables view).

    Equal to the charged sum except for hugetlb 2 MiB MAP_SHARED mappings, whose PMD table of
    a 1 GiB slot that lies wholly inside the mapping is shared by every process mapping the
    same file range there (want_pmd_share / page_table_shareable in mm/hugetlb.c): counted
    once per (file range, slot).
    """
    if len(uses) == 1 and uses[0].page_bytes != PTE_SPAN:
        return uses[0].tables.bytes
    total = 0
    seen: set[tuple] = set()
    for use in uses:
        total += use.tables.bytes
        if use.page_bytes != PTE_SPAN:
            continue
        slots = set()
        for piece in use.pieces:
            slot = piece.start // PMD_SPAN * PMD_SPAN
            while slot < piece.end:
                if use.start <= slot and slot + PMD_SPAN <= use.end:
                    slots.add((use.identity, use.file_offset + slot - use.start))
                slot += PMD_SPAN
        total -= len(slots & seen) * TABLE_BYTES
        seen |= slots
    return total


def placements(uses: list[SharedUse]) -> list:
    """Uses with the same size and offset (start mod 512 GiB), most processes first.

    Only processes with at least one mapped page count: one that maps the object but never
    touched it has no page table for it under any strategy.
    """
    from ptcalc.inspect.whatif import Placement, slot_equivalent

    if len(uses) == 1:                 # one process maps it (most objects of a process)
        (use,) = uses
        if not use.pieces:
            return []
        size, mapped = use.size_bytes, use.mapped_bytes
        touched = Fraction(mapped, size)
        # slot_equivalent(start, size, slots), a fraction of the same size: the larger of
        # the two fractions is that of the larger byte count
        prefix = min((PTE_SPAN - use.start % PTE_SPAN) + (use.slots_touched - 1) * PTE_SPAN,
                     size)
        slots = touched if prefix <= mapped else Fraction(prefix, size)
        return [Placement(size, use.start % PUD_SPAN, 1, touched, slots, [use.pid])]
    groups: dict[tuple, list[SharedUse]] = {}
    for use in uses:
        if use.pieces:
            groups.setdefault((use.size_bytes, use.start % PUD_SPAN), []).append(use)
    out = []
    for (size, offset), members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        touched = sum(u.touched for u in members) / len(members)
        slots = sum(slot_equivalent(u.start, u.size_bytes, u.slots_touched)
                    for u in members) / len(members)      # Fractions: exact
        out.append(Placement(size, offset, len(members), touched, max(slots, touched),
                             [u.pid for u in members]))
    return out


@dataclass
class SharedGroup:
    identity: str
    path: str
    kind: str
    uses: list[SharedUse]
    placements: list = field(default_factory=list)     # inspect_whatif.Placement
    _rows: list | None = field(default=None, init=False, repr=False, compare=False)
    _build: object = field(default=None, init=False, repr=False, compare=False)
    _physical: tuple | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def what_if(self) -> list[dict]:
        """Per strategy, what it would cost (empty without a what-if); rows deferred by
        defer_what_if are built on first use."""
        if self._rows is None:
            build, self._build = self._build, None
            self._rows = build() if build is not None else []
        return self._rows

    @what_if.setter
    def what_if(self, rows: list[dict]) -> None:
        self._rows, self._build = rows, None

    def defer_what_if(self, build) -> None:
        """`build()` gives the what-if rows when they are first read (a process with
        thousands of shared objects shows a few in a table)."""
        self._rows, self._build = None, build

    @property
    def has_what_if(self) -> bool:
        """bool(self.what_if), without building deferred rows."""
        return bool(self._rows) if self._rows is not None else self._build is not None

    @property
    def procs(self) -> int:
        if len(self.uses) == 1:
            return 1
        return len({u.label for u in self.uses})

    @property
    def size_bytes(self) -> int:
        if len(self.uses) == 1:
            return self.uses[0].size_bytes
        return Counter(u.size_bytes for u in self.uses).most_common(1)[0][0]

    @property
    def current_pt_bytes(self) -> int:
        return sum(u.tables.bytes for u in self.uses)

    @property
    def current_physical_pt_bytes(self) -> int:
        key = (len(self.uses), sum(len(u.pieces) for u in self.uses)) \
            if len(self.uses) != 1 else (1, len(self.uses[0].pieces))
        if self._physical is None or self._physical[0] != key:
            self._physical = (key, physical_pt_bytes(self.uses))
        return self._physical[1]

    def evaluate(self, strategies=None, pattern: str = "layout", evaluations=None) -> None:
        """Fill `what_if` from ptcalc.compare (empty when no process has a page mapped).
        `evaluations` (ptcalc.inspect.whatif.Evaluations) shares identical what-ifs between
        groups."""
        from ptcalc.inspect.whatif import evaluate_placement, finish_rows, sum_rows

        row_sets = [evaluate_placement(p, strategies, pattern, evaluations)
                    for p in self.placements]
        self.what_if = finish_rows(sum_rows(row_sets), self.current_physical_pt_bytes)

    def to_dict(self) -> dict:
        mapped = sum(u.mapped_bytes for u in self.uses)
        virtual = sum(u.size_bytes for u in self.uses)
        return {"identity": self.identity, "path": self.path, "kind": self.kind,
                "size_bytes": self.size_bytes, "procs": self.procs,
                "procs_touching": len({u.label for u in self.uses if u.pieces}),
                "pids": sorted({u.pid for u in self.uses if u.pid is not None}),
                "touched": round(mapped / virtual, 6) if virtual else 0.0,
                "current_pt_bytes": self.current_pt_bytes,
                "current_physical_pt_bytes": self.current_physical_pt_bytes,
                "placements": [p.to_dict() for p in self.placements],
                "what_if": self.what_if}


def group_uses(uses: list[SharedUse], min_procs: int = 1) -> list[SharedGroup]:
    """Group shared uses by identity; largest first."""
    groups: dict[str, SharedGroup] = {}
    for use in uses:
        group = groups.get(use.identity)
        if group is None:
            groups[use.identity] = group = SharedGroup(use.identity, use.path, use.kind, [])
        group.uses.append(use)
    out = [g for g in groups.values() if g.procs >= min_procs]
    for group in out:
        group.placements = placements(group.uses)
    return sorted(out, key=lambda g: (-g.size_bytes * g.procs, g.identity))


def total_rows(groups: list[SharedGroup]) -> list[dict]:
    """One row per strategy summed over all groups (page tables of shared mappings only)."""
    from ptcalc.inspect.whatif import finish_rows, sum_rows

    sets = [g.what_if for g in groups if g.what_if]
    current = sum(g.current_physical_pt_bytes for g in groups if g.what_if)
    return finish_rows(sum_rows(sets), current) if sets else []

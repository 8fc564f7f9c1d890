"""Shared mappings across inspected processes, grouped by backing object, and their what-if.

A shared mapping is a MAP_SHARED VMA ('s' in maps): SysV shm, POSIX shm (/dev/shm), memfd,
hugetlbfs, shared anonymous memory (/dev/zero), MAP_SHARED files.  Its identity is the
device and inode maps prints; all inputs are taken to come from one host.

Placement.  The model of `ptcalc.compare` is one region at one address (offset = start
address mod 512 GiB) mapped by `procs` processes.  Processes that map an object with the
same size at the same offset form one placement; each placement is evaluated with its own
process count and mean touched fraction and the rows are summed per strategy.  This is
exact for the strategies that share nothing, and for those that share between equally
placed processes (ptshare, PMD sharing); for threads and mshare, which would share across
placements too, it overstates by one table set per extra placement.  Fork-based servers
(PostgreSQL, Redis) and fixed-address attaches (an Oracle SGA) have a single placement.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from ptcalc.inspect_layout import Mapping
from ptcalc.inspect_tables import Piece, TableCount, count_tables, page_count
from ptcalc.paging import PAGE_BYTES, PMD_SPAN, PUD_SPAN, TABLE_BYTES

# Rows of compare() are summed over placements for these columns (the rest are per-row
# facts taken from the first placement, or recomputed).
_SUMMED = ("pt_bytes_per_process", "pt_bytes_total", "pte_table_bytes", "pmd_table_bytes",
           "pud_table_bytes", "p4d_table_bytes", "huge_pages", "faults_first", "faults_next",
           "faults_total", "touched_bytes", "mapped_4k_bytes", "mapped_2m_bytes",
           "mapped_1g_bytes")


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

    @property
    def size_bytes(self) -> int:
        return self.end - self.start

    @property
    def mapped_bytes(self) -> int:
        return page_count(self.pieces) * PAGE_BYTES

    @property
    def touched(self) -> float:
        return self.mapped_bytes / self.size_bytes

    @property
    def tables(self) -> TableCount:
        """Tables this mapping alone needs (as if no neighbour shared them)."""
        return count_tables(self.pieces)

    def to_dict(self) -> dict:
        tables = self.tables
        return {"identity": self.identity, "path": self.path, "kind": self.kind,
                "start": f"{self.start:x}", "end": f"{self.end:x}",
                "size_bytes": self.size_bytes, "file_offset": self.file_offset,
                "offset_bytes": self.start % PUD_SPAN, "page_bytes": self.page_bytes,
                "mapped_bytes": self.mapped_bytes, "touched": round(self.touched, 6),
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
    total = 0
    shared_slots: set[tuple] = set()
    for use in uses:
        tables = use.tables
        total += tables.bytes
        if use.page_bytes != 2 * 1024 * 1024:
            continue
        for piece in use.pieces:
            slot = piece.start // PMD_SPAN * PMD_SPAN
            while slot < piece.end:
                if use.start <= slot and slot + PMD_SPAN <= use.end:
                    key = (use.identity, use.file_offset + slot - use.start)
                    if key in shared_slots:
                        total -= TABLE_BYTES
                    shared_slots.add(key)
                slot += PMD_SPAN
    return total


def _placements(uses: list[SharedUse]) -> list[dict]:
    groups: dict[tuple, list[SharedUse]] = {}
    for use in uses:
        groups.setdefault((use.size_bytes, use.start % PUD_SPAN), []).append(use)
    out = []
    for (size, offset), members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        touched = sum(u.touched for u in members) / len(members)
        out.append({"size_bytes": size, "offset_bytes": offset, "procs": len(members),
                    "touched": min(max(touched, PAGE_BYTES / size), 1.0),
                    "pids": [u.pid for u in members]})
    return out


def _plain(value):
    """numpy/pandas scalars -> JSON-friendly Python values (NaN -> None)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 2**63:
            return int(value)
    return value


def compare_rows(size_bytes: int, procs: int, offset_bytes: int, touched: float,
                 strategies=None, pattern: str = "dense") -> list[dict]:
    """Every strategy for one placement: the one call into the core model."""
    from ptcalc.api import compare

    frame = compare(size=size_bytes, procs=procs, offset=offset_bytes, touched=touched,
                    access="write", strategies=strategies, pattern=pattern)
    return [{key: _plain(value) for key, value in row.items()}
            for row in frame.to_dict("records")]


def sum_rows(row_sets: list[list[dict]]) -> list[dict]:
    """Add per-strategy rows of several evaluations (same strategy order)."""
    if not row_sets:
        return []
    out = [dict(row) for row in row_sets[0]]
    for rows in row_sets[1:]:
        for total, row in zip(out, rows):
            total["applicable"] = bool(total.get("applicable")) and bool(row.get("applicable"))
            if row.get("reason") and row.get("reason") != total.get("reason"):
                total["reason"] = "; ".join(r for r in (total.get("reason"), row["reason"]) if r)
            for key in _SUMMED:
                if key in total:
                    a, b = total[key], row.get(key)
                    total[key] = None if a is None or b is None else a + b
    return out


def finish_rows(rows: list[dict], current_bytes: int) -> list[dict]:
    """Recompute ratios of summed rows and add the saving against what the mappings cost now."""
    base = next((r["pt_bytes_total"] for r in rows if r.get("strategy") == "private-4k"), None)
    for row in rows:
        total = row.get("pt_bytes_total")
        if base and total is not None and "savings_vs_private_4k" in row:
            row["savings_vs_private_4k"] = round(1 - total / base, 6)
        row["savings_vs_current_bytes"] = None if total is None else current_bytes - total
    return rows


@dataclass
class SharedGroup:
    identity: str
    path: str
    kind: str
    uses: list[SharedUse]
    what_if: list[dict] = field(default_factory=list)
    placements: list[dict] = field(default_factory=list)

    @property
    def procs(self) -> int:
        return len({u.label for u in self.uses})

    @property
    def size_bytes(self) -> int:
        return Counter(u.size_bytes for u in self.uses).most_common(1)[0][0]

    @property
    def current_pt_bytes(self) -> int:
        return sum(u.tables.bytes for u in self.uses)

    @property
    def current_physical_pt_bytes(self) -> int:
        return physical_pt_bytes(self.uses)

    def evaluate(self, strategies=None, pattern: str = "dense") -> None:
        self.placements = _placements(self.uses)
        row_sets = [compare_rows(p["size_bytes"], p["procs"], p["offset_bytes"], p["touched"],
                                 strategies, pattern) for p in self.placements]
        self.what_if = finish_rows(sum_rows(row_sets), self.current_physical_pt_bytes)

    def to_dict(self) -> dict:
        mapped = sum(u.mapped_bytes for u in self.uses)
        virtual = sum(u.size_bytes for u in self.uses)
        return {"identity": self.identity, "path": self.path, "kind": self.kind,
                "size_bytes": self.size_bytes, "procs": self.procs,
                "pids": sorted({u.pid for u in self.uses if u.pid is not None}),
                "touched": round(mapped / virtual, 6) if virtual else 0.0,
                "current_pt_bytes": self.current_pt_bytes,
                "current_physical_pt_bytes": self.current_physical_pt_bytes,
                "placements": [{k: v for k, v in p.items()} for p in self.placements],
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
    return sorted(out, key=lambda g: (-g.size_bytes * g.procs, g.identity))


def total_rows(groups: list[SharedGroup]) -> list[dict]:
    """One row per strategy summed over all groups (page tables of shared mappings only)."""
    sets = [g.what_if for g in groups if g.what_if]
    if not sets:
        return []
    rows = sum_rows(sets)
    current = sum(g.current_physical_pt_bytes for g in groups if g.what_if)
    for row in rows:
        row["current_pt_bytes"] = current
    return finish_rows(rows, current)

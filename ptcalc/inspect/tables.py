"""Predict a process's page-table bytes (what VmPTE shows) from the pages it has mapped.

Rule (x86-64; VmPTE is mm->pgtables_bytes, bumped by mm_inc_nr_ptes/pmds/puds, never for the
PGD page, nor for P4D tables under 5-level paging):

- a PTE table exists for every 2 MiB slot holding a page mapped by a PTE, a PMD table for
  every 1 GiB slot holding any page mapped below the PUD, a PUD table for every 512 GiB slot
  holding any mapped page.  Neighbouring mappings share tables, so slots are counted over
  the union of all mapped pages of the process, not per mapping;
- a hugetlb 2 MiB page is a PMD leaf: no PTE table.  A hugetlb 1 GiB page is a PUD leaf: no
  PMD table.  A shared hugetlb PMD table (PMD sharing) is charged to every sharer
  (huge_pmd_share: mm_inc_nr_pmds), so it counts here like a private one;
- a PMD-mapped THP in shmem or a file needs no PTE table (do_set_pmd); a PMD-mapped THP in
  private anonymous memory, including the huge zero page, keeps a deposited PTE table that
  is charged (pgtable_trans_huge_deposit + mm_inc_nr_ptes in mm/huge_memory.c), so its slot
  counts as a PTE table.  Measured on 6.18: 64 MiB of anon THP costs 32 PTE tables.

Geometry comes from ptcalc.paging only.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from ptcalc.inspect.layout import (
    PRESENCE_MAPS,
    PRESENCE_PAGEMAP,
    PRESENCE_RSS,
    Mapping,
    Presence,
    ProcessLayout,
)
from ptcalc.paging import (
    PAGE_BYTES,
    PMD_SPAN,
    PTE_SPAN,
    PUD_SPAN,
    TABLE_BYTES,
    ceil_div,
)

_SPANS = {"pte": PTE_SPAN, "pmd": PMD_SPAN, "pud": PUD_SPAN}


@dataclass(frozen=True)
class TableCount:
    """Page-table pages per level (a PTE, PMD or PUD table is TABLE_BYTES each)."""

    pte: int = 0
    pmd: int = 0
    pud: int = 0

    @property
    def bytes(self) -> int:
        return (self.pte + self.pmd + self.pud) * TABLE_BYTES


@dataclass(frozen=True)
class Piece:
    """Mapped pages [start, end) of one mapping, all mapped at the same level."""

    start: int
    end: int
    huge: bool
    mapping: Mapping

    def levels(self) -> tuple[str, ...]:
        """The table levels these pages need (see the module docstring)."""
        page = self.mapping.page_bytes
        if page >= PMD_SPAN:
            return ("pud",)
        if page >= PTE_SPAN:
            return ("pmd", "pud")
        if self.huge:
            return ("pte", "pmd", "pud") if self.mapping.anonymous_private else ("pmd", "pud")
        return ("pte", "pmd", "pud")


def distinct_slots(ranges, span: int) -> int:
    """Aligned `span`-sized slots touched by the union of (start, end) ranges (ints)."""
    if len(ranges) == 1:
        ((start, end),) = ranges
        return max(-(-end // span) - start // span, 0)
    total, cur_lo, cur_hi = 0, None, None
    for lo, hi in sorted((s // span, -(-e // span)) for s, e in ranges):
        if cur_hi is not None and lo <= cur_hi:
            cur_hi = max(cur_hi, hi)
            continue
        if cur_hi is not None and cur_hi > cur_lo:
            total += cur_hi - cur_lo
        cur_lo, cur_hi = lo, hi
    if cur_hi is not None and cur_hi > cur_lo:
        total += cur_hi - cur_lo
    return total


def count_tables(pieces: list[Piece]) -> TableCount:
    """Distinct tables per level over the union of the pieces."""
    if len(pieces) == 1:                 # a mapping of one range (most shared mappings)
        (piece,) = pieces
        levels, start, end = piece.levels(), piece.start, piece.end
        count = object.__new__(TableCount)      # TableCount(...) without the frozen __init__
        count.__dict__.update(
            pte=max(-(-end // PTE_SPAN) - start // PTE_SPAN, 0) if "pte" in levels else 0,
            pmd=max(-(-end // PMD_SPAN) - start // PMD_SPAN, 0) if "pmd" in levels else 0,
            pud=max(-(-end // PUD_SPAN) - start // PUD_SPAN, 0) if "pud" in levels else 0)
        return count
    by_level: dict[str, list] = {"pte": [], "pmd": [], "pud": []}
    for piece in pieces:
        extent = (piece.start, piece.end)
        for level in piece.levels():
            by_level[level].append(extent)
    return TableCount(**{level: distinct_slots(by_level[level], span)
                         for level, span in _SPANS.items()})


def _piece(start: int, end: int, huge: bool, mapping: Mapping) -> Piece:
    """Piece(start, end, huge, mapping) without the frozen dataclass's __init__ (a setattr
    per field: thousands of pieces per process)."""
    piece = object.__new__(Piece)
    piece.__dict__.update(start=start, end=end, huge=huge, mapping=mapping)
    return piece


def split_by_mapping(mappings: list[Mapping], presence: list[Presence]) -> list[Piece]:
    """Cut presence ranges at mapping boundaries; pages outside every mapping are dropped."""
    starts = [m.start for m in mappings]
    count = len(mappings)
    pieces: list[Piece] = []
    for rng in presence:
        start, end = rng.start, rng.end
        index = max(bisect.bisect_right(starts, start) - 1, 0)
        while index < count and starts[index] < end:
            mapping = mappings[index]
            lo, hi = max(start, mapping.start), min(end, mapping.end)
            if lo < hi:
                pieces.append(_piece(lo, hi, rng.huge, mapping))
            index += 1
    return pieces


def estimate_presence(mapping: Mapping, source: str) -> list[Presence]:
    """Mapped pages of one mapping when pagemap is not available.

    maps only: every page (an upper bound).  smaps: Rss + Swap (hugetlb: Shared_Hugetlb +
    Private_Hugetlb) as a dense prefix of the mapping, PMD-mapped THP bytes (AnonHugePages,
    ShmemPmdMapped, FilePmdMapped) placed in the next aligned 2 MiB slots.  Rss leaves out
    zero-page mappings, and real pages are rarely a prefix: this is an estimate.
    """
    if source == PRESENCE_MAPS:
        return [Presence(mapping.start, mapping.end)]
    fields = mapping.fields
    page = mapping.page_bytes
    if mapping.hugetlb:
        used = fields.get("Shared_Hugetlb", 0) + fields.get("Private_Hugetlb", 0)
        huge_bytes = 0
    else:
        used = fields.get("Rss", 0) + fields.get("Swap", 0)
        huge_bytes = (fields.get("AnonHugePages", 0) + fields.get("ShmemPmdMapped", 0)
                      + fields.get("FilePmdMapped", 0))
    used = min(ceil_div(used, page) * page, mapping.size_bytes)
    if used <= 0:
        return []
    small_end = mapping.start + max(used - huge_bytes, 0)
    huge_start = ceil_div(small_end, PTE_SPAN) * PTE_SPAN
    if huge_bytes <= 0 or huge_start + huge_bytes > mapping.end:
        return [Presence(mapping.start, mapping.start + used)]
    out = [Presence(huge_start, huge_start + huge_bytes, True)]
    if small_end > mapping.start:
        out.insert(0, Presence(mapping.start, small_end))
    return out


@dataclass
class Prediction:
    """Predicted tables of one process and what is uncertain about them."""

    tables: TableCount
    pieces: list[Piece]
    pfnmap_bytes: int           # tables VM_PFNMAP mappings would add if fully mapped
    pfnmap_count: int
    upper_bytes: int | None = None   # Rss estimate only: every used mapping fully mapped


def predict(layout: ProcessLayout) -> Prediction:
    """Page tables the mapped pages of `layout` need, per level."""
    if layout.presence_source == PRESENCE_PAGEMAP:
        mapped = layout.presence or []
    else:
        mapped = [r for m in layout.mappings if not m.pfnmap
                  for r in estimate_presence(m, layout.presence_source)]
    pieces = [p for p in split_by_mapping(layout.mappings, mapped) if not p.mapping.pfnmap]
    tables = count_tables(pieces)
    pfn = [m for m in layout.mappings if m.pfnmap]
    extra = 0
    if pfn:
        whole = [Piece(m.start, m.end, False, m) for m in pfn]
        extra = count_tables(pieces + whole).bytes - tables.bytes
    upper = None
    if layout.presence_source == PRESENCE_RSS:
        used = {id(p.mapping) for p in pieces}
        spread = [Piece(m.start, m.end, False, m) for m in layout.mappings if id(m) in used]
        upper = count_tables(spread).bytes
    return Prediction(tables, pieces, extra, len(pfn), upper)


def explain_gap(layout: ProcessLayout, prediction: Prediction) -> list[str]:
    """Notes on why the prediction differs from VmPTE (empty when it matches)."""
    notes: list[str] = []
    if layout.presence_source == PRESENCE_RSS:
        notes.append(f"pages estimated from Rss as dense prefixes (no pagemap); "
                     f"{prediction.upper_bytes // 1024} KiB if they are spread out")
    elif layout.presence_source == PRESENCE_MAPS:
        notes.append("maps only: every page assumed mapped (upper bound)")
    if layout.vmpte_bytes is None:
        return notes
    gap = layout.vmpte_bytes - prediction.tables.bytes
    if gap > 0:
        tables = gap // TABLE_BYTES
        text = (f"{tables} table(s) ({gap // 1024} KiB) hold no mapped page: tables kept for "
                "ranges whose pages were zapped or reclaimed (MADV_DONTNEED, MADV_PAGEOUT, "
                "page-cache eviction, swapoff)")
        if prediction.pfnmap_bytes:
            text += (f"; up to {prediction.pfnmap_bytes // 1024} KiB may belong to "
                     f"{prediction.pfnmap_count} VM_PFNMAP mapping(s), invisible to pagemap")
        if layout.presence_source == PRESENCE_PAGEMAP:
            notes.append(text)
        else:
            notes.append(f"VmPTE is {tables} table(s) above the estimate")
    elif gap < 0:
        notes.append(f"predicted {-gap // TABLE_BYTES} table(s) more than VmPTE"
                     + ("" if layout.presence_source != PRESENCE_PAGEMAP else
                        ": the process changed its mappings while being read"))
    return notes


def page_count(pieces: list[Piece]) -> int:
    """Mapped base pages (4 KiB) in the pieces."""
    return sum((p.end - p.start) // PAGE_BYTES for p in pieces)

"""Per-map rules of the host evaluation: which tables one process needs for one region it
maps, which of them are shared (and with whom), and how many faults it takes given what the
processes before it left behind.  Exact integer interval arithmetic on dense prefixes.

Every touched set of a shared region is a prefix of the region (in file terms), so the state a
process finds is a handful of prefix lengths: `cached` (pages in the page cache or hugetlbfs
file), per sharing class the prefix already present in the shared tables, per host mm the
prefix it holds.  The rules extend the single-region formulas of ptcalc.model.strategies (a
one-region, one-group layout gives the same numbers):

* a shared table is keyed by region, level, class and file slot: hugetlb PMD sharing
  (page_table_shareable() in mm/hugetlb.c) needs pmd_index(addr) == pmd_index(saddr), i.e.
  (address - file offset) congruent mod 1 GiB, and the whole 1 GiB slot inside both VMAs
  (want_pmd_share(), range_in_vma()); file-pt keys its PTE tables the same way mod 2 MiB;
* shmem THP PMD-maps a 2 MiB folio where (vm_start - file offset) is 2 MiB-aligned and the
  aligned 2 MiB lies in the VMA (thp_vma_suitable_order() in include/linux/huge_mm.h);
* private (MAP_PRIVATE anonymous) memory is each process's own, 4 KiB pages under every
  strategy (the strategies are remedies for shared memory); a read fault maps the zero page,
  one fault per page, no fault-around (do_anonymous_page() in mm/memory.c).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ptcalc import paging as g
from ptcalc.paging import ceil_div, tables_spanned

SPAN = {"pte": g.PTE_SPAN, "pmd": g.PMD_SPAN, "pud": g.PUD_SPAN, "p4d": g.P4D_SPAN}
LINKS_CHARGED = ("hugetlb-2m-pmdshare", "file-pt")      # a linked shared table is charged
HOST_MM = ("ptshare", "mshare")


def align_up(x: int, span: int) -> int:
    return ceil_div(x, span) * span


def align_down(x: int, span: int) -> int:
    return x // span * span


def slot_range(lo: int, hi: int, span: int) -> tuple[int, int] | None:
    """Slot indices [first, last) that the byte range [lo, hi) touches, None if empty."""
    if hi <= lo:
        return None
    return lo // span, ceil_div(hi, span)


def merged_count(ranges) -> int:
    """Number of integers in the union of [lo, hi) ranges."""
    total, end = 0, None
    for lo, hi in sorted(r for r in ranges if r is not None):
        if end is None or lo > end:
            total += hi - lo
            end = hi
        elif hi > end:
            total += hi - end
            end = hi
    return total


def read_faults(lo: int, hi: int, vma_start: int, fault_around: int) -> int:
    """Read faults on the unmapped but cached 4 KiB pages [lo, hi), touched in order.

    do_fault_around() (mm/memory.c) maps the window ALIGN_DOWN(pte_off, nr_pages) clamped up
    to the VMA start, nr_pages long, cut at the PTE table: the first fault's window ends at
    e1, every later fault opens an aligned window."""
    if hi <= lo:
        return 0
    first = max(align_down(lo, fault_around), vma_start)
    e1 = min(first + fault_around, align_down(lo, g.PTE_SPAN) + g.PTE_SPAN)
    return 1 + tables_spanned(e1, hi - e1, fault_around)


def small_faults(lo: int, hi: int, cached_end: int, read: bool, vma_start: int,
                 fault_around: int) -> int:
    """Faults on the 4 KiB pages [lo, hi) of a shared object, pages below cached_end in the
    page cache: a writer one per page; a reader one per fault-around window over the cached
    part, one per page over the rest (__do_fault reads it; fault-around maps cached pages
    only)."""
    if hi <= lo:
        return 0
    if not read:
        return (hi - lo) // g.PAGE_BYTES
    split = min(max(cached_end, lo), hi)
    return read_faults(lo, split, vma_start, fault_around) + (hi - split) // g.PAGE_BYTES


@dataclass
class ProcessTables:
    """What one process of a group holds, for one strategy."""

    private: dict = field(default_factory=dict)     # level -> [VA slot ranges]
    shared: dict = field(default_factory=dict)      # (level, region, class) -> [file slots]
    charged_links: dict = field(default_factory=dict)  # level -> linked shared tables
    host: dict = field(default_factory=dict)        # region -> (base, touched end offset)
    copied: dict = field(default_factory=dict)      # level -> [VA slot ranges] copied at fork
    mapped: dict = field(default_factory=lambda: {"4k": 0, "2m": 0, "1g": 0})
    leaf: int = g.PAGE_BYTES
    mshare_base: dict = field(default_factory=dict)  # region -> 512 GiB-aligned guest VA

    def add_private(self, level, lo, hi):
        self.private.setdefault(level, []).append(slot_range(lo, hi, SPAN[level]))

    def add_shared(self, level, key, lo_index, hi_index, charged=None):
        """Link the shared tables [lo_index, hi_index) of `key`; `charged` of them (default
        all) count in this process's VmPTE."""
        if hi_index > lo_index:
            self.shared.setdefault((level, *key), []).append((lo_index, hi_index))
            count = hi_index - lo_index if charged is None else charged
            self.charged_links[level] = self.charged_links.get(level, 0) + count

    def private_count(self, level) -> int:
        return merged_count(self.private.get(level, []))


@dataclass
class MapView:
    """One region as one process maps it."""

    name: str
    start: int           # VA of the region's first byte in this process
    size: int
    file_offset: int
    touched: int         # dense prefix bytes
    read: bool
    kind: str


def shared_slots(view: MapView, lo: int, hi: int, span: int):
    """(class, first, last) file-slot indices of the span-aligned slots fully inside the VMA
    [view.start, vma_end) that the touched range [lo, hi) touches."""
    klass = (view.start - view.file_offset) % span
    base = view.start - view.file_offset - klass        # a multiple of span
    rng = slot_range(lo, hi, span)
    if rng is None:
        return klass, 0, 0
    return klass, rng[0] - base // span, rng[1] - base // span


def slot_start_offset(view: MapView, klass: int, index: int, span: int) -> int:
    """Region-relative offset of the first byte of file slot `index` (may be negative)."""
    base = view.start - view.file_offset - klass
    return base + index * span - view.start


def existing_tables(view: MapView, lo: int, hi: int, span: int, present: int) -> int:
    """Of the full slots the touched range [lo, hi) covers, how many shared tables already
    exist: an earlier sharer of the class touched the region up to `present`, so slot i
    exists iff its first byte lies below it."""
    klass, first, last = shared_slots(view, lo, hi, span)
    if last <= first or present <= 0:
        return 0
    below = ceil_div(present + view.file_offset + klass, span)   # slots starting < present
    return max(0, min(last, below) - first)


@dataclass
class HostState:
    """What the processes so far left behind (region-relative prefix lengths)."""

    cached: dict = field(default_factory=dict)      # region -> bytes in the page cache
    present: dict = field(default_factory=dict)     # (level, region, class) -> prefix
    host: dict = field(default_factory=dict)        # region -> prefix held by its host mm

    def record(self, key, table: dict, value: int):
        table[key] = max(table.get(key, 0), value)


def _upper(levels, *names):
    return [level for level in levels if level not in names]


def shared_map(strategy: str, v: MapView, pt: ProcessTables, state: HostState, levels,
               fault_around: int, updates: list) -> int:
    """Tables and faults of one process mapping shared region `v`; returns the faults and
    appends the state it leaves to `updates` (applied once the process is done)."""
    a, T, name = v.start, v.touched, v.name
    end = a + T
    cached = a + state.cached.get(name, 0)
    updates.append((state.cached, name, T))

    def small(lo, hi):
        return small_faults(lo, hi, cached, v.read, a, fault_around)

    if strategy in ("private-4k", "threads"):
        for level in levels:
            pt.add_private(level, a, end)
        pt.mapped["4k"] += T
        return small(a, end)
    if strategy == "thp-shmem":
        h0, h1 = align_up(a, g.PTE_SPAN), align_down(a + v.size, g.PTE_SPAN)
        if (a - v.file_offset) % g.PTE_SPAN or h1 <= h0:
            h0 = h1 = a
        huge = tables_spanned(h0, min(h1, end) - h0, g.PTE_SPAN)
        if h0 < end <= h1:               # the last folio touched is in the file whole
            updates.append((state.cached, name, align_up(end, g.PTE_SPAN) - a))
        head, tail = (a, min(h0, end)), (h1, end)
        for level in _upper(levels, "pte"):
            pt.add_private(level, a, end)
        for lo, hi in (head, tail):
            pt.add_private("pte", lo, hi)
            pt.mapped["4k"] += max(0, hi - lo)
        pt.mapped["2m"] += g.PTE_SPAN * huge
        if h1 > h0:
            pt.leaf = max(pt.leaf, g.HUGE_2M_BYTES)
        return huge + small(*head) + small(*tail)
    if strategy in ("hugetlb-2m", "hugetlb-1g"):
        page = g.HUGE_1G_BYTES if strategy == "hugetlb-1g" else g.HUGE_2M_BYTES
        for level in _upper(levels, "pte", "pmd") if page == g.HUGE_1G_BYTES else \
                _upper(levels, "pte"):
            pt.add_private(level, a, end)
        huge = tables_spanned(a, T, page)
        pt.mapped["1g" if page == g.HUGE_1G_BYTES else "2m"] += page * huge
        pt.leaf = max(pt.leaf, page)
        return huge
    if strategy == "hugetlb-2m-pmdshare":
        vma_end = a + align_up(v.size, g.PTE_SPAN)
        first, last = align_up(a, g.PMD_SPAN), align_down(vma_end, g.PMD_SPAN)
        share_end = min(last, end) if last > first else first
        private = [(a, end)] if last <= first else [(a, min(first, end)), (last, end)]
        for level in _upper(levels, "pte", "pmd"):
            pt.add_private(level, a, end)
        for lo, hi in private:
            pt.add_private("pmd", lo, hi)
        klass, i0, i1 = shared_slots(v, first, share_end, g.PMD_SPAN)
        pt.add_shared("pmd", (name, klass), i0, i1)
        present = state.present.get(("pmd", name, klass), 0)
        updates.append((state.present, ("pmd", name, klass), T))
        linked = existing_tables(v, first, share_end, g.PMD_SPAN, present)
        fresh = max(first, align_up(a + present, g.PTE_SPAN))
        huge_private = sum(tables_spanned(lo, hi - lo, g.PTE_SPAN) for lo, hi in private)
        huge_shared = tables_spanned(first, share_end - first, g.PTE_SPAN)
        pt.mapped["2m"] += g.PTE_SPAN * (huge_private + huge_shared)
        pt.leaf = max(pt.leaf, g.HUGE_2M_BYTES)
        return huge_private + linked + tables_spanned(fresh, share_end - fresh, g.PTE_SPAN)
    if strategy in HOST_MM:
        held = state.host.get(name, 0)
        updates.append((state.host, name, T))
        pt.host[name] = (0 if strategy == "mshare" else a, T)
        pt.mapped["4k"] += T
        if strategy == "ptshare":
            for level in _upper(levels, "pte"):
                pt.add_private(level, a, end)
            links = tables_spanned(a, T, g.PTE_SPAN)
        else:
            base = pt.mshare_base.get(name, 0)
            if "p4d" in levels:          # not in VmPTE: no P4D counter
                pt.add_private("p4d", base, base + T)
            links = tables_spanned(base, T, g.PUD_SPAN)
        return links + max(0, T - held) // g.PAGE_BYTES
    if strategy == "file-pt":
        return _file_pt(v, pt, state, levels, updates, small)
    raise KeyError(strategy)


def _file_pt(v: MapView, pt: ProcessTables, state: HostState, levels, updates, small) -> int:
    a, T, name = v.start, v.touched, v.name
    end = a + T
    f1, l1 = align_up(a, g.PMD_SPAN), align_down(a + v.size, g.PMD_SPAN)
    f2, l2 = align_up(a, g.PTE_SPAN), align_down(a + v.size, g.PTE_SPAN)
    has1, has2 = l1 > f1, l2 > f2
    for level in _upper(levels, "pte", "pmd"):
        pt.add_private(level, a, end)
    pt.mapped["4k"] += T
    faults = 0
    # PMD tables: shared over full 1 GiB slots, private elsewhere.
    s1 = min(l1, end) if has1 else f1
    for lo, hi in ([(a, min(f1, end)), (l1, end)] if has1 else [(a, end)]):
        pt.add_private("pmd", lo, hi)
    k1, i0, i1 = shared_slots(v, f1, s1, g.PMD_SPAN) if has1 else (0, 0, 0)
    pt.add_shared("pmd", (name, k1), i0, i1)
    present1 = state.present.get(("pmd", name, k1), 0)
    if has1:
        updates.append((state.present, ("pmd", name, k1), T))
        faults += existing_tables(v, f1, s1, g.PMD_SPAN, present1)
        faults += small(max(f1, a + present1), s1)
    # PTE tables: shared over full 2 MiB slots (those under a shared PMD table are reached
    # through it: not linked, not charged), private in the partial slots at the ends.
    s2 = min(l2, end) if has2 else f2
    k2, j0, j1 = shared_slots(v, f2, s2, g.PTE_SPAN) if has2 else (0, 0, 0)
    under = tables_spanned(f1, s1 - f1, g.PTE_SPAN) if has1 else 0
    pt.add_shared("pte", (name, k2), j0, j1, charged=max(0, j1 - j0) - under)
    present2 = state.present.get(("pte", name, k2), 0)
    if has2:
        updates.append((state.present, ("pte", name, k2), T))
        pieces = [(f2, f1), (l1, l2)] if has1 else [(f2, l2)]
        for lo, hi in pieces:
            hi = min(hi, end)
            if hi > lo:
                faults += existing_tables(v, lo, hi, g.PTE_SPAN, present2)
                faults += small(max(lo, a + present2), hi)
    for lo, hi in ([(a, min(f2, end)), (l2, end)] if has2 else [(a, end)]):
        pt.add_private("pte", lo, hi)
        faults += small(lo, hi)
    return faults


def private_map(v: MapView, pt: ProcessTables, levels, copied_touched: int | None) -> tuple:
    """Private anonymous memory: the process's own 4 KiB pages.  `copied_touched` is the
    prefix the parent wrote before fork() (its tables are then copied into this process),
    None without fork.  Returns (faults, cow_faults, bytes written)."""
    a, T = v.start, v.touched
    for level in levels:
        pt.add_private(level, a, a + T)
    pt.mapped["4k"] += T
    pages = T // g.PAGE_BYTES
    if not copied_touched:
        return pages, 0, 0 if v.read else T
    inherited = min(T, copied_touched) // g.PAGE_BYTES
    if v.read:
        return pages - inherited, 0, 0      # the copied PTEs map the parent's pages
    return pages, inherited, T              # one copy-on-write fault per inherited page

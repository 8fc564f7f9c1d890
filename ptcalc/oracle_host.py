"""Brute-force oracle for host layouts, independent of the formulas and of ptcalc.compute.

It plays the kernel's rules literally, page by page: processes run in the order of their
groups, each touching its pages in ascending address order, region after region; every
access faults until its leaf is present (a private fault maps one page or a fault-around
window of cached pages, a hugetlb or THP fault one huge page, a shared-table fault links the
table); fork copies the parent's written private memory and its tables; at the end each
process's page-table tree is built from what it maps and links, and the tables are counted
(privately per process, shared ones once).  Only ptcalc.paging constants and the layout
input type are used.  Meant for small layouts (tests).
"""

from __future__ import annotations

import random as _random

from ptcalc import paging as g

ALL_LEVELS = ("pte", "pmd", "pud", "p4d")
VMPTE = ("pte", "pmd", "pud")
SPAN = {"pte": g.PTE_SPAN, "pmd": g.PMD_SPAN, "pud": g.PUD_SPAN, "p4d": g.P4D_SPAN}
LEAF_LEVEL = {g.PAGE_BYTES: "pte", g.HUGE_2M_BYTES: "pmd", g.HUGE_1G_BYTES: "pud"}
HUGE = {"hugetlb-2m": g.HUGE_2M_BYTES, "hugetlb-2m-pmdshare": g.HUGE_2M_BYTES,
        "hugetlb-1g": g.HUGE_1G_BYTES}


class _Mm:
    def __init__(self):
        self.mapped = {}          # (tag, leaf_size, va) -> (region, file offset)
        self.linked = set()       # shared keys linked, with the VA of their slot
        self.faults = 0
        self.cow = 0


class _Host:
    """Everything that outlives one process: page cache, shared tables, host mms."""

    def __init__(self):
        self.cache = set()        # (region, file offset of a 4 KiB page / huge page)
        self.shared = {}          # key -> set of leaves (size, file offset) present
        self.host_pages = {}      # region -> file offsets held by its host mm


def _pages(m, region, rng):
    """Region-relative offsets of the touched 4 KiB pages, ascending."""
    count = region.size_bytes // g.PAGE_BYTES
    if m.pattern == "dense":
        return [i * g.PAGE_BYTES for i in range(m.touched_bytes // g.PAGE_BYTES)]
    f = float(m.touched)
    return [i * g.PAGE_BYTES for i in range(count) if rng.random() < f]


def _leaf(strategy, region, start, va):
    """Leaf size mapping `va` of `region` mapped at `start`."""
    if region.kind == "private":
        return g.PAGE_BYTES
    if strategy in HUGE:
        return HUGE[strategy]
    if strategy == "thp-shmem":
        chunk = va - va % g.HUGE_2M_BYTES
        end = start + region.size_bytes
        if (start - region.file_offset_bytes) % g.HUGE_2M_BYTES == 0 and start <= chunk \
                and chunk + g.HUGE_2M_BYTES <= end:
            return g.HUGE_2M_BYTES
    return g.PAGE_BYTES


def _full_slot(start, end, va, span):
    slot = va - va % span
    return slot if start <= slot and slot + span <= end else None


def _shared_key(strategy, region, start, va):
    """(level, key, slot VA) of the shared table holding va's leaf, or None (private)."""
    if region.kind == "private":
        return None
    fo = region.file_offset_bytes
    if strategy == "hugetlb-2m-pmdshare":
        end = start + -(-region.size_bytes // g.HUGE_2M_BYTES) * g.HUGE_2M_BYTES
        slot = _full_slot(start, end, va, g.PMD_SPAN)
        if slot is not None:       # page_table_shareable(): same pmd_index for the same file
            return "pmd", ("pmd", region.name, slot - start + fo, (start - fo) % g.PMD_SPAN), slot
    if strategy == "file-pt":
        end = start + region.size_bytes
        for level in ("pmd", "pte"):
            span = SPAN[level]
            slot = _full_slot(start, end, va, span)
            if slot is not None:
                return level, (level, region.name, slot - start + fo, (start - fo) % span), slot
    if strategy == "ptshare":
        return "pte", ("host", region.name), None
    if strategy == "mshare":
        return "pud", ("host", region.name), None
    return None


def _fault_around(mm, tag, region, start, va, host, into=None):
    """do_fault_around(): map the cached pages of the window around `va` (mm/memory.c)."""
    nr = host.fault_around // g.PAGE_BYTES
    pte_off = (va % g.PTE_SPAN) // g.PAGE_BYTES
    vma_off = (va - start) // g.PAGE_BYTES
    vma_pages = region.size_bytes // g.PAGE_BYTES
    lo = max(pte_off // nr * nr, pte_off - min(pte_off, vma_off))
    hi = min(lo + nr, g.ENTRIES_PER_TABLE, pte_off + vma_pages - vma_off)
    base = va - pte_off * g.PAGE_BYTES
    for index in range(lo, hi):
        other = base + index * g.PAGE_BYTES
        offset = other - start + region.file_offset_bytes
        if (region.name, offset) in host.cache:
            if into is None:
                mm.mapped[(tag, g.PAGE_BYTES, other)] = (region.name, offset)
            else:
                into.add((g.PAGE_BYTES, offset))


def _touch(strategy, mm, tag, region, start, rel, read, host, inherited):
    """One access at region offset `rel`; faults until the leaf is present."""
    va = start + rel
    size = _leaf(strategy, region, start, va)
    leaf_va = va - va % size
    fo = region.file_offset_bytes
    leaf_file = leaf_va - start + fo
    shared = _shared_key(strategy, region, start, va)
    private_key = (tag, size, leaf_va)
    if shared is None:
        if private_key in mm.mapped:
            if not read and private_key in inherited:      # copy-on-write
                inherited.discard(private_key)
                mm.faults += 1
                mm.cow += 1
            return
        mm.faults += 1
        if region.kind == "private":            # anonymous: one page (zero page on read)
            mm.mapped[private_key] = (region.name, leaf_file)
            return
        if size == g.PAGE_BYTES and read:
            _fault_around(mm, tag, region, start, va, host)
        mm.mapped[private_key] = (region.name, leaf_file)
        _cache(host, region, leaf_file, size)
        return
    level, key, slot = shared
    if key[0] == "host":
        link = (key, _link_slot(strategy, mm, region, start, va), level)
    else:
        link = (key, slot, level)
    if key[0] == "host":
        pages = host.host_pages.setdefault(region.name, set())
        if rel not in pages:                    # the host maps the region from its start
            mm.faults += 1                      # the host mm's fault populates it
            pages.add(rel)
            host.cache.add((region.name, leaf_file))
        if link not in mm.linked:
            mm.faults += 1                      # the retried access links the guest entry
            mm.linked.add(link)
        return
    table = host.shared.get(key)
    if link not in mm.linked:
        if table is not None:
            mm.faults += 1                      # links the existing table inside a fault
            mm.linked.add(link)
        else:
            host.shared[key] = table = set()    # allocated as shareable, linked by this fault
            mm.linked.add(link)
    if (size, leaf_file) in table:
        return
    mm.faults += 1
    if size == g.PAGE_BYTES and read:
        _fault_around(mm, tag, region, start, va, host, into=table)
    table.add((size, leaf_file))
    _cache(host, region, leaf_file, size)


def _cache(host, region, offset, size):
    """The page (a huge folio: all its 4 KiB pages) is now in the file."""
    for index in range(size // g.PAGE_BYTES if size == g.HUGE_2M_BYTES else 1):
        host.cache.add((region.name, offset + index * g.PAGE_BYTES))


def _link_slot(strategy, mm, region, start, va):
    if strategy == "ptshare":
        return va - va % g.PTE_SPAN
    base = mm.mshare_base[region.name]
    return base + (va - start) - (base + va - start) % g.PUD_SPAN


def _mshare_bases(views):
    bases, taken = {}, -1
    for name, start, size in sorted(views, key=lambda v: v[1]):
        base = max(start - start % g.PUD_SPAN, taken)
        bases[name] = base
        taken = base + -(-size // g.PUD_SPAN) * g.PUD_SPAN
    return bases


def simulate_layout(layout, strategy: str, seed: int = 0) -> dict:
    """Run the layout under `strategy`; host totals and per group rows (dense or random)."""
    levels = ALL_LEVELS[: 3 if layout.paging == 4 else 4]
    host = _Host()
    host.fault_around = layout.fault_around_bytes
    rng = _random.Random(seed)
    regions = {r.name: r for r in layout.regions}
    parents, procs_of, groups = {}, {}, []
    for grp in layout.groups:
        one_mm = strategy == "threads" and not grp.forked_from
        fixed = {m.region: _pages(m, regions[m.region], rng) for m in grp.maps}
        mms, faults = [], []
        for index in range(grp.procs):
            if one_mm and mms:
                mm = mms[0]
            else:
                mm = _Mm()
                mm.mshare_base = _mshare_bases([(m.region, m.address_bytes,
                                                 regions[m.region].size_bytes)
                                                for m in grp.maps])
                mms.append(mm)
            tag = index if one_mm else 0
            inherited = set()
            if grp.forked_from and not (one_mm and index):
                parent, parent_grp = parents[grp.forked_from]
                written = {m.region for m in parent_grp.maps if m.access == "write"}
                for key, value in parent.mapped.items():
                    if regions[value[0]].kind == "private" and value[0] in written:
                        mm.mapped[key] = value
                        inherited.add(key)
                mm.copied = set(inherited)
            before = mm.faults
            for m in grp.maps:
                region = regions[m.region]
                pages = fixed[m.region] if m.pages == "same" else _pages(m, region, rng)
                private_tag = tag if region.kind == "private" else 0
                for rel in pages:
                    _touch(strategy, mm, private_tag, region, m.address_bytes, rel,
                           m.access == "read", host, inherited)
            faults.append(mm.faults - before)
        parents[grp.name] = (mms[0], grp)
        procs_of[grp.name] = mms
        groups.append((grp, mms, faults))
    return _count(layout, strategy, levels, host, groups)


def _chain(levels, size, va, below_level=None):
    first = levels.index(LEAF_LEVEL[size]) if below_level is None else \
        levels.index(below_level) + 1
    return [(level, va // SPAN[level]) for level in levels[first:]]


def _own_tables(levels, mm):
    """(tag, level, table id) of the tables this mm allocated itself: those on the chain of
    every leaf it maps, and those above every shared table it links."""
    own = set()
    for (tag, size, va) in mm.mapped:
        own.update((tag, level, tid) for level, tid in _chain(levels, size, va))
    for _key, slot, level in mm.linked:
        own.update((0, lvl, tid) for lvl, tid in _chain(levels, 0, slot, below_level=level))
    return own


def _count(layout, strategy, levels, host, groups) -> dict:
    physical = dict.fromkeys(levels, 0)
    rows = []
    shared_tables = set()
    for grp, mms, faults in groups:
        charged = None
        for mm in mms:
            own = _own_tables(levels, mm)
            for _tag, level, _tid in own:
                physical[level] += 1
            if charged is None:
                charged = sum(1 for _t, level, _i in own if level in VMPTE)
                if strategy in ("hugetlb-2m-pmdshare", "file-pt"):
                    charged += sum(1 for _k, _s, level in mm.linked if level in VMPTE)
                copied = {(lv, tid) for (_t, size, va) in getattr(mm, "copied", ())
                          for lv, tid in _chain(levels, size, va) if lv in VMPTE}
        for mm in mms:
            for key, _slot, level in mm.linked:
                if key[0] == "host":
                    continue
                shared_tables.add(key)
                if strategy == "file-pt" and level == "pmd":
                    # The PTE tables under a shared PMD table are the file's shared PTE
                    # tables of that 2 MiB alignment: (region, file offset of the slot, class).
                    klass = key[3] % g.PTE_SPAN
                    for _size, offset in host.shared[key]:
                        shared_tables.add(("pte", key[1],
                                           offset - (offset + klass) % g.PTE_SPAN, klass))
        procs = grp.procs
        first = faults[0]
        later = faults[1] if len(faults) > 1 else None
        rows.append({"group": grp.name, "procs": procs, "faults_first": first,
                     "faults_next": later, "faults_total": sum(faults),
                     "pt_bytes_per_process": charged * g.TABLE_BYTES + grp.baseline_pt_bytes,
                     "pt_bytes_at_fork": len(copied) * g.TABLE_BYTES,
                     "cow_faults_per_process": mms[-1].cow})
    for key in shared_tables:
        physical[key[0]] += 1
    for region, pages in host.host_pages.items():
        base = 0 if strategy == "mshare" else _host_base(layout, region)
        tables = {(lv, (base + off) // SPAN[lv]) for off in pages for lv in levels}
        for level, _ in tables:
            physical[level] += 1
    baseline = sum((1 if strategy == "threads" and not grp.forked_from else grp.procs)
                   * grp.baseline_pt_bytes
                   for grp, _, _ in groups)
    result = {f"{level}_table_bytes": physical[level] * g.TABLE_BYTES for level in levels}
    result["pt_bytes_total"] = sum(result.values()) + baseline
    result["groups"] = rows
    return result


def _host_base(layout, region):
    for grp in layout.groups:
        for m in grp.maps:
            if m.region == region:
                return m.address_bytes
    return 0


def two_process_faults(size: int, first, second, fault_around: int, second_reads=True):
    """Faults of two processes on one shared 4 KiB region (file offset 0, at a 512 GiB
    boundary): the first writes the region offsets `first`, then the second touches
    `second`, page by page as in simulate_layout."""
    from types import SimpleNamespace

    region = SimpleNamespace(name="r", size_bytes=size, kind="shared", file_offset_bytes=0)
    host = _Host()
    host.fault_around = fault_around
    counts = []
    for offsets, read in ((first, False), (second, second_reads)):
        mm = _Mm()
        for rel in offsets:
            _touch("private-4k", mm, 0, region, 0, rel, read, host, set())
        counts.append(mm.faults)
    return tuple(counts)

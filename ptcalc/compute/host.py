"""Whole-host numbers for a layout, per strategy: the host's physical page tables (what
`PageTables` shows, baselines included), and per group the VmPTE of one process, the faults
of its first and of each later process, and what fork() copies.

Groups run in the order written: a group's first process finds the page cache and shared
tables the groups before it left, its later processes also find what the first one left.
One process's tables are the union over its regions per span (ptcalc.compute.host_rules).
Fork (mm/memory.c copy_page_range(), vma_needs_copy()): a private region the parent wrote
has an anon_vma, so its tables are copied into the child inside fork() and charged to the
child's VmPTE; the child then reads those pages without a fault and takes one copy-on-write
fault (and one new page) per page it writes.  A shared region has no anon_vma: nothing is
copied and the child is one more later process.

Dense touched prefixes are evaluated exactly here; the random pattern (expected values) is
evaluated by the compiled single-region formulas and so needs a one-map layout.
"""

from __future__ import annotations

from ptcalc import paging as g
from ptcalc.compute import formulas
from ptcalc.compute.host_rules import (
    LINKS_CHARGED,
    SPAN,
    HostState,
    MapView,
    ProcessTables,
    align_down,
    merged_count,
    private_map,
    shared_map,
    slot_range,
)
from ptcalc.errors import InputError
from ptcalc.inputs.layout import Layout
from ptcalc.model.strategies import BASELINE, STRATEGY_NAMES

VMPTE_LEVELS = ("pte", "pmd", "pud")
HUGE_PAGE = {"hugetlb-2m": g.HUGE_2M_BYTES, "hugetlb-2m-pmdshare": g.HUGE_2M_BYTES,
             "hugetlb-1g": g.HUGE_1G_BYTES}
HOST_EXTRA = ("baseline_pt_bytes", "data_bytes", "memory_bytes", "ram_bytes", "fits_ram")
GROUP_KEYS = ("strategy", "group", "procs", "forked_from", "applicable", "reason",
              "pt_bytes_per_process", "pt_bytes_group", "pt_bytes_at_fork", "faults_first",
              "faults_next", "faults_total", "cow_faults_per_process",
              "written_bytes_per_process", "touched_bytes", "mapped_4k_bytes",
              "mapped_2m_bytes", "mapped_1g_bytes")


def evaluate_layout(layout: Layout, strategies=STRATEGY_NAMES) -> dict:
    """{"host": one row per strategy, "groups": one row per strategy and group}."""
    if any(m.pattern == "random" for grp in layout.groups for m in grp.maps):
        return _random_single(layout, strategies)
    names = metric_names(layout.paging)
    runs = {s: _run(layout, s) for s in dict.fromkeys((*strategies, BASELINE))}
    base_total = runs[BASELINE][0]["pt_bytes_total"]
    host, groups = [], []
    for strategy in strategies:
        row, group_rows = runs[strategy]
        if row["applicable"] and strategy not in COMPARE_ONLY:   # those keep compare's
            total = row["pt_bytes_total"]
            row["savings_vs_private_4k"] = 0 if strategy == BASELINE else 1 - total / base_total
        host.append({k: row.get(k) for k in ("strategy", "applicable", "reason", *names,
                                             *HOST_EXTRA)})
        groups.extend(group_rows)
    return {"host": host, "groups": groups}


def metric_names(levels: int) -> tuple[str, ...]:
    return formulas.metric_names(levels)


def _levels(layout: Layout) -> tuple[str, ...]:
    return g.paging_for(layout.paging).level_names


#: Strategies whose rules exist for one region only (ptcalc compare), not yet in layouts.
COMPARE_ONLY = tuple(s for s in STRATEGY_NAMES
                     if s.startswith("thp-shmem-") or s == "ptshare-2026")


def _reasons(layout: Layout, strategy: str) -> list[str]:
    """Why `strategy` cannot map the layout's shared regions (compiled conditions per map)."""
    function, texts = formulas.conditions_function(strategy, layout.paging)
    shared = [r.name for r in layout.regions if r.kind == "shared"]
    found = []
    for grp in layout.groups:
        for m in grp.maps:
            region = layout.region(m.region)
            if region.kind != "shared":
                continue
            args = (m.address_bytes % g.TOP_ENTRY_SPAN, region.size_bytes, m.touched_bytes,
                    float(m.touched), grp.procs, layout.fault_around_bytes,
                    1 if m.access == "read" else 0)
            hits = [t for t, hit in zip(texts, function(*args)) if hit]
            page = HUGE_PAGE.get(strategy)
            if page and region.file_offset_bytes % page:
                hits.append(f"file_offset is not {'1 GiB' if page == g.HUGE_1G_BYTES else '2 MiB'}"
                            "-aligned: a hugetlbfs file is mapped in whole huge pages")
            prefix = f"region {region.name}: " if len(shared) > 1 else ""
            found.extend(prefix + t for t in hits if prefix + t not in found)
    return found


def _views(layout: Layout, grp) -> list[MapView]:
    views = []
    for m in grp.maps:
        region = layout.region(m.region)
        views.append(MapView(region.name, m.address_bytes, region.size_bytes,
                             region.file_offset_bytes, m.touched_bytes, m.access == "read",
                             region.kind))
    return views


def _mshare_bases(views) -> dict:
    """Each mshare region sits on its own 512 GiB boundary (mshare_align = P4D_SIZE)."""
    bases, taken = {}, -1
    for v in sorted(views, key=lambda v: v.start):
        base = max(align_down(v.start, g.TOP_ENTRY_SPAN), taken)
        bases[v.name] = base
        taken = base + -(-v.size // g.TOP_ENTRY_SPAN) * g.TOP_ENTRY_SPAN
    return bases


def _process(layout, strategy, grp, state, levels):
    """One process of group `grp`: its tables, faults and what it leaves behind."""
    pt = ProcessTables()
    views = _views(layout, grp)
    pt.mshare_base = _mshare_bases(views)
    updates: list = []
    faults = cow = written = 0
    copied = {}
    if grp.forked_from:
        parent = layout.group(grp.forked_from)
        for pv, pm in zip(_views(layout, parent), parent.maps):
            if pv.kind == "private" and pm.access == "write":     # anon_vma: copied
                copied[pv.name] = pv.touched
                for level in levels:
                    rng = slot_range(pv.start, pv.start + pv.touched, SPAN[level])
                    pt.private.setdefault(level, []).append(rng)
                    pt.copied.setdefault(level, []).append(rng)
    for v in views:
        if v.kind == "shared":
            faults += shared_map(strategy, v, pt, state, levels, layout.fault_around_bytes,
                                 updates)
        else:
            f, c, w = private_map(v, pt, levels, copied.get(v.name))
            faults, cow, written = faults + f, cow + c, written + w
    return pt, faults, cow, written, updates


def _apply(updates):
    for table, key, value in updates:
        table[key] = max(table.get(key, 0), value)


def _charged(pt: ProcessTables, strategy: str) -> int:
    tables = sum(pt.private_count(level) for level in VMPTE_LEVELS)
    if strategy in LINKS_CHARGED:
        tables += sum(pt.charged_links.get(level, 0) for level in VMPTE_LEVELS)
    return tables * g.TABLE_BYTES


def _private_only(layout, grp, levels) -> dict:
    """Tables of one thread's private maps alone (threads: each thread has its own)."""
    pt = ProcessTables()
    for v in _views(layout, grp):
        if v.kind == "private":
            private_map(v, pt, levels, None)
    return {level: pt.private_count(level) for level in levels}


def _one_region_scenario(layout: Layout, pattern: str = "dense"):
    """The Scenario of a layout that is one shared region mapped by one group (no fork,
    baseline, file offset or independent pages), else None."""
    from ptcalc.inputs.scenario import Scenario

    maps = [(grp, m) for grp in layout.groups for m in grp.maps]
    if len(maps) != 1:
        return None
    grp, m = maps[0]
    region = layout.region(m.region)
    if (grp.forked_from or grp.baseline_pt_bytes or region.kind != "shared"
            or region.file_offset_bytes or m.pages == "independent"):
        return None
    return Scenario(region.size_bytes, grp.procs, m.address_bytes % g.TOP_ENTRY_SPAN,
                    m.touched, m.touched_bytes, m.access, pattern, layout.paging,
                    layout.fault_around_bytes, region.size_bytes)


def _compare_only(layout: Layout, strategy: str):
    """A strategy with one-region formulas only: the compare row for a one-region layout."""
    from ptcalc.compute.scalar import scenario_rows

    scenario = _one_region_scenario(layout)
    if scenario is None:
        return _not_applicable(layout, strategy, f"{strategy} is modelled for one shared "
                               "region mapped by one group (ptcalc compare), not yet for "
                               "layouts with several maps, fork, baselines or file offsets")
    (row,) = scenario_rows(scenario, (strategy,))
    row = {**row, **dict.fromkeys(HOST_EXTRA)}
    if row["applicable"]:
        # data: the touched pages, or the folios mapping them where those are larger
        data = max(row["touched_bytes"], sum(row[f"mapped_{k}_bytes"] or 0
                                             for k in ("4k", "2m", "1g")))
        memory = data + row["pt_bytes_total"]
        row.update(baseline_pt_bytes=0, data_bytes=data, memory_bytes=memory,
                   ram_bytes=layout.ram_bytes, fits_ram=None if layout.ram_bytes is None
                   else memory <= layout.ram_bytes)
    grp = layout.groups[0]
    group = {**dict.fromkeys(GROUP_KEYS), **{k: row.get(k) for k in GROUP_KEYS if k in row},
             "group": grp.name, "procs": grp.procs}
    return row, [group]


def _run(layout: Layout, strategy: str):
    if strategy in COMPARE_ONLY:
        return _compare_only(layout, strategy)
    levels = _levels(layout)
    reasons = _reasons(layout, strategy)
    if reasons:
        return _not_applicable(layout, strategy, "; ".join(reasons))
    state = HostState()
    physical = dict.fromkeys(levels, 0)
    shared_ranges: dict = {}
    host_mm: dict = {}
    baseline = data_private = 0
    group_rows = []
    for grp in layout.groups:
        one_mm = strategy == "threads" and not grp.forked_from   # fork makes processes
        pt, first, cow, written, updates = _process(layout, strategy, grp, state, levels)
        _apply(updates)
        _pt2, later, _c, _w, updates = _process(layout, strategy, grp, state, levels)
        _apply(updates)
        extra = _private_only(layout, grp, levels) if one_mm else {}
        if one_mm:       # later threads fault only on their own private memory
            later = sum(v.touched for v in _views(layout, grp) if v.kind == "private") \
                // g.PAGE_BYTES
        count = dict.fromkeys(levels, 0)
        for level in levels:
            own = pt.private_count(level)
            count[level] = own + (grp.procs - 1) * extra[level] if one_mm else grp.procs * own
            physical[level] += count[level]
        for key, ranges in pt.shared.items():
            shared_ranges.setdefault(key, []).extend(ranges)
        for name, (base, touched) in pt.host.items():
            old = host_mm.get(name, (base, 0))
            host_mm[name] = (old[0], max(old[1], touched))
        mms = 1 if one_mm else grp.procs
        baseline += mms * grp.baseline_pt_bytes
        data_private += grp.procs * written
        charged = _charged(pt, strategy)
        if one_mm:
            charged += (grp.procs - 1) * sum(extra[lv] for lv in VMPTE_LEVELS) * g.TABLE_BYTES
        views = _views(layout, grp)
        group_rows.append({
            "strategy": strategy, "group": grp.name, "procs": grp.procs,
            "forked_from": grp.forked_from, "applicable": True, "reason": None,
            "pt_bytes_per_process": charged + grp.baseline_pt_bytes,
            "pt_bytes_group": sum(count.values()) * g.TABLE_BYTES
            + mms * grp.baseline_pt_bytes,
            "pt_bytes_at_fork": sum(merged_count(pt.copied.get(lv, []))
                                    for lv in VMPTE_LEVELS) * g.TABLE_BYTES,
            "faults_first": first, "faults_next": later,
            "faults_total": first + (grp.procs - 1) * later,
            "cow_faults_per_process": cow, "written_bytes_per_process": written,
            "touched_bytes": sum(v.touched for v in views),
            **{f"mapped_{k}_bytes": pt.mapped[k] for k in ("4k", "2m", "1g")},
            "_leaf": pt.leaf,
        })
    for (level, *_key), ranges in shared_ranges.items():
        physical[level] += merged_count(ranges)
    for base, touched in host_mm.values():
        for level in levels:
            physical[level] += merged_count([slot_range(base, base + touched, SPAN[level])])
    level_bytes = {f"{level}_table_bytes": physical[level] * g.TABLE_BYTES for level in levels}
    page = HUGE_PAGE.get(strategy)
    mapped_shared = [r for r in layout.regions if r.kind == "shared"
                     and any(m.region == r.name for grp in layout.groups for m in grp.maps)]
    huge_pages = sum(-(-r.size_bytes // page) for r in mapped_shared) if page else None
    first_group = group_rows[0]
    total = sum(level_bytes.values()) + baseline
    data = _shared_data(layout, strategy, state, mapped_shared, page) + data_private
    row = {"strategy": strategy, "applicable": True, "reason": None,
           "leaf_page_bytes": max(r.pop("_leaf") for r in group_rows),
           "pt_bytes_per_process": first_group["pt_bytes_per_process"],
           "pt_bytes_total": total, **level_bytes, "huge_pages": huge_pages,
           "faults_first": first_group["faults_first"],
           "faults_next": first_group["faults_next"],
           "faults_total": sum(r["faults_total"] for r in group_rows),
           "touched_bytes": first_group["touched_bytes"],
           **{k: first_group[k] for k in ("mapped_4k_bytes", "mapped_2m_bytes",
                                          "mapped_1g_bytes")},
           "baseline_pt_bytes": baseline, "data_bytes": data, "memory_bytes": data + total,
           "ram_bytes": layout.ram_bytes,
           "fits_ram": None if layout.ram_bytes is None else data + total <= layout.ram_bytes}
    return row, group_rows


def _shared_data(layout, strategy, state, regions, page) -> int:
    """RAM of the shared regions' data: a hugetlbfs file reserves every huge page of the
    mapping (hugetlb_reserve_pages() at mmap); otherwise the pages touched (a THP folio
    whole)."""
    total = 0
    for region in regions:
        if page:
            total += -(-region.size_bytes // page) * page
            continue
        touched = state.cached.get(region.name, 0)
        if strategy == "thp-shmem" and region.file_offset_bytes % g.PTE_SPAN == 0:
            total += -(-touched // g.PTE_SPAN) * g.PTE_SPAN if touched else 0
        else:
            total += touched
    return total


def _not_applicable(layout, strategy, reason):
    names = metric_names(layout.paging)
    row = {"strategy": strategy, "applicable": False, "reason": reason,
           **dict.fromkeys(names), **dict.fromkeys(HOST_EXTRA)}
    groups = [{**dict.fromkeys(GROUP_KEYS), "strategy": strategy, "group": grp.name,
               "procs": grp.procs, "forked_from": grp.forked_from, "applicable": False,
               "reason": reason} for grp in layout.groups]
    return row, groups


def _random_single(layout: Layout, strategies) -> dict:
    """The random pattern: the compiled expected-value formulas, for a one-map layout."""
    from ptcalc.compute.scalar import scenario_rows
    from ptcalc.inputs.scenario import Scenario

    maps = [(grp, m) for grp in layout.groups for m in grp.maps]
    grp, m = maps[0]
    region = layout.region(m.region)
    if (len(maps) > 1 or grp.forked_from or grp.baseline_pt_bytes or region.kind != "shared"
            or region.file_offset_bytes):
        raise InputError("pattern = \"random\" is evaluated for a layout of one shared region "
                         "mapped by one group (expected values); use pattern = \"dense\" in "
                         "layouts with several maps, fork, baselines or independent pages")
    scenario = Scenario(region.size_bytes, grp.procs, m.address_bytes % g.TOP_ENTRY_SPAN,
                        m.touched, m.touched_bytes, m.access, "random", layout.paging,
                        layout.fault_around_bytes, region.size_bytes)
    host = [{**row, **dict.fromkeys(HOST_EXTRA)} for row in scenario_rows(scenario, strategies)]
    if m.pages == "independent":
        host = [_independent(row, scenario) for row in host]
    groups = [{**dict.fromkeys(GROUP_KEYS), **{k: row.get(k) for k in GROUP_KEYS if k in row},
               "group": grp.name, "procs": grp.procs} for row in host]
    return {"host": host, "groups": groups}


def _independent(row: dict, scenario) -> dict:
    """Independent touched sets (each process its own random pages): modelled for
    private-4k, where a later reader finds only part of its pages in the page cache."""
    if row["strategy"] != BASELINE or not row["applicable"]:
        reason = row["reason"] or ("independent touched sets are modelled for private-4k "
                                   "only (4 KiB pages read through the page cache)")
        return {**row, "applicable": False, "reason": reason,
                **dict.fromkeys(k for k in row if k not in ("strategy", "applicable",
                                                             "reason"))}
    if scenario.access == "write" or scenario.offset_bytes % scenario.fault_around_bytes:
        if scenario.access == "write":
            return row                       # a later writer faults once per page anyway
        return {**row, "applicable": False, "reason": "independent touched sets need a "
                "start aligned to the fault-around window"}
    later = [independent_read_faults(scenario.size_bytes, scenario.touched, k,
                                     scenario.fault_around_bytes)[0]
             for k in range(1, scenario.procs)]
    first = row["faults_first"]
    return {**row, "faults_next": later[0] if later else
            independent_read_faults(scenario.size_bytes, scenario.touched, 1,
                                    scenario.fault_around_bytes)[0],
            "faults_total": first + sum(later)}


def independent_read_faults(size_bytes: int, touched, earlier: int, fault_around: int,
                            samples: int = 20000) -> tuple[float, float]:
    """Expected read faults (and their standard deviation) of a process reading its own
    random pages (each with probability f) of a fault-around-aligned shared region after
    `earlier` processes touched their own independent sets.

    A page is cached with probability c = 1 - (1-f)^earlier.  In a window of n pages the
    first touched page faults (do_fault_around() maps the window's cached pages), every
    other touched page that is not cached faults again (__do_fault), so a window takes
    [T != 0] + |T \\ K| - [first touched page not cached], expected
    c (1 - (1-f)^n) + n f (1 - c).  Windows are disjoint, so their faults are independent:
    the variance is the sum of the windows', estimated here by simulating `samples` windows
    with a fixed seed (a stated bound, not a measurement)."""
    import math
    import random

    f = float(touched)
    c = 1 - (1 - f) ** earlier
    pages = size_bytes // g.PAGE_BYTES
    n = fault_around // g.PAGE_BYTES
    windows = [n] * (pages // n) + ([pages % n] if pages % n else [])
    mean = sum(c * (1 - (1 - f) ** w) + w * f * (1 - c) for w in windows)
    rng = random.Random(0)
    values = []
    for _ in range(samples):
        faults, first = 0, True
        for _page in range(n):
            if rng.random() < f:
                cached = rng.random() < c
                if first:
                    faults, first = faults + 1, False
                elif not cached:
                    faults += 1
        values.append(faults)
    average = sum(values) / samples
    variance = sum((v - average) ** 2 for v in values) / (samples - 1)
    return mean, math.sqrt(variance * len(windows))

"""Brute-force oracle, independent of the formulas.

It plays the kernel's rules literally: processes touch their pages one by one in ascending
order (the first process to completion, then each later one), every fault is handled as the
rule says (one 4 KiB page; a fault-around window computed as do_fault_around() does; a whole
huge page; linking a shared table), and at the end each process's page-table tree is built
from what it maps and the tables are counted, per level, privately and shared.

Nothing here uses ptcalc.model.symbols or the generated formulas: only the geometry constants.
Meant for small scenarios (tests): it loops over pages in Python.
"""

from __future__ import annotations

import random as _random
from dataclasses import dataclass, field

from ptcalc import paging as g
from ptcalc.inputs.scenario import Scenario

VMPTE_LEVELS = ("pte", "pmd", "pud")     # VmPTE has no P4D counter (mm/memory.c __p4d_alloc)
LEAF_LEVEL = {g.PAGE_BYTES: "pte", g.HUGE_2M_BYTES: "pmd", g.HUGE_1G_BYTES: "pud"}
# shmem multi-size THP: PTE-mapped folios of 8 KiB .. 1 MiB.
MTHP_FOLIO_BYTES = {f"thp-shmem-{name}": kib * 1024 for name, kib in (
    ("8k", 8), ("16k", 16), ("32k", 32), ("64k", 64), ("128k", 128), ("256k", 256),
    ("512k", 512), ("1m", 1024))}


@dataclass(frozen=True)
class Rules:
    """How a strategy maps and shares, as plain rules."""

    leaf_of: object               # callable(addr) -> leaf size
    shared_level_of: object       # callable(level, table_id) -> bool: is that table shared
    host: bool = False            # shared tables live in a host mm (ptshare, mshare)
    links_charged: bool = False   # linking a shared table charges the linker's VmPTE
    one_mm: bool = False          # threads
    folio_of: object = None       # callable(addr) -> bytes of the PTE-mapped folio (mTHP)
    splice_in_fault: bool = False  # the fault that populates a host table also links it


@dataclass
class _Process:
    mapped: set = field(default_factory=set)          # (leaf_size, base) mapped privately
    linked: set = field(default_factory=set)          # shared table keys linked
    faults: int = 0


def _levels(levels_count: int) -> tuple[str, ...]:
    return ("pte", "pmd", "pud", "p4d")[: 3 if levels_count == 4 else 4]


def _span(level: str) -> int:
    return {"pte": g.PTE_SPAN, "pmd": g.PMD_SPAN, "pud": g.PUD_SPAN, "p4d": g.P4D_SPAN}[level]


def touched_pages(scenario: Scenario, base: int, rng: _random.Random | None) -> list[int]:
    """Addresses of the touched 4 KiB pages, ascending, for a region starting at `base`."""
    pages = scenario.size_bytes // g.PAGE_BYTES
    if scenario.pattern == "dense":
        count = scenario.touched_bytes // g.PAGE_BYTES
        return [base + i * g.PAGE_BYTES for i in range(count)]
    rng = rng or _random.Random(0)
    f = float(scenario.touched)
    return [base + i * g.PAGE_BYTES for i in range(pages) if rng.random() < f]


def _not_applicable(strategy: str, s: Scenario) -> str | None:
    if strategy in ("hugetlb-2m", "hugetlb-2m-pmdshare") and s.offset_bytes % g.HUGE_2M_BYTES:
        return "offset not 2 MiB-aligned"
    if strategy == "hugetlb-1g" and s.offset_bytes % g.HUGE_1G_BYTES:
        return "offset not 1 GiB-aligned"
    if strategy in ("ptshare", "ptshare-2026") and (s.offset_bytes % g.PTE_SPAN
                                                    or s.size_bytes % g.PTE_SPAN):
        return "not 2 MiB-aligned"
    return None


def _rules(strategy: str, s: Scenario, start: int) -> Rules:
    vma_start = start
    vma_end = start + s.size_bytes
    if strategy.startswith("hugetlb-2m"):
        vma_end = start + -(-s.size_bytes // g.HUGE_2M_BYTES) * g.HUGE_2M_BYTES

    def inside(level, table_id):
        span = _span(level)
        return vma_start <= table_id * span and (table_id + 1) * span <= vma_end

    def never(level, table_id):
        return False

    small = lambda addr: g.PAGE_BYTES  # noqa: E731
    if strategy in ("private-4k", "threads"):
        return Rules(small, never, one_mm=strategy == "threads")
    def huge_fits(addr, size):
        # file offset 0 at vma_start: a folio of `size` can be used iff VA = file offset
        # mod size and the whole aligned chunk lies inside the VMA (thp_vma_suitable_order).
        chunk = addr // size * size
        return vma_start % size == 0 and vma_start <= chunk and chunk + size <= vma_end

    def thp_leaf(addr):
        return g.HUGE_2M_BYTES if huge_fits(addr, g.HUGE_2M_BYTES) else g.PAGE_BYTES

    if strategy == "thp-shmem":
        return Rules(thp_leaf, never)
    if strategy == "thp-shmem-1g":
        return Rules(lambda addr: g.HUGE_1G_BYTES if huge_fits(addr, g.HUGE_1G_BYTES)
                     else thp_leaf(addr), never)
    if strategy in MTHP_FOLIO_BYTES:
        folio = MTHP_FOLIO_BYTES[strategy]
        return Rules(small, never,
                     folio_of=lambda addr: folio if huge_fits(addr, folio) else g.PAGE_BYTES)
    if strategy == "hugetlb-2m":
        return Rules(lambda addr: g.HUGE_2M_BYTES, never)
    if strategy == "hugetlb-2m-pmdshare":
        return Rules(lambda addr: g.HUGE_2M_BYTES,
                     lambda level, tid: level == "pmd" and inside(level, tid), links_charged=True)
    if strategy == "hugetlb-1g":
        return Rules(lambda addr: g.HUGE_1G_BYTES, never)
    if strategy == "ptshare":
        return Rules(small, lambda level, tid: level == "pte", host=True)
    if strategy == "ptshare-2026":
        return Rules(small, lambda level, tid: level == "pte", host=True, links_charged=True,
                     splice_in_fault=True)
    if strategy == "mshare":
        return Rules(small, lambda level, tid: level == "pud", host=True)
    if strategy == "file-pt":
        return Rules(small, lambda level, tid: level in ("pte", "pmd") and inside(level, tid),
                     links_charged=True)
    raise KeyError(strategy)


def _chain(leaf_size: int, base: int, levels: tuple[str, ...]):
    """(level, table_id) of the tables holding a leaf, top-most first."""
    first = levels.index(LEAF_LEVEL[leaf_size])
    return [(level, base // _span(level)) for level in reversed(levels[first:])]


def _shared_key(rules: Rules, chain):
    """The top-most shared table on a leaf's chain, or None."""
    for level, table_id in chain:
        if rules.shared_level_of(level, table_id):
            return (level, table_id)
    return None


def simulate(scenario: Scenario, strategy: str, seed: int = 0) -> dict:
    """Run the scenario and count: the same metric names as the model."""
    reason = _not_applicable(strategy, scenario)
    if reason:
        return {"strategy": strategy, "applicable": False, "reason": reason}
    levels = _levels(scenario.paging)
    start = 0 if strategy == "mshare" else scenario.offset_bytes
    rules = _rules(strategy, scenario, start)
    pages = touched_pages(scenario, start, _random.Random(seed))
    vma = (start, start + scenario.size_bytes)
    read = scenario.access == "read"
    count = 1 if rules.one_mm else scenario.procs
    procs = [_Process() for _ in range(count)]
    cache: set = set()                 # leaves present in the file (page cache / huge pages)
    shared: dict = {}                  # shared table key -> set of leaves mapped in it
    faults = []
    keys: dict = {}                    # leaf table -> top-most shared table on its chain
    for index in range(scenario.procs):
        proc = procs[0 if rules.one_mm else index]
        before = proc.faults
        last = None
        for addr in pages:
            size = rules.leaf_of(addr)
            leaf = (size, addr - addr % size)
            if leaf == last:           # still inside the leaf the previous access mapped
                continue
            table = (size, addr // (size * g.ENTRIES_PER_TABLE))
            if table not in keys:
                keys[table] = _shared_key(rules, _chain(size, leaf[1], levels))
            if keys[table] is not None or leaf not in proc.mapped:
                _access(proc, leaf, keys[table], rules, vma, read, scenario.fault_around_bytes,
                        cache, shared)
            last = leaf
        faults.append(proc.faults - before)
    return _count(scenario, strategy, rules, levels, procs, shared, faults, pages)


def _access(proc, leaf, key, rules, vma, read, fault_around, cache, shared):
    """One access to `leaf`; faults until it is present (a fault returns, the access retries)."""
    for _attempt in range(4):            # a fault returns and the access is retried
        if key is None:
            if leaf in proc.mapped:
                return
            proc.faults += 1
            _fault_private(proc, leaf, read, vma, fault_around, cache, rules.folio_of)
            continue
        if key not in proc.linked:
            if key in shared:
                proc.faults += 1                       # link fault (or link inside the fault)
                proc.linked.add(key)
                continue
            if not rules.host:                         # a peer creates it as shared, no fault
                shared[key] = set()
                proc.linked.add(key)
                continue
            proc.faults += 1                           # host fault: populates the host tables
            shared[key] = {leaf}
            cache.add(leaf)
            if rules.splice_in_fault:                  # ... and links them in the same fault
                proc.linked.add(key)
            continue
        if leaf in shared[key]:
            return
        proc.faults += 1
        shared[key].add(leaf)
        cache.add(leaf)
    raise AssertionError("access did not complete")


def _folio_pages(leaf, folio_of):
    """The 4 KiB leaves of the folio holding `leaf` (just `leaf` without large folios)."""
    size, base = leaf
    folio = folio_of(base) if folio_of and size == g.PAGE_BYTES else size
    if folio == size:
        return [leaf]
    first = base - base % folio
    return [(g.PAGE_BYTES, first + i) for i in range(0, folio, g.PAGE_BYTES)]


def _fault_private(proc, leaf, read, vma, fault_around, cache, folio_of=None):
    size, base = leaf
    if size != g.PAGE_BYTES or not read:
        for page in _folio_pages(leaf, folio_of):    # finish_fault maps the whole folio
            proc.mapped.add(page)
            cache.add(page)
        return
    # do_fault_around(): window of nr_pages, aligned down, clamped to the VMA start and to
    # the PTE table and VMA end (mm/memory.c); every cached folio met is mapped whole
    # (mm/filemap.c filemap_map_folio_range).
    nr_pages = fault_around // g.PAGE_BYTES
    pte_off = (base % g.PTE_SPAN) // g.PAGE_BYTES
    vma_off = (base - vma[0]) // g.PAGE_BYTES
    vma_pages = (vma[1] - vma[0]) // g.PAGE_BYTES
    from_pte = max(pte_off // nr_pages * nr_pages, pte_off - min(pte_off, vma_off))
    to_pte = min(from_pte + nr_pages, g.ENTRIES_PER_TABLE, pte_off + vma_pages - vma_off) - 1
    table_base = base - pte_off * g.PAGE_BYTES
    for index in range(from_pte, to_pte + 1):
        other = (g.PAGE_BYTES, table_base + index * g.PAGE_BYTES)
        if other in cache:
            proc.mapped.update(_folio_pages(other, folio_of))
    if leaf not in proc.mapped:        # not in the page cache yet: __do_fault reads it
        for page in _folio_pages(leaf, folio_of):
            cache.add(page)
            proc.mapped.add(page)


def _count(scenario, strategy, rules, levels, procs, shared, faults, pages):
    private_tables = []                  # per process: set of (level, id) it holds privately
    linked = []
    reach = []                           # per process: leaves it reaches
    for proc in procs:
        own = set()
        leaves = set(proc.mapped)
        for key in proc.linked:
            leaves |= shared[key]
        for size, base in proc.mapped:
            own.update(_chain(size, base, levels))
        for key in proc.linked:
            level, table_id = key
            above = levels[levels.index(level) + 1:]
            own.update((lvl, (table_id * _span(level)) // _span(lvl)) for lvl in above)
        private_tables.append(own)
        linked.append(set(proc.linked))
        reach.append(leaves)
    shared_tables = set()
    host_tables = set()
    for key, leaves in shared.items():
        level, table_id = key
        shared_tables.add(key)
        for size, base in leaves:
            for lvl, tid in _chain(size, base, levels):
                if levels.index(lvl) < levels.index(level):
                    shared_tables.add((lvl, tid))
                elif rules.host and levels.index(lvl) > levels.index(level):
                    host_tables.add((lvl, tid))
    physical = dict.fromkeys(levels, 0)
    for own in private_tables:
        for level, _ in own:
            physical[level] += 1
    for level, _ in shared_tables | host_tables:
        physical[level] += 1
    later = private_tables[-1]
    charged = sum(1 for level, _ in later if level in VMPTE_LEVELS)
    if rules.links_charged:
        charged += sum(1 for level, _ in linked[-1] if level in VMPTE_LEVELS)
    result = {"strategy": strategy, "applicable": True, "reason": None,
              "pt_bytes_per_process": charged * g.TABLE_BYTES}
    for level in levels:
        result[f"{level}_table_bytes"] = physical[level] * g.TABLE_BYTES
    result["pt_bytes_total"] = sum(result[f"{level}_table_bytes"] for level in levels)
    result["faults_first"] = faults[0]
    result["faults_next"] = faults[1] if len(faults) > 1 else None
    result["faults_total"] = sum(faults)
    result["touched_bytes"] = len(pages) * g.PAGE_BYTES
    leaves = reach[-1]
    for name, size in (("4k", g.PAGE_BYTES), ("2m", g.HUGE_2M_BYTES), ("1g", g.HUGE_1G_BYTES)):
        result[f"mapped_{name}_bytes"] = sum(size for sz, _ in leaves if sz == size)
    if strategy.startswith("hugetlb"):
        huge = g.HUGE_1G_BYTES if strategy == "hugetlb-1g" else g.HUGE_2M_BYTES
        first, last = scenario.offset_bytes, scenario.offset_bytes + scenario.size_bytes
        result["huge_pages"] = len(range(first // huge, -(-last // huge)))
    else:
        result["huge_pages"] = None
    return result


def simulate_layout(layout, strategy: str, seed: int = 0) -> dict:
    """A host layout (several regions, groups, addresses, fork), page by page: see
    ptcalc.oracle_host."""
    from ptcalc.oracle_host import simulate_layout as run

    return run(layout, strategy, seed)

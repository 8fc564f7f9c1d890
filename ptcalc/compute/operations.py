"""The cost of an operation for every strategy: one row per (strategy, variant), exact ints.

Range operations (mprotect, munmap, madvise MADV_DONTNEED) come from the formulas of
ptcalc.model.operations evaluated on ints; fork and exit come from the steady-state model
(fork of a MAP_SHARED region copies no page table, vma_needs_copy() in mm/memory.c, so the
child is one more later process; exit removes one process).  No sympy, pandas or numpy.
"""

from __future__ import annotations

from ptcalc import catalog, paging
from ptcalc.compute.opdesigns import mshare_rows, ptshare_2026_row
from ptcalc.compute.oprows import (  # noqa: F401  (METRICS, TEXT_COLUMNS: the public columns)
    METRICS,
    PAGE,
    TEXT_COLUMNS,
    OperationInputs,
    blank,
    finish,
    size_text,
    status_of,
    steady_rows,
    variant_of,
)
from ptcalc.errors import InputError
from ptcalc.model import operations as ops

OPERATIONS = ("fork", "exit", "mprotect", "munmap", "madvise")
RANGE_OPERATIONS = ("mprotect", "munmap", "madvise")

# strategy -> (rule, leaf alignment of ranges, mainline source of the range rules)
_RANGE_RULES = {
    "private-4k": ("pte4k", PAGE, ("mm/mprotect.c change_protection(); mm/memory.c "
                   "zap_pte_range() (PT_RECLAIM: empty PTE tables of a >= 2 MiB zap), "
                   "free_pgd_range(); arch/x86/mm/tlb.c flush_tlb_mm_range()")),
    "thp-shmem": ("huge-2m", paging.PTE_SPAN, ("mm/huge_memory.c change_huge_pmd(), "
                  "zap_huge_pmd(); mm/memory.c free_pgd_range()")),
    "hugetlb-2m": ("huge-2m", paging.PTE_SPAN, ("mm/hugetlb.c hugetlb_change_protection(), "
                   "__unmap_hugepage_range(); mm/memory.c free_pgd_range()")),
    "hugetlb-2m-pmdshare": ("pmdshare", paging.PTE_SPAN, ("mm/hugetlb.c huge_pmd_unshare(), "
                            "hugetlb_split() -> hugetlb_unshare_pmds(), "
                            "huge_pmd_unshare_flush(); include/asm-generic/tlb.h "
                            "tlb_unshare_pmd_ptdesc(); mm/mmu_gather.c "
                            "tlb_remove_table_sync_one(); 8ce720d5bd91 (2026)")),
    "hugetlb-1g": ("huge-1g", paging.PMD_SPAN, ("mm/hugetlb.c hugetlb_change_protection(), "
                   "__unmap_hugepage_range(); mm/memory.c free_pgd_range()")),
    "threads": ("threads", PAGE, ("one mm: mm/mprotect.c, mm/memory.c zap_pte_range(); "
                "arch/x86/mm/tlb.c native_flush_tlb_multi() IPIs the mm's other CPUs")),
    "thp-shmem-1g": ("huge-1g", paging.PMD_SPAN, (
        "assumed as for a PUD leaf in mainline (mm/huge_memory.c change_huge_pud(), "
        "zap_huge_pud(); mm/memory.c free_pgd_range()): the RFC maps the folio with one PUD "
        "entry (" + catalog.lore("20260202005451.774496-1-usamaarif642@gmail.com") + "); the "
        "deposit of 1 PMD + 512 PTE tables, if kept, is not counted")),
    **{name: (f"mthp:{folio}", PAGE, (
        "as 4 KiB pages (mm/mprotect.c change_pte_range(), mm/memory.c zap_pte_range(), "
        "free_pgd_range(): a shmem folio is not split); refaults: mm/memory.c finish_fault() "
        "maps the whole folio only if pte_range_none(), mm/filemap.c filemap_map_pages() "
        "maps whole folios (" + catalog.lore("20250923110310.689126-5-kirill@shutemov.name")
        + ")")) for name, folio in catalog.MTHP_FOLIO_BYTES.items()},
}

_PROPOSALS = {
    "ptshare": "the MAP_SHARED_PT RFC (lore:cover.1682453344.git.khalid.aziz@oracle.com, "
               "2023) does not say how {what} reaches the shared PTE tables; not modelled",
    "file-pt": "a proposal without code: it says only 'On VMA protection changes, one would "
               "have to unshare' (lore:397f3cb2-1351-afcf-cd87-e8f9fb482059@redhat.com); "
               "{what} is not modelled",
}
_WHAT = {"mprotect": "a protection change", "munmap": "a partial munmap",
         "madvise": "MADV_DONTNEED"}

def _flush_kind(flushes: int, strides: int) -> str:
    if flushes == 0:
        return "none"
    kind = "ranged" if strides <= ops.FLUSH_CEILING else "full (the mm's whole TLB)"
    return f"{flushes} x {kind}"


def _range_row(strategy: str, inputs: OperationInputs, steady: dict) -> list[dict]:
    operation = inputs.operation
    base = {"strategy": strategy, "operation": operation, "variant": variant_of(strategy)}
    if strategy in _PROPOSALS:
        return [blank(**dict(base, variant="proposal"), applicable=False, status="proposal",
                       reason=_PROPOSALS[strategy].format(what=_WHAT[operation]),
                       source=_PROPOSALS[strategy].split("(")[1].split(")")[0])]
    if strategy == "mshare":
        return mshare_rows(inputs, base)
    if strategy == "ptshare-2026":
        return [ptshare_2026_row(inputs, base, steady)]
    if strategy not in _RANGE_RULES:
        from ptcalc.model.strategies import strategy_info

        return [blank(**base, applicable=False, source=strategy_info(strategy).source,
                       reason=f"{_WHAT[operation]} is not modelled for {strategy} yet (its "
                              "fork and exit rows follow its steady-state rule)")]
    rule, align, source = _RANGE_RULES[strategy]
    scenario = inputs.scenario
    if not steady["applicable"]:
        return [blank(**base, applicable=False, reason=steady["reason"], source=source)]
    if strategy == "thp-shmem" and (scenario.offset_bytes % align or scenario.size_bytes % align):
        return [blank(**base, applicable=False, source=source,
                       reason="the region mixes PMD-mapped THPs and 4 KiB PTEs (offset or size "
                              "not 2 MiB aligned); not modelled")]
    if strategy == "thp-shmem-1g" and (scenario.offset_bytes % align
                                       or scenario.size_bytes % align):
        return [blank(**base, applicable=False, source=source, status="proposal",
                       reason="the region mixes PUD-mapped 1 GiB folios with 2 MiB and 4 KiB "
                              "mappings (offset or size not 1 GiB aligned); not modelled")]
    if inputs.op_start_bytes % align or inputs.op_bytes % align:
        what = {"thp-shmem": "a PMD-mapped THP would be split (__split_huge_pmd()); not "
                             "modelled",
                "thp-shmem-1g": "a PUD-mapped folio would be split, which the RFC does not "
                                "settle; not modelled"}.get(
            strategy, "mprotect/munmap/madvise return EINVAL")
        return [blank(**base, applicable=False, source=source,
                       reason=f"the range must be {size_text(align)} aligned ({what})")]
    metrics = ops.range_metrics(ops.IntMath, inputs.values(), rule, operation)
    row = blank(**base, applicable=True, path="process", status=status_of(strategy),
                 source=source)
    row["flush"] = _flush_kind(metrics["flushes"], metrics["flush_strides"])
    row["flush_scope"] = _scope(rule, metrics)
    return [finish(row, metrics)]


def _scope(rule: str, metrics: dict) -> str:
    mm = "the one mm's CPUs (every thread)" if rule == "threads" else "the acting mm's CPUs"
    text = mm if metrics["flushes"] else "no flush"
    if metrics.get("syncs"):
        text += f"; {metrics['syncs']} x tlb_remove_table_sync_one() to every other CPU"
    if metrics.get("syncs_before_fix"):
        text += (f" (before 8ce720d5bd91: {metrics['syncs_before_fix']} x, one per unshared "
                 "table, whatever the sharer count)")
    return text


# --------------------------------------------------------------------------- fork and exit


_FORK_SOURCE = ("mm/memory.c vma_needs_copy(): no anon_vma, so no table is copied; the child "
                "refaults as a later process; mm/mmap.c dup_mmap() (kernel/fork.c in older "
                "kernels): flush_tlb_mm(oldmm)")
_EXIT_SOURCE = "mm/mmap.c exit_mmap(): tlb_gather_mmu_fullmm(), free_pgtables()"


def _fork_exit_rows(inputs: OperationInputs, strategies) -> list[dict]:
    scenario, operation = inputs.scenario, inputs.operation
    now = steady_rows(scenario, strategies, scenario.procs)
    other = steady_rows(scenario, strategies, scenario.procs + (1 if operation == "fork" else -1))
    rows = []
    for name in strategies:
        here, there = now[name], other[name]
        base = {"strategy": name, "operation": operation, "variant": variant_of(name),
                "status": status_of(name)}
        if not here["applicable"]:
            rows.append(blank(**base, applicable=False, reason=here["reason"]))
            continue
        metrics = dict.fromkeys(METRICS, 0)
        total_now = here["pt_bytes_total"]
        total_there = there["pt_bytes_total"] if there else 0
        row = blank(**base, applicable=True, path="process")
        if name == "threads":
            row.update(flush="none", flush_scope="no flush",
                       source="a thread shares the one mm: clone(CLONE_VM) copies no table and "
                              "an exiting thread frees none (kernel/fork.c copy_mm())")
            rows.append(finish(row, metrics))
            continue
        if operation == "fork":
            metrics["vmpte_acting_after_refault_bytes"] = here["pt_bytes_per_process"]
            metrics["pagetables_after_refault_bytes"] = total_there - total_now
            metrics["tables_allocated"] = (total_there - total_now) // paging.TABLE_BYTES
            metrics["refaults_acting"] = here["faults_next"]
            metrics["flushes"] = 1
            metrics["tlb_ipis"] = min(inputs.total_cpus, inputs.cpus) - 1
            row.update(flush="1 x full (the parent mm)", source=_FORK_SOURCE,
                       flush_scope="the parent mm's CPUs (dup_mmap() flushes the parent); "
                                   "the child starts with no table of the region")
        else:
            metrics["vmpte_acting_bytes"] = -here["pt_bytes_per_process"]
            metrics["vmpte_acting_after_refault_bytes"] = -here["pt_bytes_per_process"]
            metrics["pagetables_bytes"] = total_there - total_now
            metrics["pagetables_after_refault_bytes"] = total_there - total_now
            metrics["tables_freed"] = (total_now - total_there) // paging.TABLE_BYTES
            metrics["flushes"] = 1
            row.update(flush="1 x full (fullmm teardown)", source=_EXIT_SOURCE,
                       flush_scope="only the exiting mm, which runs nowhere else by then")
            if name == "hugetlb-2m-pmdshare":
                whole = ops.linked_slots(ops.IntMath, inputs.values(
                    op_start_bytes=0, op_bytes=scenario.size_bytes), scenario.offset_bytes,
                    scenario.offset_bytes + scenario.size_bytes)
                metrics["tables_unshared"] = whole
                syncs = 1 if scenario.procs == 2 and whole else 0
                metrics["call_ipis"] = syncs * (inputs.total_cpus - 1)
                row["source"] = (_EXIT_SOURCE + "; mm/hugetlb.c __unmap_hugepage_range() -> "
                                 "huge_pmd_unshare(), huge_pmd_unshare_flush() (8ce720d5bd91)")
                row["flush_scope"] += (f"; {syncs} x tlb_remove_table_sync_one() to every other "
                                       f"CPU (before 8ce720d5bd91: {whole} x, one per shared "
                                       "table)")
            if name == "mshare":
                row["flush_scope"] += ("; a non-owner only unlinks; the owner's exit unmaps the "
                                       "region for every sharer (v3 and the 2026 proposal)")
        if base["status"] != "mainline":
            row["source"] += "; the design's steady-state rule (ptcalc strategies)"
        rows.append(finish(row, metrics))
    return rows


# --------------------------------------------------------------------------- entry points


def operation_rows(inputs: OperationInputs, strategies) -> list[dict]:
    """Rows for every strategy (and variant) of one operation."""
    if inputs.operation not in OPERATIONS:
        raise InputError(f"operation {inputs.operation!r} is not one of "
                         f"{', '.join(OPERATIONS)}")
    if inputs.scenario.pattern != "dense":
        raise InputError("operations are modelled for the dense touch pattern only; "
                         "drop --pattern random")
    if inputs.scenario.paging != 4:
        raise InputError("operations are modelled for 4-level paging only; use --paging 4")
    if inputs.operation in ("fork", "exit"):
        return _fork_exit_rows(inputs, strategies)
    from ptcalc.compute.scalar import scenario_rows

    steady = {row["strategy"]: row for row in scenario_rows(inputs.scenario, strategies)}
    rows = []
    for name in strategies:
        rows.extend(_range_row(name, inputs, steady[name]))
    return rows


def make_inputs(operation: str, scenario, at=0, length=None, cpus=1, host_cpus=0):
    """Validate the range and CPU counts (InputError naming what is wrong)."""
    from ptcalc.units import UnitError, parse_size

    try:
        start = parse_size(at, what="at") if at is not None else 0
        size = parse_size(length, what="bytes") if length is not None else \
            scenario.size_bytes - start
    except UnitError as error:
        raise InputError(str(error)) from None
    if start % PAGE or size % PAGE:
        raise InputError(f"the range [{start}, +{size}) must start and end on 4 KiB pages")
    if size <= 0:
        raise InputError("--bytes must be positive (e.g. --bytes 1GiB)")
    if start + size > scenario.size_bytes:
        raise InputError(f"the range [{start}, +{size}) leaves the {scenario.size_bytes}-byte "
                         "region; lower --at or --bytes")
    for value, what in ((cpus, "cpus"), (host_cpus, "host-cpus")):
        if not isinstance(value, int) or value < (1 if what == "cpus" else 0):
            raise InputError(f"--{what} must be a whole number >= 1, not {value!r}")
    if host_cpus and host_cpus < cpus:
        raise InputError(f"--host-cpus {host_cpus} is fewer than --cpus {cpus}")
    return OperationInputs(operation, scenario, start, size, cpus, host_cpus)


def scenario_from_layout(layout, region: str | None = None, group: str | None = None):
    """The single-region scenario an operation on one region of a host layout is stated over:
    the region's size and address (mod 512 GiB) as the acting group maps it, the processes
    of every group mapping it, and the acting group's touched prefix and access.  The other
    regions do not change the result as long as they lie outside this region's 512 GiB slot
    (free_pgtables() floor and ceiling); private regions are fork's `--heap`."""
    from dataclasses import replace as _replace

    from ptcalc.inputs.scenario import make_scenario

    shared = [r for r in layout.regions if r.kind == "shared"]
    names = ", ".join(r.name for r in shared)
    if region is None:
        if len(shared) != 1:
            raise InputError(f"the layout has shared regions {names or '(none)'}; name the "
                             "one the operation acts on with --region")
        region = shared[0].name
    try:
        chosen = layout.region(region)
    except KeyError:
        raise InputError(f"--region {region!r} is not in the layout (shared: {names})") from None
    if chosen.kind != "shared":
        raise InputError(f"region {region!r} is private memory; its fork cost is "
                         "`ptcalc op fork --heap SIZE`")
    mapping = [(g, m) for g in layout.groups for m in g.maps if m.region == region]
    if not mapping:
        raise InputError(f"no group maps region {region!r}")
    if group is not None:
        acting = [(g, m) for g, m in mapping if g.name == group]
        if not acting:
            raise InputError(f"--group {group!r} does not map region {region!r} (groups: "
                             f"{', '.join(g.name for g, _ in mapping)})")
    else:
        acting = mapping[:1]
    (_, acting_map), procs = acting[0], sum(g.procs for g, _ in mapping)
    scenario = make_scenario(chosen.size_bytes, procs,
                             acting_map.address_bytes % paging.PUD_SPAN, 1.0,
                             acting_map.access, acting_map.pattern, layout.paging,
                             layout.fault_around_bytes)
    return _replace(scenario, touched=acting_map.touched, touched_bytes=acting_map.touched_bytes)

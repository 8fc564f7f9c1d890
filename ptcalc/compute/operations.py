"""The cost of an operation for every strategy: one row per (strategy, variant), exact ints.

Range operations (mprotect, munmap, madvise MADV_DONTNEED) come from the formulas of
ptcalc.model.operations evaluated on ints; fork and exit come from the steady-state model
(fork of a MAP_SHARED region copies no page table, vma_needs_copy() in mm/memory.c, so the
child is one more later process; exit removes one process).  No sympy, pandas or numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

from ptcalc import paging
from ptcalc.errors import InputError
from ptcalc.model import operations as ops

OPERATIONS = ("fork", "exit", "mprotect", "munmap", "madvise")
RANGE_OPERATIONS = ("mprotect", "munmap", "madvise")

METRICS = ("tables_allocated", "tables_freed", "tables_unshared", "tables_copied",
           "ptes_copied", "vmpte_acting_bytes", "vmpte_acting_after_refault_bytes",
           "vmpte_others_bytes", "pagetables_bytes", "pagetables_after_refault_bytes",
           "refaults_acting", "refaults_others", "flushes", "tlb_ipis", "tlb_ipis_min",
           "call_ipis", "ipis_total")
TEXT_COLUMNS = ("strategy", "variant", "operation", "applicable", "reason", "path", "status",
                "flush", "flush_scope", "source")

PAGE = paging.PAGE_BYTES


@dataclass(frozen=True)
class OperationInputs:
    """One operation on today's single-region scenario."""

    operation: str
    scenario: object           # ptcalc.inputs.scenario.Scenario
    op_start_bytes: int        # where the range starts, bytes into the region
    op_bytes: int              # range length
    cpus: int = 1              # CPUs each sharing process runs on (its threads)
    host_cpus: int = 0         # CPUs of the host (0: procs * cpus)

    def values(self, **override) -> ops.Inputs:
        s = self.scenario
        values = {"size_bytes": s.size_bytes, "offset_bytes": s.offset_bytes,
                  "touched_bytes": s.touched_bytes, "procs": s.procs,
                  "read_access": int(s.access == "read"), "op_start_bytes": self.op_start_bytes,
                  "op_bytes": self.op_bytes, "cpus": self.cpus, "host_cpus": self.total_cpus,
                  "fault_around_bytes": s.fault_around_bytes}
        values.update(override)
        return ops.Inputs(**values)

    @property
    def total_cpus(self) -> int:
        return self.host_cpus or self.scenario.procs * self.cpus


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

_MSHARE_V3 = "mshare v2/v3 (lore:20250820010415.699353-1-anthony.yznaga@oracle.com)"
_MSHARE_2026 = "LSF/MM/BPF 2026 'Revisiting mshare', https://lwn.net/Articles/1072333/"
_MSHARE_PROCESS_NA = {
    "mprotect": "mprotect on an mshare VMA returns -EINVAL (mshare_vm_op_mprotect(), "
                + _MSHARE_V3 + "); protections change through the host (next rows)",
    "munmap": "munmap of part of an mshare VMA fails: splitting it returns -EINVAL "
              "(mshare_vm_op_split(), " + _MSHARE_V3 + "); unmap through the host "
              "(MSHAREFS_UNMAP, next rows)",
    "madvise": "MADV_DONTNEED on the mshare VMA 'will operate on the shared page table "
               "without taking the needed locks' (A. Yznaga, 2025-09, v3 review): "
               "unsupported; advice goes through the host (mshare_advise(), 2026 proposal)",
}
# (operation, variant) -> (path, reason if not applicable, source)
_MSHARE_HOST = {
    ("mprotect", "v1-v3"): (None, ("v1-v3 have no host protection change (the v3 cover "
                            "letter plans ioctls 'such as changing protections')"),
                            _MSHARE_V3),
    ("mprotect", "2026"): ("host: mshare_protect() for every sharer", None, _MSHARE_2026),
    ("munmap", "v1-v3"): ("host: MSHAREFS_UNMAP ioctl, every sharer", None, _MSHARE_V3),
    ("munmap", "2026"): (None, ("the 2026 summary names no unmap call (mshare_attach, "
                         "mshare_map, mshare_advise, mshare_protect)"), _MSHARE_2026),
    ("madvise", "v1-v3"): (None, "v1-v3 have no host MADV_DONTNEED", _MSHARE_V3),
    ("madvise", "2026"): ("host: mshare_advise() for every sharer", None, _MSHARE_2026),
}


def _blank(**text) -> dict:
    row = dict.fromkeys(TEXT_COLUMNS)
    row.update(dict.fromkeys(METRICS))
    row.update(text)
    return row


def _finish(row: dict, metrics: dict, strides_text=None) -> dict:
    for key in METRICS:
        if key in metrics:
            row[key] = int(metrics[key])
    if row["tlb_ipis_min"] is None:
        row["tlb_ipis_min"] = 0
    for key in ("tables_copied", "ptes_copied"):
        if row[key] is None:
            row[key] = 0
    row["ipis_total"] = row["tlb_ipis"] + row["call_ipis"]
    if row["flush"] is None:
        row["flush"] = strides_text
    return row


def _flush_kind(flushes: int, strides: int) -> str:
    if flushes == 0:
        return "none"
    kind = "ranged" if strides <= ops.FLUSH_CEILING else "full (the mm's whole TLB)"
    return f"{flushes} x {kind}"


def _range_row(strategy: str, inputs: OperationInputs, steady: dict) -> list[dict]:
    operation = inputs.operation
    base = {"strategy": strategy, "operation": operation, "variant": "mainline"}
    if strategy in _PROPOSALS:
        return [_blank(**dict(base, variant="proposal"), applicable=False, status="proposal",
                       reason=_PROPOSALS[strategy].format(what=_WHAT[operation]),
                       source=_PROPOSALS[strategy].split("(")[1].split(")")[0])]
    if strategy == "mshare":
        return _mshare_rows(inputs, base)
    if strategy not in _RANGE_RULES:
        from ptcalc.model.strategies import strategy_info

        return [_blank(**base, applicable=False, source=strategy_info(strategy).source,
                       reason=f"{_WHAT[operation]} is not modelled for {strategy} yet (its "
                              "fork and exit rows follow its steady-state rule)")]
    rule, align, source = _RANGE_RULES[strategy]
    scenario = inputs.scenario
    if not steady["applicable"]:
        return [_blank(**base, applicable=False, reason=steady["reason"], source=source)]
    if strategy == "thp-shmem" and (scenario.offset_bytes % align or scenario.size_bytes % align):
        return [_blank(**base, applicable=False, source=source,
                       reason="the region mixes PMD-mapped THPs and 4 KiB PTEs (offset or size "
                              "not 2 MiB aligned); not modelled")]
    if inputs.op_start_bytes % align or inputs.op_bytes % align:
        what = "a PMD-mapped THP would be split (__split_huge_pmd()); not modelled" \
            if strategy == "thp-shmem" else "mprotect/munmap/madvise return EINVAL"
        return [_blank(**base, applicable=False, source=source,
                       reason=f"the range must be {_size(align)} aligned ({what})")]
    metrics = ops.range_metrics(ops.IntMath, inputs.values(), rule, operation)
    row = _blank(**base, applicable=True, path="process", status="mainline", source=source)
    row["flush"] = _flush_kind(metrics["flushes"], metrics["flush_strides"])
    row["flush_scope"] = _scope(rule, metrics)
    return [_finish(row, metrics)]


def _scope(rule: str, metrics: dict) -> str:
    mm = "the one mm's CPUs (every thread)" if rule == "threads" else "the acting mm's CPUs"
    text = mm if metrics["flushes"] else "no flush"
    if metrics.get("syncs"):
        text += f"; {metrics['syncs']} x tlb_remove_table_sync_one() to every other CPU"
    if metrics.get("syncs_before_fix"):
        text += (f" (before 8ce720d5bd91: {metrics['syncs_before_fix']} x, one per unshared "
                 "table, whatever the sharer count)")
    return text


def _mshare_rows(inputs: OperationInputs, base: dict) -> list[dict]:
    operation = inputs.operation
    rows = []
    whole = inputs.op_start_bytes == 0 and inputs.op_bytes >= inputs.scenario.size_bytes
    if operation == "munmap" and whole:
        # the process only unlinks its top-level entries (mshare_vm_op_unshare_page_range())
        row = _blank(**dict(base, variant="v1-v3"), applicable=True, path="process: unlink",
                     status="proposal", source=_MSHARE_V3 + " mshare_vm_op_unshare_page_range()",
                     flush="1 x ranged", flush_scope="the acting mm's CPUs")
        metrics = dict.fromkeys(METRICS, 0)
        metrics["flushes"] = 1
        metrics["tlb_ipis"] = min(inputs.total_cpus, inputs.cpus) - 1
        rows.append(_finish(row, metrics))
    else:
        rows.append(_blank(**dict(base, variant="v1-v3"), applicable=False, status="proposal",
                           reason=_MSHARE_PROCESS_NA[operation], source=_MSHARE_V3))
    host = inputs.values(offset_bytes=0)   # the host maps the region from a 512 GiB boundary
    for variant in ("v1-v3", "2026"):
        path, reason, source = _MSHARE_HOST[(operation, variant)]
        row = dict(base, variant=f"{variant}, host")
        if reason:
            rows.append(_blank(**row, applicable=False, reason=reason, source=source,
                               status="proposal"))
            continue
        metrics = ops.host_range_metrics(ops.IntMath, host, operation, variant)
        scope = ("every CPU of the host: flush_tlb_all() from the host mm's mmu notifier"
                 if variant == "v1-v3" else "each sharer's mm in turn (per-sharer list)")
        out = _blank(**row, applicable=True, path=path, status="proposal", source=source,
                     flush_scope=scope if metrics["flushes"] else "no flush",
                     flush=("none" if not metrics["flushes"] else
                            "1 x full, every CPU" if variant == "v1-v3" else
                            f"{inputs.scenario.procs} x full, one per sharer"))
        rows.append(_finish(out, metrics))
    return rows


def _size(n: int) -> str:
    from ptcalc.units import format_size

    return format_size(n)


# --------------------------------------------------------------------------- fork and exit


def _steady(scenario, strategies, procs):
    from dataclasses import replace

    from ptcalc.compute.scalar import scenario_rows

    if procs <= 0:
        return dict.fromkeys(strategies)
    return {row["strategy"]: row for row in scenario_rows(replace(scenario, procs=procs),
                                                           strategies)}


_FORK_SOURCE = ("mm/memory.c vma_needs_copy(): no anon_vma, so no table is copied; the child "
                "refaults as a later process; mm/mmap.c dup_mmap() (kernel/fork.c in older "
                "kernels): flush_tlb_mm(oldmm)")
_EXIT_SOURCE = "mm/mmap.c exit_mmap(): tlb_gather_mmu_fullmm(), free_pgtables()"


def _fork_exit_rows(inputs: OperationInputs, strategies) -> list[dict]:
    scenario, operation = inputs.scenario, inputs.operation
    now = _steady(scenario, strategies, scenario.procs)
    other = _steady(scenario, strategies, scenario.procs + (1 if operation == "fork" else -1))
    rows = []
    for name in strategies:
        here, there = now[name], other[name]
        base = {"strategy": name, "operation": operation, "variant": "mainline",
                    "status": "mainline" if name not in ("ptshare", "file-pt", "mshare")
                    else "proposal"}
        if not here["applicable"]:
            rows.append(_blank(**base, applicable=False, reason=here["reason"]))
            continue
        metrics = dict.fromkeys(METRICS, 0)
        total_now = here["pt_bytes_total"]
        total_there = there["pt_bytes_total"] if there else 0
        row = _blank(**base, applicable=True, path="process")
        if name == "threads":
            row.update(flush="none", flush_scope="no flush",
                       source="a thread shares the one mm: clone(CLONE_VM) copies no table and "
                              "an exiting thread frees none (kernel/fork.c copy_mm())")
            rows.append(_finish(row, metrics))
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
        if name in ("ptshare", "file-pt", "mshare"):
            row["source"] += "; the design's steady-state rule (ptcalc strategies)"
        rows.append(_finish(row, metrics))
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

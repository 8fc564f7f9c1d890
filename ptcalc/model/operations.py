"""What an operation on the shared region costs: mprotect, munmap and MADV_DONTNEED of a range
[at, at + length) of the region, by one process (the *acting* one), for each strategy.

One formula per metric, written once over an arithmetic namespace `m` (ceil/floor division,
min, max, where, eq, and_): `IntMath` evaluates it on Python ints (the CLI and
`ptcalc.operations`, no sympy), `sympy_math()` builds the sympy expression that `ptcalc op
--formula` prints.  Nothing here imports sympy at module level.

The scenario is the steady-state one (docs/model.md): a region of `size_bytes` at
`offset_bytes` (its address modulo 512 GiB), alone in its 512 GiB slot, mapped by `procs`
processes that each touched the dense prefix [offset, offset + touched_bytes).  So the range
has a neighbour VMA (the rest of the region) only where it does not reach the region's ends:
that decides which tables `free_pgtables()` may free (its floor and ceiling, mm/mmap.c).

Kernel rules (Linux 6.18; each one checked on the live kernel by `ptcalc op-probe`):

* 4 KiB tables (private-4k, threads): mprotect rewrites PTEs in place
  (change_protection()); munmap frees the tables whose whole span lies inside the range and
  its floor/ceiling (free_pgd_range()); MADV_DONTNEED frees the PTE tables whose whole 2 MiB
  it covers (zap_pte_range() with PT_RECLAIM: `end - start >= PMD_SIZE`), and the pages
  refault (read: one per fault-around window, write: one per page).
* hugetlb with PMD sharing: any of the three on a range that overlaps a shared 1 GiB slot
  unshares the whole slot in the acting process only (huge_pmd_unshare(): pud_clear() and
  mm_dec_nr_pmds(), VmPTE -4 KiB); mprotect and munmap also split the VMA, and a split
  inside a slot unshares it (hugetlb_split() -> hugetlb_unshare_pmds()).  Every touched
  2 MiB page of an unshared slot that the process still maps refaults into a new private PMD
  table, except after MADV_DONTNEED, where the slot's first fault links the shared table
  again (the VMA still covers the slot with unchanged flags) and sees all its pages.
* TLB: each mmu_gather flush is a flush_tlb_mm_range() of the acting mm, ranged when it
  spans at most tlb_single_page_flush_ceiling (33) strides, else a full flush of that mm
  (arch/x86/mm/tlb.c); it sends an IPI ("TLB shootdowns" in /proc/interrupts) to each other
  CPU running the mm.  A written shared 4 KiB page makes zap_pte_range() flush at the end of
  its PTE table (tlb_delay_rmap()); freeing tables forces one final flush.  A hugetlb gather
  that left a PMD table fully unshared (its last other sharer unshared: procs == 2) also
  broadcasts tlb_remove_table_sync_one() to every other CPU ("Function call interrupts"),
  once per gather (8ce720d5bd91, 2026); before that fix, once per unshared table
  (1013af4f585f, 2025).
"""

from __future__ import annotations

from ptcalc.catalog import MTHP_FOLIO_BYTES
from ptcalc.model.opmath import (  # noqa: F401  (the formulas' namespace, re-exported)
    DEFAULT_FAULT_AROUND,
    FLUSH_CEILING,
    Inputs,
    IntMath,
    sympy_math,
)

# --------------------------------------------------------------------------- building blocks


def slots(m, lo, hi, span):
    """Slots of `span` that [lo, hi) intersects: ceil(hi/g) - floor(lo/g), 0 if empty."""
    return m.where(hi > lo, m.cdiv(hi, span) - m.fdiv(lo, span), 0)


def touched_slots(m, v, lo, hi, span):
    """Slots of `span` inside the span-aligned window [lo, hi) that hold a touched page
    (so have a table in every process)."""
    return slots(m, m.max(lo, v.offset_bytes), m.min(hi, v.touched_end), span)


def align_down(m, x, span):
    return m.fdiv(x, span) * span


def align_up(m, x, span):
    return m.cdiv(x, span) * span


def touched_pages(m, v):
    """Touched 4 KiB pages inside the range."""
    hi = m.min(v.end, v.touched_end)
    return m.where(hi > v.start, m.fdiv(hi - v.start, v.PAGE), 0)


def touched_in_range(m, v, span):
    """Slots of `span` (2 MiB tables or huge pages) holding a touched page of the range."""
    return slots(m, v.start, m.min(v.end, v.touched_end), span)


def freeing_window(m, v, span, region_end):
    """[lo, hi): where munmap may free tables of `span` (free_pgd_range() floor/ceiling: the
    rest of the region is a neighbour unless the range reaches the region's end)."""
    lo = m.where(m.eq(v.op_start_bytes, 0), align_down(m, v.start, span),
                 align_up(m, v.start, span))
    hi = m.where(v.end >= region_end, align_up(m, v.end, span), align_down(m, v.end, span))
    return lo, hi


def flush_stride_count(m, v, stride):
    """Strides of the flushed range (the range's touched span): decides ranged or full."""
    return m.cdiv(m.max(0, m.min(v.end, v.touched_end) - v.start), stride)


# --------------------------------------------------------------------------- 4 KiB tables


def pte4k(m, v, operation: str) -> dict:
    """private-4k and threads: what the acting mm allocates, frees and refaults."""
    region_end = v.offset_bytes + v.size_bytes
    pages = touched_pages(m, v)
    tables_in_range = touched_in_range(m, v, v.PTE_SPAN)
    write = m.eq(v.read_access, 0)
    out = {}
    if operation == "mprotect":
        freed = 0
        out["flushes"] = m.where(pages > 0, 1, 0)
        out["refaults_acting"] = 0
    else:
        if operation == "munmap":
            freed = 0
            for span in (v.PTE_SPAN, v.PMD_SPAN, v.PUD_SPAN):
                lo, hi = freeing_window(m, v, span, region_end)
                freed = freed + touched_slots(m, v, lo, hi, span)
            out["refaults_acting"] = 0
        else:   # madvise(MADV_DONTNEED): only PTE tables whose whole 2 MiB is covered
            freed = touched_slots(m, v, align_up(m, v.start, v.PTE_SPAN),
                                  align_down(m, v.end, v.PTE_SPAN), v.PTE_SPAN)
            windows = slots(m, v.start, m.min(v.end, v.touched_end), v.fault_around_bytes)
            out["refaults_acting"] = m.where(write, pages, windows)
        dirty_flushes = m.where(write, tables_in_range, 0)
        final = m.where(m.or_(freed > 0, m.and_(m.eq(v.read_access, 1), pages > 0)), 1, 0)
        out["flushes"] = dirty_flushes + final
    out["tables_freed"] = freed
    out["tables_allocated"] = freed if operation == "madvise" else 0
    out["flush_strides"] = flush_stride_count(m, v, v.PAGE)
    return out


def mthp(m, v, operation: str, folio) -> dict:
    """Shmem multi-size THP, PTE-mapped folios of `folio` bytes where the region's start is
    folio-aligned (docs/model.md; elsewhere, and past the last whole folio, 4 KiB pages).
    Tables, flushes and IPIs are those of 4 KiB pages: mprotect rewrites PTEs and munmap or
    MADV_DONTNEED zaps them without splitting a shmem folio.  Only the refaults after
    MADV_DONTNEED differ: a writer's fault maps the whole folio when none of its PTEs is
    left (finish_fault() checks pte_range_none(), else maps the one page), so one fault per
    folio the range covers whole and one per page of a folio it cuts; a reader's
    fault-around maps every cached folio it meets whole (filemap_map_pages(), "mm/filemap:
    Map entire large folio faultaround"), so one fault per folio the range meets when the
    folio is at least the window, else one per window as for 4 KiB pages."""
    out = pte4k(m, v, operation)
    if operation != "madvise":
        return out
    aligned = m.eq(align_down(m, v.offset_bytes, folio), v.offset_bytes)
    split = v.offset_bytes + m.where(aligned, align_down(m, v.size_bytes, folio), 0)
    hi = m.min(v.end, v.touched_end)                    # the touched part of the range

    def pages(lo, top):
        return m.where(top > lo, m.fdiv(top - lo, v.PAGE), 0)

    whole_lo = align_up(m, v.start, folio)              # folios the range covers whole
    whole_hi = m.min(align_down(m, v.end, folio), split)
    whole = slots(m, whole_lo, m.min(whole_hi, v.touched_end), folio)
    writer = (whole + pages(v.start, m.min(hi, split))
              - pages(whole_lo, m.min(whole_hi, v.touched_end)) + pages(m.max(v.start, split), hi))
    window = v.fault_around_bytes
    reader = m.where(folio >= window,
                     slots(m, v.start, m.min(hi, split), folio)
                     + slots(m, m.max(v.start, split), hi, window),
                     slots(m, v.start, hi, window))
    out["refaults_acting"] = m.where(m.eq(v.read_access, 0), writer, reader)
    return out


# --------------------------------------------------------------------------- huge leaves


def huge_leaf(m, v, operation: str, leaf) -> dict:
    """hugetlb-2m, hugetlb-1g and PMD-mapped shmem THP without table sharing."""
    region_end = v.offset_bytes + align_up(m, v.size_bytes, leaf)
    huge = touched_in_range(m, v, leaf)
    out = {"refaults_acting": 0, "tables_allocated": 0, "tables_freed": 0}
    if operation == "munmap":
        spans = (v.PMD_SPAN, v.PUD_SPAN) if leaf == v.PTE_SPAN else (v.PUD_SPAN,)
        freed = 0
        for span in spans:
            lo, hi = freeing_window(m, v, span, region_end)
            freed = freed + touched_slots(m, v, lo, hi, span)
        out["tables_freed"] = freed
        out["flushes"] = m.where(m.or_(huge > 0, freed > 0), 1, 0)
    else:
        out["flushes"] = m.where(huge > 0, 1, 0)
        if operation == "madvise":
            out["refaults_acting"] = huge
    out["flush_strides"] = flush_stride_count(m, v, leaf)
    return out


# --------------------------------------------------------------------------- PMD sharing


def shared_slot_range(m, v):
    """[first, last): 1 GiB slots wholly inside the hugetlb VMA (want_pmd_share())."""
    vma_end = v.offset_bytes + align_up(m, v.size_bytes, v.PTE_SPAN)
    return align_up(m, v.offset_bytes, v.PMD_SPAN), align_down(m, vma_end, v.PMD_SPAN)


def linked_slots(m, v, lo, hi):
    """Shared slots the acting process links (touched, and procs >= 2) that [lo, hi)
    overlaps: each one huge_pmd_unshare() drops."""
    first, last = shared_slot_range(m, v)
    top = m.min(hi, last, v.touched_end)
    bottom = m.max(lo, first)
    count = m.max(0, m.cdiv(top, v.PMD_SPAN) - m.fdiv(bottom, v.PMD_SPAN))
    return m.where(v.procs >= 2, count, 0)


def split_unshares(m, v, operation: str):
    """(at start, at end, end slot unshared): 1 where the VMA split at that end of the range
    falls inside a linked slot, which hugetlb_split() unshares; the end's split counts
    only when its slot is not the start's (that one is already unshared).  MADV_DONTNEED
    does not split."""
    if operation == "madvise":
        return 0, 0, 0
    vma_end = v.offset_bytes + align_up(m, v.size_bytes, v.PTE_SPAN)

    def splits_a_slot(x):
        return m.and_(x > v.offset_bytes, x < vma_end, align_down(m, x, v.PMD_SPAN) < x,
                      linked_slots(m, v, x, x + 1) > 0)

    at_start = m.where(splits_a_slot(v.start), 1, 0)
    end_slot = m.where(splits_a_slot(v.end), 1, 0)
    same_slot = m.eq(m.fdiv(v.start, v.PMD_SPAN), m.fdiv(v.end, v.PMD_SPAN))
    at_end = m.where(m.and_(m.eq(at_start, 1), same_slot), 0, end_slot)
    return at_start, at_end, end_slot


def pmdshare(m, v, operation: str) -> dict:
    """hugetlb-2m-pmdshare: unsharing in the acting process, refaults, sync IPIs."""
    out = huge_leaf(m, v, operation, v.PTE_SPAN)
    first, last = shared_slot_range(m, v)
    unshared = linked_slots(m, v, v.start, v.end)
    split_start, split_end, end_slot = split_unshares(m, v, operation)
    slot_lo = m.max(align_down(m, v.start, v.PMD_SPAN), first)
    slot_hi = m.min(align_up(m, v.end, v.PMD_SPAN), last)
    if operation == "mprotect":
        # every touched 2 MiB page of the unshared slots refaults, into a new private table
        refault = m.where(unshared > 0, slots(m, slot_lo, m.min(slot_hi, v.touched_end),
                                              v.PTE_SPAN), 0)
        new_tables = unshared
    elif operation == "munmap":
        # the kept parts of the slots split at the range's ends refault; whole slots drop
        head = m.where(split_start > 0, slots(m, align_down(m, v.start, v.PMD_SPAN),
                                              m.min(v.start, v.touched_end), v.PTE_SPAN), 0)
        tail = m.where(end_slot > 0, slots(m, v.end, m.min(align_up(m, v.end, v.PMD_SPAN),
                                                           v.touched_end), v.PTE_SPAN), 0)
        refault = head + tail
        one_slot = m.eq(m.fdiv(v.start, v.PMD_SPAN), m.fdiv(v.end, v.PMD_SPAN))
        new_tables = m.where(one_slot, m.where(refault > 0, 1, 0),
                             m.where(head > 0, 1, 0) + m.where(tail > 0, 1, 0))
        # private (partial) slots' tables freed as for hugetlb-2m, shared ones only dropped
        lo, hi = freeing_window(m, v, v.PMD_SPAN, v.offset_bytes
                                + align_up(m, v.size_bytes, v.PTE_SPAN))
        shared_in_window = m.where(v.procs >= 2, touched_slots(
            m, v, m.max(lo, first), m.min(hi, last), v.PMD_SPAN), 0)
        out["tables_freed"] = out["tables_freed"] - shared_in_window
    # touched huge pages of the range in slots that were not unshared (changed in place)
    in_unshared = m.where(unshared > 0, slots(m, m.max(v.start, slot_lo),
                                              m.min(v.end, slot_hi, v.touched_end),
                                              v.PTE_SPAN), 0)
    private_huge = touched_in_range(m, v, v.PTE_SPAN) - in_unshared
    if operation == "madvise":   # one fault per unshared slot relinks the shared table
        refault = unshared + private_huge
        new_tables = 0
        out["tables_relinked"] = unshared   # huge_pmd_share(): charged again, no new page
    out["refaults_acting"] = refault
    out["tables_unshared"] = unshared
    out["tables_allocated"] = new_tables
    # the gather after the splits flushes if it unshared a slot, changed or zapped a page
    # in place, or freed a table
    main_gather = m.where(m.or_(unshared - split_start - split_end > 0, private_huge > 0,
                                out["tables_freed"] > 0), 1, 0)
    out["flushes"] = split_start + split_end + main_gather
    fully = m.eq(v.procs, 2)
    out["syncs"] = m.where(fully, split_start + split_end
                           + m.where(unshared - split_start - split_end > 0, 1, 0), 0)
    out["syncs_before_fix"] = unshared
    out["flush_strides"] = m.where(unshared > 0, unshared * (v.PMD_SPAN // v.PTE_SPAN),
                                   out["flush_strides"])
    return out


# --------------------------------------------------------------------------- assembly


def range_metrics(m, v, rule: str, operation: str) -> dict:
    """The metrics of one range operation under `rule` (pte4k, threads, mthp:<folio bytes>,
    huge-2m, huge-1g, pmdshare): tables, VmPTE and PageTables (now and after the refaults),
    refaults, flushes and IPIs.  Threads are one mm: "acting" is that mm, there are no
    other processes."""
    if rule in ("pte4k", "threads"):
        out = pte4k(m, v, operation)
    elif rule.startswith("mthp:"):
        out = mthp(m, v, operation, int(rule[len("mthp:"):]))
    elif rule == "pmdshare":
        out = pmdshare(m, v, operation)
    else:
        out = huge_leaf(m, v, operation, v.PTE_SPAN if rule == "huge-2m" else v.PMD_SPAN)
    out.setdefault("tables_unshared", 0)
    out.setdefault("syncs", 0)
    freed, unshared, allocated = out["tables_freed"], out["tables_unshared"], \
        out["tables_allocated"]
    out["vmpte_acting_bytes"] = -(freed + unshared) * v.TABLE
    relinked = out.get("tables_relinked", 0)
    out["vmpte_acting_after_refault_bytes"] = (allocated + relinked - freed - unshared) * v.TABLE
    out["vmpte_others_bytes"] = 0
    out["pagetables_bytes"] = -freed * v.TABLE
    out["pagetables_after_refault_bytes"] = (allocated - freed) * v.TABLE
    out["refaults_others"] = 0
    mm_cpus = m.min(v.host_cpus, v.procs * v.cpus) if rule == "threads" else \
        m.min(v.host_cpus, v.cpus)
    out["tlb_ipis"] = out["flushes"] * (mm_cpus - 1)
    # a flush that frees tables IPIs lazy (idle) CPUs of the mm too (native_flush_tlb_multi()
    # with info->freed_tables); the others reach only CPUs running the mm at that moment
    out["tlb_ipis_min"] = m.where(freed > 0, 1, 0) * (mm_cpus - 1)
    out["call_ipis"] = out["syncs"] * (v.host_cpus - 1)
    return out


def host_range_metrics(m, v, operation: str, variant: str) -> dict:
    """mshare: the change made in the host mm (MSHAREFS_UNMAP / mshare_protect() /
    mshare_advise()), seen by every sharer at once.  The host maps the region from a
    512 GiB boundary; its 4 KiB tables follow the pte4k rules, and no guest is charged.
    v1-v3 flush every CPU (flush_tlb_all() from an mmu notifier); the 2026 proposal flushes
    each sharer's mm in turn."""
    out = pte4k(m, v, operation)
    if operation == "munmap":   # the host range has no neighbours to keep: like madvise
        out["refaults_acting"] = 0
    out["tables_unshared"] = 0
    out["vmpte_acting_bytes"] = 0
    out["vmpte_acting_after_refault_bytes"] = 0
    out["vmpte_others_bytes"] = 0
    out["pagetables_bytes"] = -out["tables_freed"] * v.TABLE
    out["pagetables_after_refault_bytes"] = (out["tables_allocated"]
                                             - out["tables_freed"]) * v.TABLE
    out["refaults_others"] = 0       # the first toucher refaults the host once for all
    invalidations = m.where(out["flushes"] > 0, 1, 0)
    out["flushes"] = invalidations
    out["syncs"] = 0
    if variant == "2026":
        out["tlb_ipis"] = invalidations * (m.min(v.host_cpus, v.procs * v.cpus) - 1)
        out["tlb_ipis_min"] = 0
        out["call_ipis"] = 0
    else:
        out["tlb_ipis"] = out["tlb_ipis_min"] = 0
        out["call_ipis"] = invalidations * (v.host_cpus - 1)
    return out


# --------------------------------------------------------------------------- formulas

RULE_OF_STRATEGY = {"private-4k": "pte4k", "threads": "threads", "thp-shmem": "huge-2m",
                    "hugetlb-2m": "huge-2m", "hugetlb-2m-pmdshare": "pmdshare",
                    "hugetlb-1g": "huge-1g", "thp-shmem-1g": "huge-1g",
                    **{name: f"mthp:{folio}" for name, folio in MTHP_FOLIO_BYTES.items()}}
FORMULA_METRICS = ("tables_freed", "tables_unshared", "tables_allocated",
                   "vmpte_acting_bytes", "vmpte_acting_after_refault_bytes",
                   "pagetables_bytes", "pagetables_after_refault_bytes", "refaults_acting",
                   "flushes", "tlb_ipis", "call_ipis")


def expression(strategy: str, operation: str, metric: str):
    """The sympy expression of one range-operation metric (imports sympy)."""
    rule = RULE_OF_STRATEGY[strategy]
    return range_metrics(sympy_math(), Inputs.symbolic(), rule, operation)[metric]

"""Operation rows of the designs that are not in mainline and have rules of their own:
mshare (v1-v3 and the 2026 proposal, through the process and through the host mm) and the
2026 ptshare prototype (mm/ptshare.c).  Each row cites the posting or code it follows."""

from __future__ import annotations

from ptcalc import catalog, paging
from ptcalc.compute.oprows import METRICS, OperationInputs, blank, finish, steady_rows
from ptcalc.model import operations as ops

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


_PTSHARE_2026_HOOKS = ("mm/ptshare.c hooks only mmap (ptshare_validate_mmap()), the fault "
                       "(ptshare_handle_mm_fault()), the zap and free_pgtables() of an unmap, "
                       "and a write GUP (ptshare_unshare_vma_on_gup())")
_PTSHARE_2026_NA = {
    "mprotect": "the prototype defines no protection change of a shared VMA (" +
                _PTSHARE_2026_HOOKS + "); not modelled",
    "madvise": "the prototype skips zap_pte_range() on a shared VMA "
               "(ptshare_vma_skip_zap_pte_range()), so MADV_DONTNEED cannot drop the shared "
               "PTEs, and it says nothing else about it; not modelled",
    "munmap": "a partial munmap splits the shared VMA, which the prototype does not handle "
              "(ptshare_put_vma() looks the shadow VMA up by the process VMA's start); "
              "only the whole mapping is modelled",
}


def ptshare_2026_row(inputs: OperationInputs, base: dict, here: dict) -> dict:
    """ptshare-2026: munmap of the whole mapping detaches the process from the shared PTE
    tables; mprotect, MADV_DONTNEED and a partial munmap are not defined by the prototype."""
    operation, scenario = inputs.operation, inputs.scenario
    source = catalog.strategy("ptshare-2026").sources[0][1]
    whole = inputs.op_start_bytes == 0 and inputs.op_bytes == scenario.size_bytes
    if not here["applicable"]:
        return blank(**base, applicable=False, reason=here["reason"], source=source,
                      status="proposal")
    if operation != "munmap" or not whole:
        return blank(**base, applicable=False, reason=_PTSHARE_2026_NA[operation],
                      source=source, status="proposal")
    # zap skipped (ptshare_vma_skip_zap_pte_range()); free_pgtables() clears the PMD entries
    # and drops the process's reference on each shared PTE table (ptshare_free_pte_range()),
    # undoing the splice's mm_inc_nr_ptes(): the process loses its whole VmPTE, the host
    # only what one sharer fewer needs (the steady state at procs - 1).  The last sharer's
    # ptshare_put_vma() unmaps the shadow VMA: its mmu notifier IPIs every CPU.
    total_now = here["pt_bytes_total"]
    fewer = steady_rows(scenario, ["ptshare-2026"], scenario.procs - 1)["ptshare-2026"]
    total_there = fewer["pt_bytes_total"] if fewer and fewer["applicable"] else 0
    metrics = dict.fromkeys(METRICS, 0)
    metrics["vmpte_acting_bytes"] = metrics["vmpte_acting_after_refault_bytes"] = \
        -here["pt_bytes_per_process"]
    metrics["pagetables_bytes"] = metrics["pagetables_after_refault_bytes"] = \
        total_there - total_now
    metrics["tables_freed"] = (total_now - total_there) // paging.TABLE_BYTES
    metrics["flushes"] = 1
    metrics["tlb_ipis"] = metrics["tlb_ipis_min"] = min(inputs.total_cpus, inputs.cpus) - 1
    last = scenario.procs == 1
    metrics["call_ipis"] = (inputs.total_cpus - 1) if last else 0
    scope = "the acting mm's CPUs (the gather frees its tables)"
    if last:
        scope += "; the shadow VMA goes too: on_each_cpu() flushes every CPU"
    row = blank(**base, applicable=True, path="process: detach", status="proposal",
                 source="mm/ptshare.c ptshare_vma_skip_zap_pte_range(), "
                        f"ptshare_free_pte_range(), ptshare_put_vma() ({source})",
                 flush="1 x full (the mm's whole TLB)", flush_scope=scope)
    return finish(row, metrics)


def mshare_rows(inputs: OperationInputs, base: dict) -> list[dict]:
    operation = inputs.operation
    rows = []
    whole = inputs.op_start_bytes == 0 and inputs.op_bytes >= inputs.scenario.size_bytes
    if operation == "munmap" and whole:
        # the process only unlinks its top-level entries (mshare_vm_op_unshare_page_range())
        row = blank(**dict(base, variant="v1-v3"), applicable=True, path="process: unlink",
                     status="proposal", source=_MSHARE_V3 + " mshare_vm_op_unshare_page_range()",
                     flush="1 x ranged", flush_scope="the acting mm's CPUs")
        metrics = dict.fromkeys(METRICS, 0)
        metrics["flushes"] = 1
        metrics["tlb_ipis"] = min(inputs.total_cpus, inputs.cpus) - 1
        rows.append(finish(row, metrics))
    else:
        rows.append(blank(**dict(base, variant="v1-v3"), applicable=False, status="proposal",
                           reason=_MSHARE_PROCESS_NA[operation], source=_MSHARE_V3))
    host = inputs.values(offset_bytes=0)   # the host maps the region from a 512 GiB boundary
    for variant in ("v1-v3", "2026"):
        path, reason, source = _MSHARE_HOST[(operation, variant)]
        row = dict(base, variant=f"{variant}, host")
        if reason:
            rows.append(blank(**row, applicable=False, reason=reason, source=source,
                               status="proposal"))
            continue
        metrics = ops.host_range_metrics(ops.IntMath, host, operation, variant)
        scope = ("every CPU of the host: flush_tlb_all() from the host mm's mmu notifier"
                 if variant == "v1-v3" else "each sharer's mm in turn (per-sharer list)")
        out = blank(**row, applicable=True, path=path, status="proposal", source=source,
                     flush_scope=scope if metrics["flushes"] else "no flush",
                     flush=("none" if not metrics["flushes"] else
                            "1 x full, every CPU" if variant == "v1-v3" else
                            f"{inputs.scenario.procs} x full, one per sharer"))
        rows.append(finish(out, metrics))
    return rows

"""Operations (mprotect, munmap, MADV_DONTNEED, fork, exit): hand-derived cases, a slot-by-slot
simulator written independently of the closed forms, the sympy twin, and the row contract."""

from __future__ import annotations

import itertools
import json

import pytest

from ptcalc.compute.forkcost import fork_cost, heap_tables
from ptcalc.compute.operations import OPERATIONS, make_inputs, operation_rows
from ptcalc.errors import InputError
from ptcalc.inputs.scenario import make_scenario
from ptcalc.model import operations as ops
from ptcalc.model.strategies import STRATEGY_NAMES
from tests.conftest import GiB, KiB, MiB, run_cli

PAGE, P, G = 4 * KiB, 2 * MiB, GiB


def rows(operation, size, procs, at=0, length=None, access="write", offset=0, touched=1.0,
         host_cpus=2, cpus=1, strategies=STRATEGY_NAMES):
    scenario = make_scenario(size, procs, offset, touched, access)
    inputs = make_inputs(operation, scenario, at, length, cpus, host_cpus)
    out = {}
    for row in operation_rows(inputs, strategies):
        out.setdefault(row["strategy"], []).append(row)
    return out


def one(operation, strategy, *args, **kwargs):
    (row,) = rows(operation, *args, strategies=(strategy,), **kwargs)[strategy]
    return row


# --------------------------------------------------------------------------- by hand


def test_mprotect_inside_two_shared_slots_unshares_both_in_the_actor_only():
    # 3 GiB at 0: slots [0,1G) [1G,2G) [2G,3G) all shared.  mprotect [0.5G, 1.5G) splits the
    # VMA inside slots 0 and 1 (hugetlb_split unshares each), so 2 slots: VmPTE -2 x 4 KiB;
    # refault: every 2 MiB page of both slots, 2 x 512 = 1024, into 2 new private tables.
    row = one("mprotect", "hugetlb-2m-pmdshare", 3 * G, 2, G // 2, G)
    assert row["tables_unshared"] == 2
    assert row["vmpte_acting_bytes"] == -8 * KiB
    assert row["refaults_acting"] == 1024
    assert row["vmpte_acting_after_refault_bytes"] == 0
    assert row["pagetables_bytes"] == 0 and row["pagetables_after_refault_bytes"] == 8 * KiB
    assert row["vmpte_others_bytes"] == 0 and row["refaults_others"] == 0
    # procs == 2: each split's gather leaves the other process the table's only user, so
    # one sync IPI each to the one other CPU of a 2-CPU host; nothing else is unshared.
    assert row["call_ipis"] == 2 and row["tlb_ipis"] == 0
    # with a third sharer no table becomes exclusive: no sync IPI (8ce720d5bd91)
    assert one("mprotect", "hugetlb-2m-pmdshare", 3 * G, 3, G // 2, G)["call_ipis"] == 0


def test_munmap_of_part_and_of_a_whole_slot():
    # part: the kept halves of slots 0 and 1 refault, 256 + 256 pages, into 2 private tables
    row = one("munmap", "hugetlb-2m-pmdshare", 3 * G, 2, G // 2, G)
    assert (row["tables_unshared"], row["refaults_acting"], row["tables_allocated"]) == (2, 512, 2)
    # whole slot 1: dropped (-4 KiB), nothing refaults, one gather -> one sync IPI
    row = one("munmap", "hugetlb-2m-pmdshare", 3 * G, 2, G, G)
    assert (row["vmpte_acting_bytes"], row["refaults_acting"], row["call_ipis"]) == (-4096, 0, 1)


def test_dontneed_of_hugetlb_relinks_with_one_fault_per_slot():
    row = one("madvise", "hugetlb-2m-pmdshare", 3 * G, 2, G // 2, P)
    assert (row["vmpte_acting_bytes"], row["refaults_acting"]) == (-4096, 1)
    # the refault links the shared table again: charged 4 KiB again, no new page
    assert row["vmpte_acting_after_refault_bytes"] == 0
    assert row["tables_allocated"] == 0 and row["pagetables_after_refault_bytes"] == 0


def test_dontneed_frees_pte_tables_only_from_2mib():
    # [2 MiB, 6 MiB) covers two whole PTE tables: both freed (PT_RECLAIM); read refaults one
    # per 64 KiB fault-around window: 4 MiB / 64 KiB = 64
    row = one("madvise", "private-4k", 64 * MiB, 2, 2 * MiB, 4 * MiB, access="read")
    assert (row["tables_freed"], row["vmpte_acting_bytes"], row["refaults_acting"]) == \
        (2, -8 * KiB, 64)
    row = one("madvise", "private-4k", 64 * MiB, 2, 2 * MiB, MiB, access="read")
    assert (row["tables_freed"], row["refaults_acting"]) == (0, 16)
    # 3 MiB from 1 MiB covers [2 MiB, 4 MiB) whole: one table, although unaligned
    assert one("madvise", "private-4k", 64 * MiB, 2, MiB, 3 * MiB)["tables_freed"] == 1


def test_munmap_4k_frees_tables_inside_the_floor_and_ceiling():
    # [2 MiB, 22 MiB) of 64 MiB: 10 PTE tables; the PMD table stays (the region's rest maps it)
    assert one("munmap", "private-4k", 64 * MiB, 2, 2 * MiB, 20 * MiB)["tables_freed"] == 10
    # the whole region: 32 PTE + 1 PMD + 1 PUD tables (it is alone in its 512 GiB slot)
    assert one("munmap", "private-4k", 64 * MiB, 2)["tables_freed"] == 34
    # threads: one mm on 2 CPUs, each flush IPIs the other one
    row = one("munmap", "threads", 64 * MiB, 2, 2 * MiB, 4 * MiB, access="read")
    assert row["tlb_ipis"] == row["flushes"] == 1


def test_fork_and_exit_follow_the_steady_state_model(model_rows):
    steady = model_rows(size=3 * G, procs=2)
    row = one("fork", "hugetlb-2m-pmdshare", 3 * G, 2)
    assert row["tables_copied"] == 0                       # vma_needs_copy(): no anon_vma
    assert row["refaults_acting"] == steady["hugetlb-2m-pmdshare"]["faults_next"] == 3
    assert row["vmpte_acting_after_refault_bytes"] == 16 * KiB    # 3 shared PMD + 1 PUD
    row = one("exit", "hugetlb-2m-pmdshare", 3 * G, 2)
    assert row["call_ipis"] == 1 and row["tables_unshared"] == 3
    assert one("exit", "hugetlb-2m-pmdshare", 3 * G, 3)["call_ipis"] == 0
    assert one("fork", "threads", 3 * G, 2)["refaults_acting"] == 0


def test_redis_fork_copies_48_mb_for_a_24_gb_heap():
    # Redis latency docs: "24 GB / 4 kB * 8 = 48 MB" of page tables; ptcalc adds PMD/PUD
    tables, ptes = heap_tables(24 * 10**9)
    assert ptes == 5859375 and tables == 11445 + 23 + 1
    cost = fork_cost(24 * 10**9, {"ms_per_gib_of_tables": 1000.0, "host": "h",
                                  "kernel": "k", "date": "d"})
    assert cost["latency_ms"] == pytest.approx(1000.0 * tables * 4096 / GiB)
    assert cost["redis_docs_ms"] == pytest.approx((216.0, 314.4))


# --------------------------------------------------------------------------- simulator


def simulate_pmdshare(size, offset, touched, procs, start, length, operation):
    """Slot by slot, from the kernel's rules, without the closed forms."""
    vma_end = offset + -(-size // P) * P
    end_touch = offset + touched
    a, e = offset + start, offset + start + length
    unshared = refault = 0
    for k in range(offset // G, -(-vma_end // G)):
        lo, hi = k * G, (k + 1) * G
        shared = lo >= offset and hi <= vma_end and procs >= 2
        has_table = lo < end_touch
        if not (shared and has_table and lo < e and hi > a):
            continue
        unshared += 1
        pages = list(range(lo, min(hi, end_touch), P))
        if operation == "mprotect":
            refault += len(pages)
        elif operation == "munmap":
            refault += sum(1 for p in pages if p < a or p >= e)
        else:
            refault += 1
    if operation == "madvise":   # private (partial-slot) huge pages in the range
        for p in range(a, min(e, end_touch), P):
            k = p // G
            if not (k * G >= offset and (k + 1) * G <= vma_end and procs >= 2):
                refault += 1
    return unshared, refault


@pytest.mark.parametrize("operation", ["mprotect", "munmap", "madvise"])
def test_pmdshare_against_the_simulator(operation):
    sizes = (G, 3 * G, 3 * G + 4 * P)
    offsets = (0, G // 2, 5 * P)
    for size, offset, procs in itertools.product(sizes, offsets, (1, 2, 3)):
        for touched in (size, size // 2 // P * P):
            for start, length in ((0, P), (G // 2, G), (G, G), (0, size), (P, size - 2 * P)):
                if start + length > size or length <= 0:
                    continue
                row = one(operation, "hugetlb-2m-pmdshare", size, procs, start, length,
                          offset=offset, touched=touched / size)
                want = simulate_pmdshare(size, offset, row_touched(size, touched), procs,
                                         start, length, operation)
                assert (row["tables_unshared"], row["refaults_acting"]) == want, \
                    (size, offset, procs, touched, start, length)


def row_touched(size, touched):
    return make_scenario(size, 1, 0, touched / size).touched_bytes


def simulate_4k_freed(size, offset, touched, start, length, operation):
    a, e = offset + start, offset + start + length
    end_touch = offset + touched
    freed = 0
    spans = (P,) if operation == "madvise" else (P, G, 512 * G)
    for span in spans:
        floor = a if start > 0 else 0
        ceiling = e if start + length < size else 1 << 60
        if operation == "madvise":
            floor, ceiling = a, e
        for k in range(offset // span, -(-(offset + size) // span)):
            lo, hi = k * span, (k + 1) * span
            if lo >= floor and hi <= ceiling and lo < end_touch and hi > offset \
                    and lo < e and hi > a:
                freed += 1
    return freed


@pytest.mark.parametrize("operation", ["munmap", "madvise"])
def test_4k_freed_tables_against_the_simulator(operation):
    for size, offset in itertools.product((8 * MiB, G + 6 * MiB), (0, 4 * KiB, P + 64 * KiB)):
        for start, length in ((0, 3 * MiB), (MiB, 3 * MiB), (2 * MiB, 4 * MiB),
                              (0, size), (64 * KiB, size - 64 * KiB), (2 * MiB, MiB)):
            if start + length > size:
                continue
            got = one(operation, "private-4k", size, 2, start, length, offset=offset)
            assert got["tables_freed"] == simulate_4k_freed(size, offset, size, start, length,
                                                            operation), (size, offset, start)


def test_sympy_twin_equals_the_int_evaluation():
    import sympy as sp

    values = {"size_bytes": 3 * G, "offset_bytes": G // 2, "touched_bytes": 2 * G,
              "procs": 2, "read_access": 0, "op_start_bytes": G // 2, "op_bytes": G,
              "cpus": 2, "host_cpus": 4, "fault_around_bytes": 65536}
    ints = ops.range_metrics(ops.IntMath, ops.Inputs(**values), "pmdshare", "mprotect")
    symbolic = ops.Inputs.symbolic()
    from ptcalc.model import symbols as S

    subs = {getattr(symbolic, k): v for k, v in values.items()}
    subs.update(dict(S.CONSTANTS.items()))
    subs[symbolic.FLUSH_CEILING] = ops.FLUSH_CEILING
    # every metric of one operation at once: ops.expression() builds them all for each one
    rule = ops.RULE_OF_STRATEGY["hugetlb-2m-pmdshare"]
    exprs = ops.range_metrics(ops.sympy_math(), symbolic, rule, "mprotect")
    for metric in ops.FORMULA_METRICS:
        assert int(sp.sympify(exprs[metric]).xreplace(subs)) == ints[metric], metric


# --------------------------------------------------------------------------- contract


def test_every_strategy_has_a_row_for_every_operation_with_a_source_or_reason():
    for operation in OPERATIONS:
        got = rows(operation, 3 * G, 4, G // 2, G)
        assert set(got) == set(STRATEGY_NAMES), operation
        for strategy, these in got.items():
            for row in these:
                assert row["source"] or row["reason"], (operation, strategy)
                if not row["applicable"]:
                    assert row["reason"] and "\n" not in row["reason"]


def test_mshare_rows_say_proposal_and_flush_every_cpu_in_v1_v3():
    (process, v3, v2026) = rows("munmap", 3 * G, 4, G // 2, G, host_cpus=8)["mshare"]
    assert not process["applicable"] and "EINVAL" in process["reason"]
    assert v3["status"] == "proposal" and v3["call_ipis"] == 7      # flush_tlb_all()
    assert not v2026["applicable"]
    (_, _, protect) = rows("mprotect", 3 * G, 4, G // 2, G, host_cpus=8, cpus=2)["mshare"]
    assert protect["tlb_ipis"] == 4 * 2 - 1 and "lwn.net/Articles/1072333" in protect["source"]


def test_bad_ranges_are_input_errors():
    scenario = make_scenario(3 * G, 2)
    with pytest.raises(InputError, match="leaves"):
        make_inputs("munmap", scenario, 2 * G, 2 * G)
    with pytest.raises(InputError, match="4 KiB"):
        make_inputs("munmap", scenario, 1, P)
    with pytest.raises(InputError, match="cpus"):
        make_inputs("munmap", scenario, 0, P, cpus=0)


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json"])
def test_cli_every_format(fmt):
    code, out, err = run_cli("op", "mprotect", "--size", "3GiB", "--procs", "2", "--at",
                             "512MiB", "--bytes", "1GiB", "--host-cpus", "2", "-f", fmt)
    assert code == 0, err
    if fmt == "json":
        data = json.loads(out)
        (row,) = [r for r in data if r["strategy"] == "hugetlb-2m-pmdshare"]
        assert row["tables_unshared"] == 2 and row["refaults_acting"] == 1024
    elif fmt == "csv":
        assert out.splitlines()[0].startswith("strategy,variant,operation")
    else:
        assert "hugetlb-2m-pmdshare" in out and "1,024" in out and "source (" in out


def test_cli_errors_and_formula():
    code, _, err = run_cli("op", "mprotect", "--size", "3GiB", "--procs", "2", "--bytes",
                           "4GiB")
    assert code == 2 and "leaves" in err and "Traceback" not in err
    code, _, err = run_cli("op", "frobnicate", "--size", "1GiB", "--procs", "2")
    assert code == 2
    code, out, _ = run_cli("op", "mprotect", "--size", "1GiB", "--procs", "2", "-s",
                           "hugetlb-2m-pmdshare", "--formula", "tables_unshared")
    assert code == 0 and "PMD_SPAN" in out


def test_cli_fork_heap_shows_the_redis_docs_next_to_it():
    code, out, err = run_cli("op", "fork", "--size", "1GiB", "--procs", "2", "--heap",
                             "24000000000")
    assert code == 0, err
    assert "9-13 ms per GB" in out and "redis.io" in out and "11,469 tables" in out


def test_what_changes_cost_has_a_line_per_operation():
    from ptcalc.present.operations import what_changes_cost

    lines = what_changes_cost(make_scenario(3 * G, 2), host_cpus=2)
    assert [line.split(" ")[0] for line in lines[:5]] == list(OPERATIONS)
    # madvise of the first GiB unshares slot 0 (procs 2: one sync IPI) and relinks with 1 fault
    assert "hugetlb-2m-pmdshare: tables 1 unshared, VmPTE -4 KiB -> 0 B, 1 refaults, 1 IPIs" \
        in lines[4]

"""TLB reach, coverage, walk references and walk footprint (ptcalc.model.tlb).

Expected values are derived by hand from the data files: reach = entries x page size, with the
entry counts and their sources quoted in the comments.
"""

from __future__ import annotations

import pandas as pd
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from ptcalc.compute import _compiled, formulas
from ptcalc.compute import tlb as tlb_columns
from ptcalc.cpus.load import cpu_names, load_cpu
from ptcalc.errors import InputError
from ptcalc.model import tlb

KiB, MiB, GiB = 2**10, 2**20, 2**30
SIZE = {"4k": 4 * KiB, "2m": 2 * MiB, "1g": GiB}


def row(strategy, touched, m4k=0, m2m=0, m1g=0, leaf=None, pt=0):
    sizes = tlb.STRATEGY_PAGE_SIZES[strategy]
    if leaf is None:
        leaf = SIZE[max(sizes, key=SIZE.get)]
    if len(sizes) == 1 and not (m4k or m2m or m1g):
        m4k, m2m, m1g = ((touched if sizes[0] == s else 0) for s in ("4k", "2m", "1g"))
    return {"strategy": strategy, "touched_bytes": touched, "mapped_4k_bytes": m4k,
            "mapped_2m_bytes": m2m, "mapped_1g_bytes": m1g, "leaf_page_bytes": leaf,
            "pt_bytes_total": pt}


def metrics(cpu, *rows, **options):
    frame = pd.DataFrame(list(rows))
    return tlb_columns.tlb_metrics(frame, cpu, **options)


def one(cpu, strategy, touched=300 * GiB, **options):
    return metrics(cpu, row(strategy, touched), **options).iloc[0]


# ---------------------------------------------------------------------------------------------
# Reference figures, derived by hand


def test_skylake_sp_private_4k_reach():
    result = one("skylake-sp", "private-4k")
    # L1 DTLB 4K: 64 entries (CPUID leaf 2 descriptor 0x03, InstLatx64 Xeon Gold 6154 dump)
    # x 4096 B = 262144 B = 256 KiB.
    assert result.tlb_reach_l1_bytes == 64 * 4096 == 256 * KiB
    # STLB 4K+2M pool: 1536 entries (descriptor 0xC3; optimization manual table 2-15)
    # x 4096 B = 6291456 B = 6 MiB.
    assert result.tlb_reach_l2_bytes == 1536 * 4096 == 6 * MiB


def test_skylake_sp_hugetlb_1g_reach():
    result = one("skylake-sp", "hugetlb-1g")
    # L1 DTLB 1G: 4 entries (descriptor 0x63) x 1 GiB = 4 GiB.
    assert result.tlb_reach_l1_bytes == 4 * GiB
    # STLB 1G: 16 entries (descriptor 0xC3 "Also 1GByte pages, 4-way, 16 entries") = 16 GiB.
    assert result.tlb_reach_l2_bytes == 16 * GiB


def test_zen3_private_4k_l2_reach():
    # L2 DTLB 4K+2M pool: 2048 entries (CPUID 0x80000006 EBX = 68004200 on an EPYC 7713)
    # x 4096 B = 8 MiB.
    assert one("zen3", "private-4k").tlb_reach_l2_bytes == 2048 * 4096 == 8 * MiB


@pytest.mark.parametrize("strategy, refs4, refs5", [
    ("private-4k", 4, 5),      # PGD, PUD, PMD, PTE (+ PML5 with LA57)
    ("hugetlb-2m", 3, 4),      # the walk ends at the PMD
    ("hugetlb-1g", 2, 3),      # the walk ends at the PUD
])
def test_walk_refs_native(strategy, refs4, refs5):
    assert one("skylake-sp", strategy).walk_refs == refs4
    assert one("icelake-sp", strategy, paging_levels=5).walk_refs == refs5
    assert tlb.tlb_expression("walk_refs", strategy=strategy) == refs4
    assert tlb.tlb_expression("walk_refs", strategy=strategy, paging_levels=5) == refs5


@pytest.mark.parametrize("strategy, host_page, levels, host_levels, expected", [
    # (g + 1)(h + 1) - 1; Intel "Calculating Page Table Walks": 24 for 4K/4K, 15 for 2M/2M.
    ("private-4k", 4 * KiB, 4, None, 24),
    ("hugetlb-2m", 2 * MiB, 4, None, 15),
    ("private-4k", 2 * MiB, 4, None, 19),     # (4+1)(3+1)-1
    ("hugetlb-2m", 4 * KiB, 4, None, 19),     # (3+1)(4+1)-1
    ("hugetlb-1g", GiB, 4, None, 8),          # (2+1)(2+1)-1
    ("private-4k", 4 * KiB, 5, None, 35),     # (5+1)(5+1)-1
    ("private-4k", 4 * KiB, 4, 5, 29),        # 4-level guest on a 5-level host: (4+1)(5+1)-1
])
def test_walk_refs_virtualized(strategy, host_page, levels, host_levels, expected):
    options = {"paging_levels": levels, "virtualized": True, "host_page_bytes": host_page,
               "host_paging_levels": host_levels}
    assert one("icelake-sp", strategy, **options).walk_refs == expected
    # The expression keeps the (g + 1)(h + 1) - 1 shape for display; doit() evaluates it.
    shown = tlb.tlb_expression("walk_refs", strategy=strategy, **options)
    assert shown.doit() == expected


def test_five_level_paging_needs_la57():
    with pytest.raises(InputError, match="LA57"):
        one("skylake-sp", "private-4k", paging_levels=5)


# ---------------------------------------------------------------------------------------------
# Mixes of page sizes, pools, smashing, absent sizes


def test_thp_mix_on_split_l1_and_pooled_stlb():
    # thp-shmem, 300 GiB touched: 300 GiB - 4 MiB as 2 MiB pages, a 4 MiB unaligned 4K tail.
    result = metrics("skylake-sp", row("thp-shmem", 300 * GiB, m4k=4 * MiB,
                                       m2m=300 * GiB - 4 * MiB)).iloc[0]
    # L1 arrays are separate: 32 x 2 MiB (unbounded, the region grows in 2M pages)
    # + min(64 x 4 KiB, 4 MiB of 4K pages) = 64 MiB + 256 KiB.
    assert result.tlb_reach_l1_bytes == 32 * 2 * MiB + 64 * 4 * KiB
    # The 1536-entry STLB pool serves 2 MiB pages first, all of it: 1536 x 2 MiB = 3 GiB.
    assert result.tlb_reach_l2_bytes == 1536 * 2 * MiB
    assert result.walk_refs == 3              # most bytes are 2 MiB-mapped
    # Coverage: max(L1 64.25 MiB, L2 3 GiB capped to the mapped 2M bytes) / 300 GiB.
    assert result.tlb_coverage == pytest.approx(1536 * 2 * MiB / (300 * GiB))


def test_thp_mix_on_icelake_two_stlb_arrays():
    result = metrics("icelake-sp", row("thp-shmem", 300 * GiB, m4k=4 * MiB,
                                       m2m=300 * GiB - 4 * MiB)).iloc[0]
    # 2 MiB pages fill the 1024-entry 4K/2M array (2 GiB); the 4 MiB of 4K pages take
    # min(1024 x 4 KiB, 4 MiB) = 4 MiB of the 1024-entry 4K/1G array.
    assert result.tlb_reach_l2_bytes == 1024 * 2 * MiB + 4 * MiB


def test_thp_small_tail_and_unaligned_mapping():
    # A tiny 4K remainder only gets the entries it can use: 8 KiB, not 256 KiB.
    small = metrics("skylake-sp", row("thp-shmem", 64 * MiB + 8 * KiB, m4k=8 * KiB,
                                      m2m=64 * MiB)).iloc[0]
    assert small.tlb_reach_l1_bytes == 32 * 2 * MiB + 8 * KiB
    # Pool: 2 MiB pages take all 1536 entries (unbounded), nothing is left for 4K.
    assert small.tlb_reach_l2_bytes == 1536 * 2 * MiB
    # Misaligned VA vs file offset: no 2 MiB mapping at all, thp-shmem is 4K-only.
    fallback = metrics("skylake-sp", row("thp-shmem", GiB, m4k=GiB)).iloc[0]
    assert (fallback.tlb_reach_l1_bytes, fallback.tlb_reach_l2_bytes) == (256 * KiB, 6 * MiB)
    assert fallback.walk_refs == 4


def test_pool_mix_coverage_counts_4k_in_what_2m_leaves():
    # Skylake STLB pool, 10 MiB of 2M pages (5 entries) + 1 MiB of 4K pages (256 entries):
    # all fit in 1536 entries, so the TLBs cover the whole 11 MiB.
    result = metrics("skylake-sp", row("thp-shmem", 11 * MiB, m4k=MiB, m2m=10 * MiB)).iloc[0]
    assert result.tlb_coverage == 1.0


def test_zen2_holds_1g_pages_as_2m_l2_entries():
    # Zen 2 L2 DTLB: 2048 entries, 1 GiB pages smashed into 2 MiB entries (vendor text on
    # WikiChip): 2048 x 2 MiB = 4 GiB; L1 (64-entry pool holding 1G): 64 GiB.
    result = one("zen2", "hugetlb-1g")
    assert result.tlb_reach_l2_bytes == 2048 * 2 * MiB == 4 * GiB
    assert result.tlb_reach_l1_bytes == 64 * GiB


def test_levels_without_1g_entries():
    # Haswell STLB (descriptor 0xC1) and Zen 5 L2 (Hot Chips 2024) hold no 1 GiB pages.
    haswell = one("haswell-ep", "hugetlb-1g", touched=8 * GiB)
    assert haswell.tlb_reach_l2_bytes == 0
    assert haswell.tlb_reach_l1_bytes == 4 * GiB          # 4-entry L1 1G array
    assert haswell.tlb_coverage == pytest.approx(0.5)     # the L1 covers 4 of 8 GiB
    zen5 = one("zen5", "hugetlb-1g")
    assert (zen5.tlb_reach_l1_bytes, zen5.tlb_reach_l2_bytes) == (96 * GiB, 0)


def test_coverage_single_size_is_min_one_reach_over_touched():
    cases = metrics("skylake-sp", row("private-4k", MiB), row("private-4k", 12 * MiB),
                    row("private-4k", 0))
    assert list(cases.tlb_coverage) == [1.0, 0.5, 1.0]   # 6 MiB L2 reach over 12 MiB = 0.5


def test_nothing_mapped_uses_the_nominal_leaf():
    result = metrics("skylake-sp", row("hugetlb-2m", 0, leaf=2 * MiB)).iloc[0]
    assert result.tlb_reach_l2_bytes == 1536 * 2 * MiB and result.walk_refs == 3


# ---------------------------------------------------------------------------------------------
# Walk footprint


def test_walk_footprint_is_pt_bytes_total_and_ratio_against_llc():
    rows = [row("private-4k", 300 * GiB, pt=879 * GiB), row("threads", 300 * GiB, pt=600 * MiB)]
    result = metrics("skylake-sp", *rows)
    assert list(result.pt_walk_footprint_bytes) == [879 * GiB, 600 * MiB]
    # Gold 6154 L3: 11 ways x 64 B x 36864 sets = 25952256 B (CPUID leaf 4 subleaf 3).
    assert list(result.pt_walk_footprint_llc_ratio) == pytest.approx(
        [879 * GiB / 25952256, 600 * MiB / 25952256])
    override = metrics("skylake-sp", *rows, llc_bytes=600 * MiB)
    assert override.pt_walk_footprint_llc_ratio.iloc[1] == 1.0


# ---------------------------------------------------------------------------------------------
# Frame contract


def test_result_is_row_aligned_typed_and_complete():
    mixed = ("thp-shmem", "thp-shmem-1g")
    frame = pd.DataFrame([row(s, 3 * GiB + 4 * KiB, pt=s.count("-") * MiB)
                          for s in tlb.STRATEGY_PAGE_SIZES if s not in mixed]
                         + [row("thp-shmem", 3 * GiB, m4k=4 * MiB, m2m=3 * GiB - 4 * MiB),
                            row("thp-shmem-1g", 3 * GiB + 6 * MiB, m4k=2 * MiB, m2m=4 * MiB,
                                m1g=3 * GiB)],
                         index=[f"r{i}" for i in range(len(tlb.STRATEGY_PAGE_SIZES))])
    for name in cpu_names():
        result = tlb_columns.tlb_metrics(frame, load_cpu(name))
        assert list(result.columns) == list(tlb.METRIC_NAMES)
        assert list(result.index) == list(frame.index)
        for column in ("tlb_reach_l1_bytes", "tlb_reach_l2_bytes", "walk_refs",
                       "pt_walk_footprint_bytes"):
            assert result[column].dtype == "int64", (name, column)
        assert ((result.tlb_coverage > 0) & (result.tlb_coverage <= 1)).all()
        assert (result.tlb_reach_l2_bytes >= 0).all()


def test_huge_values_stay_exact():
    result = metrics("zen4", row("private-4k", 2**70, pt=2**68 + 1)).iloc[0]
    assert result.pt_walk_footprint_bytes == 2**68 + 1


def test_missing_columns_and_bad_options():
    with pytest.raises(ValueError, match="pt_bytes_total"):
        tlb_columns.tlb_metrics(
            pd.DataFrame([row("private-4k", GiB)]).drop(columns="pt_bytes_total"), "skylake-sp")
    with pytest.raises(InputError, match="unknown CPU"):
        one("pentium", "private-4k")
    with pytest.raises(InputError, match="4 KiB, 2 MiB or 1 GiB"):
        one("skylake-sp", "private-4k", virtualized=True, host_page_bytes=65536)
    with pytest.raises(InputError, match="unknown TLB metric"):
        tlb.tlb_expression("tlb_reach_l3_bytes")
    with pytest.raises(InputError, match="unknown strategy"):
        tlb.tlb_expression("walk_refs", strategy="private-8k")


def test_every_shipped_cpu_uses_generated_code():
    # codegen compiled one function per TLB shape of models/cpus: no CPU file needs sympy.
    for name in cpu_names():
        function = formulas.tlb_function(load_cpu(name))
        assert function in _compiled.TLB_SHAPES.values(), name


def test_a_cpu_of_a_new_shape_is_compiled_with_the_same_printer():
    import dataclasses

    cpu = load_cpu("skylake-sp")
    # The L1 arrays in reverse order: a shape no shipped file has.
    l1 = dataclasses.replace(cpu.l1_dtlb, arrays=cpu.l1_dtlb.arrays[::-1])
    odd = dataclasses.replace(cpu, l1_dtlb=l1)
    function = formulas.tlb_function(odd)
    assert function not in _compiled.TLB_SHAPES.values()
    assert formulas.tlb_function(odd) is function           # compiled once
    mixed = row("thp-shmem", 3 * GiB, m4k=4 * MiB, m2m=3 * GiB - 4 * MiB)
    assert (metrics(odd, mixed).iloc[0].to_dict() == metrics(cpu, mixed).iloc[0].to_dict())


# ---------------------------------------------------------------------------------------------
# Expressions shown by `ptcalc formula`


def test_generic_expressions_name_entries_per_level_and_size():
    l1 = tlb.tlb_expression("tlb_reach_l1_bytes", strategy="private-4k")
    assert l1 == sp.Symbol("l1_entries_4k", integer=True, nonnegative=True) * 4096
    l2 = tlb.tlb_expression("tlb_reach_l2_bytes", strategy="hugetlb-1g")
    assert str(l2) == "1073741824*l2_entries_1g"
    ratio = tlb.tlb_expression("pt_walk_footprint_llc_ratio")
    assert str(ratio) == "pt_bytes_total/llc_bytes"


def test_cpu_symbols_and_their_values_give_the_numeric_form():
    cpu = load_cpu("skylake-sp")
    symbolic = tlb.tlb_expression("tlb_reach_l2_bytes", cpu, strategy="thp-shmem",
                                  numeric=False)
    assert "l2_entries_4k_2m" in str(symbolic)
    values = tlb.cpu_parameters(cpu)
    assert values["l2_entries_4k_2m"] == 1536 and values["llc_bytes"] == 25952256
    substituted = symbolic.subs({sp.Symbol(k, integer=True, nonnegative=True): v
                                 for k, v in values.items()})
    assert substituted == tlb.tlb_expression("tlb_reach_l2_bytes", cpu, strategy="thp-shmem")
    assert substituted == 1536 * 2 * MiB


def test_metric_docs_give_equation_units_and_source():
    for name in tlb.METRIC_NAMES:
        doc = tlb.metric_doc(name)
        assert "Units:" in doc and "Source" in doc, name


# ---------------------------------------------------------------------------------------------
# Property: the compiled formulas agree with a page-by-page placement


def brute_cover(level, pages):
    """Place pages one at a time, largest first, into arrays with a free entry (arrays holding
    fewer sizes first); a smashed page needs one entry per fragment.  Returns bytes covered."""
    free = [array.entries for array in level.arrays]
    order = sorted(range(len(level.arrays)), key=lambda i: len(level.arrays[i].held_sizes))
    covered = 0
    for size in ("1g", "2m", "4k"):
        for _ in range(pages.get(size, 0)):
            fragments = 0
            fragment_bytes = None
            for i in order:
                granule = level.arrays[i].granule_bytes(size)
                if granule is None:
                    continue
                fragment_bytes = granule
                while free[i] and fragments < SIZE[size] // granule:
                    free[i] -= 1
                    fragments += 1
            if fragment_bytes is not None:
                covered += fragments * fragment_bytes
    return covered


@settings(max_examples=60, deadline=None)
@given(cpu_name=st.sampled_from(["skylake-sp", "icelake-sp", "zen2", "zen3", "haswell-ep"]),
       pages_4k=st.integers(0, 2500), pages_2m=st.integers(0, 1500), pages_1g=st.integers(0, 3))
def test_coverage_matches_page_by_page_placement(cpu_name, pages_4k, pages_2m, pages_1g):
    cpu = load_cpu(cpu_name)
    m4k, m2m, m1g = pages_4k * SIZE["4k"], pages_2m * SIZE["2m"], pages_1g * SIZE["1g"]
    touched = m4k + m2m + m1g
    frame = pd.DataFrame([{"strategy": "mix", "touched_bytes": touched, "mapped_4k_bytes": m4k,
                           "mapped_2m_bytes": m2m, "mapped_1g_bytes": m1g,
                           "leaf_page_bytes": 4096, "pt_bytes_total": 0}])
    result = tlb_columns.tlb_metrics(frame, cpu).iloc[0]
    pages = {"4k": pages_4k, "2m": pages_2m, "1g": pages_1g}
    covered = max(brute_cover(cpu.l1_dtlb, pages), brute_cover(cpu.l2_tlb, pages))
    expected = 1.0 if touched == 0 else min(1.0, covered / touched)
    assert result.tlb_coverage == pytest.approx(expected, rel=1e-12)
    # Reach (largest size unbounded) is never below what the mapped pages can use.
    assert result.tlb_reach_l2_bytes >= brute_cover(cpu.l2_tlb, pages)
    assert result.tlb_reach_l1_bytes >= brute_cover(cpu.l1_dtlb, pages)

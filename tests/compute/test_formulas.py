"""The keyword facade over the generated formulas (ptcalc.compute.formulas)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ptcalc.compute import formulas
from ptcalc.compute.tlb import add_tlb_to_rows
from ptcalc.cpus.load import load_cpu
from ptcalc.inputs.scenario import make_scenario
from ptcalc.model.tlb_inputs import walk_options

GiB, MiB = 2**30, 2**20


def test_inputs_by_name_in_any_order():
    inputs = make_scenario("3GiB", 4).formula_inputs()
    assert set(inputs) == set(formulas.INPUT_NAMES)
    shuffled = dict(reversed(list(inputs.items())))
    a = formulas.metrics("private-4k", 4, "dense", **inputs)
    b = formulas.metrics("private-4k", 4, "dense", **shuffled)
    assert a == b
    # 3 GiB: 1536 PTE tables, 3 PMD tables, 1 PUD table per process, 4 processes.
    assert a["pt_bytes_total"] == (1536 + 3 + 1) * 4096 * 4
    with pytest.raises(TypeError):
        formulas.metrics("private-4k", 4, "dense", **{**inputs, "size": 1})


def test_reasons_are_joined_once_in_order():
    # ptshare at a 4 KiB offset and a size that is not a multiple of 2 MiB: both reasons.
    inputs = make_scenario("3MiB", 2, offset="4KiB").formula_inputs()
    reason = formulas.not_applicable("ptshare", 4, **inputs)
    texts = formulas.reason_texts("ptshare", 4)
    assert reason == texts[0] + "; " + texts[1]
    assert formulas.join_reasons(["a", "b", "a"]) == "a; b"
    assert formulas.join_reasons([]) is None
    assert formulas.not_applicable("private-4k", 4, **inputs) is None


def test_columns_give_the_same_numbers_as_ints():
    scenarios = [make_scenario(size, procs, offset=offset)
                 for size, procs, offset in [("1GiB", 3, "0"), ("5MiB", 7, "1MiB"),
                                             ("300GiB", 1500, "2MiB")]]
    columns = {name: np.array([s.formula_inputs()[name] for s in scenarios])
               for name in formulas.INPUT_NAMES}
    for strategy in ("private-4k", "hugetlb-2m-pmdshare", "file-pt"):
        at_once = formulas.metrics(strategy, 4, "dense", **columns)
        for i, scenario in enumerate(scenarios):
            one = formulas.metrics(strategy, 4, "dense", **scenario.formula_inputs())
            for name, value in one.items():
                if value is not None:      # constants (leaf size) come back unbroadcast
                    column = np.broadcast_to(at_once[name], (len(scenarios),))
                    assert column[i] == value, (strategy, name)


def test_tlb_rows_without_pandas_agree_with_the_columns():
    import pandas as pd

    from ptcalc.compute.scalar import scenario_rows
    from ptcalc.compute.tlb import add_tlb_to_frame

    cpu = load_cpu("zen4")
    rows = scenario_rows(make_scenario("6GiB", 9, offset="1MiB", touched="0.3",
                                       pattern="random"))
    plain = add_tlb_to_rows(rows, cpu, virtualized=True, host_page="2m")
    frame = add_tlb_to_frame(pd.DataFrame(rows), cpu, virtualized=True, host_page="2m")
    for row, (_, expected) in zip(plain, frame.iterrows()):
        for name in ("tlb_reach_l1_bytes", "tlb_reach_l2_bytes", "tlb_coverage", "walk_refs",
                     "pt_walk_footprint_bytes", "pt_walk_footprint_llc_ratio"):
            if row["applicable"]:
                assert row[name] == expected[name], (row["strategy"], name)
                assert type(row[name]) is (float if "coverage" in name or "ratio" in name
                                           else int)
            else:
                assert row[name] is None and pd.isna(expected[name])


def test_tlb_walk_refs_by_hand():
    cpu = load_cpu("skylake-sp")
    columns = {"touched_bytes": GiB, "mapped_4k_bytes": GiB, "mapped_2m_bytes": 0,
               "mapped_1g_bytes": 0, "leaf_page_bytes": 4096, "pt_bytes_total": 2 * MiB}
    native = formulas.tlb_metrics(cpu, walk_options(cpu), cpu.llc_bytes, **columns)
    assert native["walk_refs"] == 4                  # 4 levels, 4 KiB leaves
    nested = formulas.tlb_metrics(cpu, walk_options(cpu, virtualized=True), cpu.llc_bytes,
                                  **columns)
    assert nested["walk_refs"] == 24                 # (4 + 1) x (4 + 1) - 1
    # skylake-sp L1 DTLB: 64 entries for 4 KiB pages: 64 x 4 KiB.
    assert native["tlb_reach_l1_bytes"] == 64 * 4096
    assert native["pt_walk_footprint_llc_ratio"] == 2 * MiB / cpu.llc_bytes


@pytest.mark.parametrize("args", [["compare", "--cpu", "skylake-sp"], ["compare"],
                                  ["compare", "--cpu", "zen4", "--virtualized", "--paging", "5"]])
def test_compare_loads_no_sympy_pandas_or_numpy(args):
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "ptcalc", *args],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "private-4k" in result.stdout
    loaded = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
              if line.startswith("import time:")}
    assert "ptcalc" in loaded
    assert not loaded & {"sympy", "pandas", "numpy"}

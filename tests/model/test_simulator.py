"""Formula == simulator: the closed forms against the brute-force oracle (ptcalc.oracle)."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ptcalc.compute.scalar import scenario_rows
from ptcalc.inputs.scenario import make_scenario
from ptcalc.model.strategies import STRATEGY_NAMES
from ptcalc.oracle import simulate

KiB, MiB, GiB = 2**10, 2**20, 2**30
PAGE = 4 * KiB
COMPARED = ("pt_bytes_per_process", "pt_bytes_total", "pte_table_bytes", "pmd_table_bytes",
            "pud_table_bytes", "p4d_table_bytes", "faults_first", "faults_next",
            "faults_total", "touched_bytes", "mapped_4k_bytes", "mapped_2m_bytes",
            "mapped_1g_bytes", "huge_pages")

# Offsets near the boundaries where the closed forms change: 64 KiB windows, 2 MiB tables,
# 1 GiB PMD tables, the 512 GiB PUD table.
BOUNDARIES = [0, 64 * KiB, 2 * MiB, 1 * GiB, 3 * GiB, 512 * GiB]


@st.composite
def placements(draw):
    boundary = draw(st.sampled_from(BOUNDARIES))
    delta_pages = draw(st.integers(-600, 600))
    offset = (boundary + delta_pages * PAGE) % (512 * GiB)
    size_pages = draw(st.one_of(st.integers(1, 40), st.integers(1, 6000)))
    return offset, size_pages * PAGE


def assert_matches(scenario, strategy, model, simulated):
    assert model["applicable"] == simulated["applicable"], (strategy, model["reason"])
    if not model["applicable"]:
        return
    for key in COMPARED:
        if key in simulated and key in model and not (key == "faults_next"
                                                      and scenario.procs == 1):
            assert model[key] == simulated[key], (strategy, key, scenario)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(placement=placements(), procs=st.integers(1, 3),
       touched=st.sampled_from(["1", "0.5", "0.37", "0.01"]),
       access=st.sampled_from(["read", "write"]), paging=st.sampled_from([4, 5]),
       fault_around=st.sampled_from(["64KiB", "4KiB", "16KiB", "2MiB"]))
def test_dense_formulas_equal_the_simulator(placement, procs, touched, access, paging,
                                            fault_around):
    offset, size = placement
    scenario = make_scenario(size, procs, offset, touched, access, "dense", paging, fault_around)
    for model in scenario_rows(scenario):
        assert_matches(scenario, model["strategy"], model, simulate(scenario, model["strategy"]))


@pytest.mark.parametrize("offset, size, strategies", [
    # Whole and partial 1 GiB slots: PMD sharing, file-pt, hugetlb, THP.
    (512 * MiB, 3 * GiB, ["hugetlb-2m-pmdshare", "hugetlb-2m", "thp-shmem"]),
    (0, 2 * GiB + 6 * MiB, ["hugetlb-2m-pmdshare", "hugetlb-1g"]),
    (GiB - 4 * MiB, GiB + 8 * MiB, ["file-pt", "hugetlb-2m-pmdshare"]),
    (512 * GiB - GiB, 2 * GiB, ["hugetlb-2m-pmdshare", "mshare"]),  # crosses a PUD table
])
def test_gib_scale_regions(offset, size, strategies):
    scenario = make_scenario(size, 2, offset, "1", "write")
    models = {row["strategy"]: row for row in scenario_rows(scenario)}
    for strategy in strategies:
        assert_matches(scenario, strategy, models[strategy], simulate(scenario, strategy))


# Random pattern: the model gives expected values; the simulator draws page sets.  Over K
# draws the sample mean must lie within 5 standard errors (sample std / sqrt(K)) plus
# max(0.5, 1e-4 of the value) of the expectation: the slack covers events too rare to show
# in K draws (a 2 MiB page left untouched with probability 0.95**512); a true formula fails
# this with probability < 1e-6 per value.
DRAWS = 40


@pytest.mark.parametrize("offset, size, touched, access", [
    (4 * KiB, 3 * MiB, "0.3", "read"),
    (0, 5 * MiB + 12 * KiB, "0.05", "write"),
    (GiB - 2 * MiB - 40 * KiB, 6 * MiB, "0.02", "read"),
    (60 * KiB, 700 * KiB, "0.2", "read"),
])
def test_random_pattern_expectations(offset, size, touched, access):
    scenario = make_scenario(size, 3, offset, touched, access, "random")
    models = {row["strategy"]: row for row in scenario_rows(scenario)}
    for strategy in STRATEGY_NAMES:
        model = models[strategy]
        runs = [simulate(scenario, strategy, seed=seed) for seed in range(DRAWS)]
        if not model["applicable"]:
            assert not runs[0]["applicable"]
            continue
        for key in COMPARED:
            if key not in runs[0] or runs[0][key] is None or model.get(key) is None:
                continue
            samples = [run[key] for run in runs]
            mean = statistics.fmean(samples)
            error = statistics.pstdev(samples) / math.sqrt(DRAWS)
            slack = max(0.5, 1e-4 * abs(model[key]))
            assert abs(mean - model[key]) <= 5 * error + slack, (strategy, key, mean, model[key])

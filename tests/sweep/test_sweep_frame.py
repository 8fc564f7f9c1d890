"""ptcalc.compute.frame (the column engine under evaluate and sweep) against the scalar path
(compute.scenario_rows on exact Python ints), row for row: random frames, the exact dense
prefix, the Python-int path beyond int64, mixed patterns, the shift backend, dtypes."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ptcalc.compute import _compiled, frame
from ptcalc.compute import runtime as numeric
from ptcalc.compute.scalar import scenario_rows
from ptcalc.inputs.scenario import MAX_PROCS, make_scenario, touched_prefix_bytes
from ptcalc.model.strategies import STRATEGY_NAMES

GiB, MiB = 2**30, 2**20
SPANS = [4096, 2 * MiB, GiB]


def expected_rows(row, levels=4):
    scenario = make_scenario(int(row["size_bytes"]), int(row["procs"]),
                             int(row.get("offset_bytes", 0)), float(row.get("touched", 1.0)),
                             row.get("access", "write"), row.get("pattern", "dense"), levels)
    return {r["strategy"]: r for r in scenario_rows(scenario)}


def assert_same(result, scenarios, levels=4):
    n = len(scenarios)
    assert len(result) == n * len(STRATEGY_NAMES)
    names = _compiled.METRICS[levels]
    for i, (_, row) in enumerate(scenarios.iterrows()):
        expected = expected_rows(row, levels)
        for j, strategy in enumerate(STRATEGY_NAMES):
            got = result.iloc[j * n + i]
            want = expected[strategy]
            assert got["strategy"] == strategy
            assert bool(got["applicable"]) == want["applicable"]
            reason = got["reason"]
            assert (None if pd.isna(reason) else reason) == want["reason"]
            if not want["applicable"]:
                continue
            for name in names:
                value, target = got[name], want[name]
                if target is None:
                    assert pd.isna(value), (strategy, name)
                elif isinstance(target, float):
                    assert math.isclose(float(value), target, rel_tol=1e-9, abs_tol=1e-9), (
                        strategy, name)
                else:
                    assert int(value) == target, (strategy, name, value, target)


@st.composite
def scenario_frames(draw):
    n = draw(st.integers(1, 6))
    rows = []
    for _ in range(n):
        size = draw(st.integers(1, 4096)) * draw(st.sampled_from(SPANS)) + draw(
            st.sampled_from([0, 1, 4096, 12345]))
        offset = draw(st.integers(0, 64)) * draw(st.sampled_from(SPANS))
        rows.append({
            "size_bytes": size,
            "procs": draw(st.sampled_from([1, 2, 3, 1500, MAX_PROCS])),
            "offset_bytes": offset % (512 * GiB),
            "touched": draw(st.sampled_from([1.0, 0.5, 0.3, 0.1, 0.999, 1e-6])),
            "access": draw(st.sampled_from(["read", "write"])),
            "pattern": draw(st.sampled_from(["dense", "random"])),
        })
    return pd.DataFrame(rows)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(scenario_frames())
def test_frame_equals_the_scalar_model(scenarios):
    assert_same(frame.evaluate_frame(scenarios, STRATEGY_NAMES), scenarios)


def test_many_chunks_and_five_levels(monkeypatch):
    monkeypatch.setattr(frame, "CHUNK_ROWS", 3)
    rng = np.random.default_rng(11)
    scenarios = pd.DataFrame({
        "size_bytes": rng.integers(1, 2**14, 20) * 2**21 + 4096,
        "procs": rng.integers(1, 10**5, 20),
        "offset_bytes": rng.integers(0, 2**10, 20) * 2**21,
        "touched": rng.choice([0.25, 0.7, 1.0], 20),
    })
    assert_same(frame.evaluate_frame(scenarios, STRATEGY_NAMES, paging=5), scenarios, 5)


def test_python_ints_beyond_int64():
    scenarios = pd.DataFrame({"size_bytes": [2**55, 3 * GiB], "procs": [MAX_PROCS, 2],
                              "offset_bytes": [0, 4096]})
    result = frame.evaluate_frame(scenarios, STRATEGY_NAMES, paging=5)
    assert result["pt_bytes_total"].dtype == object
    private = result.iloc[0]["pt_bytes_total"]
    assert isinstance(private, int) and private > 2**63      # exact, past int64
    assert_same(result, scenarios, 5)


@pytest.mark.parametrize("values", [
    [0.5, 0.25, 0.3, 0.1, 1.0],                      # few distinct: integer path per value
    list(np.linspace(0.001, 1, 200)),                # many distinct: float path + exact rescue
])
def test_dense_prefix_is_exact(values):
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 2**20, 5000) * 4096
    sizes[:100] = 10 * 4096                          # 0.1 x 10 pages: exactly 1 page
    touched = rng.choice(values, 5000)
    got = frame._touched_bytes(sizes, touched)
    for size, fraction, value in zip(sizes, touched, got):
        assert value == touched_prefix_bytes(int(size), Fraction(repr(float(fraction))))


def test_shift_backend_equals_floor_division():
    values = np.array([-(2**62), -5, -4096, -1, 0, 1, 4095, 4096, 2**21 + 1, 2**62], np.int64)
    for divisor in (1, 4096, 2**21, 2**30, 2**39, 65536, 3, 4097):
        assert (frame._BACKEND.floor_div(values, divisor) == values // divisor).all()
        assert (frame._BACKEND.ceil_div(values, divisor) == numeric.ceil_div(values, divisor)).all()
    assert frame._BACKEND.ceil_div(5, 4) == 2 and frame._BACKEND.where is numeric.where


def test_columns_and_dtypes():
    scenarios = pd.DataFrame({"size_bytes": [GiB, GiB], "procs": [2, 3],
                              "offset_bytes": [0, 4096]})
    result = frame.evaluate_frame(scenarios, ("private-4k", "hugetlb-1g"))
    assert list(result.columns[:9]) == ["size_bytes", "procs", "offset_bytes", "touched",
                                        "access", "pattern", "strategy", "applicable", "reason"]
    assert str(result["pt_bytes_total"].dtype) == "Int64"
    assert str(result["savings_vs_private_4k"].dtype) == "Float64"
    assert result["strategy"].dtype == "category"
    assert result["huge_pages"].isna().tolist() == [True, True, False, True]
    assert list(result["reason"].cat.categories) == [
        ("offset is not 1 GiB-aligned: a 1 GiB hugetlb mapping must start on a 1 GiB boundary "
        "(mmap fails with EINVAL)")]


def test_empty_frame():
    result = frame.evaluate_frame(pd.DataFrame({"size_bytes": [], "procs": []}),
                                  STRATEGY_NAMES)
    assert len(result) == 0 and "pt_bytes_total" in result

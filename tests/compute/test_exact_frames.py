"""compare() and evaluate() are exact at 2**53 and beyond int64: whole-number metrics are
nullable Int64 built from int64 (never float), an object column of Python ints only where a
value is beyond int64.  Expected values are derived by hand below (page-table counts over
the touched span), independently of the generated formulas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ptcalc
from ptcalc.compute import frame

GiB, TiB = 2**30, 2**40
SPANS = {4: (2**21, 2**30, 2**39), 5: (2**21, 2**30, 2**39, 2**48)}


def private_4k_tables(size, offset, levels):
    """Tables one process needs below the PGD (one per 2 MiB / 1 GiB / 512 GiB / 256 TiB
    span the region touches), dense, every page touched: ceil(end/span) - floor(start/span)."""
    end = offset + size
    return sum(-(-end // span) - offset // span for span in SPANS[levels])


# (size, procs, offset, levels): totals from 2**53 (where float64 stops being exact) up to
# beyond 2**63; offset 4 KiB makes the hugetlb and 2 MiB-aligned strategies not applicable,
# so their metric columns hold NA beside the huge values (the case that used to go float).
CASES = [
    (32 * TiB + 4096 * 12345, 3_000_001, 4096, 4),    # ~2**57.5 total: Int64
    (100 * TiB + 4096 * 7, 4_194_304, 4096, 4),       # ~2**60: Int64
    (2**52 + 4096 * 3, 4_194_304, 4096, 5),           # ~2**65: beyond int64, Python ints
]


@pytest.mark.parametrize("size, procs, offset, levels", CASES)
def test_compare_is_exact_beyond_2_to_the_53(size, procs, offset, levels):
    result = ptcalc.compare(size, procs, offset=offset, paging=levels).set_index("strategy")
    tables = 4096 * private_4k_tables(size, offset, levels)
    total = procs * tables
    assert total >= 2**53
    got = result.loc["private-4k", "pt_bytes_total"]
    assert isinstance(got, (int, np.integer)) and int(got) == total
    # per process: PTE, PMD and PUD tables, as VmPTE counts them (no P4D counter)
    per_process = 4096 * private_4k_tables(size, offset, 4)
    assert int(result.loc["private-4k", "pt_bytes_per_process"]) == per_process
    # threads: one mm, its tables once
    assert int(result.loc["threads", "pt_bytes_total"]) == tables
    # faults: one per 4 KiB page per process (write access, no fault-around)
    assert int(result.loc["private-4k", "faults_total"]) == procs * (size // 4096)
    assert pd.isna(result.loc["hugetlb-2m", "pt_bytes_total"])      # offset not aligned
    column = result["pt_bytes_total"]
    if total < 2**63:
        assert str(column.dtype) == "Int64"
    else:
        assert column.dtype == object and isinstance(got, int)
    assert "float" not in str(result["faults_total"].dtype).lower()


@pytest.mark.parametrize("size, procs, offset, levels", CASES)
def test_evaluate_equals_compare_exactly(size, procs, offset, levels):
    one = ptcalc.compare(size, procs, offset=offset, paging=levels)
    many = ptcalc.evaluate(pd.DataFrame({"size_bytes": [size, 8 * GiB], "procs": [procs, 2],
                                         "offset_bytes": [offset, 0]}), paging=levels)
    first = many[many["size_bytes"] == size].reset_index(drop=True)
    assert list(first.columns) == list(one.columns)
    for name in one.columns:
        left, right = one[name].tolist(), first[name].tolist()
        assert [None if pd.isna(v) else v for v in left] == \
            [None if pd.isna(v) else v for v in right], name
    # only the columns with a value beyond int64 leave Int64, in both
    wide = {name for name in many.columns if many[name].dtype == object}
    assert wide == {name for name in one.columns if one[name].dtype == object}
    assert "leaf_page_bytes" not in wide and "pt_bytes_per_process" not in wide


def test_beyond_int64_rows_do_not_change_the_other_rows():
    rng = np.random.default_rng(5)
    n = 2000
    normal = pd.DataFrame({"size_bytes": rng.integers(1, 2**16, n) * 2**21,
                           "procs": rng.integers(1, 10**4, n),
                           "offset_bytes": rng.integers(0, 2**9, n) * 2**21})
    alone = ptcalc.evaluate(normal, paging=5)
    huge = pd.concat([normal, pd.DataFrame({"size_bytes": [2**55], "procs": [4_194_304],
                                            "offset_bytes": [0]})], ignore_index=True)
    mixed = ptcalc.evaluate(huge, paging=5)
    k = len(ptcalc.STRATEGIES)
    keep = np.concatenate([np.arange(i * (n + 1), i * (n + 1) + n) for i in range(k)])
    part = mixed.iloc[keep].reset_index(drop=True)
    for name in alone.columns:
        if part[name].dtype == object:           # exact Python ints: same numbers
            assert [None if pd.isna(v) else int(v) for v in part[name]] == \
                [None if pd.isna(v) else int(v) for v in alone[name]], name
        else:
            pd.testing.assert_series_equal(part[name], alone[name], check_names=False)
    wide_row = mixed[mixed["size_bytes"] == 2**55].set_index("strategy")
    tables = private_4k_tables(2**55, 0, 5)
    assert wide_row.loc["private-4k", "pt_bytes_total"] == 4_194_304 * 4096 * tables
    assert mixed["pt_bytes_per_process"].dtype != object     # fits: stays Int64


def test_wide_rows_recompute_conditions(monkeypatch):
    """With the bound lowered, every row takes the exact path: same frame as int64."""
    scenarios = pd.DataFrame({"size_bytes": [GiB, 3 * GiB + 4096, 5 * 2**21],
                              "procs": [2, 1500, 7], "offset_bytes": [0, 4096, 2**21],
                              "touched": [1.0, 0.3, 0.5], "access": ["write", "read", "read"],
                              "pattern": ["dense", "random", "dense"]})
    fast = frame.evaluate_frame(scenarios, ptcalc.STRATEGIES)
    from ptcalc.compute import wide

    monkeypatch.setattr(wide, "WIDE_PRODUCT", 1.0)
    exact = frame.evaluate_frame(scenarios, ptcalc.STRATEGIES)
    pd.testing.assert_frame_equal(fast, exact, check_exact=False, rtol=1e-12)


def test_compare_equals_the_exact_scalar_rows_over_large_scenarios():
    """Random scenarios from 2**40 to 2**52 bytes, up to PID_MAX_LIMIT processes, odd page
    counts (so totals are not multiples of a power of two that float64 would keep exact):
    every whole-number metric equals the Python int of the scalar path."""
    from ptcalc.compute.scalar import scenario_rows
    from ptcalc.inputs.scenario import make_scenario

    rng = np.random.default_rng(53)
    checked = 0
    for _ in range(12):
        size = int(rng.integers(2**28, 2**40)) * 4096 + 4096
        procs = int(rng.integers(2**20, 4_194_304))
        offset = int(rng.choice([0, 4096, 2**21]))
        touched = float(rng.choice([1.0, 0.7, 0.3]))
        access = str(rng.choice(["read", "write"]))
        frame_ = ptcalc.compare(size, procs, offset=offset, touched=touched, access=access,
                                paging=5)
        rows = scenario_rows(make_scenario(size, procs, offset, touched, access,
                                           paging_levels=5))
        for i, row in enumerate(rows):
            for name, value in row.items():
                if isinstance(value, int) and not isinstance(value, bool):
                    assert int(frame_[name].iloc[i]) == value, (row["strategy"], name)
                    checked += value >= 2**53
    assert checked > 100

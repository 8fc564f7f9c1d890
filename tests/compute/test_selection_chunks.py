"""metrics= selection, evaluate_chunks, order= and attrs: each equals the plain evaluate()
frame it is a part, a slice or a reordering of (the plain frame is itself checked against
the scalar model in tests/sweep/test_sweep_frame.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ptcalc
from ptcalc.compute import formulas, kernels
from ptcalc.errors import InputError

GiB, MiB = 2**30, 2**20


def scenarios(n=300, seed=1, pattern=True):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "size_bytes": rng.integers(1, 2**12, n) * rng.choice([4096, 2 * MiB, GiB], n),
        "procs": rng.integers(1, 5000, n),
        "offset_bytes": rng.integers(0, 64, n) * rng.choice([4096, 2 * MiB, GiB], n),
        "touched": rng.choice([1.0, 0.5, 0.3], n),
        "access": rng.choice(["read", "write"], n),
    })
    if pattern:
        frame["pattern"] = rng.choice(["dense", "random"], n)
    return frame


def test_pruned_kernels_equal_the_full_ones():
    inputs = scenarios(50, pattern=False)
    args = {"offset_bytes": inputs.offset_bytes.to_numpy(), "size_bytes":
            inputs.size_bytes.to_numpy(), "touched_bytes": inputs.size_bytes.to_numpy(),
            "touched": inputs.touched.to_numpy(), "procs": inputs.procs.to_numpy(),
            "fault_around_bytes": 65536, "read_access": np.zeros(50, dtype=np.int64)}
    names = formulas.metric_names(4)
    for strategy in ptcalc.STRATEGIES:
        for pattern in ("dense", "random"):
            full = kernels.metrics_kernel(strategy, 4, pattern)(**args)
            for selected in [(2,), (10, 1), tuple(range(len(names)))[::-1]]:
                part = kernels.metrics_kernel(strategy, 4, pattern, selected)(**args)
                assert len(part) == len(selected)
                for index, value in zip(selected, part):
                    if full[index] is None:
                        assert value is None
                    else:
                        np.testing.assert_array_equal(np.broadcast_to(value, (50,)),
                                                      np.broadcast_to(full[index], (50,)))


def test_pruned_kernel_computes_less():
    """One metric's kernel keeps only the statements it needs (fewer lines of source)."""
    import inspect

    full = kernels.metrics_kernel("file-pt", 4, "dense")
    one = kernels.metrics_kernel("file-pt", 4, "dense",
                                 (formulas.metric_names(4).index("faults_first"),))
    assert one.__code__.co_nlocals < full.__code__.co_nlocals / 3
    assert len(inspect.getsource(full)) > 0


@pytest.mark.parametrize("metrics", [["pt_bytes_total"], ["faults_total", "huge_pages"],
                                     "savings_vs_private_4k, leaf_page_bytes"])
def test_metrics_selection_equals_the_columns_of_the_full_frame(metrics):
    frame = scenarios()
    full = ptcalc.evaluate(frame)
    chosen = ptcalc.evaluate(frame, metrics=metrics)
    names = metrics if isinstance(metrics, list) else [m.strip() for m in metrics.split(",")]
    assert list(chosen.columns) == [*full.columns[:9], *names]
    pd.testing.assert_frame_equal(chosen, full[list(chosen.columns)])
    assert chosen.attrs["metrics"] == names


def test_metrics_selection_errors():
    with pytest.raises(InputError, match="did you mean 'pt_bytes_total'"):
        ptcalc.evaluate(scenarios(5), metrics=["pt_bytes_totl"])
    with pytest.raises(InputError, match="TLB metric"):
        ptcalc.evaluate(scenarios(5), metrics=["tlb_reach_l1_bytes"])
    with pytest.raises(InputError, match="empty"):
        ptcalc.evaluate(scenarios(5), metrics=[])


def test_compare_metrics_selection_and_tlb():
    full = ptcalc.compare("8GiB", 100, cpu="default")
    chosen = ptcalc.compare("8GiB", 100, cpu="default",
                            metrics=["pt_bytes_total", "tlb_reach_l1_bytes"])
    assert list(chosen.columns[9:]) == ["pt_bytes_total", "tlb_reach_l1_bytes"]
    pd.testing.assert_frame_equal(chosen, full[list(chosen.columns)])
    many = ptcalc.evaluate(pd.DataFrame({"size_bytes": [8 * GiB], "procs": [100]}),
                           cpu="default", metrics=["pt_bytes_total", "tlb_reach_l1_bytes"])
    pd.testing.assert_frame_equal(many, chosen)


@pytest.mark.parametrize("rows", [1, 19 * 7, 19 * 64 + 5, 10**6])
def test_chunks_concatenate_to_the_frame(rows):
    frame = scenarios(200)
    whole = ptcalc.evaluate(frame)
    parts = list(ptcalc.evaluate_chunks(frame, rows=rows))
    per_chunk = max(1, rows // len(ptcalc.STRATEGIES))
    assert len(parts) == -(-200 // per_chunk)
    assert all(len(p) <= max(rows, len(ptcalc.STRATEGIES)) for p in parts)
    reasons = parts[0]["reason"].cat.categories
    assert all(list(p["reason"].cat.categories) == list(reasons) for p in parts)
    assert all(dict(p.dtypes) == dict(parts[0].dtypes) for p in parts)
    # chunk c holds scenarios c*per_chunk.. in strategy-major order: rebuild whole's order
    k = len(ptcalc.STRATEGIES)
    rebuilt = pd.concat([p.assign(_scenario=np.tile(np.arange(len(p) // k), k)
                                  + i * per_chunk, _strategy=np.repeat(np.arange(k),
                                                                       len(p) // k))
                         for i, p in enumerate(parts)], ignore_index=True)
    rebuilt = rebuilt.sort_values(["_strategy", "_scenario"], kind="stable") \
        .drop(columns=["_scenario", "_strategy"]).reset_index(drop=True)
    rebuilt["reason"] = rebuilt["reason"].cat.set_categories(
        whole["reason"].cat.categories)
    pd.testing.assert_frame_equal(rebuilt, whole)


def test_chunks_from_an_iterable_and_metrics():
    frame = scenarios(90, pattern=False)
    pieces = [frame.iloc[:40], frame.iloc[40:]]
    parts = list(ptcalc.evaluate_chunks(iter(pieces), strategies=["private-4k", "threads"],
                                        rows=50, metrics=["pt_bytes_total"]))
    assert [len(p) for p in parts] == [50, 30, 50, 50]     # 25 scenarios x 2 per chunk
    got = pd.concat(parts, ignore_index=True)
    assert list(got.columns[9:]) == ["pt_bytes_total"]
    assert str(got["pt_bytes_total"].dtype) == "Int64"
    assert int(got["pt_bytes_total"].sum()) == int(ptcalc.evaluate(
        frame, ["private-4k", "threads"])["pt_bytes_total"].sum())


def test_chunks_check_arguments_at_once():
    with pytest.raises(InputError, match="rows"):
        ptcalc.evaluate_chunks(scenarios(3), rows=0)
    with pytest.raises(InputError, match="metric"):
        ptcalc.evaluate_chunks(scenarios(3), metrics=["nope"])
    with pytest.raises(InputError, match="DataFrame"):
        ptcalc.evaluate_chunks("sizes.csv")


def test_scenario_order_is_a_reordering():
    frame = scenarios(120)
    by_strategy = ptcalc.evaluate(frame)
    by_scenario = ptcalc.evaluate(frame, order="scenario")
    n, k = 120, len(ptcalc.STRATEGIES)
    order = (np.arange(k)[None, :] * n + np.arange(n)[:, None]).ravel()
    pd.testing.assert_frame_equal(by_scenario, by_strategy.take(order).reset_index(drop=True))
    assert list(by_scenario["strategy"][:k]) == list(ptcalc.STRATEGIES)


def test_frames_say_what_they_describe():
    one = ptcalc.compare("300GiB", 1500, offset="4KiB", touched=0.5, access="read")
    assert one.attrs["scenario"]["size_bytes"] == 300 * GiB
    assert one.attrs["scenario"]["touched_fraction"] == "1/2"
    assert one.attrs["ptcalc_version"] == ptcalc.__version__
    assert set(one["size_bytes"]) == {300 * GiB} and set(one["offset_bytes"]) == {4096}
    assert set(one["access"]) == {"read"} and set(one["procs"]) == {1500}
    many = ptcalc.evaluate(pd.DataFrame({"size_bytes": [GiB], "procs": [2]}), paging=5)
    assert many.attrs["paging"] == 5 and many.attrs["ptcalc_version"] == ptcalc.__version__
    assert many.attrs["strategies"] == list(ptcalc.STRATEGIES)
    # the same columns in the same dtypes: the two concatenate into one typed table
    both = pd.concat([one, ptcalc.evaluate(pd.DataFrame({
        "size_bytes": [300 * GiB], "procs": [1500], "offset_bytes": [4096],
        "touched": [0.5], "access": ["read"]}))], ignore_index=True)
    assert {str(both[c].dtype) for c in ("pt_bytes_total", "huge_pages")} == {"Int64"}

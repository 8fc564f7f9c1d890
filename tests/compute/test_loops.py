"""The compiled row loops (ptcalc.compute.loops) give the numpy kernels' frame, exactly.

The loops are the generated formulas rewritten per row (ptcalc.model.loopgen): division by a
power of two as a shift, `where` as a conditional expression, the stores into the output.
Each rewrite could slip (a shift of a negative number, precedence, a metric stored in the
wrong column), so every loop runs as plain Python against the numpy kernels on scenarios
that reach every branch, and the numba-compiled loops of the first release's nine
strategies run through ptcalc.evaluate in both orders and both paging depths.
"""

import ast

import numpy as np
import pandas as pd
import pytest

import ptcalc
from ptcalc.compute import _loops, loops
from ptcalc.model import loopgen

NINE = ("private-4k", "thp-shmem", "hugetlb-2m", "hugetlb-2m-pmdshare", "hugetlb-1g",
        "ptshare", "file-pt", "mshare", "threads")
GiB = 2**30


def scenarios(n, seed):
    """Sizes from one page to about 1 TiB, offsets below 512 GiB aligned to 4 KiB, 2 MiB,
    1 GiB or 512 GiB (so every strategy both applies and does not), reads and writes,
    touched fractions."""
    rng = np.random.default_rng(seed)
    align = rng.choice(np.array([4096, 2**21, GiB, 512 * GiB]), n)
    return pd.DataFrame({
        "size_bytes": rng.integers(1, 2**16, n) * rng.choice([4096, 2**21, 2**24], n)
        + rng.choice([0, 4096 * 37], n),
        "procs": rng.integers(1, 20_000, n),
        "offset_bytes": rng.integers(0, 512 * GiB // 4096, n) * 4096 // align * align,
        "touched": rng.choice([0.1, 0.25, 1 / 3, 0.999, 1.0], n),
        "access": rng.choice(["read", "write"], n),
    })


def numpy_frame(monkeypatch, frame, strategies, **options):
    monkeypatch.setenv("PTCALC_LOOPS", "0")
    return ptcalc.evaluate(frame, strategies, **options)


def test_loops_module_is_in_sync_with_the_compiled_formulas():
    assert loopgen.TARGET.read_text() == loopgen.generate(), \
        "ptcalc/compute/_loops.py is stale: run python -m ptcalc.model.loopgen"


def test_every_dense_formula_without_a_power_has_a_loop():
    # the loops cover what evaluate's benchmark and sweeps run: every strategy's dense
    # formulas at 4 and 5 levels (a power, which compiled code may round differently, would
    # leave one out; none of the dense formulas has one)
    strategies = ptcalc.strategies() if callable(getattr(ptcalc, "strategies", None)) else None
    names = {s for s, _ in _loops.LOOPS}
    assert set(NINE) <= names
    if strategies is not None:
        assert names == set(strategies)
    assert {levels for _, levels in _loops.LOOPS} == {4, 5}


def test_scalar_rewrites_keep_floor_semantics():
    # -(-a >> k) is ceil(a / 2**k) and a >> k floor(a / 2**k) also for negative a; a & (b-1)
    # is a % b for b a power of two: the identities the loops rely on, on the edges
    for a in (-2**62, -4097, -4096, -1, 0, 1, 4095, 4096, 4097, 2**62):
        for k in (12, 16, 21):
            assert a >> k == a // 2**k
            assert -(-a >> k) == -((-a) // 2**k)
            assert a & (2**k - 1) == a % 2**k
    call = ast.parse("_n.ceil_div(x, fault_around_bytes) + _n.mod(y, 2097152)"
                     " + _n.floor_div(z, 3)").body[0].value
    assert ast.unparse(loopgen._Scalar().visit(call)) == \
        "-(-x >> fault_around_shift) + (y & 2097151) + z // 3"


@pytest.mark.parametrize("levels", [4, 5])
@pytest.mark.parametrize("fault_around", [4096, 65536, 2**21])
def test_python_loops_equal_the_numpy_kernels(monkeypatch, levels, fault_around):
    strategies = sorted({s for s, lv in _loops.LOOPS if lv == levels})
    frame = scenarios(120, seed=levels * 7 + fault_around)
    expected = numpy_frame(monkeypatch, frame, strategies, paging=levels,
                           fault_around=fault_around)
    monkeypatch.setenv("PTCALC_LOOPS", "1")
    monkeypatch.setattr(loops, "enabled", lambda: True)
    monkeypatch.setattr(loops, "compiled", loops.python_loop)
    got = ptcalc.evaluate(frame, strategies, paging=levels, fault_around=fault_around)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    # the scenarios reach both sides of the conditions
    assert got["applicable"].any() and not got["applicable"].all()


@pytest.mark.parametrize("levels", [4, 5])
def test_compiled_loops_equal_the_numpy_kernels(monkeypatch, levels):
    pytest.importorskip("numba")
    frame = scenarios(5000, seed=levels)
    expected = numpy_frame(monkeypatch, frame, NINE, paging=levels)
    monkeypatch.setenv("PTCALC_LOOPS", "1")
    got = ptcalc.evaluate(frame, NINE, paging=levels)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert all(loops.compiled(s, levels) is not None for s in NINE)


def test_compiled_loops_in_scenario_order_with_a_metric_selection(monkeypatch):
    pytest.importorskip("numba")
    frame = scenarios(3000, seed=11)
    chosen = ["faults_total", "pt_bytes_total", "savings_vs_private_4k", "huge_pages"]
    options = {"order": "scenario", "metrics": chosen}
    expected = numpy_frame(monkeypatch, frame, NINE, **options)
    monkeypatch.setenv("PTCALC_LOOPS", "1")
    monkeypatch.setenv("PTCALC_THREADS", "2")
    got = ptcalc.evaluate(frame, NINE, **options)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert list(got.columns[-4:]) == chosen


def test_rows_beyond_int64_are_exact_after_the_loops(monkeypatch):
    # the loops compute in int64 like the kernels; the rows whose products may pass it are
    # computed again with Python ints afterwards (ptcalc.compute.wide), in both paths
    pytest.importorskip("numba")
    frame = scenarios(2000, seed=3)
    frame.loc[[5, 1500], ["size_bytes", "procs", "offset_bytes"]] = [2**55, 4 * 2**20, 0]
    expected = numpy_frame(monkeypatch, frame, NINE, paging=5)
    monkeypatch.setenv("PTCALC_LOOPS", "1")
    got = ptcalc.evaluate(frame, NINE, paging=5)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    # 2**55 bytes of private 4 KiB pages need 2**55 / 2 MiB = 2**34 PTE tables of 4 KiB per
    # process, 2**46 bytes; times 2**22 processes = 2**68 bytes, past int64
    row = got[(got["strategy"] == "private-4k") & (got["size_bytes"] == 2**55)].iloc[0]
    assert row["pte_table_bytes"] == 2**55 // 2**21 * 4096 * 4 * 2**20


def test_random_pattern_rows_keep_the_numpy_kernels(monkeypatch):
    # the random pattern's expected values use powers: no loop; a frame that mixes patterns
    # is computed by the numpy kernels throughout
    frame = scenarios(300, seed=5).assign(pattern=["random", "dense"] * 150)
    calls = []
    monkeypatch.setenv("PTCALC_LOOPS", "1")
    monkeypatch.setattr(loops, "run", lambda *a, **k: calls.append(a) or [])
    ptcalc.evaluate(frame, NINE)
    assert calls == []


def test_small_work_does_not_load_numba_by_default(monkeypatch):
    monkeypatch.delenv("PTCALC_LOOPS", raising=False)
    monkeypatch.setattr(loops, "_STATE", {})
    assert not loops.wanted(loops.FIRST_ROWS - 1)
    assert not loops.wanted(loops.MIN_ROWS - 1, work=10**9)      # a small chunk: never
    assert "numba" not in loops._STATE          # not even imported
    # a chunk of a large input (evaluate_chunks of one big DataFrame) takes the loops
    assert loops.wanted(loops.MIN_ROWS, work=loops.FIRST_ROWS) == loops.enabled()
    monkeypatch.setattr(loops, "_STATE", {})
    monkeypatch.setenv("PTCALC_LOOPS", "0")
    assert not loops.wanted(10**9)
    assert "numba" not in loops._STATE


def test_chunks_of_one_large_frame_say_how_large_the_work_is(monkeypatch):
    # evaluate_chunks of one DataFrame passes its whole size: each chunk of 2**20 rows then
    # may take the loops; an iterator of frames has no known size
    seen = []
    monkeypatch.setattr(loops, "wanted", lambda rows, work=None: seen.append((rows, work)))
    frame = scenarios(1000, seed=4)
    list(ptcalc.evaluate_chunks(frame, NINE, rows=9 * 400))
    assert seen == [(9 * 400, 9 * 1000), (9 * 400, 9 * 1000), (9 * 200, 9 * 1000)]
    seen.clear()
    list(ptcalc.evaluate_chunks(iter([frame.iloc[:500], frame.iloc[500:]]), NINE))
    assert seen == [(9 * 500, None), (9 * 500, None)]


def test_a_loop_that_fails_to_compile_leaves_its_strategy_to_the_numpy_kernels(monkeypatch):
    # numba raises at the first call of a loop it cannot type; that strategy's rows then come
    # from the numpy kernels and the others from their loops: the frame is the same
    frame = scenarios(400, seed=9)
    expected = numpy_frame(monkeypatch, frame, NINE)

    def broken(*args):
        raise TypeError("cannot type this loop")

    def compiled_or_broken(strategy, levels):
        return broken if strategy == "hugetlb-2m" else loops.python_loop(strategy, levels)

    monkeypatch.setenv("PTCALC_LOOPS", "1")
    monkeypatch.setattr(loops, "enabled", lambda: True)
    monkeypatch.setattr(loops, "compiled", compiled_or_broken)
    pd.testing.assert_frame_equal(ptcalc.evaluate(frame, NINE), expected, check_exact=True)
    empty = numpy_frame(monkeypatch, frame.iloc[:0], NINE)
    monkeypatch.setenv("PTCALC_LOOPS", "1")
    pd.testing.assert_frame_equal(ptcalc.evaluate(frame.iloc[:0], NINE), empty)


def test_every_chunk_runs_the_code_compiled_on_the_first_rows(monkeypatch):
    # a last chunk of one row would be a contiguous view where the other chunks of the
    # scenario order are strided: a second compilation, in a worker thread; the chunks are
    # cut so that it has two rows, and the loops keep the signatures they had
    pytest.importorskip("numba")
    monkeypatch.setenv("PTCALC_LOOPS", "1")
    assert loops._chunk_bounds(loops.CHUNK_ROWS + 1) == [(0, loops.CHUNK_ROWS + 1)]
    assert loops._chunk_bounds(loops.CHUNK_ROWS + 2) == [
        (0, loops.CHUNK_ROWS), (loops.CHUNK_ROWS, loops.CHUNK_ROWS + 2)]
    assert loops._chunk_bounds(1) == [(0, 1)] and loops._chunk_bounds(0) == []
    few = ["private-4k", "hugetlb-2m"]
    ptcalc.evaluate(scenarios(300, seed=1), few, order="scenario")
    before = {s: list(loops.compiled(s, 4).signatures) for s in few}
    frame = scenarios(loops.CHUNK_ROWS + 1, seed=2)
    got = ptcalc.evaluate(frame, few, order="scenario")
    assert {s: list(loops.compiled(s, 4).signatures) for s in few} == before
    pd.testing.assert_frame_equal(got, numpy_frame(monkeypatch, frame, few, order="scenario"),
                                  check_exact=True)

"""ptcalc.formula(...).at(...) and .subs(...): the sympy expression evaluated by name.

at() substitutes into the sympy expression the model is built from; compare() runs the code
generated from it.  Equal values for every strategy and metric check the generation path
(and that at() reads the scenario exactly as compare() does).
"""

import pandas as pd
import pytest
import sympy as sp

import ptcalc
from ptcalc.errors import InputError
from ptcalc.model.expressions import metric_names
from ptcalc.model.strategies import STRATEGY_NAMES

GiB = 2**30

# size, procs, offset, touched, access: an unaligned offset, a part-touched region read, and a
# region past 2**53 bytes of page tables in total (1 TiB by 10**6 processes).
SCENARIOS = [
    ("1GiB", 2, 0, 1.0, "write"),
    ("300GiB", 1500, 3 * 2**21 + 4096, 0.37, "read"),
    ("1TiB", 1_000_000, GiB, 1.0, "write"),
]


def _values(frame, strategy):
    return frame[frame["strategy"] == strategy].iloc[0].to_dict()


@pytest.mark.parametrize("pattern", ["dense", "random"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=["1g", "300g-offset-read", "1t-1e6"])
def test_at_equals_compare_for_every_strategy_and_metric(scenario, pattern):
    size, procs, offset, touched, access = scenario
    frame = ptcalc.compare(size, procs, offset, touched, access, pattern=pattern)
    checked = 0
    for strategy in STRATEGY_NAMES:
        row = _values(frame, strategy)
        if not row["applicable"]:
            continue
        for metric in metric_names(4):
            expected = row[metric]
            if expected is None or pd.isna(expected):
                with pytest.raises(InputError):
                    ptcalc.formula(strategy, metric, pattern=pattern)
                continue
            value = ptcalc.formula(strategy, metric, pattern=pattern).at(
                size, procs, offset, touched, access)
            if isinstance(value, int) and not isinstance(value, bool):
                assert value == int(expected), (strategy, metric)
            else:
                assert value == pytest.approx(float(expected), rel=1e-12), (strategy, metric)
            checked += 1
    assert checked > 100


def test_at_is_exact_beyond_2_53():
    # private-4k, 100 TiB dense at offset 0 by 10**6 processes: per process one PTE table per
    # 2 MiB (100 * 2**19), one PMD table per GiB (100 * 2**10) and one PUD table per 512 GiB
    # (200), of 4 KiB each; times 10**6.
    expected = (100 * 2**19 + 100 * 2**10 + 200) * 4096 * 10**6
    assert expected > 2**53
    value = ptcalc.formula("private-4k", "pt_bytes_total").at("100TiB", 1_000_000)
    assert type(value) is int and value == expected


def test_subs_by_name_substitutes():
    f = ptcalc.formula("private-4k", "pt_bytes_total")
    symbol = next(s for s in f.expr.free_symbols if s.name == "procs")
    assert symbol in f.expr.free_symbols
    # a plain sympy substitution by name does nothing (the model's symbols carry assumptions)
    assert f.expr.subs({"procs": 7}) == f.expr
    for substituted in (f.subs({"procs": 7}), f.subs(procs=7),
                        f.subs("procs", 7)):
        assert "procs" not in {s.name for s in substituted.free_symbols}


def test_unknown_names_are_one_line_errors():
    f = ptcalc.formula("private-4k", "pt_bytes_total")
    with pytest.raises(InputError, match=r"'size' is not a symbol .* procs"):
        f.subs({"size": 1})
    with pytest.raises(InputError, match="nonsense is not a symbol"):
        f.at("1GiB", 2, nonsense=3)
    with pytest.raises(InputError, match="size"):
        f.at("-1GiB", 2)


def test_tlb_formula_without_cpu_asks_for_the_entry_counts():
    f = ptcalc.formula("private-4k", "tlb_reach_l1_bytes")
    with pytest.raises(InputError, match="l1_entries_4k"):
        f.at("1GiB", 2)
    # 64 entries of 4 KiB each reach 256 KiB
    assert f.at("1GiB", 2, l1_entries_4k=64) == 64 * 4096


@pytest.mark.parametrize("metric", ["tlb_reach_l2_bytes", "tlb_coverage", "walk_refs",
                                    "pt_walk_footprint_bytes"])
def test_tlb_formula_with_cpu_equals_compare(metric):
    frame = ptcalc.compare("64GiB", 100, cpu="skylake-sp")
    for strategy in ("private-4k", "thp-shmem", "hugetlb-1g"):
        expected = _values(frame, strategy)[metric]
        value = ptcalc.formula(strategy, metric, cpu="skylake-sp").at("64GiB", 100)
        assert value == pytest.approx(float(expected), rel=1e-12), strategy


def test_formula_still_behaves_as_sympy():
    f = ptcalc.formula("hugetlb-2m", "faults_first")
    assert sp.sympify(f) == f.expr
    assert sp.latex(f) == sp.latex(f.expr)
    assert str(f) == str(f.expr)
    assert f == f.expr
    assert f.free_symbols == f.expr.free_symbols
    assert f._repr_latex_().startswith("$")

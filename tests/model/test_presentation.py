"""The readable formula forms: named steps that multiply back out to the model, short lines,
no sympy repr (Piecewise, ITE, Min) and LaTeX that matplotlib's mathtext renders offline."""

from __future__ import annotations

import io
import random

import pytest
import sympy as sp

from ptcalc.model import expressions as model
from ptcalc.model import presentation
from ptcalc.model import symbols as S
from ptcalc.model.strategies import STRATEGY_NAMES
from ptcalc.present.formula import WIDTH, formula_text, render_text

GiB, MiB, KiB = 2**30, 2**20, 2**10
METRICS = model.metric_names(4)


def _expanded(parts) -> sp.Expr:
    """The shown metric with every quantity replaced by its definition, innermost last."""
    expr = parts.shown
    for symbol in reversed(parts.order):
        expr = expr.xreplace({symbol: parts.definitions[symbol]})
    for symbol in reversed(parts.order):   # definitions refer to earlier quantities
        expr = expr.xreplace({symbol: parts.definitions[symbol]})
    return expr


def _scenarios(count=6, seed=16):
    rng = random.Random(seed)
    out = [{"offset": 0, "size": 300 * GiB, "touched": 300 * GiB, "procs": 1500, "read": 0},
           {"offset": 4 * KiB, "size": 3 * GiB + 12 * KiB, "touched": GiB, "procs": 7,
            "read": 1}]
    for _ in range(count):
        size = rng.randrange(1, 3 * 512) * 4 * KiB * rng.choice((1, 512, 1024))
        out.append({"offset": rng.randrange(0, 4096) * 4 * KiB * rng.choice((1, 512)),
                    "size": size,
                    "touched": rng.randrange(0, size // (4 * KiB) + 1) * 4 * KiB,
                    "procs": rng.randrange(1, 3000), "read": rng.randrange(2)})
    return out


def _value(expr, s):
    values = {S.offset_bytes: s["offset"], S.size_bytes: s["size"], S.touched_bytes: s["touched"],
              S.procs: s["procs"], S.fault_around_bytes: 64 * KiB, S.read_access: s["read"]}
    return model.numeric(sp.sympify(expr)).xreplace(values)


@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_named_steps_multiply_back_to_the_model(strategy):
    """Naming is substitution only: at concrete scenarios (the 300 GiB SGA, a misaligned
    region, random ones) the expanded form equals the model's expression exactly."""
    for metric in ("pt_bytes_per_process", "pt_bytes_total", "pte_table_bytes",
                   "pmd_table_bytes", "faults_next", "faults_total"):
        original = model.formula(strategy, metric)
        if original is None:
            continue
        parts = presentation.named(strategy, metric)
        rebuilt = _expanded(parts)
        for scenario in _scenarios():
            assert _value(rebuilt, scenario) == _value(original, scenario), (strategy, metric)


def test_private_4k_per_process_reads_as_three_table_counts():
    text = formula_text("private-4k", "pt_bytes_per_process")
    # By hand: PTE/PMD/PUD tables of the touched range [o, o + t), 4 KiB each.
    assert "  PTE tables = ⌈(o + t) / 2 MiB⌉ − ⌊o / 2 MiB⌋   (0 unless t > 0)" in text
    assert "  PUD tables = ⌈(o + t) / 512 GiB⌉ − ⌊o / 512 GiB⌋   (0 unless t > 0)" in text
    assert "  pt_bytes_per_process = 4 KiB × (PTE tables + PMD tables + PUD tables)" in text
    assert "  o: start address of the region modulo 512 GiB (offset_bytes)" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_pmdshare_names_the_shared_tables():
    text = formula_text("hugetlb-2m-pmdshare", "pmd_table_bytes")
    assert ("pmd_table_bytes = 4 KiB × (shared PMD tables + N × (PMD tables − shared PMD "
            "tables))") in text
    assert "a: start of the first whole 1 GiB slot" in text


BANNED = ("Piecewise", "ITE(", "Min(", "Max(", "ceil(", "floor(", "_SPAN", "TABLE_BYTES",
          "offset_bytes +", "\\left\\lceil")


@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_every_dense_form_fits_and_shows_no_sympy(strategy):
    for metric in METRICS:
        form = presentation.form(strategy, metric)
        text = render_text(form, metric)
        formula_lines = text.split("\nwhere\n")[0]
        for banned in BANNED:
            assert banned not in formula_lines, (strategy, metric, banned)
        too_long = [line for line in text.splitlines() if len(line) > WIDTH]
        assert not too_long, (strategy, metric, too_long[0])


@pytest.mark.parametrize("strategy", ["thp-shmem-1m", "thp-shmem-64k", "hugetlb-2m-pmdshare"])
def test_random_pattern_forms_fit_too(strategy):
    # the random pattern's expected faults of the multi-size THP sizes nest min/max and
    # conditions deeper than any bracket depth can wrap (a line of 115 characters once):
    # what is still too long breaks at a space
    for metric in ("faults_total", "faults_next"):
        text = formula_text(strategy, metric, pattern="random", paging=4)
        too_long = [line for line in text.splitlines() if len(line) > WIDTH]
        assert not too_long, (strategy, metric, too_long[0])


def test_latex_renders_with_mathtext_offline():
    mathtext = pytest.importorskip("matplotlib.mathtext")
    for strategy, metric in (("hugetlb-2m-pmdshare", "pt_bytes_total"),
                             ("file-pt", "faults_next"), ("thp-shmem", "faults_first"),
                             ("mshare", "savings_vs_private_4k")):
        for step in presentation.form(strategy, metric).steps:
            out = io.BytesIO()
            mathtext.math_to_image(f"${step.latex}$", out, format="svg")
            assert b"<svg" in out.getvalue()

"""The stored forms of `ptcalc formula` (ptcalc/present/_formula_text.py) are the model's:
generated from the current sources, complete, equal to a fresh sympy rendering, and used
by the command without loading sympy."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ptcalc.catalog import STRATEGY_NAMES
from ptcalc.compute.formulas import metric_names
from ptcalc.model.tlb_inputs import METRIC_NAMES as TLB_METRICS
from ptcalc.present import _formula_text as table
from ptcalc.present import formula, formula_codegen


def test_generated_from_the_current_model_sources():
    assert formula_codegen.source_digest() == table.SOURCE_SHA256, \
        "ptcalc/present/_formula_text.py is stale: run python -m ptcalc.present.formula_codegen"


def test_every_strategy_and_metric_is_stored():
    for levels in (4, 5):
        for strategy in STRATEGY_NAMES:
            # the page-table totals exist for every strategy; TLB metrics too
            assert (strategy, "pt_bytes_total", levels) in table.CORE
            for metric in TLB_METRICS:
                assert (strategy, metric, levels) in table.TLB
        stored = {metric for (_, metric, lv) in table.CORE if lv == levels}
        assert stored == set(metric_names(levels))


def _fresh_text(strategy, metric, levels, latex):
    """What `formula_text` printed before the table existed: rendered now with sympy."""
    form = formula.formula_form(strategy, metric, paging=levels)
    if latex:
        return formula.render_latex(form)
    if metric in TLB_METRICS:
        from ptcalc.model import tlb

        return (formula.render_text(form, f"{metric} [{strategy}]") + "\n\n"
                + tlb.metric_doc(metric).strip())
    return formula.render_text(form, f"{metric} [{form.strategy}, {form.levels}-level, dense]")


@pytest.mark.parametrize("strategy, metric, levels", [
    ("private-4k", "pt_bytes_total", 4),
    ("hugetlb-2m-pmdshare", "pt_bytes_per_process", 4),
    ("mshare", "faults_total", 5),
    ("hugetlb-1g", "savings_vs_private_4k", 5),
    ("threads", "pud_table_bytes", 4),
    ("file-pt", "tlb_coverage", 4),
    ("thp-shmem", "walk_refs", 5),
])
def test_stored_text_equals_a_fresh_rendering(strategy, metric, levels):
    for latex in (False, True):
        stored = formula.formula_text(strategy, metric, paging=levels, latex=latex)
        assert stored == _fresh_text(strategy, metric, levels, latex)


def test_other_variants_are_rendered_with_sympy():
    # the random pattern and a named CPU are not stored: rendered when asked
    assert formula.formula_text("private-4k", "faults_total", pattern="random", paging=4)
    text = formula.formula_text("private-4k", "tlb_reach_l2_bytes", cpu="skylake-sp")
    # Skylake-SP's STLB: 1536 entries holding 4 KiB pages: 1536 x 4096 = 6,291,456 bytes
    assert "skylake-sp" in text and "6,291,456" in text


def test_formula_command_does_not_load_sympy():
    code = ("import sys\n"
            "from ptcalc.present.formula import formula_text\n"
            "formula_text('thp-shmem', 'pt_bytes_total', paging=4)\n"
            "formula_text('private-4k', 'walk_refs', paging=5, latex=True)\n"
            "print('sympy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"

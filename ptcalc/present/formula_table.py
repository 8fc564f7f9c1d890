"""The generated forms of `ptcalc formula` (ptcalc/present/_formula_text.py), without sympy.

ptcalc.present.formula_codegen renders them from the model; this module hands them back in
the shape of ptcalc.model.presentation.Form (strategy, metric, levels, pattern, steps with
name/text/latex, legend), or None for a variant that is not stored (then the caller renders
it with sympy).
"""

from __future__ import annotations

from typing import NamedTuple


class Step(NamedTuple):
    name: str
    text: str
    latex: str


class Form(NamedTuple):
    strategy: str
    metric: str
    levels: int
    pattern: str
    steps: tuple[Step, ...]
    legend: tuple[tuple[str, str], ...]


def _table():
    from ptcalc.present import _formula_text

    return _formula_text


def _build(strategy, metric, levels, pattern, step_ids, legend_ids) -> Form:
    table = _table()
    return Form(strategy, metric, levels, pattern,
                tuple(Step(*table.STEPS[i]) for i in step_ids),
                tuple(table.LEGEND[i] for i in legend_ids))


def core_form(strategy: str, metric: str, levels: int, pattern: str) -> Form | None:
    """The form of a core metric (names already validated), or None if not stored."""
    entry = _table().CORE.get((strategy, metric, levels)) if pattern == "dense" else None
    if entry is None:
        return None
    shown, shown_levels, step_ids, legend_ids = entry
    return _build(shown, metric, shown_levels, pattern, step_ids, legend_ids)


def tlb_form(strategy: str, metric: str, levels: int) -> Form | None:
    """The generic form (no CPU, native walk) of a TLB metric, or None if not stored."""
    entry = _table().TLB.get((strategy, metric, levels))
    if entry is None:
        return None
    return _build(strategy, metric, 0, "dense", *entry)


def tlb_doc(metric: str) -> str | None:
    return _table().TLB_DOCS.get(metric)

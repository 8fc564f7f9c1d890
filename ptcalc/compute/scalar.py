"""Numbers for one scenario as exact Python ints (no numpy, no pandas: the CLI's fast path),
from the compiled formulas via ptcalc.compute.formulas."""

from __future__ import annotations

from ptcalc.compute import formulas
from ptcalc.compute.formulas import metric_names
from ptcalc.inputs.scenario import Scenario
from ptcalc.model.strategies import BASELINE, STRATEGY_NAMES

RESULT_KEYS = ("strategy", "applicable", "reason")


def scenario_rows(scenario: Scenario, strategies=STRATEGY_NAMES) -> list[dict]:
    """One dict per strategy: strategy, applicable, reason and every metric (None where n/a)."""
    inputs = scenario.formula_inputs()
    names = metric_names(scenario.paging_levels)
    rows = []
    for strategy in strategies:
        reason = formulas.not_applicable(strategy, scenario.paging_levels, **inputs)
        row = {"strategy": strategy, "applicable": reason is None, "reason": reason}
        if reason:
            row.update(dict.fromkeys(names))
        else:
            row.update(formulas.metrics(strategy, scenario.paging_levels, scenario.pattern,
                                        **inputs))
        rows.append(row)
    return rows


__all__ = ["BASELINE", "RESULT_KEYS", "metric_names", "scenario_rows"]

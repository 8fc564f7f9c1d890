"""Numbers from the compiled formulas: one scenario as exact Python ints (no numpy, no
pandas: the CLI's fast path), or whole columns of scenarios at once (numpy)."""

from __future__ import annotations

from ptcalc.compute import _compiled
from ptcalc.inputs.scenario import Scenario
from ptcalc.model.strategies import BASELINE, STRATEGY_NAMES

RESULT_KEYS = ("strategy", "applicable", "reason")


def metric_names(levels: int = 4) -> tuple[str, ...]:
    return _compiled.METRICS[levels]


def _reasons(strategy: str, levels: int, args) -> list[str]:
    function, reasons = _compiled.CONDITIONS[(strategy, levels)]
    return [reason for reason, hit in zip(reasons, function(*args)) if hit]


def scenario_rows(scenario: Scenario, strategies=STRATEGY_NAMES) -> list[dict]:
    """One dict per strategy: strategy, applicable, reason and every metric (None where n/a)."""
    args = scenario.arguments()
    names = metric_names(scenario.paging)
    rows = []
    for strategy in strategies:
        reasons = _reasons(strategy, scenario.paging, args)
        row = {"strategy": strategy, "applicable": not reasons,
               "reason": "; ".join(reasons) or None}
        if reasons:
            row.update(dict.fromkeys(names))
        else:
            function = _compiled.FUNCTIONS[(strategy, scenario.paging, scenario.pattern)]
            row.update(zip(names, (_plain(v) for v in function(*args))))
        rows.append(row)
    return rows


def _plain(value):
    """Ints stay exact; floats that are whole (expected values) stay floats."""
    return value


def column_metrics(strategy: str, levels: int, pattern: str, columns: dict) -> dict:
    """Metric name -> numpy array for whole columns (ARGUMENTS order names in `columns`)."""
    function = _compiled.FUNCTIONS[(strategy, levels, pattern)]
    values = function(*(columns[name] for name in _compiled.ARGUMENTS))
    return dict(zip(metric_names(levels), values))


def column_reasons(strategy: str, levels: int, columns: dict):
    """Per-row reason (None where applicable) as a list of numpy bool masks with reasons."""
    function, reasons = _compiled.CONDITIONS[(strategy, levels)]
    hits = function(*(columns[name] for name in _compiled.ARGUMENTS))
    return list(zip(reasons, hits))


__all__ = ["BASELINE", "RESULT_KEYS", "column_metrics", "column_reasons", "metric_names",
           "scenario_rows"]

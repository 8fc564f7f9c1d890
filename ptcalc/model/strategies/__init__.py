"""The strategies' formulas, one module per strategy (ptcalc/model/strategies/<name>.py with
dashes as underscores).  Names, prose, sources and status are in ptcalc.catalog.

Modules are imported on demand (they need sympy); the names and the registry do not.
"""

from __future__ import annotations

import importlib

from ptcalc.catalog import BASELINE, STRATEGY_NAMES, strategy

__all__ = ["BASELINE", "STRATEGY_NAMES", "strategy_info", "strategy_module"]


def strategy_module(name: str):
    """The module defining strategy `name`'s formulas (counts, not_applicable)."""
    strategy(name)      # InputError for an unknown name
    return importlib.import_module(f"ptcalc.model.strategies.{name.replace('-', '_')}")


def strategy_info(name: str):
    """The catalogue record (name, shared, rule, source, upstream, ...) of strategy `name`."""
    return strategy(name)

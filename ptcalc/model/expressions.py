"""The symbolic model: every metric of every strategy as a named sympy expression.

This is the single source of truth for the numbers.  `ptcalc/compute/_compiled.py` is generated from
these expressions (see ptcalc.model.codegen) and a test keeps the two in sync.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from ptcalc import paging
from ptcalc.model import symbols as S
from ptcalc.model.strategies import BASELINE, STRATEGY_NAMES, strategy_module
from ptcalc.model.strategies.base import MAPPED_LEAVES, Context, assemble

PATTERNS = ("dense", "random")


def metric_names(paging_levels: int = 4) -> tuple[str, ...]:
    """Metric names in output order, for 4- or 5-level paging."""
    names = paging.paging_for(paging_levels).level_names
    level_columns = tuple(f"{level}_table_bytes" for level in names)
    return ("leaf_page_bytes", "pt_bytes_per_process", "pt_bytes_total", *level_columns,
            "savings_vs_private_4k", "huge_pages", "faults_first", "faults_next", "faults_total",
            "touched_bytes", *(f"mapped_{leaf}_bytes" for leaf in MAPPED_LEAVES))


@cache
def expressions(strategy: str, paging_levels: int = 4,
                pattern: str = "dense") -> dict[str, sp.Expr]:
    """Metric name -> sympy expression (with named constants) for one strategy."""
    ctx = Context(paging.paging_for(paging_levels), pattern)
    metrics = assemble(ctx, strategy_module(strategy).counts(ctx))
    if strategy == BASELINE:
        baseline_total = metrics["pt_bytes_total"]
    else:
        baseline_total = expressions(BASELINE, paging_levels, pattern)["pt_bytes_total"]
    metrics["savings_vs_private_4k"] = 1 - metrics["pt_bytes_total"] / baseline_total
    return {name: metrics[name] for name in metric_names(paging_levels)}


@cache
def conditions(strategy: str, paging_levels: int = 4) -> tuple[tuple[sp.Basic, str], ...]:
    """(condition, reason) pairs: the strategy is not applicable where a condition holds."""
    ctx = Context(paging.paging_for(paging_levels), "dense")
    return tuple(strategy_module(strategy).not_applicable(ctx))


def formula(strategy: str, metric: str, paging_levels: int = 4,
            pattern: str = "dense") -> sp.Expr:
    """One metric's expression, with the geometric constants left as named symbols."""
    return expressions(strategy, paging_levels, pattern)[metric]


@cache
def numeric(expr):
    """The expression with the geometric constants replaced by their values (cached: the
    same metric comes back for many strategies, and each replacement re-evaluates floors
    and ceilings, most of codegen's time)."""
    return expr.xreplace({symbol: sp.Integer(value) for symbol, value in S.CONSTANTS.items()})


def all_variants():
    """Every (strategy, paging_levels, pattern) the compiled module covers."""
    return [(name, levels, pattern) for name in STRATEGY_NAMES for levels in (4, 5)
            for pattern in PATTERNS]

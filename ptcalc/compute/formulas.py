"""The one way to the generated formulas (ptcalc/compute/_compiled.py): by keyword.

Every caller passes inputs by name (the names of ptcalc.model.symbols.INPUTS, e.g.
size_bytes=..., procs=...), as Python ints (exact; no numpy is loaded) or as numpy columns.
Nothing outside this module and ptcalc.compute.frame's column backend looks into _compiled.
The reasons a strategy does not apply are joined here, once.
"""

from __future__ import annotations

from ptcalc.compute import _compiled
from ptcalc.model.tlb_inputs import (
    INT_METRICS,
    METRIC_NAMES,
    WalkOptions,
    tlb_parameters,
    tlb_shape,
)

#: Names of the inputs of the core formulas.
INPUT_NAMES: tuple[str, ...] = _compiled.ARGUMENTS
REASON_SEPARATOR = "; "


def metric_names(paging_levels: int = 4) -> tuple[str, ...]:
    """Core metric names in output order for 4- or 5-level paging."""
    return _compiled.METRICS[paging_levels]


def metrics_function(strategy: str, paging_levels: int, pattern: str):
    """The generated function of one strategy (call it with keyword inputs)."""
    return _compiled.FUNCTIONS[(strategy, paging_levels, pattern)]


def metrics(strategy: str, paging_levels: int, pattern: str, **inputs) -> dict:
    """Metric name -> value (None where the metric does not exist for the strategy)."""
    values = metrics_function(strategy, paging_levels, pattern)(**inputs)
    return dict(zip(metric_names(paging_levels), values))


def conditions_function(strategy: str, paging_levels: int):
    """(generated function, reason texts): the function returns one hit per reason."""
    return _compiled.CONDITIONS[(strategy, paging_levels)]


def reason_texts(strategy: str, paging_levels: int) -> tuple[str, ...]:
    return conditions_function(strategy, paging_levels)[1]


def conditions(strategy: str, paging_levels: int, **inputs) -> list[tuple[str, object]]:
    """(reason, hit) per not-applicable condition; hit is a bool or a bool column."""
    function, texts = conditions_function(strategy, paging_levels)
    return list(zip(texts, function(**inputs)))


def join_reasons(reasons) -> str | None:
    """The one text of several reasons (each once, in order); None when there are none."""
    return REASON_SEPARATOR.join(dict.fromkeys(reasons)) or None


def not_applicable(strategy: str, paging_levels: int, **inputs) -> str | None:
    """Why the strategy does not apply to one scenario (Python values), or None."""
    return join_reasons(text for text, hit in conditions(strategy, paging_levels, **inputs)
                        if hit)


# --- TLB ----------------------------------------------------------------------------------------

_RUNTIME_SHAPES: dict = {}


def tlb_function(cpu):
    """The generated TLB function of the CPU's TLB shape (compiled now, with sympy, only for a
    CPU file whose shape no shipped file has)."""
    shape = tlb_shape(cpu)
    function = _compiled.TLB_SHAPES.get(shape) or _RUNTIME_SHAPES.get(shape)
    if function is None:
        from ptcalc.compute import runtime
        from ptcalc.model.codegen import compile_tlb_shape

        function = _RUNTIME_SHAPES[shape] = compile_tlb_shape(shape, {"_n": runtime})
    return function


def tlb_metrics(cpu, walk: WalkOptions, llc_bytes: int, **columns) -> dict:
    """TLB metric name -> value for the input columns (tlb_inputs.INPUT_COLUMNS, by name).

    Python ints give exact ints (bytes, refs) and floats (ratios); numpy columns give columns.
    touched_bytes must be positive for Python ints (coverage divides by it).
    """
    cpu_values = tlb_function(cpu)(**columns, **tlb_parameters(cpu), llc_bytes=llc_bytes)
    out = dict(zip(_compiled.TLB_CPU_METRICS, cpu_values))
    (out["walk_refs"],) = _compiled.TLB_WALKS[walk.key](**columns)
    return {name: out[name] for name in METRIC_NAMES}


__all__ = ["INPUT_NAMES", "INT_METRICS", "REASON_SEPARATOR", "conditions", "join_reasons",
           "metric_names", "metrics", "metrics_function", "not_applicable", "reason_texts",
           "tlb_function", "tlb_metrics"]

"""The Python API: compare one scenario, evaluate many, show a formula."""

from __future__ import annotations

from ptcalc.errors import InputError
from ptcalc.inputs.scenario import DEFAULT_FAULT_AROUND, make_scenario, parse_strategies


def compare(size, procs, offset=0, touched=1.0, access="write", strategies=None, *,
            pattern="dense", paging=4, fault_around=DEFAULT_FAULT_AROUND, cpu=None,
            virtualized=False, host_page="4k", llc_bytes=None):
    """One scenario, every strategy (or those named): a DataFrame with one row per strategy.

    size/offset accept ints or text ("300GiB", "10GB"); touched is a fraction in (0, 1].
    Columns: strategy, applicable, reason, then the metrics (see `ptcalc.api.evaluate`).
    With cpu (a name from `ptcalc cpus`, "host" or "default") the TLB metrics are added.
    """
    import pandas as pd

    from ptcalc.compute.scalar import scenario_rows

    scenario = make_scenario(size, procs, offset, touched, access, pattern, paging, fault_around)
    chosen_strategies = parse_strategies(strategies)
    frame = _dtypes_of_evaluate(pd.DataFrame(scenario_rows(scenario, chosen_strategies)),
                                scenario, chosen_strategies)
    if cpu is None and not virtualized:
        return frame
    from ptcalc.compute.tlb import add_tlb_to_frame, resolve

    chosen, _ = resolve(cpu)
    return add_tlb_to_frame(frame, chosen, scenario.paging_levels, virtualized, host_page,
                            llc_bytes)


def _dtypes_of_evaluate(frame, scenario, strategies):
    """compare()'s columns in the dtypes evaluate() gives the same columns (categorical
    names, nullable Int64/Float64 metrics), taken from evaluating the same scenario."""
    import pandas as pd

    from ptcalc.compute.frame import evaluate_frame

    one = pd.DataFrame({"size_bytes": [scenario.size_bytes], "procs": [scenario.procs],
                        "offset_bytes": [scenario.offset_bytes],
                        "touched": [float(scenario.touched)], "access": [scenario.access]})
    reference = evaluate_frame(one, strategies, pattern=scenario.pattern,
                               paging=scenario.paging,
                               fault_around=scenario.fault_around_bytes)
    return frame.astype({name: reference[name].dtype for name in frame.columns
                         if name in reference.columns})


def evaluate(scenarios, strategies=None, *, pattern="dense", paging=4,
             fault_around=DEFAULT_FAULT_AROUND, cpu=None, virtualized=False, host_page="4k",
             llc_bytes=None):
    """Many scenarios at once: a DataFrame with columns size_bytes, procs and optionally
    offset_bytes, touched, access (and pattern).  Returns the long format: one row per
    scenario and strategy, the scenario columns, `strategy`, `applicable`, `reason` and the
    metrics.  `strategy`, `access`, `pattern` and `reason` are categorical; byte and fault
    metrics are nullable Int64 (NA where a strategy is not applicable), expected values under
    the random pattern and ratios Float64.  A dask DataFrame is evaluated partition by
    partition and returned as one (TLB metrics, cpu=, need a pandas frame)."""
    from ptcalc.compute.dask import is_dask

    if is_dask(scenarios):       # partition by partition, each by the frame evaluator
        from ptcalc.compute.dask import evaluate_dask as evaluate_columns
    else:
        from ptcalc.compute.frame import evaluate_frame as evaluate_columns
    frame = evaluate_columns(scenarios, parse_strategies(strategies), pattern=pattern,
                             paging=paging, fault_around=fault_around)
    if cpu is None and not virtualized:
        return frame
    if is_dask(frame):
        raise InputError("TLB metrics (cpu=, virtualized=) need a pandas DataFrame; call "
                         "ptcalc.evaluate on each computed partition instead")
    from ptcalc.compute.tlb import add_tlb_to_frame, resolve

    chosen, _ = resolve(cpu)
    return add_tlb_to_frame(frame, chosen, paging, virtualized, host_page, llc_bytes)


def formula(strategy: str, metric: str, *, paging: int = 4, pattern: str = "dense", cpu=None,
            virtualized: bool = False, host_page="4k"):
    """One metric's formula: a `ptcalc.api_formula.Formula`, which renders as LaTeX in
    Jupyter, is taken by every sympy function (its sympy expression is `.expr`), and evaluates
    exactly with `.at(size="300GiB", procs=1500)`; `.subs()` also takes symbols by name.

    TLB metrics (tlb_reach_l1_bytes, ...) show the CPU's entry counts as symbols, or filled
    in with cpu= a name from `ptcalc cpus`.
    """
    from ptcalc.api_formula import Formula
    from ptcalc.inputs.scenario import PATTERNS, parse_choice, parse_paging
    from ptcalc.model import expressions as model
    from ptcalc.model import tlb

    (name,) = parse_strategies([strategy])
    levels = parse_paging(paging)
    pattern = parse_choice(pattern, PATTERNS, "pattern")
    if metric in tlb.METRIC_NAMES:
        from ptcalc.compute.tlb import parse_host_page, resolve

        chosen = resolve(cpu)[0] if cpu else None
        expr = tlb.tlb_expression(metric, chosen, strategy=name, paging_levels=levels,
                                  virtualized=virtualized,
                                  host_page_bytes=parse_host_page(host_page))
        return Formula(expr, strategy=name, metric=metric, paging=levels, pattern=pattern)
    names = (*model.metric_names(levels), *tlb.METRIC_NAMES)
    if metric not in names:
        import difflib

        near = difflib.get_close_matches(metric, names, n=1, cutoff=0.4)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise InputError(f"metric {metric!r} is not known; {hint}known: {', '.join(names)}")
    expr = model.formula(name, metric, levels, pattern)
    if expr is None:
        raise InputError(f"metric {metric!r} does not apply to {name} (it is null there)")
    return Formula(expr, strategy=name, metric=metric, paging=levels, pattern=pattern)

"""The Python API: compare one scenario, evaluate many, show a formula."""

from __future__ import annotations

from ptcalc.errors import InputError
from ptcalc.inputs.scenario import DEFAULT_FAULT_AROUND, make_scenario, parse_strategies


def compare(size, procs, offset=0, touched=1.0, access="write", strategies=None, *,
            metrics=None, pattern="dense", paging=4, fault_around=DEFAULT_FAULT_AROUND,
            cpu=None, virtualized=False, host_page="4k", llc_bytes=None):
    """One scenario, every strategy (or those named): a DataFrame with one row per strategy.

    size/offset accept ints or text ("300GiB", "10GB"); touched is a fraction in (0, 1].
    Columns and dtypes are those of `ptcalc.evaluate` for the same scenario: the scenario
    (size_bytes, procs, offset_bytes, touched, access, pattern), strategy, applicable, reason,
    then the metrics, exact (nullable Int64, never float, for whole numbers; Python ints in an
    object column beyond int64).  `attrs` holds the scenario as given and resolved
    (attrs["scenario"]), the paging levels, fault-around and the ptcalc version.
    With cpu (a name from `ptcalc cpus`, "host" or "default") the TLB metrics are added.
    `metrics=` keeps only the metric columns named (as in `ptcalc.evaluate`).
    """
    from ptcalc.compute.frame import parse_metrics
    from ptcalc.compute.scalar import scenario_rows
    from ptcalc.compute.typed import RESULT_COLUMNS, SCENARIO_COLUMNS, rows_frame

    scenario = make_scenario(size, procs, offset, touched, access, pattern, paging, fault_around)
    chosen_strategies = parse_strategies(strategies)
    core, keep = _split_metrics(metrics, paging, cpu, virtualized)
    if core is not None:
        parse_metrics(core, scenario.paging_levels)          # InputError on a bad name
    frame = rows_frame(scenario, chosen_strategies, scenario_rows(scenario, chosen_strategies))
    if cpu is not None or virtualized:
        from ptcalc.compute.tlb import add_tlb_to_frame, resolve

        chosen, _ = resolve(cpu)
        frame = add_tlb_to_frame(frame, chosen, scenario.paging_levels, virtualized,
                                 host_page, llc_bytes)
    if keep is None:
        return frame
    selected = frame[[*SCENARIO_COLUMNS, *RESULT_COLUMNS, *keep]]
    selected.attrs = {**frame.attrs, "metrics": list(keep)}
    return selected


def evaluate(scenarios, strategies=None, *, metrics=None, pattern="dense", paging=4,
             fault_around=DEFAULT_FAULT_AROUND, order="strategy", cpu=None, virtualized=False,
             host_page="4k", llc_bytes=None):
    """Many scenarios at once: a DataFrame with columns size_bytes, procs and optionally
    offset_bytes, touched, access (and pattern).  Returns the long format: one row per
    scenario and strategy, the scenario columns, `strategy`, `applicable`, `reason` and the
    metrics (`metrics=`: only those named, computed and written; cost falls with them).
    order="strategy" puts all scenarios of a strategy together, order="scenario" the
    strategies of a scenario.  `strategy`, `access`, `pattern` and `reason` are categorical;
    byte and fault metrics are nullable Int64 (NA where a strategy is not applicable; an
    object column of exact Python ints only for a metric with a value beyond int64),
    expected values under the random pattern and ratios Float64.  `attrs` records the
    options and the ptcalc version.  A dask DataFrame is evaluated partition by partition
    and returned as one (TLB metrics, cpu=, need a pandas frame).

    Memory: 172 bytes per output row with every metric at 4-level paging (8 per int64
    scenario column, 1 per code, 9 per metric: value and NA mask), plus about 60 bytes per
    scenario while it runs; 10**7 scenarios x 9 strategies hold about 16 GB.  For inputs
    that large use `ptcalc.evaluate_chunks`, which holds one chunk at a time."""
    from ptcalc.compute.dask import is_dask

    chosen = parse_strategies(strategies)
    core, keep = _split_metrics(metrics, paging, cpu, virtualized)
    if is_dask(scenarios):       # partition by partition, each by the frame evaluator
        from ptcalc.compute.dask import evaluate_dask

        frame = evaluate_dask(scenarios, chosen, pattern=pattern, paging=paging,
                              fault_around=fault_around, metrics=core)
    else:
        from ptcalc.compute.frame import evaluate_frame

        frame = evaluate_frame(scenarios, chosen, pattern=pattern, paging=paging,
                               fault_around=fault_around, metrics=core, order=order)
    if cpu is None and not virtualized:
        return frame
    if is_dask(frame):
        raise InputError("TLB metrics (cpu=, virtualized=) need a pandas DataFrame; call "
                         "ptcalc.evaluate on each computed partition instead")
    return _with_tlb(frame, keep, cpu, paging, virtualized, host_page, llc_bytes)


def evaluate_chunks(scenarios, strategies=None, *, rows=1 << 20, metrics=None,
                    pattern="dense", paging=4, fault_around=DEFAULT_FAULT_AROUND,
                    order="strategy"):
    """`ptcalc.evaluate` one chunk at a time: an iterator of DataFrames of at most `rows`
    output rows each (whole scenarios: rows // len(strategies) scenarios per chunk), in
    input order.  `scenarios` is a DataFrame or an iterable of DataFrames (e.g. generated
    chunk by chunk); each chunk is validated and evaluated when the iterator reaches it, so
    memory holds one chunk (about 172 bytes x rows with every metric) beside the input.

    Every chunk has the same columns, dtypes and `reason` categories (all the reasons the
    strategies can give), so chunks concatenate or stream to a file as one table; except
    that a metric column with a value beyond int64 is an object column of Python ints in
    the chunks that hold one.  Each chunk's index starts at 0; `order` is applied within
    each chunk."""
    from ptcalc.compute.chunks import evaluate_chunks as chunks

    return chunks(scenarios, parse_strategies(strategies), rows=rows, metrics=metrics,
                  pattern=pattern, paging=paging, fault_around=fault_around, order=order)


def _split_metrics(metrics, paging, cpu, virtualized):
    """(core metrics to compute or None for all, metric columns to return or None for all)
    of a metrics= selection, which may name TLB metrics when cpu= (or virtualized=) is given;
    with cpu= and no TLB metric named, all TLB metrics are added."""
    if metrics is None:
        return None, None
    from ptcalc.model.tlb_inputs import INPUT_COLUMNS
    from ptcalc.model.tlb_inputs import METRIC_NAMES as TLB_METRICS

    if isinstance(metrics, str):
        metrics = [part.strip() for part in metrics.split(",") if part.strip()]
    metrics = list(metrics)
    with_tlb = cpu is not None or virtualized
    named_tlb = [m for m in metrics if m in TLB_METRICS]
    if named_tlb and not with_tlb:
        raise InputError(f"metric {named_tlb[0]!r} is a TLB metric; give cpu= (a name from "
                         "`ptcalc cpus`, 'host' or 'default') to compute it")
    core = [m for m in metrics if m not in TLB_METRICS]
    if not with_tlb:
        return core, core
    keep = metrics if named_tlb else [*metrics, *TLB_METRICS]
    return [*core, *(m for m in INPUT_COLUMNS if m not in core)], keep


def _with_tlb(frame, keep, cpu, paging, virtualized, host_page, llc_bytes):
    from ptcalc.compute.tlb import add_tlb_to_frame, resolve
    from ptcalc.compute.typed import RESULT_COLUMNS, SCENARIO_COLUMNS

    chosen, _ = resolve(cpu)
    out = add_tlb_to_frame(frame, chosen, paging, virtualized, host_page, llc_bytes)
    if keep is None:
        return out
    out = out[[*SCENARIO_COLUMNS, *RESULT_COLUMNS, *keep]]
    out.attrs = {**frame.attrs, "metrics": list(keep)}
    return out


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

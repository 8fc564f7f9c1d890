"""ptcalc.evaluate over a dask DataFrame (optional extra `dist`): partition by partition.

Each partition is evaluated by ptcalc.compute.frame.evaluate_frame exactly as a pandas frame
would be,
on whatever scheduler or cluster the caller uses (threads, processes, dask.distributed).  The
result is a lazy dask DataFrame in the same long format, with fixed dtypes and categories in
every partition so that partitions concatenate cleanly:

- rows come partition by partition; within a partition, strategy-major (all its scenarios for
  the first strategy, then the next), as in the pandas result of that partition;
- the index restarts at 0 in every partition (divisions unknown);
- bad values raise ptcalc.InputError when the partition holding them is computed; missing
  required columns raise at once.
"""

from __future__ import annotations

from ptcalc.errors import InputError


def is_dask(obj) -> bool:
    """A dask collection?  (Checked by module name: dask need not be installed.)"""
    return type(obj).__module__.split(".")[0] == "dask"


def evaluate_dask(scenarios, strategies, *, pattern="dense", paging=4, fault_around=65536,
                  metrics=None):
    """A dask DataFrame of results for a dask DataFrame of scenarios (lazy)."""
    import pandas as pd

    from ptcalc.compute.frame import evaluate_frame
    from ptcalc.inputs.scenario import PATTERNS, parse_choice, parse_fault_around, parse_paging

    if not hasattr(scenarios, "map_partitions") or not hasattr(scenarios, "columns"):
        raise InputError("scenarios must be a pandas or dask DataFrame with columns "
                         f"size_bytes and procs, not {type(scenarios).__name__}")
    for name in ("size_bytes", "procs"):
        if name not in scenarios.columns:
            raise InputError(f"scenarios lack the column {name!r}; give size_bytes and procs "
                             "(and optionally offset_bytes, touched, access, pattern)")
    levels = parse_paging(paging)
    pattern = parse_choice(pattern, PATTERNS, "pattern")
    fault_around = parse_fault_around(fault_around)
    kinds = PATTERNS if "pattern" in scenarios.columns else (pattern,)
    probe = pd.DataFrame({"size_bytes": [4096] * len(kinds), "procs": [1] * len(kinds),
                          "pattern": list(kinds)})
    meta = evaluate_frame(probe, strategies, pattern=pattern, paging=levels,
                          fault_around=fault_around, metrics=metrics).iloc[:0]
    reasons = all_reasons(strategies, levels)
    meta["reason"] = meta["reason"].cat.set_categories(reasons)
    dtypes = {name: str(dtype) for name, dtype in meta.dtypes.items()
              if str(dtype) in ("Int64", "Float64")}
    return scenarios.map_partitions(
        _evaluate_partition, list(strategies), pattern, levels, fault_around, reasons, dtypes,
        metrics, meta=meta, enforce_metadata=False, align_dataframes=False)


def _evaluate_partition(part, strategies, pattern, levels, fault_around, reasons, dtypes,
                        metrics=None):
    from ptcalc.compute.frame import evaluate_frame

    out = evaluate_frame(part, tuple(strategies), pattern=pattern, paging=levels,
                         fault_around=fault_around, metrics=metrics)
    out["reason"] = out["reason"].cat.set_categories(reasons)
    for name, dtype in dtypes.items():
        if out[name].dtype != dtype:
            try:
                out[name] = out[name].astype(dtype)
            except (OverflowError, TypeError, ValueError):
                raise InputError(f"column {name!r} has values beyond 64-bit integers; "
                                 "evaluate such scenarios with pandas (exact Python ints)") \
                    from None
    return out


def all_reasons(strategies, levels) -> list[str]:
    """Every reason text the strategies can give (each combination of their conditions), in
    the order ptcalc.compute.frame assigns them."""
    from ptcalc.compute import formulas

    texts = []
    for strategy in strategies:
        conditions = formulas.reason_texts(strategy, levels)
        for bits in range(1, 1 << len(conditions)):
            text = formulas.join_reasons(t for b, t in enumerate(conditions) if bits >> b & 1)
            if text not in texts:
                texts.append(text)
    return texts

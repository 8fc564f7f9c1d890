"""`ptcalc.operations(...)`: the cost of one operation for every strategy, as a DataFrame."""

from __future__ import annotations


def operations(operation, size, procs, bytes=None, at=0, offset=0, touched=1.0,
               access="write", strategies=None, *, cpus=1, host_cpus=0):
    """One row per strategy (and variant: mshare v1-v3 and the 2026 proposal) for
    `operation` (fork, exit, mprotect, munmap, madvise) applied by one process to
    [at, at + bytes) of the region (default: the whole region).

    Counts and byte deltas are nullable Int64 (NA where the operation does not apply, the
    reason is in `reason`); `source` names the kernel function or the posting.  Columns:
    see ptcalc.compute.operations.METRICS and TEXT_COLUMNS."""
    import pandas as pd

    from ptcalc.compute.operations import METRICS, TEXT_COLUMNS, make_inputs, operation_rows
    from ptcalc.inputs.scenario import make_scenario, parse_strategies

    scenario = make_scenario(size, procs, offset, touched, access)
    inputs = make_inputs(operation, scenario, at, bytes, cpus, host_cpus)
    rows = operation_rows(inputs, parse_strategies(strategies))
    frame = pd.DataFrame(rows, columns=[*TEXT_COLUMNS, *METRICS])
    for column in METRICS:
        frame[column] = frame[column].astype("Int64")
    frame["applicable"] = frame["applicable"].astype(bool)
    return frame

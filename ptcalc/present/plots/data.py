"""The numbers behind the plots: scenario frames and each strategy's OOM point."""

from __future__ import annotations


def scenario_frame(size_bytes, procs, offset_bytes, touched, access):
    import pandas as pd

    count = max(len(procs) if hasattr(procs, "__len__") else 1,
                len(size_bytes) if hasattr(size_bytes, "__len__") else 1)

    def column(value):
        return list(value) if hasattr(value, "__len__") and not isinstance(value, str) \
            else [value] * count

    return pd.DataFrame({"size_bytes": column(size_bytes), "procs": column(procs),
                         "offset_bytes": column(offset_bytes), "touched": column(touched),
                         "access": column(access)})


def parse_bytes(value, what: str) -> int:
    from ptcalc.errors import InputError
    from ptcalc.units import UnitError, parse_size

    try:
        return parse_size(value, what=what)
    except UnitError as error:
        raise InputError(str(error)) from None


def parse_fraction(value) -> float:
    from ptcalc.inputs.scenario import parse_touched

    return float(parse_touched(value))


def oom_points(size, ram, *, offset=0, touched=1.0, access="write", strategies=None,
               pattern="dense", paging=4):
    """For each strategy, where the region plus its page tables stop fitting in ``ram``.

    Returns a DataFrame: strategy, applicable, reason, max_procs (the most processes for which
    size + pt_bytes_total <= ram; 0 when the region alone does not fit; <NA> when even
    MAX_PROCS processes fit) and oom_procs (max_procs + 1: the first count that does not
    fit, <NA> when none up to MAX_PROCS).  The counts are ptcalc.compute.plan's: exact, from
    the model itself (`ptcalc plan --size S --ram R` prints the same).
    """
    import pandas as pd

    from ptcalc.compute.plan import plan

    size_bytes = parse_bytes(size, "size")
    ram_bytes = parse_bytes(ram, "ram")
    rows, _ = plan(size_bytes, budget=max(0, ram_bytes - size_bytes), offset=parse_bytes(offset,
                   "offset"), touched=parse_fraction(touched), access=access, pattern=pattern,
                   strategies=strategies, paging=paging)
    does_not_fit = size_bytes > ram_bytes

    def most(row):
        if not row["applicable"]:
            return pd.NA
        if does_not_fit:
            return 0
        return pd.NA if row["max_procs_capped"] else row["max_procs"]

    max_procs = pd.array([most(row) for row in rows], dtype="Int64")
    return pd.DataFrame({
        "strategy": [row["strategy"] for row in rows],
        "applicable": [row["applicable"] for row in rows],
        "reason": [row["reason"] for row in rows],
        "max_procs": max_procs,
        "oom_procs": max_procs + 1,
    })


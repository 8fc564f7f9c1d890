"""The TLB metrics (ptcalc.model.tlb, compiled by codegen) for result rows or frames, for the
strategies that apply.  Rows take the plain-Python path (no numpy, pandas or sympy: `ptcalc
compare --cpu` stays fast); frames evaluate whole columns."""

from __future__ import annotations

from ptcalc.compute import formulas
from ptcalc.errors import InputError
from ptcalc.model.tlb_inputs import INPUT_COLUMNS, INT_METRICS, METRIC_NAMES, walk_options
from ptcalc.paging import PAGE_BYTES

HOST_PAGES = {"4k": 4096, "2m": 2**21, "1g": 2**30}


def parse_host_page(value) -> int:
    text = str(value).strip().lower().replace("ib", "").replace("b", "")
    if text not in HOST_PAGES:
        raise InputError(f"host page {value!r} is not known; use 4k, 2m or 1g")
    return HOST_PAGES[text]


def resolve(cpu):
    """(Cpu, explanation or None) for a name, an alias, 'host', 'default' or a CPU file
    (a path, or a name ending in .toml: the form of models/cpus/*.toml)."""
    from ptcalc.cpus import load as cpus

    text = str(cpu) if cpu is not None else ""
    if "/" in text or text.endswith(".toml") or text.startswith("~"):
        from pathlib import Path

        path = Path(text).expanduser()
        if not path.is_file():
            raise InputError(f"cpu file {text!r} does not exist; give a TOML file as in "
                             "models/cpus, or a name (ptcalc cpus)")
        return cpus.load_cpu_file(path), None
    return cpus.resolve_cpu(None if cpu in (None, "default") else cpu)


def _as_cpu(cpu):
    if cpu is None:
        raise InputError("tlb_metrics needs a CPU")
    if hasattr(cpu, "l1_dtlb"):
        return cpu
    from ptcalc.cpus.load import load_cpu

    return load_cpu(cpu)


def _llc(cpu, llc_bytes) -> int:
    llc = cpu.llc_bytes if llc_bytes is None else int(llc_bytes)
    if llc <= 0:
        raise InputError(f"LLC size {llc_bytes!r} must be a positive number of bytes")
    return llc


def _column(frame, name):
    import numpy as np

    values = frame[name].to_numpy()
    if values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False)
    try:
        return values.astype(np.int64)
    except (OverflowError, TypeError, ValueError):
        return values.astype(object)      # exact Python ints beyond int64


def tlb_metrics(frame, cpu, paging_levels: int = 4, virtualized: bool = False,
                host_page_bytes: int = PAGE_BYTES, *, host_paging_levels: int | None = None,
                llc_bytes: int | None = None):
    """The six TLB metric columns for each row (strategy) of `frame`, row-aligned with it.

    frame: pandas.DataFrame with the INPUT_COLUMNS (extra columns are ignored).
    cpu: a ptcalc.cpus.load.Cpu or a CPU name.  paging_levels: 4 or 5 (5 needs LA57 on the CPU).
    virtualized, host_page_bytes (4096, 2 MiB or 1 GiB), host_paging_levels (default: the
    guest's): walk_refs becomes the two-dimensional walk.  llc_bytes overrides the CPU file's
    reference-SKU LLC size (e.g. the host's own).
    Returns a DataFrame with METRIC_NAMES columns (bytes and refs int64, ratios float64) and
    frame's index.
    """
    import numpy as np
    import pandas as pd

    cpu = _as_cpu(cpu)
    walk = walk_options(cpu, paging_levels, virtualized, host_page_bytes, host_paging_levels)
    missing = [name for name in INPUT_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"tlb_metrics: frame lacks column(s) {', '.join(missing)}")
    llc = _llc(cpu, llc_bytes)
    columns = {name: _column(frame, name) for name in INPUT_COLUMNS}
    rows = len(frame)
    with np.errstate(divide="ignore", invalid="ignore"):
        results = formulas.tlb_metrics(cpu, walk, llc, **columns)
    out = {}
    for name in METRIC_NAMES:
        values = np.asarray(results[name])
        if values.ndim == 0 or values.shape[0] != rows:
            values = np.broadcast_to(values, (rows,)).copy()
        if name in INT_METRICS and values.dtype != object:
            values = values.astype(np.int64)
        elif name not in INT_METRICS:
            values = values.astype(float)
        out[name] = values
    return pd.DataFrame(out, index=frame.index)


def add_tlb_to_frame(frame, cpu, paging_levels=4, virtualized=False, host_page="4k",
                     llc_bytes=None):
    """The frame with the six TLB columns (NA where the strategy is not applicable)."""
    import pandas as pd

    host_page_bytes = parse_host_page(host_page)
    applicable = frame["applicable"].astype(bool)
    inputs = frame.loc[applicable, list(INPUT_COLUMNS)]
    metrics = tlb_metrics(inputs, cpu, paging_levels, virtualized, host_page_bytes,
                          llc_bytes=llc_bytes)
    out = frame.copy()
    for name in METRIC_NAMES:
        values = metrics[name].to_numpy()
        dtype = "Int64" if name in INT_METRICS else "Float64"
        if dtype == "Int64" and values.dtype == object:     # Python ints beyond 64 bits
            dtype = object
        column = pd.Series(None if dtype is object else pd.NA, index=frame.index, dtype=dtype)
        column.loc[applicable] = values
        out[name] = column
    return out


def add_tlb_to_rows(rows: list[dict], cpu, paging_levels=4, virtualized=False, host_page="4k",
                    llc_bytes=None) -> list[dict]:
    """Rows (dicts from ptcalc.compute.scalar) with the six TLB metrics; None where the
    strategy does not apply.  Plain Python: exact ints, float ratios."""
    cpu = _as_cpu(cpu)
    walk = walk_options(cpu, paging_levels, virtualized, parse_host_page(host_page))
    llc = _llc(cpu, llc_bytes)
    result = []
    for row in rows:
        extra = dict.fromkeys(METRIC_NAMES)
        if row["applicable"]:
            # int(): as the column path, which reads the inputs as int64 (expected values of
            # the random pattern are truncated, exact ints stay exact).
            values = formulas.tlb_metrics(cpu, walk, llc,
                                          **{name: int(row[name]) for name in INPUT_COLUMNS})
            extra = {name: int(value) if name in INT_METRICS else float(value)
                     for name, value in values.items()}
        result.append({**row, **extra})
    return result

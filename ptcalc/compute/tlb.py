"""Add the TLB metrics (ptcalc.model.tlb) to result rows or frames, for applicable strategies."""

from __future__ import annotations

from ptcalc.errors import InputError

HOST_PAGES = {"4k": 4096, "2m": 2**21, "1g": 2**30}


def parse_host_page(value) -> int:
    text = str(value).strip().lower().replace("ib", "").replace("b", "")
    if text not in HOST_PAGES:
        raise InputError(f"host page {value!r} is not known; use 4k, 2m or 1g")
    return HOST_PAGES[text]


def resolve(cpu):
    """(Cpu, explanation or None) for a name, an alias, 'host' or 'default'."""
    from ptcalc.cpus import load as cpus

    return cpus.resolve_cpu(None if cpu in (None, "default") else cpu)


def add_tlb_to_frame(frame, cpu, paging_levels=4, virtualized=False, host_page="4k",
                     llc_bytes=None):
    """The frame with the six TLB columns (NA where the strategy is not applicable)."""
    import pandas as pd

    from ptcalc.model import tlb

    host_page_bytes = parse_host_page(host_page)
    applicable = frame["applicable"].astype(bool)
    inputs = frame.loc[applicable, list(tlb.INPUT_COLUMNS)]
    metrics = tlb.tlb_metrics(inputs, cpu, paging_levels, virtualized, host_page_bytes,
                              llc_bytes=llc_bytes)
    out = frame.copy()
    for name in tlb.METRIC_NAMES:
        values = metrics[name].to_numpy()
        dtype = "Float64" if name in ("tlb_coverage", "pt_walk_footprint_llc_ratio") \
            else "Int64"
        if dtype == "Int64" and values.dtype == object:     # Python ints beyond 64 bits
            dtype = object
        column = pd.Series(None if dtype is object else pd.NA, index=frame.index, dtype=dtype)
        column.loc[applicable] = values
        out[name] = column
    return out


def add_tlb_to_rows(rows: list[dict], cpu, paging_levels=4, virtualized=False, host_page="4k",
                    llc_bytes=None) -> list[dict]:
    import pandas as pd

    frame = pd.DataFrame(rows)
    with_tlb = add_tlb_to_frame(frame, cpu, paging_levels, virtualized, host_page, llc_bytes)
    from ptcalc.model import tlb

    result = []
    for row, (_, values) in zip(rows, with_tlb.iterrows()):
        extra = {name: (None if pd.isna(values[name]) else values[name].item()
                        if hasattr(values[name], "item") else values[name])
                 for name in tlb.METRIC_NAMES}
        result.append({**row, **extra})
    return result

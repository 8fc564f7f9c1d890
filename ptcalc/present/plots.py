"""Plots and readable tables for sizing reports (matplotlib: the optional extra ``plot``).

Every plot function returns a ``matplotlib.figure.Figure`` built with the object API (no
``pyplot``, no global state, no backend chosen): it saves to PNG headless through the Agg
canvas, and in Jupyter (``%matplotlib inline``) a returned figure displays as the cell's
result.  matplotlib is imported inside the functions, so importing
this module costs nothing.

    readable(df)                      a copy of a result DataFrame with readable units (strings)
    oom_points(size, ram, ...)        per strategy: the most processes that fit, the OOM point
    page_tables_vs_procs(size, ram, procs=..., ...)   PageTables bytes against process count,
                                      the RAM line and the OOM point of each strategy
    savings(df)                       page-table bytes per strategy, saving vs private-4k
    faults(df)                        faults of the first, each later and all processes
    tlb_coverage(cpu=..., working_set=...)   TLB coverage against working-set size
    heatmap(df, ...)                  one metric over two scenario columns (e.g. shared_buffers
                                      x connections), one panel per touched fraction
    png_bytes(fig), save_png(fig, path)

Byte axes use binary units (KiB, MiB, GiB, TiB) on a log2 scale.  The RAM line of
``page_tables_vs_procs`` is RAM minus the region: the region (counted in full, as hugetlb
reserves it at mmap time and a database cache fills over time) plus the page tables must fit
in RAM; everything else on the host (kernel, private memory of the processes) is ignored, so
the real OOM point comes earlier.
"""

from __future__ import annotations

import io
import math

from ptcalc import catalog
from ptcalc.units import format_size

DPI = 100
WIDTH = 10.0           # inches: 1000 px wide PNGs at DPI
FONT_SIZE = 10

#: One colour, line style and marker per strategy (ptcalc.catalog), so that lines that coincide
#: (thp-shmem and hugetlb-2m; mshare and threads) stay distinguishable.
STRATEGY_STYLES = {s.name: s.plot_style for s in catalog.STRATEGIES}

# Column kinds for readable(): by exact name first, then by suffix.
_PERCENT_COLUMNS = {"savings_vs_private_4k", "tlb_coverage", "touched"}
_RATIO_COLUMNS = {"pt_walk_footprint_llc_ratio"}
_COUNT_COLUMNS = {"procs", "huge_pages", "faults_first", "faults_next", "faults_total",
                  "walk_refs", "max_procs", "oom_procs"}


# --------------------------------------------------------------------------------------------
# Tables


def _is_missing(value) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _kind(column: str) -> str | None:
    if column in _PERCENT_COLUMNS:
        return "percent"
    if column in _RATIO_COLUMNS:
        return "ratio"
    if column in _COUNT_COLUMNS:
        return "count"
    if "bytes" in column.split("_"):
        return "size"
    return None


def _show(value, kind: str, units: str) -> str:
    from ptcalc.present.tables import show

    if _is_missing(value):
        return "-"
    if hasattr(value, "item"):
        value = value.item()
    if kind == "percent" and 0 < abs(value) < 1e-4:
        return f"{100 * value:.3g}%"          # 0.00002 -> "0.002%", not "0.00%"
    if kind == "ratio" and abs(value) >= 100:
        return f"{value:,.0f}x"
    return show(value, kind, units)


def readable(df, units: str = "iec"):
    """A copy of a result DataFrame (from ``compare``, ``evaluate`` or ``oom_points``) whose
    numeric columns are strings with readable units: bytes as "879.375 GiB" (``units``: "iec",
    "si" or "bytes"), fractions as "99.80%", counts with thousands separators, missing values
    as "-".  Rows of strategies that do not apply show "n/a" in their metric columns.  Column
    names are kept (they are the API's names).  For display only: compute on the original."""
    from ptcalc.present.tables import UNITS

    if units not in UNITS:
        from ptcalc.errors import InputError

        raise InputError(f"units {units!r} is not known; use one of: {', '.join(UNITS)}")
    out = df.copy()
    not_applicable = None
    if "applicable" in df:
        not_applicable = ~df["applicable"].fillna(False).astype(bool)
    for column in df.columns:
        kind = _kind(str(column))
        if kind is None:
            continue
        out[column] = [_show(value, kind, units) for value in df[column]]
        if not_applicable is not None and column not in ("size_bytes", "procs", "offset_bytes",
                                                         "touched"):
            out.loc[not_applicable, column] = "n/a"
    return out


# --------------------------------------------------------------------------------------------
# Data for the plots


def _scenario_frame(size_bytes, procs, offset_bytes, touched, access):
    import pandas as pd

    count = max(len(procs) if hasattr(procs, "__len__") else 1,
                len(size_bytes) if hasattr(size_bytes, "__len__") else 1)

    def column(value):
        return list(value) if hasattr(value, "__len__") and not isinstance(value, str) \
            else [value] * count

    return pd.DataFrame({"size_bytes": column(size_bytes), "procs": column(procs),
                         "offset_bytes": column(offset_bytes), "touched": column(touched),
                         "access": column(access)})


def _bytes(value, what: str) -> int:
    from ptcalc.errors import InputError
    from ptcalc.units import UnitError, parse_size

    try:
        return parse_size(value, what=what)
    except UnitError as error:
        raise InputError(str(error)) from None


def _fraction(value) -> float:
    from ptcalc.inputs.scenario import parse_touched

    return float(parse_touched(value))


def oom_points(size, ram, *, offset=0, touched=1.0, access="write", strategies=None,
               pattern="dense", paging=4):
    """For each strategy, where the region plus its page tables stop fitting in ``ram``.

    Returns a DataFrame: strategy, applicable, reason, max_procs (the most processes for which
    size + pt_bytes_total <= ram; 0 when the region alone does not fit; <NA> when even
    MAX_PROCS processes fit) and oom_procs (max_procs + 1: the first count that
    does not fit, <NA> when none up to MAX_PROCS).  The counts are ptcalc.compute.plan's: exact, from
    the model itself (`ptcalc plan --size S --ram R` prints the same).
    """
    import pandas as pd

    from ptcalc.compute.plan import plan

    size_bytes = _bytes(size, "size")
    ram_bytes = _bytes(ram, "ram")
    rows, _ = plan(size_bytes, budget=max(0, ram_bytes - size_bytes), offset=_bytes(offset,
                   "offset"), touched=_fraction(touched), access=access, pattern=pattern,
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


# --------------------------------------------------------------------------------------------
# Figure helpers


def _figure(height: float, width: float = WIDTH, ncols: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    for ax in axes:
        ax.tick_params(labelsize=FONT_SIZE)
    return fig, (axes[0] if ncols == 1 else list(axes))


def _bytes_axis(axis, units: str = "iec") -> None:
    """Log2 byte axis with ticks at (sparse) powers of two, labelled 4 KiB, 1 GiB, ..."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=2, numticks=10))
    axis.set_major_formatter(FuncFormatter(lambda value, _: format_size(value, units)))
    axis.set_minor_formatter(NullFormatter())


def _count_text(value) -> str:
    """12 -> "12", 78643200 -> "78.6 M"."""
    value = float(value)
    for factor, suffix in ((1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:,.0f}"


def _count_axis(axis) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, numticks=12))
    axis.set_major_formatter(FuncFormatter(lambda value, _: _count_text(value)))
    axis.set_minor_formatter(NullFormatter())


def _style(name: str):
    return STRATEGY_STYLES.get(name, ("#333333", "-", "o"))


def png_bytes(fig, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (Agg; works with no display)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def save_png(fig, path, dpi: int = DPI) -> None:
    """Write the figure to ``path`` as PNG."""
    with open(path, "wb") as out:
        out.write(png_bytes(fig, dpi))


# --------------------------------------------------------------------------------------------
# Plots


def page_tables_vs_procs(size, ram, procs=None, *, procs_max=None, offset=0, touched=1.0,
                         access="write", strategies=None, pattern="dense", paging=4,
                         title=None, points=200):
    """Page-table bytes the machine spends (``pt_bytes_total``, the growth of PageTables)
    against the number of processes, one line per strategy, on a log2 byte axis.

    The dashed red line is RAM minus the region: where a strategy's line crosses it, the
    region plus its page tables exceed ``ram`` and the host runs out of memory; that OOM point
    (from ``oom_points``) is marked with an X and given in the legend.  ``procs`` (the planned
    count) is drawn as a vertical line; the x axis runs to ``procs_max`` (default: twice
    ``procs``, at least 10, stretched to 1.5 times the first OOM point when that lies within
    100 times ``procs``)."""
    import numpy as np

    from ptcalc.api import evaluate
    from ptcalc.inputs.scenario import MAX_PROCS, parse_strategies

    size_bytes = _bytes(size, "size")
    ram_bytes = _bytes(ram, "ram")
    offset_bytes = _bytes(offset, "offset")
    touched = _fraction(touched)
    names = list(parse_strategies(strategies))
    ooms = oom_points(size_bytes, ram_bytes, offset=offset_bytes, touched=touched,
                      access=access, strategies=names, pattern=pattern, paging=paging)
    oom = {row.strategy: (None if _is_missing(row.oom_procs) else int(row.oom_procs))
           for row in ooms.itertuples()}
    if procs_max is None:         # twice the plan, stretched to show a nearby first OOM
        planned = int(procs) if procs else 1000
        procs_max = max(10, 2 * planned)
        first = [value for value in oom.values() if value]
        if first and min(first) <= 100 * planned:
            procs_max = max(procs_max, int(min(first) * 1.5))
    procs_max = max(2, min(int(procs_max), MAX_PROCS))
    counts = np.unique(np.linspace(1, procs_max, num=points).round().astype(int))
    frame = evaluate(_scenario_frame(size_bytes, counts, offset_bytes, touched, access), names,
                     pattern=pattern, paging=paging)

    fig, ax = _figure(7.0)
    headroom = ram_bytes - size_bytes
    curves: dict[tuple, list[str]] = {}      # strategies whose lines coincide share one
    for name in names:
        rows = frame[frame["strategy"] == name]
        if rows["applicable"].astype(bool).all():
            key = tuple(rows["pt_bytes_total"].astype("int64").tolist())
            curves.setdefault(key, []).append(name)
    for key, members in curves.items():
        color, style, marker = _style(members[0])
        label = ", ".join(members)
        points = {oom[name] for name in members}
        if len(points) == 1 and None not in points:
            (point,) = points
            label += f"  (OOM at {point:,} processes)"
        y = np.array(key, dtype=float)
        ax.plot(counts, np.where(y > 0, y, np.nan), color=color, linestyle=style,
                linewidth=2, label=label, marker=marker, markevery=max(1, len(y) // 8),
                markersize=6)
    if headroom > 0:
        ax.axhline(headroom, color="#d62728", linestyle="--", linewidth=1.5,
                   label=f"RAM {format_size(ram_bytes)} - region {format_size(size_bytes)} = "
                         f"{format_size(headroom)} (page tables above it: OOM)")
        marked = 0
        for members in curves.values():
            point = oom[members[0]]
            if point is not None and point <= procs_max:
                ax.plot([point], [headroom], marker="X", markersize=14,
                        color=_style(members[0])[0], markeredgecolor="black", zorder=5,
                        linestyle="none", label=None if marked else "OOM point")
                right = point > 0.5 * procs_max       # keep the text inside the axes
                ax.annotate(f"OOM: {', '.join(members)} at {point:,} processes",
                            (point, headroom), xytext=(-10 if right else 10, -24 - 16 * marked),
                            textcoords="offset points", ha="right" if right else "left",
                            fontsize=FONT_SIZE, fontweight="bold", color="#d62728",
                            bbox={"facecolor": "white", "edgecolor": "#d62728", "alpha": 0.9,
                                  "boxstyle": "round,pad=0.25"})
                marked += 1
    if procs:
        ax.axvline(int(procs), color="black", linestyle=":", linewidth=1.2)
        near_left = int(procs) < 0.1 * procs_max       # keep the label off the y axis
        ax.text(int(procs), 0.02, f" planned: {int(procs):,} ", rotation=90,
                ha="left" if near_left else "right", va="bottom",
                transform=ax.get_xaxis_transform(), fontsize=FONT_SIZE - 1,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    ax.set_yscale("log", base=2)
    _bytes_axis(ax.yaxis)
    ax.set_xlim(0, procs_max)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(_thousands())
    ax.set_xlabel("processes mapping the region", fontsize=FONT_SIZE + 1)
    ax.set_ylabel("page-table bytes, all processes (PageTables)", fontsize=FONT_SIZE + 1)
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title(title or f"Page tables for a {format_size(size_bytes)} region "
                 f"({touched:.0%} touched, {access}) on a {format_size(ram_bytes)} host",
                 fontsize=FONT_SIZE + 2)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=FONT_SIZE - 1,
              frameon=False)
    return fig


def _thousands():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{value:,.0f}")


def _applicable(df):
    return df["applicable"].fillna(False).astype(bool) if "applicable" in df else None


def savings(df, title=None, units: str = "iec"):
    """Horizontal bars: page-table bytes per strategy (``pt_bytes_total``, log2 axis) for one
    scenario (a ``compare`` result), each labelled with its size and its saving against
    private-4k; strategies that do not apply are listed with their reason."""
    import numpy as np

    fig, ax = _figure(0.55 * len(df) + 1.6)
    applicable = _applicable(df)
    names = list(df["strategy"])
    totals = df["pt_bytes_total"].astype("float64").to_numpy()
    positions = np.arange(len(names))[::-1]
    finite = totals[np.isfinite(totals) & (totals > 0)]
    low = 2.0 ** math.floor(math.log2(finite.min())) / 4 if len(finite) else 1.0
    high = 2.0 ** math.ceil(math.log2(finite.max())) if len(finite) else 2.0
    for y, (i, name) in zip(positions, enumerate(names)):
        if applicable is not None and not applicable.iloc[i]:
            reason = str(df["reason"].iloc[i])
            reason = reason if len(reason) <= 70 else reason[:67] + "..."
            ax.text(low * 1.2, y, f"n/a: {reason}", va="center", fontsize=FONT_SIZE - 1,
                    color="#555555")
            continue
        value = totals[i]
        ax.barh(y, value - low if value > low else 0, left=low, color=_style(name)[0],
                height=0.65)
        saving = df["savings_vs_private_4k"].iloc[i] if "savings_vs_private_4k" in df else None
        text = f" {format_size(value, units)}"
        if not _is_missing(saving) and name != "private-4k":
            text += f"  (saves {_percent(float(saving))})"
        elif name == "private-4k":
            text += "  (baseline)"
        ax.text(value, y, text, va="center", ha="left", fontsize=FONT_SIZE - 1)
    ax.set_yticks(positions, names, fontsize=FONT_SIZE)
    ax.set_xscale("log", base=2)
    ax.set_xlim(low, high * 2.0 ** 12)      # room on the right for the labels
    _bytes_axis(ax.xaxis, units)
    ax.set_xlabel("page-table bytes, all processes (PageTables), log scale",
                  fontsize=FONT_SIZE + 1)
    ax.grid(True, axis="x", which="major", alpha=0.3)
    ax.set_title(title or "Page-table memory per strategy, and the saving against private-4k",
                 fontsize=FONT_SIZE + 2)
    return fig


def _percent(value: float) -> str:
    text = f"{100 * value:.2f}%"
    return f"{100 * value:.4f}%" if text == "100.00%" and value < 1 else text


FAULT_SERIES = (("faults_first", "first process", "#1f77b4"),
                ("faults_next", "each later process", "#ff7f0e"),
                ("faults_total", "all processes", "#2ca02c"))


def faults(df, title=None):
    """Grouped horizontal bars per strategy: minor faults of the first process, of each later
    process and of all processes (log axis; a zero is written as "0")."""
    import numpy as np

    fig, ax = _figure(0.75 * len(df) + 1.8)
    applicable = _applicable(df)
    names = list(df["strategy"])
    positions = np.arange(len(names))[::-1].astype(float)
    values = {key: df[key].astype("float64").to_numpy() for key, _, _ in FAULT_SERIES}
    finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in values.values()])
    low = 10.0 ** math.floor(math.log10(finite.min())) / 3 if len(finite) else 1.0
    high = 10.0 ** math.ceil(math.log10(finite.max())) if len(finite) else 10.0
    height = 0.26
    for k, (key, label, color) in enumerate(FAULT_SERIES):
        shift = (1 - k) * height
        for y, (i, _) in zip(positions, enumerate(names)):
            if applicable is not None and not applicable.iloc[i]:
                continue
            value = values[key][i]
            if not np.isfinite(value):
                continue
            if value > 0:
                ax.barh(y + shift, value - low, left=low, height=height, color=color,
                        label=label if i == 0 else None)
            ax.text(max(value, low), y + shift, f" {_count_text(value)}", va="center",
                    fontsize=FONT_SIZE - 2)
    for y, (i, _) in zip(positions, enumerate(names)):
        if applicable is not None and not applicable.iloc[i]:
            ax.text(low * 1.2, y, "n/a", va="center", fontsize=FONT_SIZE - 1, color="#555555")
    ax.set_yticks(positions, names, fontsize=FONT_SIZE)
    ax.set_xscale("log")
    ax.set_xlim(low, high * 30)
    _count_axis(ax.xaxis)
    ax.set_xlabel("minor page faults (count, log scale)", fontsize=FONT_SIZE + 1)
    ax.grid(True, axis="x", which="major", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if not handles:       # the first row did not apply: build the legend from the series
        from matplotlib.patches import Patch

        handles = [Patch(color=color) for _, _, color in FAULT_SERIES]
        labels = [label for _, label, _ in FAULT_SERIES]
    ax.legend(handles, labels, loc="lower right", fontsize=FONT_SIZE - 1, title="faults of",
              title_fontsize=FONT_SIZE - 1)
    ax.set_title(title or "Page faults to map the region", fontsize=FONT_SIZE + 2)
    return fig


def tlb_coverage(cpu="default", working_set=None, *, strategies=None, sizes=None,
                 virtualized=False, host_page="4k", title=None):
    """TLB coverage (the share of the working set the TLB maps at once, ``tlb_coverage``)
    against working-set size on ``cpu``, one line per distinct curve (strategies with the same
    leaf pages share a line; the legend names them).  ``working_set`` (bytes or text) is
    marked with a vertical line.  Sizes default to powers of two from 2 MiB to 4x the working
    set (at least 1 TiB)."""
    import numpy as np

    from ptcalc.api import evaluate
    from ptcalc.compute.tlb import resolve
    from ptcalc.inputs.scenario import parse_strategies

    chosen, _ = resolve(cpu)
    mark = _bytes(working_set, "working set") if working_set is not None else None
    if sizes is None:
        top = max(2**40, 4 * mark) if mark else 2**40
        sizes = [2**k for k in range(21, int(math.log2(top)) + 1)]
    sizes = [_bytes(value, "size") for value in sizes]
    names = list(parse_strategies(strategies))
    frame = evaluate(_scenario_frame(sizes, 1, 0, 1.0, "read"), names, cpu=chosen.name,
                     virtualized=virtualized, host_page=host_page)
    curves: dict[tuple, list[str]] = {}       # strategies with equal curves share a line
    for name in names:
        rows = frame[frame["strategy"] == name]
        if not rows["applicable"].astype(bool).any():
            continue
        coverage = rows["tlb_coverage"].astype("float64").to_numpy()
        key = tuple(None if math.isnan(v) else round(v, 12) for v in coverage)
        curves.setdefault(key, []).append(name)
    fig, ax = _figure(5.4)
    for key, members in curves.items():
        rows = frame[(frame["strategy"] == members[0]) & frame["applicable"].astype(bool)]
        leaf = format_size(int(rows["leaf_page_bytes"].iloc[-1]))   # at the largest size
        color, style, marker = _style(members[0])
        y = np.array([np.nan if v is None else v for v in key], dtype=float)
        ax.plot(sizes, np.where(y > 0, y, np.nan), color=color, linestyle=style, marker=marker,
                markersize=5, linewidth=2, label=f"{leaf} leaves: {', '.join(members)}")
    if mark:
        ax.axvline(mark, color="black", linestyle=":", linewidth=1.2)
        ax.text(mark, 0.98, f" working set {format_size(mark)} ", rotation=90, ha="right",
                va="top", transform=ax.get_xaxis_transform(), fontsize=FONT_SIZE - 1,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})
    ax.set_xscale("log", base=2)
    _bytes_axis(ax.xaxis)
    ax.set_yscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{100 * value:.4g}%"))
    ax.set_ylim(top=1.6)
    ax.set_xlabel("working set touched by one process (bytes, log scale)",
                  fontsize=FONT_SIZE + 1)
    ax.set_ylabel("TLB coverage (share of the working set mapped)", fontsize=FONT_SIZE + 1)
    ax.grid(True, which="major", alpha=0.3)
    mode = " (virtualized, host pages " + host_page + ")" if virtualized else ""
    ax.set_title(title or f"TLB coverage on {chosen.title}{mode}", fontsize=FONT_SIZE + 2)
    ax.legend(loc="lower left", fontsize=FONT_SIZE - 1, title="leaf page size: strategies",
              title_fontsize=FONT_SIZE - 1)
    return fig


def heatmap(df, *, x="procs", y="size_bytes", value="pt_bytes_total", strategy="private-4k",
            facet="touched", ram=None, title=None, xlabel=None, ylabel=None, units="iec"):
    """A grid of ``value`` (bytes) for one ``strategy`` of an ``evaluate`` result: ``y``
    (e.g. size_bytes = shared_buffers) up, ``x`` (e.g. procs = connections) across, one
    panel per value of ``facet`` (e.g. the touched fraction), stacked.  Cells are written out
    (3 significant digits) on a log colour scale; with ``ram``, cells where size_bytes +
    value exceed it are outlined in red and marked OOM."""
    import numpy as np
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    rows = df[df["strategy"] == strategy]
    if rows.empty:
        from ptcalc.errors import InputError

        raise InputError(f"no rows of strategy {strategy!r} in the frame")
    ram_bytes = _bytes(ram, "ram") if ram is not None else None
    facets = sorted(rows[facet].unique()) if facet else [None]
    xs = sorted(rows[x].unique())
    ys = sorted(rows[y].unique())
    values = rows[value].astype("float64")
    positive = values[values > 0]
    norm = LogNorm(vmin=positive.min(), vmax=positive.max()) if len(positive) else None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH, len(facets) * (0.42 * len(ys) + 1.1) + 0.8), dpi=DPI,
                 layout="constrained")
    axes = fig.subplots(len(facets), 1, squeeze=False)[:, 0].tolist()
    image = None
    for ax, level in zip(axes, facets):
        part = rows if level is None else rows[rows[facet] == level]
        grid = part.pivot_table(index=y, columns=x, values=value, aggfunc="first") \
                   .reindex(index=ys, columns=xs).astype("float64").to_numpy()
        image = ax.imshow(np.where(grid > 0, grid, np.nan), norm=norm, cmap="viridis",
                          aspect="auto", origin="lower")
        for r, size_value in enumerate(ys):
            for c, _ in enumerate(xs):
                number = grid[r, c]
                if not np.isfinite(number):
                    continue
                oom = ram_bytes is not None and (
                    (size_value if y == "size_bytes" else 0) + number > ram_bytes)
                light = norm is not None and number > 0 and norm(number) > 0.6
                ax.text(c, r, short_size(number, units) + (" OOM" if oom else ""),
                        ha="center", va="center", fontsize=FONT_SIZE - 1,
                        color="black" if light else "white",
                        fontweight="bold" if oom else "normal")
                if oom:
                    ax.add_patch(Rectangle((c - 0.47, r - 0.45), 0.94, 0.9, fill=False,
                                           edgecolor="#d62728", linewidth=2.5))
        ax.set_xticks(range(len(xs)), [_axis_text(x, v, units) for v in xs],
                      fontsize=FONT_SIZE)
        ax.set_yticks(range(len(ys)), [_axis_text(y, v, units) for v in ys],
                      fontsize=FONT_SIZE)
        ax.set_ylabel(ylabel or _axis_label(y), fontsize=FONT_SIZE + 1)
        if ax is axes[-1]:
            ax.set_xlabel(xlabel or _axis_label(x), fontsize=FONT_SIZE + 1)
        if level is not None:
            ax.set_title(f"{_axis_label(facet)}: {_axis_text(facet, level, units)}",
                         fontsize=FONT_SIZE + 1, loc="left")
    if image is not None and norm is not None:
        bar = fig.colorbar(image, ax=axes, shrink=0.8, pad=0.01, aspect=40)
        _bytes_axis(bar.ax.yaxis, units)
        bar.set_label(f"{value} ({strategy})", fontsize=FONT_SIZE)
    fig.suptitle(title or f"{value} of {strategy}" + (
        f"; red: region + page tables exceed {format_size(ram_bytes, units)} RAM"
        if ram_bytes else ""), fontsize=FONT_SIZE + 2)
    return fig


def short_size(value, units: str = "iec") -> str:
    """Bytes with 3 significant digits: 215149015040 -> "200 GiB", 1345000 -> "1.28 MiB"."""
    text = format_size(value, units, digits=6)
    number, _, unit = text.partition(" ")
    try:
        return f"{float(number):.3g} {unit}".strip()
    except ValueError:
        return text


_AXIS_LABELS = {"procs": "processes (connections)", "size_bytes": "region size",
                "touched": "touched fraction", "offset_bytes": "offset"}


def _axis_label(column: str) -> str:
    return _AXIS_LABELS.get(column, column)


def _axis_text(column: str, value, units: str) -> str:
    if column.endswith("_bytes"):
        return format_size(value, units)
    if column == "touched":
        return f"{100 * float(value):.4g}%"
    if isinstance(value, (int, float)) or hasattr(value, "item"):
        return f"{float(value):,.0f}" if float(value).is_integer() else f"{float(value):.3g}"
    return str(value)

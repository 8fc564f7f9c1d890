"""The plots: page tables against process count, savings, faults, TLB coverage, heatmaps.
Each returns a ``matplotlib.figure.Figure`` (see ``ptcalc.present.plots``); with ``ax=`` it draws
into the caller's Axes and returns that Axes' figure."""

from __future__ import annotations

import math

from ptcalc.present.plots.data import oom_points, parse_bytes, parse_fraction, scenario_frame
from ptcalc.present.plots.readable import is_missing, short_size
from ptcalc.present.plots.style import (
    DPI,
    FONT_SIZE,
    WIDTH,
    axis_label,
    axis_text,
    bytes_axis,
    count_axis,
    count_text,
    names_text,
    needs_matplotlib,
    new_figure,
    percent_text,
    strategy_style,
    thousands_formatter,
)
from ptcalc.units import format_size


@needs_matplotlib
def page_tables_vs_procs(size, ram, procs=None, *, procs_max=None, offset=0, touched=1.0,
                         access="write", strategies=None, pattern="dense", paging=4,
                         title=None, points=200, ax=None):
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

    size_bytes = parse_bytes(size, "size")
    ram_bytes = parse_bytes(ram, "ram")
    offset_bytes = parse_bytes(offset, "offset")
    touched = parse_fraction(touched)
    names = list(parse_strategies(strategies))
    ooms = oom_points(size_bytes, ram_bytes, offset=offset_bytes, touched=touched,
                      access=access, strategies=names, pattern=pattern, paging=paging)
    oom = {row.strategy: (None if is_missing(row.oom_procs) else int(row.oom_procs))
           for row in ooms.itertuples()}
    if procs_max is None:         # twice the plan, stretched to show a nearby first OOM
        planned = int(procs) if procs else 1000
        procs_max = max(10, 2 * planned)
        first = [value for value in oom.values() if value]
        if first and min(first) <= 100 * planned:
            procs_max = max(procs_max, int(min(first) * 1.5))
    procs_max = max(2, min(int(procs_max), MAX_PROCS))
    counts = np.unique(np.linspace(1, procs_max, num=points).round().astype(int))
    frame = evaluate(scenario_frame(size_bytes, counts, offset_bytes, touched, access), names,
                     pattern=pattern, paging=paging)

    fig, ax = new_figure(7.0, ax=ax)
    headroom = ram_bytes - size_bytes
    curves: dict[tuple, list[str]] = {}      # strategies whose lines coincide share one
    for name in names:
        rows = frame[frame["strategy"] == name]
        if rows["applicable"].astype(bool).all():
            key = tuple(rows["pt_bytes_total"].astype("int64").tolist())
            curves.setdefault(key, []).append(name)
    step = max(1, len(counts) // 8)
    for k, (key, members) in enumerate(curves.items()):
        color, style, marker = strategy_style(members[0])
        label = names_text(members)
        points = {oom[name] for name in members}
        if len(points) == 1 and None not in points:
            (point,) = points
            label += f"  (OOM at {point:,} processes)"
        y = np.array(key, dtype=float)
        # Lines drawn later are thinner and their markers sit between the earlier ones', so
        # a line lying on another (file-pt next to mshare) still shows.
        ax.plot(counts, np.where(y > 0, y, np.nan), color=color, linestyle=style,
                linewidth=max(1.2, 3.2 - 0.35 * k), label=label, marker=marker,
                markevery=((k * step) // max(1, len(curves)), step), markersize=6,
                zorder=2 + k)
    if headroom > 0:
        ax.axhline(headroom, color="#d62728", linestyle="--", linewidth=1.5,
                   label=f"RAM {format_size(ram_bytes)} - region {format_size(size_bytes)} = "
                         f"{format_size(headroom)} (page tables above it: OOM)")
        marked = 0
        for members in curves.values():
            point = oom[members[0]]
            if point is not None and point <= procs_max:
                ax.plot([point], [headroom], marker="X", markersize=14,
                        color=strategy_style(members[0])[0], markeredgecolor="black", zorder=5,
                        linestyle="none", label=None if marked else "OOM point")
                # Right of the point the line is above the RAM line, so the text goes there,
                # just below it.  A point on the right half has no room for it: the text goes
                # to its left, and far lower, under the line that climbs to the point, with
                # an arrow to it.
                right = point > 0.5 * procs_max
                ax.annotate(f"OOM: {names_text(members)} at {point:,} processes",
                            (point, headroom),
                            xytext=(-10 if right else 10, (-96 if right else -24) - 16 * marked),
                            textcoords="offset points", ha="right" if right else "left",
                            fontsize=FONT_SIZE, fontweight="bold", color="#d62728",
                            bbox={"facecolor": "white", "edgecolor": "#d62728", "alpha": 0.9,
                                  "boxstyle": "round,pad=0.25"},
                            arrowprops={"arrowstyle": "->", "color": "#d62728"}
                            if right else None)
                marked += 1
    if procs:
        ax.axvline(int(procs), color="black", linestyle=":", linewidth=1.2)
        near_left = int(procs) < 0.1 * procs_max       # keep the label off the y axis
        ax.text(int(procs), 0.02, f" planned: {int(procs):,} ", rotation=90,
                ha="left" if near_left else "right", va="bottom",
                transform=ax.get_xaxis_transform(), fontsize=FONT_SIZE - 1,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    ax.set_yscale("log", base=2)
    bytes_axis(ax.yaxis)
    ax.set_xlim(0, procs_max)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(thousands_formatter())
    ax.set_xlabel("processes mapping the region", fontsize=FONT_SIZE + 1)
    ax.set_ylabel("page-table bytes, all processes (PageTables), log scale",
                  fontsize=FONT_SIZE + 1)
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title(title or f"Page tables for a {format_size(size_bytes)} region "
                 f"({touched:.0%} touched, {access}) on a {format_size(ram_bytes)} host",
                 fontsize=FONT_SIZE + 2)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=FONT_SIZE - 1,
              frameon=False)
    return fig


def applicable_mask(df):
    return df["applicable"].fillna(False).astype(bool) if "applicable" in df else None


@needs_matplotlib
def savings(df, title=None, units: str = "iec", *, ax=None):
    """Horizontal bars: page-table bytes per strategy (``pt_bytes_total``) for one scenario (a
    ``compare`` result) on a linear axis, so that bar lengths compare like the memory they
    stand for; each bar is labelled with its size, its saving against private-4k and how many
    times less that is.  Strategies that do not apply are listed with their reason."""
    import numpy as np

    from ptcalc.present.plots.style import linear_bytes_unit

    fig, ax = new_figure(0.55 * len(df) + 1.6, ax=ax)
    applicable = applicable_mask(df)
    names = list(df["strategy"])
    totals = df["pt_bytes_total"].astype("float64").to_numpy()
    positions = np.arange(len(names))[::-1]
    finite = totals[np.isfinite(totals)]
    factor, unit = linear_bytes_unit(finite.max() if len(finite) else 1)
    largest = (finite.max() / factor) if len(finite) and finite.max() > 0 else 1.0
    base = df.loc[df["strategy"] == "private-4k", "pt_bytes_total"]
    base = float(base.iloc[0]) if len(base) and not is_missing(base.iloc[0]) else None
    for y, (i, name) in zip(positions, enumerate(names)):
        if applicable is not None and not applicable.iloc[i]:
            reason = str(df["reason"].iloc[i])
            reason = reason if len(reason) <= 70 else reason[:67] + "..."
            ax.text(largest * 0.01, y, f"n/a: {reason}", va="center", fontsize=FONT_SIZE - 1,
                    color="#555555")
            continue
        value = totals[i]
        ax.barh(y, value / factor, color=strategy_style(name)[0], height=0.65)
        saving = df["savings_vs_private_4k"].iloc[i] if "savings_vs_private_4k" in df else None
        text = f" {format_size(value, units)}"
        if name == "private-4k":
            text += "  (baseline)"
        elif not is_missing(saving):
            text += f"  (saves {percent_text(float(saving))}"
            if base and value > 0 and base / value >= 2:
                text += f", {base / value:,.0f}× less"  # noqa: RUF001
            text += ")"
        ax.text(value / factor, y, text, va="center", ha="left", fontsize=FONT_SIZE - 1)
    ax.set_yticks(positions, names, fontsize=FONT_SIZE)
    ax.set_xlim(0, largest * 1.45)           # room on the right for the labels
    ax.xaxis.set_major_formatter(thousands_formatter())
    ax.set_xlabel(f"page-table memory, all processes (PageTables), {unit} (linear scale)",
                  fontsize=FONT_SIZE + 1)
    ax.grid(True, axis="x", which="major", alpha=0.3)
    ax.set_title(title or "Page-table memory per strategy, and the saving against private-4k",
                 fontsize=FONT_SIZE + 2)
    return fig


FAULT_SERIES = (("faults_first", "first process", "#1f77b4"),
                ("faults_next", "each later process", "#ff7f0e"),
                ("faults_total", "all processes", "#2ca02c"))


@needs_matplotlib
def faults(df, title=None, *, ax=None):
    """Grouped horizontal bars per strategy: minor faults of the first process, of each later
    process and of all processes (log axis; a zero is written as "0")."""
    import numpy as np

    fig, ax = new_figure(0.75 * len(df) + 1.8, ax=ax)
    applicable = applicable_mask(df)
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
            ax.text(max(value, low), y + shift, f" {count_text(value)}", va="center",
                    fontsize=FONT_SIZE - 2)
    for y, (i, _) in zip(positions, enumerate(names)):
        if applicable is not None and not applicable.iloc[i]:
            ax.text(low * 1.2, y, "n/a", va="center", fontsize=FONT_SIZE - 1, color="#555555")
    ax.set_yticks(positions, names, fontsize=FONT_SIZE)
    ax.set_xscale("log")
    ax.set_xlim(low, high * 30)
    count_axis(ax.xaxis)
    ax.set_xlabel("minor page faults (log scale: the counts differ by orders of magnitude)",
                  fontsize=FONT_SIZE + 1)
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


@needs_matplotlib
def tlb_coverage(cpu="default", working_set=None, *, strategies=None, sizes=None,
                 virtualized=False, host_page="4k", title=None, paging=4, ax=None):
    """TLB coverage (the share of the working set the TLB maps at once, ``tlb_coverage``)
    against working-set size on ``cpu``, one line per distinct curve (strategies with the same
    leaf pages share a line; the legend names them).  ``working_set`` (bytes or text) is
    marked with a vertical line.  Sizes default to powers of two from 2 MiB to 4x the working
    set (at least 1 TiB), within the user address space of ``paging`` levels (the working
    set itself is the last point when 4x would not fit)."""
    import numpy as np

    from ptcalc.api import evaluate
    from ptcalc.compute.tlb import resolve
    from ptcalc.inputs.scenario import parse_strategies

    chosen, _ = resolve(cpu)
    mark = parse_bytes(working_set, "working set") if working_set is not None else None
    if sizes is None:
        from ptcalc.paging import paging_for

        space = paging_for(int(paging)).user_space_bytes
        top = min(max(2**40, 4 * mark) if mark else 2**40, space - 1)
        sizes = [2**k for k in range(21, int(math.log2(top)) + 1)]
        if mark and sizes[-1] < mark < space:
            sizes.append(mark)
    sizes = [parse_bytes(value, "size") for value in sizes]
    names = list(parse_strategies(strategies))
    frame = evaluate(scenario_frame(sizes, 1, 0, 1.0, "read"), names, cpu=chosen.name,
                     virtualized=virtualized, host_page=host_page, paging=paging)
    curves: dict[tuple, list[str]] = {}       # strategies with equal curves share a line
    for name in names:
        rows = frame[frame["strategy"] == name]
        if not rows["applicable"].astype(bool).any():
            continue
        coverage = rows["tlb_coverage"].astype("float64").to_numpy()
        key = tuple(None if math.isnan(v) else round(v, 12) for v in coverage)
        curves.setdefault(key, []).append(name)
    fig, ax = new_figure(5.4, ax=ax)
    for k, (key, members) in enumerate(curves.items()):
        rows = frame[(frame["strategy"] == members[0]) & frame["applicable"].astype(bool)]
        leaf = format_size(int(rows["leaf_page_bytes"].iloc[-1]))   # at the largest size
        color, style, marker = strategy_style(members[0])
        y = np.array([np.nan if v is None else v for v in key], dtype=float)
        # Where curves coincide (all at 100% for small working sets) the later ones are
        # thinner and mark every other point, offset, so each stays visible.
        ax.plot(sizes, np.where(y > 0, y, np.nan), color=color, linestyle=style, marker=marker,
                markersize=max(3.5, 6 - k), linewidth=max(1.2, 3.2 - 0.8 * k),
                markevery=(k % 2, 2) if k else 1, zorder=2 + k,
                label=f"{leaf} leaves: {names_text(members)}")
    if mark:
        ax.axvline(mark, color="black", linestyle=":", linewidth=1.2)
        # above the plotting area, where no line can run under it
        ax.annotate(f"working set {format_size(mark)}", (mark, 1.0),
                    xycoords=ax.get_xaxis_transform(), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom",
                    fontsize=FONT_SIZE - 1)
    ax.set_xscale("log", base=2)
    bytes_axis(ax.xaxis)
    ax.set_yscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{100 * value:.4g}%"))
    ax.set_ylim(top=1.6)
    ax.set_xlabel("working set touched by one process (bytes, log scale)",
                  fontsize=FONT_SIZE + 1)
    ax.set_ylabel("TLB coverage (share of the working set mapped, log scale)",
                  fontsize=FONT_SIZE + 1)
    ax.grid(True, which="major", alpha=0.3)
    mode = " (virtualized, host pages " + host_page + ")" if virtualized else ""
    ax.set_title(title or f"TLB coverage on {chosen.title}{mode}", fontsize=FONT_SIZE + 2,
                 pad=18 if mark else 6)      # room for the working-set label above the axes
    ax.legend(loc="lower left", fontsize=FONT_SIZE - 1, title="leaf page size: strategies",
              title_fontsize=FONT_SIZE - 1)
    return fig


@needs_matplotlib
def heatmap(df, *, x="procs", y="size_bytes", value="pt_bytes_total", strategy="private-4k",
            facet="touched", ram=None, title=None, xlabel=None, ylabel=None, units="iec",
            ax=None):
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
    ram_bytes = parse_bytes(ram, "ram") if ram is not None else None
    facets = sorted(rows[facet].unique()) if facet else [None]
    xs = sorted(rows[x].unique())
    ys = sorted(rows[y].unique())
    values = rows[value].astype("float64")
    positive = values[values > 0]
    norm = LogNorm(vmin=positive.min(), vmax=positive.max()) if len(positive) else None
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(WIDTH, len(facets) * (0.42 * len(ys) + 1.1) + 0.8), dpi=DPI,
                     layout="constrained")
        axes = fig.subplots(len(facets), 1, squeeze=False)[:, 0].tolist()
    else:
        axes = list(ax) if isinstance(ax, (list, tuple)) else list(getattr(ax, "flat", [ax]))
        if len(axes) != len(facets):
            from ptcalc.errors import InputError

            raise InputError(f"heatmap draws {len(facets)} panel(s) (one per {facet} value); "
                             f"pass as many axes as ax=, or facet=None for one")
        fig = axes[0].get_figure()
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
        ax.set_xticks(range(len(xs)), [axis_text(x, v, units) for v in xs],
                      fontsize=FONT_SIZE)
        ax.set_yticks(range(len(ys)), [axis_text(y, v, units) for v in ys],
                      fontsize=FONT_SIZE)
        ax.set_ylabel(ylabel or axis_label(y), fontsize=FONT_SIZE + 1)
        if ax is axes[-1]:
            ax.set_xlabel(xlabel or axis_label(x), fontsize=FONT_SIZE + 1)
        if level is not None:
            ax.set_title(f"{axis_label(facet)}: {axis_text(facet, level, units)}",
                         fontsize=FONT_SIZE + 1, loc="left")
    if image is not None and norm is not None:
        bar = fig.colorbar(image, ax=axes, shrink=0.8, pad=0.01, aspect=40)
        bytes_axis(bar.ax.yaxis, units)
        bar.set_label(f"{value} ({strategy})", fontsize=FONT_SIZE)
    heading = title or f"{value} of {strategy}" + (
        f"; red: region + page tables exceed {format_size(ram_bytes, units)} RAM"
        if ram_bytes else "")
    if ax is None:
        fig.suptitle(heading, fontsize=FONT_SIZE + 2)
    else:               # the caller's figure keeps its own suptitle
        axes[0].set_title(heading, fontsize=FONT_SIZE + 1, loc="center", pad=16)
    return fig


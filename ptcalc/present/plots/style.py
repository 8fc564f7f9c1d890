"""Figure, axis and colour helpers shared by the plots (matplotlib imported inside)."""

from __future__ import annotations

import io

from ptcalc import catalog
from ptcalc.units import format_size

DPI = 100
WIDTH = 10.0           # inches: 1000 px wide PNGs at DPI
FONT_SIZE = 10

#: One colour, line style and marker per strategy (ptcalc.catalog), so that lines that coincide
#: (thp-shmem and hugetlb-2m; mshare and threads) stay distinguishable.
STRATEGY_STYLES = {s.name: s.plot_style for s in catalog.STRATEGIES}


def names_text(names) -> str:
    """Strategy names for a label, a run of shmem mTHP sizes shortened: 'private-4k,
    thp-shmem-8k..1m' (the mTHP sizes share every page-table line with private-4k)."""
    out, run = [], []

    def flush():
        if len(run) >= 3:
            out.append(f"{run[0]}..{run[-1].rsplit('-', 1)[1]}")
        else:
            out.extend(run)
        run.clear()

    for name in names:
        if name.startswith("thp-shmem-") and name[-1] in "km" and name[10:-1].isdigit():
            run.append(name)
            continue
        flush()
        out.append(name)
    flush()
    return ", ".join(out)


INSTALL_HINT = "ptcalc's plots need matplotlib: pip install 'ptcalc[plot]'"


def needs_matplotlib(function):
    """A plot function that says how to install matplotlib when it is missing (before any
    work), instead of a bare ModuleNotFoundError from deep inside."""
    import functools

    @functools.wraps(function)
    def checked(*args, **kwargs):
        try:
            import matplotlib  # noqa: F401
        except ImportError as error:
            raise ModuleNotFoundError(INSTALL_HINT, name="matplotlib") from error
        return function(*args, **kwargs)
    return checked


def new_figure(height: float, width: float = WIDTH, ncols: int = 1, ax=None):
    """(figure, axes) of a new figure, or of the caller's `ax` (drawn into as it is: its
    figure keeps its size and layout, so the plot can be one panel of the caller's)."""
    from matplotlib.figure import Figure

    if ax is not None:
        if ncols != 1:
            raise TypeError("this plot draws several panels; pass no ax=")
        ax.tick_params(labelsize=FONT_SIZE)
        return ax.get_figure(), ax
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    for ax in axes:
        ax.tick_params(labelsize=FONT_SIZE)
    return fig, (axes[0] if ncols == 1 else list(axes))


def bytes_axis(axis, units: str = "iec") -> None:
    """Log2 byte axis with ticks at (sparse) powers of two, labelled 4 KiB, 1 GiB, ..."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=2, numticks=10))
    axis.set_major_formatter(FuncFormatter(lambda value, _: format_size(value, units)))
    axis.set_minor_formatter(NullFormatter())


def count_text(value) -> str:
    """A count as people write it: 12 -> "12", 78643200 -> "78,643,200" (no SI prefixes:
    "78.6 M" next to sizes in MiB reads as megabytes)."""
    return f"{float(value):,.0f}"


_WORDS = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))


def count_words(value) -> str:
    """A round count for an axis tick: 1,000, 1 million, 10 billion."""
    value = float(value)
    for factor, word in _WORDS:
        if abs(value) >= factor:
            return f"{value / factor:,.3g} {word}"
    return f"{value:,.0f}"


def count_axis(axis) -> None:
    """Log10 count axis, ticks labelled in words (1, 100, 10,000, 1 million)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, numticks=12))
    axis.set_major_formatter(FuncFormatter(lambda value, _: count_words(value)))
    axis.set_minor_formatter(NullFormatter())


def linear_bytes_unit(largest: float) -> tuple[int, str]:
    """(factor, name) of the binary unit a linear byte axis is labelled in."""
    for factor, name in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if largest >= factor:
            return factor, name
    return 1, "bytes"


def strategy_style(name: str):
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



def thousands_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{value:,.0f}")



def percent_text(value: float) -> str:
    text = f"{100 * value:.2f}%"
    return f"{100 * value:.4f}%" if text == "100.00%" and value < 1 else text



_AXIS_LABELS = {"procs": "processes (connections)", "size_bytes": "region size",
                "touched": "touched fraction", "offset_bytes": "offset"}


def axis_label(column: str) -> str:
    return _AXIS_LABELS.get(column, column)


def axis_text(column: str, value, units: str) -> str:
    if column.endswith("_bytes"):
        return format_size(value, units)
    if column == "touched":
        return f"{100 * float(value):.4g}%"
    if isinstance(value, (int, float)) or hasattr(value, "item"):
        return f"{float(value):,.0f}" if float(value).is_integer() else f"{float(value):.3g}"
    return str(value)

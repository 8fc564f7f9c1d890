"""Plots and readable tables for sizing reports (matplotlib: the optional extra ``plot``).

Every plot function returns a ``matplotlib.figure.Figure`` built with the object API (no
``pyplot``, no global state, no backend chosen): it saves to PNG headless through the Agg
canvas, and in Jupyter (``%matplotlib inline``) a returned figure displays as the cell's
result.  matplotlib is imported inside the functions, so importing
this package costs nothing.

The pieces: ``readable`` (table text), ``data`` (the numbers behind the plots), ``style``
(figure, axis and colour helpers), ``figures`` (the plots).

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

from ptcalc.present.plots.data import oom_points
from ptcalc.present.plots.figures import (
    FAULT_SERIES,
    faults,
    heatmap,
    page_tables_vs_procs,
    savings,
    tlb_coverage,
)
from ptcalc.present.plots.readable import readable, short_size
from ptcalc.present.plots.style import DPI, STRATEGY_STYLES, png_bytes, save_png

__all__ = ["DPI", "FAULT_SERIES", "STRATEGY_STYLES", "faults", "heatmap", "oom_points",
           "page_tables_vs_procs", "png_bytes", "readable", "save_png", "savings",
           "short_size", "tlb_coverage"]

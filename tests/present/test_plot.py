"""ptcalc.present.plots: readable tables, exact OOM points, and figures that are labelled,
legible and not clipped (every text artist lies inside the rendered figure)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import ptcalc
from ptcalc.errors import InputError
from ptcalc.present import plots as plot
from ptcalc.units import parse_size

pytest.importorskip("matplotlib")

GiB = 2**30
TABLE = 4096


@pytest.fixture(scope="module")
def sga():
    return ptcalc.compare("300GiB", 1500, cpu="default")


# --------------------------------------------------------------------------------------------
# readable()


def test_readable_units_and_names(sga):
    shown = plot.readable(sga).set_index("strategy")
    assert list(plot.readable(sga).columns) == list(sga.columns)
    # 1500 x (153,600 PTE + 300 PMD + 1 PUD) tables x 4 KiB = 945,567,744,000 B = 880.629 GiB
    assert sga.set_index("strategy").loc["private-4k", "pt_bytes_total"] == 945_567_744_000
    assert shown.loc["private-4k", "pt_bytes_total"] == "880.629 GiB"
    assert shown.loc["private-4k", "leaf_page_bytes"] == "4 KiB"
    assert shown.loc["hugetlb-1g", "leaf_page_bytes"] == "1 GiB"
    assert shown.loc["mshare", "pt_bytes_per_process"] == "0 B"
    assert shown.loc["private-4k", "faults_first"] == "78,643,200"     # 300 GiB / 4 KiB
    assert shown.loc["hugetlb-2m", "huge_pages"] == "153,600"          # 300 GiB / 2 MiB
    assert shown.loc["private-4k", "huge_pages"] == "-"
    assert shown.loc["thp-shmem", "savings_vs_private_4k"] == "99.80%"
    # 6 MiB of L2 reach over 300 GiB = 0.00195%: small shares keep 3 significant digits
    assert shown.loc["private-4k", "tlb_coverage"] == "0.00195%"
    assert shown.loc["private-4k", "pt_walk_footprint_llc_ratio"].endswith("x")
    assert sga["pt_bytes_total"].dtype.kind == "i"          # the input is left alone


def test_readable_not_applicable_and_units():
    df = ptcalc.compare("300GiB", 10, offset="4KiB")
    shown = plot.readable(df).set_index("strategy")
    assert shown.loc["hugetlb-1g", "pt_bytes_total"] == "n/a"
    assert shown.loc["private-4k", "pt_bytes_total"] != "n/a"
    si = plot.readable(df, units="si").set_index("strategy")
    assert si.loc["private-4k", "touched_bytes"] == "322.123 GB"
    exact = plot.readable(df, units="bytes").set_index("strategy")
    assert exact.loc["private-4k", "touched_bytes"] == str(300 * GiB)
    with pytest.raises(InputError):
        plot.readable(df, units="furlongs")


def test_short_size():
    assert plot.short_size(215_149_015_040) == "200 GiB"
    assert plot.short_size(4096) == "4 KiB"
    assert plot.short_size(1_345_000) == "1.28 MiB"


# --------------------------------------------------------------------------------------------
# oom_points()


def test_oom_points_sga_hand_derived():
    # private-4k charges every process 153,600 PTE + 300 PMD + 1 PUD tables = 630,378,496 B.
    # RAM - region = 212 GiB = 227,633,266,688 B; 227,633,266,688 // 630,378,496 = 361.
    points = plot.oom_points("300GiB", "512GiB").set_index("strategy")
    assert points.loc["private-4k", "max_procs"] == 361
    assert points.loc["private-4k", "oom_procs"] == 362
    # tables shared once (or no per-process growth): no limit up to MAX_PROCS
    for name in ("hugetlb-2m-pmdshare", "mshare", "threads"):
        assert pd.isna(points.loc[name, "max_procs"]), name


@pytest.mark.parametrize("kwargs", [
    {"size": "300GiB", "ram": "512GiB"},
    {"size": "100GiB", "ram": "256GiB", "touched": 0.3, "access": "read"},
    {"size": "64GiB", "ram": "80GiB", "offset": "4KiB"},
    {"size": "24GiB", "ram": "32GiB", "offset": "2MiB", "pattern": "random", "touched": 0.5},
])
def test_oom_points_are_the_boundary(kwargs):
    """At max_procs the region plus page tables fit; one more process does not."""
    size, ram = kwargs.pop("size"), kwargs.pop("ram")
    points = plot.oom_points(size, ram, **kwargs)
    size_bytes, ram_bytes = parse_size(size), parse_size(ram)
    for row in points.itertuples():
        if not row.applicable or pd.isna(row.max_procs):
            continue
        for procs, fits in ((int(row.max_procs), True), (int(row.oom_procs), False)):
            if procs == 0:
                continue
            total = ptcalc.compare(size, procs, strategies=[row.strategy], **kwargs)[
                "pt_bytes_total"].iloc[0]
            assert (size_bytes + int(total) <= ram_bytes) is fits, (row.strategy, procs)


def test_oom_points_region_larger_than_ram():
    points = plot.oom_points("600GiB", "512GiB")
    assert (points["max_procs"] == 0).all()
    assert (points["oom_procs"] == 1).all()


def test_oom_points_bad_input():
    with pytest.raises(InputError):
        plot.oom_points("300GiB", "lots")


# --------------------------------------------------------------------------------------------
# Figures


def _draw(fig):
    """Render with an Agg canvas (what png_bytes uses) and return the renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _texts_inside(fig):
    """Everything drawn (each axes with its tick labels, labels, texts and legend; the figure's
    own texts) lies inside the rendered canvas: nothing is clipped."""
    renderer = _draw(fig)
    width, height = fig.canvas.get_width_height()
    boxes = [(f"axes {ax.get_title() or ax.get_ylabel()!r}", ax.get_tightbbox(renderer))
             for ax in fig.axes]
    boxes += [(text.get_text(), text.get_window_extent(renderer)) for text in fig.texts
              if text.get_visible() and text.get_text()]
    outside = [name for name, box in boxes if box is not None and (
        box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1)]
    assert not outside, f"clipped: {outside}"


def _labels(ax, axis):
    _draw(ax.figure)
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [tick.get_text() for tick in ticks if tick.get_text()]


def _check_png(fig):
    data = plot.png_bytes(fig)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(data[16:20], "big")
    assert width == int(fig.get_figwidth() * plot.DPI)


def test_page_tables_vs_procs():
    fig = plot.page_tables_vs_procs("300GiB", "512GiB", procs=1500)
    ax = fig.axes[0]
    assert "processes" in ax.get_xlabel()
    assert "bytes" in ax.get_ylabel() and "PageTables" in ax.get_ylabel()
    assert "300 GiB" in ax.get_title() and "512 GiB" in ax.get_title()
    assert any("GiB" in label for label in _labels(ax, "y"))
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    # shmem mTHP keeps private-4k's page tables: its eight sizes share the line, shortened
    assert "private-4k, thp-shmem-8k..1m  (OOM at 362 processes)" in legend
    assert "ptshare, ptshare-2026  (OOM at 184,122 processes)" in legend   # same PageTables
    assert any(label.startswith("RAM 512 GiB - region 300 GiB = 212 GiB") for label in legend)
    assert "mshare, threads" in legend                 # coinciding lines share an entry
    notes = [text.get_text() for text in ax.texts]
    assert "OOM: private-4k, thp-shmem-8k..1m at 362 processes" in notes
    _texts_inside(fig)
    _check_png(fig)


def test_page_tables_vs_procs_without_oom_in_range():
    fig = plot.page_tables_vs_procs("24GiB", "32GiB", procs=2, strategies=["hugetlb-2m"])
    ax = fig.axes[0]
    assert not [text for text in ax.texts if text.get_text().startswith("OOM:")]
    _texts_inside(fig)


def test_savings(sga):
    fig = plot.savings(sga)
    ax = fig.axes[0]
    ticks = dict(zip(ax.get_yticks(), [tick.get_text() for tick in ax.get_yticklabels()]))
    assert [ticks[y] for y in sorted(ticks, reverse=True)] == list(sga["strategy"])
    assert "memory" in ax.get_xlabel() and "GiB (linear scale)" in ax.get_xlabel()
    assert ax.get_xscale() == "linear"          # bar lengths compare like the memory
    notes = [text.get_text() for text in ax.texts]
    assert " 880.629 GiB  (baseline)" in notes
    # 945,567,744,000 / 7,372,800 = 128,250.83: 128,251 times less (by hand)
    assert " 7.031 MiB  (saves 99.9992%, 128,251× less)" in notes  # noqa: RUF001
    _texts_inside(fig)
    _check_png(fig)


def test_savings_and_faults_not_applicable():
    df = ptcalc.compare("300GiB", 1500, offset="4KiB")
    for fig in (plot.savings(df), plot.faults(df)):
        notes = [text.get_text() for text in fig.axes[0].texts]
        assert any(note.startswith("n/a") for note in notes)
        _texts_inside(fig)


def test_faults(sga):
    fig = plot.faults(sga)
    ax = fig.axes[0]
    assert "faults" in ax.get_xlabel()
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["first process", "each later process", "all processes"]
    notes = [text.get_text().strip() for text in ax.texts]
    # counts with thousands separators, not SI prefixes: 300 GiB / 4 KiB = 78,643,200 pages
    assert "78,643,200" in notes and "0" in notes             # threads: no later faults
    assert not [note for note in notes if note.endswith((" M", " G", " k"))]
    assert "log scale" in ax.get_xlabel()
    _texts_inside(fig)
    _check_png(fig)


def test_tlb_coverage():
    fig = plot.tlb_coverage("default", working_set="300GiB")
    ax = fig.axes[0]
    assert "Skylake" in ax.get_title()
    assert "coverage" in ax.get_ylabel() and "working set" in ax.get_xlabel()
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == [
        ("4 KiB leaves: private-4k, thp-shmem-8k..1m, ptshare, ptshare-2026, file-pt, mshare, "
         "threads"),
        "2 MiB leaves: thp-shmem, hugetlb-2m, hugetlb-2m-pmdshare",
        "1 GiB leaves: thp-shmem-1g, hugetlb-1g",
    ]
    assert "100%" in _labels(ax, "y")
    assert any("GiB" in label for label in _labels(ax, "x"))
    _texts_inside(fig)
    _check_png(fig)


def test_heatmap_marks_oom_cells():
    grid = pd.DataFrame([{"size_bytes": s * GiB, "procs": c, "touched": t}
                         for s in (16, 64, 128) for c in (100, 800, 1600) for t in (0.5, 1.0)])
    results = ptcalc.evaluate(grid)
    fig = plot.heatmap(results, ram="256GiB", xlabel="connections", ylabel="shared_buffers")
    private = results[results["strategy"] == "private-4k"]
    expected = int((private["size_bytes"] + private["pt_bytes_total"] > 256 * GiB).sum())
    marked = [text for ax in fig.axes for text in ax.texts if text.get_text().endswith("OOM")]
    assert len(marked) == expected > 0
    panels = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert [ax.get_title(loc="left") for ax in panels] == ["touched fraction: 50%",
                                                           "touched fraction: 100%"]
    assert panels[-1].get_xlabel() == "connections"
    _texts_inside(fig)
    _check_png(fig)


def test_heatmap_unknown_strategy():
    results = ptcalc.evaluate(pd.DataFrame({"size_bytes": [GiB], "procs": [2]}),
                              strategies=["hugetlb-1g"])
    with pytest.raises(InputError):
        plot.heatmap(results)


def test_no_pyplot_and_lazy_matplotlib():
    """Importing ptcalc.present.plots loads no matplotlib; plotting never touches pyplot (no global
    figure state, no GUI backend: figures render headless through Agg)."""
    code = ("import sys, ptcalc.present.plots as p; assert 'matplotlib' not in sys.modules; "
            "import ptcalc; p.png_bytes(p.savings(ptcalc.compare('1GiB', 2))); "
            "assert 'matplotlib.pyplot' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, env={"DISPLAY": "", "PATH": ""})


# --------------------------------------------------------------------------------------------
# ax=: a plot as one panel of the caller's figure


def test_plots_draw_into_the_callers_axes(sga):
    from matplotlib.figure import Figure

    mine = Figure(figsize=(14, 9), layout="constrained")
    mine.suptitle("my host")
    axes = mine.subplots(2, 2).flat
    drawn = [plot.savings(sga, ax=axes[0]), plot.faults(sga, ax=axes[1]),
             plot.tlb_coverage("skylake-sp", "64GiB", ax=axes[2]),
             plot.page_tables_vs_procs("300GiB", "512GiB", procs=1500, ax=axes[3])]
    assert all(fig is mine for fig in drawn)
    assert len(mine.axes) == 4                   # no axes of their own added
    assert mine.get_figwidth() == 14             # the caller's size is kept
    assert mine.get_suptitle() == "my host"
    # each panel got its plot: bars for the two bar charts, lines for the two line plots
    assert len(axes[0].patches) >= len(sga) - 1 and len(axes[1].patches) > len(sga)
    assert axes[2].lines and axes[3].lines
    assert axes[3].get_xlabel() == "processes mapping the region"
    _check_png(mine)


def test_heatmap_into_the_callers_axes():
    from matplotlib.figure import Figure

    grid = pd.DataFrame([{"size_bytes": s * GiB, "procs": c, "touched": t}
                         for s in (16, 64) for c in (100, 800) for t in (0.5, 1.0)])
    results = ptcalc.evaluate(grid)
    mine = Figure()
    first, second, spare = mine.subplots(3, 1)
    assert plot.heatmap(results, ax=[first, second]) is mine
    assert first.get_title(loc="left") == "touched fraction: 50%" and first.images
    assert second.images and not spare.images
    with pytest.raises(InputError, match="2 panel"):
        plot.heatmap(results, ax=spare)
    assert plot.heatmap(results[results["touched"] == 1.0], ax=spare) is mine


def test_missing_matplotlib_says_how_to_install():
    """Without matplotlib a plot raises ModuleNotFoundError with the install command, before
    doing any work (sys.modules['matplotlib'] = None makes the import fail as if absent)."""
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "import ptcalc\n"
            "try:\n"
            "    ptcalc.plot.savings(None)\n"
            "except ModuleNotFoundError as error:\n"
            "    print(error.name, '|', error)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "matplotlib | ptcalc's plots need matplotlib: pip install 'ptcalc[plot]'"

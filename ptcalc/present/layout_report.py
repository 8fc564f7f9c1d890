"""The sizing report of a host layout (`ptcalc report --layout FILE -o NAME.html|.md`).

What it holds, all from ptcalc.compute (host, host_plan, host_sweep): the layout as read
(regions, groups, the sources it gives), per strategy the host's page tables, data and RAM
verdict, per strategy and group the VmPTE and faults, and with the host's RAM the most
processes of one group that fit (the others held) with a plot of the host's page tables as
that group grows.  One list of blocks is rendered two ways: standalone HTML (the plot as a
data URI) or Markdown (the plot as a PNG beside the file, or embedded).
"""

from __future__ import annotations

import datetime
import html
import re
from dataclasses import dataclass, field

from ptcalc.present.layouts import GROUP_COLUMNS, HOST_COLUMNS, PLAN_COLUMNS, title
from ptcalc.present.tables import show
from ptcalc.units import format_size

PLOT_POINTS = 25
LEVEL_KEYS = ("pte_table_bytes", "pmd_table_bytes", "pud_table_bytes", "p4d_table_bytes")
DOCS = "docs/layouts.md"


@dataclass
class LayoutReport:
    title: str
    summary: str
    blocks: list = field(default_factory=list)     # ("h2"|"p"|"ul"|"table"|"figure", ...)
    figures: dict = field(default_factory=dict)    # name -> PNG bytes
    command: str = ""
    generated: str = ""


#: The terminal tables' short headers (present/layouts.py) in words, for a reader of the report.
HEADER_WORDS = {
    "leaf": "leaf page size", "PT total": "page tables of the host (PageTables)",
    "PTE": "PTE tables", "PMD": "PMD tables", "PUD": "PUD tables", "P4D": "P4D tables",
    "baselines": "the processes' own page tables (baselines)",
    "saved": "saving vs private-4k", "huge pages": "huge pages to reserve",
    "faults total": "faults, all processes", "data": "data in RAM",
    "data + PT": "data + page tables", "fits RAM": "fits in RAM", "procs": "processes",
    "VmPTE": "page tables per process (VmPTE)", "PT group": "page tables of the group",
    "PT at fork": "copied at fork, per process", "faults 1st": "faults, first process",
    "faults next": "faults, each later process",
    "COW faults": "copy-on-write faults per process", "new RAM/proc": "new RAM per process",
    "max procs": "most processes that fit", "PT at max": "page tables at that count",
    "data + PT at max": "data + page tables at that count", "to reserve": "pool to reserve",
}


def _cells(rows, columns) -> tuple[list[str], list[list[str]]]:
    """Headers (in words) and text cells of the rows that apply (the others are named in the
    notes)."""
    rows = [r for r in rows if r.get("applicable") is not False]
    present = [(k, h, kind) for k, h, kind in columns if any(r.get(k) is not None for r in rows)]
    body = [[show(row.get(k), kind, "iec") for k, _, kind in present] for row in rows]
    return [HEADER_WORDS.get(h, h) for _, h, _ in present], body


def _not_applicable(rows) -> list[str]:
    """One note per reason: 'thp-shmem-8k, thp-shmem-16k do not apply: each is ...'."""
    by_reason: dict[str, list[str]] = {}
    for row in rows:
        if not row["applicable"]:
            reason = str(row["reason"])
            if reason.startswith(row["strategy"] + " "):
                reason = "each " + reason[len(row["strategy"]) + 1:]
            by_reason.setdefault(reason, []).append(row["strategy"])
    return [f"{', '.join(names)} do{'es' if len(names) == 1 else ''} not apply: {reason}"
            .replace("does not apply: each ", "does not apply: it ")
            for reason, names in by_reason.items()]


def _database(name: str | None) -> str | None:
    """oracle / postgresql from the layout's name, for the database settings."""
    name = (name or "").lower()
    if "oracle" in name or "sga" in name:
        return "oracle"
    return "postgresql" if "postgres" in name else None


def default_group(layout) -> str:
    """The group a capacity question is about: the largest one that is not a parent."""
    parents = {g.forked_from for g in layout.groups}
    candidates = [g for g in layout.groups if g.name not in parents] or list(layout.groups)
    return max(candidates, key=lambda g: g.procs).name


def build_layout_report(layout, strategies, group: str | None = None,
                        command: str = "") -> LayoutReport:
    import pandas as pd

    from ptcalc.compute.host import evaluate_layout
    from ptcalc.present import narrative

    result = evaluate_layout(layout, strategies)
    report = LayoutReport(narrative.layout_title(layout), title(layout), command=command,
                          generated=datetime.datetime.now(datetime.UTC).strftime(
                              "%Y-%m-%d %H:%M UTC"))
    add = report.blocks.append
    usable = [row for row in result["host"] if row["applicable"]]
    if usable and any(row["strategy"] == "private-4k" for row in usable):
        advice = narrative.recommend_layout(pd.DataFrame(usable), layout,
                                            database=_database(layout.name))
        add(("h2", "Recommendation"))
        add(("recommendation", advice.text))
    if layout.description:
        add(("p", layout.description))
    add(("h2", "The layout"))
    add(("table", ["region", "size", "kind", "address", "file offset"],
         [[r.name, format_size(r.size_bytes), r.kind, f"{r.address_bytes:#x}",
           format_size(r.file_offset_bytes)] for r in layout.regions]))
    add(("table", ["group", "processes", "baseline page tables", "forked from", "maps"],
         [[g.name, f"{g.procs:,}", format_size(g.baseline_pt_bytes), g.forked_from or "-",
           "; ".join(f"{m.region}: {float(m.touched) * 100:.4g}% {m.access}"
                     + (f" ({m.pattern}, {m.pages} pages)" if m.pattern != "dense" else "")
                     for m in g.maps) or "-"] for g in layout.groups]))
    if layout.sources:
        add(("p", "Where the values come from:"))
        add(("ul", [f"{key}: {text}" for key, text in layout.sources]))
    add(("h2", "The host, per strategy"))
    add(("p", ("Page tables of the host is what /proc/meminfo PageTables would show "
              "(shared tables once, baselines included); data in RAM is the memory the "
              "regions' pages take; fits in RAM compares data + page tables with the host's "
              "RAM.")))
    host = [{**r, "fits": None if r.get("fits_ram") is None else
             ("yes" if r["fits_ram"] else "NO")} for r in result["host"]]
    # the paging levels in a table of their own: one table of every column is wider than
    # a page
    add(("table", *_cells(host, [c for c in HOST_COLUMNS if c[0] not in LEVEL_KEYS])))
    add(("p", "Page tables of the host per paging level:"))
    add(("table", *_cells(host, [c for c in HOST_COLUMNS
                                 if c[0] == "strategy" or c[0] in LEVEL_KEYS])))
    add(("h2", "Each group, per strategy"))
    add(("p", ("VmPTE is what one process of the group is charged; faults of the first "
              "process are its group's first process's, after the groups above it; copied at "
              "fork is what fork() copied into each process.")))
    per_group = [c for c in GROUP_COLUMNS if c[0] not in ("group", "procs")]
    for grp in layout.groups:
        add(("p", f"Group {grp.name}: {grp.procs:,} process{'' if grp.procs == 1 else 'es'}"
             + (f", forked from {grp.forked_from}" if grp.forked_from else "") + "."))
        add(("table", *_cells([r for r in result["groups"] if r["group"] == grp.name],
                              per_group)))
    if layout.ram_bytes:
        _capacity(report, layout, strategies, group or default_group(layout))
    notes = _not_applicable(result["host"])
    if any(r.kind == "private" for r in layout.regions):
        notes.append("Private regions (MAP_PRIVATE anonymous memory) use 4 KiB pages under "
                     "every strategy: the strategies change how shared memory is mapped.")
    notes.append("Memory outside the layout (the kernel, page cache of other files) is not "
                 f"counted; what a layout does not model: {DOCS} section 6.")
    add(("h2", "Notes"))
    add(("ul", notes))
    return report


def _capacity(report, layout, strategies, group: str) -> None:
    from ptcalc.compute.host_plan import most_procs
    from ptcalc.compute.host_sweep import sweep_layout

    add = report.blocks.append
    rows = most_procs(layout, group, layout.ram_bytes, strategies)
    add(("h2", f"How many processes of {group} fit"))
    add(("p", (f"The most processes of group {group} whose data and page tables fit in "
              f"{format_size(layout.ram_bytes)} of RAM, every other group held (exact "
              "bisection on the layout's data + PT).")))
    add(("table", *_cells(rows, [c for c in PLAN_COLUMNS if c[0] != "group"])))
    fitting = [r["max_procs"] for r in rows if r["applicable"] and r["max_procs"]]
    top = max([2 * layout.group(group).procs, *[min(2 * m, 1 << 22) for m in fitting]])
    values = sorted({max(1, round(top ** (i / (PLOT_POINTS - 1))))
                     for i in range(PLOT_POINTS)})
    swept = sweep_layout(layout, group=group, values=values, strategies=strategies)
    limits = {r["strategy"]: r["max_procs"] for r in rows if r["applicable"]}
    report.figures["page-tables"] = _plot(swept["host"], limits, group, layout.group(group).procs)
    add(("figure", "page-tables",
         (f"The host's page tables (PageTables) as group {group} grows, one line per "
         "strategy, log scales; an X marks the first count whose data + page tables exceed "
         "the RAM; the dotted line is the layout's own count.")))


def _plot(rows, limits: dict, group: str, current: int) -> bytes:
    """PageTables of the host against the group's process count, one line per strategy.
    Strategies whose lines coincide share one (their names joined); a line drawn later is
    thinner with its markers between the earlier ones', so a line lying on another shows."""
    from ptcalc.present.plots.style import (
        FONT_SIZE,
        bytes_axis,
        count_axis,
        names_text,
        new_figure,
        png_bytes,
        strategy_style,
    )

    by: dict = {}
    for row in rows:
        if row["applicable"]:
            by.setdefault(row["strategy"], []).append((row["group_procs"], row["pt_bytes_total"]))
    curves: dict[tuple, list[str]] = {}
    for strategy, points in by.items():
        curves.setdefault(tuple(points), []).append(strategy)
    fig, ax = new_figure(6.0)
    step = max(1, PLOT_POINTS // 6)
    marked = False
    for k, (points, members) in enumerate(curves.items()):
        colour, linestyle, marker = strategy_style(members[0])
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, label=names_text(members), color=colour, linestyle=linestyle,
                marker=marker, markersize=5, linewidth=max(1.0, 3.0 - 0.3 * k),
                markevery=((k * step) // max(1, len(curves)), step), zorder=2 + k)
        limit = limits.get(members[0])
        over = [(x, y) for x, y in points if limit is not None and x > limit]
        if over:
            ax.plot(*over[0], marker="X", markersize=12, color=colour, markeredgecolor="black",
                    linestyle="none", zorder=20, label=None if marked else
                    "first count that does not fit in RAM")
            marked = True
    ax.axvline(current, linestyle=":", color="black", linewidth=1.2,
               label=f"the layout's {current:,} processes")
    ax.set_xscale("log")
    ax.set_yscale("log", base=2)
    bytes_axis(ax.yaxis)
    count_axis(ax.xaxis)
    ax.set_xlabel(f"processes of group {group} (log scale)", fontsize=FONT_SIZE + 1)
    ax.set_ylabel("page tables of the host (PageTables), log scale", fontsize=FONT_SIZE + 1)
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title(f"Page tables of the host as group {group} grows", fontsize=FONT_SIZE + 2)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=FONT_SIZE - 1,
              frameon=False)
    return png_bytes(fig)


# --- rendering --------------------------------------------------------------------------

def _md_cell(text: str) -> str:
    """One line of Markdown text: what the layout file says shows as written, never as HTML."""
    from ptcalc.present.sizing.markdown import md_text

    return md_text(re.sub(r"[\r\n]+", " ", str(text))).replace("|", "\\|")


def render_markdown(report: LayoutReport, image_links: dict | None = None) -> str:
    from ptcalc import __version__
    from ptcalc.present.sizing.markdown import code_span
    from ptcalc.present.sizing.report import data_uri

    out = [f"# {_md_cell(report.title)}", "",
           f"Generated {report.generated} with ptcalc {__version__}.", "",
           _md_cell(report.summary), ""]
    if report.command:
        out += [f"Command: {code_span(report.command)}", ""]
    for block in report.blocks:
        kind = block[0]
        if kind == "h2":
            out += [f"## {_md_cell(block[1])}", ""]
        elif kind in ("p", "recommendation"):
            out += [_md_cell(block[1]), ""]
        elif kind == "ul":
            out += [f"- {_md_cell(item)}" for item in block[1]] + [""]
        elif kind == "table":
            headers, rows = block[1], block[2]
            out.append("| " + " | ".join(_md_cell(h) for h in headers) + " |")
            out.append("|" + "---|" * len(headers))
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            out.append("")
        elif kind == "figure":
            name, caption = block[1], block[2]
            target = (image_links or {}).get(name) or data_uri(report.figures[name])
            out += [f"![{_md_cell(caption)}]({target})", "", f"*{_md_cell(caption)}*", ""]
    out.append(f"Generated by ptcalc {__version__} on {report.generated}.")
    return "\n".join(out) + "\n"


def _html_table(headers, rows) -> str:
    """A table in the sizing report's style: numbers right-aligned, inside a box that scrolls
    on a narrow window instead of widening the page."""
    e = html.escape
    number = re.compile(r"^[-+]?[\d,.]+( [KMGTPE]?i?B)?%?$|^-$")
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td class="num">{e(c)}</td>' if j and number.match(str(c)) else f"<td>{e(c)}</td>"
        for j, c in enumerate(row)) + "</tr>" for row in rows)
    return (f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            "</table></div>")


def render_html(report: LayoutReport) -> str:
    from ptcalc import __version__
    from ptcalc.present.sizing.html import _CSS
    from ptcalc.present.sizing.report import data_uri

    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{e(report.title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{e(report.title)}</h1>",
           f'<p class="meta">Generated {e(report.generated)} with ptcalc {e(__version__)}.</p>',
           f'<p class="lead">{e(report.summary)}</p>']
    if report.command:
        out.append(f'<p class="meta">Command: <code>{e(report.command)}</code></p>')
    for block in report.blocks:
        kind = block[0]
        if kind == "h2":
            out.append(f"<h2>{e(block[1])}</h2>")
        elif kind == "p":
            out.append(f"<p>{e(block[1])}</p>")
        elif kind == "recommendation":
            out.append(f'<p class="recommendation" id="recommendation">{e(block[1])}</p>')
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in block[1]) + "</ul>")
        elif kind == "table":
            out.append(_html_table(block[1], block[2]))
        elif kind == "figure":
            out.append(f'<figure><img src="{data_uri(report.figures[block[1]])}" '
                       f'alt="{e(block[2])}"><figcaption>{e(block[2])}</figcaption></figure>')
    out.append(f'<p class="footer">Generated by ptcalc {e(__version__)} on '
               f"{e(report.generated)}.</p>")
    return "\n".join(out) + "\n</body></html>\n"


def write_layout_report(report: LayoutReport, path, *, embed_images: bool = False) -> list:
    """Write the report (.html, or .md with its PNG in <stem>_files/ unless embedded)."""
    from ptcalc.present.files import atomic_write, replace_file_and_folder
    from ptcalc.present.sizing.build import check_report_path

    path, kind = check_report_path(path)
    if kind == "html":
        atomic_write(path, render_html(report).encode("utf-8"))
        return [path]
    if embed_images or not report.figures:
        atomic_write(path, render_markdown(report).encode("utf-8"))
        return [path]
    folder = path.with_name(f"{path.stem}_files")
    files = {f"{name}.png": png for name, png in report.figures.items()}
    links = {name: f"{folder.name}/{name}.png" for name in report.figures}
    replace_file_and_folder(path, render_markdown(report, links).encode("utf-8"), folder,
                            files)
    return [path] + [folder / name for name in files]

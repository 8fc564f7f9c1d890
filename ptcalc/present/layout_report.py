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
DOCS = "docs/layouts.md"


@dataclass
class LayoutReport:
    title: str
    summary: str
    blocks: list = field(default_factory=list)     # ("h2"|"p"|"ul"|"table"|"figure", ...)
    figures: dict = field(default_factory=dict)    # name -> PNG bytes
    command: str = ""
    generated: str = ""


def _cells(rows, columns) -> tuple[list[str], list[list[str]]]:
    """Headers and text cells of the rows that apply (the others are named in the notes)."""
    rows = [r for r in rows if r.get("applicable") is not False]
    present = [(k, h, kind) for k, h, kind in columns if any(r.get(k) is not None for r in rows)]
    body = [[show(row.get(k), kind, "iec") for k, _, kind in present] for row in rows]
    return [h for _, h, _ in present], body


def default_group(layout) -> str:
    """The group a capacity question is about: the largest one that is not a parent."""
    parents = {g.forked_from for g in layout.groups}
    candidates = [g for g in layout.groups if g.name not in parents] or list(layout.groups)
    return max(candidates, key=lambda g: g.procs).name


def build_layout_report(layout, strategies, group: str | None = None,
                        command: str = "") -> LayoutReport:
    from ptcalc.compute.host import evaluate_layout

    result = evaluate_layout(layout, strategies)
    report = LayoutReport(f"Sizing report: host layout {layout.name or '(unnamed)'}",
                          title(layout), command=command,
                          generated=datetime.datetime.now(datetime.UTC).strftime(
                              "%Y-%m-%d %H:%M UTC"))
    add = report.blocks.append
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
    add(("p", ("PT total is what /proc/meminfo PageTables would show (shared tables once, "
              "baselines included); data is the memory the regions' pages take; fits RAM "
              "compares data + PT with the host's RAM.")))
    host = [{**r, "fits": None if r.get("fits_ram") is None else
             ("yes" if r["fits_ram"] else "NO")} for r in result["host"]]
    add(("table", *_cells(host, HOST_COLUMNS)))
    add(("h2", "Each group, per strategy"))
    add(("p", ("VmPTE is what one process of the group is charged; faults 1st are its first "
              "process's, after the groups above it; PT at fork is what fork() copied.")))
    add(("table", *_cells(result["groups"], GROUP_COLUMNS)))
    if layout.ram_bytes:
        _capacity(report, layout, strategies, group or default_group(layout))
    notes = sorted({f"{r['strategy']} does not apply: {r['reason']}"
                    for r in result["host"] if not r["applicable"]})
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
    add(("table", *_cells(rows, PLAN_COLUMNS)))
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
    import matplotlib

    from ptcalc.present.plots.style import STRATEGY_STYLES, bytes_axis, count_axis, png_bytes

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5.5))
    by: dict = {}
    for row in rows:
        if row["applicable"]:
            by.setdefault(row["strategy"], []).append((row["group_procs"], row["pt_bytes_total"]))
    for strategy, points in by.items():
        colour, linestyle, marker = STRATEGY_STYLES.get(strategy, ("#333333", "-", "o"))
        xs, ys = zip(*points, strict=True)
        line, = ax.plot(xs, ys, label=strategy, color=colour, linestyle=linestyle,
                        marker=marker, markersize=3)
        over = [(x, y) for x, y in points if limits.get(strategy) is not None
                and x > limits[strategy]]
        if over:
            ax.plot(*over[0], marker="x", markersize=10, color=line.get_color())
    ax.axvline(current, linestyle=":", color="grey")
    ax.set(xscale="log", yscale="log", xlabel=f"processes of group {group}",
           ylabel="page tables of the host (PageTables)")
    bytes_axis(ax.yaxis)
    count_axis(ax.xaxis)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    try:
        return png_bytes(fig)
    finally:
        plt.close(fig)


# --- rendering --------------------------------------------------------------------------

def _md_cell(text: str) -> str:
    return re.sub(r"[\r\n]+", " ", str(text)).replace("|", "\\|")


def render_markdown(report: LayoutReport, image_links: dict | None = None) -> str:
    from ptcalc.present.sizing.markdown import code_span
    from ptcalc.present.sizing.report import data_uri

    out = [f"# {_md_cell(report.title)}", "", _md_cell(report.summary), ""]
    if report.command:
        out += [f"Command: {code_span(report.command)}", ""]
    for block in report.blocks:
        kind = block[0]
        if kind == "h2":
            out += [f"## {_md_cell(block[1])}", ""]
        elif kind == "p":
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
    out.append(f"Generated by ptcalc on {report.generated}.")
    return "\n".join(out) + "\n"


_STYLE = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1.5em;"
          "color:#222}table{border-collapse:collapse;margin:.8em 0;font-size:.88em}"
          "th,td{border:1px solid #ccc;padding:.25em .5em}th{background:#f3f3f3;"
          "text-align:left}figure img{max-width:100%}.meta{color:#666}")


def render_html(report: LayoutReport) -> str:
    from ptcalc.present.sizing.report import data_uri

    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{e(report.title)}</title><style>{_STYLE}</style></head><body>",
           f"<h1>{e(report.title)}</h1>", f'<p class="meta">{e(report.summary)}</p>']
    if report.command:
        out.append(f'<p class="meta">Command: <code>{e(report.command)}</code></p>')
    for block in report.blocks:
        kind = block[0]
        if kind == "h2":
            out.append(f"<h2>{e(block[1])}</h2>")
        elif kind == "p":
            out.append(f"<p>{e(block[1])}</p>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in block[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{e(h)}</th>" for h in block[1])
            body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                           for row in block[2])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "figure":
            out.append(f'<figure><img src="{data_uri(report.figures[block[1]])}" '
                       f'alt="{e(block[2])}"><figcaption>{e(block[2])}</figcaption></figure>')
    out.append(f'<p class="meta">Generated by ptcalc on {e(report.generated)}.</p>')
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

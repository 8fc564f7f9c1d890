"""The sizing report: one scenario (a workload preset, optionally overridden) as a document a
DBA can attach to a change request: findings, every strategy in a table, the four plots of
``ptcalc.present.plots``, huge pages to reserve, formulas and sources.

    build_report(preset=None, size=..., procs=..., ram=..., cpu="default") -> SizingReport
    render_html(report) -> str               one standalone file, plots as base64 data URIs
    render_markdown(report, image_dir=None)  plots as data URIs, or as links into image_dir
    write_report(report, path, embed_images=False) -> list of written paths

Output files are written atomically (a temporary file in the same directory, then rename), so
a reader never sees half a report.  Markdown keeps its plots beside it by default, in the
directory ``<stem>_files/`` (GitHub, GitLab and most viewers do not show data-URI images in
Markdown); ``embed_images=True`` inlines them as data URIs for one self-contained file.
"""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ptcalc import catalog
from ptcalc.errors import InputError
from ptcalc.inputs.scenario import MAX_PROCS

HTML_SUFFIXES = (".html", ".htm")
MARKDOWN_SUFFIXES = (".md", ".markdown")

MSHARE_COVER = "lore:cover.1642526745.git.khalid.aziz@oracle.com"

#: Sources every report cites (label, reference); strategy sources are added per strategy.
REFERENCES = (
    (("mshare RFC cover letter (Khalid Aziz, 2022): the 300 GB SGA x 1500 processes OOM, "
     "'878GB+ for just the PTEs'"), MSHARE_COVER),
    ("Linux kernel: HugeTLB Pages (nr_hugepages, hugepagesz=, hugepages=)",
     "https://docs.kernel.org/admin-guide/mm/hugetlbpage.html"),
    ("Linux kernel: Transparent Hugepage Support (shmem_enabled, tmpfs huge=)",
     "https://docs.kernel.org/admin-guide/mm/transhuge.html"),
    ("Linux kernel: /proc/meminfo PageTables and /proc/PID/status VmPTE",
     "https://docs.kernel.org/filesystems/proc.html"),
    ("PostgreSQL: Linux huge pages (shared_memory_size_in_huge_pages, vm.nr_hugepages)",
     "https://www.postgresql.org/docs/current/kernel-resources.html#LINUX-HUGE-PAGES"),
    ("PostgreSQL: shared_buffers and huge_pages",
     "https://www.postgresql.org/docs/current/runtime-config-resource.html"),
)

#: Strategies that exist in mainline Linux (ptcalc.catalog); the others are proposals.
MERGED = tuple(s.name for s in catalog.STRATEGIES if s.upstream.in_mainline)

#: Columns of the main table: (column, header).
TABLE_COLUMNS = (
    ("strategy", "strategy"),
    ("leaf_page_bytes", "leaf page"),
    ("pt_bytes_per_process", "PT per process (VmPTE)"),
    ("pt_bytes_total", "PT total (PageTables)"),
    ("savings_vs_private_4k", "saved vs private-4k"),
    ("max_procs", "max processes in RAM"),
    ("huge_pages", "huge pages"),
    ("faults_first", "faults, first process"),
    ("faults_next", "faults, each later"),
    ("tlb_coverage", "TLB coverage"),
)
LEVEL_COLUMNS = (
    ("strategy", "strategy"),
    ("pte_table_bytes", "PTE tables"),
    ("pmd_table_bytes", "PMD tables"),
    ("pud_table_bytes", "PUD tables"),
    ("p4d_table_bytes", "P4D tables"),
    ("faults_total", "faults, all processes"),
    ("tlb_reach_l1_bytes", "L1 TLB reach"),
    ("tlb_reach_l2_bytes", "L2 TLB reach"),
    ("walk_refs", "walk refs"),
)


@dataclass
class ReportFigure:
    name: str          # file stem: page-tables, savings, faults, tlb
    title: str
    caption: str
    png: bytes


@dataclass
class SizingReport:
    title: str
    description: str
    scenario_text: str
    inputs: list[tuple[str, str, str]]           # (name, value, source)
    results: object                              # DataFrame: compare() + max_procs, oom_procs
    findings: list[str]
    figures: list[ReportFigure]
    huge_pages: list[str]
    formulas: list[tuple[str, str]]              # (heading, text)
    strategies: list[tuple[str, str, str, str]]  # (name, status, shared, source)
    notes: list[str] = field(default_factory=list)
    command: str = ""


# --------------------------------------------------------------------------------------------
# Building


def _size(value, what: str) -> int:
    from ptcalc.units import UnitError, parse_size

    try:
        return parse_size(value, what=what)
    except UnitError as error:
        raise InputError(str(error)) from None


def _resolve_inputs(preset, overrides: dict):
    """(preset or None, chosen values as text, sources) like `ptcalc compare`."""
    from ptcalc.inputs.presets import DEFAULT_PRESET, load_preset

    chosen = {"offset": "0", "touched": "1", "access": "write", "pattern": "dense"}
    loaded = None
    if preset or (overrides.get("size") is None and overrides.get("procs") is None):
        loaded = load_preset(preset or DEFAULT_PRESET)
        chosen.update({k: str(v) for k, v in loaded.values.items()})
    chosen.update({k: str(v) for k, v in overrides.items() if v is not None})
    for key in ("size", "procs", "ram"):
        if key not in chosen:
            raise InputError(f"--{key} is missing; give --size, --procs and --ram, or "
                             "--preset NAME")
    sources = dict(loaded.sources) if loaded else {}
    for key, value in overrides.items():
        if value is not None:
            sources[key] = "given on the command line"
    return loaded, chosen, sources


def build_report(preset: str | None = None, *, size=None, procs=None, ram=None, offset=None,
                 touched=None, access=None, pattern=None, cpu="default",
                 command: str = "") -> SizingReport:
    """Compute everything a sizing report shows.  Values not given come from ``preset``
    (default: the oracle-sga-300g preset when neither size nor procs is given)."""
    from ptcalc.api import compare
    from ptcalc.compute.tlb import resolve
    from ptcalc.inputs.scenario import make_scenario
    from ptcalc.present import plots as plot
    from ptcalc.units import format_size

    overrides = {"size": size, "procs": procs, "ram": ram, "offset": offset,
                 "touched": touched, "access": access, "pattern": pattern}
    loaded, chosen, sources = _resolve_inputs(preset, overrides)
    scenario = make_scenario(chosen["size"], chosen["procs"], chosen["offset"],
                             chosen["touched"], chosen["access"], chosen["pattern"])
    ram_bytes = _size(chosen["ram"], "ram")
    if ram_bytes <= 0:
        raise InputError("ram must be positive")
    chosen_cpu, cpu_note = resolve(cpu)
    frame = compare(scenario.size_bytes, scenario.procs, scenario.offset_bytes,
                    float(scenario.touched), scenario.access, pattern=scenario.pattern,
                    cpu=chosen_cpu.name)
    ooms = plot.oom_points(scenario.size_bytes, ram_bytes, offset=scenario.offset_bytes,
                           touched=float(scenario.touched), access=scenario.access,
                           pattern=scenario.pattern)
    frame = frame.merge(ooms[["strategy", "max_procs", "oom_procs"]], on="strategy",
                        how="left")

    size_text = format_size(scenario.size_bytes)
    ram_text = format_size(ram_bytes)
    touched_pct = f"{float(scenario.touched) * 100:.4g}%"
    scenario_text = (f"{size_text} shared region mapped by {scenario.procs:,} processes on a "
                     f"{ram_text} host; each process touches {touched_pct} of it "
                     f"({scenario.pattern}, {scenario.access} access); start offset "
                     f"{format_size(scenario.offset_bytes)} modulo 512 GiB; "
                     f"{scenario.paging}-level paging; TLB of {chosen_cpu.title}.")
    inputs = [
        ("region size", size_text, sources.get("size", "")),
        ("processes", f"{scenario.procs:,}", sources.get("procs", "")),
        ("RAM", ram_text, sources.get("ram", "")),
        ("offset (mod 512 GiB)", format_size(scenario.offset_bytes), sources.get("offset", "")),
        ("touched", touched_pct, sources.get("touched", "")),
        ("access", scenario.access, sources.get("access", "")),
        ("CPU (TLB model)", f"{chosen_cpu.name}: {chosen_cpu.title}",
         cpu_note or ("ptcalc's default CPU" if cpu in (None, "default")
                      else "given on the command line")),
    ]

    figures = [
        ReportFigure("page-tables", "Page tables against processes",
                     "Page-table bytes the machine spends (PageTables, log scale) against the "
                     "number of processes, one line per strategy (strategies whose lines "
                     "coincide share one). The dashed red line is RAM minus the region; an X "
                     "marks where the region plus page tables no longer fit (OOM).",
                     plot.png_bytes(plot.page_tables_vs_procs(
                         scenario.size_bytes, ram_bytes, scenario.procs,
                         offset=scenario.offset_bytes, touched=float(scenario.touched),
                         access=scenario.access, pattern=scenario.pattern))),
        ReportFigure("savings", "Page-table memory per strategy",
                     f"Page-table bytes of all {scenario.procs:,} processes per strategy (log "
                     "scale), with the saving against private 4 KiB page tables.",
                     plot.png_bytes(plot.savings(frame))),
        ReportFigure("faults", "Page faults per strategy",
                     "Minor faults to map the touched part of the region: the first process, "
                     "each later process, and all processes together (log scale).",
                     plot.png_bytes(plot.faults(frame))),
        ReportFigure("tlb", "TLB coverage against working-set size",
                     f"Share of a process's working set the TLB of {chosen_cpu.title} maps at "
                     "once, by leaf page size (log scales); the dotted line is this "
                     "scenario's working set.",
                     plot.png_bytes(plot.tlb_coverage(chosen_cpu.name,
                                                      int(frame["touched_bytes"].iloc[0])))),
    ]

    findings = _findings(frame, scenario, ram_bytes, chosen_cpu)
    huge_pages = _huge_pages(frame)
    notes = [f"{row.strategy} does not apply: {row.reason}" for row in frame.itertuples()
             if not row.applicable]
    if cpu_note:
        notes.append(cpu_note)
    notes.append("Memory other than the region and its page tables (kernel, the processes' "
                 "private memory, page cache) is not counted: the real OOM point comes "
                 "earlier than the one shown.")

    from ptcalc.present.formula import formula_text

    formulas = []
    for name in frame.loc[frame["applicable"].astype(bool), "strategy"]:
        for metric in ("pt_bytes_total", "faults_next"):
            try:
                formulas.append((f"{name}: {metric}", formula_text(name, metric)))
            except InputError:
                continue
    strategies = []
    for info in catalog.STRATEGIES:
        strategies.append((info.name, info.upstream.summary(), info.shared, info.source))

    title = "Page-table sizing report"
    if loaded:
        title += f": {loaded.name}"
    return SizingReport(
        title=title, description=loaded.description if loaded else scenario_text,
        scenario_text=scenario_text, inputs=inputs, results=frame, findings=findings,
        figures=figures, huge_pages=huge_pages, formulas=formulas, strategies=strategies,
        notes=notes, command=command)


def _findings(frame, scenario, ram_bytes: int, cpu) -> list[str]:
    from ptcalc.present.plots import short_size
    from ptcalc.units import format_size

    rows = {row.strategy: row for row in frame.itertuples()}
    out = []
    base = rows.get("private-4k")
    procs = scenario.procs
    if base is not None and base.applicable:
        need = scenario.size_bytes + int(base.pt_bytes_total)
        verdict = ("does not fit" if need > ram_bytes else "fits")
        text = (f"With ordinary private 4 KiB page tables, {procs:,} processes spend "
                f"{short_size(base.pt_bytes_total)} on page tables "
                f"({short_size(base.pt_bytes_per_process)} each, "
                f"{base.pt_bytes_total / ram_bytes:.0%} of RAM). Region plus page tables "
                f"need {short_size(need)}: this {verdict} in {format_size(ram_bytes)}")
        text += (f"; the host runs out of memory at {int(base.oom_procs):,} processes."
                 if _present(base.oom_procs) else ".")
        out.append(text)
    fitting = [row for row in rows.values() if row.applicable
               and scenario.size_bytes + int(row.pt_bytes_total) <= ram_bytes]
    if fitting:
        fitting.sort(key=lambda row: int(row.pt_bytes_total))
        best = ", ".join(f"{row.strategy} ({short_size(row.pt_bytes_total)})"
                         for row in fitting[:3])
        merged = [row for row in fitting if row.strategy in MERGED and row.strategy != "threads"]
        out.append(f"{len(fitting)} of {len(rows)} strategies fit at {procs:,} processes. "
                   f"Smallest page tables: {best}.")
        if merged:
            picks = ", ".join(f"{row.strategy} ({short_size(row.pt_bytes_total)}, saves "
                              f"{_pct(row.savings_vs_private_4k)})" for row in merged[:2])
            out.append(f"Of those, in mainline Linux today (not counting threads): {picks}.")
    else:
        out.append(f"No strategy fits {procs:,} processes in {format_size(ram_bytes)}.")
    late = sorted(((int(row.faults_next), row.strategy) for row in rows.values()
                   if row.applicable), reverse=True)
    if late and base is not None and base.applicable:
        fewest = "; ".join(f"{count:,} with {name}" for count, name in late[-3:][::-1])
        out.append(f"A process that starts after the region is populated takes "
                   f"{int(base.faults_next):,} page faults with private-4k; the fewest: "
                   f"{fewest}.")
    if "tlb_coverage" in frame and base is not None and base.applicable:
        parts = []
        for name in ("private-4k", "hugetlb-2m", "hugetlb-1g"):
            row = rows.get(name)
            if row is not None and row.applicable and _present(row.tlb_coverage):
                parts.append(f"{_pct(row.tlb_coverage)} with {format_size(row.leaf_page_bytes)}"
                             " pages")
        if parts:
            out.append(f"The TLB of {cpu.title} maps at once this much of the "
                       f"{format_size(int(base.touched_bytes))} working set: "
                       + ", ".join(parts) + ".")
    return out


def _present(value) -> bool:
    import pandas as pd

    return value is not None and not pd.isna(value)


def _pct(value) -> str:
    value = float(value)
    if 0 < value < 1e-4:
        return f"{100 * value:.3g}%"
    text = f"{100 * value:.2f}%"
    return f"{100 * value:.4f}%" if text == "100.00%" and value < 1 else text


def _huge_pages(frame) -> list[str]:
    from ptcalc.units import format_size

    out = []
    seen = set()
    for row in frame.itertuples():
        if not row.applicable or not _present(row.huge_pages):
            continue
        count, page = int(row.huge_pages), int(row.leaf_page_bytes)
        users = [r.strategy for r in frame.itertuples() if r.applicable
                 and _present(r.huge_pages) and int(r.leaf_page_bytes) == page]
        if page in seen:
            continue
        seen.add(page)
        size = format_size(page)
        if page == 2**21:
            how = (f"sysctl vm.nr_hugepages={count} (or the boot parameter "
                   f"hugepages={count})")
        else:
            how = (f"kernel command line hugepagesz={size.replace(' GiB', 'G')} "
                   f"hugepages={count} (1 GiB pages are best reserved at boot)")
        out.append(f"{', '.join(users)}: {count:,} pages of {size} = "
                   f"{format_size(count * page)}; reserve with {how}.")
    if out:
        out.append("Reserve a few more for other users of the same pool: PostgreSQL reports "
                   "its exact need as shared_memory_size_in_huge_pages. Reserved huge pages "
                   "are taken from RAM whether used or not (HugePages_Total in "
                   "/proc/meminfo).")
    return out


# --------------------------------------------------------------------------------------------
# Rendering


def _table(frame, columns) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of text for the columns present in ``frame``."""
    from ptcalc.present.plots import readable

    present = [(key, header) for key, header in columns if key in frame]
    shown = readable(frame)
    applicable = frame["applicable"].astype(bool).tolist()
    rows = []
    for i in range(len(frame)):
        cells = []
        for key, _ in present:
            text = str(shown[key].iloc[i])
            if key == "max_procs" and applicable[i] and not _present(frame[key].iloc[i]):
                text = "no limit"
            cells.append(text)
        rows.append(cells)
    return [header for _, header in present], rows


_LINK = re.compile(r"(lore:[^\s,;()'\"]+[^\s,;:()'\".])|(https?://[^\s,;()'\"]+[^\s,;:()'\".])|"
                   r"(Documentation/[\w/.-]+\.rst)")


def _link_target(match) -> str:
    lore, url, doc = match.groups()
    if lore:
        return f"https://lore.kernel.org/all/{lore[len('lore:'):]}/"
    if url:
        return url
    return "https://docs.kernel.org/" + doc[len("Documentation/"):-len(".rst")] + ".html"


def _linkify_html(text: str) -> str:
    out, last = [], 0
    for match in _LINK.finditer(text):
        out.append(html.escape(text[last:match.start()]))
        out.append(f'<a href="{html.escape(_link_target(match))}">'
                   f"{html.escape(match.group(0))}</a>")
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def _linkify_markdown(text: str) -> str:
    def replace(match):
        return f"[{match.group(0)}]({_link_target(match)})"

    return _LINK.sub(replace, text)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 2em auto; max-width: 1100px; padding: 0 1.5em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom:
     1px solid #ddd; padding-bottom: 0.2em; }
.lead { color: #444; font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.na td { color: #888; }
.wide { overflow-x: auto; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; height: auto;
         border: 1px solid #eee; } figcaption { color: #555; font-size: 0.92em; }
ul.findings li { margin-bottom: 0.4em; }
pre { background: #f7f7f7; padding: 0.8em; font-size: 0.82em; white-space: pre-wrap;
      overflow-wrap: anywhere; }
details { margin: 0.3em 0; } summary { cursor: pointer; }
.footer { color: #777; font-size: 0.85em; margin-top: 2em; }
"""


def _html_table(headers, rows, numeric_from: int = 1, na_rows=()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cells = "".join(
            f'<td class="num">{html.escape(c)}</td>' if j >= numeric_from
            else f"<td>{_linkify_html(c)}</td>" for j, c in enumerate(row))
        cls = ' class="na"' if i in na_rows else ""
        body.append(f"<tr{cls}>{cells}</tr>")
    return (f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>'
            f'{"".join(body)}</tbody></table></div>')


def render_html(report: SizingReport) -> str:
    """The report as one standalone HTML document (no external resources)."""
    from ptcalc import __version__

    frame = report.results
    na_rows = {i for i, ok in enumerate(frame["applicable"].astype(bool)) if not ok}
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
        f'<p class="lead">{html.escape(report.description)}</p>',
        f"<p>{html.escape(report.scenario_text)}</p>",
        "<h2>Findings</h2>", '<ul class="findings">',
        *(f"<li>{html.escape(text)}</li>" for text in report.findings), "</ul>",
        "<h2>Inputs</h2>",
        _html_table(["input", "value", "source"], [list(item) for item in report.inputs],
                    numeric_from=99),
        "<h2>Every strategy</h2>",
        _html_table(*_table(frame, TABLE_COLUMNS), na_rows=na_rows),
        ("<p>PT per process is what each process is charged (<code>VmPTE</code> in "
        "<code>/proc/PID/status</code>); PT total is what the machine spends "
        "(<code>PageTables</code> in <code>/proc/meminfo</code>; a shared table counts once). "
        "Max processes in RAM: the most processes for which the region plus PT total fit "
        f"in RAM (no limit: fits up to the kernel's PID limit, {MAX_PROCS:,}).</p>"),
        "<details><summary>Per paging level, all faults, TLB reach</summary>",
        _html_table(*_table(frame, LEVEL_COLUMNS), na_rows=na_rows), "</details>",
    ]
    for figure in report.figures:
        parts.append(f"<h2>{html.escape(figure.title)}</h2>")
        parts.append(f'<figure><img src="{_data_uri(figure.png)}" '
                     f'alt="{html.escape(figure.title)}">'
                     f"<figcaption>{html.escape(figure.caption)}</figcaption></figure>")
    if report.huge_pages:
        parts.append("<h2>Huge pages to reserve</h2><ul>")
        parts.extend(f"<li>{html.escape(text)}</li>" for text in report.huge_pages)
        parts.append("</ul>")
    parts.append("<h2>Check it on the live host</h2><p>Physical page-table memory: "
                 "<code>grep PageTables /proc/meminfo</code>; one process's share: "
                 "<code>grep VmPTE /proc/PID/status</code>; huge pages: "
                 "<code>grep Huge /proc/meminfo</code>.</p>")
    if report.notes:
        parts.append("<h2>Notes</h2><ul>")
        parts.extend(f"<li>{_linkify_html(text)}</li>" for text in report.notes)
        parts.append("</ul>")
    parts.append("<h2>Formulas</h2><p>Exact closed forms used for the numbers above "
                 "(<code>ptcalc formula STRATEGY METRIC</code> prints any of them).</p>")
    for i, (heading, text) in enumerate(report.formulas):
        parts.append(f"<details{' open' if i == 0 else ''}><summary>{html.escape(heading)}"
                     "</summary>"
                     f"<pre>{html.escape(text)}</pre></details>")
    parts.append("<h2>Strategies and sources</h2>")
    parts.append(_html_table(["strategy", "status", "shares", "source"],
                             [list(item) for item in report.strategies], numeric_from=99))
    parts.append("<h2>References</h2><ul>")
    parts.extend(f"<li>{html.escape(label)}: {_linkify_html(ref)}</li>"
                 for label, ref in REFERENCES)
    parts.append("</ul>")
    command = f" by <code>{html.escape(report.command)}</code>" if report.command else ""
    parts.append(f'<p class="footer">Generated{command} with ptcalc {__version__}.</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _md_table(headers, rows) -> str:
    def cell(text: str) -> str:
        return _linkify_markdown(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: SizingReport, image_links: dict[str, str] | None = None) -> str:
    """The report as Markdown.  ``image_links`` maps figure names to the relative paths the
    PNGs are written to; without it the plots are embedded as data URIs."""
    from ptcalc import __version__

    frame = report.results
    out = [f"# {report.title}", "", report.description, "", report.scenario_text, "",
           "## Findings", ""]
    out += [f"- {text}" for text in report.findings]
    out += ["", "## Inputs", "",
            _md_table(["input", "value", "source"], [list(item) for item in report.inputs]),
            "", "## Every strategy", "", _md_table(*_table(frame, TABLE_COLUMNS)), "",
            ("PT per process is what each process is charged (`VmPTE` in `/proc/PID/status`); "
            "PT total is what the machine spends (`PageTables` in `/proc/meminfo`; a shared "
            "table counts once). Max processes in RAM: the most processes for which the "
            "region plus PT total fit in RAM (no limit: fits up to the kernel's PID limit, "
            f"{MAX_PROCS:,})."), "", "Per paging level, all faults, TLB reach:",
            "", _md_table(*_table(frame, LEVEL_COLUMNS)), ""]
    for figure in report.figures:
        target = (image_links or {}).get(figure.name) or _data_uri(figure.png)
        out += [f"## {figure.title}", "", f"![{figure.title}]({target})", "",
                f"*{figure.caption}*", ""]
    if report.huge_pages:
        out += ["## Huge pages to reserve", ""] + [f"- {t}" for t in report.huge_pages] + [""]
    out += ["## Check it on the live host", "",
            ("Physical page-table memory: `grep PageTables /proc/meminfo`; one process's "
            "share: `grep VmPTE /proc/PID/status`; huge pages: `grep Huge /proc/meminfo`."), ""]
    if report.notes:
        out += ["## Notes", ""] + [f"- {_linkify_markdown(t)}" for t in report.notes] + [""]
    out += ["## Formulas", "", ("Exact closed forms used for the numbers above "
            "(`ptcalc formula STRATEGY METRIC` prints any of them)."), ""]
    for heading, text in report.formulas:
        out += [f"### {heading}", "", "```text", text, "```", ""]
    out += ["## Strategies and sources", "",
            _md_table(["strategy", "status", "shares", "source"],
                      [list(item) for item in report.strategies]), "", "## References", ""]
    out += [f"- {label}: {_linkify_markdown(ref)}" for label, ref in REFERENCES]
    command = f" by `{report.command}`" if report.command else ""
    out += ["", f"Generated{command} with ptcalc {__version__}.", ""]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Writing


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename:
    the file is either the old one or the complete new one, never partial."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def _replace_directory(target: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into a fresh temporary directory beside ``target``, then swap it in."""
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        os.chmod(staging, 0o777 & ~_umask())
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old."))
            os.rmdir(old)
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def check_output_path(path) -> tuple[Path, str]:
    """(path, "html" or "markdown"), or InputError naming what is wrong."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in HTML_SUFFIXES:
        kind = "html"
    elif suffix in MARKDOWN_SUFFIXES:
        kind = "markdown"
    else:
        raise InputError(f"output {str(path)!r} must end in .html or .md (the format is "
                         "chosen by the extension)")
    if path.is_dir():
        raise InputError(f"output {str(path)!r} is a directory; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"output directory {str(parent)!r} is not writable")
    return path, kind


def write_report(report: SizingReport, path, *, embed_images: bool = False) -> list[Path]:
    """Write the report to ``path`` (.html, or .md/.markdown), atomically.  Returns the paths
    written: the report, and for Markdown without ``embed_images`` the PNG files in
    ``<stem>_files/`` beside it."""
    path, kind = check_output_path(path)
    try:
        if kind == "html":
            atomic_write(path, render_html(report).encode("utf-8"))
            return [path]
        if embed_images:
            atomic_write(path, render_markdown(report).encode("utf-8"))
            return [path]
        folder = path.with_name(f"{path.stem}_files")
        files = {f"{figure.name}.png": figure.png for figure in report.figures}
        _replace_directory(folder, files)
        links = {figure.name: f"{folder.name}/{figure.name}.png" for figure in report.figures}
        atomic_write(path, render_markdown(report, links).encode("utf-8"))
        return [path] + [folder / name for name in files]
    except OSError as error:
        raise InputError(f"cannot write {str(path)!r}: {error.strerror or error}") from None

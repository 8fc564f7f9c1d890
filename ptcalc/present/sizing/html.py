"""The sizing report as one standalone HTML document (plots as base64 data URIs)."""

from __future__ import annotations

import html

from ptcalc.inputs.scenario import MAX_PROCS
from ptcalc.present.sizing.report import (
    LINK,
    REFERENCES,
    SizingReport,
    data_uri,
    link_target,
    table_cells,
)


def _linkify_html(text: str) -> str:
    out, last = [], 0
    for match in LINK.finditer(text):
        out.append(html.escape(text[last:match.start()]))
        out.append(f'<a href="{html.escape(link_target(match))}">'
                   f"{html.escape(match.group(0))}</a>")
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 2em auto; max-width: 1100px; padding: 0 1.5em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom:
     1px solid #ddd; padding-bottom: 0.2em; }
.lead { color: #444; font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; vertical-align: top;
         overflow-wrap: anywhere; }
td:first-child, th:first-child { white-space: nowrap; overflow-wrap: normal; }
th { overflow-wrap: normal; hyphens: auto; }
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
.meta { color: #666; margin-top: 0; }
.recommendation { background: #f4f8ff; border-left: 4px solid #3b6fd1; padding: 0.6em 0.9em;
                  overflow-wrap: anywhere; }
.formula img.eq { max-width: 100%; height: auto; } .formula p { margin: 0.3em 0; }
ul.legend { font-size: 0.9em; color: #333; }
h3 { font-size: 1.05em; margin: 1.2em 0 0.2em; } p.note { color: #555; font-size: 0.9em; }
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


def _inline_html(text: str) -> str:
    """Text with `code` spans as <code> and links as <a>, everything else escaped."""
    pieces = text.split("`")
    if len(pieces) % 2 == 0:              # an unpaired backtick: no code spans
        return _linkify_html(text)
    return "".join(f"<code>{html.escape(piece)}</code>" if i % 2 else _linkify_html(piece)
                   for i, piece in enumerate(pieces))


def _section_html(section) -> str:
    parts = [f"<h2>{html.escape(section.title)}</h2>"]
    if section.intro:
        parts.append(f"<p>{_inline_html(section.intro)}</p>")
    for table in section.tables:
        parts.append(f"<h3>{html.escape(table.title)}</h3>")
        parts.append(_html_table(table.headers, table.rows))
        parts += [f'<p class="note">{_inline_html(note)}</p>' for note in table.notes]
    parts += [f"<p>{_inline_html(note)}</p>" for note in section.notes]
    return "\n".join(parts)


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
        (f'<p class="meta">Generated {html.escape(report.generated)} with ptcalc '
         f"{html.escape(__version__)}.</p>"),
        *([(f'<h2>Recommendation</h2><p class="recommendation" id="recommendation">'
            f"{_linkify_html(report.recommendation)}</p>")] if report.recommendation else []),
        f'<p class="lead">{html.escape(report.description)}</p>',
        *([f"<p>{html.escape(report.scenario_text)}</p>"] if report.scenario_text else []),
        "<h2>Findings</h2>", '<ul class="findings">',
        *(f"<li>{html.escape(text)}</li>" for text in report.findings), "</ul>",
        "<h2>Inputs</h2>",
        _html_table(["input", "value", "source"], [list(item) for item in report.inputs],
                    numeric_from=99),
        "<h2>Every strategy</h2>",
        _html_table(*table_cells(frame, report.table_columns), na_rows=na_rows),
        ("<p>Page tables per process is what each process is charged (<code>VmPTE</code> in "
        "<code>/proc/PID/status</code>); page tables, all processes is what the machine spends "
        "(<code>PageTables</code> in <code>/proc/meminfo</code>; a shared table counts once). "
        "Most processes that fit in RAM: the most for which the region plus all page tables fit "
        f"in RAM (no limit: fits up to the kernel's PID limit, {MAX_PROCS:,}).</p>")
        if "max_procs" in frame else
        ("<p>Page tables of the host is what <code>PageTables</code> in "
         "<code>/proc/meminfo</code> shows: a shared table counts once, the processes' own "
         "tables (baselines) are included.</p>"),
        "<details><summary>Per paging level, all faults, TLB reach</summary>",
        _html_table(*table_cells(frame, report.level_columns), na_rows=na_rows), "</details>",
    ]
    for figure in report.figures:
        parts.append(f"<h2>{html.escape(figure.title)}</h2>")
        parts.append(f'<figure><img src="{data_uri(figure.png)}" '
                     f'alt="{html.escape(figure.title)}">'
                     f"<figcaption>{html.escape(figure.caption)}</figcaption></figure>")
    if report.huge_pages:
        parts.append("<h2>Huge pages to reserve</h2><ul>")
        parts.extend(f"<li>{html.escape(text)}</li>" for text in report.huge_pages)
        parts.append("</ul>")
    for section in report.sections:
        parts.append(_section_html(section))
    parts.append("<h2>Check it on the live host</h2><p>Physical page-table memory: "
                 "<code>grep PageTables /proc/meminfo</code>; one process's share: "
                 "<code>grep VmPTE /proc/PID/status</code>; huge pages: "
                 "<code>grep Huge /proc/meminfo</code>.</p>")
    if report.notes:
        parts.append("<h2>Notes</h2><ul>")
        parts.extend(f"<li>{_inline_html(text)}</li>" for text in report.notes)
        parts.append("</ul>")
    if report.formula_forms or report.formulas:
        parts.append("<h2>Formulas</h2><p>Exact closed forms used for the numbers above "
                     "(<code>ptcalc formula STRATEGY METRIC</code> prints any of them).</p>")
    if report.formula_forms:
        from ptcalc.present.formula import render_html as formula_html

        for i, (heading, form) in enumerate(report.formula_forms):
            parts.append(f"<details{' open' if i == 0 else ''}><summary>"
                         f"{html.escape(heading)}</summary>{formula_html(form)}</details>")
    else:
        for i, (heading, text) in enumerate(report.formulas):
            parts.append(f"<details{' open' if i == 0 else ''}><summary>"
                         f"{html.escape(heading)}</summary>"
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

"""The sizing report as Markdown (plots as links to PNG files, or embedded as data URIs)."""

from __future__ import annotations

from ptcalc.inputs.scenario import MAX_PROCS
from ptcalc.present.sizing.report import (
    LINK,
    REFERENCES,
    SizingReport,
    data_uri,
    link_target,
    table_cells,
)


def code_span(text: str) -> str:
    """`text` as one CommonMark code span, whatever it holds: the fence is one backtick
    longer than the longest run inside (a backtick cannot end it early, so nothing after it
    renders as HTML), line breaks and other control characters are shown escaped (a blank
    line would end the paragraph and the span with it)."""
    import re

    text = re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group(0))[1:-1], text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_text(text: str) -> str:
    """Text for a Markdown paragraph or cell: a `<` or `&` outside `code` spans is written as
    an entity, so what a preset or layout file says (its description, sources, names) shows
    as written and never renders as HTML (`<img onerror=...>` in a CommonMark viewer)."""
    pieces = str(text).split("`")
    if len(pieces) % 2 == 0:               # an unpaired backtick starts no code span
        pieces = [str(text)]
    return "`".join(piece if i % 2 else piece.replace("&", "&amp;").replace("<", "&lt;")
                    for i, piece in enumerate(pieces))


def _linkify_markdown(text: str) -> str:
    def replace(match):
        return f"[{match.group(0)}]({link_target(match)})"

    return LINK.sub(replace, md_text(text))


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
    out = [f"# {md_text(report.title)}", ""]
    if report.generated:
        out += [f"Generated {report.generated} with ptcalc {__version__}.", ""]
    if report.recommendation:
        out += ["## Recommendation", "", _linkify_markdown(report.recommendation), ""]
    out += [md_text(report.description), ""] + (
        [md_text(report.scenario_text), ""] if report.scenario_text else []) + ["## Findings", ""]
    out += [f"- {md_text(text)}" for text in report.findings]
    out += ["", "## Inputs", "",
            _md_table(["input", "value", "source"], [list(item) for item in report.inputs]),
            "", "## Every strategy", "", _md_table(*table_cells(frame, report.table_columns)),
            "",
            ("Page tables per process is what each process is charged (`VmPTE` in "
             "`/proc/PID/status`); page tables, all processes is what the machine spends "
             "(`PageTables` in `/proc/meminfo`; a shared table counts once). Most processes "
             "that fit in RAM: the most for which the region plus all page tables fit in RAM "
             "(no limit: fits up to the kernel's PID limit, "
             f"{MAX_PROCS:,}).") if "max_procs" in frame else
            ("Page tables of the host is what `PageTables` in `/proc/meminfo` shows: a shared "
             "table counts once, the processes' own tables (baselines) are included."),
            "", "Per paging level, all faults, TLB reach:",
            "", _md_table(*table_cells(frame, report.level_columns)), ""]
    for figure in report.figures:
        target = (image_links or {}).get(figure.name) or data_uri(figure.png)
        out += [f"## {figure.title}", "", f"![{figure.title}]({target})", "",
                f"*{md_text(figure.caption)}*", ""]
    if report.huge_pages:
        out += ["## Huge pages to reserve", ""] + [f"- {md_text(t)}" for t in report.huge_pages]
        out += [""]
    for section in report.sections:
        out += [f"## {md_text(section.title)}", ""]
        out += [md_text(section.intro), ""] if section.intro else []
        for table in section.tables:
            out += [f"### {md_text(table.title)}", "", _md_table(table.headers, table.rows), ""]
            out += [note for text in table.notes for note in (md_text(text), "")]
        out += [note for text in section.notes for note in (md_text(text), "")]
    out += ["## Check it on the live host", "",
            ("Physical page-table memory: `grep PageTables /proc/meminfo`; one process's "
            "share: `grep VmPTE /proc/PID/status`; huge pages: `grep Huge /proc/meminfo`."), ""]
    if report.notes:
        out += ["## Notes", ""] + [f"- {_linkify_markdown(t)}" for t in report.notes] + [""]
    if report.formulas:
        out += ["## Formulas", "", ("Exact closed forms used for the numbers above "
                "(`ptcalc formula STRATEGY METRIC` prints any of them)."), ""]
    for heading, text in report.formulas:
        out += [f"### {md_text(heading)}", "", "```text", text, "```", ""]
    out += ["## Strategies and sources", "",
            _md_table(["strategy", "status", "shares", "source"],
                      [list(item) for item in report.strategies]), "", "## References", ""]
    out += [f"- {label}: {_linkify_markdown(ref)}" for label, ref in REFERENCES]
    command = f" by {code_span(report.command)}" if report.command else ""
    out += ["", f"Generated{command} with ptcalc {__version__}.", ""]
    return "\n".join(out)

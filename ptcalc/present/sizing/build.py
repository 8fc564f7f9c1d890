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

``ptcalc.present.sizing.report`` holds the report's data classes and tables,
``ptcalc.present.sizing.html`` and ``ptcalc.present.sizing.markdown`` render it, and
``ptcalc.present.files`` writes it.
"""

from __future__ import annotations

from pathlib import Path

from ptcalc import catalog
from ptcalc.errors import InputError
from ptcalc.present.files import atomic_write, check_output_path, replace_file_and_folder
from ptcalc.present.sizing.html import render_html
from ptcalc.present.sizing.markdown import render_markdown
from ptcalc.present.sizing.report import (
    HTML_SUFFIXES,
    MARKDOWN_SUFFIXES,
    MERGED,
    ReportFigure,
    SizingReport,
    has_value,
)

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
    from ptcalc.inputs.presets import choose

    chosen = choose(preset, overrides, required=("size", "procs", "ram"), as_text=True)
    return chosen.preset, chosen.values, chosen.sources


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
                     "Page-table bytes the machine spends (PageTables) against the number of "
                     "processes, one line per strategy (strategies whose lines coincide share "
                     "one; lines that nearly coincide are drawn thinner on top, markers "
                     "staggered). Log scale: the strategies differ by orders of magnitude. The "
                     "dashed red line is RAM minus the region; an X marks where the region "
                     "plus page tables no longer fit (OOM).",
                     plot.png_bytes(plot.page_tables_vs_procs(
                         scenario.size_bytes, ram_bytes, scenario.procs,
                         offset=scenario.offset_bytes, touched=float(scenario.touched),
                         access=scenario.access, pattern=scenario.pattern))),
        ReportFigure("savings", "Page-table memory per strategy",
                     f"Page-table bytes of all {scenario.procs:,} processes per strategy on a "
                     "linear scale (a bar twice as long is twice the memory), with the saving "
                     "against private 4 KiB page tables and how many times less that is.",
                     plot.png_bytes(plot.savings(frame))),
        ReportFigure("faults", "Page faults per strategy",
                     "Minor faults to map the touched part of the region: the first process, "
                     "each later process, and all processes together; log scale, because the "
                     "counts differ by orders of magnitude (every bar is labelled with its "
                     "exact count).",
                     plot.png_bytes(plot.faults(frame))),
        ReportFigure("tlb", "TLB coverage against working-set size",
                     f"Share of a process's working set the TLB of {chosen_cpu.title} maps at "
                     "once, by leaf page size (log scales); the dotted line is this "
                     "scenario's working set.",
                     plot.png_bytes(plot.tlb_coverage(chosen_cpu.name,
                                                      int(frame["touched_bytes"].iloc[0]),
                                                      paging=scenario.paging))),
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

    from ptcalc.present import narrative
    from ptcalc.present.formula import formula_form, render_text

    database = _database(loaded)
    advice = narrative.recommend(frame, scenario.size_bytes, scenario.procs, ram_bytes,
                                 database=database)
    formulas, forms = [], []
    for name in frame.loc[frame["applicable"].astype(bool), "strategy"]:
        metrics = ["pt_bytes_total"]
        if name in (advice.strategy, "private-4k"):
            metrics.append("faults_next")
        for metric in metrics:
            try:
                form = formula_form(name, metric, paging=scenario.paging,
                                    pattern=scenario.pattern)
            except InputError:
                continue
            heading = f"{name}: {metric}"
            formulas.append((heading, render_text(form, heading)))
            forms.append((heading, form))
    strategies = []
    for info in catalog.STRATEGIES:
        strategies.append((info.name, info.upstream.summary(), info.shared, info.source))

    from ptcalc.present.sizing.costs import operations_section

    sections = [section for section in (operations_section(scenario),) if section]
    import datetime

    region = narrative.REGION_NAMES.get(database or "", "shared region")
    title = narrative.scenario_title(scenario.size_bytes, scenario.procs, ram_bytes, region)
    generated = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return SizingReport(
        title=title, description=loaded.description if loaded else scenario_text,
        scenario_text=scenario_text, inputs=inputs, results=frame, findings=findings,
        figures=figures, huge_pages=huge_pages, formulas=formulas, strategies=strategies,
        notes=notes, command=command, recommendation=advice.text, generated=generated,
        formula_forms=forms, sections=sections)


def _database(loaded) -> str | None:
    """oracle / postgresql from a preset's name, for the settings and the region's name."""
    name = (loaded.name if loaded else "").lower()
    if "oracle" in name or "sga" in name:
        return "oracle"
    if "postgres" in name:
        return "postgresql"
    return None


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
                 if has_value(base.oom_procs) else ".")
        out.append(text)
    fitting = [row for row in rows.values() if row.applicable
               and scenario.size_bytes + int(row.pt_bytes_total) <= ram_bytes]
    if fitting:
        fitting.sort(key=lambda row: int(row.pt_bytes_total))
        from ptcalc.present.narrative import status_text

        best = ", ".join(
            f"{row.strategy} ({short_size(row.pt_bytes_total)}"
            + ("" if catalog.strategy(row.strategy).upstream.in_mainline
               else f"; a proposal: {status_text(row.strategy)}") + ")"
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
        from ptcalc.present.narrative import status_text

        fewest = "; ".join(
            f"{count:,} with {name}" + ("" if catalog.strategy(name).upstream.in_mainline
                                        else f" (a proposal: {status_text(name)})")
            for count, name in late[-3:][::-1])
        out.append(f"A process that starts after the region is populated takes "
                   f"{int(base.faults_next):,} page faults with private-4k; the fewest: "
                   f"{fewest}.")
    if "tlb_coverage" in frame and base is not None and base.applicable:
        parts = []
        for name in ("private-4k", "hugetlb-2m", "hugetlb-1g"):
            row = rows.get(name)
            if row is not None and row.applicable and has_value(row.tlb_coverage):
                parts.append(f"{_pct(row.tlb_coverage)} with {format_size(row.leaf_page_bytes)}"
                             " pages")
        if parts:
            out.append(f"The TLB of {cpu.title} maps at once this much of the "
                       f"{format_size(int(base.touched_bytes))} working set: "
                       + ", ".join(parts) + ".")
    return out


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
        if not row.applicable or not has_value(row.huge_pages):
            continue
        count, page = int(row.huge_pages), int(row.leaf_page_bytes)
        users = [r.strategy for r in frame.itertuples() if r.applicable
                 and has_value(r.huge_pages) and int(r.leaf_page_bytes) == page]
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



def check_report_path(path) -> tuple[Path, str]:
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
    return check_output_path(path), kind


def write_report(report: SizingReport, path, *, embed_images: bool = False) -> list[Path]:
    """Write the report to ``path`` (.html, or .md/.markdown), atomically.  Returns the paths
    written: the report, and for Markdown without ``embed_images`` the PNG files in
    ``<stem>_files/`` beside it, replaced with the file as one unit (a folder holding files
    ptcalc did not write is refused: InputError).  A failed write raises OSError naming the
    file."""
    path, kind = check_report_path(path)
    if kind == "html":
        atomic_write(path, render_html(report).encode("utf-8"))
        return [path]
    if embed_images:
        atomic_write(path, render_markdown(report).encode("utf-8"))
        return [path]
    folder = path.with_name(f"{path.stem}_files")
    files = {f"{figure.name}.png": figure.png for figure in report.figures}
    links = {figure.name: f"{folder.name}/{figure.name}.png" for figure in report.figures}
    replace_file_and_folder(path, render_markdown(report, links).encode("utf-8"), folder, files)
    return [path] + [folder / name for name in files]

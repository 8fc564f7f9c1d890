"""Text forms of an InspectResult: table, markdown, json, csv.

table/markdown: (1) processes: VmPTE, predicted, difference, (2) shared objects: size,
processes, touched, what their tables cost now (the DEFAULT_OBJECTS largest, one line counts
the rest), (3) what-if: page-table bytes per strategy for the largest objects and summed
over all, (4) the summed what-if with faults and savings (with detail=True, also per listed
object).  json: InspectResult.to_dict().  csv: two blocks
separated by a blank line, processes then what-if rows in long form (one per object and
strategy, identity "TOTAL" for the sum).  Warnings are not part of the output: print
result.warnings on stderr.
"""

from __future__ import annotations

FORMATS = ("table", "json", "markdown", "csv")

_PROCESS_COLUMNS = ("pid", "name", "vmpte_bytes", "predicted_pt_bytes", "diff_bytes", "diff_pct",
                    "pte_tables", "pmd_tables", "pud_tables", "presence", "notes")
_WHAT_IF_COLUMNS = ("strategy", "applicable", "placement", "pt_bytes_total", "pt_bytes_per_process",
                    "faults_first", "faults_next", "faults_total", "savings_vs_current_bytes",
                    "reason")


def _size(value, units: str) -> str:
    from ptcalc.units import format_size

    return format_size(value, units)


def _count(value) -> str:
    return "-" if value is None else f"{value:,}"


def _process_rows(result, units):
    rows = []
    for proc in result.processes:
        d = proc.to_dict(shared=False)
        rows.append([d["pid"] if d["pid"] is not None else d["source"], d["name"],
                     _size(d["vmpte_bytes"], units), _size(d["predicted_pt_bytes"], units),
                     "-" if d["diff_bytes"] is None else _size(d["diff_bytes"], units),
                     "-" if d["diff_pct"] is None else f"{d['diff_pct']:+.2f}%",
                     f"{d['pte_tables']}/{d['pmd_tables']}/{d['pud_tables']}",
                     d["presence"], "; ".join(d["notes"])])
    return rows


def _short(text, width: int = 48) -> str:
    text = text or ""
    return text if len(text) <= width else text[:width - 1] + "\u2026"


def _group_rows(groups, units):
    """The shared-objects table: the values of SharedGroup.to_dict(), without its what-if."""
    rows = []
    for group in groups:
        mapped = sum(u.mapped_bytes for u in group.uses)
        virtual = sum(u.size_bytes for u in group.uses)
        touched = round(mapped / virtual, 6) if virtual else 0.0
        slots = [round(float(p.touched_slots), 6) for p in group.placements]
        rows.append([group.identity, group.kind, _short(group.path, 40),
                     _size(group.size_bytes, units), group.procs, f"{100 * touched:.1f}%",
                     f"{100 * max(slots):.1f}%" if slots else "-",
                     _size(group.current_pt_bytes, units),
                     _size(group.current_physical_pt_bytes, units), len(group.placements)])
    return rows


def _more_objects(hidden, units) -> str:
    """The line under a shortened shared-objects table."""
    now = sum(g.current_physical_pt_bytes for g in hidden)
    return (f"... and {len(hidden):,} more shared object(s), page tables now "
            f"{_size(now, units)} (physical); --objects N lists N, --objects 0 all")


def _what_if_rows(rows, units, width: int = 60):
    out = []
    for row in rows:
        saving = row.get("savings_vs_current_bytes")
        out.append([row.get("strategy"), "yes" if row.get("applicable") else "no",
                    row.get("placement") or "",
                    _size(row.get("pt_bytes_total"), units),
                    _size(row.get("pt_bytes_per_process"), units),
                    _count(row.get("faults_first")), _count(row.get("faults_next")),
                    _count(row.get("faults_total")),
                    "-" if saving is None else _size(saving, units),
                    _short(row.get("reason"), width)])
    return out


_MATRIX_GROUPS = 4
#: Shared objects listed in a table (largest first); the rest are counted in one line.
DEFAULT_OBJECTS = 20


def _matrix(result, units):
    """Strategies x the largest shared objects: pt_bytes_total, and the sum over all."""
    groups = [g for g in result.shared_groups if g.has_what_if]
    shown = sorted(groups, key=lambda g: -g.current_physical_pt_bytes)[:_MATRIX_GROUPS]
    headers = ["strategy"] + [f"{_short(g.path or g.identity, 24)} ({g.procs}p)" for g in shown]
    headers.append("all shared")
    rows = [["(now)"] + [_size(g.current_physical_pt_bytes, units) for g in shown]
            + [_size(result.what_if[0]["current_pt_bytes"], units) if result.what_if else "-"]]
    for index, total in enumerate(result.what_if):
        cells = [total["strategy"]]
        for group in shown:
            row = group.what_if[index]
            cells.append(_size(row.get("pt_bytes_total"), units) if row.get("applicable")
                         else "n/a")
        cells.append(_size(total.get("pt_bytes_total"), units) if total.get("applicable")
                     else "n/a")
        rows.append(cells)
    return headers, rows


def _tables(result, units: str, tablefmt: str, heading, detail: bool, layout=None,
            objects: int | None = DEFAULT_OBJECTS) -> str:
    def table(rows, headers):
        if layout is not None:          # e.g. ptcalc.present.fit.fitted: fit the terminal
            return layout(rows, headers, tablefmt)
        # imported only here: fitted loads it without wcwidth
        from tabulate import tabulate

        return tabulate(rows, headers=headers, tablefmt=tablefmt, disable_numparse=True)

    parts = [heading("Processes"), table(
        _process_rows(result, units),
        ["pid", "name", "VmPTE", "predicted", "diff", "diff %", "PTE/PMD/PUD tables",
         "pages from", "notes"])]
    listed = result.shared_groups
    if objects:
        listed = listed[:objects]
    if result.shared_groups:
        parts += ["", heading("Shared objects (MAP_SHARED), page tables now"), table(
            _group_rows(listed, units),
            ["identity", "kind", "path", "size", "procs", "touched", "touched slots",
             "PT now", "PT now (physical)", "placements"])]
        if len(listed) < len(result.shared_groups):
            parts.append(_more_objects(result.shared_groups[len(listed):], units))
    if result.what_if:
        headers, rows = _matrix(result, units)
        parts += ["", heading("What-if: page-table bytes (physical) per strategy"),
                  table(rows, headers)]
    what_if_headers = ["strategy", "applies", "placement", "PT total", "PT/process",
                       "faults first", "faults next", "faults total", "saving vs now", "reason"]
    if detail:
        for group in listed:
            if group.has_what_if:
                title = (f"What-if: {group.path or group.identity} ({group.identity}), "
                         f"{_size(group.size_bytes, units)} x {group.procs} procs")
                parts += ["", heading(title),
                          table(_what_if_rows(group.what_if, units, 200), what_if_headers)]
    if result.what_if:
        parts += ["", heading("What-if: all shared objects"),
                  table(_what_if_rows(result.what_if, units, 200 if detail else 60),
                        what_if_headers)]
    return "\n".join(parts)


def _csv(result) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_PROCESS_COLUMNS)
    for proc in result.processes:
        d = proc.to_dict(shared=False)
        d["notes"] = "; ".join(d["notes"])
        writer.writerow([d[c] for c in _PROCESS_COLUMNS])
    buffer.write("\n")
    extra = sorted({k for g in result.shared_groups for r in g.what_if for k in r}
                   - set(_WHAT_IF_COLUMNS))
    columns = ["identity", "path", "procs", *_WHAT_IF_COLUMNS, *extra]
    writer.writerow(columns)
    for group in result.shared_groups:
        for row in group.what_if:
            base = {"identity": group.identity, "path": group.path, "procs": group.procs}
            writer.writerow([{**base, **row}.get(c) for c in columns])
    for row in result.what_if:
        base = {"identity": "TOTAL", "path": "", "procs": ""}
        writer.writerow([{**base, **row}.get(c) for c in columns])
    return buffer.getvalue()


def render(result, fmt: str = "table", units: str = "iec", detail: bool = False,
           layout=None, objects: int | None = DEFAULT_OBJECTS) -> str:
    """Format `result` as fmt (one of FORMATS); units as ptcalc.units.format_size.

    detail: table/markdown also show the what-if of every listed shared object, reasons in
    full.  layout: lays out each table, layout(rows, headers, tablefmt) -> str (default:
    tabulate, one line per row).  objects: table/markdown list this many shared objects,
    largest first (size x processes), and count the rest in one line under the table (0 or
    None: all); the what-if sums cover every object, and json and csv always hold all.
    """
    from ptcalc.errors import InputError

    if fmt == "json":
        import json

        return json.dumps(result.to_dict(), indent=2)
    if fmt == "csv":
        return _csv(result)
    if fmt == "markdown":
        return _tables(result, units, "github", lambda title: f"### {title}\n", detail, layout,
                       objects)
    if fmt == "table":
        return _tables(result, units, "simple", lambda title: f"{title}\n{'-' * len(title)}",
                       detail, layout, objects)
    raise InputError(f"format {fmt!r} is not known; use one of {', '.join(FORMATS)}")

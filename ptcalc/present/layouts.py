"""Layout results as text: host rows per strategy and a per-group breakdown (table,
markdown, csv), or one JSON object {"layout": inputs, "host": [...], "groups": [...]}."""

from __future__ import annotations

from ptcalc.present.tables import render
from ptcalc.units import format_size

HOST_COLUMNS = (
    ("strategy", "strategy", "text"),
    ("leaf_page_bytes", "leaf", "size"),
    ("pt_bytes_total", "PT total", "size"),
    ("pte_table_bytes", "PTE", "size"),
    ("pmd_table_bytes", "PMD", "size"),
    ("pud_table_bytes", "PUD", "size"),
    ("p4d_table_bytes", "P4D", "size"),
    ("baseline_pt_bytes", "baselines", "size"),
    ("savings_vs_private_4k", "saved", "percent"),
    ("huge_pages", "huge pages", "count"),
    ("faults_total", "faults total", "count"),
    ("data_bytes", "data", "size"),
    ("memory_bytes", "data + PT", "size"),
    ("fits", "fits RAM", "text"),
)
GROUP_COLUMNS = (
    ("strategy", "strategy", "text"),
    ("group", "group", "text"),
    ("procs", "procs", "count"),
    ("pt_bytes_per_process", "VmPTE", "size"),
    ("pt_bytes_group", "PT group", "size"),
    ("pt_bytes_at_fork", "PT at fork", "size"),
    ("faults_first", "faults 1st", "count"),
    ("faults_next", "faults next", "count"),
    ("faults_total", "faults total", "count"),
    ("cow_faults_per_process", "COW faults", "count"),
    ("written_bytes_per_process", "new RAM/proc", "size"),
)
PLAN_COLUMNS = (
    ("strategy", "strategy", "text"),
    ("group", "group", "text"),
    ("max_procs", "max procs", "maxprocs"),
    ("pt_bytes_at_max", "PT at max", "size"),
    ("memory_at_max", "data + PT at max", "size"),
    ("huge_pages", "huge pages", "count"),
    ("reserve", "to reserve", "text"),
)


def layout_echo(layout) -> dict:
    """The layout's inputs as exact values (bytes as ints, fractions as text)."""
    return {
        "name": layout.name, "ram_bytes": layout.ram_bytes, "paging": layout.paging,
        "fault_around_bytes": layout.fault_around_bytes,
        "regions": [{"name": r.name, "size_bytes": r.size_bytes, "kind": r.kind,
                     "address_bytes": r.address_bytes, "file_offset_bytes": r.file_offset_bytes}
                    for r in layout.regions],
        "groups": [{"name": g.name, "procs": g.procs, "baseline_pt_bytes": g.baseline_pt_bytes,
                    "forked_from": g.forked_from,
                    "maps": [{"region": m.region, "address_bytes": m.address_bytes,
                              "touched": str(m.touched), "touched_bytes": m.touched_bytes,
                              "access": m.access, "pattern": m.pattern, "pages": m.pages}
                             for m in g.maps]} for g in layout.groups],
        "sources": dict(layout.sources),
    }


def title(layout, units="iec") -> str:
    regions = ", ".join(f"{r.name} {format_size(r.size_bytes, units)} {r.kind}"
                        for r in layout.regions)
    groups = ", ".join(f"{g.name} x{g.procs:,}" + (f" (forked from {g.forked_from})"
                                                     if g.forked_from else "")
                       for g in layout.groups)
    text = (f"layout {layout.name or '(unnamed)'}: regions {regions}; groups {groups}; "
            f"{layout.paging}-level paging")
    if layout.ram_bytes:
        text += f", {format_size(layout.ram_bytes, units)} RAM"
    return text


def render_layout(layout, result: dict, fmt: str, units: str = "iec") -> str:
    if fmt == "json":
        import json

        from ptcalc.present.tables import _clean, _json_default

        body = {"layout": layout_echo(layout),
                "host": [{k: _clean(v) for k, v in r.items()} for r in result["host"]],
                "groups": [{k: _clean(v) for k, v in r.items()} for r in result["groups"]]}
        return json.dumps(body, indent=2, default=_json_default)
    if fmt == "csv":
        return (render(result["host"], "csv", some_columns=True) + "\n\n"
                + render(result["groups"], "csv", some_columns=True))
    host = [{**r, "fits": None if r.get("fits_ram") is None else
             ("yes" if r["fits_ram"] else "NO")} for r in result["host"]]
    notes = []
    if layout.ram_bytes:
        over = [r["strategy"] for r in result["host"] if r.get("fits_ram") is False]
        notes.append(f"data + page tables exceed {format_size(layout.ram_bytes, units)} RAM "
                     f"for: {', '.join(over)}" if over else
                     f"data + page tables fit in {format_size(layout.ram_bytes, units)} RAM "
                     "for every strategy shown")
    if any(r.kind == "private" for r in layout.regions):
        notes.append("private regions (MAP_PRIVATE anonymous memory) use 4 KiB pages under "
                     "every strategy: the strategies change how shared memory is mapped")
    notes += sorted({f"{r['strategy']}: not applicable: {r['reason']}"
                     for r in result["host"] if not r["applicable"]})
    top = render(host, fmt, units, HOST_COLUMNS, title=title(layout, units), notes=notes,
                 some_columns=True)
    groups = render(result["groups"], fmt, units, GROUP_COLUMNS,
                    title="per group (VmPTE of one process; faults 1st: its first process, "
                          "after the groups above)", some_columns=True)
    return top + "\n\n" + groups


def render_plan(layout, rows, fmt: str, units: str = "iec") -> str:
    if fmt == "json":
        import json

        return json.dumps({"layout": layout_echo(layout), "plan": rows}, indent=2)
    notes = [f"{r['strategy']}: not even one process of {r['group']} fits: data + page tables "
             f"with one are {format_size(r['memory_with_one'], units)}, more than the "
             f"{format_size(r['ram_bytes'], units)} of RAM" for r in rows
             if r.get("memory_with_one") is not None]
    notes += sorted({f"{r['strategy']}: not applicable: {r['reason']}" for r in rows
                     if not r["applicable"]})
    return render(rows, fmt, units, PLAN_COLUMNS, title=title(layout, units) +
                  f"; the most processes of group {rows[0]['group']} that fit, others held"
                  if rows else title(layout, units), notes=notes)


def render_layout_sweep(layout, result: dict, fmt: str, units: str = "iec") -> str:
    """A layout sweep (ptcalc.compute.host_sweep): JSON {"layout", "host", "groups"}, CSV of
    the host rows then the group rows, or the two tables led by the varied value."""
    rows = result["host"]
    by_group = bool(rows) and "vary_group" in rows[0]
    if fmt in ("json", "csv"):
        return render_layout(layout, result, fmt, units)
    lead = (("group_procs", f"{rows[0]['vary_group']} procs", "count"),) if by_group else \
        (("region_size_bytes", f"{rows[0]['vary_region']} size", "size"),) if rows else ()
    host = [{**r, "fits": None if r.get("fits_ram") is None else
             ("yes" if r["fits_ram"] else "NO")} for r in rows]
    values = len({r[lead[0][0]] for r in rows}) if lead else 0
    what = (f"the processes of group {rows[0]['vary_group']}" if by_group else
            f"the size of region {rows[0]['vary_region']}") if rows else "nothing"
    notes = sorted({f"{r['strategy']}: not applicable: {r['reason']}"
                    for r in rows if not r["applicable"]})
    top = render(host, fmt, units, lead + HOST_COLUMNS,
                 title=f"{title(layout, units)}; {values:,} values of {what}", notes=notes,
                 some_columns=True)
    groups = [r for r in result["groups"] if not by_group or r["group"] == r["vary_group"]]
    bottom = render(groups, fmt, units, lead + GROUP_COLUMNS,
                    title="per group (VmPTE of one process; faults 1st: its first process, "
                          "after the groups above)" + (f": {rows[0]['vary_group']}"
                                                       if by_group else ""),
                    some_columns=True)
    return top + "\n\n" + bottom

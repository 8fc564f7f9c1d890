"""From inspected processes to a layout file (`ptcalc inspect ... --save-layout FILE`).

Regions are the shared objects the processes map (one per device:inode); each process maps
them at the addresses it really uses, touching the fraction of pages it really has mapped
(as a dense prefix: the fewest tables for that many pages).  What the layout cannot express
(the scattered pages, text, libraries, heap, stack) is each process's measured baseline:
VmPTE minus what the layout's own tables come to under the strategy the host really uses
(hugetlb-2m-pmdshare or hugetlb-1g where the shared memory is hugetlb, else private-4k), so
`ptcalc compare --layout FILE` reproduces each VmPTE and shows the what-if of every strategy.
Processes with the same maps, fractions and baseline form one group.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ptcalc.inspect.tables import page_count
from ptcalc.paging import HUGE_1G_BYTES, HUGE_2M_BYTES, PAGE_BYTES, TABLE_BYTES


def live_strategy(result) -> str:
    sizes = {u.page_bytes for p in result.processes for u in p.uses if u.pieces}
    if sizes == {HUGE_2M_BYTES}:
        return "hugetlb-2m-pmdshare"
    if sizes == {HUGE_1G_BYTES}:
        return "hugetlb-1g"
    return "private-4k"


def _region_names(groups) -> dict:
    names, used = {}, set()
    for group in groups:
        base = re.sub(r"[^a-z0-9]+", "-", f"{group.kind} {group.path}".lower()).strip("-")
        name = base[:40] or "shm"
        index = 2
        while name in used:
            name, index = f"{base[:36]}-{index}", index + 1
        used.add(name)
        names[group.identity] = name
    return names


def layout_document(result, name: str = "inspected") -> dict:
    """The layout (TOML shape) of an InspectResult; baselines need each process's VmPTE."""
    from ptcalc.compute.host import evaluate_layout
    from ptcalc.inputs.layout import parse_layout

    groups = [g for g in result.shared_groups if any(u.pieces for u in g.uses)]
    names = _region_names(groups)
    regions = []
    for group in groups:
        first = min(group.uses, key=lambda u: u.start)
        regions.append({"name": names[group.identity], "size": group.size_bytes,
                        "kind": "shared", "address": hex(first.start),
                        "file_offset": first.file_offset})
    sizes = {r["name"]: r["size"] for r in regions}
    strategy = live_strategy(result)
    per_process = []
    for process in result.processes:
        if process.layout.vmpte_bytes is None:
            continue
        maps = []
        for use in process.uses:
            region = names.get(use.identity)
            pages = page_count(use.pieces)
            if region is None or not pages:
                continue              # no page mapped: no tables for it
            touched = min(Fraction(pages * PAGE_BYTES, sizes[region]), Fraction(1))
            maps.append({"region": region, "address": hex(use.start),
                         "touched": str(touched), "access": "write"})
        label = re.sub(r"[^a-z0-9]+", "-", process.layout.name.lower()).strip("-") or "proc"
        doc = {"regions": regions or [{"name": "none", "size": PAGE_BYTES}],
               "groups": [{"name": "p", "maps": maps}]}
        own = 0
        if maps:
            rows = evaluate_layout(parse_layout(doc, "inspected layout"), (strategy,))
            own = rows["groups"][0]["pt_bytes_per_process"] or 0
        baseline = max(0, process.layout.vmpte_bytes - own) // TABLE_BYTES * TABLE_BYTES
        per_process.append((label, maps, baseline, process.layout.pid))
    merged: dict = {}
    for label, maps, baseline, pid in per_process:
        key = (label, repr(maps), baseline)
        entry = merged.setdefault(key, {"name": label, "procs": 0, "baseline_pt": baseline,
                                        "maps": maps, "pids": []})
        entry["procs"] += 1
        entry["pids"].append(pid)
    out_groups, seen = [], set()
    for entry in merged.values():
        name_ = entry["name"]
        index = 2
        while name_ in seen:
            name_, index = f"{entry['name']}-{index}", index + 1
        seen.add(name_)
        out_groups.append({**entry, "name": name_})
    return {"name": name, "strategy": strategy, "regions": regions, "groups": out_groups}


def _value(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def to_toml(doc: dict) -> str:
    """The layout file text (the loader's keys only; pids and the live strategy as comments)."""
    lines = [f"# Layout inferred by ptcalc inspect; baselines measured under {doc['strategy']}.",
             f"name = {_value(doc['name'])}",
             f"description = {_value('inspected processes: shared objects and baselines')}",
             ""]
    for region in doc["regions"]:
        lines.append("[[regions]]")
        lines += [f"{key} = {_value(value)}" for key, value in region.items()]
        lines.append("")
    for group in doc["groups"]:
        lines.append(f"# pids {', '.join(str(p) for p in group['pids'])}")
        lines.append("[[groups]]")
        for key in ("name", "procs", "baseline_pt"):
            lines.append(f"{key} = {_value(group[key])}")
        maps = ", ".join("{ " + ", ".join(f"{k} = {_value(v)}" for k, v in m.items()) + " }"
                         for m in group["maps"])
        lines.append(f"maps = [{maps}]")
        lines.append("")
    return "\n".join(lines)


def layout_text(result, name: str = "inspected") -> tuple[str, dict]:
    """(file text, document) of the layout; InputError when no shared object has pages."""
    from ptcalc.errors import InputError

    doc = layout_document(result, name)
    if not doc["regions"]:
        raise InputError("--save-layout: the inspected processes map no shared memory with "
                         "pages; nothing to save as a layout")
    return to_toml(doc), doc

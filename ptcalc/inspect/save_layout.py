"""From inspected processes to a layout file (`ptcalc inspect ... --save-layout FILE`).

Regions are the shared objects the processes map (one per device:inode); each process maps
them at the addresses it really uses, touching the fraction of pages it really has mapped
(as a dense prefix: the fewest tables for that many pages).  What the layout cannot express
(text, libraries, heap, stack, and the extra tables of pages scattered rather than a prefix)
is each process's baseline, measured from its pages, not from VmPTE: the tables of every page
the process really maps (pagemap, as `inspect` counts them, ptcalc.inspect.tables) minus the
tables of its maps' prefixes, counted the same way.  So `ptcalc compare --layout FILE` under
the strategy the host really uses (hugetlb-2m-pmdshare or hugetlb-1g where the shared memory
is hugetlb, else private-4k) gives each process's VmPTE when the model's tables of the maps
equal inspect's count of the same pages and inspect's count equals VmPTE: two checks the
round trip makes (tests/kernel/test_save_layout_postgres.py).  Processes with the same maps,
fractions and baseline form one group.  Shared objects of another page size than most of the
shared memory (a 4 KiB file beside a hugetlb segment) are left to the baselines.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ptcalc.inspect.tables import Piece, count_tables, page_count
from ptcalc.paging import HUGE_1G_BYTES, HUGE_2M_BYTES, PAGE_BYTES, TABLE_BYTES

LIVE_STRATEGY = {PAGE_BYTES: "private-4k", HUGE_2M_BYTES: "hugetlb-2m-pmdshare",
                 HUGE_1G_BYTES: "hugetlb-1g"}


def live_page_bytes(result) -> int:
    """The page size of most of the shared memory mapped (bytes of pages, over all uses):
    a strategy maps every shared region of a layout alike, so the objects of another page
    size (a small file a hugetlb database also maps) go into the baselines."""
    mapped: dict = {}
    for process in result.processes:
        for use in process.uses:
            if use.pieces and use.page_bytes in LIVE_STRATEGY:
                mapped[use.page_bytes] = mapped.get(use.page_bytes, 0) + use.mapped_bytes
    return max(mapped, key=lambda page: (mapped[page], page)) if mapped else PAGE_BYTES


def live_strategy(result) -> str:
    return LIVE_STRATEGY[live_page_bytes(result)]


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


def _prefix_pieces(use, prefix_bytes: int) -> list[Piece]:
    """The pages a map of the layout stands for: a prefix of the use, mapped as the model
    maps it under the live strategy (base pages, or the mapping's hugetlb pages)."""
    if prefix_bytes <= 0:
        return []
    mapping = use.pieces[0].mapping
    return [Piece(use.start, use.start + prefix_bytes, False, mapping)]


def layout_document(result, name: str = "inspected") -> dict:
    """The layout (TOML shape) of an InspectResult, with baselines measured from the pages."""
    page = live_page_bytes(result)
    groups = [g for g in result.shared_groups
              if any(u.pieces for u in g.uses) and g.uses[0].page_bytes == page]
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
        maps, prefixes = [], []
        for use in process.uses:
            region = names.get(use.identity)
            pages = page_count(use.pieces)
            if region is None or not pages:
                continue              # no page mapped: no tables for it
            touched = min(Fraction(pages * PAGE_BYTES, sizes[region]), Fraction(1))
            maps.append({"region": region, "address": hex(use.start),
                         "touched": str(touched), "access": "write"})
            prefixes += _prefix_pieces(use, min(pages * PAGE_BYTES, sizes[region]))
        label = re.sub(r"[^a-z0-9]+", "-", process.layout.name.lower()).strip("-") or "proc"
        # Both counts by inspect's own rule (ptcalc.inspect.tables), none from the model.
        real = count_tables(process.prediction.pieces).bytes
        baseline = max(0, real - count_tables(prefixes).bytes) // TABLE_BYTES * TABLE_BYTES
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
    lines = [("# Layout inferred by ptcalc inspect; baselines measured from each process's "
              f"pages; the host maps its shared memory as {doc['strategy']}."),
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

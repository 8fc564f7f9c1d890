"""Host layouts: several regions mapped by groups of processes.

A layout is what a host runs: `regions` (shared memory objects, or private anonymous memory)
and `groups` of identical processes, each with its own page tables besides the regions
(`baseline_pt`), mapping some regions with their own touched fraction, access, pattern and
address, optionally created by fork() from a one-process group.  Groups start in the order
written: a later group finds the pages and shared tables the earlier ones made.

The single-region scenario is the smallest layout (`layout_from_scenario`).  Everything is
validated here and converted to exact ints once; errors name the file and the key.

Placement: a region gets an absolute `address`, or an `offset` (its address modulo 512 GiB);
regions given by offset are placed in the order written, each at the lowest address congruent
to its offset that lies above the regions placed before it.  A map may put the region at its
own `address` (or `offset`, in the same 512 GiB slot as the region's address), as processes
attaching one object at different addresses do.
"""

from __future__ import annotations

import difflib
import itertools
import tomllib
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

from ptcalc import paging
from ptcalc.errors import InputError
from ptcalc.inputs.scenario import (
    ACCESSES,
    DEFAULT_FAULT_AROUND,
    PATTERNS,
    Scenario,
    parse_choice,
    parse_fault_around,
    parse_paging,
    parse_procs,
    parse_touched,
    touched_prefix_bytes,
)
from ptcalc.units import UnitError, format_size, parse_size

KINDS = ("shared", "private")
PAGE_SETS = ("same", "independent")
TOP_KEYS = ("name", "description", "ram", "regions", "groups", "sources")
REGION_KEYS = ("name", "size", "kind", "offset", "address", "file_offset")
GROUP_KEYS = ("name", "procs", "baseline_pt", "forked_from", "maps")
MAP_KEYS = ("region", "touched", "access", "pattern", "pages", "offset", "address")


@dataclass(frozen=True)
class Region:
    name: str
    size_bytes: int              # whole 4 KiB pages
    kind: str                    # "shared" (MAP_SHARED object) or "private" (MAP_PRIVATE anon)
    address_bytes: int           # where it is mapped unless a map says otherwise
    file_offset_bytes: int = 0   # offset in the file of the region's first byte


@dataclass(frozen=True)
class RegionMap:
    region: str
    address_bytes: int
    touched: Fraction = Fraction(1)
    touched_bytes: int = 0       # dense prefix: ceil(touched * pages) whole pages
    access: str = "write"
    pattern: str = "dense"
    pages: str = "same"          # "same" pages as the other processes, or "independent"


@dataclass(frozen=True)
class Group:
    name: str
    procs: int
    maps: tuple[RegionMap, ...]
    baseline_pt_bytes: int = 0   # page tables of each process besides the regions
    forked_from: str | None = None


@dataclass(frozen=True)
class Layout:
    regions: tuple[Region, ...]
    groups: tuple[Group, ...]
    name: str = ""
    ram_bytes: int | None = None
    paging: int = 4
    fault_around_bytes: int = DEFAULT_FAULT_AROUND
    description: str = ""
    sources: tuple[tuple[str, str], ...] = ()

    def region(self, name: str) -> Region:
        for region in self.regions:
            if region.name == name:
                return region
        raise KeyError(name)

    def group(self, name: str) -> Group:
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(name)

    def with_procs(self, group: str, procs: int) -> Layout:
        """The same layout with group `group` running `procs` processes."""
        groups = tuple(replace(g, procs=procs) if g.name == group else g for g in self.groups)
        return replace(self, groups=groups)


def layout_from_scenario(scenario: Scenario, name: str = "") -> Layout:
    """The one-region, one-group layout of a scenario (a MAP_SHARED region, no baseline)."""
    region = Region("region", scenario.size_bytes, "shared", scenario.offset_bytes)
    mapping = RegionMap("region", scenario.offset_bytes, scenario.touched,
                        scenario.touched_bytes, scenario.access, scenario.pattern)
    return Layout((region,), (Group("procs", scenario.procs, (mapping,)),), name=name,
                  paging=scenario.paging, fault_around_bytes=scenario.fault_around_bytes)


def layout_data(layout: Layout) -> dict:
    """The layout as the document `parse_layout` reads (absolute addresses, exact values), so
    a sweep can change one value and have the whole layout checked again."""
    data = {
        "name": layout.name, "description": layout.description,
        "regions": [{"name": r.name, "size": r.size_bytes, "kind": r.kind,
                     "address": r.address_bytes}
                    | ({"file_offset": r.file_offset_bytes} if r.kind == "shared" else {})
                    for r in layout.regions],
        "groups": [{"name": g.name, "procs": g.procs, "baseline_pt": g.baseline_pt_bytes,
                    "maps": [{"region": m.region, "address": m.address_bytes,
                              "touched": str(m.touched), "access": m.access,
                              "pattern": m.pattern, "pages": m.pages} for m in g.maps]}
                   | ({"forked_from": g.forked_from} if g.forked_from else {})
                   for g in layout.groups],
        "sources": dict(layout.sources)}
    if layout.ram_bytes is not None:
        data["ram"] = layout.ram_bytes
    return data


# --- loading --------------------------------------------------------------------------------

def load_layout_file(path, paging_levels=4, fault_around=DEFAULT_FAULT_AROUND) -> Layout:
    """Read and validate a layout TOML file; InputError naming file and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"layout file {str(path)!r} cannot be read ({error.strerror}); give "
                         "the path of a TOML file with [[regions]] and [[groups]]") from None
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not valid TOML: {error}") from None
    return parse_layout(data, str(path), paging_levels, fault_around, default_name=path.stem)


def parse_layout(data: dict, where: str = "layout", paging_levels=4,
                 fault_around=DEFAULT_FAULT_AROUND, default_name: str = "") -> Layout:
    """Validate a layout given as a dict (the TOML document's shape)."""
    _known(data, TOP_KEYS, where, "")
    levels = parse_paging(paging_levels)
    regions_data = data.get("regions")
    groups_data = data.get("groups")
    if not isinstance(regions_data, list) or not regions_data:
        raise InputError(f"{where}: missing [[regions]] (at least one region with name and "
                         "size)")
    if not isinstance(groups_data, list) or not groups_data:
        raise InputError(f"{where}: missing [[groups]] (at least one group with name, procs "
                         "and maps)")
    regions = _place(tuple(_region(where, i, r) for i, r in enumerate(regions_data)), where,
                     levels)
    names = [r.name for r in regions]
    groups: list[Group] = []
    for index, raw in enumerate(groups_data):
        groups.append(_group(where, index, raw, {r.name: r for r in regions}, groups, levels))
    ram = None
    if "ram" in data:
        ram = _size(where, "ram", data["ram"])
    sources = data.get("sources", {})
    if not isinstance(sources, dict) or not all(isinstance(v, str) for v in sources.values()):
        raise InputError(f"{where}: key sources must be a table of strings")
    description = data.get("description", "")
    name = data.get("name", default_name)
    for key, value in (("name", name), ("description", description)):
        if not isinstance(value, str):
            raise InputError(f"{where}: key {key} must be a string")
    unused = [n for n in names if not any(m.region == n for g in groups for m in g.maps)]
    if len(unused) == len(names):
        raise InputError(f"{where}: no group maps a region; add maps = [{{ region = "
                         f"\"{names[0]}\" }}] to a group")
    return Layout(regions, tuple(groups), name=name, ram_bytes=ram, paging=levels,
                  fault_around_bytes=parse_fault_around(fault_around),
                  description=description.strip(), sources=tuple(sources.items()))


def _known(table, keys, where, prefix):
    if not isinstance(table, dict):
        raise InputError(f"{where}: {prefix.rstrip('.') or 'the layout'} must be a table")
    for key in table:
        if key not in keys:
            near = difflib.get_close_matches(key, keys, n=1, cutoff=0.5)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise InputError(f"{where}: unknown key {prefix}{key}; {hint}known: "
                             f"{', '.join(keys)}")


def _size(where, key, value, allow_zero=False) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"{where}: key {key} must be a size such as \"1GiB\" or a number of "
                         "bytes")
    if isinstance(value, str) and value.strip().lower().startswith("0x"):
        try:
            return int(value.strip(), 16)         # an address as /proc/PID/maps prints it
        except ValueError:
            raise InputError(f"{where}: key {key}: {value!r} is not a hexadecimal "
                             "address") from None
    try:
        number = parse_size(value, what=key.rsplit(".", 1)[-1])
    except UnitError as error:
        raise InputError(f"{where}: key {key}: {error}") from None
    if number < 0 or (number == 0 and not allow_zero):
        raise InputError(f"{where}: key {key} must be positive")
    return number


def _page_aligned(where, key, value) -> int:
    number = _size(where, key, value, allow_zero=True)
    if number % paging.PAGE_BYTES:
        raise InputError(f"{where}: key {key} ({format_size(number)}) is not a multiple of "
                         "4 KiB; round it to a page")
    return number


def _name(where, key, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: missing key {key} (a non-empty name)")
    return value.strip()


def _region(where, index, raw) -> tuple:
    prefix = f"regions[{index}]."
    _known(raw, REGION_KEYS, where, prefix)
    name = _name(where, prefix + "name", raw.get("name"))
    if "size" not in raw:
        raise InputError(f"{where}: missing key {prefix}size")
    size = _size(where, prefix + "size", raw["size"])
    size = -(-size // paging.PAGE_BYTES) * paging.PAGE_BYTES
    try:
        kind = parse_choice(raw.get("kind", "shared"), KINDS, f"{prefix}kind")
    except InputError as error:
        raise InputError(f"{where}: {error}") from None
    if "offset" in raw and "address" in raw:
        raise InputError(f"{where}: {prefix}offset and {prefix}address both given; keep one")
    address = _page_aligned(where, prefix + "address", raw["address"]) if "address" in raw \
        else None
    offset = _page_aligned(where, prefix + "offset", raw.get("offset", 0))
    if offset >= paging.TOP_ENTRY_SPAN:
        raise InputError(f"{where}: key {prefix}offset is not below 512 GiB; give the address "
                         "modulo 512 GiB, or an absolute address")
    file_offset = _page_aligned(where, prefix + "file_offset", raw.get("file_offset", 0))
    if kind == "private" and file_offset:
        raise InputError(f"{where}: key {prefix}file_offset: a private (anonymous) region has "
                         "no file; drop file_offset or make the region shared")
    return name, size, kind, address, offset, file_offset


def _place(raw_regions, where, levels) -> tuple[Region, ...]:
    seen = set()
    for name, *_ in raw_regions:
        if name in seen:
            raise InputError(f"{where}: region {name!r} is defined twice; give each region "
                             "its own name")
        seen.add(name)
    fixed = [(addr, addr + size, name) for name, size, _k, addr, _o, _f in raw_regions
             if addr is not None]
    placed: list[Region] = []
    above = 0
    for name, size, kind, address, offset, file_offset in raw_regions:
        if address is None:
            address = _lowest_free(above, offset, size, fixed)
            fixed.append((address, address + size, name))
        above = max(above, address + size)
        placed.append(Region(name, size, kind, address, file_offset))
    user = paging.paging_for(levels).user_space_bytes
    for region in placed:
        if region.address_bytes + region.size_bytes > user:
            raise InputError(f"{where}: region {region.name!r} does not fit the "
                             f"{format_size(user)} user address space of {levels}-level paging")
    _check_overlap(where, [(r.address_bytes, r.address_bytes + r.size_bytes, r.name)
                           for r in placed], "regions")
    return tuple(placed)


def _lowest_free(above, offset, size, taken) -> int:
    """Lowest address >= above, congruent to offset mod 512 GiB, overlapping nothing taken."""
    span = paging.TOP_ENTRY_SPAN
    address = above + (offset - above) % span
    while any(lo < address + size and address < hi for lo, hi, _ in taken):
        address += span
    return address


def _check_overlap(where, ranges, what):
    ranges = sorted(ranges)
    for (_lo1, hi1, n1), (lo2, _hi2, n2) in itertools.pairwise(ranges):
        if lo2 < hi1:
            raise InputError(f"{where}: {what} {n1!r} and {n2!r} overlap (at "
                             f"{format_size(lo2)}); give them addresses that do not overlap")


def _group(where, index, raw, regions, earlier, levels) -> Group:
    prefix = f"groups[{index}]."
    _known(raw, GROUP_KEYS, where, prefix)
    name = _name(where, prefix + "name", raw.get("name"))
    if any(g.name == name for g in earlier):
        raise InputError(f"{where}: group {name!r} is defined twice; give each group its own "
                         "name")
    try:
        procs = parse_procs(raw.get("procs", 1))
    except InputError as error:
        raise InputError(f"{where}: key {prefix}procs: {error}") from None
    baseline = _page_aligned(where, prefix + "baseline_pt", raw.get("baseline_pt", 0))
    parent = raw.get("forked_from")
    if parent is not None:
        parent = _name(where, prefix + "forked_from", parent)
        match = [g for g in earlier if g.name == parent]
        if not match:
            raise InputError(f"{where}: key {prefix}forked_from: {parent!r} is not a group "
                             "written before this one; fork needs the parent group first")
        if match[0].procs != 1:
            raise InputError(f"{where}: key {prefix}forked_from: group {parent!r} has "
                             f"{match[0].procs} processes; a parent group has exactly one")
    maps_data = raw.get("maps", [])
    if not isinstance(maps_data, list):
        raise InputError(f"{where}: key {prefix}maps must be a list of tables "
                         "[{ region = \"...\" }]")
    maps = tuple(_map(where, f"{prefix}maps[{i}].", m, regions) for i, m in
                 enumerate(maps_data))
    mapped = [m.region for m in maps]
    for region in set(mapped):
        if mapped.count(region) > 1:
            raise InputError(f"{where}: {prefix}maps lists region {region!r} twice")
    _check_overlap(where, [(m.address_bytes, m.address_bytes + regions[m.region].size_bytes,
                            m.region) for m in maps], f"the maps of group {name!r}:")
    user = paging.paging_for(levels).user_space_bytes
    for m in maps:
        if m.address_bytes + regions[m.region].size_bytes > user:
            raise InputError(f"{where}: {prefix}maps: region {m.region!r} at "
                             f"{format_size(m.address_bytes)} does not fit the user address "
                             "space")
    if parent is not None:
        parent_group = next(g for g in earlier if g.name == parent)
        for m in maps:
            inherited = next((p for p in parent_group.maps if p.region == m.region), None)
            if regions[m.region].kind == "private" and inherited is None:
                raise InputError(f"{where}: {prefix}maps: private region {m.region!r} is not "
                                 f"mapped by parent {parent!r}; a child only has the "
                                 "parent's private memory")
            if inherited is not None and inherited.address_bytes != m.address_bytes:
                raise InputError(f"{where}: {prefix}maps: a forked child maps {m.region!r} "
                                 "where its parent does; drop its address/offset")
    else:
        for m in maps:
            if regions[m.region].kind == "private" and m.pages == "independent":
                raise InputError(f"{where}: {prefix}maps: pages = \"independent\" is for "
                                 "shared regions (private memory is each process's own)")
    return Group(name, procs, maps, baseline, parent)


def _map(where, prefix, raw, regions) -> RegionMap:
    _known(raw, MAP_KEYS, where, prefix)
    name = _name(where, prefix + "region", raw.get("region"))
    if name not in regions:
        near = difflib.get_close_matches(name, list(regions), n=1, cutoff=0.4)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise InputError(f"{where}: key {prefix}region: {name!r} is not a region; {hint}"
                         f"regions: {', '.join(regions)}")
    region = regions[name]
    try:
        touched = parse_touched(raw.get("touched", 1))
        access = parse_choice(raw.get("access", "write"), ACCESSES, f"{prefix}access")
        pattern = parse_choice(raw.get("pattern", "dense"), PATTERNS, f"{prefix}pattern")
        pages = parse_choice(raw.get("pages", "same"), PAGE_SETS, f"{prefix}pages")
    except InputError as error:
        raise InputError(f"{where}: {error}") from None
    if pages == "independent" and pattern != "random":
        raise InputError(f"{where}: key {prefix}pages: independent touched sets need "
                         "pattern = \"random\" (a dense prefix is the same in every process)")
    if "offset" in raw and "address" in raw:
        raise InputError(f"{where}: {prefix}offset and {prefix}address both given; keep one")
    address = region.address_bytes
    if "address" in raw:
        address = _page_aligned(where, prefix + "address", raw["address"])
    elif "offset" in raw:
        offset = _page_aligned(where, prefix + "offset", raw["offset"])
        if offset >= paging.TOP_ENTRY_SPAN:
            raise InputError(f"{where}: key {prefix}offset is not below 512 GiB")
        address = region.address_bytes - region.address_bytes % paging.TOP_ENTRY_SPAN + offset
    return RegionMap(name, address, touched, touched_prefix_bytes(region.size_bytes, touched),
                     access, pattern, pages)

"""A sweep over a layout: one group's process count, or one region's size, through a list of
values; every other value of the layout held.  Each value gives the layout's host rows and
group rows (ptcalc.compute.host), tagged with what varied.

A changed value goes back through the layout's checks (`parse_layout` on `layout_data`), so a
region grown into its neighbour, or a parent group given two processes, is an InputError
naming the value.  The touched fractions of the maps stay fractions of the new size.
"""

from __future__ import annotations

from ptcalc.compute.host import evaluate_layout
from ptcalc.errors import InputError
from ptcalc.inputs.layout import Layout, layout_data, parse_layout
from ptcalc.model.strategies import STRATEGY_NAMES
from ptcalc.units import format_size

MAX_VALUES = 10_000          # each value is one whole-layout evaluation per strategy


def varied_layouts(layout: Layout, *, group: str | None = None, region: str | None = None,
                   values=()):
    """(value, layout) for each value: `group`'s procs or `region`'s size in bytes."""
    if (group is None) == (region is None):
        raise InputError("a layout sweep varies one thing: give --group NAME with --procs, or "
                         "--region NAME with --size")
    names = [g.name for g in layout.groups] if group else [r.name for r in layout.regions]
    name = group or region
    if name not in names:
        what = "group" if group else "region"
        raise InputError(f"{what} {name!r} is not in the layout; {what}s: {', '.join(names)}")
    values = list(values)
    if not values:
        raise InputError("the layout sweep has no values to take")
    if len(values) > MAX_VALUES:
        raise InputError(f"a layout sweep takes at most {MAX_VALUES:,} values ({len(values):,} "
                         "given); give a larger step")
    base = layout_data(layout)
    for value in values:
        data = {**base, "regions": [dict(r) for r in base["regions"]],
                "groups": [dict(g) for g in base["groups"]]}
        table, key = (data["groups"], "procs") if group else (data["regions"], "size")
        next(t for t in table if t["name"] == name)[key] = value
        shown = f"{value:,}" if group else format_size(value)
        where = f"layout {layout.name or '(unnamed)'} with {name} at {shown}"
        varied = parse_layout(data, where, layout.paging, layout.fault_around_bytes)
        yield value, varied


def sweep_layout(layout: Layout, *, group: str | None = None, region: str | None = None,
                 values=(), strategies=STRATEGY_NAMES) -> dict:
    """{"host": rows, "groups": rows}: per value and strategy the host row, and per value,
    strategy and group the group row, each led by what varied (`group` and `procs`, or
    `region` and `region_size_bytes`)."""
    host, groups = [], []
    for value, varied in varied_layouts(layout, group=group, region=region, values=values):
        lead = {"vary_group": group, "group_procs": value} if group else \
            {"vary_region": region, "region_size_bytes": value}
        result = evaluate_layout(varied, strategies)
        host += [{**lead, **row} for row in result["host"]]
        groups += [{**lead, **row} for row in result["groups"]]
    return {"host": host, "groups": groups}

"""TLB reach and page-walk metrics: named sympy expressions over per-strategy columns.

Each metric is one function below, named like its output column and JSON key, whose docstring
gives the equation, the units and the source.  `tlb_expression` returns the expression (for
`ptcalc formula`); `shape_expressions` and `walk_expression` give the forms that
ptcalc.model.codegen compiles into ptcalc/compute/_compiled.py (one function per TLB shape, the
entry counts as arguments; one per walk variant), evaluated by ptcalc.compute.tlb without sympy.
CPU numbers come from models/cpus via ptcalc.cpus.load; names, page sizes and the shape of a
CPU's TLB from ptcalc.model.tlb_inputs.  This module imports sympy at the top.

Input columns (one row per strategy; bytes are exact integers):
    touched_bytes      bytes of the region each process touches
    mapped_4k_bytes    of those, bytes mapped by 4 KiB PTE leaves in one process
    mapped_2m_bytes    ... by 2 MiB PMD leaves
    mapped_1g_bytes    ... by 1 GiB PUD leaves
    leaf_page_bytes    the strategy's nominal leaf size (used only when nothing is mapped)
    pt_bytes_total     page-table bytes of all processes, shared tables once (PageTables view)

Design decisions (also in the metric docstrings):

* Reach of a TLB level for a mix of page sizes (thp-shmem: 2 MiB where the placement allows,
  4 KiB at unaligned edges).  Entries are handed out largest page first, which maximises the
  bytes covered: each size takes the free entries of every array that holds it (dedicated
  arrays before pools), one entry per page (or per smashed fragment, e.g. Zen 2's L2 holds a
  1 GiB page as 2 MiB entries).  The largest size present is not limited by the region: reach
  is what the TLB could map if the region grew, and growing it adds only large pages.  The
  smaller sizes of a mix are limited to the bytes they really map, since they are the fixed
  unaligned remainder.  So for one page size, reach = entries x page size exactly.
* A pool shared by page sizes (e.g. a 4K+2M STLB) serves each size with all its entries; in a
  mix the larger pages take what they need first and the smaller ones the rest.
* tlb_coverage uses the same allocation with every size limited to its mapped bytes (so the
  4 KiB capacity of a split TLB is never counted over 2 MiB-mapped bytes), takes the larger of
  the L1 and L2 levels (conservative: as if L1 were inclusive in L2), and divides by
  touched_bytes.  For a single page size it equals min(1, reach / touched_bytes).

Numeric evaluation is exact for integers: divisions that must be integral use CeilDiv (the
model's one exact ceiling division), printed by codegen like every other formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace

import sympy as sp

from ptcalc.model import symbols as S
from ptcalc.model.tlb_inputs import (
    INPUT_COLUMNS,
    LEVEL_PREFIX,
    LEVELS_SKIPPED,
    METRIC_NAMES,
    PAGE_SIZES,
    STRATEGY_PAGE_SIZES,
    WalkOptions,
    check_metric,
    shape_arguments,
    size_key,
    strategy_page_sizes,
    walk_options,
)
from ptcalc.paging import HUGE_1G_BYTES, HUGE_2M_BYTES, PAGE_BYTES

__all__ = ["INPUT_COLUMNS", "METRIC_NAMES", "PAGE_SIZES", "STRATEGY_PAGE_SIZES", "cpu_parameters",
           "metric_doc", "shape_expressions", "size_key", "strategy_page_sizes",
           "tlb_expression", "walk_expression"]


# --------------------------------------------------------------------------------------------
# Symbols (built on first use, not at import)


@cache
def symbols() -> SimpleNamespace:
    """The input symbols, named like the frame columns, plus llc_bytes."""
    def nonneg(name):
        return sp.Symbol(name, integer=True, nonnegative=True)

    names = {name: nonneg(name) for name in INPUT_COLUMNS}
    names["llc_bytes"] = sp.Symbol("llc_bytes", integer=True, positive=True)
    return SimpleNamespace(**names)


def _mapped(size: str):
    return getattr(symbols(), f"mapped_{size}_bytes")


# --------------------------------------------------------------------------------------------
# TLB structure as formulas see it


@dataclass(frozen=True)
class _ArraySpec:
    """One TLB array in a formula: which sizes it holds (bytes per entry) and its entries."""

    granules: tuple[tuple[str, int], ...]   # (page size key, bytes one entry covers)
    entries: sp.Expr

    def granule(self, size: str) -> int | None:
        return dict(self.granules).get(size)


def _level_specs(cpu, level_key: str, numeric: bool) -> tuple[_ArraySpec, ...]:
    """The arrays of one level: from the CPU file, or (cpu None) one array per page size with
    symbols l1_entries_4k, ... (the form shown when no CPU is named)."""
    prefix = LEVEL_PREFIX[level_key]
    if cpu is None:
        return tuple(
            _ArraySpec(((size, PAGE_SIZES[size]),),
                       sp.Symbol(f"{prefix}_entries_{size}", integer=True, nonnegative=True))
            for size in PAGE_SIZES)
    specs = []
    for array in cpu.level(level_key).arrays:
        granules = tuple((size, array.granule_bytes(size)) for size in array.held_sizes)
        entries = (sp.Integer(array.entries) if numeric else
                   sp.Symbol(f"{prefix}_{array.symbol_name}", integer=True, nonnegative=True))
        specs.append(_ArraySpec(granules, entries))
    return tuple(specs)


def _shape_specs(shape) -> dict[str, tuple[_ArraySpec, ...]]:
    """Arrays of a TLB shape (ptcalc.model.tlb_inputs.tlb_shape), entries as arguments."""
    names = iter(shape_arguments(shape))
    return {level_key: tuple(_ArraySpec(granules, sp.Symbol(next(names), integer=True,
                                                            nonnegative=True))
                             for granules in level)
            for level_key, level in zip(LEVEL_PREFIX, shape)}


def cpu_parameters(cpu) -> dict[str, int]:
    """Values of the CPU symbols used when tlb_expression(..., numeric=False): entries of each
    array (l1_entries_4k, l2_entries_4k_2m, ...) and llc_bytes."""
    values = {}
    for level_key, prefix in LEVEL_PREFIX.items():
        for array in cpu.level(level_key).arrays:
            values[f"{prefix}_{array.symbol_name}"] = array.entries
    values["llc_bytes"] = cpu.llc_bytes
    return values


def _cover(specs: tuple[_ArraySpec, ...], mapped: dict[str, sp.Expr]) -> sp.Expr:
    """Bytes the arrays can map at once, entries handed out largest page first.

    mapped[size] is the bytes of that size to cover: sp.oo for 'as many as there are entries',
    0 when absent.  Within a size, arrays holding fewer sizes are used first.
    """
    remaining = [spec.entries for spec in specs]
    total = sp.Integer(0)
    order = sorted(range(len(specs)), key=lambda i: len(specs[i].granules))
    for size in sorted(PAGE_SIZES, key=PAGE_SIZES.get, reverse=True):
        need = mapped.get(size, sp.Integer(0))
        if need == 0:
            continue
        for i in order:
            granule = specs[i].granule(size)
            if granule is None or remaining[i] == 0:
                continue
            capacity = remaining[i] * granule
            if need is sp.oo:
                total += capacity
                remaining[i] = sp.Integer(0)
                continue
            got = sp.Min(capacity, need)
            total += got
            remaining[i] = remaining[i] - S.CeilDiv(got, granule)
            need = need - got
    return total


# --------------------------------------------------------------------------------------------
# The metrics.  Each takes the build context and returns one expression.


@dataclass(frozen=True)
class _Ctx:
    specs: dict                  # TLB level key -> its arrays (_ArraySpec)
    llc: sp.Expr                 # llc_bytes, or the CPU's number
    sizes: tuple[str, ...] | None   # page sizes of a named strategy, or None (any mix)
    walk: WalkOptions


def _reach(ctx: _Ctx, level_key: str) -> sp.Expr:
    specs = ctx.specs[level_key]
    s = symbols()

    def cover(unbounded: str, capped: tuple[str, ...]) -> sp.Expr:
        mapped = {size: _mapped(size) for size in capped}
        mapped[unbounded] = sp.oo
        return _cover(specs, mapped)

    if ctx.sizes is not None:                       # a named strategy: sizes known
        largest = max(ctx.sizes, key=PAGE_SIZES.get)
        return cover(largest, tuple(x for x in ctx.sizes if x != largest))
    return sp.Piecewise(
        (cover("1g", ("2m", "4k")), s.mapped_1g_bytes > 0),
        (cover("2m", ("4k",)), s.mapped_2m_bytes > 0),
        (cover("4k", ()), s.mapped_4k_bytes > 0),
        (cover("1g", ()), sp.Eq(s.leaf_page_bytes, HUGE_1G_BYTES)),
        (cover("2m", ()), sp.Eq(s.leaf_page_bytes, HUGE_2M_BYTES)),
        (cover("4k", ()), True),
    )


def tlb_reach_l1_bytes(ctx: _Ctx) -> sp.Expr:
    """Bytes the L1 data TLB (load side) can map at once for the strategy's page sizes.

    Equation, one page size s: l1_entries_s x s, where l1_entries_s counts every L1 array that
    holds s (a pool shared by several sizes serves each of them whole).  Mix of sizes: entries
    go to the largest page first; the largest size present is unbounded, smaller sizes are
    limited to mapped_<size>_bytes (see the module docstring).
    Units: bytes.  Source: entries per CPU in models/cpus/<cpu>.toml, each with its URL and
    evidence class: the CPUID TLB leaves (Intel leaf 0x2 descriptors and leaf 0x18, Intel
    SDM Vol. 2A "CPUID"; AMD Fn8000_0005/Fn8000_0006, AMD64 APM Vol. 3) as dumped for each
    part at https://github.com/InstLatx64/InstLatx64, the vendors' optimization manuals, and
    measurements; reach = entries x page size (docs/model.md section 6).
    """
    return _reach(ctx, "l1_dtlb")


def tlb_reach_l2_bytes(ctx: _Ctx) -> sp.Expr:
    """Bytes the second-level TLB (Intel STLB, AMD L2 DTLB) can map at once.

    Equation as tlb_reach_l1_bytes with the L2 arrays: l2_entries_s x s for one size s.  A
    size the L2 does not hold (Haswell 1 GiB, Zen 5 1 GiB) gives 0; a size it holds as
    smaller entries (Zen 2: 1 GiB as 2 MiB) counts entries x the smaller size.
    Units: bytes.  Source: models/cpus/<cpu>.toml, as tlb_reach_l1_bytes: the CPUID TLB leaves
    (https://github.com/InstLatx64/InstLatx64 dumps), vendor manuals, measurements.
    """
    return _reach(ctx, "l2_tlb")


def tlb_coverage(ctx: _Ctx) -> sp.Expr:
    """Fraction of the touched bytes the TLBs can map at once, at most 1.

    Equation: min(1, max(cover_l1, cover_l2) / touched_bytes), cover_l = bytes level l maps
    with every page size limited to mapped_<size>_bytes (largest pages first).  For one page
    size this is min(1, reach / touched_bytes); 1 when nothing is touched.
    Units: dimensionless.  Source: as the reach metrics; max() assumes inclusive levels.
    """
    s = symbols()
    sizes = ctx.sizes if ctx.sizes is not None else tuple(PAGE_SIZES)
    covers = []
    for level_key in LEVEL_PREFIX:
        covers.append(_cover(ctx.specs[level_key], {size: _mapped(size) for size in sizes}))
    return sp.Piecewise(
        (sp.Integer(1), sp.Eq(s.touched_bytes, 0)),
        (sp.Min(1, sp.Max(*covers) / s.touched_bytes), True),
    )


def _native_refs(levels: int, size: str) -> int:
    """Memory references of a native walk ending in a leaf of `size`: one per level walked."""
    return levels - LEVELS_SKIPPED[size]


def walk_refs(ctx: _Ctx) -> sp.Expr:
    """Memory references of one page walk (TLB miss, nothing in paging-structure caches).

    Native: levels walked = paging_levels - levels skipped by the leaf: 4, 3, 2 for 4 KiB,
    2 MiB, 1 GiB leaves with 4-level paging; 5, 4, 3 with 5-level (LA57 adds the PML5 level).
    The leaf size is the one mapping the most touched bytes (ties go to the smaller page, the
    costlier walk); the nominal leaf_page_bytes when nothing is mapped.
    Virtualized (nested EPT/NPT): each of the g guest references and the final guest-physical
    address is translated by an h-level host walk: g(h + 1) + h = (g + 1)(h + 1) - 1; 24 for
    4 KiB guest on 4 KiB host with 4 levels each, 15 for 2 MiB on 2 MiB.
    Units: memory references (the data access itself not counted).
    Sources: one reference per level walked (docs/model.md section 6); 5-level paging:
    https://github.com/torvalds/linux/blob/master/Documentation/arch/x86/x86_64/5level-paging.rst;
    nested walks: Intel "Calculating Page Table Walks"
    (https://intel.com/content/www/us/en/docs/programmable/814346/24-2/calculating-page-table-walks.html)
    gives 24 (4K/4K) and 15 (2M/2M); AMD-V Nested Paging white paper (2008) "up to 24".
    """
    s = symbols()
    levels = ctx.walk.paging_levels
    if ctx.sizes is not None and len(ctx.sizes) == 1:
        guest = sp.Integer(_native_refs(levels, ctx.sizes[0]))
    elif ctx.sizes is not None:
        # Nothing mapped: the strategy's largest size (its nominal leaf).
        largest = max(ctx.sizes, key=PAGE_SIZES.get)
        guest = _dominant_refs(levels, ctx.sizes, sp.Integer(_native_refs(levels, largest)))
    else:
        by_leaf = sp.Piecewise(
            (_native_refs(levels, "1g"), sp.Eq(s.leaf_page_bytes, HUGE_1G_BYTES)),
            (_native_refs(levels, "2m"), sp.Eq(s.leaf_page_bytes, HUGE_2M_BYTES)),
            (_native_refs(levels, "4k"), True),
        )
        guest = _dominant_refs(levels, tuple(PAGE_SIZES), by_leaf)
    if not ctx.walk.virtualized:
        return guest
    host = sp.Integer(_native_refs(ctx.walk.host_paging_levels, ctx.walk.host_page))
    return sp.Add(sp.Mul(guest + 1, host + 1, evaluate=False), -1, evaluate=False)


def _dominant_refs(levels: int, sizes: tuple[str, ...], default: sp.Expr) -> sp.Expr:
    """Piecewise: walk references for the size mapping the most bytes (ties: smaller page);
    `default` when nothing is mapped."""
    ordered = sorted(sizes, key=PAGE_SIZES.get)      # smallest first wins ties
    pieces = []
    for index, size in enumerate(ordered):
        others = [_mapped(o) for o in ordered if o != size]
        larger = [_mapped(o) for o in ordered[index + 1:]]
        condition = sp.And(_mapped(size) > 0,
                           *[_mapped(size) >= o for o in larger],
                           *[_mapped(size) > o for o in others if o not in larger])
        pieces.append((sp.Integer(_native_refs(levels, size)), condition))
    pieces.append((default, True))
    return sp.Piecewise(*pieces)


def pt_walk_footprint_bytes(ctx: _Ctx) -> sp.Expr:
    """Bytes of page tables that the page walks of all processes touch.

    Equation: pt_walk_footprint_bytes = pt_bytes_total.  It is defined as the tables
    all walks touch, private tables once per process and shared tables once: exactly the
    physical (PageTables) view the core computes as pt_bytes_total for the touched part of
    the region.  With a dense touch every entry of every leaf table is read by some walk, so
    the leaf tables (the bulk) are touched whole; upper-level tables are counted whole though
    walks read only a few of their 64-byte lines, so the figure is an upper bound by at most
    the upper-level tables.  Not counted: the top-level (PGD) page outside the core's sum and,
    with --virtualized, the host's EPT/NPT tables.
    Units: bytes.  Source: docs/model.md section 3 (physical accounting).
    """
    return symbols().pt_bytes_total


def pt_walk_footprint_llc_ratio(ctx: _Ctx) -> sp.Expr:
    """Page-walk footprint relative to the CPU's last-level cache.

    Equation: pt_bytes_total / llc_bytes; above 1 the walked tables cannot all stay in the LLC
    and walks go to DRAM.  llc_bytes is the per-socket L3 of the reference SKU in
    models/cpus/<cpu>.toml (AMD: a core reaches only its CCX/CCD slice, llc.domain_bytes).
    Units: dimensionless.  Source: models/cpus/<cpu>.toml [llc].
    """
    return symbols().pt_bytes_total / ctx.llc


METRICS = {
    "tlb_reach_l1_bytes": tlb_reach_l1_bytes,
    "tlb_reach_l2_bytes": tlb_reach_l2_bytes,
    "tlb_coverage": tlb_coverage,
    "walk_refs": walk_refs,
    "pt_walk_footprint_bytes": pt_walk_footprint_bytes,
    "pt_walk_footprint_llc_ratio": pt_walk_footprint_llc_ratio,
}


# --------------------------------------------------------------------------------------------
# Public entry points


def metric_doc(metric: str) -> str:
    """The docstring (equation, units, source) of a metric."""
    return (METRICS[check_metric(metric)].__doc__ or "").strip()


def _as_cpu(cpu):
    if cpu is None or hasattr(cpu, "l1_dtlb"):
        return cpu
    from ptcalc.cpus.load import load_cpu

    return load_cpu(cpu)


def tlb_expression(metric: str, cpu=None, *, strategy: str | None = None,
                   paging_levels: int = 4, virtualized: bool = False,
                   host_page_bytes: int = PAGE_BYTES, host_paging_levels: int | None = None,
                   numeric: bool = True) -> sp.Expr:
    """The sympy expression of one TLB metric, for `ptcalc formula STRATEGY METRIC`.

    cpu: a ptcalc.cpus.load.Cpu, a CPU name, or None for the generic form (one entry symbol per
    level and page size: l1_entries_4k, ..., l2_entries_1g, and llc_bytes).
    strategy: a strategy name fixes its page sizes (e.g. private-4k: 4 KiB only) and
    simplifies the expression; None gives the general form over any mix (Piecewise).
    numeric: with a CPU, substitute its entry counts and LLC size; False keeps symbols named
    after the CPU's arrays (l2_entries_4k_2m for a pool), whose values cpu_parameters() gives.
    """
    cpu = _as_cpu(cpu)
    walk = walk_options(cpu, paging_levels, virtualized, host_page_bytes, host_paging_levels)
    sizes = strategy_page_sizes(strategy) if strategy is not None else None
    specs = {key: _level_specs(cpu, key, numeric) for key in LEVEL_PREFIX}
    llc = sp.Integer(cpu.llc_bytes) if (cpu is not None and numeric) else symbols().llc_bytes
    return METRICS[check_metric(metric)](_Ctx(specs, llc, sizes, walk))


def shape_expressions(shape) -> dict[str, sp.Expr]:
    """The CPU metrics (tlb_inputs.CPU_METRICS) of any mix of page sizes for a TLB shape: the
    entry counts (shape_arguments) and llc_bytes are symbols.  What codegen compiles."""
    from ptcalc.model.tlb_inputs import CPU_METRICS

    ctx = _Ctx(_shape_specs(shape), symbols().llc_bytes, None, WalkOptions())
    return {name: METRICS[name](ctx) for name in CPU_METRICS}


def walk_expression(walk: WalkOptions) -> sp.Expr:
    """walk_refs of any mix of page sizes for one walk variant.  What codegen compiles."""
    return walk_refs(_Ctx({}, symbols().llc_bytes, None, walk))

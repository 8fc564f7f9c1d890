"""TLB reach and page-walk metrics: named sympy expressions over per-strategy columns.

Each metric is one function below, named like its output column and JSON key, whose docstring
gives the equation, the units and the source.  `tlb_expression` returns the expression (for
`ptcalc formula`); `tlb_metrics` compiles every metric once per (CPU, options) and evaluates
it over whole columns of a strategy frame.  CPU numbers come from models/cpus via ptcalc.cpus.load;
geometry from ptcalc.paging.  This module is imported lazily (it imports sympy at the top).

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

Numeric evaluation is exact for integers: divisions that must be integral use ceil_div
(printed as floor division), Min/Max/Piecewise become numpy minimum/maximum/where.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from types import SimpleNamespace

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from ptcalc import catalog
from ptcalc.errors import InputError
from ptcalc.paging import HUGE_1G_BYTES, HUGE_2M_BYTES, PAGE_BYTES

METRIC_NAMES = (
    "tlb_reach_l1_bytes",
    "tlb_reach_l2_bytes",
    "tlb_coverage",
    "walk_refs",
    "pt_walk_footprint_bytes",
    "pt_walk_footprint_llc_ratio",
)

INPUT_COLUMNS = (
    "touched_bytes",
    "mapped_4k_bytes",
    "mapped_2m_bytes",
    "mapped_1g_bytes",
    "leaf_page_bytes",
    "pt_bytes_total",
)

#: Page sizes by data-file key, smallest first.
PAGE_SIZES = catalog.LEAF_BYTES
#: Paging levels a leaf of this size skips: a 2 MiB leaf ends the walk at the PMD, one level
#: early; a 1 GiB leaf at the PUD, two early.
LEVELS_SKIPPED = {"4k": 0, "2m": 1, "1g": 2}

#: Page sizes each strategy maps (ptcalc.catalog).
STRATEGY_PAGE_SIZES = {s.name: s.leaf_sizes for s in catalog.STRATEGIES}

_LEVEL_PREFIX = {"l1_dtlb": "l1", "l2_tlb": "l2"}

def size_key(page_bytes: int) -> str:
    """'4k', '2m' or '1g' for a page size in bytes."""
    for key, size in PAGE_SIZES.items():
        if size == page_bytes:
            return key
    raise InputError(f"page size {page_bytes} is not 4 KiB, 2 MiB or 1 GiB "
                     f"(use 4k, 2m or 1g)")


def strategy_page_sizes(strategy: str) -> tuple[str, ...]:
    """The page sizes a strategy maps, e.g. ('4k', '2m') for thp-shmem."""
    try:
        return STRATEGY_PAGE_SIZES[strategy]
    except KeyError:
        known = ", ".join(STRATEGY_PAGE_SIZES)
        raise InputError(f"unknown strategy {strategy!r}; known: {known}") from None


# --------------------------------------------------------------------------------------------
# Symbols and the exact integer helper (built on first use, not at import)


@cache
def symbols() -> SimpleNamespace:
    """The input symbols, named like the frame columns, plus llc_bytes."""
    def nonneg(name):
        return sp.Symbol(name, integer=True, nonnegative=True)

    names = {name: nonneg(name) for name in INPUT_COLUMNS}
    names["llc_bytes"] = sp.Symbol("llc_bytes", integer=True, positive=True)
    return SimpleNamespace(**names)


@cache
def _ceil_div():
    """ceil(a / b) for integers, kept unevaluated; printed as exact floor division."""
    return sp.Function("ceil_div")


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
    prefix = _LEVEL_PREFIX[level_key]
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


def cpu_parameters(cpu) -> dict[str, int]:
    """Values of the CPU symbols used when tlb_expression(..., numeric=False): entries of each
    array (l1_entries_4k, l2_entries_4k_2m, ...) and llc_bytes."""
    values = {}
    for level_key, prefix in _LEVEL_PREFIX.items():
        for array in cpu.level(level_key).arrays:
            values[f"{prefix}_{array.symbol_name}"] = array.entries
    values["llc_bytes"] = cpu.llc_bytes
    return values


def _cover(specs: tuple[_ArraySpec, ...], mapped: dict[str, sp.Expr]) -> sp.Expr:
    """Bytes the arrays can map at once, entries handed out largest page first.

    mapped[size] is the bytes of that size to cover: sp.oo for 'as many as there are entries',
    0 when absent.  Within a size, arrays holding fewer sizes are used first.
    """
    ceil_div = _ceil_div()
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
            remaining[i] = remaining[i] - ceil_div(got, granule)
            need = need - got
    return total


# --------------------------------------------------------------------------------------------
# The metrics.  Each takes the build context and returns one expression.


@dataclass(frozen=True)
class _Ctx:
    cpu: object | None           # ptcalc.cpus.load.Cpu or None for the generic symbolic form
    sizes: tuple[str, ...] | None   # page sizes of a named strategy, or None (any mix)
    paging_levels: int
    virtualized: bool
    host_page: str
    host_paging_levels: int
    numeric: bool                # substitute the CPU's numbers


def _reach(ctx: _Ctx, level_key: str) -> sp.Expr:
    specs = _level_specs(ctx.cpu, level_key, ctx.numeric)
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
    Units: bytes.  Source: entries per CPU in models/cpus/<cpu>.toml (each with its URL and
    evidence class); reach = entries x page size (docs/model.md section 6).
    """
    return _reach(ctx, "l1_dtlb")


def tlb_reach_l2_bytes(ctx: _Ctx) -> sp.Expr:
    """Bytes the second-level TLB (Intel STLB, AMD L2 DTLB) can map at once.

    Equation as tlb_reach_l1_bytes with the L2 arrays: l2_entries_s x s for one size s.  A
    size the L2 does not hold (Haswell 1 GiB, Zen 5 1 GiB) gives 0; a size it holds as
    smaller entries (Zen 2: 1 GiB as 2 MiB) counts entries x the smaller size.
    Units: bytes.  Source: models/cpus/<cpu>.toml.
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
    for level_key in _LEVEL_PREFIX:
        specs = _level_specs(ctx.cpu, level_key, ctx.numeric)
        covers.append(_cover(specs, {size: _mapped(size) for size in sizes}))
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
    levels = ctx.paging_levels
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
    if not ctx.virtualized:
        return guest
    host = sp.Integer(_native_refs(ctx.host_paging_levels, ctx.host_page))
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
    s = symbols()
    llc = sp.Integer(ctx.cpu.llc_bytes) if (ctx.cpu is not None and ctx.numeric) else s.llc_bytes
    return s.pt_bytes_total / llc


METRICS = {
    "tlb_reach_l1_bytes": tlb_reach_l1_bytes,
    "tlb_reach_l2_bytes": tlb_reach_l2_bytes,
    "tlb_coverage": tlb_coverage,
    "walk_refs": walk_refs,
    "pt_walk_footprint_bytes": pt_walk_footprint_bytes,
    "pt_walk_footprint_llc_ratio": pt_walk_footprint_llc_ratio,
}


def metric_doc(metric: str) -> str:
    """The docstring (equation, units, source) of a metric."""
    return (METRICS[_check_metric(metric)].__doc__ or "").strip()


# --------------------------------------------------------------------------------------------
# Public entry points


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise InputError(f"unknown TLB metric {metric!r}; known: {', '.join(METRIC_NAMES)}")
    return metric


def _as_cpu(cpu):
    if cpu is None or hasattr(cpu, "l1_dtlb"):
        return cpu
    from ptcalc.cpus.load import load_cpu

    return load_cpu(cpu)


def _context(cpu, strategy, paging_levels, virtualized, host_page_bytes, host_paging_levels,
             numeric) -> _Ctx:
    if paging_levels not in (4, 5):
        raise InputError(f"paging levels {paging_levels!r} not supported; use 4 or 5")
    host_levels = paging_levels if host_paging_levels is None else host_paging_levels
    if host_levels not in (4, 5):
        raise InputError(f"host paging levels {host_levels!r} not supported; use 4 or 5")
    host_page = size_key(int(host_page_bytes))
    if cpu is not None and paging_levels == 5 and not cpu.supports_five_level:
        raise InputError(f"CPU {cpu.name} has no five-level paging (LA57); use 4 levels or a "
                         f"CPU that has it")
    sizes = strategy_page_sizes(strategy) if strategy is not None else None
    return _Ctx(cpu=cpu, sizes=sizes, paging_levels=paging_levels, virtualized=bool(virtualized),
                host_page=host_page, host_paging_levels=host_levels, numeric=numeric)


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
    ctx = _context(_as_cpu(cpu), strategy, paging_levels, virtualized, host_page_bytes,
                   host_paging_levels, numeric)
    return METRICS[_check_metric(metric)](ctx)


class _ExactPrinter(NumPyPrinter):
    """Array-safe, integer-exact numpy code: where() instead of select() (keeps int dtype),
    ceil_div as floor division, Min/Max as pairwise minimum/maximum."""

    def _print_Piecewise(self, expr):
        *pieces, (last_value, last_condition) = expr.args
        if last_condition is not sp.true:
            raise ValueError(f"Piecewise without a default branch: {expr}")
        text = self._print(last_value)
        for value, condition in reversed(pieces):
            text = (f"{self._module_format('numpy.where')}({self._print(condition)}, "
                    f"{self._print(value)}, {text})")
        return text

    def _nest(self, name, args):
        func = self._module_format(f"numpy.{name}")
        text = self._print(args[0])
        for arg in args[1:]:
            text = f"{func}({text}, {self._print(arg)})"
        return text

    def _print_Min(self, expr):
        return self._nest("minimum", expr.args)

    def _print_Max(self, expr):
        return self._nest("maximum", expr.args)

    def _print_Function(self, expr):
        if expr.func.__name__ == "ceil_div":
            a, b = expr.args
            return f"(-((-({self._print(a)})) // ({self._print(b)})))"
        return super()._print_Function(expr)


@lru_cache(maxsize=64)
def _compiled(cpu, paging_levels, virtualized, host_page_bytes, host_paging_levels):
    """Every metric compiled once to a numpy function of the input columns and llc_bytes."""
    ctx = _context(cpu, None, paging_levels, virtualized, host_page_bytes, host_paging_levels,
                   numeric=True)
    s = symbols()
    args = [getattr(s, name) for name in INPUT_COLUMNS]
    # llc_bytes stays an argument so a caller can override the reference SKU's size.
    ctx_llc = _Ctx(**{**ctx.__dict__, "numeric": False})
    functions = {}
    for name, builder in METRICS.items():
        expr = builder(ctx_llc if name == "pt_walk_footprint_llc_ratio" else ctx)
        functions[name] = sp.lambdify([*args, s.llc_bytes], expr, modules="numpy",
                                      printer=_ExactPrinter)
    return functions


_INT_METRICS = ("tlb_reach_l1_bytes", "tlb_reach_l2_bytes", "walk_refs",
                "pt_walk_footprint_bytes")


def _column(frame, name):
    import numpy as np

    values = frame[name].to_numpy()
    if values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False)
    try:
        return values.astype(np.int64)
    except (OverflowError, TypeError, ValueError):
        return values.astype(object)      # exact Python ints beyond int64


def tlb_metrics(frame, cpu, paging_levels: int = 4, virtualized: bool = False,
                host_page_bytes: int = PAGE_BYTES, *, host_paging_levels: int | None = None,
                llc_bytes: int | None = None):
    """The six TLB metric columns for each row (strategy) of `frame`, row-aligned with it.

    frame: pandas.DataFrame with the INPUT_COLUMNS (extra columns are ignored).
    cpu: a ptcalc.cpus.load.Cpu or a CPU name.  paging_levels: 4 or 5 (5 needs LA57 on the CPU).
    virtualized, host_page_bytes (4096, 2 MiB or 1 GiB), host_paging_levels (default: the
    guest's): walk_refs becomes the two-dimensional walk.  llc_bytes overrides the CPU file's
    reference-SKU LLC size (e.g. the host's own).
    Returns a DataFrame with METRIC_NAMES columns (bytes and refs int64, ratios float64) and
    frame's index.
    """
    import numpy as np
    import pandas as pd

    cpu = _as_cpu(cpu)
    if cpu is None:
        raise InputError("tlb_metrics needs a CPU")
    missing = [name for name in INPUT_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"tlb_metrics: frame lacks column(s) {', '.join(missing)}")
    llc = cpu.llc_bytes if llc_bytes is None else int(llc_bytes)
    if llc <= 0:
        raise InputError(f"LLC size {llc_bytes!r} must be a positive number of bytes")
    functions = _compiled(cpu, paging_levels, bool(virtualized), int(host_page_bytes),
                          host_paging_levels)
    columns = [_column(frame, name) for name in INPUT_COLUMNS]
    rows = len(frame)
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name in METRIC_NAMES:
            values = np.asarray(functions[name](*columns, llc))
            if values.ndim == 0 or values.shape[0] != rows:
                values = np.broadcast_to(values, (rows,)).copy()
            if name in _INT_METRICS and values.dtype != object:
                values = values.astype(np.int64)
            elif name not in _INT_METRICS:
                values = values.astype(float)
            out[name] = values
    return pd.DataFrame(out, index=frame.index)

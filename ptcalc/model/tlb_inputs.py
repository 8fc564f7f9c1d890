"""What the TLB metrics are over, without sympy: metric and input names, page sizes, the
validation of the walk options, and the shape of a CPU's TLB.

The expressions are in ptcalc.model.tlb (sympy); the generated code in ptcalc.compute._compiled
is looked up by the names and shapes defined here, so evaluating needs no sympy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from ptcalc import catalog
from ptcalc.errors import InputError

METRIC_NAMES = (
    "tlb_reach_l1_bytes",
    "tlb_reach_l2_bytes",
    "tlb_coverage",
    "walk_refs",
    "pt_walk_footprint_bytes",
    "pt_walk_footprint_llc_ratio",
)
#: Metrics that are exact integers (the others are ratios, float).
INT_METRICS = ("tlb_reach_l1_bytes", "tlb_reach_l2_bytes", "walk_refs",
               "pt_walk_footprint_bytes")
#: Metrics that depend on the CPU's TLB arrays and LLC (the rest on the walk options only).
CPU_METRICS = ("tlb_reach_l1_bytes", "tlb_reach_l2_bytes", "tlb_coverage",
               "pt_walk_footprint_bytes", "pt_walk_footprint_llc_ratio")

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
#: TLB levels of a CPU file and the prefix of their symbols.
LEVEL_PREFIX = {"l1_dtlb": "l1", "l2_tlb": "l2"}


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


def check_metric(metric: str) -> str:
    if metric not in METRIC_NAMES:
        raise InputError(f"unknown TLB metric {metric!r}; known: {', '.join(METRIC_NAMES)}")
    return metric


@dataclass(frozen=True)
class WalkOptions:
    """How a page walk is done: guest paging levels, and the host walk when virtualized."""

    paging_levels: int = 4
    virtualized: bool = False
    host_page: str = "4k"              # the host (EPT/NPT) page size key
    host_paging_levels: int = 4

    @property
    def key(self) -> tuple:
        """The key of the generated walk_refs function (host fields only when virtualized)."""
        if not self.virtualized:
            return (self.paging_levels, None, None)
        return (self.paging_levels, self.host_page, self.host_paging_levels)


def walk_options(cpu, paging_levels=4, virtualized=False, host_page_bytes=catalog.LEAF_BYTES["4k"],
                 host_paging_levels=None) -> WalkOptions:
    """Validated walk options; InputError naming what is wrong."""
    if paging_levels not in (4, 5):
        raise InputError(f"paging levels {paging_levels!r} not supported; use 4 or 5")
    host_levels = paging_levels if host_paging_levels is None else host_paging_levels
    if host_levels not in (4, 5):
        raise InputError(f"host paging levels {host_levels!r} not supported; use 4 or 5")
    host_page = size_key(int(host_page_bytes))
    if cpu is not None and paging_levels == 5 and not cpu.supports_five_level:
        raise InputError(f"CPU {cpu.name} has no five-level paging (LA57); use 4 levels or a "
                         f"CPU that has it")
    return WalkOptions(paging_levels, bool(virtualized), host_page, host_levels)


def all_walk_options() -> list[WalkOptions]:
    """Every walk variant the compiled module covers."""
    out = []
    for levels in (4, 5):
        out.append(WalkOptions(levels))
        for host_page in PAGE_SIZES:
            for host_levels in (4, 5):
                out.append(WalkOptions(levels, True, host_page, host_levels))
    return out


def level_shape(level) -> tuple:
    """A TLB level's structure without its entry counts: per array, the (page size, bytes one
    entry covers) pairs it holds.  CPUs of one shape share one compiled function."""
    return tuple(tuple((size, array.granule_bytes(size)) for size in array.held_sizes)
                 for array in level.arrays)


@cache
def tlb_shape(cpu) -> tuple:
    """(L1 shape, L2 shape) of a CPU (a Cpu is frozen: asked once per CPU)."""
    return tuple(level_shape(cpu.level(key)) for key in LEVEL_PREFIX)


def shape_arguments(shape) -> tuple[str, ...]:
    """Names of the entry-count arguments of a compiled shape: l1_array0, ..., l2_array0, ..."""
    return tuple(f"{prefix}_array{i}" for prefix, level in zip(LEVEL_PREFIX.values(), shape)
                 for i in range(len(level)))


def tlb_parameters(cpu) -> dict[str, int]:
    """The entry counts of a CPU's arrays by argument name (shape_arguments of its shape)."""
    return dict(_parameters(cpu))


@cache
def _parameters(cpu) -> tuple:
    counts = [array.entries for key in LEVEL_PREFIX for array in cpu.level(key).arrays]
    return tuple(zip(shape_arguments(tlb_shape(cpu)), counts))

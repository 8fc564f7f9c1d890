"""x86-64 paging geometry: levels, spans and the table-count closed form.

Source: arch/x86/include/asm/pgtable_64_types.h (PMD_SHIFT 21, PUD_SHIFT 30, PGDIR_SHIFT 39
with 4 levels; P4D_SHIFT 39 and PGDIR_SHIFT 48 with CONFIG_X86_5LEVEL; 512 entries per
table) and include/linux/mm.h (a table page is PTRS_PER_* x 8 B = 4 KiB).  See
docs/model.md section 1.

This module holds every geometric constant; formulas and the simulator take them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

PAGE_BYTES = 4096                 # base page and page-table page size
ENTRY_BYTES = 8                   # sizeof(pte_t) == sizeof(pmd_t) == ...
ENTRIES_PER_TABLE = 512           # PTRS_PER_PTE/PMD/PUD/P4D/PGD
TABLE_BYTES = ENTRIES_PER_TABLE * ENTRY_BYTES   # 4096: one table page

PTE_SPAN = PAGE_BYTES * ENTRIES_PER_TABLE        # 2 MiB: one PTE table maps this much
PMD_SPAN = PTE_SPAN * ENTRIES_PER_TABLE          # 1 GiB: one PMD table
PUD_SPAN = PMD_SPAN * ENTRIES_PER_TABLE          # 512 GiB: one PUD table
P4D_SPAN = PUD_SPAN * ENTRIES_PER_TABLE          # 256 TiB: one P4D table (5-level only)

HUGE_2M_BYTES = PTE_SPAN          # a PMD leaf maps what a PTE table would
HUGE_1G_BYTES = PMD_SPAN          # a PUD leaf maps what a PMD table would

# One PGD/P4D entry: 512 GiB on both 4- and 5-level x86-64 (P4D folded into PGD with 4).
# mshare aligns its regions to this (P4D_SIZE, mshare v1-v3 2025).
TOP_ENTRY_SPAN = PUD_SPAN


@dataclass(frozen=True)
class Level:
    """One paging level below the top: its name and how much one table of it maps."""

    name: str          # "pte", "pmd", "pud", "p4d"
    table_span: int    # bytes of virtual address space one table of this level maps
    entry_span: int    # bytes one entry maps (a leaf of this level maps this much)


@dataclass(frozen=True)
class Paging:
    """A paging mode: 4 or 5 levels.  `levels` lists the non-top levels, leaf first."""

    levels_count: int
    levels: tuple[Level, ...]
    user_space_bytes: int   # size of the user half of the address space

    def level(self, name: str) -> Level:
        for level in self.levels:
            if level.name == name:
                return level
        raise KeyError(f"{name!r} is not a level of {self.levels_count}-level paging")

    @property
    def level_names(self) -> tuple[str, ...]:
        return tuple(level.name for level in self.levels)


_PTE = Level("pte", PTE_SPAN, PAGE_BYTES)
_PMD = Level("pmd", PMD_SPAN, PTE_SPAN)
_PUD = Level("pud", PUD_SPAN, PMD_SPAN)
_P4D = Level("p4d", P4D_SPAN, PUD_SPAN)

# User space: 128 TiB with 4 levels (47 bits), 64 PiB with 5 levels (56 bits);
# Documentation/arch/x86/x86_64/mm.rst.
FOUR_LEVEL = Paging(4, (_PTE, _PMD, _PUD), 2**47)
FIVE_LEVEL = Paging(5, (_PTE, _PMD, _PUD, _P4D), 2**56)


@cache
def paging_for(levels: int) -> Paging:
    """The paging mode for 4 or 5 levels."""
    if levels == 4:
        return FOUR_LEVEL
    if levels == 5:
        return FIVE_LEVEL
    raise ValueError(f"paging {levels!r} is not supported; use 4 or 5")


def floor_div(a, b):
    """Exact floor(a / b) for ints and int numpy arrays."""
    return a // b


def ceil_div(a, b):
    """Exact ceil(a / b) for ints and int numpy arrays (no float rounding)."""
    return -((-a) // b)


def tables_spanned(start, length, span):
    """Number of aligned `span`-sized slots that [start, start+length) touches.

    The closed form ceil((s+L)/g) - floor(s/g), and 0 for an empty range.  The same shape
    counts page-table pages, huge pages and fault-around windows.  Numeric twin of the
    sympy expression `ptcalc.model.symbols.tables`.
    """
    count = ceil_div(start + length, span) - floor_div(start, span)
    try:
        return count if length > 0 else 0
    except ValueError:  # numpy arrays: elementwise
        import numpy as np

        return np.where(length > 0, count, 0)

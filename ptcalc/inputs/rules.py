"""The scenario domain rules, defined once, with one set of messages.

Each rule tells which values break it, on a Python int (or Fraction) and on a whole numpy
column alike, and says what is wrong and what is accepted.  Every place that takes scenario
values (make_scenario, the DataFrame evaluator, the sweep axes, the probe's cases) checks
them here, so a value is refused with the same words wherever it is typed:

    procs 0 is out of range; use a count from 1 to 4194304 (PID_MAX_LIMIT)
    column 'procs' has 0, which is out of range; use a count from 1 to ...
    --procs '0..3' includes 0, which is out of range; use a count from 1 to ...

No numpy is imported here: the operators used work on ints and on arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ptcalc import paging
from ptcalc.errors import InputError
from ptcalc.units import format_size

# PID_MAX_LIMIT on 64-bit (include/linux/threads.h): no host runs more processes.
MAX_PROCS = 4 * 1024 * 1024


def _not(mask):
    """Logical not of a bool or a bool array (NaN comparisons are False, so this catches NaN)."""
    return mask ^ True


@dataclass(frozen=True)
class Rule:
    """One rule on one scenario value: `broken(values)` is True (or a True mask) where the
    value breaks it; the message is '<subject> <problem>; <hint>'."""

    name: str                 # the scenario key and option name: size, procs, ...
    column: str               # its DataFrame column
    problem: str              # what is wrong, e.g. "is out of range"
    hint: str                 # what is accepted, e.g. "use a count from 1 to ..."
    broken: Callable

    def message(self, shown, where: str | None = None) -> str:
        """The one message: `where` is a prefix such as "column 'procs' has" (the value then
        follows with ', which ...'); without it the message starts with the value's name."""
        if where:
            return f"{where} {shown}, which {self.problem}; {self.hint}"
        return f"{self.name} {shown} {self.problem}; {self.hint}"

    def check(self, value, shown=None, where: str | None = None):
        """`value` if it keeps the rule, else InputError (shown: how to print the value)."""
        if self.broken(value):
            raise InputError(self.message(value if shown is None else shown, where))
        return value

    def check_column(self, values, where: str | None = None) -> None:
        """InputError naming the first value of a numpy column that breaks the rule."""
        mask = self.broken(values)
        if mask.any():
            first = values[mask][0]
            shown = first.item() if hasattr(first, "item") else first
            raise InputError(self.message(shown, where or f"column {self.column!r} has"))


SIZE = Rule("size", "size_bytes", "is an empty size",
            "use a positive size such as 1GiB", lambda v: v <= 0)
#: The probe maps exactly the bytes asked for: whole pages only.
SIZE_WHOLE_PAGES = Rule("size", "size_bytes", "is not a multiple of 4 KiB",
                        "use whole pages: a multiple of 4096",
                        lambda v: v % paging.PAGE_BYTES != 0)
PROCS = Rule("procs", "procs", "is out of range",
             f"use a count from 1 to {MAX_PROCS} (PID_MAX_LIMIT)",
             lambda v: (v < 1) | (v > MAX_PROCS))
OFFSET_PAGE = Rule("offset", "offset_bytes", "is not a multiple of 4 KiB",
                   "use whole pages: a multiple of 4096",
                   lambda v: v % paging.PAGE_BYTES != 0)
OFFSET_RANGE = Rule("offset", "offset_bytes", "is not from 0 to below 512 GiB",
                    "give the start address modulo 512 GiB",
                    lambda v: (v < 0) | (v >= paging.TOP_ENTRY_SPAN))
TOUCHED = Rule("touched", "touched", "is out of range",
               "use a fraction in (0, 1], e.g. 0.25 or 25%",
               lambda v: _not(v > 0) | (v > 1))
# One page of the largest region (64 PiB = 2**44 pages) is ~5.7e-14 of it; below ~1.1e-16,
# 1 - t rounds to 1 in the float formulas of the random pattern (a division by zero).
TOUCHED_RESOLVED = Rule("touched", "touched", "is below 1e-15",
                        "less than one 4 KiB page of the largest region and below what the "
                        "float formulas resolve (1 - t == 1); give at least 1e-15",
                        lambda v: v < 1e-15 * (1 - 1e-12))   # 1e-15 itself is fine

#: In the order they are checked.
OFFSET_RULES = (OFFSET_RANGE, OFFSET_PAGE)


def whole_pages(size_bytes):
    """Sizes rounded up to whole 4 KiB pages (mmap rounds the length up); ints or columns."""
    return -(-size_bytes // paging.PAGE_BYTES) * paging.PAGE_BYTES


def fits_message(levels: int, shown_size=None, shown_offset=None, where: str | None = None) -> str:
    """The message for a region beyond the user address space of `levels`-level paging."""
    space = format_size(paging.paging_for(levels).user_space_bytes)
    what = where or f"size {shown_size} at offset {shown_offset}"
    return (f"{what} does not fit the {space} user address space of {levels}-level paging"
            + ("; try --paging 5" if levels == 4 else ""))


def region_overflows(size_bytes, offset_bytes, levels: int):
    """True (or a mask) where [offset, offset + size) passes the user address space."""
    return offset_bytes + size_bytes > paging.paging_for(levels).user_space_bytes


def check_region(size_bytes: int, offset_bytes: int, levels: int, shown_size=None,
                 shown_offset=None) -> None:
    if region_overflows(size_bytes, offset_bytes, levels):
        raise InputError(fits_message(levels, size_bytes if shown_size is None else shown_size,
                                      format_size(offset_bytes) if shown_offset is None
                                      else shown_offset))


def check_region_columns(size_bytes, offset_bytes, levels: int) -> None:
    mask = region_overflows(size_bytes, offset_bytes, levels)
    if mask.any():
        size, offset = size_bytes[mask][0].item(), offset_bytes[mask][0].item()
        raise InputError(fits_message(levels, where=f"column 'size_bytes' has {size} at "
                                      f"offset {format_size(offset)}, which"))

"""Validated inputs.  Everything is converted to exact ints here, once, at the edge.

A scenario: one region of `size_bytes` starting at `offset_bytes` (its start address modulo
512 GiB), mapped MAP_SHARED by `procs` processes, each touching a `touched` fraction of it,
as a dense prefix or at random (each page independently; the same pages in every process).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from fractions import Fraction

from ptcalc import paging
from ptcalc.errors import InputError
from ptcalc.units import UnitError, format_size, parse_count, parse_fraction, parse_size, shown

ACCESSES = ("read", "write")
PATTERNS = ("dense", "random")
# PID_MAX_LIMIT on 64-bit (include/linux/threads.h): no host runs more processes.
MAX_PROCS = 4 * 1024 * 1024
# The smallest touched fraction: 1/2**44 (one page of 64 PiB) is ~5.7e-14; below ~1.1e-16,
# 1 - t rounds to 1 in the float formulas of the random pattern (a division by zero).
MIN_TOUCHED = Fraction(1, 10**15)
DEFAULT_FAULT_AROUND = 65536      # mm/memory.c: fault_around_pages = 65536 >> PAGE_SHIFT


@dataclass(frozen=True)
class Scenario:
    size_bytes: int           # whole 4 KiB pages (mmap rounds the length up)
    procs: int
    offset_bytes: int = 0
    touched: Fraction = Fraction(1)
    touched_bytes: int = 0    # dense prefix: ceil(touched * pages) whole pages
    access: str = "write"
    pattern: str = "dense"
    paging: int = 4
    fault_around_bytes: int = DEFAULT_FAULT_AROUND
    requested_size_bytes: int = 0   # what the user asked for, before rounding to pages

    def arguments(self) -> tuple:
        """Arguments of the generated formula functions, in _compiled.ARGUMENTS order."""
        return (self.offset_bytes, self.size_bytes, self.touched_bytes, float(self.touched),
                self.procs, self.fault_around_bytes, 1 if self.access == "read" else 0)


def _wrap(error: Exception) -> InputError:
    return InputError(str(error))


def parse_procs(value) -> int:
    try:
        procs = parse_count(value, what="procs")        # 1500, 1,500 or 1_500
    except UnitError:
        raise InputError(f"procs {shown(value)} is not a whole number; use a count from 1 to "
                         f"{MAX_PROCS}") from None
    if not 1 <= procs <= MAX_PROCS:
        raise InputError(f"procs {procs} is out of range; use a count from 1 to {MAX_PROCS} "
                         "(PID_MAX_LIMIT)")
    return procs


def parse_touched(value) -> Fraction:
    try:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise InputError(f"touched {value!r} is not a number; use a fraction in (0, 1]")
            fraction = Fraction(repr(value))
        else:
            fraction = parse_fraction(value)
    except UnitError as error:
        raise _wrap(error) from None
    if not 0 < fraction <= 1:
        raise InputError(f"touched {value!r} is out of range; use a fraction in (0, 1], "
                         "e.g. 0.25 or 25%")
    if fraction < MIN_TOUCHED:
        raise InputError(f"touched {value!r} is below 1e-15, less than one 4 KiB page of the "
                         "largest region (64 PiB: 2**44 pages), and below what float "
                         "arithmetic resolves (1 - t == 1); give at least 1e-15")
    return fraction


def parse_choice(value, choices, what: str) -> str:
    text = str(value).strip().lower()
    if text not in choices:
        raise InputError(f"{what} {value!r} is not known; use one of: {', '.join(choices)}")
    return text


def parse_paging(value) -> int:
    text = str(value).strip()
    if text not in ("4", "5"):
        raise InputError(f"paging {value!r} is not supported; use 4 or 5 (levels)")
    return int(text)


def parse_fault_around(value) -> int:
    try:
        fault_around = parse_size(value, what="fault-around")
    except UnitError as error:
        raise _wrap(error) from None
    if (fault_around < paging.PAGE_BYTES or fault_around > paging.PTE_SPAN
            or fault_around & (fault_around - 1)):
        raise InputError(f"fault-around {value!r} is not accepted; use a power of two from 4KiB "
                         "to 2MiB (the kernel's fault_around_bytes, default 64KiB)")
    return fault_around


def touched_prefix_bytes(size_bytes: int, touched: Fraction) -> int:
    """The dense prefix: ceil(touched * pages) whole pages, exact."""
    pages = size_bytes // paging.PAGE_BYTES
    numerator, denominator = touched.numerator, touched.denominator
    return -((-numerator * pages) // denominator) * paging.PAGE_BYTES


def make_scenario(size, procs, offset=0, touched=1.0, access="write", pattern="dense",
                  paging_levels=4, fault_around=DEFAULT_FAULT_AROUND) -> Scenario:
    """Validate user values (text or numbers) into a Scenario; InputError on bad input."""
    try:
        requested = parse_size(size, what="size")
        offset_bytes = parse_size(offset, what="offset")
    except UnitError as error:
        raise _wrap(error) from None
    if requested <= 0:
        raise InputError(f"size {size!r} is empty; use a positive size such as 1GiB")
    levels = parse_paging(paging_levels)
    mode = paging.paging_for(levels)
    if offset_bytes % paging.PAGE_BYTES:
        raise InputError(f"offset {offset!r} is not a multiple of 4 KiB; round it to a page, "
                         f"e.g. {offset_bytes // paging.PAGE_BYTES * paging.PAGE_BYTES}")
    if offset_bytes >= paging.TOP_ENTRY_SPAN:
        raise InputError(f"offset {offset!r} is not below 512 GiB; give the start address "
                         "modulo 512 GiB")
    size_bytes = -(-requested // paging.PAGE_BYTES) * paging.PAGE_BYTES
    if offset_bytes + size_bytes > mode.user_space_bytes:
        raise InputError(f"size {size!r} at offset {format_size(offset_bytes)} does not fit the "
                         f"{format_size(mode.user_space_bytes)} user address space of "
                         f"{levels}-level paging" + ("; try --paging 5" if levels == 4 else ""))
    fraction = parse_touched(touched)
    return Scenario(
        size_bytes=size_bytes,
        procs=parse_procs(procs),
        offset_bytes=offset_bytes,
        touched=fraction,
        touched_bytes=touched_prefix_bytes(size_bytes, fraction),
        access=parse_choice(access, ACCESSES, "access"),
        pattern=parse_choice(pattern, PATTERNS, "pattern"),
        paging=levels,
        fault_around_bytes=parse_fault_around(fault_around),
        requested_size_bytes=requested,
    )


def parse_strategies(names) -> tuple[str, ...]:
    """Validate strategy names (None: all), suggesting the nearest for a typo."""
    from ptcalc.model.strategies import STRATEGY_NAMES

    if not names:
        return STRATEGY_NAMES
    chosen = []
    for raw in names:
        for name in str(raw).split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in STRATEGY_NAMES:
                near = difflib.get_close_matches(name, STRATEGY_NAMES, n=1, cutoff=0.4)
                hint = f"did you mean {near[0]!r}? " if near else ""
                raise InputError(f"strategy {raw!r} is not known; {hint}known: "
                                 f"{', '.join(STRATEGY_NAMES)}")
            if name not in chosen:
                chosen.append(name)
    if not chosen:
        raise InputError("no strategy given; known: " + ", ".join(STRATEGY_NAMES))
    return tuple(chosen)

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
from ptcalc.inputs import rules
from ptcalc.inputs.rules import MAX_PROCS
from ptcalc.units import UnitError, parse_count, parse_fraction, parse_size, shown

ACCESSES = ("read", "write")
PATTERNS = ("dense", "random")
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
    paging_levels: int = 4
    fault_around_bytes: int = DEFAULT_FAULT_AROUND
    requested_size_bytes: int = 0   # what the user asked for, before rounding to pages

    @property
    def paging(self) -> int:
        """The paging levels (the name of the --paging option and of the API argument)."""
        return self.paging_levels

    def formula_inputs(self) -> dict:
        """The inputs of the generated formulas, by name (ptcalc.model.symbols.INPUTS)."""
        return {"offset_bytes": self.offset_bytes, "size_bytes": self.size_bytes,
                "touched_bytes": self.touched_bytes, "touched": float(self.touched),
                "procs": self.procs, "fault_around_bytes": self.fault_around_bytes,
                "read_access": 1 if self.access == "read" else 0}


def parse_procs(value) -> int:
    try:
        procs = parse_count(value, what="procs")        # 1500, 1,500 or 1_500
    except UnitError:
        raise InputError(f"procs {shown(value)} is not a whole number; use a count from 1 to "
                         f"{MAX_PROCS}") from None
    return rules.PROCS.check(procs)


def parse_touched(value) -> Fraction:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"touched {value!r} is not a number; use a fraction in (0, 1]")
        fraction = Fraction(repr(value))
    else:
        fraction = parse_fraction(value)       # UnitError is an InputError
    rules.TOUCHED.check(fraction, shown=repr(value))
    return rules.TOUCHED_RESOLVED.check(fraction, shown=repr(value))


def parse_choice(value, choices, what: str) -> str:
    text = str(value).strip().lower()
    if text not in choices:
        raise InputError(f"{what} {value!r} is not known; use one of: {', '.join(choices)}")
    return text


def parse_paging(value) -> int:
    """4 or 5; 'auto' gives this host's levels (ptcalc.inputs.host_paging)."""
    from ptcalc.inputs.host_paging import choose_paging

    return choose_paging(value).levels


def parse_fault_around(value) -> int:
    fault_around = parse_size(value, what="fault-around")
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
    requested = rules.SIZE.check(parse_size(size, what="size"), shown=repr(size))
    offset_bytes = parse_size(offset, what="offset")
    for rule in rules.OFFSET_RULES:
        rule.check(offset_bytes, shown=repr(offset))
    levels = parse_paging(paging_levels)
    size_bytes = rules.whole_pages(requested)
    rules.check_region(size_bytes, offset_bytes, levels, shown_size=repr(size))
    fraction = parse_touched(touched)
    return Scenario(
        size_bytes=size_bytes,
        procs=parse_procs(procs),
        offset_bytes=offset_bytes,
        touched=fraction,
        touched_bytes=touched_prefix_bytes(size_bytes, fraction),
        access=parse_choice(access, ACCESSES, "access"),
        pattern=parse_choice(pattern, PATTERNS, "pattern"),
        paging_levels=levels,
        fault_around_bytes=parse_fault_around(fault_around),
        requested_size_bytes=requested,
    )


def parse_strategies(names) -> tuple[str, ...]:
    """Validate strategy names (None: all), suggesting the nearest for a typo."""
    from ptcalc.catalog import STRATEGY_NAMES

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

"""Sweep axes: the values one option takes, from a list or ranges typed on the command line.

Syntax (the same for every numeric option):

    VALUE                     one value:                   --size 300GiB
    A,B,C                     a list, in the order given:  --procs 1,10,100
    START..STOP/STEP          a range:                     --procs 1..3000/10
    mixed                     lists of values and ranges:  --size 1GiB,2GiB..8GiB/2GiB

A range is START, START+STEP, START+2*STEP, ... up to and including STOP when STOP lands on
the grid; the last value never passes STOP (1..3000/10 is 1, 11, ..., 2991: 300 values;
1..10000/1 is 1..10000: 10000 values).  STEP must be positive and START <= STOP.  For --procs
the step defaults to 1 (1..100 is 1, 2, ..., 100); sizes, offsets and fractions need a step.
Sizes take units (2GiB..8GiB/512MiB), fractions may be decimals or percentages
(0.1..1/0.1, 10%..100%/10%) and are computed exactly.  Text options (--access, --pattern,
--strategy) take lists only.

An axis never holds its values in memory: a range is (start, step, count), so 1..4194304/1 costs
nothing until a chunk of the sweep asks for the values at some indices.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from ptcalc.errors import InputError
from ptcalc.inputs import rules
from ptcalc.inputs.scenario import ACCESSES, MAX_PROCS, PATTERNS, parse_choice, parse_strategies
from ptcalc.units import format_size, parse_fraction, parse_size, shown

RANGE_HELP = ("a value, a list A,B,C or a range START..STOP/STEP (STOP included when the "
              "steps land on it)")


@dataclass(frozen=True)
class Segment:
    """start, start + step, ..., count values (exact ints or Fractions)."""

    start: int | Fraction
    step: int | Fraction
    count: int

    @property
    def last(self):
        return self.start + self.step * (self.count - 1)


@dataclass(frozen=True)
class Axis:
    """The values of one numeric option, as segments (single values are count-1 segments)."""

    name: str
    segments: tuple[Segment, ...]

    def __len__(self) -> int:
        return sum(segment.count for segment in self.segments)

    @property
    def minimum(self):
        return min(min(s.start, s.last) for s in self.segments)

    @property
    def maximum(self):
        return max(max(s.start, s.last) for s in self.segments)

    def values(self):
        """Every value, in order (only for small axes)."""
        for segment in self.segments:
            for i in range(segment.count):
                yield segment.start + segment.step * i

    def at(self, index):
        """The values at integer positions (a numpy int64 array): int64, or float64 for
        fractions (the float nearest the exact value)."""
        import numpy as np

        fractional = any(isinstance(s.start, Fraction) or isinstance(s.step, Fraction)
                         for s in self.segments)
        out = np.empty(len(index), dtype=np.float64 if fractional else np.int64)
        first = 0
        for segment in self.segments:
            rows = (index >= first) & (index < first + segment.count)
            if rows.any():
                position = index[rows] - first
                if fractional:
                    out[rows] = _fraction_values(segment, position)
                else:
                    out[rows] = segment.start + segment.step * position
            first += segment.count
        return out


@dataclass(frozen=True)
class ChoiceAxis:
    """The values of a text option (access, pattern)."""

    name: str
    choices: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.choices)

    def values(self):
        return iter(self.choices)


def _fraction_values(segment: Segment, position):
    """float(start + step * position), exactly rounded: both as n / d with one d."""
    start, step = Fraction(segment.start), Fraction(segment.step)
    den = math.lcm(start.denominator, step.denominator)
    a, b = start.numerator * (den // start.denominator), step.numerator * (den // step.denominator)
    if abs(a) + abs(b) * segment.count < 2**53 and den < 2**53:
        return (a + b * position) / den          # exact ints over an exact int: one rounding
    return [float(start + step * int(p)) for p in position]


# --- parsing -----------------------------------------------------------------------------------

def _split(text: str, option: str) -> list[str]:
    items = [item.strip() for item in str(text).split(",")]
    if not str(text).strip() or any(not item for item in items):
        accepted = (f"a list such as {_EXAMPLES[option]}" if option in _CHOICE_OPTIONS
                    else f"{RANGE_HELP}, e.g. {_EXAMPLES[option]}")
        raise InputError(f"--{option} {text!r} has an empty item; use {accepted}")
    return items


_EXAMPLES = {"size": "1GiB,300GiB or 1GiB..8GiB/1GiB", "procs": "1,100 or 1..3000/10",
             "offset": "0,4KiB or 0..1GiB/2MiB", "touched": "0.25,1 or 0.1..1/0.1",
             "access": "read,write", "pattern": "dense,random"}
_CHOICE_OPTIONS = ("access", "pattern")


def _parse_items(text, option: str, parse_one, default_step=None) -> tuple[Segment, ...]:
    segments = []
    for item in _split(text, option):
        if ".." not in item:
            segments.append(Segment(parse_one(item), 0, 1))
            continue
        start_text, _, rest = item.partition("..")
        stop_text, slash, step_text = rest.partition("/")
        if not start_text.strip() or not stop_text.strip() or (slash and not step_text.strip()):
            raise InputError(f"--{option} range {item!r} is not understood; use "
                             f"START..STOP/STEP, e.g. {_EXAMPLES[option].split(' or ')[-1]}")
        start, stop = parse_one(start_text), parse_one(stop_text)
        if slash:
            step = parse_one(step_text, step=True)
        elif default_step is not None:
            step = default_step
        else:
            raise InputError(f"--{option} range {item!r} has no step; add /STEP, e.g. "
                             f"{_EXAMPLES[option].split(' or ')[-1]}")
        if step <= 0:
            raise InputError(f"--{option} range {item!r} has step {step_text!r}; the step must "
                             "be positive")
        if stop < start:
            raise InputError(f"--{option} range {item!r} runs backwards; give START <= STOP")
        count = int((stop - start) // step) + 1
        segments.append(Segment(start, step, count))
    return tuple(segments)


def _size_parser(option: str):
    def parse_one(text, step=False):
        return parse_size(text, what=f"--{option}" + (" step" if step else ""))
    return parse_one


def _procs_one(text, step=False):
    cleaned = str(text).strip().replace("_", "")
    if not re.fullmatch(r"[0-9]{1,20}", cleaned):      # 20 digits: int() stays cheap
        what = "--procs step" if step else "--procs"
        raise InputError(f"{what} {shown(text)} is not a whole number; use a count from 1 to "
                         f"{MAX_PROCS}, a list 1,10,100 or a range 1..3000/10")
    return int(cleaned)


def _touched_one(text, step=False):
    return parse_fraction(text, what="--touched step" if step else "--touched")


def parse_size_axis(text, option: str = "size") -> Axis:
    """Region sizes: positive byte counts (rounded up to whole 4 KiB pages when evaluated)."""
    axis = Axis(option, _parse_items(text, option, _size_parser(option)))
    rules.SIZE.check(axis.minimum, where=f"--{option} {text!r} includes")
    return axis


def parse_offset_axis(text) -> Axis:
    """Start addresses modulo 512 GiB: multiples of 4 KiB below 512 GiB."""
    axis = Axis("offset", _parse_items(text, "offset", _size_parser("offset")))
    for segment in axis.segments:
        # The start and the step whole pages: every value is.
        for value, what in ((segment.start, "includes"), (segment.step, "has the step")):
            rules.OFFSET_PAGE.check(value, shown=f"{format_size(value)} ({value} B)",
                                    where=f"--offset {text!r} {what}")
    rules.OFFSET_RANGE.check(axis.maximum, shown=format_size(axis.maximum),
                             where=f"--offset {text!r} includes")
    return axis


def parse_procs_axis(text) -> Axis:
    axis = Axis("procs", _parse_items(text, "procs", _procs_one, default_step=1))
    for extreme in (axis.minimum, axis.maximum):
        rules.PROCS.check(extreme, where=f"--procs {text!r} includes")
    return axis


def parse_touched_axis(text) -> Axis:
    axis = Axis("touched", _parse_items(text, "touched", _touched_one))
    for extreme in (axis.minimum, axis.maximum):
        rules.TOUCHED.check(extreme, shown=_show_fraction(extreme),
                            where=f"--touched {text!r} includes")
    rules.TOUCHED_RESOLVED.check(axis.minimum, shown=_show_fraction(axis.minimum),
                                 where=f"--touched {text!r} includes")
    return axis


def parse_choice_axis(text, option: str) -> ChoiceAxis:
    choices = {"access": ACCESSES, "pattern": PATTERNS}[option]
    values = []
    for item in _split(text, option) if text is not None else []:
        value = parse_choice(item, choices, option)
        if value not in values:
            values.append(value)
    return ChoiceAxis(option, tuple(values))


def parse_strategy_axis(values) -> tuple[str, ...]:
    return parse_strategies(values)


def _show_fraction(value) -> str:
    return str(float(value)) if isinstance(value, Fraction) else str(value)

"""Byte sizes: parse user text to exact integers, format integers for humans.

Binary units (KiB, MiB, ... and bare K, M, G, T, P) are powers of 1024; SI units (kB, MB, GB,
TB, PB) are powers of 1000.  Parsing is exact: "1.5GiB" is computed with Fraction, never float.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from ptcalc.errors import InputError

BINARY_UNITS = {
    "": 1, "b": 1,
    "k": 2**10, "kib": 2**10, "m": 2**20, "mib": 2**20, "g": 2**30, "gib": 2**30,
    "t": 2**40, "tib": 2**40, "p": 2**50, "pib": 2**50, "e": 2**60, "eib": 2**60,
}
SI_UNITS = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15, "eb": 10**18}
UNIT_FACTORS = {**BINARY_UNITS, **SI_UNITS}

_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?\s*([a-zA-Z]*)\s*$")

ACCEPTED_SIZES = "a byte count such as 4096, 4KiB, 1.5GiB, 2M (binary) or 10GB (decimal)"


class UnitError(InputError):
    """A size or fraction the user typed cannot be understood."""


def parse_size(text: str | int, *, what: str = "size") -> int:
    """Parse "4096", "4KiB", "1.5GiB", "2M", "10GB" to an exact int of bytes.

    A fractional result is rejected rather than rounded: "0.5B" is an error.
    """
    if isinstance(text, bool):
        raise UnitError(f"{what} {text!r} is not a size; use {ACCEPTED_SIZES}")
    if isinstance(text, int):
        if text < 0:
            raise UnitError(f"{what} {text} is negative; use {ACCEPTED_SIZES}")
        return text
    if isinstance(text, float):
        if not math.isfinite(text) or text < 0 or text != int(text):
            raise UnitError(f"{what} {text!r} is not a whole, non-negative byte count")
        return int(text)
    if str(text).strip().startswith("-"):
        raise UnitError(f"{what} {str(text)!r} is negative; use {ACCEPTED_SIZES}")
    match = _SIZE_RE.match(str(text))
    if not match:
        raise UnitError(f"{what} {str(text)!r} is not understood; use {ACCEPTED_SIZES}")
    number, exponent, unit = match.groups()
    factor = UNIT_FACTORS.get(unit.lower())
    if factor is None or (unit.lower() == "b" and unit not in ("b", "B")):
        raise UnitError(f"{what} {str(text)!r} has an unknown unit {unit!r}; "
                        f"use {ACCEPTED_SIZES}")
    value = Fraction(number) * factor
    if exponent:
        value *= Fraction(10) ** int(exponent)
    if value.denominator != 1:
        raise UnitError(f"{what} {str(text)!r} is not a whole number of bytes")
    return int(value)


def parse_fraction(text: str | float, *, what: str = "touched") -> Fraction:
    """Parse a fraction in (0, 1] exactly: "0.3" -> 3/10, "25%" -> 1/4."""
    raw = str(text).strip()
    try:
        value = Fraction(raw[:-1]) / 100 if raw.endswith("%") else Fraction(raw)
    except (ValueError, ZeroDivisionError):
        raise UnitError(f"{what} {raw!r} is not a number; "
                        "use a fraction such as 0.5 or 50%") from None
    return value


_IEC_STEPS = [(2**60, "EiB"), (2**50, "PiB"), (2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"),
              (2**10, "KiB")]
_SI_STEPS = [(10**18, "EB"), (10**15, "PB"), (10**12, "TB"), (10**9, "GB"), (10**6, "MB"),
             (10**3, "kB")]


def format_size(value, units: str = "iec", digits: int = 3) -> str:
    """Format a byte count: 1073741824 -> "1 GiB", 1.5 GiB -> "1.5 GiB".

    units: "iec" (powers of 1024), "si" (powers of 1000) or "bytes" (the exact integer).
    None and NaN format as "-".
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if units == "bytes":
        return f"{int(value)}" if float(value).is_integer() else f"{value:.1f}"
    steps = _IEC_STEPS if units == "iec" else _SI_STEPS
    magnitude = abs(value)
    for factor, name in steps:
        if magnitude >= factor:
            scaled = value / factor
            return f"{_trim(scaled, digits)} {name}"
    return f"{_trim(value, digits)} B"


def _trim(number, digits: int) -> str:
    text = f"{float(number):.{digits}f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"

"""Byte sizes: parse user text to exact integers, format integers for humans.

Memory sizes in this field are binary, and so is ptcalc by default: KiB, MiB, ..., bare K, M,
G, T, P and also kB, MB, GB, TB, PB (any case) are powers of 1024, as PostgreSQL reads them
("the multiplier for memory units is 1024, not 1000",
https://www.postgresql.org/docs/current/config-setting.html), as Oracle reads K/M/G, and as
/proc/meminfo writes kB.  With decimal=True the kB ... PB spellings are powers of 1000 (SI);
a plain byte count such as 10e9 is decimal anyway.  Parsing is exact: "1.5GiB" is computed
with Fraction, never float; a value with a unit that is not a whole number of bytes
("1.6GiB" = 1717986918.4 B) is rounded up to the next byte, a fractional byte count ("0.5B")
is an error.
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
# kB/MB/GB/... as databases write them: binary unless decimal units are asked for.
AMBIGUOUS_UNITS = {unit: 2 ** (10 * (index + 1)) for index, unit in enumerate(SI_UNITS)}

_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?\s*([a-zA-Z]*)\s*$")

ACCEPTED_SIZES = ("a byte count such as 4096, 10e9, 4KiB, 1.6GiB, 2M or 64GB (binary, as "
                  "databases read it)")


class UnitError(InputError):
    """A size or fraction the user typed cannot be understood."""


# Bounds checked on the text, before any arithmetic: 10**999999999 would take minutes, int()
# refuses more than 4300 digits, and no memory size is above 2**64 bytes.
MAX_NUMBER_CHARS = 64
MAX_EXPONENT = 30
MAX_BYTES = 2**64        # 16 EiB: more than any x86-64 address space (57 bits)


def shown(text, limit: int = 40) -> str:
    """`text` quoted for an error message, cut to `limit` characters."""
    text = str(text)
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} chars)"


def check_number_text(text, what: str) -> None:
    """UnitError when the number in `text` is too long or its exponent too large to be a
    real value (checked before any arithmetic)."""
    raw = str(text).strip()
    if len(raw) > MAX_NUMBER_CHARS:
        raise UnitError(f"{what} {shown(raw)} is too long for a number (over "
                        f"{MAX_NUMBER_CHARS} characters)")
    match = re.search(r"[eE]([+-]?)0*([0-9]+)", raw)
    if (match and len(match.group(2)) > 2) or (match and int(match.group(2)) > MAX_EXPONENT):
        raise UnitError(f"{what} {shown(raw)} has an exponent beyond e{match.group(1)}"
                        f"{MAX_EXPONENT}; no size, count or fraction is that large or small")


def parse_size(text: str | int, *, what: str = "size", decimal: bool = False) -> int:
    """Parse "4096", "4KiB", "1.6GiB", "2M", "64GB" to an exact int of bytes.

    kB/MB/GB/TB/PB/EB are binary unless `decimal`; a value with a unit rounds up to a whole
    byte, a fractional plain byte count ("0.5B", "1.5") is rejected.
    """
    return _parse(text, what, decimal)[0]


def describe_size(text, *, decimal: bool = False) -> str | None:
    """How ptcalc read `text`, when a reader could take it otherwise: "64GB read as 64 GiB",
    "10GB read as 10 GB (decimal)", "1.6GiB read as 1,717,986,919 bytes, rounded up to a whole
    byte"; None for text that can only mean one thing (4096, 4KiB, 2M)."""
    if isinstance(text, int):
        return None
    value, unit, rounded = _parse(text, "size", decimal)
    shown = str(text).strip()
    number = shown[:len(shown) - len(unit)].strip() if unit else shown
    meaning = None
    if unit.lower() in AMBIGUOUS_UNITS:
        steps = SI_UNITS if decimal else AMBIGUOUS_UNITS
        name = dict(_SI_STEPS if decimal else _IEC_STEPS)[steps[unit.lower()]]
        meaning = f"{number} {name}" + (" (decimal)" if decimal else "")
    if rounded:
        exact = f"{value:,} bytes, rounded up to a whole byte"
        return f"{shown} read as " + (f"{meaning} = {exact}" if meaning else exact)
    return f"{shown} read as {meaning}" if meaning else None


def _parse(text, what: str, decimal: bool) -> tuple[int, str, bool]:
    """(bytes, unit as typed, whether it was rounded up to a whole byte)."""
    if isinstance(text, bool):
        raise UnitError(f"{what} {text!r} is not a size; use {ACCEPTED_SIZES}")
    if isinstance(text, int):
        if text < 0:
            raise UnitError(f"{what} {text} is negative; use {ACCEPTED_SIZES}")
        return text, "", False
    if isinstance(text, float):
        if not math.isfinite(text) or text < 0 or text != int(text):
            raise UnitError(f"{what} {text!r} is not a whole, non-negative byte count")
        return int(text), "", False
    check_number_text(text, what)
    if str(text).strip().startswith("-"):
        raise UnitError(f"{what} {str(text)!r} is negative; use {ACCEPTED_SIZES}")
    match = _SIZE_RE.match(str(text))
    if not match:
        raise UnitError(f"{what} {str(text)!r} is not understood; use {ACCEPTED_SIZES}")
    number, exponent, unit = match.groups()
    key = unit.lower()
    factor = (SI_UNITS if decimal else AMBIGUOUS_UNITS).get(key) or BINARY_UNITS.get(key)
    if factor is None or (key == "b" and unit not in ("b", "B")):
        raise UnitError(f"{what} {str(text)!r} has an unknown unit {unit!r}; "
                        f"use {ACCEPTED_SIZES}")
    value = Fraction(number) * factor
    if exponent:
        value *= Fraction(10) ** int(exponent)
    if value > MAX_BYTES:
        raise UnitError(f"{what} {str(text)!r} is above 16 EiB (2**64 bytes), beyond any "
                        "x86-64 address space; give a real memory size")
    if value.denominator == 1:
        return int(value), unit, False
    if factor == 1:
        raise UnitError(f"{what} {str(text)!r} is not a whole number of bytes")
    return math.ceil(value), unit, True


def parse_count(text, *, what: str = "count") -> int:
    """A whole count as people write it: "1500", "1,500", "1_500" (no sign, no fraction)."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    raw = str(text).strip()
    check_number_text(raw, what)
    if not re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})+|[0-9]+(_[0-9]+)*", raw):
        raise UnitError(f"{what} {raw!r} is not a whole number; write it as 1500, 1,500 or "
                        "1_500")
    return int(raw.replace(",", "").replace("_", ""))


def parse_fraction(text: str | float, *, what: str = "touched") -> Fraction:
    """Parse a fraction in (0, 1] exactly: "0.3" -> 3/10, "25%" -> 1/4."""
    raw = str(text).strip()
    check_number_text(raw, what)
    if not raw.isascii():          # Fraction() reads Arabic-Indic digits; nothing else does
        raise UnitError(f"{what} {shown(raw)} is not a number; use a fraction such as 0.5 "
                        "or 50% (ASCII digits)")
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

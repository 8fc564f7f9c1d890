"""Scenarios from an inventory file (`ptcalc compare --from FILE.csv`): one per line.

The file is CSV with a header line naming its columns, in any order, from COLUMNS: `size`
and `procs` (each required unless the command line or a preset gives it), and any of `name`
(a label echoed in the output), `ram`, `offset`, `touched`, `access`, `pattern`.  Values
are written as on the command line (64GB, 1,500, 0.3, read).  An empty cell takes the
command line's value, else the preset's, else the default.  Blank lines and lines starting
with `#` are skipped.  Errors name the file, the line and the column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

from ptcalc.errors import InputError

COLUMNS = ("name", "size", "procs", "ram", "offset", "touched", "access", "pattern")
REQUIRED = ("size", "procs")


@dataclass(frozen=True)
class Line:
    """One inventory line: where it is and the values it gives (None: empty)."""

    number: int          # 1-based line number in the file
    values: dict         # column -> text or None


def read_lines(text: str, source: str) -> list[Line]:
    """The data lines of an inventory; InputError naming `source`, line and column."""
    header = None
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            cells = next(csv.reader([line]))
        except csv.Error as error:
            raise InputError(f"{source}:{number}: not valid CSV: {error}") from None
        if header is None:
            header = _header(cells, source, number)
            continue
        if len(cells) > len(header):
            raise InputError(f"{source}:{number}: {len(cells)} cells but the header names "
                             f"{len(header)} columns ({', '.join(header)})")
        values = dict.fromkeys(header)
        for key, cell in zip(header, cells):
            values[key] = cell.strip() or None
        lines.append(Line(number, values))
    if header is None:
        raise InputError(f"{source}: empty; give a header line (e.g. name,size,procs,ram) "
                         "and one line per scenario")
    if not lines:
        raise InputError(f"{source}: only a header; give one line per scenario below it")
    return lines


def _header(cells: list[str], source: str, number: int) -> list[str]:
    header = [cell.strip().lower() for cell in cells]
    for key in header:
        if key not in COLUMNS:
            raise InputError(f"{source}:{number}: unknown column {key!r}; known: "
                             f"{', '.join(COLUMNS)}")
    duplicated = sorted({key for key in header if header.count(key) > 1})
    if duplicated:
        raise InputError(f"{source}:{number}: column {duplicated[0]!r} appears twice")
    return header


def merged(line: Line, base: dict, source: str) -> dict:
    """The line's values over `base` (the command line, a preset and the defaults)."""
    values = dict(base)
    values.update({key: value for key, value in line.values.items()
                   if value is not None and key != "name"})
    for key in REQUIRED:
        if values.get(key) is None:
            raise InputError(f"{source}:{line.number}: column {key}: empty and no --{key} "
                             f"given; give a {key} for every line")
    return values


#: Values a cell is checked against on its own (any valid scenario would do).
_ALONE = {"size": "4096", "procs": "1", "offset": "0", "touched": "1", "access": "write",
          "pattern": "dense", "ram": None}


def check_line(line: Line, values: dict, source: str, check) -> None:
    """Run `check(values)` (it raises InputError) on each cell of the line alone, then on
    the line's values together, so that the error names the column that is wrong."""
    for key, value in line.values.items():
        if value is None or key == "name":
            continue
        try:
            check({**_ALONE, key: value})
        except InputError as error:
            raise InputError(f"{source}:{line.number}: column {key}: {error}") from None
    try:
        check(values)
    except InputError as error:
        given = [key for key in ("size", "offset", "ram") if line.values.get(key)]
        where = f"column {given[0]}" if given else "its values with the options"
        raise InputError(f"{source}:{line.number}: {where}: {error}") from None

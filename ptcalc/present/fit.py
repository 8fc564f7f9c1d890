"""Tables and text that fit the terminal: which columns to show, where text wraps.

The command line sets one `Fit` per command (`use`): the width to fit (COLUMNS, else the
terminal's width, else no limit when stdout is not a terminal; see docs/cli.md), the columns
the user chose with --columns, and --wide (no limit).  `ptcalc.present.tables.render` and
the text listings read it with `current()`; library callers get `Fit()` (no limit, every
column), so nothing changes for them.

Fitting a table: every column gets its natural width (its widest cell; a header may wrap
at spaces onto several lines); columns are taken in their priority order while they fit,
a column that does not fit is left out (a later, narrower one may still fit), the table
keeps its display order, and text columns that allow it wrap their cells onto several lines
to use the width left.  The rows are laid out by tabulate; the titles and notes wrap with
textwrap.  Standard library and tabulate only.
"""

from __future__ import annotations

import textwrap
from contextvars import ContextVar
from dataclasses import dataclass

GAP = 2                 # tabulate's "simple" format: two spaces between columns
HEADER_PADDING = 2      # tabulate.MIN_PADDING: a column is at least its header + 2 wide
MIN_WRAP = 16           # a wrapping text column gets at least this many characters
HEADER_WRAP_GAIN = 3    # a header wraps only where that narrows its column by more than this


@dataclass(frozen=True)
class Fit:
    """How wide tables may be.  width None: no limit (every column, nothing wrapped)."""

    width: int | None = None
    columns: tuple[str, ...] | None = None     # --columns: exactly these keys, in order

    @property
    def limited(self) -> bool:
        return self.width is not None


_CURRENT: ContextVar[Fit | None] = ContextVar("ptcalc_table_fit", default=None)


def current() -> Fit:
    return _CURRENT.get() or Fit()


def use(fit: Fit):
    """Make `fit` current; returns the token for `restore`."""
    return _CURRENT.set(fit)


def restore(token) -> None:
    _CURRENT.reset(token)


def _fill(line: str, width: int, lead: str = "", indent: str = "") -> list[str]:
    """One paragraph wrapped at spaces; a word too long for a line (a URL) starts a line of
    its own, moved left as far as it must to fit, and is split only if longer than the
    width."""
    lines = textwrap.wrap(line, width=width, initial_indent=lead, subsequent_indent=indent,
                          break_long_words=False, break_on_hyphens=False) or [""]
    out = []
    for text in lines:
        if len(text) <= width:
            out.append(text)
            continue
        word = text.strip()
        if len(word) <= width:
            out.append(word.rjust(width))
            continue
        out.extend(word[i:i + width] for i in range(0, len(word), width))
    return out


def wrap(text: str, width: int | None, indent: str = "") -> str:
    """`text` (one paragraph per line) wrapped to `width`; continuation lines indented by the
    line's own leading spaces plus `indent`.  No limit: unchanged.  No line exceeds the
    width (a word longer than it, a long URL, is split)."""
    if width is None or not text:
        return text
    out = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        lead = line[:len(line) - len(line.lstrip(" "))]
        out.extend(_fill(line.strip(), width, lead, (lead + indent)[:max(0, width // 2)]))
    return "\n".join(out)


def _lines(cell: str) -> list[str]:
    return str(cell).split("\n")


def _longest_word(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


@dataclass(frozen=True)
class Column:
    header: str
    align: str = "left"          # "left" or "right"
    wraps: bool = False          # text that may wrap onto several lines


def choose_columns(columns: list[Column], rows: list[list[str]], priority: list[int],
                   width: int | None) -> tuple[list[int], dict[int, int]]:
    """The indices of the columns to show (display order) and, for wrapping columns, the
    width to wrap them at (headers wrap at spaces as well)."""
    if width is None:
        return list(range(len(columns))), {}
    cell_width = [max([len(line) for row in rows for line in _lines(row[i])] or [0])
                  for i in range(len(columns))]
    natural, least = [], []
    for i, column in enumerate(columns):
        header = len(column.header) + HEADER_PADDING
        if header > cell_width[i] + HEADER_WRAP_GAIN:    # worth wrapping at its spaces
            header = _longest_word(column.header) + HEADER_PADDING
        natural.append(max(cell_width[i], header))
        if column.wraps:
            least.append(min(natural[i], max(MIN_WRAP, header)))
        else:
            least.append(natural[i])
    chosen: list[int] = []
    used = 0
    for i in priority:
        need = least[i] + (GAP if chosen else 0)
        if used + need <= width or not chosen:
            chosen.append(i)
            used += need
    spare = max(0, width - used)
    widths = {}
    for i in priority:              # the width left goes to wrapping text, by priority
        if i in chosen and columns[i].wraps:
            extra = min(spare, natural[i] - least[i])
            widths[i] = least[i] + extra
            spare -= extra
    return sorted(chosen), {i: w for i, w in widths.items() if w < cell_width[i]}


def _wrap_cell(text: str, width: int) -> str:
    return "\n".join("\n".join(_fill(line, width)) for line in _lines(text))


def _header(text: str, width: int | None) -> str:
    """A header wrapped at spaces to fit a column `width` wide (its cells' width)."""
    if width is None or len(text) + HEADER_PADDING <= width + HEADER_WRAP_GAIN:
        return text
    return "\n".join(textwrap.wrap(text, width=max(width - HEADER_PADDING, 1),
                                   break_long_words=False, break_on_hyphens=False))


def table_text(columns: list[Column], rows: list[list[str]], priority: list[int] | None = None,
               tablefmt: str = "simple", width: int | None = None) -> tuple[str, list[str]]:
    """Rows laid out by tabulate within `width` (None: every column, one line per row).
    Returns the text and the headers of the columns left out."""
    tabulate = tabulate_function()
    order = priority if priority is not None else list(range(len(columns)))
    order = [i for i in order if i < len(columns)]
    order += [i for i in range(len(columns)) if i not in order]
    shown, wrap_at = choose_columns(columns, rows, order, width)
    while True:
        cells = [[_wrap_cell(row[i], wrap_at[i]) if i in wrap_at else row[i] for i in shown]
                 for row in rows]
        widths = [max([len(line) for row in cells for line in _lines(row[n])] or [0])
                  for n in range(len(shown))]
        headers = [_header(columns[i].header, widths[n] if width else None)
                   for n, i in enumerate(shown)]
        text = tabulate(cells, headers=headers, tablefmt=tablefmt, disable_numparse=True,
                        colalign=[columns[i].align for i in shown])
        too_wide = width is not None and max(map(len, text.split("\n"))) > width
        if not too_wide or len(shown) == 1:
            break
        # a safety net: tabulate padded more than estimated; drop the least important
        shown.remove(max(shown, key=order.index))
    hidden = [columns[i].header for i in order if i not in shown]
    return text, hidden


def hidden_note(hidden: list[str], width: int | None,
                how: str = "--wide shows every column, --columns KEY,... chooses") -> str | None:
    """The note that says which columns were left out, and how to see them."""
    if not hidden:
        return None
    names = ", ".join(h.replace("\n", " ") for h in hidden)
    return f"not shown at {width} columns: {names} ({how})"


# Headers of tables built as plain rows (ptcalc inspect), most important first; headers
# not listed follow in display order (the what-if matrix: one column per shared object).
HEADER_PRIORITY = (
    "strategy", "pid", "name", "path", "VmPTE", "predicted", "diff %", "all shared",
    "PT total", "saving vs now", "size", "procs", "PT now", "PT now (physical)", "applies",
    "PT/process", "faults total", "diff", "touched", "identity", "placement",
)
_WRAPPING_HEADERS = frozenset({"notes", "reason", "placement"})


def fitted(rows: list[list], headers: list[str], tablefmt: str = "simple",
           fit: Fit | None = None) -> str:
    """Plain rows and headers as a table fitted to `fit` (default: the current one), with
    the note on the columns left out; for tables built outside ptcalc.present."""
    fit = fit or current()
    width = fit.width if tablefmt == "simple" else None
    columns = [Column(h, "left", wraps=h in _WRAPPING_HEADERS and width is not None)
               for h in headers]
    rank = {header: n for n, header in enumerate(HEADER_PRIORITY)}
    priority = sorted(range(len(headers)), key=lambda i: (rank.get(headers[i], len(rank)), i))
    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    text, hidden = table_text(columns, cells, priority, tablefmt, width)
    note = hidden_note(hidden, width, "--wide shows every column")
    return text + ("\n" + wrap(note, width, indent="  ") if note else "")


def tabulate_function():
    """tabulate.tabulate, imported without its optional wcwidth module when nothing has
    loaded them yet: wcwidth only measures wide (CJK, emoji) characters, which these ASCII
    tables never hold, and importing it costs about 10 ms of a 200 ms cold start."""
    import sys

    if "tabulate" not in sys.modules and "wcwidth" not in sys.modules:
        sys.modules["wcwidth"] = None            # makes tabulate's `import wcwidth` fail
        try:
            import tabulate
        finally:
            del sys.modules["wcwidth"]
    import tabulate

    return tabulate.tabulate

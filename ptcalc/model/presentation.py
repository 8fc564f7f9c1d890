"""Formulas people can read: each metric as a few named quantities, short symbols, a legend.

The model's expressions (ptcalc/model/expressions.py) are exact but long: the private-4k
per-process bytes is three nested `tables()` pieces.  A presentation form names the pieces a
reader thinks in ("PTE tables", "shared PMD tables", "faults of each later process"), writes
the inputs as S, o, t, N, F, f and the geometric constants as sizes (2 MiB, 1 GiB), and
prints every step on its own line:

    PTE tables = ⌈(o + t) / 2 MiB⌉ − ⌊o / 2 MiB⌋   (0 if t = 0)
    pt_bytes_per_process = 4 KiB × (PTE tables + PMD tables + PUD tables)

A named quantity is substituted only where its exact expression occurs, so the steps always
multiply back out to the model's expression (tests/model/test_presentation.py checks it).
Text and LaTeX (matplotlib-mathtext compatible: no \\begin{cases}, no \\text) come from one
walk of the expression tree.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ptcalc import paging
from ptcalc.model import symbols as S
from ptcalc.model.expressions import expressions
from ptcalc.model.strategies import BASELINE, hugetlb_2m_pmdshare, thp_shmem
from ptcalc.model.strategies.base import Context

# input symbol -> (text, LaTeX, meaning).  Names of the model's columns stay in the legend.
INPUT_SYMBOLS = {
    S.size_bytes: ("S", "S", "region size in bytes, whole 4 KiB pages (size_bytes)"),
    S.offset_bytes: ("o", "o", "start address of the region modulo 512 GiB (offset_bytes)"),
    S.touched_bytes: ("t", "t", ("bytes each process touches, a dense prefix from the start: "
                                 "⌈touched × S / 4 KiB⌉ × 4 KiB (touched_bytes)")),
    S.touched: ("f", "f", ("fraction of pages each process touches, each page independently "
                           "(touched, random pattern)")),
    S.procs: ("N", "N", "processes mapping the region (procs)"),
    S.fault_around_bytes: ("F", "F", ("fault-around window, the kernel's fault_around_bytes "
                                "(default 64 KiB)")),
    S.read_access: ("r", "r", "1 for read access, 0 for write (access)"),
}

# constant -> (text, LaTeX, meaning)
CONSTANT_SYMBOLS = {
    S.PAGE: ("4 KiB", r"4\,\mathrm{KiB}", "one base page (PAGE_BYTES)"),
    S.TABLE: ("4 KiB", r"4\,\mathrm{KiB}", "one page-table page (TABLE_BYTES)"),
    S.PTE_SPAN: ("2 MiB", r"2\,\mathrm{MiB}", "what one PTE table maps (PTE_SPAN)"),
    S.PMD_SPAN: ("1 GiB", r"1\,\mathrm{GiB}", "what one PMD table maps (PMD_SPAN)"),
    S.PUD_SPAN: ("512 GiB", r"512\,\mathrm{GiB}", "what one PUD table maps (PUD_SPAN)"),
    S.P4D_SPAN: ("256 TiB", r"256\,\mathrm{TiB}", "what one P4D table maps (P4D_SPAN)"),
}

LEVEL_WORD = {"pte": "PTE", "pmd": "PMD", "pud": "PUD", "p4d": "P4D"}


@dataclass(frozen=True)
class Step:
    """One line of a presentation form: `name = text`."""

    name: str
    text: str
    latex: str


@dataclass(frozen=True)
class Form:
    """A metric as named steps (the last one is the metric) and the legend of its symbols."""

    strategy: str
    metric: str
    levels: int
    pattern: str
    steps: tuple[Step, ...]
    legend: tuple[tuple[str, str], ...]     # (symbol as shown, meaning)


class Quantity(sp.Symbol):
    """A named intermediate quantity, printed by its name (may contain spaces)."""


# Short symbols for boundaries, explained in the legend.
BOUNDARIES = {
    "a": "start of the first whole 1 GiB slot",
    "b": "end of the last whole 1 GiB slot of the 2 MiB-rounded mapping",
    "a₁": "start of the first whole 1 GiB slot",
    "b₁": "end of the last whole 1 GiB slot",
    "a₂": "start of the first whole 2 MiB slot",
    "b₂": "end of the last whole 2 MiB slot",
    "w": "end of the first fault-around window (clipped to its 2 MiB PTE table)",
    "w′": "end of the first fault-around window after b₂",
}


def _first_window_end(start):
    """DenseTouch/RandomTouch.read_windows(): the first window [start, start + F) cut at the
    2 MiB table boundary."""
    return sp.Min(start + S.fault_around_bytes, S.align_down(start, S.PTE_SPAN) + S.PTE_SPAN)


def _quantities(strategy: str, ctx: Context) -> list[tuple[str, sp.Expr]]:
    """(name, expression) of the quantities a reader of `strategy` thinks in, most specific
    first.  Where two names share one expression the first wins."""
    touch = ctx.touch()
    start, end = S.offset_bytes, S.offset_bytes + S.size_bytes
    out: list[tuple[str, sp.Expr]] = [("w", _first_window_end(start))]
    if strategy == "mshare":
        host = ctx.touch(base=0)
        out += [(f"host {LEVEL_WORD[level]} tables",
                 host.slots(0, S.size_bytes, S.SPAN_OF_LEVEL[level])) for level in ctx.levels]
        out.append(("pages touched", host.pages(0, S.size_bytes)))
        return out
    if strategy == "thp-shmem":
        mappable = thp_shmem.pmd_mappable_bytes()
        split = start + mappable
        out += [("PMD-mapped bytes", mappable),
                ("2 MiB folios touched", touch.slots(start, split, S.PTE_SPAN)),
                ("PTE tables", touch.slots(split, end, S.PTE_SPAN)),
                ("4 KiB pages touched", touch.pages(split, end)),
                ("fault-around windows", touch.read_windows(split, end))]
    if strategy in ("hugetlb-2m", "hugetlb-2m-pmdshare"):
        out.append(("2 MiB pages touched", touch.slots(start, end, S.PTE_SPAN)))
    if strategy == "hugetlb-1g":
        out.append(("1 GiB pages touched", touch.slots(start, end, S.PMD_SPAN)))
    if strategy == "hugetlb-2m-pmdshare":
        first, last = hugetlb_2m_pmdshare.shared_slot_range()
        last_touchable = sp.Min(last, end)
        out += [("a", first), ("b", last),
                ("shared PMD tables", touch.slots(first, last_touchable, S.PMD_SPAN)),
                ("2 MiB pages in shared slots", touch.slots(first, last_touchable, S.PTE_SPAN))]
    if strategy == "file-pt":
        full_1g = (S.align_up(start, S.PMD_SPAN), S.align_down(end, S.PMD_SPAN))
        full_2m = (S.align_up(start, S.PTE_SPAN), S.align_down(end, S.PTE_SPAN))
        head = (start, sp.Min(full_2m[0], end))
        tail = (sp.Max(full_2m[1], full_2m[0]), end)
        out += [("a₁", full_1g[0]), ("b₁", full_1g[1]), ("a₂", full_2m[0]), ("b₂", full_2m[1]),
                ("shared PMD tables", touch.slots(*full_1g, S.PMD_SPAN)),
                ("shared PTE tables", touch.slots(*full_2m, S.PTE_SPAN)),
                ("PTE tables under shared PMD tables", touch.slots(*full_1g, S.PTE_SPAN)),
                ("w′", _first_window_end(tail[0])),
                ("pages before a₂", touch.pages(*head)), ("pages after b₂", touch.pages(*tail)),
                ("fault-around windows before a₂", touch.read_windows(*head)),
                ("fault-around windows after b₂", touch.read_windows(*tail))]
    out += [(f"{LEVEL_WORD[level]} tables", touch.slots(start, end, S.SPAN_OF_LEVEL[level]))
            for level in ctx.levels]
    out += [("pages touched", touch.pages(start, end)),
            ("fault-around windows", touch.read_windows(start, end))]
    return out


def _metric_quantities(metrics: dict, metric: str, baseline=None) -> list[tuple[str, sp.Expr]]:
    """Other metrics that appear inside `metric` (faults_total is built from the first and
    later processes' faults)."""
    if metric == "faults_total":
        return [("faults of the first process", metrics["faults_first"]),
                ("faults of each later process", metrics["faults_next"])]
    if metric == "savings_vs_private_4k" and baseline is not None:
        return [("pt_bytes_total", metrics["pt_bytes_total"]),
                ("private-4k pt_bytes_total", baseline)]
    return []


def _substitute(expr, named: list[tuple[str, sp.Expr, Quantity]]):
    for _, definition, symbol in named:
        if definition != expr:
            expr = expr.xreplace({definition: symbol})
    return expr


def _used(expr) -> set:
    return {s for s in expr.free_symbols if isinstance(s, Quantity)} if isinstance(
        expr, sp.Basic) else set()


@dataclass(frozen=True)
class Named:
    """The sympy side of a form: quantities in the order shown, their definitions (in terms
    of earlier quantities) and the metric in terms of them."""

    order: tuple
    definitions: dict
    shown: object
    rank: dict


def named(strategy: str, metric: str, levels: int = 4, pattern: str = "dense") -> Named:
    """The metric rewritten with named quantities (see the module docstring)."""
    ctx = Context(paging.paging_for(levels), pattern)
    metrics = expressions(strategy, levels, pattern)
    expr = metrics[metric]
    baseline = expressions(BASELINE, levels, pattern)["pt_bytes_total"]
    candidates = _metric_quantities(metrics, metric, baseline) + _quantities(strategy, ctx)
    if strategy != BASELINE and metric == "savings_vs_private_4k":
        candidates += _quantities(BASELINE, ctx)
    quantities, seen, names = [], set(), set()
    for name, definition in candidates:
        if (definition in seen or name in names or not isinstance(definition, sp.Basic)
                or definition.is_Atom):
            continue     # the first name of an expression wins; a name means one thing
        seen.add(definition)
        names.add(name)
        quantities.append((name, definition, Quantity(name, integer=pattern == "dense")))
    rank = {symbol: i for i, (_, _, symbol) in enumerate(quantities)}
    # Replace the largest expressions first so that a quantity's own parts stay visible in its
    # definition (and are named there) rather than being eaten from inside.
    quantities.sort(key=lambda item: -sp.count_ops(item[1]))
    shown = None if expr is None else sp.factor_terms(_substitute(expr, quantities))
    definitions = {symbol: sp.factor_terms(_substitute(definition, quantities))
                   for _, definition, symbol in quantities}
    order: list[Quantity] = []

    def visit(e):
        for symbol in sorted(_used(e), key=lambda q: rank[q]):
            if symbol not in order:
                visit(definitions[symbol])
                order.append(symbol)

    visit(shown)
    return Named(tuple(order), {s: definitions[s] for s in order}, shown, rank)


def form(strategy: str, metric: str, levels: int = 4, pattern: str = "dense") -> Form:
    """The presentation form of one metric of one strategy."""
    parts = named(strategy, metric, levels, pattern)
    rank, definitions = parts.rank, parts.definitions
    steps = [Step(str(s), text(definitions[s], rank), latex(definitions[s], rank))
             for s in parts.order]
    steps += _metric_steps(metric, parts.shown, rank)
    used = set().union(*(_atoms(d) for d in definitions.values()), _atoms(parts.shown))
    if S.touched_bytes in used:          # t is defined in terms of S
        used.add(S.size_bytes)
    used.discard(S.read_access)          # printed as "read" / "write"
    legend = [(t, meaning) for sym, (t, _, meaning) in INPUT_SYMBOLS.items() if sym in used]
    legend += [(t, meaning) for sym, (t, _, meaning) in CONSTANT_SYMBOLS.items() if sym in used]
    legend += [(str(s), BOUNDARIES[str(s)]) for s in parts.order if str(s) in BOUNDARIES]
    return Form(strategy, metric, levels, pattern, tuple(steps), _merged(legend))


def _merged(legend) -> tuple[tuple[str, str], ...]:
    """One legend line per symbol (4 KiB is both a page and a table)."""
    meanings: dict[str, list[str]] = {}
    for symbol, meaning in legend:
        meanings.setdefault(symbol, []).append(meaning)
    return tuple((symbol, "; ".join(texts)) for symbol, texts in meanings.items())


def _atoms(expr) -> set:
    return set(expr.free_symbols) if isinstance(expr, sp.Basic) else set()


def _is_access_split(expr) -> bool:
    return (isinstance(expr, sp.Piecewise) and len(expr.args) == 2
            and expr.args[0][1] == sp.Eq(S.read_access, 1) and expr.args[1][1] is sp.true)


def _metric_steps(metric: str, expr, rank) -> list[Step]:
    if expr is None:
        return [Step(metric, "not defined for this strategy", r"\mathrm{n/a}")]
    if _is_access_split(expr):
        (read, _), (write, _) = expr.args
        return [Step(f"{metric} (read)", text(read, rank), latex(read, rank)),
                Step(f"{metric} (write)", text(write, rank), latex(write, rank))]
    return [Step(metric, text(expr, rank), latex(expr, rank))]


# --- printing --------------------------------------------------------------------------------

_TEXT_REL = {"==": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}
_LATEX_REL = {"==": "=", "!=": r"\neq", "<": "<", "<=": r"\leq", ">": ">", ">=": r"\geq"}


class _Printer:
    """One walk of the tree for both outputs; `tex` selects LaTeX."""

    def __init__(self, tex: bool, rank=None):
        self.tex = tex
        self.rank = rank or {}

    def key(self, e):
        """Sort key of a term or factor: numbers, sizes, inputs, then quantities in the order
        they were named."""
        kind = (0 if e.is_Number else 1 if e in CONSTANT_SYMBOLS else
                2 if e in INPUT_SYMBOLS else 3)
        return kind, self.rank.get(e, len(self.rank)), sp.default_sort_key(e)

    # atoms
    def symbol(self, s) -> str:
        if s in INPUT_SYMBOLS:
            return INPUT_SYMBOLS[s][1 if self.tex else 0]
        if s in CONSTANT_SYMBOLS:
            return CONSTANT_SYMBOLS[s][1 if self.tex else 0]
        if self.tex:
            return r"\mathrm{" + str(s).replace(" ", r"\ ").replace("_", r"\_") + "}"
        return str(s)

    def number(self, n) -> str:
        if n.is_Integer:
            return f"{int(n):,}".replace(",", "{,}" if self.tex else ",")
        if n.is_Rational:
            return (rf"\frac{{{n.p}}}{{{n.q}}}" if self.tex else f"{n.p}/{n.q}")
        return str(n)

    # structure
    def p(self, e, parent: int = 0) -> str:
        """Print `e`; wrap it in parentheses when it binds looser than `parent`
        (0 top, 1 sum, 2 product, 3 power)."""
        text, level = self._print(e)
        if level < parent:
            return r"\left(" + text + r"\right)" if self.tex else f"({text})"
        return text

    def _print(self, e) -> tuple[str, int]:
        tex = self.tex
        if e is None:
            return "n/a", 9
        if isinstance(e, bool) or e in (sp.true, sp.false):
            return ("true" if bool(e) else "false"), 9
        if e.is_Symbol:
            return self.symbol(e), 9
        if e.is_Number:
            return self.number(e), (9 if e >= 0 else 1)
        if isinstance(e, S.CeilDiv | S.FloorDiv):
            a, b = e.args
            lo, hi = (r"\lceil ", r" \rceil") if isinstance(e, S.CeilDiv) else (r"\lfloor ",
                                                                              r" \rfloor")
            if tex:
                return f"{lo}\\frac{{{self.p(a)}}}{{{self.p(b)}}}{hi}", 9
            lo, hi = ("⌈", "⌉") if isinstance(e, S.CeilDiv) else ("⌊", "⌋")
            return f"{lo}{self.p(a, 2)} / {self.p(b, 3)}{hi}", 9
        if e.is_Add:
            return self._add(e), 1
        if e.is_Mul:
            return self._mul(e)
        if e.is_Pow:
            base, exp = e.args
            if exp == -1:
                return (rf"\frac{{1}}{{{self.p(base)}}}" if tex else f"1 / {self.p(base, 3)}"), 2
            if tex:
                return f"{self.p(base, 4)}^{{{self.p(exp)}}}", 3
            return f"{self.p(base, 4)}^{self.p(exp, 4)}", 3
        if isinstance(e, sp.Min | sp.Max):
            name = type(e).__name__.lower()
            inner = ", ".join(self.p(a) for a in e.args)
            return (rf"\{name}\left({inner}\right)" if tex else f"{name}({inner})"), 9
        if isinstance(e, sp.Mod):
            a, b = e.args
            return (f"{self.p(a, 2)}" + (r"\ \mathrm{mod}\ " if tex else " mod ") + self.p(b, 3)), 2
        if isinstance(e, sp.Piecewise):
            return self._piecewise(e.args), 9
        if isinstance(e, sp.ITE):
            c, a, b = e.args
            return self._piecewise(((a, c), (b, sp.true))), 9
        if isinstance(e, sp.core.relational.Relational):
            a, b = e.args
            if isinstance(e, sp.Eq) and e.lhs == S.read_access:
                return ("read" if b == 1 else "write"), 9
            a, b, op = _rearranged(a, b, e.rel_op)
            rel = (_LATEX_REL if tex else _TEXT_REL)[op]
            return f"{self.p(a, 1)} {rel} {self.p(b, 1)}", 0
        if isinstance(e, sp.And | sp.Or):
            word = ("and" if isinstance(e, sp.And) else "or")
            word = rf"\ \mathrm{{{word}}}\ " if tex else f" {word} "
            return word.join(self.p(a, 1) for a in e.args), 0
        if isinstance(e, sp.Not):
            return ("not " if not tex else r"\neg ") + self.p(e.args[0], 9), 0
        return str(e), 9

    def _add(self, e) -> str:
        terms = sorted(e.args, key=lambda t: (t.could_extract_minus_sign(), t.is_Number,
                                              self.key(t)))
        out = ""
        for i, term in enumerate(terms):
            negative = term.could_extract_minus_sign()
            body = self.p(-term if negative else term, 1)
            if i == 0:
                out = ("-" if self.tex else "−") + body if negative else body
            else:
                out += (" - " if self.tex else " − ") + body if negative else " + " + body
        return out

    def _mul(self, e) -> tuple[str, int]:
        if e.could_extract_minus_sign():
            return ("-" if self.tex else "−") + self.p(-e, 2), 1
        numer, denom = [], []
        for factor in e.args:
            if factor.is_Pow and factor.args[1].is_Number and factor.args[1] < 0:
                denom.append(factor.args[0] ** -factor.args[1])
            elif factor.is_Rational and factor.q != 1:
                if factor.p != 1:
                    numer.append(sp.Integer(factor.p))
                denom.append(sp.Integer(factor.q))
            else:
                numer.append(factor)
        # numbers and sizes first, then inputs, then named quantities and brackets
        numer.sort(key=self.key)
        times = r" \times " if self.tex else " × "
        top = times.join(self.p(f, 2) for f in numer) if numer else "1"
        if not denom:
            return top, 2
        bottom = times.join(self.p(f, 2) for f in denom)
        if self.tex:
            return rf"\frac{{{top}}}{{{bottom}}}", 9
        return f"{top} / {self.p(sp.Mul(*denom), 3) if len(denom) > 1 else self.p(denom[0], 3)}", 2

    def _piecewise(self, pieces) -> str:
        *cases, (default, cond) = pieces
        if cond is not sp.true:
            cases.append((default, cond))
            default = None
        if self.tex:
            parts = [rf"{self.p(v, 1)}\ \mathrm{{if}}\ {self.p(c, 1)}" for v, c in cases]
            if default is not None:
                parts.append(rf"{self.p(default, 1)}\ \mathrm{{otherwise}}")
            return r"\left\{" + r";\ ".join(parts) + r"\right\}"
        parts = [f"{self.p(v, 1)} if {self.p(c, 1)}" for v, c in cases]
        if default is not None:
            parts.append(f"else {self.p(default, 1)}")
        return "(" + "; ".join(parts) + ")"


_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _rearranged(a, b, op):
    """`a op b` with the terms moved so both sides are sums without minus signs:
    `o < o + t` reads `t > 0`, `a - min(..) < 0` reads `a < min(..)`."""
    difference = sp.Add(a, -b)
    terms = sp.Add.make_args(difference)
    left = [t for t in terms if not t.could_extract_minus_sign()]
    right = [-t for t in terms if t.could_extract_minus_sign()]
    if not left:
        return sp.Add(*right), sp.Integer(0), _FLIPPED[op]
    return sp.Add(*left), sp.Add(*right), op


def _empty_default(e) -> tuple | None:
    """(value, condition) of a `tables()`-shaped piece: value if condition, else 0."""
    if (isinstance(e, sp.Piecewise) and len(e.args) == 2 and e.args[1] == (0, sp.true)):
        return e.args[0]
    return None


def tlb_form(strategy: str, metric: str, expr) -> Form:
    """A TLB metric (ptcalc/model/tlb.py) in the same notation: one step, no quantities."""
    steps = tuple(_metric_steps(metric, expr, {}))
    used = _atoms(expr)
    legend = [(t, meaning) for sym, (t, _, meaning) in INPUT_SYMBOLS.items() if sym in used]
    return Form(strategy, metric, 0, "dense", steps, tuple(legend))


def text(expr, rank=None) -> str:
    """Plain text with Unicode brackets (⌈ ⌉ ⌊ ⌋ × − ≤)."""
    printer = _Printer(False, rank)
    piece = _empty_default(expr)
    if piece is not None:       # a top-level "x if c else 0": say the condition last
        value, condition = piece
        return f"{printer.p(value)}   (0 unless {printer.p(condition)})"
    return printer.p(expr)


def latex(expr, rank=None) -> str:
    """LaTeX that matplotlib's mathtext renders (and MathJax/KaTeX too)."""
    printer = _Printer(True, rank)
    piece = _empty_default(expr)
    if piece is not None:
        value, condition = piece
        return rf"{printer.p(value)}\quad(0\ \mathrm{{unless}}\ {printer.p(condition)})"
    return printer.p(expr)

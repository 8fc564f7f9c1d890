"""Sympy symbols and building blocks shared by every strategy formula.

Symbols carry the same names as DataFrame columns and JSON keys.  Geometric constants are
symbols too (PTE_SPAN, ...), so `ptcalc formula` shows them by name; their values come from
ptcalc.paging and are substituted before compilation.

Integer division is exact: CeilDiv/FloorDiv never go through floats.
"""

from __future__ import annotations

import sympy as sp

from ptcalc import paging

# --- inputs (names == DataFrame columns) ---------------------------------------------------
offset_bytes = sp.Symbol("offset_bytes", integer=True, nonnegative=True)
size_bytes = sp.Symbol("size_bytes", integer=True, positive=True)          # whole pages (mmap)
touched_bytes = sp.Symbol("touched_bytes", integer=True, nonnegative=True)  # dense prefix
touched = sp.Symbol("touched", positive=True)                         # fraction, random
procs = sp.Symbol("procs", integer=True, positive=True)
fault_around_bytes = sp.Symbol("fault_around_bytes", integer=True, positive=True)
read_access = sp.Symbol("read_access", integer=True, nonnegative=True)  # 1 read, 0 write

INPUTS = (offset_bytes, size_bytes, touched_bytes, touched, procs, fault_around_bytes,
          read_access)

# --- geometric constants -------------------------------------------------------------------
PAGE = sp.Symbol("PAGE_BYTES", integer=True, positive=True)
TABLE = sp.Symbol("TABLE_BYTES", integer=True, positive=True)
PTE_SPAN = sp.Symbol("PTE_SPAN", integer=True, positive=True)
PMD_SPAN = sp.Symbol("PMD_SPAN", integer=True, positive=True)
PUD_SPAN = sp.Symbol("PUD_SPAN", integer=True, positive=True)
P4D_SPAN = sp.Symbol("P4D_SPAN", integer=True, positive=True)

CONSTANTS = {
    PAGE: paging.PAGE_BYTES,
    TABLE: paging.TABLE_BYTES,
    PTE_SPAN: paging.PTE_SPAN,
    PMD_SPAN: paging.PMD_SPAN,
    PUD_SPAN: paging.PUD_SPAN,
    P4D_SPAN: paging.P4D_SPAN,
}

SPAN_OF_LEVEL = {"pte": PTE_SPAN, "pmd": PMD_SPAN, "pud": PUD_SPAN, "p4d": P4D_SPAN}


def _fraction_text(printer, a, b) -> str:
    text = [printer.doprint(a), printer.doprint(b)]
    wrapped = [f"({t})" if arg.is_Add or arg.is_Mul else t for t, arg in zip(text, (a, b))]
    return " / ".join(wrapped)


class CeilDiv(sp.Function):
    """Exact ceil(a / b) of integers."""

    is_integer = True

    @classmethod
    def eval(cls, a, b):
        if a.is_Integer and b.is_Integer:
            return sp.Integer(-((-int(a)) // int(b)))
        if a.is_zero:
            return sp.Integer(0)
        return None

    def _sympystr(self, printer):
        return f"ceil({_fraction_text(printer, *self.args)})"

    def _latex(self, printer):
        a, b = self.args
        return rf"\left\lceil \frac{{{printer.doprint(a)}}}{{{printer.doprint(b)}}} \right\rceil"


class FloorDiv(sp.Function):
    """Exact floor(a / b) of integers."""

    is_integer = True

    @classmethod
    def eval(cls, a, b):
        if a.is_Integer and b.is_Integer:
            return sp.Integer(int(a) // int(b))
        if a.is_zero:
            return sp.Integer(0)
        return None

    def _sympystr(self, printer):
        return f"floor({_fraction_text(printer, *self.args)})"

    def _latex(self, printer):
        a, b = self.args
        return rf"\left\lfloor \frac{{{printer.doprint(a)}}}{{{printer.doprint(b)}}} \right\rfloor"


def align_up(x, span):
    return CeilDiv(x, span) * span


def align_down(x, span):
    return FloorDiv(x, span) * span


def tables(start, length, span):
    """Slots of `span` bytes that [start, start+length) touches: ceil((s+L)/g) - floor(s/g).

    docs/model.md section 1; zero for an empty (or negative) range.
    """
    return sp.Piecewise(
        (CeilDiv(start + length, span) - FloorDiv(start, span), length > 0),
        (0, True),
    )


def _miss(pages):
    """Probability that none of `pages` independently touched pages is touched."""
    return (1 - touched) ** sp.Max(0, pages)


def expected_tables(start, length, span):
    """Expected slots of `span` touched when each page of [start, start+length) is touched
    independently with probability `touched`: the sum over slots of 1 - (1-f)^pages_in_slot.

    The first and last slot may be partial; the k-2 slots between them are full.
    """
    end = start + length
    count = CeilDiv(end, span) - FloorDiv(start, span)
    first_pages = (sp.Min(end, align_down(start, span) + span) - start) / PAGE
    last_pages = (end - (CeilDiv(end, span) - 1) * span) / PAGE
    full_pages = span / PAGE
    return sp.Piecewise(
        (0, length <= 0),
        (1 - _miss(length / PAGE), sp.Eq(count, 1)),
        ((1 - _miss(first_pages)) + (1 - _miss(last_pages))
         + (count - 2) * (1 - _miss(full_pages)), True),
    )


class DenseTouch:
    """Every process touches the same dense prefix [base, base + touched_bytes) of the region
    that starts at `base` (the region's address: `offset_bytes`, or 0 inside an mshare host)."""

    name = "dense"

    def __init__(self, base=offset_bytes):
        self.base = base

    def end(self):
        return self.base + touched_bytes

    def _touched_end(self, end):
        """min(end, touched end); the prefix never passes the region end, so say so."""
        return self.end() if end == self.base + size_bytes else sp.Min(end, self.end())

    def slots(self, start, end, span):
        """Slots of `span` holding a touched page of [start, end), a sub-range of the region."""
        hi = self._touched_end(end)
        return tables(start, hi - start, span)

    def pages(self, start, end):
        """Touched 4 KiB pages in [start, end)."""
        hi = self._touched_end(end)
        if start == self.base:
            return FloorDiv(hi - start, PAGE)
        return FloorDiv(sp.Max(0, hi - start), PAGE)

    def bytes_touched(self):
        return touched_bytes

    def read_windows(self, start, end):
        """Read faults of a later process over the touched pages of [start, end), all in the
        page cache, touched in ascending order.  `start` is the VMA start or is aligned to
        the fault-around window.

        mm/memory.c do_fault_around(): the window is ALIGN_DOWN(pte_off, nr_pages), clamped
        up to the VMA start, then nr_pages long, clipped to the PTE table and the VMA.  So
        the first window is [start, start + FA) cut at the 2 MiB table boundary, and every
        later fault opens an aligned window: 1 + aligned windows from that point on.
        """
        hi = self._touched_end(end)
        window = fault_around_bytes
        first_end = sp.Min(start + window, align_down(start, PTE_SPAN) + PTE_SPAN)
        return sp.Piecewise((1 + tables(first_end, hi - first_end, window), hi > start),
                            (0, True))


class RandomTouch:
    """Each page of the region is touched with probability `touched`, the same pages in every
    process (a shared hot set); all counts are expected values."""

    name = "random"

    def __init__(self, base=offset_bytes):
        self.base = base

    def slots(self, start, end, span):
        return expected_tables(start, end - start, span)

    def pages(self, start, end):
        return touched * sp.Max(0, end - start) / PAGE

    def bytes_touched(self):
        return touched * size_bytes

    def read_windows(self, start, end):
        """Expected read faults of a later process (see DenseTouch.read_windows): the aligned
        windows holding a touched page, less one when the clamped first window [start,
        start + FA) already mapped every touched page of the second aligned window."""
        window = fault_around_bytes
        aligned = expected_tables(start, end - start, window)
        second = align_down(start, window) + window
        first_pages = (sp.Min(second, end) - start) / PAGE
        covered_pages = (sp.Min(start + window, end) - second) / PAGE
        rest_pages = sp.Max(0, sp.Min(second + window, end) - (start + window)) / PAGE
        saved = (1 - _miss(first_pages)) * (1 - _miss(covered_pages)) * _miss(rest_pages)
        applies = sp.And(sp.Ne(sp.Mod(start, window), 0),
                         sp.Ne(sp.Mod(second, PTE_SPAN), 0), end > second)
        return aligned - sp.Piecewise((saved, applies), (0, True))


TOUCH_PATTERNS = {"dense": DenseTouch, "random": RandomTouch}

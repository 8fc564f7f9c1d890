"""The arithmetic the operation formulas (ptcalc.model.operations) are written over, and
their inputs: `IntMath` evaluates on Python ints (exact, no sympy), `sympy_math()` builds
sympy expressions (imports sympy only when called)."""

from __future__ import annotations

from ptcalc import paging

FLUSH_CEILING = 33          # arch/x86/mm/tlb.c tlb_single_page_flush_ceiling
DEFAULT_FAULT_AROUND = 65536


class IntMath:
    """The formulas' arithmetic on Python ints (exact)."""

    @staticmethod
    def cdiv(a, b):
        return -((-a) // b)

    @staticmethod
    def fdiv(a, b):
        return a // b

    min = staticmethod(min)
    max = staticmethod(max)

    @staticmethod
    def where(condition, yes, no):
        return yes if condition else no

    @staticmethod
    def eq(a, b):
        return a == b

    @staticmethod
    def and_(*conditions):
        return all(conditions)

    @staticmethod
    def or_(*conditions):
        return any(conditions)


def sympy_math():
    """The same namespace building sympy expressions (imports sympy)."""
    import sympy as sp
    from sympy.core.containers import Tuple
    from sympy.functions.elementary.piecewise import ExprCondPair

    from ptcalc.model import symbols as S

    class SympyMath:
        cdiv = staticmethod(S.CeilDiv)
        fdiv = staticmethod(S.FloorDiv)
        min = staticmethod(sp.Min)
        max = staticmethod(sp.Max)

        @staticmethod
        def where(condition, yes, no):
            # built as written: sympy folds a condition that holds a Piecewise into the
            # pieces and simplifies it (tens of seconds for one operation); same value
            if condition is sp.true or condition is True:
                return sp.sympify(yes)
            if condition is sp.false or condition is False:
                return sp.sympify(no)
            pairs = (Tuple.__new__(ExprCondPair, sp.sympify(yes), condition),
                     Tuple.__new__(ExprCondPair, sp.sympify(no), sp.true))
            return sp.Basic.__new__(sp.Piecewise, *pairs)

        eq = staticmethod(sp.Eq)
        and_ = staticmethod(sp.And)
        or_ = staticmethod(sp.Or)

    return SympyMath


class Inputs:
    """The inputs of an operation, as ints or as sympy symbols (`symbolic()`)."""

    NAMES = ("size_bytes", "offset_bytes", "touched_bytes", "procs", "read_access",
             "op_start_bytes", "op_bytes", "cpus", "host_cpus", "fault_around_bytes")

    def __init__(self, **values):
        for name in self.NAMES:
            setattr(self, name, values[name])
        self.PAGE = paging.PAGE_BYTES
        self.TABLE = paging.TABLE_BYTES
        self.PTE_SPAN = paging.PTE_SPAN
        self.PMD_SPAN = paging.PMD_SPAN
        self.PUD_SPAN = paging.PUD_SPAN
        self.FLUSH_CEILING = FLUSH_CEILING

    @classmethod
    def symbolic(cls) -> Inputs:
        import sympy as sp

        from ptcalc.model import symbols as S

        me = cls(size_bytes=S.size_bytes, offset_bytes=S.offset_bytes,
                 touched_bytes=S.touched_bytes, procs=S.procs, read_access=S.read_access,
                 fault_around_bytes=S.fault_around_bytes,
                 op_start_bytes=sp.Symbol("op_start_bytes", integer=True, nonnegative=True),
                 op_bytes=sp.Symbol("op_bytes", integer=True, positive=True),
                 cpus=sp.Symbol("cpus", integer=True, positive=True),
                 host_cpus=sp.Symbol("host_cpus", integer=True, positive=True))
        me.PAGE, me.TABLE = S.PAGE, S.TABLE
        me.PTE_SPAN, me.PMD_SPAN, me.PUD_SPAN = S.PTE_SPAN, S.PMD_SPAN, S.PUD_SPAN
        me.FLUSH_CEILING = sp.Symbol("FLUSH_CEILING", integer=True, positive=True)
        return me

    # derived addresses
    @property
    def start(self):                 # A: first byte of the range (an address mod 512 GiB)
        return self.offset_bytes + self.op_start_bytes

    @property
    def end(self):                   # E
        return self.start + self.op_bytes

    @property
    def touched_end(self):           # end of the dense touched prefix
        return self.offset_bytes + self.touched_bytes

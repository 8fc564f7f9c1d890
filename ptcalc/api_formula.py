"""What `ptcalc.formula()` returns: a metric's sympy expression that knows its inputs by name.

The symbols of the model carry assumptions (integer, positive), so `expr.subs({"size_bytes":
...})` with a plain name would substitute nothing: sympy makes a new symbol without them.
`Formula.subs` maps names to the model's symbols, and `Formula.at(size="300GiB", procs=1500)`
reads a scenario as `ptcalc compare` does and evaluates the expression exactly (integers stay
integers at any size).  Everything else (printing, LaTeX in Jupyter, `sympy.simplify(f)`,
`f.free_symbols`) goes to the sympy expression, also available as `f.expr`.
"""

from __future__ import annotations

from fractions import Fraction

from ptcalc.errors import InputError
from ptcalc.inputs.scenario import DEFAULT_FAULT_AROUND


class Formula:
    """A metric's expression: `expr` (sympy), `at(...)` (its value), `subs(...)` by name."""

    __slots__ = ("expr", "metric", "paging", "pattern", "strategy")

    def __init__(self, expr, *, strategy: str, metric: str, paging: int, pattern: str):
        self.expr = expr
        self.strategy = strategy
        self.metric = metric
        self.paging = paging
        self.pattern = pattern

    # --- sympy behaviour --------------------------------------------------------------------
    def _sympy_(self):          # sympy.sympify(f), and so every sympy function, takes f
        return self.expr

    def _latex(self, printer):
        return printer.doprint(self.expr)

    def _sympystr(self, printer):
        return printer.doprint(self.expr)

    def _repr_latex_(self):
        return self.expr._repr_latex_()

    def __getattr__(self, name):
        return getattr(self.expr, name)

    def __eq__(self, other):
        return self.expr == (other.expr if isinstance(other, Formula) else other)

    def __hash__(self):
        return hash(self.expr)

    def __str__(self):
        return str(self.expr)

    def __repr__(self):
        return f"Formula({self.strategy}, {self.metric}: {self.expr})"

    # --- values -----------------------------------------------------------------------------
    @property
    def input_names(self) -> tuple[str, ...]:
        """The names of the free symbols, e.g. ('offset_bytes', 'procs', 'size_bytes')."""
        return tuple(sorted(symbol.name for symbol in self.expr.free_symbols))

    def _symbols(self, values: dict) -> dict:
        by_name = {symbol.name: symbol for symbol in self.expr.free_symbols}
        mapping = {}
        for key, value in values.items():
            name = key if isinstance(key, str) else getattr(key, "name", None)
            if name not in by_name:
                if isinstance(key, str):
                    raise InputError(f"{key!r} is not a symbol of {self.metric} "
                                     f"[{self.strategy}]; its symbols: "
                                     f"{', '.join(self.input_names) or 'none'}")
                mapping[key] = value
                continue
            mapping[by_name[name]] = value
        return mapping

    def subs(self, *args, **values):
        """sympy's subs, with symbols also given by name: f.subs({"size_bytes": 2**30}) or
        f.subs(size_bytes=2**30).  A name the formula does not have is an error."""
        import sympy as sp

        if args and isinstance(args[0], dict):
            values = {**args[0], **values}
            args = ()
        elif len(args) == 2:
            values = {args[0]: args[1], **values}
            args = ()
        if args:
            return self.expr.subs(*args)
        mapping = self._symbols(values)
        return self.expr.subs({k: sp.sympify(v) for k, v in mapping.items()})

    def at(self, size, procs=1, offset=0, touched=1.0, access="write",
           fault_around=DEFAULT_FAULT_AROUND, **symbols):
        """The metric's value for one scenario, read as `ptcalc compare` reads it (sizes as
        text such as "300GiB", counts such as "1,500"): an int for byte and fault counts
        (exact at any size), a float for ratios and expected values.

        Symbols that are not scenario inputs (a TLB metric's entry counts when formula() was
        called without cpu=) can be given by name: at("1GiB", 8, l1_entries_4k=64).
        """
        import sympy as sp

        from ptcalc.inputs.scenario import make_scenario
        from ptcalc.model.symbols import CONSTANTS

        scenario = make_scenario(size, procs, offset, touched, access, self.pattern,
                                 self.paging, fault_around)
        inputs = scenario.formula_inputs()
        # exact for the dense pattern; the random pattern's expected values raise (1 - t) to
        # powers as large as the page count, which only floats evaluate in bounded time
        # (and floats are what compare() computes them in)
        if self.pattern == "dense":
            inputs["touched"] = Fraction(scenario.touched)
        if self._is_tlb():
            inputs.update(self._tlb_inputs(scenario))
        inputs.update(symbols)
        by_name = {symbol.name: symbol for symbol in self.expr.free_symbols}
        unknown = sorted(set(symbols) - set(by_name))
        if unknown:
            raise InputError(f"{', '.join(unknown)} is not a symbol of {self.metric} "
                             f"[{self.strategy}]; its symbols: "
                             f"{', '.join(self.input_names) or 'none'}")
        mapping = {symbol: sp.Rational(inputs[name].numerator, inputs[name].denominator)
                   if isinstance(inputs[name], Fraction) else
                   sp.Float(inputs[name], 17) if isinstance(inputs[name], float) else
                   sp.sympify(inputs[name])
                   for name, symbol in by_name.items() if name in inputs}
        mapping.update({k: sp.Integer(v) for k, v in CONSTANTS.items() if k.name in by_name})
        value = self.expr.xreplace(mapping).doit()   # xreplace: no pattern matching, fast
        left = sorted(symbol.name for symbol in getattr(value, "free_symbols", ()))
        if left:
            hint = (" (or call ptcalc.formula with cpu= to fill in a CPU's TLB)"
                    if self._is_tlb() else "")
            raise InputError(f"{self.metric} [{self.strategy}] needs a value for "
                             f"{', '.join(left)}: pass it by name to at(){hint}")
        if value.is_Integer:
            return int(value)
        if value in (sp.true, sp.false):
            return bool(value)
        return float(value)

    def _is_tlb(self) -> bool:
        from ptcalc.model.tlb_inputs import METRIC_NAMES

        return self.metric in METRIC_NAMES

    def _tlb_inputs(self, scenario) -> dict:
        """The strategy's own metrics the TLB metrics are over (mapped bytes per page size,
        leaf size, page-table bytes), from the same scenario."""
        from ptcalc.compute.scalar import scenario_rows
        from ptcalc.model.tlb_inputs import INPUT_COLUMNS

        (row,) = scenario_rows(scenario, (self.strategy,))
        if not row["applicable"]:
            raise InputError(f"{self.strategy} does not apply to this scenario: "
                             f"{row['reason']}")
        return {name: int(row[name]) for name in INPUT_COLUMNS}

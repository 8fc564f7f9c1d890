"""The distinct scenarios the what-ifs of one inspect ask for, each evaluated once.

A scenario is what ptcalc.inspect.whatif.compare_rows evaluates: size, offset, process
count and touched fraction (a reduced (numerator, denominator) pair here, clipped as
whatif._clip clips it) under pattern "dense" or "random".  Many plain dense scenarios are
evaluated together over numpy columns with the generated formulas
(ptcalc.compute.kernels); the others, and all of them when there are few, with exact
Python ints through compare_rows.  A scenario whose numbers could pass 2**53
(size x procs >= EXACT_PRODUCT) or whose inputs are not the plain ones of a mapping is
always evaluated with Python ints, so every value is what compare() gives
(tests/inspect/test_inspect_batch.py).
"""

from __future__ import annotations

from fractions import Fraction
from math import gcd

from ptcalc.errors import InputError
from ptcalc.inputs.rules import MAX_PROCS
from ptcalc.inspect.whatif import _plain, compare_rows
from ptcalc.paging import FOUR_LEVEL, PAGE_BYTES, PUD_SPAN, ceil_div

#: Distinct dense scenarios from which the numpy columns pay for their import (~0.1 s).
VECTOR_MIN = 256
#: size x procs from which a scenario is evaluated with Python ints: every value of the
#: formulas (at most ~size x procs / 32, see ptcalc.compute.wide) then stays below 2**53,
#: where int64 and float64 arithmetic give what Python ints and floats give.
EXACT_PRODUCT = 2**50
_MAX_NUMBER_CHARS = 64           # ptcalc.units.MAX_NUMBER_CHARS: touched as text, parsed
_SHORT = 10**30
_TOUCHED_FLOOR = Fraction(1e-15 * (1 - 1e-12))   # ptcalc.inputs.rules.TOUCHED_RESOLVED
_FAST_PATTERNS = ("dense",)
_FEW_READS = 1024          # single values read from the arrays before the lists are built


def reduced(numerator: int, denominator: int) -> tuple[int, int]:
    divisor = gcd(numerator, denominator)
    return numerator // divisor, denominator // divisor


def clipped(touched: tuple[int, int], size: int) -> tuple[int, int]:
    """whatif._clip on a reduced fraction (numerator, denominator): one page to all."""
    numerator, denominator = touched
    if numerator >= denominator or size <= PAGE_BYTES:
        return 1, 1
    if numerator * size < PAGE_BYTES * denominator:
        return reduced(PAGE_BYTES, size)
    return touched


def _plain_input(size, offset, procs, numerator, denominator) -> bool:
    """True when make_scenario takes these values as they are (ints, a fraction in range):
    the scenario is then built here without parsing; anything else goes to compare()."""
    return (type(size) is int and type(offset) is int and type(procs) is int
            and size > 0 and 0 <= offset < PUD_SPAN and offset % PAGE_BYTES == 0
            and 1 <= procs <= MAX_PROCS
            and offset + ceil_div(size, PAGE_BYTES) * PAGE_BYTES
            <= FOUR_LEVEL.user_space_bytes
            and 0 < numerator <= denominator
            and numerator * _TOUCHED_FLOOR.denominator >= _TOUCHED_FLOOR.numerator * denominator
            and (max(numerator, denominator) < _SHORT     # "N/D" of at most 61 characters
                 or len(str(Fraction(numerator, denominator))) <= _MAX_NUMBER_CHARS))


def formula_inputs(size, offset, procs, numerator, denominator) -> dict:
    """What make_scenario(size, procs, offset, Fraction(numerator, denominator))
    .formula_inputs() gives, for inputs _plain_input accepts (write access, 4-level paging,
    the default fault-around)."""
    size_bytes = ceil_div(size, PAGE_BYTES) * PAGE_BYTES
    pages = size_bytes // PAGE_BYTES
    touched_bytes = -((-numerator * pages) // denominator) * PAGE_BYTES
    return {"offset_bytes": offset, "size_bytes": size_bytes, "touched_bytes": touched_bytes,
            "touched": numerator / denominator, "procs": procs, "fault_around_bytes": 65536,
            "read_access": 0}


class _Columns(dict):
    """Metric name -> one value per scenario (None where n/a) for one strategy, each list
    built from the numpy results and the Python-int rows when first read."""

    def __init__(self, results: Results, s: int):
        super().__init__()
        self.results, self.s = results, s
        self.reads = 0

    def __missing__(self, name: str) -> list:
        results, s = self.results, self.s
        column = [None] * len(results.inputs)
        array = results.arrays[s].get(name) if results.arrays else None
        if array is not None:
            fast, codes = results.fast, results.codes[s]
            got = array.tolist()
            if array.dtype.kind == "f":
                got = [_plain(v) for v in got]
            if len(fast) == len(column):
                column = got if not results.any_na[s] else \
                    [None if code else v for v, code in zip(got, codes)]
            else:
                for i, code, v in zip(fast, codes, got):
                    if not code:
                        column[i] = v
        for i, rows in results.scalar_rows.items():
            column[i] = rows[s][name]
        self[name] = column
        return column

    def at(self, name: str, i: int):
        """One value, without building the whole list while few are read (a table builds
        the rows of a few objects; JSON and CSV those of all: then the lists are built)."""
        column = self.get(name)
        if column is not None:
            return column[i]
        self.reads += 1
        if self.reads > _FEW_READS:
            return self[name][i]
        results, s = self.results, self.s
        if i in results.scalar_rows:
            return results.scalar_rows[i][s][name]
        array = results.arrays[s].get(name) if results.arrays else None
        if array is None:
            return None
        position = i if len(results.fast) == len(results.inputs) else results.fast.index(i)
        if results.codes[s][position]:
            return None
        return _plain(array[position].item())


class Results:
    """Distinct scenarios (size, offset, procs, touched, pattern) and, once run, their rows
    in columns: per strategy, applicable, reason and each metric, one value per scenario."""

    def __init__(self, strategies: tuple[str, ...]):
        from ptcalc.compute.formulas import metric_names

        self.strategies = strategies
        self.metrics = metric_names(4)
        self.keys: dict[tuple, int] = {}
        self.inputs: list[tuple] = []
        self.errors: dict[int, InputError] = {}
        self.scalar_rows: dict[int, list[dict]] = {}
        self.fast: list[int] = []            # scenarios evaluated over numpy columns
        self.arrays: list[dict] = []         # per strategy: metric -> array over `fast`
        self.codes: list[list[int]] = []     # per strategy: reason bits over `fast`
        self.any_na: list[bool] = []
        self.applicable: list[list] = []
        self.reason: list[list] = []
        self.values: list[dict[str, list]] = []
        self._huge: dict[int, list] = {}

    @property
    def vectorized(self) -> int:
        return len(self.fast)

    def index(self, size, offset, procs, touched: tuple[int, int], pattern) -> int:
        """The scenario's number (touched: a reduced fraction, clipped here)."""
        numerator, denominator = touched
        if numerator >= denominator or numerator * size < PAGE_BYTES * denominator:
            numerator, denominator = clipped(touched, size)
        key = (size, offset, procs, numerator, denominator, pattern)
        found = self.keys.get(key)
        if found is None:
            found = self.keys[key] = len(self.inputs)
            self.inputs.append(key)
        return found

    def __len__(self) -> int:
        return len(self.inputs)

    def run(self) -> None:
        n = len(self.inputs)
        k = len(self.strategies)
        fast = [i for i, (size, offset, procs, num, den, pattern) in enumerate(self.inputs)
                if pattern in _FAST_PATTERNS and size * procs < EXACT_PRODUCT
                and _plain_input(size, offset, procs, num, den)]
        if len(fast) < VECTOR_MIN:
            fast = []
        self.applicable = [[None] * n for _ in range(k)]
        self.reason = [[None] * n for _ in range(k)]
        if fast:
            self._run_columns(fast)
        done = set(fast)
        for i in range(n):
            if i not in done:
                self._run_scalar(i)
        self.values = [_Columns(self, s) for s in range(k)]

    def _run_scalar(self, i: int) -> None:
        size, offset, procs, numerator, denominator, pattern = self.inputs[i]
        try:
            rows = compare_rows(size, procs, offset, Fraction(numerator, denominator),
                                self.strategies, pattern)
        except InputError as exc:
            self.errors[i] = exc
            return
        self.scalar_rows[i] = rows
        for s, row in enumerate(rows):
            self.applicable[s][i] = row["applicable"]
            self.reason[s][i] = row["reason"]

    def _run_columns(self, fast: list[int]) -> None:
        import numpy as np

        from ptcalc.compute import formulas, kernels

        self.fast = fast
        per_row = [formula_inputs(*self.inputs[i][:5]) for i in fast]
        columns = {name: np.array([row[name] for row in per_row],
                                  dtype=np.float64 if name == "touched" else np.int64)
                   for name in ("offset_bytes", "size_bytes", "touched_bytes", "touched",
                                "procs", "read_access")}
        columns["fault_around_bytes"] = 65536
        count = len(fast)
        whole = count == len(self.inputs)
        with np.errstate(all="ignore"):
            for s, strategy in enumerate(self.strategies):
                condition, texts = kernels.conditions_kernel(strategy, 4)
                codes = np.zeros(count, dtype=np.int64)
                for bit, hit in enumerate(condition(**columns)):
                    codes |= np.asarray(hit, dtype=np.int64) << bit
                texts_of = [formulas.join_reasons(t for b, t in enumerate(texts) if bits >> b & 1)
                            for bits in range(1 << len(texts))]
                code_list = codes.tolist()
                if whole:
                    self.applicable[s] = [not code for code in code_list]
                    self.reason[s] = [texts_of[code] for code in code_list]
                else:
                    applicable, reason = self.applicable[s], self.reason[s]
                    for i, code in zip(fast, code_list):
                        applicable[i] = not code
                        reason[i] = texts_of[code]
                results = kernels.metrics_kernel(strategy, 4, "dense")(**columns)
                arrays = {}
                for name, value in zip(self.metrics, results):
                    if value is not None:
                        arrays[name] = np.broadcast_to(np.asarray(value), (count,))
                self.arrays.append(arrays)
                self.codes.append(code_list)
                self.any_na.append(bool(codes.any()))

    # --- one row -------------------------------------------------------------------------

    def row(self, i: int, s: int) -> dict:
        """A fresh dict: the row compare() gives for scenario i and strategy s."""
        if i in self.scalar_rows:
            return dict(self.scalar_rows[i][s])
        values = self.values[s]
        row = {"strategy": self.strategies[s], "applicable": self.applicable[s][i],
               "reason": self.reason[s][i]}
        for name in self.metrics:
            row[name] = values.at(name, i)
        return row

    def huge(self, s: int) -> list:
        """Per scenario, the bytes strategy s maps with huge leaves (whatif._huge)."""
        found = self._huge.get(s)
        if found is None:
            values = self.values[s]
            found = self._huge[s] = [(a or 0) + (b or 0) for a, b in
                                     zip(values["mapped_2m_bytes"], values["mapped_1g_bytes"])]
        return found

    def leaf_4k(self, i: int, s: int) -> bool:
        return (self.values[s]["leaf_page_bytes"][i] or PAGE_BYTES) <= PAGE_BYTES

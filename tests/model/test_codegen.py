"""The generated numeric code is the sympy model, nothing else."""

import random

import sympy as sp

from ptcalc.compute import _compiled
from ptcalc.model import codegen
from ptcalc.model import expressions as model
from ptcalc.model import symbols as S


def test_compiled_module_is_in_sync_with_the_model():
    assert codegen.TARGET.read_text() == codegen.generate(), \
        "ptcalc/compute/_compiled.py is stale: run python -m ptcalc.model.codegen"


def test_compiled_equals_exact_sympy_evaluation():
    # Substitute exact integers into the sympy expressions and compare with the generated
    # Python on the same inputs: any printer slip (rounding, precedence) shows up here.
    rng = random.Random(7)
    for strategy, levels, pattern in model.all_variants():
        if pattern != "dense":
            continue
        function = _compiled.FUNCTIONS[(strategy, levels, pattern)]
        for _ in range(3):
            offset = rng.randrange(0, 2**27) * 4096
            size = rng.randrange(1, 2**20) * 4096
            touched_bytes = rng.randrange(1, size // 4096 + 1) * 4096
            values = {S.offset_bytes: offset, S.size_bytes: size, S.touched_bytes: touched_bytes,
                      S.touched: 1, S.procs: rng.randrange(1, 5000),
                      S.fault_around_bytes: 65536, S.read_access: rng.randrange(2)}
            args = [values[symbol] for symbol in S.INPUTS]
            compiled = dict(zip(model.metric_names(levels), function(*args)))
            for metric, expr in model.expressions(strategy, levels, pattern).items():
                if expr is None:
                    assert compiled[metric] is None
                    continue
                exact = model.numeric(expr).subs(values)
                assert sp.nsimplify(exact) == sp.nsimplify(compiled[metric]) or \
                    abs(float(exact) - float(compiled[metric])) < 1e-9, (strategy, metric)

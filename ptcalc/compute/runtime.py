"""Runtime helpers for the generated formulas (ptcalc/compute/_compiled.py).

They work on Python ints (exact, no numpy import: the CLI's fast path) and on numpy arrays
(whole columns).  Integer division is exact floor division in both.
"""

from __future__ import annotations


def _is_scalar(value) -> bool:
    return isinstance(value, (bool, int, float))


def ceil_div(a, b):
    return -((-a) // b)


def floor_div(a, b):
    return a // b


def mod(a, b):
    return a % b


def where(condition, if_true, if_false):
    if isinstance(condition, bool):
        return if_true if condition else if_false
    import numpy as np

    return np.where(condition, if_true, if_false)


def _fold(values, scalar_fold, array_name):
    if all(_is_scalar(v) for v in values):
        return scalar_fold(values)
    import numpy as np

    combine = getattr(np, array_name)
    result = values[0]
    for value in values[1:]:
        result = combine(result, value)
    return result


def minimum(*values):
    return _fold(values, min, "minimum")


def maximum(*values):
    return _fold(values, max, "maximum")


def logical_and(*values):
    if all(isinstance(v, bool) for v in values):
        return all(values)
    import numpy as np

    return np.logical_and.reduce([np.asarray(v) for v in values])


def logical_or(*values):
    if all(isinstance(v, bool) for v in values):
        return any(values)
    import numpy as np

    return np.logical_or.reduce([np.asarray(v) for v in values])

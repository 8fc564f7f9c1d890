"""ptcalc: page-table sharing calculator for x86-64 Linux.

The public API is loaded lazily so that `import ptcalc` (and the CLI) starts fast.
"""

from __future__ import annotations

__version__ = "0.2.0"

_LAZY = {
    "compare": ("ptcalc.api", "compare"),
    "evaluate": ("ptcalc.api", "evaluate"),
    "evaluate_chunks": ("ptcalc.api", "evaluate_chunks"),
    "formula": ("ptcalc.api", "formula"),
    "operations": ("ptcalc.api_operations", "operations"),
    "STRATEGIES": ("ptcalc.model.strategies", "STRATEGY_NAMES"),
    "InputError": ("ptcalc.errors", "InputError"),
    "plot": ("ptcalc.present.plots", None),  # the module itself
    "styled": ("ptcalc.present.styled", "styled"),
}

__all__ = ["STRATEGIES", "InputError", "compare", "evaluate", "evaluate_chunks", "formula",
           "operations", "plot", "styled"]


def __getattr__(name: str):
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'ptcalc' has no attribute {name!r}") from None
    import importlib

    module = importlib.import_module(module_name)
    return module if attr is None else getattr(module, attr)

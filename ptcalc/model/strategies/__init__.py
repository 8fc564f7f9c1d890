"""The nine strategies.  Names are stable: they appear in the CLI, JSON and DataFrames.

Modules are imported on demand (they need sympy); the names and the registry do not.
"""

from __future__ import annotations

import importlib

# name -> module, in the order results are shown.
_MODULES = {
    "private-4k": "private_4k",
    "thp-shmem": "thp_shmem",
    "hugetlb-2m": "hugetlb_2m",
    "hugetlb-2m-pmdshare": "hugetlb_2m_pmdshare",
    "hugetlb-1g": "hugetlb_1g",
    "ptshare": "ptshare",
    "file-pt": "file_pt",
    "mshare": "mshare",
    "threads": "threads",
}

STRATEGY_NAMES: tuple[str, ...] = tuple(_MODULES)
BASELINE = "private-4k"


def strategy_module(name: str):
    """The module defining strategy `name` (INFO, counts, not_applicable)."""
    return importlib.import_module(f"ptcalc.model.strategies.{_MODULES[name]}")


def strategy_info(name: str):
    """The StrategyInfo (name, shared, rule, source) of strategy `name`."""
    return strategy_module(name).INFO

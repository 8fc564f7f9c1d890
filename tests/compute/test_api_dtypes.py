"""compare() and evaluate() give the same dtypes for the same columns (a notebook can concat
them): categorical names, nullable Int64 counts (huge_pages is NA, not NaN in a float
column, where a strategy has no huge pages), Float64 ratios."""

from __future__ import annotations

import pandas as pd
import pytest

import ptcalc.api as api


@pytest.mark.parametrize("kwargs", [{}, {"pattern": "random", "touched": 0.3},
                                    {"access": "read", "touched": 0.5}])
def test_compare_and_evaluate_share_dtypes(kwargs):
    pattern = kwargs.get("pattern", "dense")
    one = api.compare("300GiB", 1500, **kwargs)
    inputs = {"size_bytes": [300 * 2**30], "procs": [1500]}
    if "touched" in kwargs:
        inputs["touched"] = [kwargs["touched"]]
    if "access" in kwargs:
        inputs["access"] = [kwargs["access"]]
    many = api.evaluate(pd.DataFrame(inputs), pattern=pattern)
    shared = [name for name in one.columns if name in many.columns]
    assert len(shared) >= 15
    assert {name: str(one[name].dtype) for name in shared} == {
        name: str(many[name].dtype) for name in shared}
    # and the same values: 300 GiB / 2 MiB = 153600 huge pages, NA for private-4k
    assert one.set_index("strategy").loc["hugetlb-2m", "huge_pages"] == 153_600
    assert pd.isna(one.set_index("strategy").loc["private-4k", "huge_pages"])

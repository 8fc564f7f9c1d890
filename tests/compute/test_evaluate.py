"""ptcalc.evaluate over columns agrees with compare, row for row."""

import numpy as np
import pandas as pd
import pytest

import ptcalc
from ptcalc.errors import InputError


def test_evaluate_matches_compare():
    scenarios = pd.DataFrame({
        "size_bytes": [300 * 2**30, 5 * 2**20, 3 * 2**30],
        "procs": [1500, 3, 7],
        "offset_bytes": [0, 4096, 512 * 2**20],
        "touched": [1.0, 0.37, 0.5],
        "access": ["write", "read", "read"],
    })
    result = ptcalc.evaluate(scenarios)
    assert len(result) == 3 * len(ptcalc.STRATEGIES)
    for _, scenario in scenarios.iterrows():
        expected = ptcalc.compare(size=int(scenario.size_bytes), procs=int(scenario.procs),
                                  offset=int(scenario.offset_bytes), touched=scenario.touched,
                                  access=scenario.access)
        got = result[(result.size_bytes == scenario.size_bytes)
                     & (result.offset_bytes == scenario.offset_bytes)]
        for _, row in expected.iterrows():
            other = got[got.strategy == row.strategy].iloc[0]
            assert bool(other.applicable) == bool(row.applicable)
            if row.applicable:
                for key in ("pt_bytes_total", "pt_bytes_per_process", "faults_next"):
                    assert int(other[key]) == int(row[key]), (row.strategy, key)


def test_evaluate_rejects_bad_columns():
    with pytest.raises(InputError, match="size_bytes"):
        ptcalc.evaluate(pd.DataFrame({"procs": [1]}))
    with pytest.raises(InputError, match="procs"):
        ptcalc.evaluate(pd.DataFrame({"size_bytes": [4096], "procs": [0]}))


def test_compare_returns_a_dataframe():
    frame = ptcalc.compare(size="1GiB", procs=2)
    assert frame.strategy.iloc[0] == "private-4k"
    assert frame.loc[frame.strategy == "threads", "pt_bytes_total"].item() == (512 + 1 + 1) * 4096


def test_a_categorical_access_column_is_read_by_its_codes():
    # a categorical column is read through its codes (no hashing of the rows); a category no
    # row uses is not checked, one that a row uses is, and a missing value is an error
    frame = pd.DataFrame({"size_bytes": [2**30] * 3, "procs": [1, 2, 3]})
    plain = ptcalc.evaluate(frame.assign(access=["read", "write", "read"]), ["private-4k"])
    unused = pd.Categorical(["read", "write", "read"], categories=["bogus", "write", "read"])
    got = ptcalc.evaluate(frame.assign(access=unused), ["private-4k"])
    pd.testing.assert_frame_equal(got, plain)
    with pytest.raises(ptcalc.InputError, match="'access' has 'bogus'"):
        ptcalc.evaluate(frame.assign(access=pd.Categorical(["read", "bogus", "read"])),
                        ["private-4k"])
    with pytest.raises(ptcalc.InputError, match="'access' has missing values"):
        ptcalc.evaluate(frame.assign(access=pd.Categorical(["read", None, "read"])),
                        ["private-4k"])


def test_dense_prefix_of_fractions_of_1024_is_exact():
    # t = k/1024 takes the int64 path ceil(k x pages / 1024) (the decimal of such a float is
    # exactly its value); beside it, fractions that are not (0.1, 1/3, 1 - 2**-20, whose
    # shortest decimal is not the float's value) take the exact Fraction path, on the same
    # rows of one column; the largest 5-level sizes (2**57 bytes) stay below 2**63
    from fractions import Fraction

    from ptcalc.compute.columns import touched_bytes
    from ptcalc.inputs.scenario import touched_prefix_bytes

    rng = np.random.default_rng(12)
    n = 6000
    sizes = rng.integers(1, 2**40, n) * 4096
    sizes[:3] = 2**57
    touched = np.where(rng.random(n) < 0.5, rng.integers(1, 1025, n) / 1024,
                       rng.choice([0.1, 1 / 3, 1 - 2**-20, 2**-20, 0.7], n))
    touched[:3] = [1023 / 1024, 1 / 1024, 1 - 2**-20]
    got = touched_bytes(sizes, touched)
    for size, fraction, value in zip(sizes, touched, got):
        assert value == touched_prefix_bytes(int(size), Fraction(repr(float(fraction))))

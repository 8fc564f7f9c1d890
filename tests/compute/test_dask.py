"""ptcalc.evaluate on a dask DataFrame: a lazy dask DataFrame equal to the pandas result.

Runs on a dask.distributed LocalCluster when `distributed` is installed, else on dask's
threaded scheduler (the `dist` extra installs dask[dataframe] only); the scheduler used is
reported in the test id."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ptcalc
from ptcalc.errors import InputError

dd = pytest.importorskip("dask.dataframe")

try:
    import distributed  # noqa: F401

    SCHEDULERS = ["distributed-localcluster"]
except ImportError:
    SCHEDULERS = ["threads"]


@pytest.fixture(scope="module", params=SCHEDULERS)
def scheduler(request):
    if request.param == "threads":
        yield {"scheduler": "threads"}
        return
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield {"scheduler": client}


def scenarios(n=4000, seed=7):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "size_bytes": rng.integers(1, 2**12, n) * rng.choice([4096, 2**21, 2**30], n),
        "procs": rng.integers(1, 3000, n),
        "offset_bytes": rng.integers(0, 2**8, n) * rng.choice([4096, 2**21, 2**30], n),
        "touched": rng.choice([0.1, 0.5, 1.0], n),
        "access": rng.choice(["read", "write"], n),
        "pattern": rng.choice(["dense", "random"], n),
    })


KEY = ["size_bytes", "procs", "offset_bytes", "touched", "access", "pattern", "strategy"]


def _canonical(frame):
    frame = frame.copy()
    for column in ("access", "pattern", "strategy", "reason"):
        frame[column] = frame[column].astype(object)
    return frame.sort_values(KEY).reset_index(drop=True)


def test_dask_result_equals_pandas(scheduler):
    frame = scenarios()
    lazy = ptcalc.evaluate(dd.from_pandas(frame, npartitions=5))
    assert type(lazy).__module__.startswith("dask")
    computed = lazy.compute(**scheduler)
    expected = ptcalc.evaluate(frame)
    assert list(computed.columns) == list(expected.columns)
    assert dict(computed.dtypes) == dict(lazy.dtypes)          # meta is what partitions give
    pd.testing.assert_frame_equal(_canonical(computed), _canonical(expected))


def test_dask_with_default_columns_and_strategies(scheduler):
    frame = scenarios(300)[["size_bytes", "procs"]]
    lazy = ptcalc.evaluate(dd.from_pandas(frame, npartitions=3), ["mshare", "threads"])
    computed = lazy.compute(**scheduler)
    assert len(computed) == 600 and set(computed.strategy) == {"mshare", "threads"}
    assert str(computed.pt_bytes_total.dtype) == "Int64"


def test_dask_errors():
    with pytest.raises(InputError, match="procs"):
        ptcalc.evaluate(dd.from_pandas(pd.DataFrame({"size_bytes": [4096]}), npartitions=1))
    bad = dd.from_pandas(pd.DataFrame({"size_bytes": [4096], "procs": [0]}), npartitions=1)
    with pytest.raises(InputError, match="procs"):
        ptcalc.evaluate(bad).compute(scheduler="threads")

"""The sweep's writing threads (ptcalc.sweep.pipeline) and what the writers make of a frame:
row order whatever thread finishes first, errors raised once in the caller's thread (one
line, exit 2 for bad input), nothing written after a failure, bounded chunks in flight;
Parquet text read back as strings, JSON floats exact."""

from __future__ import annotations

import csv
import errno
import json
import random
import threading
import time

import pytest
from conftest import run_cli as run

from ptcalc.inputs.scenario import MAX_PROCS
from ptcalc.sweep.pipeline import Pipeline
from ptcalc.sweep.run import chunks, make_sweep


class _Recorder:
    """A writer whose encode() takes a random time, so encoders finish out of order."""

    parallel = True

    def __init__(self, fail_at=None, put_gate=None):
        self.put_order = []
        self.fail_at = fail_at
        self.put_gate = put_gate
        self.lock = threading.Lock()

    def encode(self, item):
        time.sleep(random.uniform(0, 0.004))
        if item == self.fail_at:
            raise ValueError(f"chunk {item} cannot be encoded")
        return f"<{item}>"

    def put(self, payload):
        if self.put_gate is not None:
            self.put_gate.wait(10)
        with self.lock:
            self.put_order.append(payload)

    def close(self):
        pass


def test_chunks_are_put_in_row_order_by_any_number_of_encoders():
    for encoders in (0, 1, 2, 5):
        writer = _Recorder()
        if encoders == 0:
            writer.parallel = False
        with Pipeline(writer, encoders=encoders) as pipeline:
            for item in range(60):
                pipeline.write(item)
        assert writer.put_order == [f"<{item}>" for item in range(60)], encoders
        assert all(not thread.is_alive() for thread in pipeline.threads)


def test_an_encoder_error_is_raised_in_the_caller_and_nothing_after_it_is_put():
    writer = _Recorder(fail_at=7)
    with pytest.raises(ValueError, match="chunk 7"), Pipeline(writer, encoders=3) as pipeline:
        for item in range(40):
            pipeline.write(item)
    # chunks 0..6 went into the file in order; 7 failed; none of the later ones followed
    assert writer.put_order == [f"<{item}>" for item in range(7)]
    assert all(not thread.is_alive() for thread in pipeline.threads)


def test_a_failing_caller_drops_the_chunks_still_waiting():
    gate = threading.Event()
    writer = _Recorder(put_gate=gate)
    with pytest.raises(KeyboardInterrupt), Pipeline(writer, encoders=2, ahead=3) as pipeline:
        for item in range(3):
            pipeline.write(item)
        threading.Timer(0.2, gate.set).start()     # the file is slow while the caller fails
        raise KeyboardInterrupt
    # chunk 0 was being put when the caller failed: at most it reached the file
    assert writer.put_order in ([], ["<0>"])
    assert all(not thread.is_alive() for thread in pipeline.threads)


def test_at_most_ahead_chunks_wait_for_the_file():
    gate = threading.Event()
    writer = _Recorder(put_gate=gate)
    handed = []

    def caller():
        with Pipeline(writer, encoders=2, ahead=3) as pipeline:
            for item in range(20):
                pipeline.write(item)
                handed.append(item)

    thread = threading.Thread(target=caller)
    thread.start()
    time.sleep(0.5)
    # one chunk in put() (blocked on the gate) and `ahead` = 3 queued: the 5th write waits
    assert len(handed) == 4
    gate.set()
    thread.join(10)
    assert writer.put_order == [f"<{item}>" for item in range(20)]


def test_a_writer_with_only_write_is_called_in_order():
    class Plain:
        def __init__(self):
            self.seen = []

        def write(self, frame):
            self.seen.append(frame)

    writer = Plain()
    with Pipeline(writer) as pipeline:
        for item in range(10):
            pipeline.write(item)
    assert pipeline.encoders == 0 and writer.seen == list(range(10))


# --- through the command ------------------------------------------------------------------------

def test_a_value_beyond_parquet_integers_is_a_one_line_error_and_no_file(tmp_path):
    pytest.importorskip("pyarrow.parquet")
    # private-4k of 2**55 bytes in MAX_PROCS processes with 5-level paging: pt_bytes_total
    # is beyond 2**63 (the CSV test of test_sweep.py checks the exact value)
    code, _, err = run("sweep", "--size", str(2**55), "--procs", str(MAX_PROCS), "--paging",
                       "5", "-s", "private-4k", "-o", tmp_path / "big.parquet")
    assert code == 2, err
    assert "beyond Parquet's 64-bit integers" in err and "pt_bytes_total" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_in_the_writer_thread_is_one_line_and_leaves_no_file(tmp_path,
                                                                         monkeypatch):
    from ptcalc.sweep import writers

    def put(self, payload):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writers.CsvWriter, "put", put)
    code, _, err = run("sweep", "--size", "1GiB", "--procs", "1..100", "--chunk-rows", "90",
                       "-o", tmp_path / "x.csv")
    assert code == 1 and "No space left on device" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


ARGS = ("--size", "1GiB,2MiB,3GiB", "--procs", "1..4", "--offset", "0,4KiB", "--pattern",
        "dense,random", "--touched", "0.3,1")


def _expected_frame():
    import pandas as pd

    spec = make_sweep("1GiB,2MiB,3GiB", "1..4", offset="0,4KiB", pattern="dense,random",
                      touched="0.3,1")
    return pd.concat([frame for _, frame in chunks(spec)], ignore_index=True)


def _plain(series) -> list:
    """Python values (text as str), None for NA."""
    import pandas as pd

    return [None if pd.isna(value) else (str(value) if isinstance(value, str) else
                                         value.item() if hasattr(value, "item") else value)
            for value in series.astype(object).tolist()]


def test_parquet_reads_back_as_plain_types_and_the_evaluated_values(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "s.parquet"
    code, _, err = run("sweep", *ARGS, "--chunk-rows", "50", "-o", path)
    assert code == 0, err
    table = pq.read_table(path)
    types = {field.name: str(field.type) for field in table.schema}
    for name in ("access", "pattern", "strategy", "reason"):
        assert types[name] == "string", name         # not dictionary<...>: no schema stored
    assert types["applicable"] == "bool" and types["procs"] == "int64"
    assert types["faults_total"] == "double"         # expected values under random
    expected = _expected_frame()
    assert table.num_rows == len(expected) > 50      # several row groups
    for name in expected.columns:
        assert table.column(name).to_pylist() == _plain(expected[name]), name


def test_json_floats_are_exact_and_stay_floats(tmp_path):
    code, _, err = run("sweep", *ARGS, "--chunk-rows", "50", "-o", tmp_path / "s.json")
    assert code == 0, err
    code, _, err = run("sweep", *ARGS, "-o", tmp_path / "s.jsonl")
    assert code == 0, err
    rows = json.loads((tmp_path / "s.json").read_text())
    lines = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert rows == lines
    expected = _expected_frame()
    assert len(rows) == len(expected)
    touched = _plain(expected["touched"])
    assert [row["touched"] for row in rows] == touched
    assert all(isinstance(row["touched"], float) for row in rows)      # 1.0, not 1
    for name in ("strategy", "procs", "savings_vs_private_4k", "faults_total",
                 "pt_bytes_total", "reason"):
        values = [row[name] for row in rows]
        want = _plain(expected[name])
        assert values == want, name                    # the same doubles and ints, exactly
        assert [type(v) for v in values] == [type(v) for v in want], name


def test_every_format_is_the_same_whatever_the_chunks(tmp_path):
    for suffix in ("csv", "json", "jsonl"):
        texts = []
        for chunk in (7, 1 << 18):
            path = tmp_path / f"c{chunk}.{suffix}"
            code, _, err = run("sweep", *ARGS, "--chunk-rows", chunk, "-o", path)
            assert code == 0, err
            texts.append(path.read_bytes())
        assert texts[0] == texts[1], suffix
    with (tmp_path / f"c{1 << 18}.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == len(_expected_frame())


def test_frames_become_arrow_columns_with_their_missing_values():
    import numpy as np
    import pandas as pd

    pytest.importorskip("pyarrow")
    from ptcalc.sweep.arrow import arrow_table

    frame = pd.DataFrame({
        "ints": pd.array([1, None, 2**62], dtype="Int64"),
        "floats": pd.array([0.5, None, 1.0], dtype="Float64"),
        "plain": [0.25, np.nan, 3.0],                      # NaN: missing, as pandas reads it
        "flags": np.array([True, False, True]),
        "text": pd.Categorical.from_codes([1, -1, 0], ["dense", "random"]),
        "exact": np.array([2**70 + 1, None, -5], dtype=object),   # beyond int64: decimals
        "fits": np.array([7, None, 2**63 - 1], dtype=object),
    })
    table = arrow_table(frame)
    types = {field.name: str(field.type) for field in table.schema}
    assert types == {"ints": "int64", "floats": "double", "plain": "double", "flags": "bool",
                     "text": "dictionary<values=string, indices=int8, ordered=0>",
                     "exact": "decimal128(38, 0)", "fits": "decimal128(38, 0)"}
    assert table.schema.metadata is None
    rows = table.to_pylist()
    assert [row["ints"] for row in rows] == [1, None, 2**62]
    assert [row["plain"] for row in rows] == [0.25, None, 3.0]
    assert [row["text"] for row in rows] == ["random", None, "dense"]
    assert [row["exact"] for row in rows] == [2**70 + 1, None, -5]       # Decimal == int
    # no missing value: no validity bitmap to carry
    assert table.column("flags").chunk(0).buffers()[0] is None

"""The current model against the committed record of one live `ptcalc probe` run.

validation/probe-record.json holds what the kernel measured (VmPTE growth and minor faults
per process, for every case of the built-in matrix; see docs/validation.md).  The measured
values are the record's; the model's values are recomputed now, with the fault-around window
the run used, and checked with the probe's own rule (ptcalc.probe.results.compare: bytes
exactly, faults within the tolerance).  So a model change that would disagree with this
kernel fails here, on any machine, without running the probe.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from ptcalc.probe.cases import ProbeCase, default_matrix
from ptcalc.probe.results import FAULT_TOLERANCE, compare
from ptcalc.probe.run import model_for

RECORD_PATH = Path(__file__).resolve().parents[2] / "validation" / "probe-record.json"
RECORD = json.loads(RECORD_PATH.read_text())
MEASURED = [c for c in RECORD["cases"] if c["status"] in ("pass", "fail")]


def _case(entry: dict) -> ProbeCase:
    return ProbeCase(entry["strategy"], entry["size_bytes"], entry["offset_bytes"],
                     entry["procs"], entry["access"], entry["backing"], entry["name"])


def test_the_record_is_one_clean_full_run():
    assert RECORD["kernel"] and RECORD["recorded"]["command"] == "ptcalc probe --format json"
    assert RECORD["exit_code"] == 0 and RECORD["interrupted"] is None
    assert RECORD["restored"] and not RECORD["restore_problems"]
    assert RECORD["mount_table_unchanged"]
    assert RECORD["nr_hugepages_before"] == RECORD["nr_hugepages_after"]
    assert RECORD["fault_tolerance"] == FAULT_TOLERANCE
    assert RECORD["fault_around_bytes"] and RECORD["fault_around_bytes"] % 4096 == 0
    # Every case was measured and agreed when it was recorded, and each case of the run
    # carries the measurement of every process it ran.
    assert RECORD["summary"] == {"pass": len(RECORD["cases"])}
    for entry in MEASURED:
        n = entry["measured_procs"]
        assert len(entry["measured"]["faults"]) == n, entry["name"]
        assert len(entry["measured"]["pt_bytes"]) == n, entry["name"]
        assert entry["measured"]["noise_faults"] == 0, entry["name"]


def test_the_record_covers_the_matrix_it_was_made_with():
    # The built-in matrix may grow after the record was made (re-record to cover new cases);
    # every recorded case must still be a valid case of a strategy the matrix measures, and
    # the record must cover every mainline strategy with a 4 KiB, 2 MiB or 1 GiB leaf.
    recorded = {entry["name"] for entry in RECORD["cases"]}
    assert len(recorded) == len(RECORD["cases"]) >= 20
    for entry in RECORD["cases"]:
        _case(entry)
    strategies = {e["strategy"] for e in RECORD["cases"]}
    assert strategies <= {c.strategy for c in default_matrix()}
    assert {"private-4k", "thp-shmem", "hugetlb-2m", "hugetlb-2m-pmdshare", "hugetlb-1g",
            "threads"} <= strategies


@pytest.mark.parametrize("entry", MEASURED, ids=[e["name"] for e in MEASURED])
def test_current_model_agrees_with_the_recorded_measurement(entry):
    case = _case(entry)
    model = model_for(case, RECORD["fault_around_bytes"])
    assert model["applicable"], model["reason"]
    pt_bytes, faults = entry["measured"]["pt_bytes"], entry["measured"]["faults"]
    # (threads: compare() checks the sum over the threads, the one mm's growth)
    run = SimpleNamespace(procs=[SimpleNamespace(pt_bytes=p, minor_faults=f)
                                 for p, f in zip(pt_bytes, faults, strict=True)])
    status, checks = compare(case, model, run)
    failed = [(c.metric, c.model, c.measured) for c in checks if c.ok is False]
    assert status == "pass" and not failed, failed
    # The model must give a number for every metric the probe measured (none skipped).
    assert all(c.ok is True for c in checks), [(c.metric, c.model) for c in checks]

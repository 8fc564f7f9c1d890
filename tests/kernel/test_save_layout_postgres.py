"""inspect --save-layout round trip on a real PostgreSQL (postmaster + backends under a
read-only pgbench): the saved layout, evaluated by `ptcalc compare --layout FILE` under the
strategy the host uses, gives every inspected process's VmPTE within 1 %.

The baselines in the file are measured from each process's pages (inspect's table count of
all its pages minus that of its maps' prefixes), not taken from VmPTE, so the round trip
checks two things that could each fail: the model's tables of the maps equal inspect's count
of the same pages, and inspect's count equals the kernel's VmPTE."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.kernel.test_inspect_postgres import (
    TOLERANCE,
    _skip_reason,
    inspect_cluster,
    pgbench_running,
    postgres_cluster,
)

# starts a PostgreSQL server: opt-in like the other postgres tests (--kernel)
pytestmark = [pytest.mark.postgres, pytest.mark.slow,
              pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")]


def _pids_per_group(text: str) -> dict:
    """Group name -> pids, from the '# pids ...' comment above each [[groups]]."""
    out, pids = {}, None
    for line in text.splitlines():
        if line.startswith("# pids "):
            pids = [int(p) for p in line[len("# pids "):].split(",")]
        match = re.fullmatch(r'name = "(.*)"', line)
        if match and pids is not None:
            out[match.group(1)] = pids
            pids = None
    return out


def test_saved_layout_reproduces_each_backends_vmpte(tmp_path):
    from ptcalc.inspect.save_layout import layout_text  # what --save-layout writes

    with postgres_cluster() as cluster, pgbench_running(cluster):
        result = inspect_cluster(cluster)
        text, doc = layout_text(result, "postgres")
    path = tmp_path / "pg.toml"
    path.write_text(text)
    vmpte = {p.layout.pid: p.layout.vmpte_bytes for p in result.processes}
    # No baseline is VmPTE minus the model: each is inspect's count of the process's pages
    # minus that of its maps' prefixes, so a baseline is never larger than that count.
    predicted = {p.layout.pid: p.prediction.tables.bytes for p in result.processes}
    groups = _pids_per_group(text)
    assert set(groups) == {g["name"] for g in doc["groups"]}
    for group in doc["groups"]:
        assert all(group["baseline_pt"] <= predicted[pid] for pid in group["pids"])
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    done = subprocess.run([sys.executable, "-m", "ptcalc", "compare", "--layout", str(path),
                           "-s", doc["strategy"], "--format", "json"],
                          check=False, capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    rows = {r["group"]: r for r in json.loads(done.stdout)["groups"]}
    assert any(rows[g["name"]]["pt_bytes_per_process"] > g["baseline_pt"]
               for g in doc["groups"])          # the maps add tables of their own
    checked = 0
    for name, pids in groups.items():
        model = rows[name]["pt_bytes_per_process"]
        for pid in pids:
            assert abs(model - vmpte[pid]) <= TOLERANCE * vmpte[pid], (name, pid, model,
                                                                        vmpte[pid])
            checked += 1
    assert checked >= 5

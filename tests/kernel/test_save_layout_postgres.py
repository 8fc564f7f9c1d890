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
    with postgres_cluster() as cluster, pgbench_running(cluster):
        result = inspect_cluster(cluster)
    _round_trip(tmp_path, result, "private-4k")


@pytest.mark.kernel
@pytest.mark.skipif(os.geteuid() != 0, reason="reserves huge pages: needs root")
def test_saved_layout_of_a_hugetlb_server_reproduces_each_vmpte(tmp_path):
    # huge_pages=on: shared_buffers (256MB) and the rest of the main segment in 2 MiB hugetlb
    # pages (about 140 of them; 200 made free under the probe's guard, restored after).  Most
    # shared memory is hugetlb, so the layout is evaluated as hugetlb-2m-pmdshare; the 4 KiB
    # shared objects (the DSM segment, a gconv cache file) are left to the baselines.
    from ptcalc.paging import HUGE_2M_BYTES
    from ptcalc.probe.guard import SystemGuard

    with SystemGuard() as guard:
        guard.reserve_huge_pages(HUGE_2M_BYTES, 200)
        with postgres_cluster(huge_pages="on") as cluster, pgbench_running(cluster):
            result = inspect_cluster(cluster)
    _round_trip(tmp_path, result, "hugetlb-2m-pmdshare")


def _round_trip(tmp_path, result, strategy):
    from ptcalc.inspect.save_layout import layout_text  # what --save-layout writes

    text, doc = layout_text(result, "postgres")
    assert doc["strategy"] == strategy
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

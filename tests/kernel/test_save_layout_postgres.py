"""inspect --save-layout round trip on a real PostgreSQL (postmaster + backends under a
read-only pgbench): the saved layout, evaluated by `compare --layout` under the strategy the
host uses, gives every inspected process's VmPTE within 1 %."""

from __future__ import annotations

import pytest

from tests.kernel.test_inspect_postgres import (
    TOLERANCE,
    _skip_reason,
    inspect_cluster,
    pgbench_running,
    postgres_cluster,
)

pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def test_saved_layout_reproduces_each_backends_vmpte(tmp_path):
    from ptcalc.compute.host import evaluate_layout
    from ptcalc.inputs.layout import load_layout_file
    from ptcalc.inspect.save_layout import layout_text

    with postgres_cluster() as cluster, pgbench_running(cluster):
        result = inspect_cluster(cluster)
        text, doc = layout_text(result, "postgres")
    path = tmp_path / "pg.toml"
    path.write_text(text)
    layout = load_layout_file(path)
    assert any(len(g.maps) for g in layout.groups)        # the backends map shared_buffers
    rows = evaluate_layout(layout, (doc["strategy"],))["groups"]
    by_group = {r["group"]: r for r in rows}
    vmpte = {p.layout.pid: p.layout.vmpte_bytes for p in result.processes}
    checked = 0
    for group in doc["groups"]:
        model = by_group[group["name"]]["pt_bytes_per_process"]
        for pid in group["pids"]:
            measured = vmpte[pid]
            assert abs(model - measured) <= TOLERANCE * measured, (group["name"], pid)
            checked += 1
    assert checked >= 5

"""PostgreSQL's own huge page figure against ptcalc's rule for it: for several
shared_buffers, `postgres -C shared_memory_size` (the server's segment, MB rounded up) given
to `ptcalc plan --shared-memory-size` must give the `shared_memory_size_in_huge_pages` the
server prints (src/backend/storage/ipc/ipci.c InitializeShmemGUCs()).  `postgres -C` computes
the figures without starting the server or allocating shared memory.  Opt-in (postgres
marker), skipped without Debian's postgresql package or with a default huge page size other
than 2 MiB (the server sizes for the default)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from tests.conftest import run_cli
from tests.kernel.test_inspect_postgres import _bindir, _run_as, _skip_reason


def _default_huge_page_kb() -> int | None:
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("Hugepagesize:"):
                return int(line.split()[1])
    return None


pytestmark = [pytest.mark.postgres, pytest.mark.skipif(
    _skip_reason() is not None or _default_huge_page_kb() != 2048,
    reason=_skip_reason() or "the default huge page size is not 2 MiB")]


def _server_figures(shared_buffers: list[str]) -> dict:
    bindir, (uid, gid) = _bindir(), _run_as()
    root = tempfile.mkdtemp(prefix="ptcalc-pgc-")
    try:
        os.chown(root, uid, gid)
        data = os.path.join(root, "data")
        kwargs = {"capture_output": True, "text": True, "cwd": root, "timeout": 120}
        if os.geteuid() == 0:
            kwargs.update(user=uid, group=gid, extra_groups=[])
        subprocess.run([f"{bindir}/initdb", "-D", data, "-U", "postgres", "--no-sync"],
                       check=True, **kwargs)
        out = {}
        for value in shared_buffers:
            figures = []
            for guc in ("shared_memory_size", "shared_memory_size_in_huge_pages"):
                done = subprocess.run([f"{bindir}/postgres", "-D", data, "-c",
                                       f"shared_buffers={value}", "-c", "huge_pages=try",
                                       "-C", guc], check=True, **kwargs)
                figures.append(int(done.stdout.strip()))
            out[value] = tuple(figures)
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_ptcalc_gives_the_servers_shared_memory_size_in_huge_pages():
    for shared_buffers, (size_mb, server_pages) in _server_figures(
            ["128MB", "1GB", "10GB", "64GB"]).items():
        code, out, err = run_cli("plan", "--size", shared_buffers, "--shared-memory-size",
                                 f"{size_mb}MB", "--ram", "256GiB", "-s", "hugetlb-2m",
                                 "--format", "json")
        assert code == 0, err
        (row,) = json.loads(out)
        assert row["pool_postgresql"] == server_pages, (shared_buffers, size_mb)
        # and shared_buffers alone (no --shared-memory-size) under-reserves: fewer pages
        code, out, _ = run_cli("plan", "--size", shared_buffers, "--ram", "256GiB",
                               "-s", "hugetlb-2m", "--format", "json")
        assert json.loads(out)[0]["pool_postgresql"] < server_pages

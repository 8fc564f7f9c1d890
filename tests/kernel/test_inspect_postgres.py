"""Integration: inspect a real PostgreSQL under a read-only pgbench.

Starts a throwaway cluster (Debian's postgresql package) on loopback in a temporary directory,
shared_buffers 256MB, 10 pgbench -S clients, and inspects the postmaster and all its children
while the benchmark runs: every prediction within 1 % of VmPTE, and what-if rows for the
shared memory.  Skips when the binaries are missing; as root it runs the server as the
`postgres` user.  The server is stopped and the directory removed also on failure.

Run as a script to print the measured table:  python tests/kernel/test_inspect_postgres.py [--huge]
(--huge: huge_pages=on, needs free 2 MiB huge pages).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from ptcalc.paging import TABLE_BYTES

CLIENTS = 10
SHARED_BUFFERS = "256MB"
TOLERANCE = 0.01


def _bindir() -> str | None:
    """Directory holding initdb, pg_ctl and pgbench (newest Debian version first)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                        key=lambda d: [int(x) for x in re.findall(r"\d+", d)], reverse=True)
    which = shutil.which("initdb")
    if which:
        candidates.append(os.path.dirname(os.path.realpath(which)))
    for directory in candidates:
        if all(os.access(os.path.join(directory, tool), os.X_OK)
               for tool in ("initdb", "pg_ctl", "postgres", "pgbench")):
            return directory
    return None


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) to run the server with: ourselves, or `postgres` when we are root."""
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    import pwd

    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _skip_reason() -> str | None:
    if _bindir() is None:
        return ("PostgreSQL binaries (initdb, pg_ctl, postgres, pgbench) not found; "
                "install Debian's postgresql package")
    if _run_as() is None:
        return "running as root and no 'postgres' user exists to run the server"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return sorted(out)


class Cluster:
    """A running throwaway cluster: bindir, port, postmaster pid, helpers."""

    def __init__(self, bindir: str, root: str, uid: int, gid: int, port: int):
        self.bindir, self.root, self.uid, self.gid, self.port = bindir, root, uid, gid, port
        self.data = os.path.join(root, "data")
        self.log = os.path.join(root, "server.log")

    def run(self, tool: str, *args: str, check: bool = True, timeout: float = 60,
            background: bool = False):
        argv = [os.path.join(self.bindir, tool), *args]
        env = {**os.environ, "PGHOST": self.root, "PGPORT": str(self.port),
               "PGUSER": "postgres"}
        kwargs = {"cwd": self.root, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT,
                  "text": True, "env": env}
        if os.geteuid() == 0:
            kwargs.update(user=self.uid, group=self.gid, extra_groups=[])
        if background:
            return subprocess.Popen(argv, **kwargs)
        done = subprocess.run(argv, check=False, timeout=timeout, **kwargs)
        if check and done.returncode != 0:
            log = ""
            with contextlib.suppress(OSError), open(self.log) as handle:
                log = handle.read()[-2000:]
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout[-2000:]}\n"
                               f"server log: {log}")
        return done

    @property
    def postmaster_pid(self) -> int:
        with open(os.path.join(self.data, "postmaster.pid")) as handle:
            return int(handle.readline())


@contextlib.contextmanager
def postgres_cluster(shared_buffers: str = SHARED_BUFFERS, huge_pages: str = "off"):
    """Start a cluster on 127.0.0.1 in a temporary directory; stop and remove it after."""
    bindir = _bindir()
    uid, gid = _run_as()
    root = tempfile.mkdtemp(prefix="ptcalc-pg-")
    os.chown(root, uid, gid)
    cluster = Cluster(bindir, root, uid, gid, _free_port())
    started = False
    try:
        cluster.run("initdb", "-D", cluster.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                    "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -c unix_socket_directories={root} "
                   f"-c port={cluster.port} -c shared_buffers={shared_buffers} "
                   f"-c huge_pages={huge_pages} -c max_connections=40 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        started = True
        cluster.run("pg_ctl", "-D", cluster.data, "-l", cluster.log, "-w", "-t", "30",
                    "-o", options, "start")
        yield cluster
    finally:
        if started:
            cluster.run("pg_ctl", "-D", cluster.data, "-m", "immediate", "-w", "-t", "20",
                        "stop", check=False)
            with contextlib.suppress(OSError, ValueError):
                os.kill(cluster.postmaster_pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def pgbench_running(cluster: Cluster, clients: int = CLIENTS, seconds: int = 60):
    """pgbench -S with `clients` connections, running in the background until the block
    ends (it is stopped then; `seconds` only bounds it)."""
    cluster.run("pgbench", "-i", "-q", "-s", "2", "-h", "127.0.0.1", "-p", str(cluster.port),
                "postgres")
    bench = cluster.run("pgbench", "-S", "-n", "-c", str(clients), "-j", "2", "-T",
                        str(seconds), "-h", "127.0.0.1", "-p", str(cluster.port), "postgres",
                        background=True)
    try:
        deadline = time.monotonic() + 10
        while len(_children(cluster.postmaster_pid)) < clients + 4:
            if time.monotonic() > deadline or bench.poll() is not None:
                break
            time.sleep(0.1)
        time.sleep(1.0)         # let every client run queries
        yield bench
    finally:
        if bench.poll() is None:
            bench.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            bench.wait(timeout=10)


def inspect_cluster(cluster: Cluster, attempts: int = 3):
    """Inspect the postmaster and its children; read again while a busy one missed 1 %."""
    from ptcalc.inspect.run import inspect

    pids = [cluster.postmaster_pid, *_children(cluster.postmaster_pid)]
    for _ in range(attempts):
        result = inspect(pids=pids, what_if=False)
        if all(p.diff_pct is not None and abs(p.diff_pct) <= 100 * TOLERANCE
               for p in result.processes):
            break
    return inspect(pids=pids)


def _report_table(result) -> str:
    from tabulate import tabulate

    rows = [[p.layout.pid, re.sub(r"\s+", " ", p.layout.name), p.layout.vmpte_bytes,
             p.prediction.tables.bytes, f"{p.diff_pct:+.2f}%"] for p in result.processes]
    return tabulate(rows, headers=["pid", "name", "VmPTE bytes", "predicted bytes", "diff %"])


pytestmark = [pytest.mark.postgres, pytest.mark.slow,
              pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")]


def _free_huge_pages() -> int:
    """Free 2 MiB hugetlb pages (0 when the default huge page size is not 2 MiB)."""
    try:
        with open("/proc/meminfo") as handle:
            info = dict(line.split(":", 1) for line in handle)
    except OSError:
        return 0
    if info.get("Hugepagesize", "").split() != ["2048", "kB"]:
        return 0
    return int(info.get("HugePages_Free", "0").split()[0])


def _within_tolerance_or_explained(proc) -> bool:
    vmpte = proc.layout.vmpte_bytes
    gap = vmpte - proc.prediction.tables.bytes
    if abs(gap) <= TOLERANCE * vmpte:
        return True
    # VmPTE above the prediction: tables that hold no mapped page, and the note says so
    return gap > 0 and any("hold no mapped page" in note for note in proc.notes)


def _check(result, kind: str):
    assert len(result.processes) >= CLIENTS + 1, result.warnings
    for proc in result.processes:
        assert proc.layout.presence_source == "pagemap", proc.notes
        assert _within_tolerance_or_explained(proc), (
            proc.layout.pid, proc.layout.vmpte_bytes, proc.prediction.tables.bytes, proc.notes)
    # shared_buffers lives in one MAP_SHARED|MAP_ANONYMOUS region mapped by every process
    main = max(result.shared_groups, key=lambda g: g.size_bytes)
    assert main.kind == kind
    assert main.size_bytes >= 256 * 2**20
    assert main.procs == len(result.processes)
    strategies = {row["strategy"]: row for row in main.what_if}
    assert {"private-4k", "hugetlb-2m", "hugetlb-2m-pmdshare", "mshare", "threads"} <= \
        set(strategies)
    assert strategies["private-4k"]["pt_bytes_total"] > 0
    assert strategies["threads"]["pt_bytes_total"] < strategies["private-4k"]["pt_bytes_total"]
    assert {row["strategy"] for row in result.what_if} == set(strategies)
    data = result.to_dict()
    assert {"pid", "vmpte_bytes", "predicted_pt_bytes", "shared_mappings"} <= \
        set(data["processes"][0])
    assert {"identity", "size_bytes", "procs", "what_if"} <= set(data["shared_groups"][0])
    return main


def test_postgres_backends_match_vmpte_and_get_what_if():
    with postgres_cluster() as cluster, pgbench_running(cluster) as bench:
        result = inspect_cluster(cluster)
        assert bench.poll() is None, "pgbench ended before the backends were inspected"
    main = _check(result, "shared-anon")
    # measured now = the model's private-4k at the real layout, within a table per process
    private = next(r for r in main.what_if if r["strategy"] == "private-4k")
    assert abs(private["pt_bytes_total"] - main.current_pt_bytes) <= \
        2 * TABLE_BYTES * main.procs


@pytest.mark.skipif(_free_huge_pages() < 160,
                    reason="needs 160 free 2 MiB huge pages (vm.nr_hugepages)")
def test_postgres_on_hugetlb_backends_match_vmpte():
    with postgres_cluster(huge_pages="on") as cluster, pgbench_running(cluster) as bench:
        result = inspect_cluster(cluster)
        assert bench.poll() is None, "pgbench ended before the backends were inspected"
    main = _check(result, "hugetlb shared-anon")
    hugetlb = next(r for r in main.what_if if r["strategy"] == "hugetlb-2m")
    assert hugetlb["placement"] == "as mapped"
    # hugetlb: one PMD table per 1 GiB slot and the PUD table; when ASLR puts the region
    # across a 1 GiB boundary, the real pages use both slots and the model's dense prefix
    # may use one: at most one PMD table per process apart.
    assert 0 <= main.current_pt_bytes - hugetlb["pt_bytes_total"] <= TABLE_BYTES * main.procs


if __name__ == "__main__":
    reason = _skip_reason()
    if reason:
        raise SystemExit(reason)
    from ptcalc.inspect.run import render

    started = time.monotonic()
    huge = "on" if "--huge" in sys.argv else "off"
    with postgres_cluster(huge_pages=huge) as cluster, pgbench_running(cluster):
        result = inspect_cluster(cluster)
    print(_report_table(result))
    print()
    print(render(result, "table"))
    print(f"\n({time.monotonic() - started:.1f} s)")

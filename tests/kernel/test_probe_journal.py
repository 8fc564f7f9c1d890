"""A probe killed where it cannot restore (SIGKILL, the OOM killer) is repaired by the next
run from its journal: nr_hugepages of every size, the mounts and the THP knobs exactly as
before.  SIGHUP, SIGQUIT and SIGPIPE restore like SIGTERM.  Mounts are nosuid,nodev,noexec in
the root-only state directory, whatever $TMPDIR says.

Kernel state: opt-in (marker ``kernel``: --kernel or PTCALC_KERNEL_TESTS=1), needs root; run
it under ``flock /tmp/ptcalc-kernel.lock`` so that concurrent runs do not fight over the pools.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ptcalc.probe import journal
from ptcalc.probe import kernel as probe_kernel

SOURCE = str(Path(__file__).resolve().parents[2])

pytestmark = [
    pytest.mark.kernel,              # opt-in: --kernel or PTCALC_KERNEL_TESTS=1 (conftest)
    pytest.mark.skipif(os.geteuid() != 0, reason="huge page pools and mounts need root"),
    pytest.mark.skipif(probe_kernel.platform_problem() is not None,
                       reason=probe_kernel.platform_problem() or ""),
]


def machine_state() -> dict:
    """What a probe may change: nr_hugepages of every size, huge/ptcalc mounts, THP knobs."""
    state = {}
    for path in sorted(glob.glob("/sys/kernel/mm/hugepages/*/nr_hugepages")):
        state[path] = Path(path).read_text().strip()
    with open("/proc/self/mounts") as handle:
        state["mounts"] = sorted(line for line in handle
                                 if "huge" in line or "ptcalc" in line)
    knobs = glob.glob("/sys/kernel/mm/transparent_hugepage/**/*enabled", recursive=True)
    for path in sorted([*knobs, "/sys/kernel/mm/transparent_hugepage/defrag"]):
        with contextlib.suppress(OSError):
            state[path] = Path(path).read_text().strip()
    return state


@pytest.fixture
def unchanged():
    before = machine_state()
    yield before
    after = machine_state()
    if after != before:         # never leave the machine changed, whatever failed
        run_ptcalc("probe", "--restore")
    assert machine_state() == before


def run_ptcalc(*argv, **kwargs):
    return subprocess.run([sys.executable, "-m", "ptcalc", *argv], capture_output=True,
                          text=True, check=False, timeout=300,
                          env={**os.environ, "PYTHONPATH": SOURCE}, **kwargs)


def start_probe(case: str, tmpdir: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SOURCE}
    if tmpdir:
        env["TMPDIR"] = tmpdir
    return subprocess.Popen([sys.executable, "-m", "ptcalc.probe.run", "--case", case,
                             "--hold", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def kill_leaving_its_children(probe: subprocess.Popen) -> None:
    """SIGKILL the probe alone.  Its case's children, in their own process groups, go on
    holding the region (--hold) and the pipes they inherited: the next run's repair must
    kill them (journal groups), so wait for the probe itself, not for its pipes to close."""
    probe.send_signal(signal.SIGKILL)
    probe.wait(timeout=60)
    probe.stdout.close()
    probe.stderr.close()


def lock_is_free() -> bool:
    import fcntl

    fd = os.open(os.path.join(journal.STATE_DIR, journal.LOCK), os.O_RDWR | os.O_NOFOLLOW)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)           # closing releases it


def wait_for_change(before: dict, seconds: float = 60.0) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = machine_state()
        if now != before:
            time.sleep(1.0)         # the case is under way: its children hold the region
            return machine_state()
        time.sleep(0.05)
    raise AssertionError("the probe changed nothing within a minute")


@pytest.mark.parametrize("case", ["hugetlb-2m private write", "thp aligned 8MiB write",
                                  "pmdshare aligned 1GiB slot read (hugetlbfs)"])
def test_sigkill_mid_case_is_repaired_by_the_next_run(unchanged, case, tmp_path):
    probe = start_probe(case, tmpdir=str(tmp_path))
    try:
        during = wait_for_change(unchanged)
        mounts = [line for line in during["mounts"] if "ptcalc" in line]
        for line in mounts:     # in the root-only state directory, never under $TMPDIR
            point, options = line.split()[1], line.split()[3].split(",")
            assert point.startswith(journal.STATE_DIR + "/") and str(tmp_path) not in point
            assert {"nosuid", "nodev", "noexec"} <= set(options), line
        with open(os.path.join(journal.STATE_DIR, journal.JOURNAL)) as handle:
            written = json.load(handle)            # written before the change
        assert written["pid"] == probe.pid
        assert written["hugepages"] or written["mounts"]
    finally:
        kill_leaving_its_children(probe)
    assert machine_state() != unchanged        # the SIGKILL leaked it: nothing restored yet
    # its children still hold the region, but not the lock: the next run gets it at once
    # and kills them, rather than waiting for them to let go
    assert any(journal.process_start(pgid) == start for pgid, start in written["groups"])
    assert lock_is_free()
    result = run_ptcalc("probe", "--restore")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and f"probe pid {probe.pid}" in lines[0] and "repaired" in lines[0]
    assert machine_state() == unchanged
    again = run_ptcalc("probe", "--restore")
    assert again.returncode == 0 and "nothing to repair" in again.stdout


def test_a_normal_run_repairs_first_and_keeps_the_true_baseline(unchanged):
    probe = start_probe("hugetlb-2m private write")
    try:
        wait_for_change(unchanged)
    finally:
        kill_leaving_its_children(probe)
    result = run_ptcalc("probe", "--case", "4k anon aligned 4MiB write", "-f", "json")
    assert result.returncode == 0, result.stderr
    assert f"repaired what the probe pid {probe.pid}" in result.stderr
    report = json.loads(result.stdout)
    # the baseline is the machine before the killed probe, not its leaked pool
    before = {str(int(Path(p).parent.name[len("hugepages-"):-2]) * 1024): int(v)
              for p, v in unchanged.items() if p.endswith("nr_hugepages")}
    assert report["state_before"]["nr_hugepages"] == before
    assert machine_state() == unchanged


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE,
                                    signal.SIGTERM])
def test_hangup_quit_and_pipe_restore_like_sigterm(unchanged, signum):
    probe = start_probe("hugetlb-2m private write")
    try:
        wait_for_change(unchanged)
        probe.send_signal(signum)
        _, err = probe.communicate(timeout=120)
    finally:
        if probe.poll() is None:
            probe.kill()
    assert probe.returncode == 128 + signum, err
    assert machine_state() == unchanged
    assert not os.path.exists(os.path.join(journal.STATE_DIR, journal.JOURNAL))


def test_closed_pipe_restores(unchanged):
    # `ptcalc probe 2>&1 | head -1`: the reader goes away mid-case
    shell = (f"PYTHONPATH={SOURCE} {sys.executable} -m ptcalc probe --case "
             "'hugetlb-2m private write' --case 'hugetlb-2m private +2MiB read' 2>&1 "
             "| head -1")
    result = subprocess.run(["sh", "-c", shell], capture_output=True, text=True,
                            check=False, timeout=300)
    assert result.returncode == 0 and result.stdout.startswith("[1/2]")
    time.sleep(1.0)
    assert machine_state() == unchanged


def test_lock_wait_is_bounded_with_one_line(unchanged, monkeypatch):
    from ptcalc.probe import guard as probe_guard

    directory = journal.state_dir()
    fd = os.open(os.path.join(directory, journal.LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({os.path.join(directory, journal.LOCK)!r}, os.O_RDWR)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(probe_guard.SystemGuard, "LOCK_WAIT_SECONDS", 0.5)
        from tests.conftest import run_cli

        code, _, err = run_cli("probe", "--restore")
    finally:
        holder.kill()
        holder.wait()
        os.close(fd)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "another ptcalc probe" in lines[0], err
    assert lines[0].startswith("ptcalc: error: ")


def test_state_directory_of_another_owner_is_refused(tmp_path, monkeypatch):
    from ptcalc.errors import InputError

    shared = tmp_path / "state"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    monkeypatch.setenv("PTCALC_PROBE_STATE_DIR", str(shared))
    with pytest.raises(InputError, match="mode 0700"):
        journal.state_dir()

"""``ptcalc probe``: the built-in matrix against the live kernel, restoration of every
setting it changes (also on SIGINT/SIGTERM in the middle of a hugetlb case), and the
comparison/rendering logic on synthetic data.

Kernel measurements with a stated tolerance: VmPTE bytes exact, faults +-2 per process.
The live parts need Linux x86-64; reservations and mounts need root (CI runs as root on
this kind of machine); elsewhere those cases are skipped with their reason.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ptcalc.errors import InputError
from ptcalc.probe import children, kernel
from ptcalc.probe import guard as probe_guard
from ptcalc.probe import results as probe_results
from ptcalc.probe import run as probe
from ptcalc.probe.cases import ProbeCase
from ptcalc.probe.results import Check

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

live = pytest.mark.skipif(kernel.platform_problem() is not None,
                          reason=kernel.platform_problem() or "")
root = pytest.mark.skipif(os.geteuid() != 0,
                          reason="huge page reservations and mounts need root")
# Runs that reserve huge pages or mount tmpfs/hugetlbfs (as root): opt-in (tests/conftest.py).
changes_kernel = pytest.mark.kernel


def _state() -> dict:
    """The settings a probe may change, in the shape of ProbeReport.state_before/after."""
    return {"nr_hugepages": {str(k): v for k, v in probe_guard.hugepage_counts().items()},
            "mounts": probe_guard.mount_table(), "shmem_mthp": probe_guard.mthp_settings()}


def _leftover_dirs():
    import tempfile

    base = tempfile.gettempdir()
    return sorted(n for n in os.listdir(base)
                  if n.startswith(("ptcalc-tmpfs-", "ptcalc-hugetlbfs-")))


def _assert_restored(before: dict, report: dict) -> None:
    """nr_hugepages (every size) and the mount table exactly as before.

    This VM is shared: another process (a PostgreSQL test, an admin) may change the huge
    page pool or mounts while the probe runs.  The probe never undoes such a change; it
    reports it (foreign_changes) and removes only what it added itself.  Exact equality is
    asserted whenever nothing else changed the state, inside the probe's window (its own
    before/after snapshots) or outside it (this test's snapshots); otherwise the probe's
    own undo is checked: no problems, none of its mounts left."""
    after = _state()
    assert report["restored"] and not report["restore_problems"]
    assert not any("/ptcalc-tmpfs-" in m or "/ptcalc-hugetlbfs-" in m
                   for m in after["mounts"])
    quiet = (not report["foreign_changes"] and report["state_before"] == before
             and report["state_after"] == after)
    if quiet:
        assert report["state_after"] == report["state_before"]
        assert after == before
    else:
        import warnings

        warnings.warn(f"another process changed huge pages or mounts during the probe: "
                      f"{report['foreign_changes'] or 'outside the probe window'}",
                      stacklevel=2)


# --------------------------------------------------------------------------- matrix


def test_matrix_covers_every_linux_strategy_and_placement():
    cases = probe.default_matrix()
    assert len(cases) >= 20
    names = {c.name for c in cases}
    assert len(names) == len(cases)
    have = {(c.strategy, c.backing, c.access) for c in cases}
    for needed in [("private-4k", "anon", "read"), ("private-4k", "anon", "write"),
                   ("private-4k", "file", "read"), ("private-4k", "file", "write"),
                   ("thp-shmem", "thp", "read"), ("thp-shmem", "thp", "write")]:
        assert needed in have
    strategies = {c.strategy for c in cases}
    assert strategies == set(probe.LIVE_STRATEGIES)
    assert any(c.strategy == "hugetlb-2m" and c.private for c in cases)   # MAP_PRIVATE
    thp = [c for c in cases if c.strategy == "thp-shmem"]
    assert any(c.offset % (2 * MiB) for c in thp) and any(c.offset == 0 for c in thp)
    pmd = [c for c in cases if c.strategy == "hugetlb-2m-pmdshare"]
    assert any(c.offset == 0 and c.size == GiB for c in pmd)              # full slot
    assert any(c.offset % GiB for c in pmd)                               # partial slots
    assert any(c.offset % (2 * MiB) for c in cases)                       # unaligned ones


@changes_kernel
@pytest.mark.slow
@live
def test_matrix_runs_and_agrees_with_the_model():
    before = _state()
    t0 = time.monotonic()
    report = probe.run_probe(install_signal_handlers=False)
    took = time.monotonic() - t0
    _assert_restored(before, report.to_dict())
    assert len(report.results) >= 20
    bad = [(r.case.name, r.status, r.reason, [asdict_check(c) for c in r.checks])
           for r in report.results if r.status not in ("pass", "skip")]
    assert not bad
    if os.geteuid() == 0:
        # as root every case runs, except 1 GiB pages the kernel cannot find memory for
        skipped = [(r.case.name, r.reason) for r in report.results if r.status == "skip"]
        assert all("could allocate only" in reason for _, reason in skipped), skipped
    else:
        assert all(r.reason for r in report.results if r.status == "skip")
    assert report.exit_code == 0
    assert took < 120
    text = probe.render(report, "table")
    assert "hugetlb-2m-pmdshare" in text and "settings restored" in text
    data = json.loads(probe.render(report, "json"))
    assert data["exit_code"] == 0 and len(data["cases"]) == len(report.results)


def asdict_check(c: Check) -> dict:
    return {"metric": c.metric, "model": c.model, "measured": c.measured}


@live
def test_mismatch_gives_nonzero_exit():
    """A wrong model (one table too many, faults off by 3) fails the case and the run."""

    def wrong(case):
        return {"applicable": True, "reason": None, "pt_bytes_per_process": 4 * 4096 + 4096,
                "faults_first": 1024 + 3, "faults_next": 1024}

    case = ProbeCase("private-4k", 4 * MiB, 0, 2, "write", "anon")
    report = probe.run_probe([case], model=wrong, install_signal_handlers=False)
    (result,) = report.results
    assert result.status == "fail"
    by = {c.metric: c for c in result.checks}
    assert by["pt_bytes_per_process"].ok is False
    assert by["faults_first"].ok is False        # 3 is outside +-2
    assert by["faults_next"].ok is True
    assert report.exit_code == 1
    assert " !" in probe.render(report)


@changes_kernel
@live
def test_user_scenario_and_not_applicable_strategies():
    cases = probe.user_cases("5MiB", "1MiB", 3, "read")
    report = probe.run_probe(cases, install_signal_handlers=False)
    status = {r.case.strategy: r for r in report.results}
    assert status["private-4k"].status == "pass"
    assert status["threads"].status == "pass"
    # the model rejects hugetlb at a 1 MiB offset: skipped with its reason, never measured
    assert status["hugetlb-2m"].status == "skip" and "aligned" in status["hugetlb-2m"].reason
    for name in ("ptshare", "file-pt", "mshare"):
        assert status[name].status == "skip" and "Linux" in status[name].reason
    assert report.exit_code == 0


@changes_kernel
@live
@root
def test_hugetlb_size_not_a_multiple_of_the_page():
    """5 MiB of 2 MiB hugetlb maps 3 huge pages (mmap rounds the length up)."""
    cases = [ProbeCase("hugetlb-2m-pmdshare", 5 * MiB, 0, 2, "write")]
    report = probe.run_probe(cases, install_signal_handlers=False)
    assert report.results[0].status == "pass", report.results[0]
    assert report.results[0].faults[0] in range(3 - 2, 3 + 3)


def test_refuses_more_than_half_of_memavailable():
    # more than half of MemTotal is more than half of MemAvailable whenever the probe reads it
    # (MemAvailable <= MemTotal): refused however much other processes free meanwhile (half
    # of a MemAvailable read here was once mapped when memory was freed before the check)
    total = kernel.read_meminfo_kb("MemTotal") * 1024
    big = (total // 2 // (2 * MiB) + 1) * 2 * MiB
    report = probe.run_probe([ProbeCase("private-4k", big, 0, 2, "write")],
                             model=lambda c: {"applicable": True},
                             install_signal_handlers=False)
    (result,) = report.results
    assert result.status == "skip" and result.reason.startswith("refused:")


def test_without_root_hugetlb_and_mounts_are_skipped(monkeypatch):
    monkeypatch.setattr(probe_guard.SystemGuard, "is_root", staticmethod(lambda: False))
    free = {size: probe_guard._read_int(probe_guard._hp_path(size, "free_hugepages"))
            for size in probe_guard.hugepage_counts()}
    cases = [ProbeCase("thp-shmem", 4 * MiB, 0, 2, "write"),
             ProbeCase("hugetlb-1g", GiB, 0, 2, "write")]
    report = probe.run_probe(cases, model=lambda c: {"applicable": True},
                             install_signal_handlers=False)
    thp, h1g = report.results
    if kernel.platform_problem() is None:
        assert thp.status == "skip" and "root" in thp.reason
    if free.get(GiB) == 0 and kernel.platform_problem() is None:
        assert h1g.status == "skip" and "root" in h1g.reason


# --------------------------------------------------------------------------- restoration


def _probe_process(case_text: str, hold: float = 30.0):
    cmd = [sys.executable, "-m", "ptcalc.probe.run", "--case", case_text, "--hold", str(hold),
           "--format", "json"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_until(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


@changes_kernel
@live
@root
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_in_the_middle_of_a_hugetlb_case_restores_everything(signum, code):
    """Interrupt the probe while a hugetlbfs case has its pool grown, its mount up and
    its processes holding the huge pages; afterwards nr_hugepages of every size and the
    mount table are exactly as before, and no probe directory or process is left."""
    before = _state()
    dirs_before = _leftover_dirs()
    proc = _probe_process("pmdshare aligned 1GiB slot read (hugetlbfs)")
    try:
        def in_the_middle():
            mounted = any("ptcalc-hugetlbfs" in line for line in probe_guard.mount_table())
            try:
                total = probe_guard._read_int(probe_guard._hp_path(2 * MiB, "nr_hugepages"))
                free = probe_guard._read_int(probe_guard._hp_path(2 * MiB, "free_hugepages"))
            except OSError:
                return False
            return mounted and total - free >= 512    # the case's processes hold its pages

        assert _wait_until(in_the_middle, 60), proc.communicate(timeout=30)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == code, err
    report = json.loads(out)
    assert report["interrupted"] == signal.Signals(signum).name
    assert report["exit_code"] == code
    _assert_restored(before, report)
    assert _leftover_dirs() == dirs_before
    assert not children._group_members(proc.pid)


@changes_kernel
@live
@root
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_in_the_middle_of_an_mthp_case_restores_the_switch(signum, code):
    """Interrupt the probe while an mTHP case has hugepages-64kB/shmem_enabled switched to
    always and its processes hold the folios; afterwards every shmem mTHP switch reads as
    before and no probe process is left."""
    knob = probe_guard.mthp_knob(64 * KiB)
    if not os.path.exists(knob):
        pytest.skip(f"this kernel has no {knob}")
    before = _state()
    assert before["shmem_mthp"]["hugepages-64kB"] != "always"   # else nothing is tested
    proc = _probe_process("mthp 64k @64KiB + 12KiB tail write")
    try:
        assert _wait_until(lambda: probe_guard.read_choice(knob) == "always", 60), \
            proc.communicate(timeout=30)
        time.sleep(1.0)                      # the workers are touching or holding the region
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == code, err
    report = json.loads(out)
    assert report["interrupted"] == signal.Signals(signum).name
    assert probe_guard.mthp_settings() == before["shmem_mthp"]
    _assert_restored(before, report)
    assert not children._group_members(proc.pid)


def test_mthp_cases_name_their_switch():
    # thp-shmem-64k switches on hugepages-64kB/shmem_enabled; the folio size comes from the
    # name (64 KiB, 1 MiB), and every shmem mTHP strategy of the catalogue has probe cases.
    case = ProbeCase("thp-shmem-64k", 4 * MiB)
    assert case.backing == "mthp" and case.folio_bytes == 64 * KiB
    assert ProbeCase("thp-shmem-1m", 4 * MiB).folio_bytes == MiB
    assert probe_guard.mthp_knob(case.folio_bytes).endswith("hugepages-64kB/shmem_enabled")
    assert ProbeCase("private-4k", 4 * MiB).folio_bytes == 0
    matrix = {c.strategy for c in probe.default_matrix() if c.backing == "mthp"}
    assert matrix == {"thp-shmem-8k", "thp-shmem-16k", "thp-shmem-32k", "thp-shmem-64k",
                      "thp-shmem-128k", "thp-shmem-256k", "thp-shmem-512k", "thp-shmem-1m"}


@changes_kernel
def test_guard_restores_after_an_exception():
    before = _state()
    guard = probe_guard.SystemGuard(install_signal_handlers=False)
    with pytest.raises(RuntimeError, match="boom"), guard:
        if os.geteuid() == 0 and str(2 * MiB) in before["nr_hugepages"]:
            free = probe_guard._read_int(probe_guard._hp_path(2 * MiB, "free_hugepages"))
            guard.reserve_huge_pages(2 * MiB, free + 2)
            guard.mount("tmpfs", "huge=always,size=8m")
            assert _state() != before
        raise RuntimeError("boom")
    assert guard.restored and not guard.problems
    if not guard.foreign:
        assert _state() == before


@changes_kernel
def test_guard_keeps_another_processes_change():
    """A pool change made by someone else while the guard runs is reported, not undone;
    the guard removes only the pages it added itself."""
    if os.geteuid() != 0 or 2 * MiB not in probe_guard.hugepage_counts():
        pytest.skip("needs root and 2 MiB huge pages")
    path = probe_guard._hp_path(2 * MiB, "nr_hugepages")
    original = probe_guard._read_int(path)
    try:
        with probe_guard.SystemGuard(install_signal_handlers=False) as guard:
            free = probe_guard._read_int(probe_guard._hp_path(2 * MiB, "free_hugepages"))
            resv = probe_guard._read_int(probe_guard._hp_path(2 * MiB, "resv_hugepages"))
            guard.reserve_huge_pages(2 * MiB, free - resv + 3)       # the guard adds 3
            probe_guard.SystemGuard._write(path, probe_guard._read_int(path) + 2)  # another: +2
            guard.release()
        assert probe_guard._read_int(path) == original + 2
        assert guard.foreign and not guard.problems
    finally:
        probe_guard.SystemGuard._write(path, original)



def test_guard_signal_handler_raises_and_is_removed():
    old = signal.getsignal(signal.SIGTERM)
    guard = probe_guard.SystemGuard()
    with pytest.raises(probe_guard.ProbeInterrupted) as info, guard:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)
    assert info.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is old


# --------------------------------------------------------------------------- pure logic


def test_case_validation_errors_are_input_errors():
    with pytest.raises(InputError, match="strategy"):
        ProbeCase("private-8k", 4 * MiB)
    with pytest.raises(InputError, match="multiple of 4096"):
        ProbeCase("private-4k", 4 * MiB, 100)
    with pytest.raises(InputError, match="procs"):
        ProbeCase("private-4k", 4 * MiB, 0, 0)
    with pytest.raises(InputError, match="cannot realise"):
        ProbeCase("hugetlb-1g", GiB, 0, 2, "write", "anon")
    with pytest.raises(InputError, match="unit"):
        probe.user_cases("12 parsecs")


def test_case_resources():
    private = ProbeCase("hugetlb-2m", 5 * MiB, 0, 8, "write")
    assert private.mapped_size == 6 * MiB
    assert private.measured_procs == probe.MAX_MEASURED_PROCS
    assert private.huge_pages_needed() == 3 * probe.MAX_MEASURED_PROCS
    shared = ProbeCase("hugetlb-2m-pmdshare", GiB, 0, 1500, "read")
    assert shared.huge_pages_needed() == 512
    assert ProbeCase("private-4k", 4 * MiB).huge_pages_needed() == 0


class _Run:
    def __init__(self, pts, faults):
        self.procs = [type("P", (), {"pt_bytes": p, "minor_faults": f})()
                      for p, f in zip(pts, faults, strict=True)]


def test_compare_tolerances():
    case = ProbeCase("private-4k", 4 * MiB, 0, 3, "read")
    model = {"pt_bytes_per_process": 16384, "faults_first": 1024, "faults_next": 64}
    status, checks = probe_results.compare(case, model, _Run([16384] * 3, [1026, 62, 65]))
    assert status == "pass"
    status, _ = probe_results.compare(case, model, _Run([16384, 16384, 12288], [1024, 64, 64]))
    assert status == "fail"                                       # bytes are exact
    status, _ = probe_results.compare(case, model, _Run([16384] * 3, [1024, 64, 67]))
    assert status == "fail"                                       # 3 faults off
    # a model without fault columns yet: those checks are unknown, not failures
    status, checks = probe_results.compare(case, {"pt_bytes_per_process": 16384},
                                    _Run([16384] * 3, [1, 2, 3]))
    assert status == "pass" and [c.ok for c in checks] == [True, None, None]


def test_threads_compare_the_one_mm():
    case = ProbeCase("threads", 4 * MiB, 0, 3, "write")
    model = {"pt_bytes_per_process": 16384, "faults_first": 1024, "faults_next": 0}
    status, checks = probe_results.compare(case, model, _Run([16384, 0, 0], [1024, 0, 1]))
    assert status == "pass" and checks[0].measured == (16384,)


def test_exit_codes_and_json():
    case = ProbeCase("private-4k", 4 * MiB)
    ok = probe.CaseResult(case, "pass")
    report = probe.ProbeReport([ok, probe.CaseResult(case, "skip", "why")], "6.x", 65536)
    assert report.exit_code == 0
    report.results.append(probe.CaseResult(case, "error", "mmap failed"))
    assert report.exit_code == 1
    report.interrupted = "SIGTERM"
    assert report.exit_code == 143
    data = json.loads(probe.render_json(report))
    assert data["summary"] == {"pass": 1, "skip": 1, "error": 1}
    assert data["cases"][0]["size_bytes"] == 4 * MiB
    with pytest.raises(InputError):
        probe.render(report, "yaml")


def test_model_adapter_reads_compare():
    pytest.importorskip("ptcalc.api")
    got = probe.model_for(ProbeCase("private-4k", 4 * MiB, 4 * KiB, 2, "read"))
    assert got["applicable"] is True
    assert got["pt_bytes_per_process"] == 5 * 4096      # 3 PTE + PMD + PUD tables
    if got["faults_next"] is not None:
        assert (got["faults_first"], got["faults_next"]) == (1024, 65)
    na = probe.model_for(ProbeCase("hugetlb-1g", GiB, 2 * MiB, 2, "write"))
    assert na["applicable"] is False and na["reason"]

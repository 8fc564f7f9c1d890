"""``ptcalc op-probe``: the operation rules measured on the live kernel, and restoration of the
huge page pool and of the shmem mTHP switch it sets (also on SIGINT/SIGTERM in a case).

The probe's own checks compare with the model: VmPTE exactly, refaults +-2, IPIs within the
most seen in its idle windows.  Needs Linux x86-64, 2 CPUs and root (huge pages, sysfs).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ptcalc.probe import guard as probe_guard
from ptcalc.probe import operations as op_probe
from ptcalc.probe.procfs import platform_problem

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

live = pytest.mark.skipif(platform_problem() is not None or (os.cpu_count() or 1) < 2,
                          reason=platform_problem() or "needs 2 CPUs")
root = pytest.mark.skipif(os.geteuid() != 0, reason="huge pages and sysfs switches need root")


def _state() -> dict:
    return {"nr_hugepages": probe_guard.hugepage_counts(),
            "shmem_mthp": probe_guard.mthp_settings(), "mounts": probe_guard.mount_table()}


@pytest.mark.kernel
@pytest.mark.slow
@live
@root
def test_every_operation_case_agrees_with_the_model(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))   # the fork calibration lands here
    before = _state()
    report = op_probe.run()
    assert _state() == before
    bad = [(c["case"]["name"], [k for k in c.get("checks", ()) if not k["ok"]],
            c.get("skipped")) for c in report["cases"] if c.get("ok") is not True]
    disagreed = bool(bad)
    if bad:
        # The cases that disagree are measured once more, and must then agree: an IPI count
        # of 0 was seen once in about five full runs for a case that measures its model's
        # count every time alone (the spinner's CPU not running the mm in that window); a
        # real disagreement repeats.
        again = op_probe.run(case_filter=[name for name, _, _ in bad])
        assert _state() == before
        retried = {c["case"]["name"]: c for c in again["cases"]}
        bad = [(name, [k for k in retried[name].get("checks", ()) if not k["ok"]],
                "measured twice") for name, _, _ in bad
               if retried.get(name, {}).get("ok") is not True]
    assert not bad
    # the first run's exit code says whether any case disagreed
    assert report["exit_code"] == int(disagreed) and report["interrupted"] is None
    by_name = {c["case"]["name"]: c for c in report["cases"]}
    assert set(by_name) == {c.name for c in op_probe.default_cases()}
    # the PMD-sharing unshare of two slots, as derived by hand in
    # tests/compute/test_operations.py: -8 KiB now, back to 0 after 1,024 refaults
    mprotect = by_name["pmdshare-mprotect-part-p2"]["measured"]
    assert (mprotect["vmpte_now"], mprotect["vmpte_after"]) == (-8 * KiB, 0)
    assert abs(mprotect["refaults"] - 1024) <= 2 and mprotect["others_vmpte"] == 0
    # shmem mTHP: the folio switch was on (4 KiB pages would take 1,024 and 256 refaults)
    assert abs(by_name["mthp64k-dontneed-4m-write"]["measured"]["refaults"] - 64) <= 2
    assert abs(by_name["mthp64k-dontneed-cut-write"]["measured"]["refaults"] - 31) <= 2
    fork = report["fork"]
    assert fork["ms_per_gib_of_tables"] > 0 and str(tmp_path) in fork["stored_in"]
    assert "interrupted" not in op_probe.render(report)


@pytest.mark.kernel
@live
@root
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_in_an_mthp_case_restores_the_switch(signum, code, tmp_path):
    """Interrupt op-probe while its mTHP case has hugepages-64kB/shmem_enabled on and its
    workers hold the region; afterwards every switch reads as before, no worker is left."""
    knob = probe_guard.mthp_knob(64 * KiB)
    if not os.path.exists(knob):
        pytest.skip(f"this kernel has no {knob}")
    before = _state()
    assert before["shmem_mthp"]["hugepages-64kB"] != "always"    # else nothing is tested
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "ptcalc", "op-probe", "--case",
                             "mthp64k-dontneed-4m-write", "--repeat", "200", "--format",
                             "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while probe_guard.read_choice(knob) != "always" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert probe_guard.read_choice(knob) == "always", proc.communicate(timeout=30)
        time.sleep(1.0)                     # workers mapping, touching, zapping the region
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
    assert _state() == before
    # no worker of the probe's session is left
    left = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True,
                          check=False)
    assert left.stdout.strip() == ""

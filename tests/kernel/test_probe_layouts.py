"""The layout probe cases on the live kernel: fork (private and shared memory, PMD-shared
hugetlb), PMD sharing at +1 GiB and +2 MiB, THP with a file offset, independent random sets
and the same random set.
Bytes exact, faults within +-2 of the model (random sets: of the oracle run on the very pages
drawn, and within 4 standard deviations of the model's expectation).

Changes kernel state (huge page pool, a tmpfs mount; restored): opt in with --kernel or
PTCALC_KERNEL_TESTS=1 (tests/conftest.py), as root, under `flock /tmp/ptcalc-kernel.lock`."""

from __future__ import annotations

import os
import sys

import pytest

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0,
    reason="reserves huge pages and mounts tmpfs: needs Linux and root")]


def test_layout_probe_cases_match_the_model():
    from ptcalc.probe.layouts import probe_layouts

    cases, state = probe_layouts()
    assert state["restored"] and not state["problems"]
    failed = [(c.name, c.status, c.reason, c.measured, c.model) for c in cases
              if c.status not in ("pass", "skip")]
    if failed:
        # Measured once more, and then every case must agree: run inside the test process,
        # a case's forked child (of pytest's large heap) can once in a while take a page
        # table for the interpreter's own memory within the window (seen once in about five
        # full runs: child_pt_at_fork off by whole tables); a real disagreement repeats.
        cases, state = probe_layouts()
        assert state["restored"] and not state["problems"]
        failed = [(c.name, c.status, c.reason, c.measured, c.model, "measured twice")
                  for c in cases if c.status not in ("pass", "skip")]
    assert not failed
    ran = [c for c in cases if c.status == "pass"]
    assert len(ran) >= 6, [(c.name, c.reason) for c in cases]
    random_sets = {c.name.split()[0]: c for c in cases if "random set" in c.name}
    for case in random_sets.values():
        if case.status == "pass":       # the model's expectation, within 4 sigma
            model = case.model
            assert abs(case.measured["second_faults"] - model["expected_second_faults"]) \
                <= 4 * model["sigma"], case.name
    independent, same = random_sets["independent"], random_sets["same"]
    if independent.status == same.status == "pass":
        # A reader of its own random quarter of 64 MiB faults on about 3.3x the windows a
        # reader of the writer's own pages does: independent 1024 x (c (1 - q^16) + 16 f
        # (1 - c)) with c = f = 1/4, q = 3/4: 1024 x (0.2475 + 3) = 3325.4; the same set
        # 1024 x (1 - q^16) = 1013.7
        ratio = independent.model["expected_second_faults"] / same.model["expected_second_faults"]
        assert 3.2 < ratio < 3.4
        measured = independent.measured["second_faults"] / same.measured["second_faults"]
        assert 2.9 <= measured <= 3.7

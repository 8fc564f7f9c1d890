"""The layout probe cases on the live kernel: fork (private and shared memory, PMD-shared
hugetlb), PMD sharing at +1 GiB and +2 MiB, THP with a file offset, independent random sets.
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
    assert not failed
    ran = [c for c in cases if c.status == "pass"]
    assert len(ran) >= 6, [(c.name, c.reason) for c in cases]
    independent = next(c for c in cases if c.name.startswith("independent"))
    if independent.status == "pass":
        model = independent.model
        assert abs(independent.measured["second_faults"] - model["expected_second_faults"]) \
            <= 4 * model["sigma"]

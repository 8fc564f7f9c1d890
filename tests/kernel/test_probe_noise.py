"""The probes' measured windows take no fault of their own, whatever the call depth.

CPython keeps its frames in 16 KiB chunks: a call that does not fit the current chunk mmap()s
a new one and the return unmaps it again (_PyThreadState_PushFrame/PopFrame), so at some call
depths every Python call costs one fresh minor fault.  A Python call between the two
getrusage() readings then showed as noise_faults=1 in the cases whose worker ran at such a
depth (in a full `ptcalc probe` run, never when the case ran alone).  The windows now run
only C calls and their own bytecode; these tests walk the depths where that mattered.
Measures the test process itself; changes no kernel setting.
"""

from __future__ import annotations

import ctypes
import resource

import pytest

from ptcalc.paging import PAGE_BYTES
from ptcalc.probe import children, kernel, opworker

live = pytest.mark.skipif(kernel.platform_problem() is not None,
                          reason=kernel.platform_problem() or "")

# 700 frames cross the first chunk boundaries several times over (with the old code on
# Python 3.11 depths 138, 283-284, 429-430 and 575-576 faulted once each).
DEPTHS = range(700)


def _at_depth(depth: int, body):
    return body() if depth == 0 else _at_depth(depth - 1, body)


@live
def test_touch_probe_noise_window_faults_nothing_at_any_depth():
    # _warm_and_noise touches its 32-page private buffer four times before measuring one
    # read and one write pass of it: those find every page mapped, 0 faults expected.
    noisy = [d for d in DEPTHS
             if _at_depth(d, lambda: children._warm_and_noise(resource.RUSAGE_SELF))[0]]
    assert noisy == []


@live
def test_operation_worker_windows_fault_nothing_at_any_depth():
    loop = opworker._WorkerLoop.__new__(opworker._WorkerLoop)
    loop.libc = opworker._libc()
    loop.setup_measurement()
    buffer = ctypes.create_string_buffer(16 * PAGE_BYTES)   # written, so every page mapped
    address, length = ctypes.addressof(buffer), len(buffer)

    def window_faults():
        # a write pass, a read pass, an empty window and a no-op syscall (mprotect of the
        # buffer's own pages to what they are): each finds every page mapped, 0 faults
        # (each window also reads /proc/interrupts twice, into buffers allocated before)
        total = loop._measure_touch(address, length, True)["faults"]
        total += loop._measure_touch(address, length, False)["faults"]
        total += loop._measure()["faults"]
        first = address - address % PAGE_BYTES + PAGE_BYTES
        total += loop._syscall("mprotect", first, 8 * PAGE_BYTES,
                               opworker.PROT_READ | opworker.PROT_WRITE)["faults"]
        return total

    for _ in range(2):
        window_faults()
    noisy = [d for d in DEPTHS if _at_depth(d, window_faults)]
    assert noisy == []

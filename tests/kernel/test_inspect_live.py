"""Live processes: predictions against VmPTE measured by the kernel now, and error handling.

Each workload is a child `python3 -S -I` that maps memory, touches it, prints its pid(s) and
waits for stdin to close.  Tolerance: exact (the children are idle while inspected).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
import textwrap

import pytest

from ptcalc.errors import InputError
from ptcalc.inspect.layout import parse_snapshot
from ptcalc.inspect.proc import find_pids, read_presence, read_process, snapshot
from ptcalc.inspect.run import inspect
from ptcalc.inspect.tables import predict


def _pagemap_readable() -> bool:
    try:
        with open("/proc/self/pagemap", "rb") as handle:
            return len(handle.read(8)) == 8
    except OSError:
        return False


pytestmark = [pytest.mark.live,
              pytest.mark.skipif(not (sys.platform.startswith("linux") and _pagemap_readable()),
                                 reason="needs Linux with a readable /proc/self/pagemap")]

TOKEN = "ptcalc-inspect-live-test"


@contextlib.contextmanager
def workload(code: str):
    """Run `code` in a child; yield the pids it prints; end it on exit."""
    program = textwrap.dedent("""
        import mmap, os, sys
        MiB = 1 << 20
        def ready(*pids):
            print(" ".join(map(str, pids)), flush=True)
            sys.stdin.read()
    """) + textwrap.dedent(code)
    child = subprocess.Popen([sys.executable, "-S", "-I", "-c", program, TOKEN],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line.strip(), "the workload failed to start"
        yield [int(pid) for pid in line.split()]
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()


SHARED = """
    m = mmap.mmap(-1, 24 * MiB, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    kids = []
    for part in (2, 4):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            for off in range(0, len(m) // part, 4096):
                m[off] = 1
            os.write(w, b"x")
            sys.stdin.read()
            os._exit(0)
        os.read(r, 1)
        kids.append(pid)
    for off in range(0, len(m), 4096):
        m[off] = 1
    ready(os.getpid(), *kids)
"""


def test_idle_processes_are_predicted_exactly():
    with workload(SHARED) as pids:
        result = inspect(pids=pids)
    assert len(result.processes) == 3 and not result.warnings
    for proc in result.processes:
        assert proc.layout.presence_source == "pagemap"
        assert proc.prediction.tables.bytes == proc.layout.vmpte_bytes, proc.notes
    group = next(g for g in result.shared_groups if g.kind == "shared-anon"
                 and g.size_bytes == 24 * 2**20)
    assert group.procs == 3
    assert sorted(round(u.touched, 3) for u in group.uses) == [0.25, 0.5, 1.0]
    assert {row["strategy"] for row in group.what_if} >= {"private-4k", "threads"}


def test_anonymous_thp_is_predicted_exactly():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as handle:
            if "[never]" in handle.read():
                pytest.skip("transparent huge pages are disabled")
    except OSError:
        pytest.skip("no transparent huge page support")
    code = """
        m = mmap.mmap(-1, 10 * MiB, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        m.madvise(mmap.MADV_HUGEPAGE)
        for off in range(0, len(m), 4096):
            m[off] = 1
        ready(os.getpid())
    """
    with workload(code) as (pid,):
        layout = read_process(pid)
        prediction = predict(layout)
    assert prediction.tables.bytes == layout.vmpte_bytes


def test_plain_pagemap_reads_agree_with_the_scan_ioctl(monkeypatch):
    from ptcalc.inspect import pagemap as inspect_pagemap

    def no_scan(*args):
        raise OSError(errno.ENOTTY, "Inappropriate ioctl for device")    # a pre-6.7 kernel

    with workload(SHARED) as (pid, *_):
        layout = read_process(pid)
        monkeypatch.setattr(inspect_pagemap, "scan_ranges", no_scan)
        presence, note = read_presence(pid, layout.mappings)
    assert note == "" and presence
    layout.presence = presence
    assert predict(layout).tables.bytes == layout.vmpte_bytes


def test_snapshot_round_trip_predicts_the_same():
    with workload(SHARED) as (pid, *_):
        text = snapshot(pid)
        live = predict(read_process(pid)).tables.bytes
    offline = parse_snapshot(text, "snap")
    assert offline.presence_source == "pagemap"
    assert predict(offline).tables.bytes == live == offline.vmpte_bytes


def test_without_pagemap_falls_back_to_rss():
    with workload(SHARED) as (pid, *_):
        layout = read_process(pid, use_pagemap=False)
    assert layout.presence_source == "rss"


def test_pgrep_finds_the_workload_but_not_ourselves():
    with workload(SHARED) as pids:
        found = find_pids(TOKEN)
        assert set(pids) <= set(found)
        assert os.getpid() not in found
        result = inspect(pgrep=TOKEN, what_if=False)
        assert {p.layout.pid for p in result.processes} >= set(pids)


def test_bad_pgrep_pattern_is_an_input_error():
    with pytest.raises(InputError, match="not a valid regular expression"):
        find_pids("(")


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_vanished_pid_is_skipped_with_a_warning():
    dead = _dead_pid()
    with workload(SHARED) as (pid, *_):
        result = inspect(pids=[pid, dead], what_if=False)
    assert [p.layout.pid for p in result.processes] == [pid]
    expected = f"skipped pid {dead}: no such process (it exited or never existed)"
    assert result.warnings == [expected]


def test_nothing_readable_is_an_input_error():
    dead = _dead_pid()
    with pytest.raises(InputError, match=f"nothing could be read: skipped pid {dead}"):
        inspect(pids=[dead])
    with pytest.raises(InputError, match="no process matches"):
        inspect(pgrep="no-such-process-name-ptcalc-xyz")


def _kernel_thread() -> int | None:
    for entry in sorted(os.listdir("/proc"), key=lambda e: (len(e), e)):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as handle:
                    status = handle.read()
            except OSError:
                continue
            if "Kthread:\t1" in status or ("VmPTE" not in status and "State:\tZ" not in status):
                return int(entry)
    return None


def test_kernel_thread_has_no_address_space():
    pid = _kernel_thread()
    if pid is None:
        pytest.skip("no kernel thread visible (a pid namespace)")
    with pytest.raises(InputError, match=f"pid {pid}: no address space"):
        read_process(pid)


def _swap_free_bytes() -> int:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("SwapFree:"):
                return int(line.split()[1]) * 1024
    return 0


@pytest.mark.skipif(_swap_free_bytes() < 64 * 2**20, reason="needs 64 MiB of free swap")
def test_swapped_pages_still_hold_their_page_table_entries():
    code = """
        m = mmap.mmap(-1, 32 * MiB, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        for off in range(0, len(m), 4096):
            m[off] = 1
        m.madvise(21)                          # MADV_PAGEOUT: to swap, PTEs become swap entries
        ready(os.getpid())
    """
    with workload(code) as (pid,):
        layout = read_process(pid)
    assert predict(layout).tables.bytes == layout.vmpte_bytes

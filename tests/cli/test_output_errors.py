"""A failing write (stdout on a full disk, an output name too long) is one line on stderr
and exit 1, never a traceback or a second "Exception ignored" at exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inspect"
SOURCE = str(Path(__file__).resolve().parents[2])


def ptcalc(*argv, stdout=subprocess.DEVNULL, cwd=None):
    return subprocess.run([sys.executable, "-m", "ptcalc", *map(str, argv)], check=False,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": SOURCE})


def one_line(result, code: int) -> str:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ptcalc: error: "), result.stderr
    return lines[0]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("argv", [
    ["compare", "--size", "1GiB", "--procs", "2"],
    ["sweep", "--size", "1GiB", "--procs", "1..3", "-f", "csv"],
    ["cpus"],
    ["inspect", "--maps", FIXTURES / "sleep.snap", "-f", "json"],
])
def test_stdout_on_a_full_disk(argv):
    with open("/dev/full", "w") as full:
        result = ptcalc(*argv, stdout=full)
    line = one_line(result, 1)
    assert line == "ptcalc: error: cannot write the output: No space left on device"


def test_output_name_too_long(tmp_path):
    name = "a" * 300 + ".csv"
    line = one_line(ptcalc("sweep", "--size", "1GiB", "--procs", "1..3", "-o", name,
                           cwd=tmp_path), 1)
    assert "file name too long" in line
    assert list(tmp_path.iterdir()) == []


def test_sigkilled_sweep_leaves_a_temporary_the_next_write_removes(tmp_path):
    import signal
    import time

    target = tmp_path / "out.csv"
    target.write_text("old\n")
    slow = subprocess.Popen([sys.executable, "-m", "ptcalc", "sweep", "--size", "1GiB",
                             "--procs", "1..4194304/1", "-o", str(target)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": SOURCE})
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".out.csv.*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        slow.send_signal(signal.SIGKILL)
        slow.wait()
    assert len(list(tmp_path.glob(".out.csv.*.tmp"))) == 1      # SIGKILL cannot clean up
    assert target.read_text() == "old\n"
    result = ptcalc("sweep", "--size", "1GiB", "--procs", "1..2", "-o", target, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]   # the stale one went


def test_sigterm_during_a_report_write_leaves_the_old_file(tmp_path):
    import signal

    target = tmp_path / "r.html"
    target.write_text("old report")
    code = (
        "import os, signal\n"
        "from ptcalc.present import files\n"
        "real = os.fsync\n"
        "def fsync(fd):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    real(fd)\n"
        "os.fsync = fsync\n"
        f"files.atomic_write({str(target)!r}, b'x' * 100000)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False, timeout=60, env={**os.environ, "PYTHONPATH": SOURCE})
    assert result.returncode == 128 + signal.SIGTERM, result.stderr
    assert target.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]      # no .r.html.*.tmp

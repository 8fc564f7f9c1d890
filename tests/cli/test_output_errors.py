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

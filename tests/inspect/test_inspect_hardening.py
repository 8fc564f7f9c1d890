"""inspect on hostile input: snapshots are read only from regular files within a size and
line bound, numbers in non-ASCII digits are errors, a file that is no snapshot is never
quoted, --save writes 0600 and never through a link, --pgrep skips its own wrappers.  Each CLI
case: one line on stderr and the exit code."""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from ptcalc.errors import InputError
from ptcalc.inspect import run as inspect_run
from ptcalc.inspect.layout import parse_snapshot
from tests.conftest import run_cli

MAPS_LINE = "00400000-00401000 r-xp 00000000 fe:00 1 /bin/x\n"
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def one_error(code, err, expected_code=2) -> str:
    assert code == expected_code, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ptcalc: error: "), err
    return lines[0]


@pytest.mark.parametrize("text, fragment", [
    ("Pid: \u00b2\n" + MAPS_LINE, "malformed Pid"),                      # superscript two
    ("Pid: \u0661\u0662\n" + MAPS_LINE, "malformed Pid"),                # Arabic-Indic 12
    (MAPS_LINE + "Rss: \u00b2\n", "malformed smaps field"),
    (MAPS_LINE + "Rss: \u0661\u0662 kB\n", "malformed smaps field"),
    ("VmPTE: \u0664 kB\n" + MAPS_LINE, "malformed VmPTE"),
    (MAPS_LINE + "Rss: " + "9" * 5000 + " kB\n", "malformed smaps field"),  # > 4300 digits
    ("VmPTE: " + "9" * 5000 + " kB\n" + MAPS_LINE, "malformed VmPTE"),
    ("f" * 40 + "-" + "f" * 41 + " r-xp 00000000 fe:00 1 /x\n", "above 64 bits"),
    ("00400000-00401000 r-xp 00000000 fe:00 " + "1" * 5000 + " /x\n", "above 20 digits"),
    (MAPS_LINE + "# pagemap " + "1" * 30 + "-" + "2" * 30 + "\n", "malformed pagemap"),
])
def test_bad_numbers_are_one_line_errors(tmp_path, text, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_snapshot(text, "x.snap")
    snap = tmp_path / "x.snap"
    snap.write_text(text, encoding="utf-8")
    line = one_error(*run_cli("inspect", "--maps", snap)[::2])
    assert fragment in line and len(line) < 600


def test_a_file_that_is_no_snapshot_is_not_quoted(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$s3cr3tHASH:19000:0:99999:7:::\nDEADBEEF-TOKEN not a field\n")
    line = one_error(*run_cli("inspect", "--maps", secret)[::2])
    assert "not a snapshot" in line and "shadow:2" in line
    assert "s3cr3t" not in line and "DEADBEEF" not in line
    pagemap_first = tmp_path / "p"
    pagemap_first.write_text("# pagemap SECRETPAGEMAP\n" + MAPS_LINE)
    line = one_error(*run_cli("inspect", "--maps", pagemap_first)[::2])
    assert "not a snapshot" in line and "SECRET" not in line


@pytest.mark.parametrize("make", ["fifo", "dev-zero", "directory"])
def test_only_regular_files_are_read(tmp_path, make):
    if make == "fifo":
        path = tmp_path / "pipe.snap"
        os.mkfifo(path)                       # open() + read() would block forever
    elif make == "dev-zero":
        path = "/dev/zero"                    # read() would never end (MemoryError)
    else:
        path = tmp_path
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "ptcalc", "inspect", "--maps", str(path)],
                            check=False,
                            capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": SOURCE})
    line = one_error(result.returncode, result.stderr)
    assert time.monotonic() - started < 60
    assert "not a regular file" in line or "Is a directory" in line


def test_size_and_line_bounds(tmp_path, monkeypatch):
    monkeypatch.setattr(inspect_run, "MAX_SNAPSHOT_BYTES", 1 << 20)
    monkeypatch.setattr(inspect_run, "MAX_SNAPSHOT_LINES", 1000)
    bomb = tmp_path / "bomb.snap.gz"          # 2 MiB of zeros in ~2 KiB: a gzip bomb in small
    with gzip.open(bomb, "wb") as handle:
        handle.write(b"0" * (2 << 20))
    assert bomb.stat().st_size < 64 << 10
    line = one_error(*run_cli("inspect", "--maps", bomb)[::2])
    assert "larger than 1 MiB (uncompressed)" in line
    big = tmp_path / "big.snap"
    big.write_bytes(b"#\n" * (600 << 10))     # 1.2 MiB
    assert "larger than 1 MiB" in one_error(*run_cli("inspect", "--maps", big)[::2])
    many = tmp_path / "many.snap"
    many.write_text(MAPS_LINE + "\n" * 1001)
    assert "more than 1,000 lines" in one_error(*run_cli("inspect", "--maps", many)[::2])
    within = tmp_path / "ok.snap"
    within.write_text(MAPS_LINE + "\n" * 998)
    assert run_cli("inspect", "--maps", within, "--no-what-if")[0] == 0
    broken = tmp_path / "broken.snap.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    assert "not a valid gzip" in one_error(*run_cli("inspect", "--maps", broken)[::2])


def test_default_bounds_fit_a_real_host():
    # vm.max_map_count 65530 mappings x ~25 smaps lines of ~40 bytes: ~1.6 M lines, ~66 MB
    assert inspect_run.MAX_SNAPSHOT_LINES > 65530 * 25 * 2
    assert inspect_run.MAX_SNAPSHOT_BYTES > 65530 * 25 * 40 * 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_save_is_private_and_refuses_links(tmp_path):
    child = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.2)
        out = tmp_path / "snaps"
        code, _, err = run_cli("inspect", "--pid", child.pid, "--save", out, "--no-what-if")
        assert code == 0, err
        saved = out / f"{child.pid}.snap"
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600       # `ls -l`: -rw-------
        assert stat.S_IMODE(out.stat().st_mode) == 0o700 & ~os.umask(os.umask(0))
        os.chmod(saved, 0o400)
        assert run_cli("inspect", "--pid", child.pid, "--save", out, "--no-what-if")[0] == 0
        assert stat.S_IMODE(saved.stat().st_mode) == 0o400       # not widened
        saved.unlink()
        victim = tmp_path / "passwd"
        victim.write_text("root:x:0:0\n")
        saved.symlink_to(victim)
        code, _, err = run_cli("inspect", "--pid", child.pid, "--save", out, "--no-what-if")
    finally:
        child.kill()
        child.wait()
    line = one_error(code, err)
    assert "symbolic link" in line and "no snapshot could be saved" in line
    assert victim.read_text() == "root:x:0:0\n" and saved.is_symlink()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_pgrep_skips_wrappers_holding_the_pattern(tmp_path):
    marker = f"ptcalc-pgrep-marker-{os.getpid()}"
    target = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    finder = textwrap.dedent(f"""
        from ptcalc.inspect.proc import find_pids
        print(find_pids({marker!r}))
    """)
    try:
        # `timeout` and the shell are this finder's ancestors and carry the marker in argv
        result = subprocess.run(["timeout", "60", "sh", "-c",  # noqa: PLW1510
                                 f'{sys.executable} -c "$1" {marker}', "sh", finder],
                                capture_output=True, text=True, timeout=90,
                                env={**os.environ, "PYTHONPATH": SOURCE})
    finally:
        target.kill()
        target.wait()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"[{target.pid}]"


def test_pgrep_bad_regex_is_one_line():
    line = one_error(*run_cli("inspect", "--pgrep", "(" * 5000)[::2])
    assert "not a valid regular expression" in line and len(line) < 400

"""ptcalc.atomic: exclusive temporary files, no link following, modes never widened, stale
temporaries of dead writers removed, signals leave the target as it was."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from ptcalc import atomic
from ptcalc.errors import InputError

ROOT = os.geteuid() == 0
SOURCE = os.path.dirname(os.path.dirname(atomic.__file__))


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_new_files_private_or_as_umask(tmp_path):
    atomic.write_file(tmp_path / "a.snap", "x", private=True)
    assert mode(tmp_path / "a.snap") == 0o600
    old = os.umask(0o027)
    try:
        atomic.write_file(tmp_path / "b.csv", b"y")
    finally:
        os.umask(old)
    assert mode(tmp_path / "b.csv") == 0o640          # 0666 & ~027
    assert (tmp_path / "b.csv").read_bytes() == b"y"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.snap", "b.csv"]   # no temporary


def test_existing_mode_is_kept_never_widened(tmp_path):
    target = tmp_path / "r.html"
    target.write_text("old")
    os.chmod(target, 0o600)
    old = os.umask(0o022)
    try:
        atomic.write_file(target, "new")               # a plain open() would give 0644
    finally:
        os.umask(old)
    assert mode(target) == 0o600 and target.read_text() == "new"
    os.chmod(target, 0o644)
    atomic.write_file(target, "private", private=True)
    assert mode(target) == 0o600                       # private: narrowed to the owner
    os.chmod(target, 0o400)
    atomic.write_file(target, "again", private=True)
    assert mode(target) == 0o400                       # narrower than 0600 stays narrower


def test_symlink_target_is_refused_and_left_alone(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "4242.snap"
    link.symlink_to(victim)
    with pytest.raises(InputError, match="symbolic link"):
        atomic.write_file(link, "attack", private=True)
    assert victim.read_text() == "precious" and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["4242.snap", "victim"]


def test_target_that_is_not_a_regular_file_is_refused(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(InputError, match="not a regular file"):
        atomic.write_file(tmp_path / "fifo", "x")


@pytest.mark.skipif(not ROOT, reason="needs root to hand a directory to another user")
def test_world_writable_directory_of_another_user(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chown(shared, 65534, 65534)
    os.chmod(shared, 0o777)
    with pytest.raises(InputError, match="writable by every user"):
        atomic.write_file(shared / "1.snap", "x", private=True)
    os.chmod(shared, 0o1777)                            # sticky, as /tmp: new files only
    atomic.write_file(shared / "1.snap", "x", private=True)
    assert mode(shared / "1.snap") == 0o600
    with pytest.raises(InputError, match="exists already"):
        atomic.write_file(shared / "1.snap", "y", private=True)
    assert (shared / "1.snap").read_text() == "x"


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    target = tmp_path / "out.csv"
    stale = tmp_path / ".out.csv.k3j_x9a2.tmp"          # a SIGKILLed writer's leftover
    stale.write_text("partial")
    live = tmp_path / ".out.csv.livewrtr.tmp"           # a running writer's: flock held
    live.write_text("in progress")
    other = tmp_path / ".other.csv.k3j_x9a2.tmp"        # another target's: not ours to judge
    other.write_text("x")
    mine = tmp_path / "out.csv.k3j_x9a2.tmp"            # the user's file, not a temporary
    mine.write_text("user")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import fcntl, os, sys, time
            fd = os.open({str(live)!r}, os.O_RDONLY)
            fcntl.flock(fd, fcntl.LOCK_EX)
            print("locked", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        atomic.write_file(target, "done")
    finally:
        holder.kill()
        holder.wait()
    assert not stale.exists()
    assert live.exists() and other.exists() and mine.exists()
    assert target.read_text() == "done"


def test_temporary_is_locked_while_writing(tmp_path):
    with atomic.replace_file(tmp_path / "x.json") as stream:
        stream.write("{}")
        (temporary,) = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        fd = os.open(temporary, os.O_RDONLY)
        try:
            with pytest.raises(OSError) as raised:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            assert raised.value.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
        finally:
            os.close(fd)
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_write_error_names_target_and_leaves_it(tmp_path, monkeypatch):
    target = tmp_path / "r.md"
    target.write_text("old")

    def failing_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(atomic.os, "fsync", failing_fsync)
    with pytest.raises(OSError) as raised:
        atomic.write_file(target, "new")
    assert raised.value.errno == errno.EIO and raised.value.filename == str(target)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.md"]


def test_name_too_long_is_one_oserror(tmp_path):
    with pytest.raises(OSError) as raised:
        atomic.write_file(tmp_path / ("a" * 300 + ".csv"), "x")
    assert raised.value.errno == errno.ENAMETOOLONG and "too long" in raised.value.strerror
    long_ok = "b" * 250 + ".csv"                        # a valid name: its temporary fits too
    atomic.write_file(tmp_path / long_ok, "x")
    assert (tmp_path / long_ok).read_text() == "x"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
def test_signal_mid_write_leaves_target_and_no_temporary(tmp_path, signum):
    target = tmp_path / "r.html"
    target.write_text("old")
    code = textwrap.dedent(f"""
        import os, signal
        from ptcalc.atomic import replace_file
        with replace_file({str(target)!r}) as stream:
            stream.write("partial")
            os.kill(os.getpid(), {int(signum)})
            stream.write("never")
    """)
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                            text=True, timeout=60, env={**os.environ, "PYTHONPATH": SOURCE})
    assert result.returncode == 128 + signum, result.stderr
    assert "Traceback" not in result.stderr
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.html"]

"""ptcalc.atomic.replace_file_and_folder: a report and its folder of images are replaced as
one unit, never removing a file ptcalc did not write, rolled back on failure or signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ptcalc import atomic
from ptcalc.errors import InputError

SOURCE = os.path.dirname(os.path.dirname(atomic.__file__))


def tree(path) -> dict:
    """{relative name: bytes or None for a folder} of everything under `path`."""
    found = {}
    for root, dirs, files in os.walk(path):
        for name in dirs:
            found[os.path.relpath(os.path.join(root, name), path)] = None
        for name in files:
            full = os.path.join(root, name)
            with open(full, "rb") as handle:
                found[os.path.relpath(full, path)] = handle.read()
    return found


@pytest.fixture
def written(tmp_path):
    atomic.replace_file_and_folder(tmp_path / "r.md", b"old report", tmp_path / "r_files",
                                   {"a.png": b"A1", "b.png": b"B1"})
    return tmp_path


def test_first_and_second_write(written):
    assert tree(written) == {"r.md": b"old report", "r_files": None, "r_files/a.png": b"A1",
                             "r_files/b.png": b"B1", "r_files/.ptcalc-files": b"a.png\nb.png\n"}
    atomic.replace_file_and_folder(written / "r.md", b"new", written / "r_files",
                                   {"a.png": b"A2"})
    # b.png was ptcalc's (in the manifest): it goes with the old folder
    assert tree(written) == {"r.md": b"new", "r_files": None, "r_files/a.png": b"A2",
                             "r_files/.ptcalc-files": b"a.png\n"}


def test_foreign_file_is_refused_and_kept(written):
    (written / "r_files" / "notes.txt").write_text("mine")
    before = tree(written)
    with pytest.raises(InputError, match=r"holds files ptcalc did not write \(notes.txt\)"):
        atomic.replace_file_and_folder(written / "r.md", b"new", written / "r_files",
                                       {"a.png": b"A2"})
    assert tree(written) == before


def test_folder_of_an_older_ptcalc_without_manifest(tmp_path):
    (tmp_path / "r_files").mkdir()
    (tmp_path / "r_files" / "a.png").write_bytes(b"old")
    atomic.replace_file_and_folder(tmp_path / "r.md", b"x", tmp_path / "r_files",
                                   {"a.png": b"new"})
    assert tree(tmp_path)["r_files/a.png"] == b"new"
    assert sorted(tree(tmp_path)) == ["r.md", "r_files", "r_files/.ptcalc-files",
                                      "r_files/a.png"]


def test_link_instead_of_folder_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "r_files").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InputError, match="is not a directory"):
        atomic.replace_file_and_folder(tmp_path / "r.md", b"x", tmp_path / "r_files", {})


@pytest.mark.parametrize("failing", ["folder-in", "file-in"])
def test_a_failed_swap_rolls_back(written, monkeypatch, failing):
    before = tree(written)
    real_rename = os.rename
    failures = []

    def rename(src, dst, **kwargs):            # fails once: the rollback's renames work
        if not failures and ((failing == "folder-in" and dst == "r_files") or
                             (failing == "file-in" and dst == "r.md")):
            failures.append(dst)
            raise OSError(5, "Input/output error")
        return real_rename(src, dst, **kwargs)

    monkeypatch.setattr(atomic.os, "rename", rename)
    with pytest.raises(OSError, match="Input/output error"):
        atomic.replace_file_and_folder(written / "r.md", b"new", written / "r_files",
                                       {"a.png": b"A2"})
    assert failures and tree(written) == before   # old report, old images, nothing beside


def test_stale_folders_of_dead_writers_are_removed(written):
    stale = written / ".r_files.0a1b2c3d"   # a SIGKILLed writer's staging folder
    stale.mkdir()
    (stale / "a.png").write_bytes(b"partial")
    (stale / ".ptcalc-files").write_text("a.png\n")
    foreign = written / ".r_files.userdata"  # same shape, no manifest: not ptcalc's
    foreign.mkdir()
    (foreign / "keep").write_text("x")
    atomic.replace_file_and_folder(written / "r.md", b"new", written / "r_files",
                                   {"a.png": b"A2"})
    assert not stale.exists() and (foreign / "keep").read_text() == "x"


def _child(tmp_path, body: str):
    # SIGINT as on a terminal: a background job of a non-interactive shell (as CI may start
    # the tests) inherits it ignored, and Python then keeps it ignored
    code = textwrap.dedent("""
        import os, signal
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from ptcalc import atomic
        real_rename = os.rename
    """) + textwrap.dedent(body) + textwrap.dedent(f"""
        atomic.replace_file_and_folder({str(tmp_path / 'r.md')!r}, b"new",
                                       {str(tmp_path / 'r_files')!r}, {{"a.png": b"A2"}})
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=60, env={**os.environ, "PYTHONPATH": SOURCE})


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_before_the_swap_leaves_both_old(written, signum):
    before = tree(written)
    result = _child(written, f"""
        real_write = os.write
        def write(fd, data):
            os.kill(os.getpid(), {int(signum)})
            return real_write(fd, data)
        os.write = write
    """)
    # SIGINT is KeyboardInterrupt: uncaught here, Python dies of it (the CLI exits 130)
    expected = -signum if signum == signal.SIGINT else 128 + signum
    assert result.returncode == expected, result.stderr
    assert tree(written) == before


def test_signal_during_the_swap_waits_for_it(written):
    result = _child(written, """
        def rename(src, dst, **kwargs):
            os.kill(os.getpid(), signal.SIGTERM)      # arrives between the renames
            return real_rename(src, dst, **kwargs)
        os.rename = rename
    """)
    assert result.returncode == 128 + signal.SIGTERM, result.stderr
    assert tree(written) == {"r.md": b"new", "r_files": None, "r_files/a.png": b"A2",
                             "r_files/.ptcalc-files": b"a.png\n"}

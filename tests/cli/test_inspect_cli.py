"""`ptcalc inspect` through the CLI entry point: output, warnings, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ptcalc.cli import main as cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inspect"


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    """Register the command even before ptcalc.cli.main lists ptcalc.cli.inspect."""
    if "ptcalc.cli.inspect" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "ptcalc.cli.inspect"))


def run(capsys, *args):
    code = cli.main(["inspect", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_from_snapshots(capsys):
    code, out, err = run(capsys, "--maps", str(FIXTURES / "memfd-1.snap"),
                         "--maps", str(FIXTURES / "memfd-2.snap"), "-f", "json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert [p["predicted_pt_bytes"] == p["vmpte_bytes"] for p in data["processes"]] == [True] * 2
    assert data["what_if"] and data["shared_groups"][0]["procs"] == 2


def test_table_and_options(capsys):
    code, out, _ = run(capsys, "--maps", str(FIXTURES / "hugetlb-1.snap"), "--units", "bytes",
                       "-s", "private-4k", "-s", "hugetlb-2m-pmdshare", "--detail",
                       "--pattern", "dense")
    assert code == 0
    assert "77824" in out and "hugetlb-2m-pmdshare" in out and "mshare" not in out


def test_nothing_readable_exits_2(capsys, tmp_path):
    bad = tmp_path / "x.snap"
    bad.write_text("secret-token-42\n")
    code, out, err = run(capsys, "--maps", str(bad))
    assert code == 2 and out == ""
    assert err.startswith("ptcalc: error: nothing could be read: skipped ")
    assert "x.snap:1: not a snapshot" in err and err.count("\n") == 1
    assert "secret-token-42" not in err     # a file that is no snapshot is never quoted
    code, _, err = run(capsys)
    assert code == 2 and "nothing to inspect" in err


def test_partial_input_warns_and_succeeds(capsys, tmp_path):
    code, out, err = run(capsys, "--maps", str(FIXTURES / "sleep.snap"),
                         "--maps", str(tmp_path / "missing.snap"), "--no-what-if")
    assert code == 0 and "sleep" in out
    assert err.startswith("ptcalc: warning: skipped ") and "missing.snap" in err


def test_bad_choice_exits_2(capsys):
    code, _, err = run(capsys, "--maps", str(FIXTURES / "sleep.snap"), "-f", "yaml")
    assert code == 2 and "format 'yaml' is not known" in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_save_live_snapshot_and_read_it_back(capsys, tmp_path):
    child = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.2)
        code, out, err = run(capsys, "--pid", str(child.pid), "--save", str(tmp_path),
                             "-f", "json")
    finally:
        child.kill()
        child.wait()
    assert code == 0, err
    saved = tmp_path / f"{child.pid}.snap"
    assert saved.exists() and f"saved {saved}" in err
    live = json.loads(out)["processes"][0]
    code, out, _ = run(capsys, "--maps", str(saved), "-f", "json")
    offline = json.loads(out)["processes"][0]
    assert offline["predicted_pt_bytes"] == live["predicted_pt_bytes"]
    assert offline["vmpte_bytes"] == live["vmpte_bytes"]

"""What click/typer users expect: --version, completion of values, choices and defaults in
--help, one metavar style, user files for --preset and --cpu, --from inventories, pipes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli as run

import ptcalc
from ptcalc.catalog import STRATEGY_NAMES
from ptcalc.cli import options
from ptcalc.inputs.presets import SCENARIO_DEFAULTS
from ptcalc.inputs.scenario import ACCESSES, PATTERNS
from ptcalc.present.tables import FORMATS, UNITS

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ["compare", "formula", "cpus", "strategies", "probe", "report", "inspect", "sweep",
            "plan", "presets", "op", "op-probe"]


def ptcalc_process(*args, env=None, stdin=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "ptcalc", *map(str, args)], check=False,
                          capture_output=True, text=True, timeout=120, input=stdin, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def complete(words: str, protocol: str = "complete_bash") -> list[str]:
    """What bash completion offers for the last word of `words` (click's protocol through
    the environment; typer's scripts send complete_bash, click's documentation bash_complete)."""
    line = words.split(" ")
    result = ptcalc_process(env={"_PTCALC_COMPLETE": protocol, "COMP_WORDS": words,
                                 "COMP_CWORD": str(len(line) - 1)})
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_version():
    result = ptcalc_process("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"ptcalc {ptcalc.__version__}"


@pytest.mark.parametrize("protocol", ["bash_complete", "complete_bash"])
def test_completion_offers_the_strategy_names(protocol):
    assert complete("ptcalc compare -s ", protocol) == list(STRATEGY_NAMES)
    hugetlb = [name for name in STRATEGY_NAMES if name.startswith("hugetlb")]
    assert complete("ptcalc compare --strategy hug", protocol) == hugetlb
    # a comma list completes its last name
    assert complete("ptcalc sweep -s private-4k,thr", protocol) == ["private-4k,threads"]


def test_completion_offers_other_choices(tmp_path):
    assert complete("ptcalc compare --format ") == list(FORMATS)
    assert complete("ptcalc plan -f m") == ["markdown"]
    assert complete("ptcalc compare --access ") == list(ACCESSES)
    assert complete("ptcalc compare --units ") == list(UNITS)
    cpus = complete("ptcalc compare --cpu ")
    assert cpus[:2] == ["host", "default"] and "skylake-sp" in cpus and "zen4" in cpus
    assert complete("ptcalc compare --preset post") == ["postgres-100g"]
    assert "pt_bytes_total" in complete("ptcalc formula private-4k pt_")
    # a CPU or a preset may be a file: a path completes to files
    (tmp_path / "mydb.toml").write_text("")
    assert complete(f"ptcalc compare --preset {tmp_path}/my") == [f"{tmp_path}/mydb.toml"]


def test_fixed_choices_match_the_library():
    assert options.FORMATS == FORMATS and options.UNITS == UNITS
    assert options.ACCESSES == ACCESSES and options.PATTERNS == PATTERNS
    assert options.SCENARIO_DEFAULTS == SCENARIO_DEFAULTS


def test_help_lists_choices_and_the_defaults_that_decide_the_answer():
    code, out, _ = run("compare", "--help")
    assert code == 0
    text = re.sub(r"-\s+", "-", " ".join(out.split()))   # click wraps after hyphens
    for name in STRATEGY_NAMES:
        assert name in text
    assert "table, markdown, csv or json" in text and "skylake-sp" in text
    assert "oracle-sga-300g" in text
    for shown in ("[default: 0 unless", "[default: 1 (every page)", "[default: write",
                  "[default: dense"):
        assert shown in text


@pytest.mark.parametrize("command", COMMANDS)
def test_one_metavar_style(command):
    """Values are upper-case words (SIZE, NAME|FILE, FORMAT), never typer's <str>."""
    code, out, _ = run(command, "--help")
    assert code == 0
    options_part = out.split("Options:")[1] if "Options:" in out else out
    heads = [line.split("  ")[0] for line in out.splitlines() if line.startswith("  -")
             or re.match(r"^  [A-Z]", line)]
    assert heads and not [h for h in heads if "<" in h], heads
    assert "<str>" not in options_part and "<list" not in options_part


def test_title_says_which_values_were_defaults():
    out = run("compare", "--size", "3GiB", "--procs", "4")[1]
    assert out.splitlines()[1] == "defaults: offset, touched, access, pattern"
    out = run("compare")[1]
    assert out.splitlines()[1] == ("from preset oracle-sga-300g: size, procs, offset, "
                                   "touched, access, ram; defaults: pattern")


PRESET = """description = "my database"
[scenario]
size = "64GiB"
procs = 300
touched = 0.4
[sources]
size = "shared_buffers"
procs = "max_connections"
touched = "pg_buffercache"
"""


def test_preset_file(tmp_path):
    path = tmp_path / "mydb.toml"
    path.write_text(PRESET)
    code, out, err = run("compare", "--preset", path, "--format", "json", "-s", "private-4k")
    assert code == 0, err
    row = json.loads(out)[0]
    # 64 GiB, 300 processes, 40% touched: 0.4 * 64 GiB / 4 KiB = 6,710,886.4 pages, rounded
    # up to whole pages: 6,710,887 pages of 8 bytes in PTE tables per process
    assert (row["size_bytes"], row["procs"], row["touched"]) == (64 << 30, 300, 0.4)
    assert run("compare", "--preset", "./nope.toml")[0] == 2
    bad = tmp_path / "bad.toml"
    bad.write_text(PRESET.replace("procs = 300", "procs = 300\nconns = 3"))
    code, _, err = run("compare", "--preset", bad)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert str(bad) in err and "scenario.conns" in err


def test_cpu_file(tmp_path):
    text = (ROOT / "models" / "cpus" / "zen4.toml").read_text()
    path = tmp_path / "myzen.toml"
    path.write_text(text.replace('name = "zen4"', 'name = "myzen"', 1))
    code, out, err = run("compare", "--size", "3GiB", "--procs", "4", "--cpu", path,
                         "--format", "json", "-s", "hugetlb-2m")
    assert code == 0, err
    # the same TLB data under another name: the same reach as the listed zen4
    listed = json.loads(run("compare", "--size", "3GiB", "--procs", "4", "--cpu", "zen4",
                            "--format", "json", "-s", "hugetlb-2m")[1])[0]
    assert json.loads(out)[0]["tlb_reach_l2_bytes"] == listed["tlb_reach_l2_bytes"]
    code, _, err = run("compare", "--cpu", tmp_path / "none.toml")
    assert code == 2 and "none.toml" in err
    bad = tmp_path / "bad.toml"
    bad.write_text(text)                          # name = "zen4" in bad.toml
    code, _, err = run("compare", "--cpu", bad)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert str(bad) in err and "'name'" in err


FLEET = """# one line per database
name,size,procs,ram,touched,access
orders,64GB,400,256GiB,0.5,write
reports,300GiB,1500,512GiB,,read
cache,24GiB,2,32GiB,1,
"""


def test_from_inventory_json(tmp_path):
    path = tmp_path / "fleet.csv"
    path.write_text(FLEET)
    code, out, err = run("compare", "--from", path, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 3 * len(STRATEGY_NAMES)             # every strategy per line
    by_line = {}
    for row in rows:
        by_line.setdefault((row["line"], row["name"]), []).append(row)
    assert list(by_line) == [(3, "orders"), (4, "reports"), (5, "cache")]
    orders = {r["strategy"]: r for r in by_line[(3, "orders")]}["private-4k"]
    # 64GB is PostgreSQL's 64 GiB; half of it touched: 8,388,608 pages of 4 KiB, whose PTEs
    # fill 8,388,608 / 512 = 16,384 PTE tables = 64 MiB per process, x 400 processes
    assert (orders["size_bytes"], orders["procs"], orders["ram_bytes"]) == (
        64 << 30, 400, 256 << 30)
    assert orders["touched"] == 0.5 and orders["access"] == "write"
    assert orders["pte_table_bytes"] == 16384 * 4096 * 400
    reports = by_line[(4, "reports")][0]
    assert reports["touched"] == 1.0 and reports["access"] == "read"   # empty: the default
    cache = by_line[(5, "cache")][0]
    assert cache["access"] == "write" and cache["fits_ram"] is True
    # the same scenario as one compare call
    single = json.loads(run("compare", "--size", "64GB", "--procs", "400", "--ram", "256GiB",
                            "--touched", "0.5", "--format", "json")[1])
    assert [r["pt_bytes_total"] for r in by_line[(3, "orders")]] == [
        r["pt_bytes_total"] for r in single]


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_from_inventory_other_formats(tmp_path, fmt):
    path = tmp_path / "fleet.csv"
    path.write_text(FLEET)
    code, out, err = run("compare", "--from", path, "--format", fmt)
    assert code == 0, err
    assert "orders" in out and "reports" in out and "cache" in out


def test_from_stdin_with_options_for_the_missing_columns():
    result = ptcalc_process("compare", "--from", "-", "--size", "1GiB", "--format", "csv",
                            "-s", "private-4k", stdin="procs\n2\n3\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and lines[1].startswith("2,,")        # line 2, no name


@pytest.mark.parametrize("text, fragment", [
    ("name,size,procs\na,64GB,x\n", "fleet.csv:2: column procs:"),
    ("name,size,procs,conns\na,1GiB,2,3\n", "fleet.csv:1: unknown column 'conns'"),
    ("size,procs,offset\n1GiB,2,13\n", "fleet.csv:2: column offset:"),
    ("size,procs,access\n1GiB,2,exec\n", "fleet.csv:2: column access:"),
    ("procs\n3\n", "fleet.csv:2: column size: empty"),
    ("size,procs\n1GiB,2,3\n", "fleet.csv:2: 3 cells"),
    ("size,procs\n", "only a header"),
    ("", "empty"),
])
def test_bad_inventory_line_is_one_line(tmp_path, text, fragment):
    path = tmp_path / "fleet.csv"
    path.write_text(text)
    code, out, err = run("compare", "--from", path)
    assert code == 2 and not out
    assert len(err.strip().splitlines()) == 1 and fragment in err, err


PIPED = {
    "compare": ["compare", "--all-strategies", "--wide"],
    "compare csv": ["compare", "-f", "csv"],
    "plan": ["plan"], "cpus": ["cpus"], "strategies": ["strategies"], "presets": ["presets"],
    "formula": ["formula", "private-4k", "pt_bytes_total"],
    "op": ["op", "fork"],
    "inspect": ["inspect", "--maps", ROOT / "tests/fixtures/inspect/postgres-1.snap.gz"],
    # large enough to fill the pipe after head has gone: the write fails with EPIPE
    "sweep csv": ["sweep", "--size", "1GiB..64GiB/1GiB", "--procs", "1..2000/1", "-f", "csv"],
    "sweep json": ["sweep", "--size", "1GiB..8GiB/1GiB", "--procs", "1..2000/1", "-f", "json"],
    "help": ["--help"],
}


@pytest.mark.parametrize("name", PIPED)
def test_closed_pipe_exits_0_under_pipefail(name):
    command = " ".join(f"'{arg}'" for arg in map(str, PIPED[name]))
    script = (f"set -o pipefail; {sys.executable} -m ptcalc {command} | head -1 >/dev/null; "
              "echo \"exit=$?\"")
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            check=False)
    assert result.stdout.strip() == "exit=0", result.stderr
    assert "Traceback" not in result.stderr and "Exception" not in result.stderr


def test_from_progress_bar_on_stderr_only(tmp_path):
    path = tmp_path / "fleet.csv"
    path.write_text(FLEET)
    code, out, err = run("compare", "--from", path, "--format", "csv", "--progress")
    assert code == 0 and "3/3 lines" in err and "3/3" not in out
    code, out, err = run("compare", "--from", path, "--format", "csv")
    assert code == 0 and err == ""          # not a terminal: no bar by default


@pytest.mark.parametrize("args", [["--from", "fleet.csv"], ["--cpu", "./myzen.toml"],
                                  ["--preset", "./mydb.toml"]])
def test_user_files_load_no_sympy_pandas_or_numpy(tmp_path, args):
    (tmp_path / "fleet.csv").write_text(FLEET)
    (tmp_path / "mydb.toml").write_text(PRESET)
    text = (ROOT / "models" / "cpus" / "zen4.toml").read_text()
    (tmp_path / "myzen.toml").write_text(text.replace('name = "zen4"', 'name = "myzen"', 1))
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "ptcalc", "compare",
                             *args], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
              if line.startswith("import time:")}
    assert "ptcalc" in loaded and not loaded & {"sympy", "pandas", "numpy"}

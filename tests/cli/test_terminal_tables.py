"""Tables that fit the terminal: COLUMNS, --wide, --columns, the default strategy rows."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import run_cli as run

from ptcalc.catalog import STRATEGY_NAMES
from ptcalc.present import fit

SNAPSHOTS = Path(__file__).parent.parent / "fixtures" / "inspect"
SMALL = ["--size", "3GiB", "--procs", "4"]

# Every table output a user meets (the commands of the done criterion first).
TABLES = {
    "compare": ["compare"],
    "compare --cpu": ["compare", "--cpu", "skylake-sp"],
    "compare --ram --reserved": ["compare", "--reserved", "2m=1000"],
    "plan": ["plan"],
    "cpus": ["cpus"],
    "strategies": ["strategies"],
    "presets": ["presets"],
    "inspect": ["inspect", "--maps", SNAPSHOTS / "postgres-1.snap.gz",
                "--maps", SNAPSHOTS / "postgres-2.snap.gz"],
    "sweep": ["sweep", "--size", "1GiB,2GiB", "--procs", "10"],
    "op": ["op", "fork"],
    "op mprotect": ["op", "mprotect", "--bytes", "2MiB", *SMALL],
    "layout": ["compare", "--layout", "redis-fork-24g"],
    "plan --layout": ["plan", "--layout", "redis-fork-24g", "--group", "bgsave-child"],
}


def widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def first_cells(out: str) -> list[str]:
    """The first cell of each table row: the lines between the dashes and a blank line
    that do not continue a wrapped cell."""
    lines = out.splitlines()
    start = next(n for n, line in enumerate(lines) if set(line) <= set("- ") and line)
    rows = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        if not line[0].isspace():              # not a wrapped cell's continuation line
            rows.append(line.split()[0])
    return rows


@pytest.mark.parametrize("width", [80, 60])
@pytest.mark.parametrize("name", TABLES)
def test_no_line_exceeds_columns(name, width, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, err = run(*TABLES[name])
    assert code == 0, err
    assert widest(out) <= width, max(out.splitlines(), key=len)


@pytest.mark.parametrize("name", ["compare", "compare --cpu", "plan", "cpus", "presets",
                                  "sweep", "op"])
def test_wide_shows_every_column_unwrapped(name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    fitted = run(*TABLES[name])[1]
    code, wide, err = run(*TABLES[name], "--wide")
    assert code == 0, err
    assert widest(wide) > 80                       # the full table does not fit 80 columns
    assert "not shown at" not in wide
    # --wide is what a pipe gets when COLUMNS is not set (no terminal to fit)
    monkeypatch.delenv("COLUMNS")
    assert run(*TABLES[name])[1] == wide
    assert fitted != wide


def test_hidden_columns_are_named_and_the_answer_kept(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = run("compare", *SMALL)[1]
    header = out.split("\n\n")[1].splitlines()[0]
    # the priority order keeps the strategy, PT total, PT/process and saved first
    for kept in ("strategy", "PT total", "PT/process", "saved"):
        assert kept in header
    assert "PTE" not in header.split() and "faults 1st" not in header
    note = " ".join(out.split("not shown at 80 columns:")[1].split())
    for hidden in ("PTE", "PMD", "PUD", "faults 1st"):
        assert hidden in note
    assert "--wide" in note and "--columns" in note


def test_columns_choose_and_order(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run("compare", *SMALL, "--columns", "pt_bytes_total,strategy",
                         "--format", "csv")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["pt_bytes_total", "strategy"]
    assert [r[1] for r in rows[1:]] == list(STRATEGY_NAMES)       # csv: every strategy
    code, out, err = run("compare", *SMALL, "--columns", "strategy,faults_first,reason",
                         "--format", "json")
    assert {tuple(row) for row in json.loads(out)} == {("strategy", "faults_first", "reason")}
    code, out, err = run("compare", *SMALL, "--columns", "strategy,pte_table_bytes")
    table = out.split("\n\n")[1].splitlines()
    assert table[0].split() == ["strategy", "PTE"]
    assert "not shown at" not in out


def test_unknown_column_is_one_line_naming_the_known(monkeypatch):
    code, _, err = run("compare", *SMALL, "--columns", "strategy,pt_total")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "'pt_total'" in err and "pt_bytes_total" in err


def test_machine_formats_ignore_the_width(monkeypatch):
    for fmt in ("json", "csv", "markdown"):
        monkeypatch.delenv("COLUMNS", raising=False)
        full = run("compare", *SMALL, "--format", fmt)[1]
        monkeypatch.setenv("COLUMNS", "40")
        assert run("compare", *SMALL, "--format", fmt)[1] == full


@pytest.mark.parametrize("command", [["compare", *SMALL],
                                     ["plan", "--size", "3GiB", "--ram", "16GiB"]])
def test_table_leaves_out_mthp_sizes_but_says_how_to_see_them(monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "100")
    out = run(*command)[1]
    names = first_cells(out)
    # 19 strategies less the 7 multi-size THP sizes other than 64k
    assert len(STRATEGY_NAMES) == 19 and len(names) == 12
    assert "thp-shmem-64k" in names and "thp-shmem-8k" not in names
    assert "--all-strategies" in out
    every = run(*command, "--all-strategies")[1]
    assert first_cells(every) == list(STRATEGY_NAMES)
    chosen = run(*command, "-s", "thp-shmem-8k")[1]
    assert "thp-shmem-8k" in chosen and "--all-strategies" not in chosen
    assert len(json.loads(run(*command, "--format", "json")[1])) == 19


def test_choose_columns_is_greedy_by_priority():
    columns = [fit.Column("a"), fit.Column("bbbbbbbbbb"), fit.Column("c")]
    rows = [["x" * 5, "y" * 10, "z" * 3]]
    # widths: a 5 (cells) , b 12 (header + 2), c 3; priority a, b, c at 15 columns:
    # a (5) + 2 + b (12) = 19 > 15, so b is left out; c still fits: 5 + 2 + 3 = 10
    shown, wrap_at = fit.choose_columns(columns, rows, [0, 1, 2], 15)
    assert shown == [0, 2] and wrap_at == {}
    assert fit.choose_columns(columns, rows, [0, 1, 2], None)[0] == [0, 1, 2]


def test_wrapping_text_column_uses_the_width_left():
    columns = [fit.Column("name"), fit.Column("text", wraps=True)]
    rows = [["n1", "word " * 30]]
    text, hidden = fit.table_text(columns, rows, [0, 1], "simple", 40)
    assert hidden == [] and widest(text) <= 40
    assert len(text.splitlines()) > 4                 # the text wrapped onto several lines


def test_wrap_never_exceeds_the_width():
    url = "https://example.org/" + "a" * 70
    for line in (f"source: {url}", "x " * 100, "  indented " + "y" * 30 + " z" * 40):
        assert widest(fit.wrap(line, 40, indent="  ")) <= 40
    # a word that fits the width starts its own line instead of being split
    assert fit.wrap("see: " + "u" * 38, 40, indent="  ").splitlines() == ["see:", "  " + "u" * 38]


def test_docs_list_the_priority_order():
    """docs/cli.md names every key of the priority order, in that order."""
    from ptcalc.present.tables import COLUMN_PRIORITY

    text = " ".join((Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
                    .split())
    section = text.split("The order of importance", 1)[1].split("Other keys follow", 1)[0]
    words = section.replace(",", " ").replace(")", " ").replace("(", " ").split()
    quoted = [word.strip("`.") for word in words if word.startswith("`")]
    quoted = [word for word in quoted if word in COLUMN_PRIORITY]     # not `ptcalc op`
    assert quoted == list(COLUMN_PRIORITY)


def test_sweep_columns_choose_csv_json_and_files(tmp_path):
    args = ["sweep", "--size", "1GiB", "--procs", "1..3/1", "-s", "private-4k",
            "--columns", "procs,pt_bytes_total"]
    code, out, err = run(*args, "--format", "csv")
    assert code == 0, err
    # private-4k, 1 GiB: 512 PTE tables + 1 PMD + 1 PUD = 514 tables of 4 KiB per process
    assert out.split() == ["procs,pt_bytes_total", "1,2105344", "2,4210688", "3,6316032"]
    assert [tuple(r) for r in json.loads(run(*args, "--format", "json")[1])] == [
        ("procs", "pt_bytes_total")] * 3
    code, _, err = run(*args, "--output", tmp_path / "s.csv")
    assert code == 0, err
    assert (tmp_path / "s.csv").read_text().split()[0] == "procs,pt_bytes_total"
    code, _, err = run(*args[:-1], "procs,nope", "--format", "csv")
    assert code == 2 and "'nope'" in err

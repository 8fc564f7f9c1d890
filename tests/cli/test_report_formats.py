"""Every command that prints results: table, markdown, csv and json, and --units where sizes
are shown."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import run_cli as run

from ptcalc.present.tables import render, show

COMMANDS = {
    "compare": ["compare", "--size", "3GiB", "--procs", "4"],
    "sweep": ["sweep", "--size", "3GiB", "--procs", "1,4"],
    "plan": ["plan", "--size", "3GiB", "--ram", "4GiB"],
    "presets": ["presets"],
    "strategies": ["strategies"],
    "cpus": ["cpus"],
}


@pytest.mark.parametrize("name", COMMANDS)
@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json"])
def test_every_format(name, fmt):
    code, out, err = run(*COMMANDS[name], "--format", fmt)
    assert code == 0, err
    if fmt == "json":
        assert isinstance(json.loads(out), list) and json.loads(out)
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert rows and len(rows[0]) > 1
    else:
        assert out.strip()


@pytest.mark.parametrize("name", ["compare", "sweep", "plan"])
def test_units(name):
    # the table, without the title (compare's title is always in IEC units)
    shown = {units: run(*COMMANDS[name], "--units", units)[1].split("\n\n", 1)[1]
             for units in ("iec", "si", "bytes")}
    assert "3 GiB" in shown["iec"] or "GiB" in shown["iec"]
    assert " GB" in shown["si"] and "GiB" not in shown["si"]
    assert "GiB" not in shown["bytes"] and " GB" not in shown["bytes"]


@pytest.mark.parametrize("name", ["compare", "sweep", "plan"])
def test_markdown_is_a_pipe_table(name):
    out = run(*COMMANDS[name], "--format", "markdown")[1]
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert len(table) >= 3 and set(table[1]) <= set("|-: ")


def test_render_not_applicable_rows_and_kinds():
    rows = [{"strategy": "a", "applicable": True, "size_bytes": 4096, "pt_bytes_total": 8192},
            {"strategy": "b", "applicable": False, "size_bytes": 4096, "pt_bytes_total": None}]
    columns = (("strategy", "strategy", "text"), ("size_bytes", "size", "size"),
               ("pt_bytes_total", "PT total", "size"))
    text = render(rows, "table", "bytes", columns=columns)
    assert "b  " in text and "4096" in text.splitlines()[-1] and "n/a" in text
    assert show(4194304, "maxprocs", "iec") == ">= 4,194,304"
    assert show(0.25, "fraction", "iec") == "25%"

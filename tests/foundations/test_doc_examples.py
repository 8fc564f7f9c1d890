"""The command examples in docs/ are this tree's output: each `$ ptcalc ...` line of a code
block is run (piped, so tables keep whole rows) and its output must equal the lines below it,
up to a line `...` that marks the rest as left out."""

from __future__ import annotations

import os
import pathlib
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def examples():
    for doc in sorted((ROOT / "docs").glob("*.md")):
        lines = doc.read_text().splitlines()
        for number, line in enumerate(lines, 1):
            if not line.startswith("$ ptcalc "):
                continue
            shown = []
            for after in lines[number:]:
                if after.startswith(("```", "$ ")):
                    break
                shown.append(after)
            if "..." in shown:
                shown = shown[:shown.index("...")]
            yield pytest.param(line[2:], shown, id=f"{doc.name}:{number}")


@pytest.mark.parametrize(("command", "shown"), list(examples()))
def test_example_output_is_what_the_docs_show(command, shown, tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    env["XDG_CACHE_HOME"] = str(tmp_path)          # no fork calibration of this host
    argv = [sys.executable, "-m", "ptcalc", *shlex.split(command)[1:]]
    done = subprocess.run(argv, check=False, capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)                # the error examples exit 2
    printed = (done.stdout + done.stderr).rstrip("\n").splitlines()
    assert printed[:len(shown)] == shown


def test_there_are_examples_to_check():
    assert len(list(examples())) >= 10

"""Mutated snapshots for `ptcalc inspect --maps`: never a traceback or a hang, exit 0 or 2,
an error is one line and never quotes a file that is no snapshot.

Real snapshots (tests/fixtures/inspect) are mutated line by line: numbers replaced by huge,
negative, non-ASCII or 5000-digit ones, addresses swapped or widened past 64 bits, lines
deleted, duplicated, truncated or replaced by arbitrary text, the whole file gzipped or cut.
Deterministic (derandomize) and bounded: a fixed number of examples, each with a time limit,
so CI time stays bounded.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run_cli, time_bound

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inspect"
SNAPSHOTS = {path.name: path.read_text() for path in sorted(FIXTURES.glob("*.snap"))}
SNAPSHOTS.update({path.name: gzip.decompress(path.read_bytes()).decode()
                  for path in sorted(FIXTURES.glob("*.snap.gz"))})
SECONDS_PER_EXAMPLE = 20

NUMBERS = ["0", "-1", "18446744073709551616", "ffffffffffffffffffff", "9" * 5000, "\u00b2",
           "\u0661\u0662", "1e999999999", "nan", "", " ", "0x10", "4096", "7fffffffffff"]
TEXT = ["", "#", "# pagemap", "# pagemap 1000-0", "# pagemap zz-yy huge",
        "# ptcalc-snapshot 1 presence=pagemap", "Pid:", "VmPTE: kB", "VmFlags:",
        "Rss: 9999999999999999999999 kB", "00400000-00300000 r-xp 00000000 fe:00 1 /x",
        "0-1000 ---p 0 0:0 0", "secret-token not a snapshot line", "\x00\x01\x02",
        "é" * 100, "a" * 10000]




@st.composite
def mutated_snapshots(draw):
    name = draw(st.sampled_from(sorted(SNAPSHOTS)))
    lines = SNAPSHOTS[name].splitlines()
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.integers(0, 7))
        if kind == 0:       # a number in the line replaced
            numbers = list(re.finditer(r"[0-9a-f]+", lines[i]))
            if numbers:
                m = draw(st.sampled_from(numbers))
                lines[i] = lines[i][:m.start()] + draw(st.sampled_from(NUMBERS)) + \
                    lines[i][m.end():]
        elif kind == 1:
            del lines[i]
        elif kind == 2:
            lines.insert(i, lines[i])
        elif kind == 3:
            lines[i] = lines[i][:draw(st.integers(0, len(lines[i])))]
        elif kind == 4:
            lines[i] = draw(st.sampled_from(TEXT))
        elif kind == 5:
            lines.insert(i, draw(st.text(max_size=40)))
        elif kind == 6:     # start and end of a range swapped
            lines[i] = re.sub(r"^([0-9a-f]+)-([0-9a-f]+)", r"\2-\1", lines[i])
        else:
            lines = lines[:i]                      # the file cut short
    text = "\n".join(lines) + draw(st.sampled_from(["\n", ""]))
    return name, text, draw(st.booleans())


def check(code, out, err, text):
    shown = f"exit={code}\nstderr={err[-1500:]!r}"
    assert "Traceback" not in err and "Traceback" not in out, shown
    assert code in (0, 2), shown
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ptcalc: error: "), shown
        # the refusal of a file that is not a snapshot quotes nothing of it (a quoted line of
        # a file that is one may itself contain the words "not a snapshot")
        if "not a snapshot (this line" in lines[0]:
            assert "secret-token" not in lines[0], shown


def test_mutated_snapshots_never_trace_back(tmp_path):
    @settings(max_examples=120, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(mutated_snapshots())
    def fuzz(example):
        _, text, gzipped = example
        path = tmp_path / ("x.snap.gz" if gzipped else "x.snap")
        data = text.encode("utf-8", errors="surrogatepass")
        path.write_bytes(gzip.compress(data) if gzipped else data)
        with time_bound(SECONDS_PER_EXAMPLE):
            code, out, err = run_cli("inspect", "--maps", path, "-f", "json")
        check(code, out, err, text)

    fuzz()


@pytest.mark.parametrize("data", [b"", b"\x1f\x8b", b"\x1f\x8b" + b"\x00" * 100,
                                  gzip.compress(b"")[:-4], b"\xff\xfe" * 1000])
def test_broken_gzip_and_binary(tmp_path, data):
    path = tmp_path / "x.snap.gz"
    path.write_bytes(data)
    with time_bound(SECONDS_PER_EXAMPLE):
        check(*run_cli("inspect", "--maps", path), "")

"""Offline snapshots: parsing, errors, and predictions against the VmPTE they recorded.

The fixtures were captured on Linux 6.18 x86-64 (4-level paging) by
tests/fixtures/inspect/capture.py; each records the kernel's VmPTE, so a prediction that
equals it is a kernel measurement, not a golden value.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from ptcalc.errors import InputError
from ptcalc.inspect.layout import parse_snapshot
from ptcalc.inspect.run import inspect
from ptcalc.inspect.tables import explain_gap, predict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inspect"
EXACT = ["sleep.snap", "memfd-1.snap", "memfd-2.snap", "memfd-3.snap", "thp.snap",
         "hugetlb-1.snap", "hugetlb-2.snap", "postgres-1.snap.gz", "postgres-2.snap.gz",
         "postgres-3.snap.gz"]


def text_of(name: str) -> str:
    path = FIXTURES / name
    if name.endswith(".gz"):
        with gzip.open(path, "rt") as handle:
            return handle.read()
    return path.read_text()


@pytest.mark.parametrize("name", EXACT)
def test_prediction_equals_recorded_vmpte(name):
    layout = parse_snapshot(text_of(name), name)
    assert layout.presence_source == "pagemap"
    prediction = predict(layout)
    assert prediction.tables.bytes == layout.vmpte_bytes
    assert explain_gap(layout, prediction) == []


def test_thp_fixture_has_pmd_mapped_anon_pages_with_deposited_tables():
    layout = parse_snapshot(text_of("thp.snap"), "thp.snap")
    huge = [p for p in predict(layout).pieces if p.huge]
    assert huge and all(p.mapping.anonymous_private for p in huge)
    assert sum(p.end - p.start for p in huge) >= 8 * 2**20


def test_pageout_gap_is_explained():
    layout = parse_snapshot(text_of("pageout.snap"), "pageout.snap")
    prediction = predict(layout)
    assert prediction.tables.bytes < layout.vmpte_bytes
    notes = explain_gap(layout, prediction)
    assert notes and "hold no mapped page" in notes[0]


def test_status_and_header_fields():
    layout = parse_snapshot(text_of("sleep.snap"), "sleep.snap")
    assert layout.name == "sleep" and layout.pid is not None
    assert layout.vmpte_bytes == 45056
    assert any(m.path == "[stack]" for m in layout.mappings)


def _without_pagemap(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def _maps_only(text: str) -> str:
    return "\n".join(line for line in text.splitlines()
                     if re.match(r"^[0-9a-f]+-", line) or line.startswith("VmPTE"))


@pytest.mark.parametrize("name", EXACT)
def test_smaps_without_pagemap_is_an_estimate_with_bounds(name):
    layout = parse_snapshot(_without_pagemap(text_of(name)), name)
    assert layout.presence_source == "rss"
    prediction = predict(layout)
    # Rss as dense prefixes is a lower estimate; the spread-out bound is an upper one.
    assert prediction.tables.bytes <= layout.vmpte_bytes <= prediction.upper_bytes
    assert "estimated from Rss" in explain_gap(layout, prediction)[0]


@pytest.mark.parametrize("name", ["sleep.snap", "memfd-1.snap", "postgres-2.snap.gz"])
def test_bare_maps_is_an_upper_bound(name):
    layout = parse_snapshot(_maps_only(text_of(name)), name)
    assert layout.presence_source == "maps"
    assert predict(layout).tables.bytes >= layout.vmpte_bytes


def test_plain_proc_maps_without_status_has_no_vmpte():
    text = "\n".join(line for line in _maps_only(text_of("sleep.snap")).splitlines()
                     if not line.startswith("VmPTE"))
    layout = parse_snapshot(text, "maps")
    assert layout.vmpte_bytes is None and layout.pid is None


@pytest.mark.parametrize("line, message", [
    ("this is not a maps line", "malformed line"),
    ("7f00-7e00 rw-p 00000000 00:00 0", "mapping end 7e00 is not above its start"),
    ("7f00 rw-p 00000000 00:00 0", "malformed line"),
    ("Rss:   12x kB", "malformed smaps field"),
    ("# pagemap 1000-zz", "malformed pagemap line"),
    ("# pagemap 2000-1000", "malformed pagemap line"),
    ("# pagemap 1000-2000 giant", "malformed pagemap line"),
])
def test_malformed_line_names_file_and_line(line, message):
    text = "55d0c0a00000-55d0c0a02000 r--p 00000000 fe:00 1  /bin/x\nSize: 8 kB\n" + line
    with pytest.raises(InputError, match=rf"snap:3: {message}"):
        parse_snapshot(text, "snap")


def test_text_without_maps_lines_is_rejected():
    with pytest.raises(InputError, match="no maps lines"):
        parse_snapshot("Name: x\nVmPTE: 4 kB\n", "empty.snap")


def test_inspect_reads_files_and_gzip_and_skips_bad_ones(tmp_path):
    bad = tmp_path / "bad.snap"
    bad.write_text("garbage\n")
    result = inspect(maps_files=[str(FIXTURES / "sleep.snap"),
                                 str(FIXTURES / "postgres-1.snap.gz"), str(bad),
                                 str(tmp_path / "missing.snap")], what_if=False)
    assert [p.layout.name for p in result.processes] == ["sleep", "postgres"]
    assert len(result.warnings) == 2
    assert "bad.snap:1: not a snapshot" in result.warnings[0]
    assert "garbage" not in result.warnings[0]       # a file that is no snapshot is not quoted
    assert "missing.snap" in result.warnings[1]


def test_nothing_readable_raises(tmp_path):
    bad = tmp_path / "bad.snap"
    bad.write_text("garbage\n")
    with pytest.raises(InputError, match=r"nothing could be read: skipped .*bad\.snap:1"):
        inspect(maps_files=[str(bad)])
    with pytest.raises(InputError, match="nothing to inspect"):
        inspect()

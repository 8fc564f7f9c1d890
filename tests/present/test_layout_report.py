"""`ptcalc report --layout`: the host layout's sizing report (HTML with the plot embedded,
Markdown with the PNG beside it), its figures against compare/plan --layout, and the
command's contract (exit 2, one line)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytest.importorskip("matplotlib")

from ptcalc.inputs.layout import load_layout_file, parse_layout
from ptcalc.model.strategies import STRATEGY_NAMES
from ptcalc.present.layout_report import build_layout_report, default_group, render_html

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "postgres-host.toml"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def example():
    layout = load_layout_file(EXAMPLE)
    return layout, build_layout_report(layout, STRATEGY_NAMES)


def test_report_shows_the_host_groups_and_capacity_of_compare_and_plan(example):
    layout, report = example
    text = render_html(report)
    # the host: private-4k 3.207 GiB of page tables (docs/layouts.md section 4, by hand:
    # 632 KiB + 200 x 16.418 MiB), 23.723 GiB of data + PT, fits the 64 GiB
    host = next(b for b in report.blocks if b[0] == "table"
                and "page tables of the host (PageTables)" in b[1])
    row = dict(zip(host[1], host[2][0], strict=True))
    assert (row["strategy"], row["page tables of the host (PageTables)"],
            row["data + page tables"], row["fits in RAM"]) == (
        "private-4k", "3.207 GiB", "23.723 GiB", "yes")
    # strategies for one region only do not apply here: named in the notes, not as rows
    assert "thp-shmem-8k" not in [r[0] for r in host[2]]
    assert "thp-shmem-8k, thp-shmem-16k" in text and "do not apply" in text
    # capacity of the backends (the postmaster is their fork parent): 712 with private-4k,
    # 763 with PMD sharing, as `ptcalc plan --layout ... --group backends` gives
    assert default_group(layout) == "backends"
    plan = next(b for b in report.blocks if b[0] == "table"
                and "most processes that fit" in b[1])
    most = {r[0]: r[plan[1].index("most processes that fit")] for r in plan[2]}
    assert most["private-4k"] == "712" and most["hugetlb-2m-pmdshare"] == "763"
    (uri,) = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert base64.b64decode(uri).startswith(PNG)


def test_html_escapes_what_the_layout_file_says():
    data = {"name": "<b>x</b>", "description": "<script>alert(1)</script>",
            "regions": [{"name": "r<i>", "size": "4MiB"}],
            "groups": [{"name": "g&", "maps": [{"region": "r<i>"}]}]}
    text = render_html(build_layout_report(parse_layout(data), ("private-4k",)))
    assert "<script>" not in text and "&lt;script&gt;" in text and "r&lt;i&gt;" in text


def test_cli_writes_markdown_with_the_png_beside_it(tmp_path):
    target = tmp_path / "host.md"
    code, out, err = run_cli("report", "--layout", EXAMPLE, "-o", target, "--group",
                             "backends")
    assert code == 0, err
    assert out.startswith(f"wrote {target}") and "1 plots" in out
    assert (tmp_path / "host_files" / "page-tables.png").read_bytes().startswith(PNG)
    assert "](host_files/page-tables.png)" in target.read_text()


@pytest.mark.parametrize("argv, words", [
    (("--size", "1GiB"), "--size does not apply to report --layout"),
    (("--group", "nobody"), "'nobody' is not in the layout"),
])
def test_cli_errors_are_one_line(tmp_path, argv, words):
    code, _, err = run_cli("report", "--layout", EXAMPLE, "-o", tmp_path / "r.html", *argv)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
    code, _, err = run_cli("report", "--group", "x", "-o", tmp_path / "r.html")
    assert code == 2 and "give --layout" in err

"""The layout report's words (present/narrative.py): a title from the layout, the date and
version, and the one-paragraph recommendation with the exact settings and every proposal
marked with its status; headers in words."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from ptcalc import __version__
from ptcalc.inputs.layout import load_layout_file, parse_layout
from ptcalc.model.strategies import STRATEGY_NAMES
from ptcalc.present.layout_report import build_layout_report, render_html, render_markdown

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "postgres-host.toml"


@pytest.fixture(scope="module")
def postgres_host():
    return build_layout_report(load_layout_file(EXAMPLE), STRATEGY_NAMES)


def _recommendation(report) -> str:
    (text,) = [block[1] for block in report.blocks if block[0] == "recommendation"]
    return text


def test_title_date_and_version(postgres_host):
    assert postgres_host.title == ("postgres-host: 16 GiB shared_buffers (shared), 64 MiB heap "
                                   "(private); 201 processes in 2 groups; 64 GiB host")
    html = render_html(postgres_host)
    assert f"with ptcalc {__version__}." in html and postgres_host.generated in html
    assert f"with ptcalc {__version__}." in render_markdown(postgres_host)


def test_recommendation_names_the_settings_and_the_proposals(postgres_host):
    text = _recommendation(postgres_host)
    # 16 GiB of shared_buffers in 1 GiB pages: 16 of them; the layout's name says PostgreSQL
    assert "cheapest choice in mainline Linux for it is hugetlb-1g (mainline since 2.6.27)" \
        in text
    assert "hugepagesz=1G hugepages=16" in text and "huge_page_size = 1GB" in text
    assert "Next is hugetlb-2m-pmdshare" in text     # 2 MiB pages need no reboot
    # private-4k's faults of all processes (compare --layout: faults total 31,463,998)
    assert "instead of 31,463,998" in text
    # none of them beats 77.6 MiB here, and each is named with its status
    assert "mshare: RFC posted 2025-08, not merged" in text
    assert 'id="recommendation"' in render_html(postgres_host)


def test_a_private_heap_keeps_the_default():
    # a 64 MiB private heap: every strategy leaves private memory on 4 KiB pages
    layout = parse_layout({"name": "heap-only", "ram": "1GiB",
                           "regions": [{"name": "heap", "size": "64MiB", "kind": "private"}],
                           "groups": [{"name": "app", "procs": 2,
                                       "maps": [{"region": "heap"}]}]})
    text = _recommendation(build_layout_report(layout, STRATEGY_NAMES))
    assert "keep the default" in text and "hugetlb" not in text.split("keep the default")[0]


def test_headers_are_words(postgres_host):
    headers = [h for block in postgres_host.blocks if block[0] == "table" for h in block[1]]
    for short in ("PT total", "faults 1st", "COW faults", "new RAM/proc", "max procs"):
        assert short not in headers
    assert "page tables per process (VmPTE)" in headers

"""ptcalc.styled: readable headers and units in Jupyter while the cells keep exact numbers."""

import pytest

import ptcalc

pytest.importorskip("jinja2")


def test_styled_formats_units_but_keeps_numbers():
    frame = ptcalc.compare("300GiB", 1500)
    styler = ptcalc.styled(frame)
    # the data behind the Styler is the frame's numbers, not text
    data = styler.data
    assert data.loc["private-4k", "pt_bytes_total"] == 945_567_744_000
    assert str(data["pt_bytes_total"].dtype) == str(frame["pt_bytes_total"].dtype)
    html = styler.to_html()
    # 945,567,744,000 B = 880.63 GiB, shown to 3 significant digits; header in words
    assert ">881 GiB<" in html
    assert "page tables, all processes (PageTables)" in html
    assert "pt_bytes_total" not in html


def test_styled_columns_not_in_the_table_are_named_by_kind():
    frame = ptcalc.compare("1GiB", 2, cpu="skylake-sp")
    styler = ptcalc.styled(frame, ["pt_walk_footprint_bytes", "pt_walk_footprint_llc_ratio",
                                   "mapped_4k_bytes"])
    html = styler.to_html()
    assert "pt walk footprint bytes" in html and "mapped 4k bytes" in html
    # private-4k maps the whole 1 GiB with 4 KiB pages
    assert "1 GiB" in html
    assert "%" in html       # the LLC ratio as a percentage

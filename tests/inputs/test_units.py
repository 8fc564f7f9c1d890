from fractions import Fraction

import pytest

from ptcalc.units import UnitError, format_size, parse_fraction, parse_size


@pytest.mark.parametrize("text, expected", [
    ("4096", 4096), ("4KiB", 4096), ("4k", 4096), ("1.5GiB", 3 * 2**29), ("2M", 2 * 2**20),
    ("10GB", 10**10), ("1e3", 1000), (" 300 GiB ", 300 * 2**30), ("0.5KiB", 512), (7, 7),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "-1G", "nan", "inf", "1x", "GiB", "0.5B", "1..2G",
                                  "1.0000001KiB"])
def test_parse_size_rejects(text):
    with pytest.raises(UnitError) as error:
        parse_size(text)
    assert "\n" not in str(error.value) and repr(text)[1:-1] in str(error.value)


def test_parse_fraction_is_exact():
    assert parse_fraction("0.3") == Fraction(3, 10)
    assert parse_fraction("25%") == Fraction(1, 4)


@pytest.mark.parametrize("value, units, expected", [
    (2**30, "iec", "1 GiB"), (3 * 2**29, "iec", "1.5 GiB"), (10**9, "si", "1 GB"),
    (4096, "bytes", "4096"), (0, "iec", "0 B"), (None, "iec", "-"),
])
def test_format_size(value, units, expected):
    assert format_size(value, units) == expected

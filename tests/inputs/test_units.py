from fractions import Fraction

import pytest

from ptcalc.units import (
    UnitError,
    describe_size,
    format_size,
    parse_count,
    parse_fraction,
    parse_size,
)


# GB is binary, as PostgreSQL ("the multiplier for memory units is 1024, not 1000",
# https://www.postgresql.org/docs/current/config-setting.html), Oracle (K/M/G) and
# /proc/meminfo (kB) write sizes: 10GB = 10 * 2**30 (this case read 10**10 before binary
# became the default).
@pytest.mark.parametrize("text, expected", [
    ("4096", 4096), ("4KiB", 4096), ("4k", 4096), ("1.5GiB", 3 * 2**29), ("2M", 2 * 2**20),
    ("10GB", 10 * 2**30), ("1e3", 1000), (" 300 GiB ", 300 * 2**30), ("0.5KiB", 512), (7, 7),
    ("64GB", 64 * 2**30), ("64gb", 64 * 2**30), ("512kB", 512 * 1024), ("0.5TB", 2**39),
    ("10e9", 10**10),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "-1G", "nan", "inf", "1x", "GiB", "0.5B", "1..2G",
                                  "1.5", "1.5e-1"])
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


@pytest.mark.parametrize("text, expected", [
    # 1.6 * 2**30 = 1717986918.4 bytes -> rounded up to 1717986919 (a whole byte); the same
    # for 1.6GB (binary) and 1.6G.  25.6 * 2**30 = 27487790694.4 -> 27487790695.
    ("1.6GiB", 1717986919), ("1.6GB", 1717986919), ("1.6G", 1717986919),
    ("25.6GiB", 27487790695),
    # 1.0000001 KiB = 1024.0001024 bytes -> 1025 (rejected as "not whole" before rounding up
    # became the rule for values with a unit)
    ("1.0000001KiB", 1025),
])
def test_fractional_sizes_round_up_to_a_byte(text, expected):
    assert parse_size(text) == expected


def test_decimal_units_stay_available():
    assert parse_size("64GB", decimal=True) == 64 * 10**9
    assert parse_size("1.6GB", decimal=True) == 16 * 10**8
    assert parse_size("64GiB", decimal=True) == 64 * 2**30      # IEC names stay binary


def test_describe_how_a_size_was_read():
    assert describe_size("64GB") == "64GB read as 64 GiB"
    assert describe_size("64GB", decimal=True) == "64GB read as 64 GB (decimal)"
    assert describe_size("1.6GiB") == ("1.6GiB read as 1,717,986,919 bytes, rounded up to a "
                                       "whole byte")
    assert describe_size("4KiB") is None and describe_size("4096") is None


@pytest.mark.parametrize("text, expected", [("1500", 1500), ("1,500", 1500), ("1_500", 1500),
                                            ("1,234,567", 1234567)])
def test_parse_count(text, expected):
    assert parse_count(text) == expected


@pytest.mark.parametrize("text", ["1,50", "1.5", "-3", "", "1,,500", "x"])
def test_parse_count_rejects(text):
    with pytest.raises(UnitError):
        parse_count(text)

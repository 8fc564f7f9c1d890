"""Scenario domain rules: one definition, the same words for ints, columns, axes and probe
cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ptcalc
from ptcalc.errors import InputError
from ptcalc.inputs import rules
from ptcalc.inputs.scenario import make_scenario
from ptcalc.sweep.axes import (
    parse_offset_axis,
    parse_procs_axis,
    parse_size_axis,
    parse_touched_axis,
)

GiB = 2**30


def tail(error) -> str:
    """What is wrong and what is accepted: the part every entry point shares."""
    text = str(error.value)
    return text[text.index(" is ") if ", which " not in text else text.index(", which ") + 7:]


@pytest.mark.parametrize("rule, good, bad", [
    (rules.SIZE, 4096, 0),
    (rules.PROCS, 1, 0),
    (rules.PROCS, rules.MAX_PROCS, rules.MAX_PROCS + 1),
    (rules.OFFSET_PAGE, 8192, 100),
    (rules.OFFSET_RANGE, 0, 512 * GiB),
    (rules.OFFSET_RANGE, 0, -4096),
    (rules.TOUCHED, 1.0, 0.0),
    (rules.TOUCHED, 0.5, float("nan")),
])
def test_a_rule_on_an_int_and_on_a_column(rule, good, bad):
    assert rule.check(good) == good
    with pytest.raises(InputError) as one:
        rule.check(bad)
    with pytest.raises(InputError) as column:
        rule.check_column(np.array([good, bad, good]))
    assert str(one.value) == f"{rule.name} {bad} {rule.problem}; {rule.hint}"
    expected = f"column {rule.column!r} has {bad}, which {rule.problem}; {rule.hint}"
    assert str(column.value) == expected
    rule.check_column(np.array([good, good]))          # no error


@pytest.mark.parametrize("scalar, frame, axis", [
    ({"size": "1GiB", "procs": 0}, {"size_bytes": [GiB], "procs": [0]},
     lambda: parse_procs_axis("0..3")),
    ({"size": "1GiB", "procs": 5_000_000}, {"size_bytes": [GiB], "procs": [5_000_000]},
     lambda: parse_procs_axis("1..5000000")),
    ({"size": 0, "procs": 1}, {"size_bytes": [0], "procs": [1]},
     lambda: parse_size_axis("0..2GiB/1GiB")),
    ({"size": "1GiB", "procs": 1, "offset": 100},
     {"size_bytes": [GiB], "procs": [1], "offset_bytes": [100]},
     lambda: parse_offset_axis("0..8KiB/100")),
    ({"size": "1GiB", "procs": 1, "offset": "512GiB"},
     {"size_bytes": [GiB], "procs": [1], "offset_bytes": [512 * GiB]},
     lambda: parse_offset_axis("512GiB")),
    ({"size": "1GiB", "procs": 1, "touched": 1.5},
     {"size_bytes": [GiB], "procs": [1], "touched": [1.5]},
     lambda: parse_touched_axis("0.5..1.5/0.5")),
])
def test_every_entry_point_gives_the_same_message(scalar, frame, axis):
    with pytest.raises(InputError) as from_scenario:
        make_scenario(**scalar)
    with pytest.raises(InputError) as from_frame:
        ptcalc.evaluate(pd.DataFrame(frame))
    with pytest.raises(InputError) as from_axis:
        axis()
    assert tail(from_scenario) == tail(from_frame) == tail(from_axis)
    for error in (from_scenario, from_frame, from_axis):
        assert "\n" not in str(error.value)


def test_region_beyond_the_address_space_reads_the_same():
    with pytest.raises(InputError) as one:
        make_scenario("130972GiB", 1, offset="200GiB")     # 128 TiB - 100 GiB + 200 GiB
    with pytest.raises(InputError) as column:
        ptcalc.evaluate(pd.DataFrame({"size_bytes": [130972 * GiB], "procs": [1],
                                      "offset_bytes": [200 * GiB]}))
    end = "does not fit the 128 TiB user address space of 4-level paging; try --paging 5"
    assert str(one.value).endswith(end) and str(column.value).endswith(end)
    assert "at offset 200 GiB" in str(one.value) and "at offset 200 GiB" in str(column.value)


def test_probe_cases_use_the_same_rules():
    from ptcalc.probe.cases import ProbeCase

    with pytest.raises(InputError) as error:
        ProbeCase("private-4k", 4 * 2**20, 100)
    assert str(error.value) == rules.OFFSET_PAGE.message(100)
    with pytest.raises(InputError) as error:
        ProbeCase("private-4k", 4 * 2**20 + 1)
    assert str(error.value) == rules.SIZE_WHOLE_PAGES.message(4 * 2**20 + 1)

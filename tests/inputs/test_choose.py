"""The one merge of defaults, a preset and the command line (ptcalc.inputs.presets.choose)."""

from __future__ import annotations

import pytest

from ptcalc.errors import InputError
from ptcalc.inputs.presets import DEFAULT_PRESET, GIVEN, SCENARIO_DEFAULTS, choose, load_preset

KEYS = ("size", "procs", "ram", "offset", "touched", "access", "pattern")


def given(**values):
    return {key: values.get(key) for key in KEYS}


def test_nothing_given_takes_the_default_preset():
    chosen = choose(None, given())
    preset = load_preset(DEFAULT_PRESET)
    assert chosen.preset.name == DEFAULT_PRESET
    for key, value in preset.values.items():
        assert chosen.values[key] == value
    assert chosen.sources == preset.sources


def test_given_values_win_and_defaults_fill_the_rest():
    chosen = choose(None, given(size="1GiB", procs="4"))
    assert chosen.preset is None                 # size given: no default preset
    assert chosen.values == {**SCENARIO_DEFAULTS, "size": "1GiB", "procs": "4"}
    assert chosen.sources == {"size": GIVEN, "procs": GIVEN}
    named = choose(DEFAULT_PRESET, given(procs=10), as_text=True)
    assert named.values["procs"] == "10" and named.sources["procs"] == GIVEN
    assert named.values["size"] == str(load_preset(DEFAULT_PRESET).values["size"])


def test_the_preset_fills_only_the_options_a_command_has():
    plan_options = {"size": None, "ram": None, "offset": None, "touched": None,
                    "access": None, "pattern": None}
    chosen = choose(None, plan_options, default_unless=("size",), required=("size",))
    assert "procs" not in chosen.values and "procs" not in chosen.sources
    assert chosen.values["size"] == load_preset(DEFAULT_PRESET).values["size"]


@pytest.mark.parametrize("required, text", [
    (("size", "procs"), "--procs is missing; give --size and --procs, or --preset NAME"),
    (("size", "procs", "ram"),
     "--procs is missing; give --size, --procs and --ram, or --preset NAME"),
])
def test_missing_values_name_the_options(required, text):
    with pytest.raises(InputError) as error:
        choose(None, given(size="1GiB"), required=required)
    assert str(error.value) == text

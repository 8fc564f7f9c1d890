"""Workload presets (models/workloads): every file loads, holds scenario values only, each with
a source; broken files give errors naming the file and the key; compare/plan/sweep take them."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli as run

from ptcalc.catalog import STRATEGY_NAMES
from ptcalc.data import models_path
from ptcalc.errors import InputError
from ptcalc.inputs.presets import SCENARIO_KEYS, load_preset, load_preset_file, preset_names
from ptcalc.units import parse_size

GiB = 2**30


@pytest.mark.parametrize("path", sorted(models_path("workloads").glob("*.toml")),
                         ids=lambda p: p.stem)
def test_every_preset_file_loads_with_a_source_per_value(path):
    preset = load_preset_file(path)
    assert set(preset.values) <= set(SCENARIO_KEYS)
    assert set(preset.sources) == set(preset.values)
    assert all(text.strip() for text in preset.sources.values())
    assert preset.description


def test_the_three_named_workloads():
    assert {"oracle-sga-300g", "postgres-100g", "redis-fork-24g"} <= set(preset_names())
    sga = load_preset("oracle-sga-300g").values
    assert (parse_size(sga["size"]), sga["procs"], parse_size(sga["ram"])) == (
        300 * GiB, 1500, 512 * GiB)
    postgres = load_preset("postgres-100g").values
    assert (parse_size(postgres["size"]), postgres["procs"]) == (100 * GiB, 100)
    redis = load_preset("redis-fork-24g").values
    assert (parse_size(redis["size"]), redis["procs"]) == (24 * GiB, 2)


GOOD = """description = "x"
[scenario]
size = "1GiB"
procs = 2
[sources]
size = "s"
procs = "p"
"""


@pytest.mark.parametrize("text, fragment", [
    ("size = ", "not valid TOML"),
    (GOOD.replace('description = "x"', ""), "description"),
    (GOOD.replace("[scenario]", "[scenario]\ncpu = 'zen4'"), "scenario.cpu"),
    (GOOD.replace('procs = "p"', ""), "sources.procs"),
    (GOOD.replace('procs = "p"', 'procs = "p"\nram = "r"'), "sources.ram"),
    (GOOD.replace("procs = 2", "procs = 0"), "scenario.procs"),
    (GOOD.replace('size = "1GiB"', 'size = "1XB"'), "scenario.size"),
    (GOOD.replace("procs = 2", "procs = 2\ntouched = 2.0").replace(
        'procs = "p"', 'procs = "p"\ntouched = "t"'), "scenario.touched"),
    (GOOD.replace("procs = 2", "procs = 2\nram = '512MiB'").replace(
        'procs = "p"', 'procs = "p"\nram = "r"'), "scenario.ram"),
    (GOOD.replace("procs = 2", "procs = true"), "scenario.procs"),
    (GOOD + "\n[extra]\na = 1\n", "unknown key extra"),
])
def test_broken_files_name_file_and_key(tmp_path, text, fragment):
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(InputError) as error:
        load_preset_file(path)
    message = str(error.value)
    assert str(path) in message and fragment in message and "\n" not in message


def test_unknown_preset_suggests_the_nearest():
    with pytest.raises(InputError, match="did you mean 'postgres-100g'"):
        load_preset("postgres-100")
    with pytest.raises(InputError, match="not known"):
        load_preset("../cpus/zen4")


@pytest.mark.parametrize("name", ["oracle-sga-300g", "postgres-100g", "redis-fork-24g"])
def test_compare_and_plan_take_every_preset(name):
    code, out, err = run("compare", "--preset", name, "--format", "json")
    assert code == 0, err
    assert [row["strategy"] for row in json.loads(out)] == list(STRATEGY_NAMES)
    code, out, err = run("plan", "--preset", name, "--format", "json")
    assert code == 0, err
    assert all("max_procs" in row for row in json.loads(out))


def test_options_override_the_preset():
    code, out, _ = run("compare", "--preset", "postgres-100g", "--procs", "200")
    assert code == 0 and "200 processes" in out and "100 GiB region" in out
    code, out, _ = run("sweep", "--preset", "postgres-100g", "--procs", "1,2", "-f", "json")
    rows = json.loads(out)
    assert {row["procs"] for row in rows} == {1, 2}
    assert {row["size_bytes"] for row in rows} == {100 * GiB}


def test_presets_command_lists_values_and_sources():
    code, out, _ = run("presets")
    assert code == 0 and "oracle-sga-300g" in out and "cover letter" in out
    code, out, _ = run("presets", "--format", "json")
    listed = {p["name"]: p for p in json.loads(out)}
    assert set(listed["redis-fork-24g"]["sources"]) == set(listed["redis-fork-24g"]["scenario"])

"""Layout files: validation (one-line errors naming file and key), placement, the scenario
as the smallest layout."""

from __future__ import annotations

import pytest

from ptcalc.errors import InputError
from ptcalc.inputs.layout import layout_from_scenario, load_layout_file, parse_layout
from ptcalc.inputs.scenario import make_scenario

KiB, MiB, GiB = 2**10, 2**20, 2**30


def one(**region):
    return {"regions": [{"name": "a", "size": "1GiB", **region}],
            "groups": [{"name": "g", "procs": 2, "maps": [{"region": "a"}]}]}


def test_regions_given_by_offset_are_placed_in_order_above_each_other():
    data = {"regions": [{"name": "a", "size": "3GiB"}, {"name": "b", "size": "1GiB"},
                        {"name": "c", "size": "4KiB", "offset": "2MiB"}],
            "groups": [{"name": "g", "maps": [{"region": "a"}, {"region": "b"}]}]}
    layout = parse_layout(data)
    # a at 0; b (offset 0) cannot start below 3 GiB, the next address = 0 mod 512 GiB is
    # 512 GiB; c (offset 2 MiB) lands at 512 GiB + 2 MiB? no: it must lie above b's end
    # (512 GiB + 1 GiB), so 1024 GiB + 2 MiB.
    assert [r.address_bytes for r in layout.regions] == [0, 512 * GiB, 1024 * GiB + 2 * MiB]


def test_a_map_may_put_the_region_elsewhere():
    data = one()
    data["groups"][0]["maps"][0]["offset"] = "1GiB"
    assert parse_layout(data).groups[0].maps[0].address_bytes == GiB
    data["groups"][0]["maps"][0] = {"region": "a", "address": "0x7f0000000000"}
    assert parse_layout(data).groups[0].maps[0].address_bytes == 0x7F0000000000


@pytest.mark.parametrize("change, words", [
    (lambda d: d["regions"][0].update(kind="anon"), ["regions[0].kind", "shared, private"]),
    (lambda d: d["regions"][0].update(sizes="1GiB"), ["unknown key regions[0].sizes",
                                                      "did you mean 'size'"]),
    (lambda d: d["groups"][0]["maps"][0].update(region="b"), ["'b' is not a region"]),
    (lambda d: d["groups"][0].update(forked_from="x"), ["forked_from", "'x'"]),
    (lambda d: d["groups"][0].update(procs=0), ["groups[0].procs", "out of range"]),
    (lambda d: d["regions"][0].update(offset="5KiB"), ["regions[0].offset", "4 KiB"]),
    (lambda d: d["groups"][0]["maps"][0].update(pages="independent"), ["random"]),
    (lambda d: d["regions"].append({"name": "a", "size": "1MiB"}), ["defined twice"]),
    (lambda d: d["regions"].extend([{"name": "b", "size": "1MiB", "address": "4KiB"},
                                     {"name": "c", "size": "1MiB", "address": "8KiB"}]),
     ["overlap"]),
    (lambda d: d.pop("groups"), ["missing [[groups]]"]),
])
def test_bad_layouts_say_what_and_where(change, words):
    data = one()
    change(data)
    with pytest.raises(InputError) as error:
        parse_layout(data, "host.toml")
    text = str(error.value)
    assert "\n" not in text and text.startswith("host.toml")
    for word in words:
        assert word in text


def test_a_child_forks_from_a_one_process_group_written_before_it():
    data = one(kind="private")
    data["groups"][0]["procs"] = 2
    data["groups"].append({"name": "c", "forked_from": "g", "maps": [{"region": "a"}]})
    with pytest.raises(InputError, match="exactly one"):
        parse_layout(data)
    data["groups"][0]["procs"] = 1
    assert parse_layout(data).groups[1].forked_from == "g"


def test_scenario_is_the_smallest_layout():
    scenario = make_scenario("3GiB", 7, "2MiB", 0.5, "read")
    layout = layout_from_scenario(scenario)
    (region,), (group,) = layout.regions, layout.groups
    assert (region.size_bytes, region.address_bytes, region.kind) == (3 * GiB, 2 * MiB, "shared")
    assert group.procs == 7 and group.maps[0].touched_bytes == scenario.touched_bytes


def test_the_shipped_layouts_load():
    from ptcalc.data import models_path

    files = sorted(models_path("layouts").glob("*.toml"))
    assert files
    for path in files:
        layout = load_layout_file(path)
        assert layout.description and dict(layout.sources)

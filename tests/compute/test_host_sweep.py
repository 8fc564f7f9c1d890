"""Sweeps over a layout: one group's processes or one region's size varied, every other value
held; each value gives exactly the rows of the layout with that value.  Hand-derived values
in the comments (docs/examples/postgres-host.toml: 16 GiB shared_buffers at 0, a 64 MiB
private heap at 512 GiB, a postmaster and 200 backends forked from it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ptcalc.compute.host import evaluate_layout
from ptcalc.compute.host_sweep import sweep_layout
from ptcalc.errors import InputError
from ptcalc.inputs.layout import layout_data, load_layout_file, parse_layout

GiB, MiB = 2**30, 2**20
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "postgres-host.toml"


@pytest.fixture(scope="module")
def host():
    return load_layout_file(EXAMPLE)


def test_layout_data_reads_back_as_the_same_layout(host):
    assert parse_layout(layout_data(host), default_name=host.name) == host


def test_varying_procs_gives_the_rows_of_the_layout_with_those_procs(host):
    result = sweep_layout(host, group="backends", values=[1, 200, 777],
                          strategies=("private-4k", "hugetlb-2m-pmdshare"))
    assert [r["group_procs"] for r in result["host"]] == [1, 1, 200, 200, 777, 777]
    for procs in (1, 200, 777):
        want = evaluate_layout(host.with_procs("backends", procs),
                               ("private-4k", "hugetlb-2m-pmdshare"))
        got = [{k: v for k, v in r.items() if k not in ("vary_group", "group_procs")}
               for r in result["host"] if r["group_procs"] == procs]
        assert got == want["host"]
    # at the file's own 200: private-4k PT total 632 KiB + 200 x 16.418 MiB (docs/layouts.md §4)
    (at_200,) = [r for r in result["host"] if r["group_procs"] == 200
                 and r["strategy"] == "private-4k"]
    assert at_200["pt_bytes_total"] == 632 * 1024 + 200 * (4139 * 4096 + 256 * 1024)


def test_varying_a_region_size_keeps_the_touched_fractions(host):
    result = sweep_layout(host, region="shared_buffers", values=[8 * GiB, 16 * GiB],
                          strategies=("private-4k",))
    groups = {(r["region_size_bytes"], r["group"]): r for r in result["groups"]}
    # 8 GiB: the postmaster writes 1 % = ceil(0.01 x 2,097,152) = 20,972 pages and a quarter
    # of its heap, 4,096 pages: 25,068 faults; at 16 GiB 41,944 + 4,096 = 46,040 (the file's)
    assert groups[(8 * GiB, "postmaster")]["faults_first"] == 20_972 + 4_096
    assert groups[(16 * GiB, "postmaster")]["faults_first"] == 41_944 + 4_096
    # a later backend reads half: 4 GiB = 65,536 windows of 64 KiB, + 16,384 heap pages
    assert groups[(8 * GiB, "backends")]["faults_next"] == 65_536 + 16_384


@pytest.mark.parametrize("kwargs, words", [
    ({"group": "nobody", "values": [1]}, ["'nobody' is not in the layout", "backends"]),
    ({"region": "heap", "group": "backends", "values": [1]}, ["varies one thing"]),
    # the postmaster is the parent of the forked backends: it keeps one process
    ({"group": "postmaster", "values": [2]}, ["exactly one"]),
    # 600 GiB of shared_buffers at 0 runs into the heap at 512 GiB
    ({"region": "shared_buffers", "values": [600 * GiB]}, ["overlap", "600 GiB"]),
    ({"group": "backends", "values": []}, ["no values"]),
])
def test_bad_sweeps_say_what_is_wrong(host, kwargs, words):
    with pytest.raises(InputError) as error:
        sweep_layout(host, strategies=("private-4k",), **kwargs)
    assert all(w in str(error.value) for w in words), str(error.value)

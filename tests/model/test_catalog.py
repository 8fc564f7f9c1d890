"""The strategy catalogue: every strategy has its facts, and they agree with the model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import rows_by_strategy, run_cli

from ptcalc import catalog
from ptcalc.compute import _compiled


@pytest.mark.parametrize("record", catalog.STRATEGIES, ids=lambda s: s.name)
def test_every_strategy_has_status_and_sources_a_reader_can_open(record):
    assert record.shared and record.rule
    assert record.sources
    for what, address in record.sources:
        assert what and address.startswith("https://"), (what, address)
        assert "shared/" not in what + address
    upstream = record.upstream
    assert upstream.kind in catalog.UPSTREAM_KINDS
    if upstream.in_mainline:
        assert upstream.since or upstream.note        # a release, or why there is none
    elif upstream.kind == "prototype":
        # Code in a public tree, never posted to the lists: the tree's file is the source.
        assert upstream.posting.startswith("https://github.com/")
        assert upstream.posting in {address for _, address in record.sources}
    else:
        # Not merged: the date and the address of the posting the model follows.
        assert len(upstream.posted) == 7 and upstream.posted[4] == "-"
        assert upstream.posting.startswith("https://lore.kernel.org/")
    assert set(record.leaf_sizes) <= set(catalog.LEAF_BYTES)


def test_names_order_and_baseline_are_the_public_ones():
    mthp = tuple(f"thp-shmem-{size}" for size in
                 ("8k", "16k", "32k", "64k", "128k", "256k", "512k", "1m"))
    expected = ("private-4k", "thp-shmem", *mthp, "thp-shmem-1g", "hugetlb-2m",
                "hugetlb-2m-pmdshare", "hugetlb-1g", "ptshare", "ptshare-2026", "file-pt",
                "mshare", "threads")
    assert expected == catalog.STRATEGY_NAMES
    assert catalog.STRATEGY_NAMES[0] == catalog.BASELINE
    import ptcalc

    assert ptcalc.STRATEGIES == catalog.STRATEGY_NAMES


def test_every_strategy_has_compiled_formulas():
    for name in catalog.STRATEGY_NAMES:
        for levels in (4, 5):
            assert (name, levels) in _compiled.CONDITIONS
            for pattern in ("dense", "random"):
                assert (name, levels, pattern) in _compiled.FUNCTIONS


@pytest.mark.parametrize("offset", ["0", "1GiB", "6MiB"])
def test_leaf_sizes_are_the_sizes_the_model_maps(offset):
    # 3 GiB + 3 MiB from a 1 GiB-aligned start: every strategy applies and thp-shmem maps
    # both 2 MiB folios and a 4 KiB tail; the leaves a strategy maps must be its declared
    # ones, and every declared leaf must map something.
    rows = rows_by_strategy(size="3075MiB", procs=3, offset=offset)
    for name, row in rows.items():
        if not row["applicable"]:
            continue
        mapped = {leaf for leaf in catalog.LEAF_BYTES if row[f"mapped_{leaf}_bytes"]}
        declared = set(catalog.strategy(name).leaf_sizes)
        assert mapped <= declared, name
        if offset == "0":
            assert mapped == declared, name


def test_hugetlb_pages_and_one_mm_agree_with_the_model():
    rows = rows_by_strategy(size="4GiB", procs=2)
    for name, row in rows.items():
        page = catalog.strategy(name).hugetlb_page_bytes
        if page is None:
            assert row["huge_pages"] is None, name
        else:
            # 4 GiB in pages of the strategy's size: 2048 x 2 MiB or 4 x 1 GiB.
            assert row["leaf_page_bytes"] == page
            assert row["huge_pages"] == 4 * 2**30 // page
    # threads: one mm, so a later thread takes no fault.
    assert [n for n, r in rows.items() if r["faults_next"] == 0] == ["threads"]
    assert [s.name for s in catalog.STRATEGIES if s.one_mm] == ["threads"]


def test_probe_backings_are_known_to_the_probe():
    from ptcalc.probe import run as probe

    for record in catalog.STRATEGIES:
        for backing in record.probe_backings:
            case = probe.ProbeCase(record.name, 4 * 2**20, backing=backing)
            assert case.backing == backing
        if record.probe_backings:
            assert probe.ProbeCase(record.name, 4 * 2**20).backing == record.probe_backings[0]
        else:
            assert record.name in probe.NOT_IN_LINUX
            assert not record.upstream.in_mainline


def test_unknown_strategy_names_the_known_ones():
    with pytest.raises(catalog.InputError, match="known: private-4k"):
        catalog.strategy("nope")


def test_strategies_json_has_status_and_sources():
    code, out, err = run_cli("strategies", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert [row["name"] for row in rows] == list(catalog.STRATEGY_NAMES)
    by_name = {row["name"]: row for row in rows}
    assert by_name["hugetlb-2m-pmdshare"]["upstream"] == {
        "kind": "mainline", "since": "2.6.20", "note": "MAP_SHARED hugetlb mappings"}
    assert by_name["ptshare"]["upstream"]["kind"] == "rfc"
    assert by_name["ptshare"]["upstream"]["posted"] == "2022-12"
    assert by_name["ptshare-2026"]["upstream"]["kind"] == "prototype"
    assert by_name["thp-shmem-64k"]["upstream"]["since"] == "6.11"
    assert by_name["thp-shmem-1g"]["upstream"] == {
        "kind": "rfc", "posted": "2026-02",
        "posting": "https://lore.kernel.org/all/20260202005451.774496-1-usamaarif642@gmail.com/",
        "note": "shared memory first, suggested at LSF/MM/BPF 2026"}
    for row in rows:
        assert row["source"] and row["sources"]
        assert all(item["address"].startswith("https://") for item in row["sources"])


def test_strategies_loads_no_sympy_pandas_or_numpy():
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "ptcalc", "strategies"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "mshare" in result.stdout
    loaded = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
              if line.startswith("import time:")}
    assert "ptcalc" in loaded                      # the importtime output was read
    assert not loaded & {"sympy", "pandas", "numpy"}


def test_every_strategy_says_how_it_extends_to_layouts():
    # `ptcalc strategies` prints a layouts: line per strategy; the strategies the host
    # evaluation takes from the one-region formulas (COMPARE_ONLY) say that they do
    from ptcalc.catalog import ONE_REGION_LAYOUT_RULE, STRATEGIES
    from ptcalc.compute.host import COMPARE_ONLY

    for strategy in STRATEGIES:
        assert strategy.layout_rule, strategy.name
        assert (strategy.layout_rule == ONE_REGION_LAYOUT_RULE) == (
            strategy.name in COMPARE_ONLY), strategy.name

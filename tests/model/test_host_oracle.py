"""Host evaluation == the page-by-page layout oracle (ptcalc.oracle_host) on random layouts:
several regions (shared and private, offsets, addresses, file offsets), several groups,
maps at other addresses, fork, baselines; 4- and 5-level paging."""

from __future__ import annotations

import random

import pytest

from ptcalc.compute.host import evaluate_layout
from ptcalc.errors import InputError
from ptcalc.inputs.layout import parse_layout
from ptcalc.oracle import simulate_layout

KiB, MiB, GiB = 2**10, 2**20, 2**30
PAGE = 4 * KiB
GROUP_KEYS = ("pt_bytes_per_process", "faults_first", "faults_total", "pt_bytes_at_fork",
              "cow_faults_per_process")
HUGE_ONLY = ("hugetlb-2m", "hugetlb-2m-pmdshare", "hugetlb-1g")


def random_layout(rng: random.Random, big: bool) -> dict:
    regions = []
    for index in range(rng.randint(1, 3)):
        kind = rng.choice(["shared", "shared", "private"])
        if big:
            size = rng.choice([GiB, GiB + 2 * MiB, 2 * GiB + 4 * MiB])
        else:
            size = rng.choice([rng.randrange(1, 200) * PAGE, 600 * PAGE,
                               rng.randrange(1, 4) * 2 * MiB + rng.randrange(0, 3) * 7 * PAGE])
        region = {"name": f"r{index}", "size": size, "kind": kind}
        if rng.random() < 0.5:
            region["offset"] = rng.choice([0, 2 * MiB, GiB - 2 * MiB] if big else
                                          [0, 2 * MiB, 64 * KiB, 5 * PAGE, 2 * MiB - 8 * KiB])
        if kind == "shared" and rng.random() < 0.3:
            region["file_offset"] = rng.choice([0, 2 * MiB, 4 * MiB, 8 * KiB])
        regions.append(region)
    groups = []
    for index in range(rng.randint(1, 3)):
        parent = groups[0] if groups and groups[0]["procs"] == 1 and rng.random() < 0.4 \
            else None
        maps = []
        for region in regions:
            if parent and region["kind"] == "private":
                if any(m["region"] == region["name"] for m in parent["maps"]):
                    maps.append({"region": region["name"],
                                 "touched": rng.choice([1, 0.5, 0.25]),
                                 "access": rng.choice(["read", "write"])})
                continue
            if rng.random() < 0.75:
                m = {"region": region["name"], "touched": rng.choice([1, 0.5, 0.25, 0.9]),
                     "access": rng.choice(["read", "write"])}
                if region["kind"] == "shared" and not parent and rng.random() < 0.3:
                    m["address"] = 600 * GiB + rng.choice([0, GiB, 3 * GiB + 2 * MiB,
                                                           7 * GiB + 64 * KiB])
                maps.append(m)
        group = {"name": f"g{index}", "procs": rng.choice([1, 1, 2, 3]), "maps": maps,
                 "baseline_pt": rng.choice([0, 8192])}
        if parent:
            group["forked_from"] = parent["name"]
        groups.append(group)
    return {"regions": regions, "groups": groups}


def check(layout, strategies):
    # One-region strategies (shmem mTHP, ptshare-2026) give the compare rows in layouts; the
    # one-region oracle (ptcalc.oracle) checks those, this layout oracle does not model them.
    from ptcalc.compute.host import COMPARE_ONLY

    strategies = [s for s in strategies if s not in COMPARE_ONLY]
    result = evaluate_layout(layout)
    compared = 0
    for host in result["host"]:
        strategy = host["strategy"]
        if not host["applicable"] or strategy not in strategies:
            continue
        simulated = simulate_layout(layout, strategy)
        for key, value in simulated.items():
            if key != "groups":
                assert host[key] == value, (strategy, key)
        groups = [r for r in result["groups"] if r["strategy"] == strategy]
        for model, sim in zip(groups, simulated["groups"], strict=True):
            keys = GROUP_KEYS + (("faults_next",) if model["procs"] > 1 else ())
            for key in keys:
                assert model[key] == sim[key], (strategy, model["group"], key)
        compared += 1
    return compared


@pytest.mark.parametrize("seed", range(30))
def test_small_layouts_match_the_oracle(seed):
    rng = random.Random(seed)
    try:
        layout = parse_layout(random_layout(rng, big=False),
                              fault_around=rng.choice([4096, 65536]),
                              paging_levels=rng.choice([4, 5]))
    except InputError:
        pytest.skip("the drawn layout is not valid (e.g. no group maps a region)")
    from ptcalc.model.strategies import STRATEGY_NAMES

    assert check(layout, STRATEGY_NAMES) >= 1


@pytest.mark.parametrize("seed", range(4))
def test_gib_layouts_of_huge_pages_match_the_oracle(seed):
    """Full 1 GiB slots (PMD sharing, classes at other addresses): hugetlb strategies only,
    whose 2 MiB and 1 GiB leaves keep the oracle fast."""
    rng = random.Random(1000 + seed)
    try:
        layout = parse_layout(random_layout(rng, big=True))
    except InputError:
        pytest.skip("the drawn layout is not valid")
    check(layout, HUGE_ONLY)


@pytest.mark.parametrize("touched, earlier", [(0.25, 1), (0.1, 1), (0.5, 1), (0.25, 3)])
def test_independent_sets_expectation_is_the_oracles_mean(touched, earlier):
    """pages = "independent": the expected faults of a reader of its own random pages after
    `earlier` writers of their own (compute.host.independent_read_faults) against the mean
    of the page-by-page oracle over drawn sets.  k earlier writers leave the union of their
    sets in the page cache, so they are one writer of that union.  The mean of N draws lies
    within 4 sigma / sqrt(N) of the expectation (sigma: the formula's own standard
    deviation of one draw)."""
    from ptcalc.compute.host import independent_read_faults
    from ptcalc.oracle_host import two_process_faults

    size, window, draws = 4 * MiB, 64 * KiB, 300
    expected, sigma = independent_read_faults(size, touched, earlier, window)
    rng = random.Random(7)
    pages = range(0, size, PAGE)
    total = 0
    for _ in range(draws):
        cached = sorted({p for _ in range(earlier) for p in pages if rng.random() < touched})
        mine = [p for p in pages if rng.random() < touched]
        total += two_process_faults(size, cached, mine, window)[1]
    assert abs(total / draws - expected) <= 4 * sigma / draws ** 0.5, (total / draws, expected)

"""TLB metrics through compare and the CLI (the reference figures, from models/cpus)."""

import json
import subprocess
import sys

import ptcalc

KiB, MiB, GiB = 2**10, 2**20, 2**30


def rows(cpu, **kwargs):
    frame = ptcalc.compare(size="300GiB", procs=1500, cpu=cpu, **kwargs)
    return {row.strategy: row for row in frame.itertuples()}


def test_skylake_reach():
    by = rows("skylake-sp")
    # L1 DTLB 64 x 4 KiB = 256 KiB, STLB 1536 x 4 KiB = 6 MiB (models/cpus/skylake-sp.toml).
    assert by["private-4k"].tlb_reach_l1_bytes == 256 * KiB
    assert by["private-4k"].tlb_reach_l2_bytes == 6 * MiB
    # 1 GiB pages: L1 4 x 1 GiB, STLB 16 x 1 GiB.
    assert by["hugetlb-1g"].tlb_reach_l1_bytes == 4 * GiB
    assert by["hugetlb-1g"].tlb_reach_l2_bytes == 16 * GiB
    # Walk: 4 references for a 4 KiB leaf, 3 for 2 MiB, 2 for 1 GiB (four levels).
    assert [by[s].walk_refs for s in ("private-4k", "hugetlb-2m", "hugetlb-1g")] == [4, 3, 2]
    # coverage = reach / touched, at most 1: 16 GiB of 300 GiB.
    assert abs(by["hugetlb-1g"].tlb_coverage - 16 / 300) < 1e-12
    # The walk footprint is the physical page-table bytes.
    assert by["private-4k"].pt_walk_footprint_bytes == by["private-4k"].pt_bytes_total


def test_zen3_l2_reach_and_virtualized_walk():
    by = rows("zen3")
    assert by["private-4k"].tlb_reach_l2_bytes == 8 * MiB        # 2048 x 4 KiB
    virt = rows("zen3", virtualized=True, host_page="4k")
    assert virt["private-4k"].walk_refs == 24                     # (4+1)(4+1) - 1


def test_cli_json_has_tlb_keys_and_bad_cpu_is_one_line():
    run = subprocess.run([sys.executable, "-m", "ptcalc", "compare", "--size", "1GiB",
                          "--procs", "2", "--cpu", "skylake-sp", "--format", "json"],
                         capture_output=True, text=True, check=False)
    keys = {"tlb_reach_l1_bytes", "tlb_reach_l2_bytes", "tlb_coverage", "walk_refs",
            "pt_walk_footprint_bytes", "pt_walk_footprint_llc_ratio"}
    for row in json.loads(run.stdout):
        assert keys <= set(row)
    bad = subprocess.run([sys.executable, "-m", "ptcalc", "compare", "--cpu", "pentium"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "skylake-sp" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1

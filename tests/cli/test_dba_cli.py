"""The figures DBAs type, end to end: sizes as databases write them, capacity answers,
reservations in the tools' arithmetic, the settings around the pool, and results that keep
their context (JSON/CSV carry the verdicts the table prints)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import run_cli as run

GiB, MiB = 2**30, 2**20


def rows_of(*argv):
    code, out, err = run(*argv, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_64GB_is_what_postgresql_means():
    # shared_buffers = 64GB is 64 GiB ("the multiplier for memory units is 1024, not 1000",
    # https://www.postgresql.org/docs/current/config-setting.html): 64 GiB / 2 MiB = 32768
    (row,) = rows_of("compare", "--size", "64GB", "--procs", "800", "-s", "hugetlb-2m")
    assert row["huge_pages"] == 32_768
    assert row["size_bytes"] == 64 * GiB and row["procs"] == 800
    code, out, _ = run("compare", "--size", "64GB", "--procs", "800", "-s", "hugetlb-2m")
    assert code == 0 and "64GB read as 64 GiB" in out.splitlines()[0]


@pytest.mark.parametrize("size", ["1.6GB", "1.6GiB", "1.6G"])
def test_oracle_guide_820(size):
    # 1.6 GiB = 1717986918.4 B -> 1717986919 B -> 4 KiB pages -> 1717989376 B; / 2 MiB =
    # 819.2 -> 820 (Oracle: "1.6 GB / 2 MB = 819.2" -> 820)
    (row,) = rows_of("compare", "--size", size, "--procs", "1", "-s", "hugetlb-2m")
    assert row["huge_pages"] == 820


def test_decimal_units_stay_available():
    # 64 GB decimal = 64e9 B = 30517.58 x 2 MiB -> 30518 (what ptcalc read before)
    (row,) = rows_of("compare", "--size", "64GB", "--procs", "1", "-s", "hugetlb-2m",
                     "--decimal-units")
    assert row["huge_pages"] == 30_518 and row["requested_size_bytes"] == 64 * 10**9
    (row,) = rows_of("compare", "--size", "10e9", "--procs", "1", "-s", "hugetlb-2m")
    assert row["requested_size_bytes"] == 10**10


@pytest.mark.parametrize("procs", ["1,500", "1_500"])
def test_counts_with_separators(procs):
    (row,) = rows_of("compare", "--size", "1GiB", "--procs", procs, "-s", "private-4k")
    assert row["procs"] == 1500


def test_budget_as_a_percentage_of_ram():
    # 10% of 512 GiB = floor(54975581388.8) = 54975581388 B; a private-4k process adds
    # (153600 PTE + 300 PMD + 1 PUD) * 4 KiB = 629280768 B -> floor(54975581388 / 629280768)
    # = 87 processes
    rows = rows_of("plan", "--size", "300GiB", "--ram", "512GiB", "--budget", "10%",
                   "-s", "private-4k")
    (row,) = rows
    assert row["budget_bytes"] == 512 * GiB // 10
    assert row["bytes_per_process"] == (153_600 + 300 + 1) * 4096
    assert row["max_procs"] == 87


def test_plan_pool_rules():
    # one 10 GiB segment under the Oracle script's rule: 1 + 5120 + 1 = 5122
    (row,) = rows_of("plan", "--size", "10GiB", "--ram", "64GiB", "-s", "hugetlb-2m")
    assert row["pool_oracle_script"] == 5122 and row["pool_plain_ceil"] == 5120
    # two segments 10 GiB + 2 GiB: 1 + 5121 + 1025 = 6147
    (row,) = rows_of("plan", "--size", "12GiB", "--ram", "64GiB", "-s", "hugetlb-2m",
                     "--segments", "10GiB,2GiB")
    assert row["pool_oracle_script"] == 6147
    # autobase: (64 + 1) GiB / 2 MiB = 33280
    (row,) = rows_of("plan", "--size", "64GB", "--ram", "256GB", "-s", "hugetlb-2m")
    assert row["pool_autobase"] == 33_280
    code, out, _ = run("plan", "--size", "64GB", "--ram", "256GB", "-s", "hugetlb-2m")
    assert code == 0
    for text in ("Oracle hugepages_settings.sh", "PostgreSQL shared_memory_size_in_huge_pages",
                 "autobase role", "ptcalc recommendation", "under-reserves",
                 "sysctl -w vm.nr_hugepages=32768", "hugetlb_shm_group", "memlock >= 67108864 kB"):
        assert text in out, text


def test_tanel_poder_case_reads_like_the_alert_log():
    # 512 x 2 MiB reserved, 1202 MB SGA: 1024 MB (85%) in large pages; 601 - 512 = 89 pages
    # short = 178 MB (https://tanelpoder.com/2013/10/25/sga-bigger-than-than-the-amount-of-
    # hugepages-configured-linux-11-2-0-3/)
    for command in (["compare", "--procs", "150"], ["plan", "--ram", "4GiB"]):
        code, out, err = run(*command, "--size", "1202MB", "--reserved", "512",
                             "-s", "hugetlb-2m")
        assert code == 0, err
        assert "Total Shared Global Region in Large Pages = 1024 MB (85%)" in out
        assert "increase by at least 89 pages (178 MB)" in out
        assert "huge_pages=on and Oracle USE_LARGE_PAGES=ONLY do not start" in out


def test_compare_mixed_and_whole_at_the_users_process_count():
    # 64 GiB, 800 processes, 2m=16384 (32 GiB of 64): mixed = 32 GiB in 2 MiB pages + 32 GiB
    # in 4 KiB pages, as two mappings; whole = private-4k exactly
    rows = rows_of("compare", "--size", "64GiB", "--procs", "800", "--reserved", "2m=16384",
                   "-s", "hugetlb-2m", "-s", "private-4k")
    by = {(r["strategy"], r.get("fallback")): r for r in rows}
    mixed, whole = by[("hugetlb-2m", "mixed")], by[("hugetlb-2m", "whole")]
    private = by[("private-4k", None)]
    assert whole["pt_bytes_total"] == private["pt_bytes_total"]
    # whole: every page a 4 KiB page (the table's leaf column says so); mixed keeps 2 MiB
    assert whole["leaf_page_bytes"] == 4096 and mixed["leaf_page_bytes"] == 2 * 1024 * 1024
    half_huge = rows_of("compare", "--size", "32GiB", "--procs", "800", "-s", "hugetlb-2m")[0]
    half_small = rows_of("compare", "--size", "32GiB", "--offset", "32GiB", "--procs", "800",
                         "-s", "private-4k")[0]
    assert mixed["pt_bytes_total"] == half_huge["pt_bytes_total"] + half_small["pt_bytes_total"]
    assert mixed["huge_pages_short"] == 16384 and mixed["starts"] is False
    code, out, _ = run("compare", "--size", "64GiB", "--procs", "800", "--reserved",
                       "2m=16384", "-s", "hugetlb-2m")
    assert code == 0
    assert "mixed: Oracle >= 11.2.0.3" in out and "whole: PostgreSQL huge_pages=try" in out


def test_csv_with_a_reservation_has_one_header():
    # private-4k comes first and has no reservation columns; the hugetlb rows do
    code, out, err = run("compare", "--size", "64GiB", "--procs", "80", "--reserved",
                         "2m=16384", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    mixed = [r for r in rows if r["fallback"] == "mixed"]
    assert {r["strategy"] for r in mixed} == {"hugetlb-2m", "hugetlb-2m-pmdshare"}
    assert all(r["huge_pages_short"] == "16384" for r in mixed)   # 32768 - 16384
    assert next(r for r in rows if r["strategy"] == "private-4k")["fallback"] == ""


def test_reserved_beyond_ram_is_an_error():
    code, _, err = run("compare", "--size", "64GiB", "--procs", "8", "--ram", "128GiB",
                       "--reserved", "1g=300")
    assert code == 2 and "more than the 128 GiB of RAM" in err
    assert len(err.strip().splitlines()) == 1


def test_json_and_csv_carry_the_ram_verdicts_the_table_shows():
    argv = ("compare", "--size", "300GiB", "--procs", "1500", "--ram", "512GiB",
            "-s", "private-4k", "-s", "hugetlb-2m")
    code, table, _ = run(*argv)
    assert code == 0
    # the table: private-4k does not fit (300 GiB + 880.6 GiB), OOM from 362 processes
    # (plan: 212 GiB / 601.18 MiB per process = 361 fit)
    assert "exceed 512 GiB RAM (OOM) for: private-4k (1.153 TiB)" in table
    assert "private-4k from 362 processes" in table
    rows = {r["strategy"]: r for r in rows_of(*argv)}
    assert rows["private-4k"]["fits_ram"] is False and rows["private-4k"]["oom_procs"] == 362
    assert rows["hugetlb-2m"]["fits_ram"] is True
    assert rows["private-4k"]["ram_bytes"] == 512 * GiB
    code, out, _ = run(*argv, "--format", "csv")
    by = {r["strategy"]: r for r in csv.DictReader(io.StringIO(out))}
    assert by["private-4k"]["fits_ram"] == "False" and by["private-4k"]["oom_procs"] == "362"
    assert by["hugetlb-2m"]["fits_ram"] == "True"


def test_numa_two_nodes():
    # 64 GiB in 2 MiB pages = 32768 pages, 16384 per node (boot-time pages "are divided
    # equally between the NUMA nodes"; per-node syntax hugepages=0:N,1:M, kernel commit
    # b5389086ad7b; sysfs /sys/devices/system/node/nodeN/hugepages/hugepages-2048kB/)
    code, out, err = run("plan", "--size", "64GiB", "--ram", "256GiB", "-s", "hugetlb-2m",
                         "--numa-nodes", "2")
    assert code == 0, err
    assert "hugepagesz=2M hugepages=0:16384,1:16384" in out
    assert ("echo 16384 > /sys/devices/system/node/node1/hugepages/hugepages-2048kB/"
            "nr_hugepages") in out
    # 1 GiB pages: 64 over 2 nodes = 32 each
    code, out, _ = run("plan", "--size", "64GiB", "--ram", "256GiB", "-s", "hugetlb-1g",
                       "--numa-nodes", "2")
    assert "hugepagesz=1G hugepages=0:32,1:32" in out


def test_kubernetes_limits():
    # 64 GiB, 800 processes, hugetlb-2m: limits hugepages-2Mi = 32768 x 2 MiB = 64Gi
    # (https://kubernetes.io/docs/tasks/manage-hugepages/scheduling-hugepages/); page tables
    # are charged to the pod's memory cgroup: 800 x (64 PMD tables, one per 1 GiB, + 1 PUD)
    # x 4 KiB = 212,992,000 B = 203.125 MiB -> memory >= 204Mi (rounded up to whole MiB).
    # private-4k: the 64 GiB of shmem is charged to the memory cgroup too.
    code, out, err = run("compare", "--size", "64GiB", "--procs", "800", "-s", "hugetlb-2m",
                         "-s", "private-4k", "--kubernetes")
    assert code == 0, err
    assert "hugetlb-2m: limits hugepages-2Mi: 64Gi (= requests); memory >= 204Mi" in out
    (huge,) = rows_of("compare", "--size", "64GiB", "--procs", "800", "-s", "hugetlb-2m")
    assert huge["pt_bytes_total"] == 800 * (64 + 1) * 4096 == 212_992_000
    (small,) = rows_of("compare", "--size", "64GiB", "--procs", "800", "-s", "private-4k")
    expected = -(-(64 * GiB + small["pt_bytes_total"]) // MiB)
    assert f"private-4k: memory >= {expected}Mi" in out


LAYOUT = """
name = "sga-and-asm"
[[regions]]
name = "sga"
size = "10GiB"
kind = "shared"
[[regions]]
name = "asm"
size = "2GiB"
kind = "shared"
[[groups]]
name = "db"
procs = 10
maps = [{ region = "sga" }, { region = "asm" }]
"""


def test_layout_regions_are_the_oracle_scripts_segments(tmp_path):
    # two shared regions 10 GiB + 2 GiB: the script counts each segment, 1 + (5120 + 1) +
    # (1024 + 1) = 6147; plain ceil 5120 + 1024 = 6144; the region defaults to their sum
    path = tmp_path / "layout.toml"
    path.write_text(LAYOUT, encoding="utf-8")
    (row,) = rows_of("plan", "--layout", str(path), "--ram", "64GiB", "-s", "hugetlb-2m")
    assert row["pool_oracle_script"] == 6147 and row["pool_plain_ceil"] == 6144
    assert row["huge_pages"] == 6144
    code, _, err = run("plan", "--layout", str(path), "--segments", "1GiB", "--ram", "64GiB")
    assert code == 2 and "not both" in err


def test_plan_json_carries_inputs_and_the_shortfall():
    # 1202 MiB in 2 MiB pages: 601 needed, 512 reserved -> 89 short (both fallback rows)
    rows = rows_of("plan", "--size", "1202MB", "--ram", "4GB", "--reserved", "512",
                   "-s", "hugetlb-2m")
    assert {r["fallback"] for r in rows} == {"mixed", "whole"}
    for row in rows:
        assert row["huge_pages_short"] == 89 and row["huge_pages_reserved"] == 512
        assert row["size_bytes"] == 1202 * MiB and row["ram_bytes"] == 4 * GiB

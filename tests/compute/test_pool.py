"""The huge page pool in each tool's own arithmetic, reservations per page size, the alert-log
numbers, the NUMA split and the Kubernetes quantities -- every expected value derived by hand
in the comment beside it."""

from __future__ import annotations

import pytest

from ptcalc.compute.pool import (
    autobase_pages,
    ceil_pages,
    kubernetes_quantity,
    oracle_script_pages,
    pool_rules,
    postgresql_pages,
    short_of,
    split_over_nodes,
)
from ptcalc.compute.reservations import parse_reservation
from ptcalc.errors import InputError
from ptcalc.units import parse_size

KiB, MiB, GiB = 2**10, 2**20, 2**30
P2M, P1G = 2 * MiB, GiB


def test_plain_ceil_is_the_oracle_install_guide():
    # Oracle Administrator's Reference for Linux: "1.6 GB / 2 MB = 819.2" -> 820.
    # 1.6 GiB = 1717986918.4 B, read as 1717986919 B; / 2097152 = 819.2000005 -> 820.
    assert ceil_pages(parse_size("1.6GB"), P2M) == 820
    assert ceil_pages(parse_size("1.6GiB"), P2M) == 820


def test_oracle_script_rule_per_segment():
    # hugepages_settings.sh: NUM_PG = 1, + (SEG_BYTES / page) + 1 per segment of >= 1 page.
    # one 10 GiB segment: 10 GiB / 2 MiB = 5120 -> 1 + 5120 + 1 = 5122
    assert oracle_script_pages([10 * GiB], P2M) == 5122
    # 10 GiB and 2 GiB: 1 + (5120 + 1) + (1024 + 1) = 6147
    assert oracle_script_pages([10 * GiB, 2 * GiB], P2M) == 6147
    # a 1 MiB segment is below one page: MIN_PG = 0, not counted -> 1 + 5121 = 5122
    assert oracle_script_pages([10 * GiB, MiB], P2M) == 5122


def test_postgresql_rule_is_floor_plus_one():
    # ipci.c: hp_required = size_b / hp_size + 1.  64 GiB exactly: 32768 + 1 = 32769;
    # 64 GiB + 1 MiB (the server's segment is larger than shared_buffers): 32768 + 1 = 32769
    assert postgresql_pages(64 * GiB, P2M) == 32769
    assert postgresql_pages(64 * GiB + MiB, P2M) == 32769
    assert postgresql_pages(64 * GiB + 3 * MiB, P2M) == 32770


@pytest.mark.parametrize("shared_memory_size_mb, pages", [
    # PostgreSQL 15.18 (Debian 15.18-0+deb12u1), 2 MiB pages, huge_pages=try:
    # postgres -C shared_memory_size / shared_memory_size_in_huge_pages for shared_buffers
    # 128MB, 1GB, 10GB, 64GB (tests/kernel/test_pool_postgres.py asks a live server)
    (143, 72), (1074, 537), (10488, 5244), (67004, 33502)])
def test_postgresql_rule_on_the_servers_own_figures(shared_memory_size_mb, pages):
    # e.g. 1074 MB rounded up: the segment is in (1073 MB, 1074 MB]: floor(< 537) = 536, + 1
    rules = {r.key: r for r in pool_rules(GiB, P2M, shared_memory_size=shared_memory_size_mb
                                          * MiB)}
    assert rules["postgresql"].pages == pages
    # a byte count that is not whole MB is exact: 1074 MB + 5 B -> 537 + 1 = 538
    exact = {r.key: r for r in pool_rules(GiB, P2M, shared_memory_size=1074 * MiB + 5)}
    assert exact["postgresql"].pages == 538


def test_autobase_rule():
    # (shared_buffers_gb + 1) * 1024 * 1024 // 2048 kB: 64 GiB -> 65 * 512 = 33280
    assert autobase_pages(64 * GiB, P2M) == 33_280
    # 8 GiB is the threshold: 9 * 512 = 4608; 7.5 GiB -> GB value 7 < 8: the role sets none
    assert autobase_pages(8 * GiB, P2M) == 4608
    assert autobase_pages(parse_size("7.5GiB"), P2M) is None
    # 1 GiB pages: 65 GiB / 1 GiB = 65
    assert autobase_pages(64 * GiB, P1G) == 65


def test_pool_rules_side_by_side():
    rules = {rule.key: rule for rule in pool_rules(64 * GiB, P2M,
                                                   shared_memory_size=64 * GiB + 600 * MiB)}
    assert rules["plain_ceil"].pages == 32768                   # 64 GiB / 2 MiB
    assert rules["oracle_script"].pages == 32770                # 1 + 32768 + 1
    # the server's segment as postgres -C shared_memory_size prints it, 64 GiB + 600 MiB
    # (65,136 MB, rounded up): the exact segment is in (65,135 MB, 65,136 MB], so floor(size_b
    # / 2 MiB) = 32768 + 299 and + 1 = 33068 -- what the server says for such a segment
    # (test_postgresql_rule_on_the_servers_own_figures); on an exact 64 GiB + 600 MiB it
    # would be 33069, which a whole-MB figure cannot tell apart
    assert rules["postgresql"].pages == 33068
    assert rules["autobase"].pages == 33280
    # ptcalc: ceil of the server's segment = 33068 (the +1 of ipci.c is margin)
    assert rules["ptcalc"].pages == 33068
    without = {rule.key: rule for rule in pool_rules(64 * GiB, P2M)}
    assert "under-reserves" in without["postgresql"].note


def test_tanel_poder_case():
    # 512 x 2 MiB reserved for a 1202 MB SGA (11.2.0.3 alert log): 601 pages needed,
    # 1024 MB in large pages = 85.19% -> 85%, short by 601 - 512 = 89 pages = 178 MB.
    numbers = short_of(1202 * MiB, P2M, 512)
    assert numbers == {"pages_needed": 601, "pages_used": 512,
                       "bytes_in_large_pages": 1024 * MiB, "percent_in_large_pages": 85,
                       "pages_short": 89, "bytes_short": 178 * MiB}


def test_numa_split():
    # 32768 over 2 nodes: 16384 each; 5122 over 3 nodes: 5122 = 3 * 1707 + 1 -> 1708, 1707, 1707
    assert split_over_nodes(32768, 2) == [16384, 16384]
    assert split_over_nodes(5122, 3) == [1708, 1707, 1707]
    assert sum(split_over_nodes(601, 4)) == 601


def test_kubernetes_quantities():
    # 32768 x 2 MiB = 64 GiB -> "64Gi"; 820 x 2 MiB = 1640 MiB -> "1640Mi"; the page sizes
    # are the resource names' suffixes hugepages-2Mi and hugepages-1Gi
    assert kubernetes_quantity(32768 * P2M) == "64Gi"
    assert kubernetes_quantity(820 * P2M) == "1640Mi"
    assert kubernetes_quantity(P2M) == "2Mi" and kubernetes_quantity(P1G) == "1Gi"


@pytest.mark.parametrize("text, expected", [
    ("2m=26214", {P2M: 26214}),
    ("1g=300", {P1G: 300}),
    ("2m=26214,1g=4", {P2M: 26214, P1G: 4}),
    ("2M=26,214", {P2M: 26214}),            # a count with thousands separators
    ("2048kB=1_000", {P2M: 1000}),
    ("26214", {P2M: 26214}),                # bare: vm.nr_hugepages, default 2 MiB pages
    # 100 GiB as a pool of each size: 51200 x 2 MiB, 100 x 1 GiB
    ("100GiB", {P2M: 51200, P1G: 100}),
    # 80% of 300 GiB = 240 GiB: 122880 x 2 MiB, 240 x 1 GiB
    ("80%", {P2M: 122880, P1G: 240}),
])
def test_parse_reservation(text, expected):
    assert parse_reservation(text, size_bytes=300 * GiB).pages == expected


@pytest.mark.parametrize("text, fragment", [
    ("4m=10", "not 2m or 1g"), ("2m=x", "not a whole number"), ("lots", "not understood"),
    ("120%", "0% to 100%"), ("2m=1,2m=2", "twice"),
    # 300 x 1 GiB = 300 GiB > 256 GiB of RAM
    ("1g=300", "more than the 256 GiB of RAM"),
    # 2m=131073: 256 GiB + 2 MiB > 256 GiB
    ("2m=131073", "more than"),
])
def test_parse_reservation_errors(text, fragment):
    with pytest.raises(InputError) as error:
        parse_reservation(text, size_bytes=100 * GiB, ram_bytes=256 * GiB)
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_reservation_of_all_ram_is_allowed():
    # 131072 x 2 MiB = 256 GiB exactly: not beyond RAM
    assert parse_reservation("2m=131072", size_bytes=GiB, ram_bytes=256 * GiB).pages == {
        P2M: 131072}

"""Host evaluation of layouts: the single-region rows unchanged, fork, placement, groups in
order.  Expected values are derived by hand in the comments."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ptcalc.compute.host import evaluate_layout
from ptcalc.compute.scalar import scenario_rows
from ptcalc.data import models_path
from ptcalc.inputs.layout import layout_from_scenario, load_layout_file, parse_layout
from ptcalc.inputs.scenario import make_scenario

KiB, MiB, GiB = 2**10, 2**20, 2**30
TABLE = 4096


@settings(max_examples=150, deadline=None)
@given(size_pages=st.one_of(st.integers(1, 3000), st.integers(1, 2**23)),
       offset_pages=st.one_of(st.integers(0, 2**27 - 1), st.sampled_from(
           [0, 16, 512, 262144, 262144 * 3 - 5, 2**27 - 512])),
       procs=st.integers(1, 2000), touched=st.sampled_from([1, 0.5, 0.3, 0.001, 0.999]),
       access=st.sampled_from(["read", "write"]), levels=st.sampled_from([4, 5]),
       fault_around=st.sampled_from([4096, 65536, 2 * MiB]))
def test_one_region_one_group_layout_gives_the_compare_rows(size_pages, offset_pages, procs,
                                                           touched, access, levels,
                                                           fault_around):
    scenario = make_scenario(size_pages * 4096, procs, offset_pages * 4096, touched, access,
                             "dense", levels, fault_around)
    host = evaluate_layout(layout_from_scenario(scenario))["host"]
    for want, got in zip(scenario_rows(scenario), host, strict=True):
        for key, value in want.items():        # every metric, same value and same type
            assert got[key] == value and type(got[key]) is type(value), (key, want["strategy"])


def test_random_pattern_one_map_is_the_compiled_expected_values():
    scenario = make_scenario("1GiB", 4, 0, 0.3, "read", "random")
    host = evaluate_layout(layout_from_scenario(scenario))["host"]
    assert [{k: r[k] for k in w} for r, w in zip(host, scenario_rows(scenario))] == \
        scenario_rows(scenario)


def rows(layout, strategy="private-4k"):
    result = evaluate_layout(layout, (strategy,))
    return result["host"][0], {r["group"]: r for r in result["groups"]}


def test_redis_fork_copies_the_childs_tables_and_reads_without_faults():
    layout = load_layout_file(models_path("layouts", "redis-fork-24g.toml"))
    host, groups = rows(layout)
    child = groups["bgsave-child"]
    # 24 GiB of 4 KiB pages: 24 GiB / 2 MiB = 12288 PTE tables, 24 PMD tables, 1 PUD table,
    # copied inside fork(): 12313 * 4096 = 50,434,048 B = 48.1 MiB, the child's VmPTE.
    assert child["pt_bytes_at_fork"] == child["pt_bytes_per_process"] == 12313 * TABLE
    assert child["faults_first"] == 0 and child["written_bytes_per_process"] == 0
    assert host["pt_bytes_total"] == 2 * 12313 * TABLE
    # Parent 24 GiB of data + 2 x 48.1 MiB of tables fits 32 GiB.
    assert host["data_bytes"] == 24 * GiB and host["fits_ram"] is True


def test_redis_child_writing_everything_takes_one_cow_fault_per_page():
    layout = load_layout_file(models_path("layouts", "redis-fork-24g.toml"))
    child_group = layout.groups[1]
    write = child_group.maps[0].__class__(**{**child_group.maps[0].__dict__, "access": "write"})
    layout = layout.__class__(**{**layout.__dict__, "groups": (
        layout.groups[0], child_group.__class__(**{**child_group.__dict__, "maps": (write,)}))})
    host, groups = rows(layout)
    child = groups["bgsave-child"]
    # 24 GiB / 4 KiB = 6,291,456 pages, each copied once: 24 GiB more RAM, 48 GiB > 32 GiB.
    assert child["faults_first"] == child["cow_faults_per_process"] == 6_291_456
    assert child["written_bytes_per_process"] == 24 * GiB
    assert host["data_bytes"] == 48 * GiB and host["fits_ram"] is False


def test_fork_of_memory_the_parent_only_read_copies_nothing():
    data = {"regions": [{"name": "heap", "size": "8MiB", "kind": "private"}],
            "groups": [{"name": "p", "maps": [{"region": "heap", "access": "read"}]},
                       {"name": "c", "forked_from": "p",
                        "maps": [{"region": "heap", "access": "read"}]}]}
    _, groups = rows(parse_layout(data))
    # No write, no anon_vma (the zero page is mapped without one): nothing to copy, and the
    # child's reads fault once per page: 8 MiB / 4 KiB = 2048.
    assert groups["c"]["pt_bytes_at_fork"] == 0 and groups["c"]["faults_first"] == 2048


def shared_two(address_b, size="2GiB", strategy="hugetlb-2m-pmdshare", file_offset=0):
    data = {"regions": [{"name": "a", "size": size, "file_offset": file_offset}],
            "groups": [{"name": "first", "maps": [{"region": "a"}]},
                       {"name": "second", "maps": [{"region": "a", "address": address_b}]}]}
    return rows(parse_layout(data), strategy)


def test_pmd_sharing_at_another_gib_but_not_at_plus_2mib():
    # 2 GiB at 0: two full 1 GiB slots, 1024 huge pages.  At +1 GiB (address - file offset
    # congruent mod 1 GiB) the second process links both shared PMD tables: 2 faults, and
    # the host has 2 PMD tables.  At +2 MiB its slots are of another class (pmd_index differs):
    # its VMA [2M, 2G+2M) holds one full slot [1G, 2G) whose table it makes itself (512
    # faults) and the partial slots 0 and 2 with private tables (511 + 1 faults): 1024
    # faults; PMD tables: 2 (the first's) + 1 + 2 = 5.
    host, groups = shared_two(GiB)
    assert groups["second"]["faults_first"] == 2 and host["pmd_table_bytes"] == 2 * TABLE
    host, groups = shared_two(2 * MiB)
    assert groups["second"]["faults_first"] == 1024 and host["pmd_table_bytes"] == 5 * TABLE


def test_thp_needs_address_congruent_to_file_offset():
    # 8 MiB of shmem at VA 2 MiB + 4 KiB.  From file offset 4 KiB, (VA - file offset) is
    # 2 MiB-aligned: the 3 whole aligned 2 MiB chunks inside [2M+4K, 10M+4K) are PMD-mapped,
    # the 2 MiB - 4 KiB head and the 4 KiB tail use PTEs: 1 PTE table each.
    data = {"regions": [{"name": "a", "size": "8MiB", "address": 2 * MiB + 4096,
                         "file_offset": "4KiB"}],
            "groups": [{"name": "g", "maps": [{"region": "a"}]}]}
    host, groups = rows(parse_layout(data), "thp-shmem")
    assert groups["g"]["mapped_2m_bytes"] == 3 * 2 * MiB
    assert host["pte_table_bytes"] == 2 * TABLE
    data["regions"][0]["file_offset"] = 0      # not congruent: all 2048 pages by PTEs
    host, groups = rows(parse_layout(data), "thp-shmem")
    assert groups["g"]["mapped_2m_bytes"] == 0 and host["pte_table_bytes"] == 5 * TABLE


def test_regions_in_one_span_share_the_processes_tables():
    # Two 1 MiB regions back to back in one 2 MiB slot: one PTE, PMD and PUD table, not two.
    data = {"regions": [{"name": "a", "size": "1MiB", "address": 0},
                        {"name": "b", "size": "1MiB", "address": MiB}],
            "groups": [{"name": "g", "procs": 3, "baseline_pt": "40KiB",
                        "maps": [{"region": "a"}, {"region": "b"}]}]}
    host, groups = rows(parse_layout(data))
    assert groups["g"]["pt_bytes_per_process"] == 3 * TABLE + 40 * KiB
    assert host["pt_bytes_total"] == 3 * (3 * TABLE + 40 * KiB)


def test_a_later_group_finds_the_page_cache_of_the_earlier_one():
    # A writer touches the first half of 4 MiB, then a reader reads all of it: 512 cached
    # pages in 64 KiB windows (32 faults over [0, 2 MiB)), 512 uncached pages one by one.
    data = {"regions": [{"name": "a", "size": "4MiB"}],
            "groups": [{"name": "w", "maps": [{"region": "a", "touched": 0.5}]},
                       {"name": "r", "maps": [{"region": "a", "access": "read"}]}]}
    _, groups = rows(parse_layout(data))
    assert groups["r"]["faults_first"] == 32 + 512

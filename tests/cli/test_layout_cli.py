"""compare/plan --layout: the JSON object, the tables, errors, and the one-region layout
giving compare's rows."""

from __future__ import annotations

import json

from tests.conftest import run_cli

GiB = 2**30


def write(tmp_path, text):
    path = tmp_path / "host.toml"
    path.write_text(text)
    return path


ONE = """
[[regions]]
name = "sga"
size = "3GiB"
offset = "2MiB"

[[groups]]
name = "servers"
procs = 40
maps = [{ region = "sga", touched = 0.5, access = "read" }]
"""


def test_one_region_layout_json_gives_the_compare_rows(tmp_path):
    code, out, _ = run_cli("compare", "--layout", write(tmp_path, ONE), "-f", "json")
    assert code == 0
    body = json.loads(out)
    assert set(body) == {"layout", "host", "groups"}
    assert body["layout"]["regions"][0]["size_bytes"] == 3 * GiB
    code, plain, _ = run_cli("compare", "--size", "3GiB", "--procs", "40", "--offset", "2MiB",
                             "--touched", "0.5", "--access", "read", "-f", "json")
    for want, got in zip(json.loads(plain), body["host"], strict=True):
        for key in ("pt_bytes_per_process", "pt_bytes_total", "pte_table_bytes",
                    "pmd_table_bytes", "pud_table_bytes", "savings_vs_private_4k",
                    "huge_pages", "faults_first", "faults_next", "faults_total",
                    "touched_bytes", "applicable", "reason"):
            assert got[key] == want[key], key
    assert {r["group"] for r in body["groups"]} == {"servers"}


def test_redis_layout_table_says_whether_it_fits(tmp_path):
    code, out, _ = run_cli("compare", "--layout", "redis-fork-24g", "-s", "private-4k")
    assert code == 0 and "bgsave-child" in out and "48.098 MiB" in out
    assert "fit in 32 GiB RAM" in out
    code, out, _ = run_cli("compare", "--layout", "redis-fork-24g-writes", "-s",
                           "private-4k", "-f", "json")
    host = json.loads(out)["host"][0]
    assert host["fits_ram"] is False and host["data_bytes"] == 48 * GiB


def test_plan_layout_grows_one_group(tmp_path):
    code, out, _ = run_cli("plan", "--layout", write(tmp_path, ONE), "--ram", "4GiB",
                           "--group", "servers", "-s", "private-4k", "-f", "json")
    assert code == 0
    row = json.loads(out)["plan"][0]
    # Data: half of 3 GiB touched = 1.5 GiB once.  Each server's tables: 768 PTE tables
    # (1.5 GiB / 2 MiB), 2 PMD tables ([2M, 1.5G+2M) spans 2 GiB slots), 1 PUD = 771 pages
    # = 3,158,016 B.  850 x 3,158,016 = 2,684,313,600 <= 2.5 GiB = 2,684,354,560 < 851 x
    # 3,158,016 = 2,687,471,616: 850 servers fit.
    assert row["max_procs"] == 850


def test_bad_layout_is_one_line_exit_2(tmp_path):
    code, _, err = run_cli("compare", "--layout", write(tmp_path, ONE.replace("procs = 40",
                                                                           "procs = -1")))
    assert code == 2 and "groups[0].procs" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("compare", "--layout", "no-such-layout")
    assert code == 2 and "redis-fork-24g" in err


def test_sweep_layout_varies_one_group_and_writes_csv_and_json(tmp_path):
    path = write(tmp_path, ONE)
    code, out, err = run_cli("sweep", "--layout", path, "--group", "servers", "--procs",
                             "10..40/10", "-s", "private-4k", "-s", "hugetlb-2m")
    assert code == 0, err
    assert "4 values of the processes of group servers" in out and "servers procs" in out
    code, out, err = run_cli("sweep", "--layout", path, "--group", "servers", "--procs",
                             "10,40", "-s", "private-4k", "--format", "json")
    body = json.loads(out)
    assert set(body) == {"layout", "host", "groups"}
    at_40 = [r for r in body["host"] if r["group_procs"] == 40]
    code, out, _ = run_cli("compare", "--layout", path, "-s", "private-4k", "--format", "json")
    assert at_40 == [{"vary_group": "servers", "group_procs": 40, **r}
                     for r in json.loads(out)["host"]]
    target = tmp_path / "sweep.csv"
    code, out, err = run_cli("sweep", "--layout", path, "--region", "sga", "--size",
                             "1GiB..3GiB/1GiB", "-s", "private-4k", "--output", target)
    assert code == 0, err
    assert "wrote 3 host rows" in out
    header = target.read_text().splitlines()[0]
    assert header.startswith("vary_region,region_size_bytes,strategy")


def test_sweep_layout_bad_options_are_one_line_exit_2(tmp_path):
    path = write(tmp_path, ONE)
    for argv, words in (
            (("--group", "servers", "--size", "1GiB"), "give --procs"),
            (("--region", "sga", "--procs", "3"), "give --size"),
            (("--group", "servers", "--procs", "3", "--touched", "0.5"), "--touched does not"),
            (("--procs", "3"), "varies one thing"),
            (("--group", "servers", "--procs", "3", "--output", tmp_path / "x.parquet"),
             ".csv or .json")):
        code, _, err = run_cli("sweep", "--layout", path, *argv)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, (argv, err)
    code, _, err = run_cli("sweep", "--group", "servers", "--procs", "3")
    assert code == 2 and "give --layout" in err


def test_a_preset_as_a_layout_plans_as_the_scenario_plan_does():
    # oracle-sga-300g (300 GiB, 512 GiB RAM) as its one-region layout: the layout plan's
    # bisection on data + PT must give the scenario plan's max_procs for every strategy,
    # the strategies with one-region formulas only (mTHP sizes, thp-shmem-1g, ptshare-2026)
    # included: their rows carry data and the RAM verdict too.  private-4k: 212 GiB /
    # 601.18 MiB per process = 361.
    code, out, err = run_cli("plan", "--layout", "oracle-sga-300g", "--group", "procs",
                             "--format", "json")
    assert code == 0, err
    layout_plan = {r["strategy"]: r["max_procs"] for r in json.loads(out)["plan"]}
    code, out, err = run_cli("plan", "--size", "300GiB", "--ram", "512GiB", "--format", "json")
    assert code == 0, err
    scenario_plan = {r["strategy"]: r["max_procs"] for r in json.loads(out)}
    assert layout_plan == scenario_plan and layout_plan["private-4k"] == 361
    code, out, _ = run_cli("compare", "--layout", "oracle-sga-300g", "--format", "json")
    host = {r["strategy"]: r for r in json.loads(out)["host"]}
    assert host["thp-shmem-64k"]["fits_ram"] is False      # 1500 x 601 MiB of tables
    assert host["thp-shmem-1g"]["data_bytes"] == 300 * GiB and host["thp-shmem-1g"]["fits_ram"]


def test_redis_child_writing_everything_does_not_fit_and_plan_says_why():
    # redis-fork-24g-writes: the parent's 24 GiB + the child's 24 GiB of copied pages + 2 x
    # 48.098 MiB of tables = 48.094 GiB > 32 GiB: no child fits; the read-only child fits
    code, out, err = run_cli("plan", "--layout", "redis-fork-24g-writes", "--group",
                             "bgsave-child", "-s", "private-4k")
    assert code == 0, err
    assert ("private-4k: not even one process of bgsave-child fits: data + page tables with "
            "one are 48.094 GiB, more than the 32 GiB of RAM") in out
    code, out, _ = run_cli("plan", "--layout", "redis-fork-24g-writes", "--group",
                           "bgsave-child", "-s", "private-4k", "--format", "json")
    (row,) = json.loads(out)["plan"]
    assert row["max_procs"] == 0 and row["memory_with_one"] == 48 * GiB + 2 * 12313 * 4096
    code, out, _ = run_cli("compare", "--layout", "redis-fork-24g", "-s", "private-4k",
                           "--format", "json")
    (host,) = json.loads(out)["host"]
    assert host["fits_ram"] is True and host["data_bytes"] == 24 * GiB


def test_a_preset_file_is_its_one_region_layout(tmp_path):
    # a copy of models/workloads/postgres-100g.toml ([scenario] + [sources]) given to
    # --layout: the rows of `compare --preset FILE`, and the preset's sources echoed
    from ptcalc.data import models_path

    path = tmp_path / "my-postgres.toml"
    path.write_text(models_path("workloads", "postgres-100g.toml").read_text())
    code, out, err = run_cli("compare", "--layout", path, "--format", "json")
    assert code == 0, err
    body = json.loads(out)
    assert body["layout"]["name"] == "my-postgres" and "size" in body["layout"]["sources"]
    code, out, err = run_cli("compare", "--preset", path, "--format", "json")
    assert code == 0, err
    scenario = {r["strategy"]: r for r in json.loads(out)}
    for row in body["host"]:
        want = scenario[row["strategy"]]
        assert (row["pt_bytes_total"], row["faults_total"]) == (want["pt_bytes_total"],
                                                                want["faults_total"])

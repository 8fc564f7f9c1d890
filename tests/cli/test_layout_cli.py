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

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

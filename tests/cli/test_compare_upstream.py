"""compare's json and csv say where each strategy stands in Linux, as its table's note does."""

from __future__ import annotations

import csv
import io
import json

from conftest import run_cli as run

from ptcalc import catalog


def test_json_and_csv_rows_carry_the_catalogue_status():
    rows = json.loads(run("compare", "--size", "3GiB", "--procs", "4", "-f", "json")[1])
    assert len(rows) == len(catalog.STRATEGY_NAMES)
    by_name = {row["strategy"]: row for row in rows}
    # hand-checked kinds: PMD sharing is mainline (2.6.20), mshare an RFC, ptshare-2026 code
    # in a public tree only, file-pt a proposal in review
    assert by_name["hugetlb-2m-pmdshare"]["upstream"] == "mainline"
    assert by_name["mshare"]["upstream"] == "rfc"
    assert by_name["ptshare-2026"]["upstream"] == "prototype"
    assert by_name["file-pt"]["upstream"] == "proposal"
    for name, row in by_name.items():
        assert row["upstream_status"] == catalog.strategy(name).upstream.summary()
    lines = list(csv.DictReader(io.StringIO(
        run("compare", "--size", "3GiB", "--procs", "4", "-f", "csv")[1])))
    assert [(r["strategy"], r["upstream"]) for r in lines] == [
        (r["strategy"], r["upstream"]) for r in rows]


def test_inventory_rows_carry_it_too(tmp_path):
    fleet = tmp_path / "fleet.csv"
    fleet.write_text("name,size,procs\ndb,2GiB,3\n")
    rows = json.loads(run("compare", "--from", str(fleet), "-f", "json")[1])
    assert {row["strategy"]: row["upstream"] for row in rows}["mshare"] == "rfc"

"""ptcalc plan: exact max_procs (checked against the scalar model at the boundary), break-even,
huge pages, reservations short of the region (Oracle mixed mode, PostgreSQL fallback)."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli as run

from ptcalc.compute.plan import first_no_worse, largest_fitting, plan
from ptcalc.compute.scalar import scenario_rows
from ptcalc.errors import InputError
from ptcalc.inputs.scenario import MAX_PROCS, make_scenario
from ptcalc.model.strategies import STRATEGY_NAMES

GiB, MiB = 2**30, 2**20


def total(strategy, procs, size="300GiB", **kwargs):
    (row,) = scenario_rows(make_scenario(size, procs, **kwargs), [strategy])
    return row["pt_bytes_total"]


def test_done_when_private_4k_fits_361():
    code, out, err = run("plan", "--size", "300GiB", "--ram", "512GiB", "--format", "json")
    assert code == 0, err
    rows = {row["strategy"]: row for row in json.loads(out)}
    assert list(rows) == list(STRATEGY_NAMES)            # one object per strategy
    private = rows["private-4k"]
    # 212 GiB left; one more process costs 153,600 PTE + 300 PMD + 1 PUD tables = 601.18 MiB
    assert private["budget_bytes"] == 212 * GiB
    assert private["bytes_per_process"] == (153_600 + 300 + 1) * 4096
    assert private["max_procs"] == 361 == 212 * GiB // private["bytes_per_process"]


@pytest.mark.parametrize("kwargs", [
    {"size": "300GiB", "ram": "512GiB"},
    {"size": "100GiB", "ram": "101GiB", "offset": "4KiB", "touched": "0.3"},
    {"size": "24GiB", "ram": "24.5GiB", "access": "read", "base_pt": "12MiB"},
    {"size": "1TiB", "budget": "3GiB", "offset": "2MiB"},
])
def test_max_procs_is_the_exact_boundary(kwargs):
    rows, summary = plan(**kwargs)
    budget = summary["budget_bytes"]
    base = summary["base_pt_bytes"]
    extra = {k: kwargs[k] for k in ("offset", "touched", "access") if k in kwargs}
    for row in rows:
        if not row["applicable"]:
            continue
        strategy, most = row["strategy"], row["max_procs"]
        per = 1 if strategy == "threads" else None

        def cost(p, strategy=strategy, per=per):
            return total(strategy, p, kwargs["size"], **extra) + base * (per or p)

        if most:
            assert cost(most) <= budget and cost(most) == row["pt_bytes_at_max"]
        if most < MAX_PROCS:
            assert cost(most + 1) > budget, strategy
        else:
            assert row["max_procs_capped"]


def test_break_even_against_private_4k():
    rows = {row["strategy"]: row for row in plan("300GiB", "512GiB")[0]}
    assert rows["private-4k"]["break_even_procs"] == 1
    # ptshare builds the shared PTE tables once besides each process's own: one process pays
    # more than private-4k, two already less
    assert rows["ptshare"]["break_even_procs"] == 2
    assert total("ptshare", 1) > total("private-4k", 1)
    assert total("ptshare", 2) <= total("private-4k", 2)


def test_huge_pages_to_reserve():
    rows = {row["strategy"]: row for row in plan("300GiB", "512GiB")[0]}
    assert rows["hugetlb-2m"]["huge_pages"] == 153_600
    assert rows["hugetlb-2m"]["reserve"] == "sysctl vm.nr_hugepages=153600"
    assert rows["hugetlb-1g"]["huge_pages"] == 300
    assert "hugepagesz=1G hugepages=300" in rows["hugetlb-1g"]["reserve"]
    assert rows["private-4k"]["huge_pages"] is None


def test_reservation_short_of_the_region_both_ways():
    rows, _ = plan("300GiB", "512GiB", reserved="100GiB",
                   strategies=["hugetlb-2m", "hugetlb-1g", "private-4k"])
    by = {(r["strategy"], r["fallback"]): r for r in rows}
    assert set(by) == {("hugetlb-2m", "mixed"), ("hugetlb-2m", "whole"),
                       ("hugetlb-1g", "mixed"), ("hugetlb-1g", "whole"), ("private-4k", None)}
    assert by[("hugetlb-2m", "mixed")]["huge_pages_reserved"] == 51_200
    assert by[("hugetlb-1g", "mixed")]["huge_pages_reserved"] == 100
    # PostgreSQL's huge_pages=try: all of it in 4 KiB pages, exactly private-4k
    assert by[("hugetlb-2m", "whole")]["max_procs"] == by[("private-4k", None)]["max_procs"]
    # Oracle's mixed mode: 100 GiB in 2 MiB pages, 200 GiB in 4 KiB pages (a second segment)
    mixed = by[("hugetlb-2m", "mixed")]
    huge = total("hugetlb-2m", 2, "100GiB") - total("hugetlb-2m", 1, "100GiB")
    small = total("private-4k", 2, "200GiB", offset="100GiB") - total(
        "private-4k", 1, "200GiB", offset="100GiB")
    assert mixed["bytes_per_process"] == huge + small
    assert mixed["max_procs"] == 212 * GiB // (huge + small)


def test_reservation_that_covers_the_region():
    rows, _ = plan("300GiB", "512GiB", reserved="153600", strategies=["hugetlb-2m"])
    (row,) = rows
    assert row["fallback"] == "none" and row["max_procs"] == 184_632


def test_base_page_tables_per_process():
    plain = {r["strategy"]: r for r in plan("300GiB", "512GiB")[0]}
    based = {r["strategy"]: r for r in plan("300GiB", "512GiB", base_pt="1MiB")[0]}
    per = plain["private-4k"]["bytes_per_process"]
    assert based["private-4k"]["bytes_per_process"] == per + MiB
    assert based["private-4k"]["max_procs"] == 212 * GiB // (per + MiB)
    assert based["threads"]["bytes_per_process"] == 0     # one mm: counted once


def test_search_helpers():
    assert largest_fitting(lambda p: 10 * p, 95) == 9
    assert largest_fitting(lambda p: 10 * p, 5) == 0
    assert largest_fitting(lambda p: 7, 7) == MAX_PROCS
    assert first_no_worse(lambda p: 100 + p, lambda p: 3 * p) == 50
    assert first_no_worse(lambda p: 100 + p, lambda p: p) is None


@pytest.mark.parametrize("argv, fragment", [
    (["--size", "600GiB", "--ram", "512GiB"], "does not fit in ram"),
    (["--size", "1GiB"], "give --ram"),
    (["--size", "1GiB", "--ram", "2GiB", "--reserved", "some"], "reserved 'some'"),
    (["--size", "1GiB", "--ram", "2GiB", "--base-pt", "-1"], "base-pt"),
    (["--size", "1GiB", "--budget", "1.5B"], "budget"),
    (["--size", "1GiB", "--ram", "2GiB", "-s", "nope"], "strategy 'nope'"),
    (["--size", "1GiB", "--ram", "2GiB", "--format", "yaml"], "format 'yaml'"),
])
def test_errors(argv, fragment):
    code, _out, err = run("plan", *argv)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1


def test_plan_function_errors():
    with pytest.raises(InputError, match="give --ram"):
        plan("1GiB")


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_formats_and_units(fmt):
    code, out, err = run("plan", "--size", "300GiB", "--ram", "512GiB", "--format", fmt,
                         "--units", "si")
    assert code == 0, err
    assert "361" in out and "private-4k" in out
    if fmt != "csv":
        assert "630.378 MB" in out and ">= 4,194,304" in out


def test_plan_takes_a_preset():
    code, out, err = run("plan", "--preset", "oracle-sga-300g", "--format", "json")
    assert code == 0, err
    assert json.loads(out)[0]["max_procs"] == 361
    code, out, _ = run("plan")                              # the default preset
    assert "361" in out and "512 GiB RAM" in out

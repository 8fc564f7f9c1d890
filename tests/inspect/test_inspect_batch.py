"""ptcalc.inspect.scenarios: the scenarios evaluated over numpy columns give the rows
compare() gives (ptcalc.inspect.whatif.compare_rows, exact Python ints), and a scenario is
built without make_scenario only where make_scenario takes it as it is."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from ptcalc.catalog import STRATEGY_NAMES
from ptcalc.errors import InputError
from ptcalc.inputs.scenario import make_scenario
from ptcalc.inspect import scenarios
from ptcalc.inspect.scenarios import Results, clipped, formula_inputs
from ptcalc.inspect.whatif import _clip, compare_rows
from ptcalc.paging import PAGE_BYTES, PMD_SPAN, PTE_SPAN, PUD_SPAN

KIB, MIB, GIB = 2**10, 2**20, 2**30


def random_scenarios(seed: int, count: int) -> list[tuple]:
    """(size, offset, procs, touched) as inspect asks: page-aligned offsets below 512 GiB,
    sizes of a few pages to a TiB, near and on the 2 MiB and 1 GiB boundaries."""
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        size = rnd.choice([rnd.randrange(1, 64) * PAGE_BYTES, rnd.randrange(1, 4096) * 64 * KIB,
                           rnd.choice([PTE_SPAN, PMD_SPAN, 3 * PMD_SPAN, 2**40]),
                           rnd.randrange(1, 2**28) * PAGE_BYTES])
        offset = rnd.choice([0, rnd.randrange(0, PUD_SPAN // PAGE_BYTES) * PAGE_BYTES,
                             rnd.randrange(0, 512) * PTE_SPAN,
                             PUD_SPAN - rnd.randrange(1, 600) * PAGE_BYTES,
                             rnd.randrange(0, 512) * PMD_SPAN - PAGE_BYTES * rnd.randrange(0, 3)])
        offset %= PUD_SPAN
        procs = rnd.choice([1, 2, 3, rnd.randrange(1, 5000)])
        pages = size // PAGE_BYTES
        touched = rnd.choice([Fraction(1), Fraction(rnd.randrange(1, pages + 1), pages),
                              Fraction(rnd.randrange(1, 1000), 1000),
                              Fraction(1, pages * 7)])              # clipped to one page
        out.append((size, offset, procs, touched))
    return out


def test_columns_give_compare_rows():
    strategies = tuple(STRATEGY_NAMES)
    asked = random_scenarios(18, 600)
    results = Results(strategies)
    index = [results.index(size, offset, procs, (t.numerator, t.denominator), "dense")
             for size, offset, procs, t in asked]
    results.run()
    assert results.vectorized >= scenarios.VECTOR_MIN       # the numpy path was taken
    for (size, offset, procs, touched), i in zip(asked, index):
        expected = compare_rows(size, procs, offset, touched, strategies, "dense")
        assert [results.row(i, s) for s in range(len(strategies))] == expected
        assert results.row(i, 0) == expected[0]


def test_values_beyond_the_exact_bound_take_python_ints():
    strategies = ("private-4k", "threads")
    big = [(2**46, 0, 4_000_000, Fraction(1)), (2**45 + 4096, 4096, 3_999_999, Fraction(1, 3))]
    results = Results(strategies)
    small = [results.index(64 * KIB, i * 64 * KIB, 1, (1, 1), "dense")
             for i in range(scenarios.VECTOR_MIN)]
    index = [results.index(size, offset, procs, (t.numerator, t.denominator), "dense")
             for size, offset, procs, t in big]
    results.run()
    assert results.vectorized == len(small)
    for (size, offset, procs, touched), i in zip(big, index):
        rows = compare_rows(size, procs, offset, touched, strategies, "dense")
        assert [results.row(i, s) for s in range(2)] == rows
        # 2**46 bytes: 2**25 PTE tables of 4 KiB per process, x 4,000,000 > 2**53
        assert rows[0]["pt_bytes_total"] > 2**53


@pytest.mark.parametrize("size, offset, procs, touched", [
    *random_scenarios(7, 300),
    (4096, 0, 1, Fraction(1)), (1, 0, 1, Fraction(1)), (4097, 4096, 2, Fraction(1, 2)),
    (2**47, 0, 1, Fraction(1)),                 # the whole 4-level user space
    (2**47, 4096, 1, Fraction(1)),              # one page beyond it
    (2**40, PUD_SPAN - 4096, 1, Fraction(1)),
    (4096, PUD_SPAN, 1, Fraction(1)),           # offset out of range
    (4096, 100, 1, Fraction(1)),                # not page-aligned
    (0, 0, 1, Fraction(1)), (4096, 0, 0, Fraction(1)), (4096, 0, 2**22 + 1, Fraction(1)),
    (4096, 0, 2**22, Fraction(1)),
    (2**46, 0, 1, Fraction(1, 10**16)),         # below 1e-15: refused
    (2**46, 0, 1, Fraction(10**15 + 1, 10**30)),
    (2**46, 0, 1, Fraction(3**40, 3**40 * 2 + 1)),   # its text is over 64 characters
])
def test_plain_inputs_are_the_ones_make_scenario_takes_as_they_are(size, offset, procs,
                                                                   touched):
    numerator, denominator = clipped((touched.numerator, touched.denominator), size) \
        if size > 0 else (touched.numerator, touched.denominator)
    if size > 0:
        assert Fraction(numerator, denominator) == _clip(touched, size)
    plain = scenarios._plain_input(size, offset, procs, numerator, denominator)
    try:
        scenario = make_scenario(size, procs, offset, Fraction(numerator, denominator),
                                 "write", "dense")
    except InputError:
        assert not plain
        return
    if plain:
        assert formula_inputs(size, offset, procs, numerator, denominator) == \
            scenario.formula_inputs()


def test_parsed_mappings_are_whole_dataclasses():
    """The parser builds Mapping objects without their __init__: every field is set."""
    import dataclasses

    from ptcalc.inspect.layout import Mapping, parse_snapshot
    from tests.inspect.many_mappings import snapshot

    for mapping in parse_snapshot(snapshot(private=2, shared=2)).mappings + \
            parse_snapshot("00400000-00401000 r-xp 00000000 fe:00 1 /bin/x\n").mappings:
        names = [f.name for f in dataclasses.fields(Mapping)]
        assert list(vars(mapping)) == names
        again = Mapping(**vars(mapping))
        assert again == mapping and again.fields == mapping.fields
        assert hash(again) == hash(mapping)


def test_pieces_and_presence_are_whole_dataclasses():
    import dataclasses

    from ptcalc.inspect.layout import Presence, parse_snapshot
    from ptcalc.inspect.tables import Piece, split_by_mapping
    from tests.inspect.many_mappings import snapshot

    layout = parse_snapshot(snapshot(private=2, shared=2) + "# pagemap 1000-2000 huge\n")
    assert layout.presence[0] == Presence(0x1000, 0x2000, True)
    for presence in layout.presence:
        assert list(vars(presence)) == [f.name for f in dataclasses.fields(Presence)]
        assert hash(Presence(**vars(presence))) == hash(presence)
    from ptcalc.inspect.tables import TableCount, count_tables

    for piece in split_by_mapping(layout.mappings, layout.presence):
        tables = count_tables([piece])
        assert list(vars(tables)) == [f.name for f in dataclasses.fields(TableCount)]
        assert tables == TableCount(**vars(tables)) and tables.bytes == count_tables(
            [piece, piece]).bytes                     # the general path counts the same
        assert list(vars(piece)) == [f.name for f in dataclasses.fields(Piece)]
        assert Piece(**vars(piece)) == piece and hash(Piece(**vars(piece))) == hash(piece)


def test_reasons_fold_as_sum_rows_merges_them():
    from ptcalc.inspect.batch import fold_reasons
    from ptcalc.inspect.whatif import sum_rows

    texts = [None, "a", "b", "a; b", "b; c", "as mapped: a; c", "c"]
    rnd = random.Random(5)
    for _ in range(3000):
        reasons = [rnd.choice(texts) for _ in range(rnd.randrange(1, 9))]
        rows = [[{"strategy": "x", "applicable": True, "reason": r}] for r in reasons]
        (total,) = sum_rows(rows)
        assert fold_reasons(reasons[0], reasons[1:]) == total["reason"], reasons

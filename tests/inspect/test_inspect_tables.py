"""Page-table prediction from mapped pages: hand-derived cases and a brute-force oracle."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ptcalc.inspect.layout import PRESENCE_PAGEMAP, Mapping, Presence, ProcessLayout
from ptcalc.inspect.tables import Piece, count_tables, distinct_slots, predict, split_by_mapping
from ptcalc.paging import PAGE_BYTES, PMD_SPAN, PTE_SPAN, PUD_SPAN, TABLE_BYTES

KIB, MIB, GIB = 2**10, 2**20, 2**30


def mapping(start, size, perms="rw-p", path="", page=PAGE_BYTES, inode=0, vmflags=()):
    return Mapping(start, start + size, perms, 0, "00:00", inode, path,
                   {"KernelPageSize": page}, tuple(vmflags))


def layout(mappings, presence, vmpte=None):
    return ProcessLayout(1, "t", vmpte, sorted(mappings, key=lambda m: m.start),
                         presence, PRESENCE_PAGEMAP, "test")


def test_one_page_needs_one_table_per_level():
    # one 4 KiB page: 1 PTE + 1 PMD + 1 PUD table = 3 x 4 KiB
    m = mapping(0x400000, 16 * KIB)
    prediction = predict(layout([m], [Presence(0x401000, 0x402000)]))
    assert (prediction.tables.pte, prediction.tables.pmd, prediction.tables.pud) == (1, 1, 1)
    assert prediction.tables.bytes == 3 * TABLE_BYTES


def test_neighbouring_mappings_share_tables():
    # two mappings in the same 2 MiB slot: still one PTE table
    a, b = mapping(0x400000, 8 * KIB), mapping(0x402000, 8 * KIB, "r--p")
    prediction = predict(layout([a, b], [Presence(0x400000, 0x404000)]))
    assert prediction.tables.pte == 1
    assert prediction.tables.bytes == 3 * TABLE_BYTES


def test_pages_across_a_2mib_boundary_need_two_pte_tables():
    m = mapping(PTE_SPAN - 8 * KIB, 16 * KIB)
    prediction = predict(layout([m], [Presence(m.start, m.end)]))
    assert (prediction.tables.pte, prediction.tables.pmd) == (2, 1)


def test_unmapped_pages_need_no_table():
    m = mapping(0, 4 * PTE_SPAN)          # four slots, pages only in the first and the last
    presence = [Presence(0, PAGE_BYTES), Presence(4 * PTE_SPAN - PAGE_BYTES, 4 * PTE_SPAN)]
    assert predict(layout([m], presence)).tables.pte == 2


def test_hugetlb_2m_needs_no_pte_table_and_1g_no_pmd_table():
    h2 = mapping(GIB, GIB + 64 * MIB, "rw-s", "/anon_hugepage (deleted)", PTE_SPAN, 7)
    t2 = predict(layout([h2], [Presence(h2.start, h2.end, True)])).tables
    assert (t2.pte, t2.pmd, t2.pud) == (0, 2, 1)
    h1 = mapping(GIB, GIB, "rw-s", "/anon_hugepage (deleted)", PMD_SPAN, 8)
    t1 = predict(layout([h1], [Presence(h1.start, h1.end, True)])).tables
    assert (t1.pte, t1.pmd, t1.pud) == (0, 0, 1)


def test_anon_thp_keeps_a_deposited_pte_table_shmem_thp_does_not():
    anon = mapping(0, 4 * PTE_SPAN)
    shmem = mapping(PUD_SPAN, 4 * PTE_SPAN, "rw-s", "/memfd:x (deleted)", inode=9)
    huge = [Presence(0, 4 * PTE_SPAN, True)]
    assert predict(layout([anon], huge)).tables.pte == 4
    huge = [Presence(PUD_SPAN, PUD_SPAN + 4 * PTE_SPAN, True)]
    assert predict(layout([shmem], huge)).tables.pte == 0


def test_pfnmap_is_not_counted_but_reported():
    m = mapping(0x7000000000, 16 * KIB, "r--p", "[vvar]", vmflags=("pf",))
    prediction = predict(layout([m], []))
    assert prediction.tables.bytes == 0
    assert prediction.pfnmap_bytes == 3 * TABLE_BYTES and prediction.pfnmap_count == 1


def test_presence_outside_mappings_is_ignored():
    m = mapping(0x400000, 8 * KIB)
    pieces = split_by_mapping([m], [Presence(0x3ff000, 0x40a000)])
    assert [(p.start, p.end) for p in pieces] == [(0x400000, 0x402000)]


def test_distinct_slots_joins_overlapping_ranges():
    assert distinct_slots([(0, 1), (5, PTE_SPAN + 1), (3 * PTE_SPAN, 3 * PTE_SPAN + 1)],
                          PTE_SPAN) == 3
    assert distinct_slots([], PTE_SPAN) == 0


_PAGES = st.integers(min_value=0, max_value=(4 * PMD_SPAN) // PAGE_BYTES)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_PAGES, st.integers(min_value=1, max_value=3000)), max_size=12),
       st.integers(min_value=0, max_value=3))
def test_count_tables_matches_brute_force(ranges, pud_slot):
    """Oracle: the set of slot indices of every mapped page, per level."""
    base = pud_slot * PUD_SPAN
    m = mapping(base, 5 * PMD_SPAN)
    pieces = [Piece(base + s * PAGE_BYTES, base + min(s + n, 5 * PMD_SPAN // PAGE_BYTES)
                    * PAGE_BYTES, False, m) for s, n in ranges]
    pieces = [p for p in pieces if p.end > p.start]
    pages = {a // PAGE_BYTES for p in pieces for a in range(p.start, p.end, PAGE_BYTES)}
    tables = count_tables(pieces)
    assert tables.pte == len({page * PAGE_BYTES // PTE_SPAN for page in pages})
    assert tables.pmd == len({page * PAGE_BYTES // PMD_SPAN for page in pages})
    assert tables.pud == len({page * PAGE_BYTES // PUD_SPAN for page in pages})

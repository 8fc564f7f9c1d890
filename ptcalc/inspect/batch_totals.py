"""The sum of the what-ifs of thousands of shared objects over numpy columns.

What ptcalc.inspect.batch._columns_of_rest reads of each later object's row, for objects
of one placement whose scenarios were all evaluated over numpy columns: the pick between
the placement as mapped and realigned (whatif.evaluate_placement's rule) as array
operations, then the summed columns gathered and added.  Integers are added in int64 only
where the sum cannot pass it (else as Python ints); float columns are added left to right
as sum_rows adds them.
"""

from __future__ import annotations

import numpy as np

from ptcalc.inspect.whatif import _plain
from ptcalc.paging import PAGE_BYTES

_INT64_SAFE = 2**62


class Picks:
    """The scenarios of every placement (one per object), as index arrays."""

    def __init__(self, results, whats: list):
        self.results = results
        self.labels = ["as mapped", "aligned to 2 MiB", "aligned to 1 GiB"]
        row_of = {label: row for row, label in enumerate(self.labels)}
        slots = [[-1] * len(whats) for _ in self.labels]
        pages = [[-1] * len(whats) for _ in self.labels]
        for j, what in enumerate(whats):
            for source in what.sources:
                row = row_of[source.label]
                slots[row][j] = source.slots
                if source.pages is not None:
                    pages[row][j] = source.pages
        self.slots = np.array(slots, dtype=np.int64)
        self.pages = np.array(pages, dtype=np.int64)

    def columns(self, s: int, keys) -> tuple:
        """(applicable, reasons, labels, {key: values to add}) as _columns_of_rest gives."""
        results = self.results
        arrays = results.arrays[s]
        applicable = ~np.asarray(results.codes[s], dtype=bool)
        huge = np.zeros(len(applicable), dtype=np.int64)
        for name in ("mapped_2m_bytes", "mapped_1g_bytes"):
            if name in arrays:
                huge += np.where(applicable, arrays[name], 0)
        slots, pages = self.slots[0].copy(), self.pages[0].copy()
        label = np.zeros(slots.size, dtype=np.int64)
        said = np.zeros(slots.size, dtype=bool)       # "as mapped: why" replaces the reason
        for row in (1, 2):
            new = self.slots[row]
            there = new >= 0
            new_at = np.where(there, new, 0)
            now_applies = applicable[slots]
            take = there & applicable[new_at] & (~now_applies | (huge[new_at] > huge[slots]))
            said = np.where(take, ~now_applies, said)
            slots = np.where(take, new_at, slots)
            pages = np.where(take, self.pages[row], pages)
            label = np.where(take, row, label)
        reason_of = results.reason[s]
        reasons = list(map(reason_of.__getitem__, slots.tolist()))
        for j in np.flatnonzero(said).tolist():
            old = reason_of[int(self.slots[0, j])]
            if old:
                reasons[j] = f"as mapped: {old}"
        labels = [self.labels[i] for i in np.unique(label).tolist()]
        with_pages = pages >= 0
        leaf = arrays.get("leaf_page_bytes")
        leaf_4k = np.ones(len(applicable), dtype=bool) if leaf is None else \
            ~applicable | (leaf <= PAGE_BYTES) | (leaf == 0)
        sources = {"plain": slots, "touched": np.where(with_pages, pages, slots),
                   "pages": np.where(with_pages & leaf_4k[slots], pages, slots)}
        from ptcalc.inspect.batch import PAGES_COLUMNS

        sums = {}
        for key in keys:
            index = sources["touched" if key == "touched_bytes" else
                            "pages" if key in PAGES_COLUMNS else "plain"]
            array = arrays.get(key)
            if array is None or not applicable[index].all():
                sums[key] = [None]
                continue
            got = array[index]
            if got.dtype.kind == "f":
                sums[key] = [_plain(v) for v in got.tolist()]
            elif got.size and int(np.abs(got).max()) >= _INT64_SAFE // got.size:
                sums[key] = [sum(got.tolist())]
            else:
                sums[key] = [int(got.sum())]
        return [bool(applicable[slots].all())], reasons, labels, sums

"""The what-ifs of every shared object of one inspect, asked together: each distinct one once.

A process that maps thousands of objects asks thousands of what-ifs (one per placement as
mapped, one per realignment, and under pattern "layout" one at the page fraction besides
the slot fraction), and few of them are alike.  So they are first collected as scenarios
(ptcalc.inspect.scenarios), each distinct one evaluated once; then the rows of every
placement are picked from those results exactly as ptcalc.inspect.whatif's
evaluate_placement picks them, and the rows of a shared object are built only when asked
for (a table shows a few objects; JSON and CSV all of them).  The sum over all objects is
taken from the results directly, as whatif.sum_rows would add the objects' rows (over numpy
columns when the scenarios were evaluated that way: ptcalc.inspect.batch_totals).
"""

from __future__ import annotations

from ptcalc.errors import InputError
from ptcalc.inspect.scenarios import Results, reduced
from ptcalc.inspect.whatif import FAULT_COLUMNS, SUMMED, take_page_counts
from ptcalc.paging import PMD_SPAN, PTE_SPAN, PUD_SPAN, ceil_div

PAGES_COLUMNS = frozenset((*FAULT_COLUMNS, "mapped_4k_bytes"))
_GRANULES = ((PTE_SPAN, "aligned to 2 MiB"), (PMD_SPAN, "aligned to 1 GiB"))


def _scaled(touched: tuple[int, int], size: int, new_size: int) -> tuple[int, int]:
    return reduced(touched[0] * size, touched[1] * new_size)


class Source:
    """The scenarios one evaluation of ptcalc.inspect.whatif._evaluate reads: `slots` for
    every column, `pages` (pattern "layout", when the fractions differ) for touched_bytes and
    the faults and 4 KiB mappings of 4 KiB-leaf strategies; and where it is evaluated."""

    __slots__ = ("label", "offset", "pages", "size", "slots")

    def __init__(self, results: Results, size, offset, procs, touched, touched_slots,
                 pattern, label):
        """The scenarios _evaluate(size, offset, procs, touched, touched_slots, ...) asks
        for, in the order it asks (fractions as reduced pairs)."""
        self.label, self.offset, self.size = label, offset, size
        index = results.index
        if pattern != "layout":
            self.slots, self.pages = index(size, offset, procs, touched, pattern), None
        elif touched != touched_slots:
            self.slots = index(size, offset, procs, touched_slots, "dense")
            self.pages = index(size, offset, procs, touched, "dense")
        else:
            self.slots, self.pages = index(size, offset, procs, touched_slots, "dense"), None


class PlacementWhatIf:
    """The sources of one placement: as mapped, then each realignment that moves it."""

    __slots__ = ("sources",)

    def __init__(self, results: Results, p, pattern: str):
        touched = p.touched.numerator, p.touched.denominator
        slots = p.touched_slots.numerator, p.touched_slots.denominator
        size, offset = p.size_bytes, p.offset_bytes
        self.sources = [Source(results, size, offset, p.procs, touched, slots, pattern,
                               "as mapped")]
        for granule, label in _GRANULES:
            new_offset = ceil_div(offset, granule) * granule % PUD_SPAN
            new_size = ceil_div(size, granule) * granule
            if (new_offset, new_size) == (offset, size):
                continue
            self.sources.append(Source(results, new_size, new_offset, p.procs,
                                       _scaled(touched, size, new_size),
                                       _scaled(slots, size, new_size), pattern, label))

    def error(self, results: Results) -> InputError | None:
        """The error the first failing evaluation raises, in evaluate_placement's order."""
        for source in self.sources:
            for i in (source.slots, source.pages):
                if i is not None and i in results.errors:
                    return results.errors[i]
        return None

    def choice(self, applicable: list, huge: list, reasons: list) -> tuple:
        """(source, reason or None to keep the source's) of one strategy, picked as
        evaluate_placement picks it; the lists are that strategy's columns of Results."""
        sources = self.sources
        chosen = sources[0]
        if len(sources) == 1:
            return chosen, None
        reason = None
        for new in sources[1:]:
            if not applicable[new.slots]:
                continue
            if applicable[chosen.slots]:
                if huge[new.slots] <= huge[chosen.slots]:
                    continue
                reason = None
            else:                     # not applicable as mapped: say why, as mapped
                old = reasons[chosen.slots]
                reason = f"as mapped: {old}" if old else None
            chosen = new
        return chosen, reason


def source_row(results: Results, source: Source, s: int) -> dict:
    """The row _evaluate gives for one source and strategy (a fresh dict)."""
    row = results.row(source.slots, s)
    if source.pages is not None:
        take_page_counts(row, results.row(source.pages, s))
    return row


class _HugeAt:
    """results.huge(s)[i] without building the whole column (a few rows are built)."""

    __slots__ = ("values",)

    def __init__(self, results: Results, s: int):
        self.values = results.values[s]

    def __getitem__(self, i: int) -> int:
        return (self.values.at("mapped_2m_bytes", i) or 0) + \
            (self.values.at("mapped_1g_bytes", i) or 0)


def placement_rows(results: Results, what: PlacementWhatIf) -> list[dict]:
    """evaluate_placement's rows for one placement."""
    rows = []
    for s in range(len(results.strategies)):
        source, reason = what.choice(results.applicable[s], _HugeAt(results, s),
                                     results.reason[s])
        row = source_row(results, source, s)
        row.update(placement=source.label, evaluated_offset_bytes=source.offset,
                   evaluated_size_bytes=source.size)
        if reason is not None:
            row["reason"] = reason
        rows.append(row)
    return rows


def fold_reasons(reason, reasons):
    """The reason whatif.sum_rows gives a total that starts with `reason` and adds rows
    with these reasons.  A reason seen before changes nothing (merged once, its parts stay),
    so each distinct one is merged once, in the order they first come (reasons are None or
    non-empty texts: join_reasons and sum_rows give no "")."""
    kept = set()            # reasons whose parts `reason` holds: merging keeps it
    for new in dict.fromkeys(reasons):
        if new and new != reason:
            if new in kept:
                continue
            merged = _merged_reason(reason, new)
            if merged == reason:
                kept.add(new)
            reason = merged
        elif not reason:
            reason = None
    return reason


def _merged_reason(old, new):
    """whatif.sum_rows's reason of a total `old` plus a row's `new`."""
    if new and new != old:
        reasons = [r for r in (old, new) if r]
        return "; ".join(dict.fromkeys(part for r in reasons for part in r.split("; "))) or None
    return old if old else None


class GroupRows:
    """The what-if rows of one shared object, built when first asked for."""

    __slots__ = ("current", "results", "rows", "whats")

    def __init__(self, results: Results, whats: list[PlacementWhatIf], current: int):
        self.results, self.whats, self.current = results, whats, current
        self.rows = None

    def __call__(self) -> list[dict]:
        from ptcalc.inspect.whatif import finish_rows, sum_rows

        if self.rows is None:
            self.rows = finish_rows(sum_rows([placement_rows(self.results, w)
                                              for w in self.whats]), self.current)
        return self.rows


def _summed(values: list):
    """Left-to-right sum as sum_rows adds (None if any is None)."""
    if None in values:
        return None
    if all(type(v) is int for v in values):
        return sum(values)
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


def _columns_of_rest(results: Results, rest: list[GroupRows], s: int, keys) -> tuple:
    """Per later object, what sum_rows reads of its row for strategy s: applicable,
    reason, placement and the summed columns (in `keys` order)."""
    applicable_col, reason_col = results.applicable[s], results.reason[s]
    values = results.values[s]
    apps, reasons, labels = [], [], []
    sources = {"plain": [], "touched": [], "pages": []}
    rows_of_many = []
    huge = results.huge(s)
    for position, group in enumerate(rest):
        if len(group.whats) != 1:                 # several placements: their summed rows
            rows_of_many.append((position, group()[s]))
            apps.append(None)
            reasons.append(None)
            labels.append(None)
            for kind in sources.values():
                kind.append(0)
            continue
        source, reason = group.whats[0].choice(applicable_col, huge, reason_col)
        slots, pages = source.slots, source.pages
        apps.append(applicable_col[slots])
        reasons.append(reason_col[slots] if reason is None else reason)
        labels.append(source.label)
        sources["plain"].append(slots)
        if pages is None:
            sources["touched"].append(slots)
            sources["pages"].append(slots)
        else:
            sources["touched"].append(pages)
            sources["pages"].append(pages if results.leaf_4k(slots, s) else slots)
    sums = {}
    for key in keys:
        kind = "touched" if key == "touched_bytes" else \
            "pages" if key in PAGES_COLUMNS else "plain"
        column = values[key]
        got = [column[i] for i in sources[kind]]
        for position, row in rows_of_many:
            got[position] = row.get(key)
        sums[key] = got
    for position, row in rows_of_many:
        apps[position] = row.get("applicable")
        reasons[position] = row.get("reason")
        labels[position] = row.get("placement")
    return apps, reasons, labels, sums


def total_rows(results: Results, groups: list[GroupRows], first: list[dict]) -> list[dict]:
    """whatif.finish_rows(whatif.sum_rows(every object's rows)) without building the rows of
    any object but the first (`first`, already built)."""
    from ptcalc.inspect.whatif import finish_rows

    out = [dict(row) for row in first]
    rest = groups[1:]
    picks = None
    if rest and results.vectorized == len(results) and all(len(g.whats) == 1 for g in rest):
        from ptcalc.inspect.batch_totals import Picks

        picks = Picks(results, [g.whats[0] for g in rest])
    if rest:
        for s, total in enumerate(out):
            keys = [key for key in SUMMED if key in total]
            apps, reasons, labels, sums = picks.columns(s, keys) if picks is not None else \
                _columns_of_rest(results, rest, s, keys)
            total["applicable"] = bool(total.get("applicable")) and all(apps)
            total["reason"] = fold_reasons(total.get("reason"), reasons)
            placement = total.get("placement")
            if any(label != placement for label in labels):
                total["placement"] = "mixed"
            for key in keys:
                total[key] = _summed([total[key], *sums[key]])
            total.pop("evaluated_offset_bytes", None)
            total.pop("evaluated_size_bytes", None)
    return finish_rows(out, sum(g.current for g in groups))


def evaluate_groups(groups: list, strategies, pattern: str, warnings: list[str]) -> list[dict]:
    """Fill every group's what-if (built when first read) and return the sum over all of
    them (ptcalc.inspect.shared.total_rows); a group the model cannot take gets a warning
    and no what-if, as SharedGroup.evaluate would."""
    from ptcalc.inputs.scenario import parse_strategies

    results = Results(parse_strategies(strategies))
    asked = [[PlacementWhatIf(results, p, pattern) for p in g.placements] for g in groups]
    results.run()
    done, first = [], None
    for group, whats in zip(groups, asked):
        error = None
        if results.errors:
            error = next((e for e in (w.error(results) for w in whats) if e is not None), None)
        if error is not None:
            warnings.append(f"no what-if for {group.path or group.identity}: {error}")
            continue
        if not whats:
            group.what_if = []
            continue
        rows = GroupRows(results, whats, group.current_physical_pt_bytes)
        group.defer_what_if(rows)
        done.append(rows)
        first = first or group
    if not done:
        return []
    return total_rows(results, done, first.what_if)

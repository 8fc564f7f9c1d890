"""inspect() with every what-if evaluated on its own: each shared object through
SharedGroup.evaluate, every placement and realignment asked afresh through
ptcalc.inspect.whatif (compare's scalar rows), the sum through shared.total_rows.  What
the batched inspect (ptcalc.inspect.batch) must give, value for value."""

from __future__ import annotations

from ptcalc.errors import InputError
from ptcalc.inputs.scenario import parse_strategies
from ptcalc.inspect import whatif
from ptcalc.inspect.run import InspectResult, inspect
from ptcalc.inspect.shared import total_rows


class Afresh(whatif.Evaluations):
    """Evaluations that remembers nothing: every question is evaluated again."""

    def __call__(self, size, offset, procs, touched, touched_slots, strategies, pattern):
        self.asked += 1
        return whatif._evaluate(size, offset, procs, touched, touched_slots, strategies,
                                pattern)


def unbatched(maps_files, strategies=None, pattern="layout") -> InspectResult:
    base = inspect(maps_files=maps_files, what_if=False)
    chosen = list(parse_strategies(strategies)) if strategies else None
    warnings = list(base.warnings)
    for group in base.shared_groups:
        try:
            group.evaluate(chosen, pattern, Afresh())
        except InputError as exc:
            warnings.append(f"no what-if for {group.path or group.identity}: {exc}")
    top = total_rows(base.shared_groups) if base.shared_groups else []
    return InspectResult(base.processes, base.shared_groups, top, warnings)

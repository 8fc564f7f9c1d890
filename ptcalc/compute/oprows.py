"""What every operation row is made of: the columns, the inputs, blank and finished rows,
and the steady-state rows an operation is stated over.  Shared by ptcalc.compute.operations
(the mainline rules, fork and exit) and ptcalc.compute.opdesigns (designs that are not in
mainline: mshare, ptshare-2026)."""

from __future__ import annotations

from dataclasses import dataclass

from ptcalc import catalog, paging
from ptcalc.model import operations as ops

METRICS = ("tables_allocated", "tables_freed", "tables_unshared", "tables_copied",
           "ptes_copied", "vmpte_acting_bytes", "vmpte_acting_after_refault_bytes",
           "vmpte_others_bytes", "pagetables_bytes", "pagetables_after_refault_bytes",
           "refaults_acting", "refaults_others", "flushes", "tlb_ipis", "tlb_ipis_min",
           "call_ipis", "ipis_total")
TEXT_COLUMNS = ("strategy", "variant", "operation", "applicable", "reason", "path", "status",
                "flush", "flush_scope", "source")

PAGE = paging.PAGE_BYTES


@dataclass(frozen=True)
class OperationInputs:
    """One operation on today's single-region scenario."""

    operation: str
    scenario: object           # ptcalc.inputs.scenario.Scenario
    op_start_bytes: int        # where the range starts, bytes into the region
    op_bytes: int              # range length
    cpus: int = 1              # CPUs each sharing process runs on (its threads)
    host_cpus: int = 0         # CPUs of the host (0: procs * cpus)

    def values(self, **override) -> ops.Inputs:
        s = self.scenario
        values = {"size_bytes": s.size_bytes, "offset_bytes": s.offset_bytes,
                  "touched_bytes": s.touched_bytes, "procs": s.procs,
                  "read_access": int(s.access == "read"), "op_start_bytes": self.op_start_bytes,
                  "op_bytes": self.op_bytes, "cpus": self.cpus, "host_cpus": self.total_cpus,
                  "fault_around_bytes": s.fault_around_bytes}
        values.update(override)
        return ops.Inputs(**values)

    @property
    def total_cpus(self) -> int:
        return self.host_cpus or self.scenario.procs * self.cpus


def blank(**text) -> dict:
    row = dict.fromkeys(TEXT_COLUMNS)
    row.update(dict.fromkeys(METRICS))
    row.update(text)
    return row


def finish(row: dict, metrics: dict, strides_text=None) -> dict:
    for key in METRICS:
        if key in metrics:
            row[key] = int(metrics[key])
    if row["tlb_ipis_min"] is None:
        row["tlb_ipis_min"] = 0
    for key in ("tables_copied", "ptes_copied"):
        if row[key] is None:
            row[key] = 0
    row["ipis_total"] = row["tlb_ipis"] + row["call_ipis"]
    if row["flush"] is None:
        row["flush"] = strides_text
    return row


def variant_of(strategy: str) -> str:
    """'mainline', or what the design is (RFC, prototype, proposal) when it is not merged."""
    upstream = catalog.strategy(strategy).upstream
    return "mainline" if upstream.in_mainline else \
        {"rfc": "RFC", "prototype": "prototype"}.get(upstream.kind, "proposal")


def status_of(strategy: str) -> str:
    return "mainline" if catalog.strategy(strategy).upstream.in_mainline else "proposal"


def size_text(n: int) -> str:
    from ptcalc.units import format_size

    return format_size(n)


def steady_rows(scenario, strategies, procs):
    from dataclasses import replace

    from ptcalc.compute.scalar import scenario_rows

    if procs <= 0:
        return dict.fromkeys(strategies)
    return {row["strategy"]: row for row in scenario_rows(replace(scenario, procs=procs),
                                                           strategies)}

"""The sizing report's "What changes cost": for each operation one process performs on the
region (fork, exit, and mprotect / munmap / MADV_DONTNEED of the first GiB), a table with one
row per strategy it applies to: page tables allocated, freed and unshared, the acting
process's VmPTE change right after the call and once it has refaulted what it touched, its
refaults, and the interrupts other CPUs take.  The rules and sources are ``ptcalc op``'s
(ptcalc.compute.operations)."""

from __future__ import annotations

from ptcalc.present.sizing.report import ReportSection, ReportTable

HEADERS = ("strategy", "page tables allocated", "freed", "unshared",
           "VmPTE change, right after", "VmPTE change, after its refaults", "refaults",
           "interrupts to other CPUs (IPIs)")


def _signed_size(value: int) -> str:
    from ptcalc.units import format_size

    value = int(value)
    return "0" if value == 0 else ("+" if value > 0 else "−") + format_size(abs(value))  # noqa: RUF001


def _label(row: dict) -> str:
    variant = row.get("variant")
    return row["strategy"] if variant in (None, "mainline") else f"{row['strategy']} ({variant})"


def operation_table(operation: str, scenario, length: int, host_cpus: int = 0) -> ReportTable:
    """One operation by one process on ``[0, length)`` of the region, every strategy that
    applies (those that do not are named under the table)."""
    from ptcalc.compute.operations import RANGE_OPERATIONS, make_inputs, operation_rows
    from ptcalc.model.strategies import STRATEGY_NAMES
    from ptcalc.units import format_size

    inputs = make_inputs(operation, scenario, 0, length, 1, host_cpus)
    rows, skipped = [], []
    for row in operation_rows(inputs, STRATEGY_NAMES):
        if not row["applicable"]:
            skipped.append(_label(row))
            continue
        rows.append([_label(row), f"{row['tables_allocated']:,}", f"{row['tables_freed']:,}",
                     f"{row['tables_unshared']:,}", _signed_size(row["vmpte_acting_bytes"]),
                     _signed_size(row["vmpte_acting_after_refault_bytes"]),
                     f"{row['refaults_acting']:,}", f"{row['ipis_total']:,}"])
    names = {"fork": "fork() by one process", "exit": "exit of one process",
             "madvise": "MADV_DONTNEED"}
    what = names.get(operation, operation + "()")
    if operation in RANGE_OPERATIONS:
        what += f" of the first {format_size(length)} by one process"
    notes = [f"Not modelled for this operation: {', '.join(skipped)}."] if skipped else []
    return ReportTable(f"{what} ({inputs.total_cpus:,} CPUs, one per process)",
                       list(HEADERS), rows, notes)


def operations_section(scenario, host_cpus: int = 0) -> ReportSection | None:
    """The section, or None where operations are not modelled (the random touch pattern)."""
    from ptcalc.compute.operations import OPERATIONS

    if scenario.pattern != "dense":
        return None
    length = min(scenario.size_bytes, 1 << 30)
    tables = [operation_table(operation, scenario, length, host_cpus)
              for operation in OPERATIONS]
    intro = ("What one process's fork, exit, mprotect, munmap or MADV_DONTNEED costs the "
             "others, per strategy: page tables allocated, freed and unshared, the acting "
             "process's VmPTE change (right after the call, and once it has touched again "
             "what it touched before), its refaults, and the TLB-shootdown and "
             "function-call interrupts other CPUs take.")
    return ReportSection("What changes cost", intro, tables,
                         [("Rules, sources and every column: `ptcalc op OPERATION --size "
                           "... --procs ...` (`--heap SIZE` for the fork of a private heap).")])

"""Operation results as text: the table of every strategy, its notes and sources, and the fork
latency of a private heap (a Redis BGSAVE child)."""

from __future__ import annotations

from ptcalc.present.tables import render
from ptcalc.units import format_size

OP_COLUMNS = (
    ("strategy", "strategy", "text"),
    ("path", "path", "text"),
    ("tables_freed", "freed", "count"),
    ("tables_unshared", "unshared", "count"),
    ("tables_allocated", "alloc'd", "count"),
    ("vmpte_acting_bytes", "VmPTE now", "size"),
    ("vmpte_acting_after_refault_bytes", "VmPTE after", "size"),
    ("vmpte_others_bytes", "VmPTE others", "size"),
    ("pagetables_after_refault_bytes", "PageTables", "size"),
    ("refaults_acting", "refaults", "count"),
    ("refaults_others", "others'", "count"),
    ("flush", "flush", "text"),
    ("tlb_ipis", "TLB IPIs", "count"),
    ("call_ipis", "sync IPIs", "count"),
)

REDIS_DOCS = "https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/latency/"
# The Redis docs' fork table (physical Xeon 2.27 GHz: 9 ms per GB; physical, unknown
# hardware: 13.1; VMware: 12.8), per GB of RSS.
REDIS_MS_PER_GB = (9.0, 13.1)


def _label(row: dict) -> str:
    variant = row.get("variant")
    return row["strategy"] if variant in (None, "mainline") else f"{row['strategy']} ({variant})"


def operation_notes(rows: list[dict], inputs) -> list[str]:
    notes = []
    for row in rows:
        if row.get("applicable") is False:
            notes.append(f"n/a {_label(row)}: {row['reason']}")
    scopes = {}
    for row in rows:
        if row.get("applicable") and row.get("flush_scope"):
            scopes.setdefault(row["flush_scope"], []).append(_label(row))
    for scope, labels in scopes.items():
        notes.append(f"flushed: {scope} ({', '.join(labels)})")
    sources = {}
    for row in rows:
        if row.get("source"):
            sources.setdefault(row["source"], []).append(_label(row))
    for source, labels in sources.items():
        notes.append(f"source ({', '.join(labels)}): {source}")
    notes.append(f"IPIs for {inputs.cpus} CPU(s) per sharing process on a "
                 f"{inputs.total_cpus}-CPU host: 'TLB IPIs' is the /proc/interrupts 'TLB "
                 "shootdowns' line (to each other CPU running the flushed mm; an idle CPU in "
                 "lazy-TLB mode is skipped unless tables are freed), 'sync IPIs' the 'Function "
                 "call interrupts' line (tlb_remove_table_sync_one(), flush_tlb_all()).")
    notes.append("'now': right after the call; 'after': once the acting process has "
                 "touched again what it touched before (its refaults); PageTables counts a "
                 "table once, after the refaults.")
    return notes


def render_operations(rows: list[dict], inputs, fmt: str, units: str, title: str) -> str:
    if fmt in ("json", "csv"):
        return render(rows, fmt, units)
    shown = [dict(row, strategy=_label(row)) for row in rows]
    return render(shown, fmt, units, columns=OP_COLUMNS, title=title,
                  notes=operation_notes(rows, inputs))


def fork_latency_lines(fork: dict, units: str = "iec") -> list[str]:
    """The fork of a private anonymous heap: tables copied, and the latency calibrated on
    this host next to the Redis docs' published figures."""
    heap = fork["heap_bytes"]
    lines = [(f"fork of a private anonymous heap of {format_size(heap, units)} (a Redis BGSAVE "
             f"child): copy_page_range() copies {format_size(fork['tables_copied_bytes'], units)}"
             f" of page tables ({fork['tables_copied']:,} tables, {fork['ptes_copied']:,} PTEs)")]
    rate = fork.get("ms_per_gib_of_tables")
    if rate is None:
        lines.append("  latency: not calibrated here; run `sudo ptcalc op-probe --fork` to "
                     "measure this host's fork cost per GiB of copied tables")
    else:
        lines.append(f"  latency {fork['latency_ms']:.1f} ms, {fork['calibration']} "
                     f"({rate:,.0f} ms per GiB of copied tables)")
    low, high = fork["redis_docs_ms"]
    lines.append(f"  Redis docs: 9-13 ms per GB of RSS on physical hosts and VMware -> "
                 f"{low:.0f}-{high:.0f} ms for this heap ({REDIS_DOCS})")
    return lines

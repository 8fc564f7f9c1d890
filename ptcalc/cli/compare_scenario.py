"""One compare scenario turned into its table or JSON/CSV rows: the scenario read from the
preset and the options, its rows, TLB columns, RAM and reservation verdicts and notes.
Shared by `ptcalc compare` and `compare --from` (ptcalc.cli.batch)."""

from __future__ import annotations

from ptcalc.cli import options

#: The strategies a table shows when none is chosen: the multi-size THP sizes other than
#: 64 KiB have the page tables of 4 KiB pages and differ only in faults (csv/json: all).
HIDDEN_BY_DEFAULT = ("thp-shmem-8k", "thp-shmem-16k", "thp-shmem-32k", "thp-shmem-128k",
                     "thp-shmem-256k", "thp-shmem-512k", "thp-shmem-1m")


def compare_one(preset, given, strategy, paging, fault_around, tlb, reserved, decimal_units,
                kubernetes, fmt, units, every_strategy) -> str:
    from ptcalc.compute.scalar import scenario_rows
    from ptcalc.inputs.presets import choose
    from ptcalc.inputs.scenario import make_scenario, parse_strategies
    from ptcalc.present import settings
    from ptcalc.present.tables import COMPARE_COLUMNS, not_applicable_notes, render
    from ptcalc.units import parse_size

    chosen = choose(preset, given)
    values = chosen.values
    readings = size_readings(values, ("size", "ram"), decimal_units)
    size_bytes = parse_size(values["size"], what="size", decimal=decimal_units)
    scenario = make_scenario(size_bytes, values["procs"], values["offset"], values["touched"],
                             values["access"], values["pattern"], paging, fault_around)
    rows = scenario_rows(scenario, parse_strategies(strategy))
    ram = parse_ram(values.get("ram"), decimal_units)
    title = scenario_title(scenario, ram, options.paging_note(paging))
    if readings:
        title += " (" + "; ".join(readings) + ")"
    model_rows = rows
    rows, title, explanation = add_tlb(rows, scenario, tlb, title)
    title += assumed(chosen, given)
    rows, reservation = verdicts(rows, scenario, ram, reserved, decimal_units)
    if fmt in ("json", "csv"):
        return render(with_upstream(rows), fmt, units)
    # the verdicts cover every strategy (the mTHP sizes left out of the table too)
    notes = verdict_notes(rows, scenario, ram, reservation) + [explanation] * bool(explanation)
    rows, left_out = table_rows(rows, every_strategy)
    shown = {row["strategy"] for row in rows}
    notes += not_applicable_notes([row for row in model_rows if row["strategy"] in shown])
    notes += upstream_notes([row["strategy"] for row in rows])
    if kubernetes:
        notes += settings.kubernetes_lines(rows, scenario.size_bytes, scenario.procs)
    if left_out:
        notes.append(left_out)
    return render(settings.for_table(rows), fmt, units, title=title, notes=notes,
                  columns=settings.verdict_columns(COMPARE_COLUMNS, rows))


def with_upstream(rows: list[dict]) -> list[dict]:
    """Rows for json/csv with where each strategy stands in Linux: `upstream` is the kind
    (mainline, rfc, prototype, proposal), `upstream_status` the phrase the table's note uses."""
    from ptcalc import catalog

    out = []
    for row in rows:
        upstream = catalog.strategy(row["strategy"]).upstream
        out.append({**row, "upstream": upstream.kind, "upstream_status": upstream.summary()})
    return out


def upstream_notes(names: list[str]) -> list[str]:
    """One note naming the designs shown that are not in mainline Linux, each with where it
    stands (ptcalc strategies has the postings)."""
    from ptcalc import catalog

    off = [f"{name} = {catalog.strategy(name).upstream.summary()}" for name in names
           if not catalog.strategy(name).upstream.in_mainline]
    if not off:
        return []
    return [f"not in mainline Linux: {'; '.join(off)}. `ptcalc strategies` cites each posting"]


def table_rows(rows: list[dict], every_strategy: bool) -> tuple[list[dict], str | None]:
    """The rows a table shows, and the note that says which strategies it leaves out."""
    if every_strategy:
        return rows, None
    left_out = [name for name in HIDDEN_BY_DEFAULT if any(r["strategy"] == name for r in rows)]
    if not left_out:
        return rows, None
    shown = [row for row in rows if row["strategy"] not in left_out]
    return shown, (f"{len(left_out)} multi-size THP sizes not shown ({', '.join(left_out)}): "
                   "the page tables of private-4k, fewer faults than it; --all-strategies "
                   "or -s NAME shows them, csv and json have every strategy")


def parse_ram(value, decimal: bool):
    from ptcalc.errors import InputError
    from ptcalc.units import parse_size

    if value is None:
        return None
    ram = parse_size(value, what="ram", decimal=decimal)
    if ram == 0:
        raise InputError(f"ram {value!r} is empty; give the host's RAM, e.g. 64GiB "
                         "(or leave --ram out)")
    return ram


def add_tlb(rows, scenario, tlb, title):
    """Rows with the TLB metrics of --cpu (a name, 'host', 'default' or a file)."""
    cpu, virtualized, host_page, llc = tlb
    if cpu is None and not virtualized and llc is None:
        return rows, title, None
    from ptcalc.compute.tlb import add_tlb_to_rows, parse_host_page
    from ptcalc.units import parse_size

    parse_host_page(host_page)
    chosen_cpu, explanation = resolve_cpu(cpu)
    llc_bytes = parse_size(llc, what="llc") if llc else None
    rows = add_tlb_to_rows(rows, chosen_cpu, scenario.paging_levels, virtualized, host_page,
                           llc_bytes)
    title += f"; TLB of {chosen_cpu.name}" + (" (virtualized)" if virtualized else "")
    return rows, title, explanation


def resolve_cpu(cpu):
    """(Cpu, explanation or None) for a listed name, 'host', 'default' or a TOML file."""
    from ptcalc.compute.tlb import resolve

    return resolve(cpu)


def scenario_title(scenario, ram=None, paging_note: str = "") -> str:
    from ptcalc.units import format_size

    touched = f"{float(scenario.touched) * 100:.4g}%"
    text = (f"{format_size(scenario.size_bytes)} region at offset "
            f"{format_size(scenario.offset_bytes)}, {scenario.procs:,} processes, each touching "
            f"{touched} ({scenario.pattern}), {scenario.access} access, "
            f"{scenario.paging_levels}-level paging{paging_note}")
    if scenario.requested_size_bytes != scenario.size_bytes:
        text += f" (size rounded up to whole 4 KiB pages from {scenario.requested_size_bytes})"
    if ram:
        text += f", {format_size(ram)} RAM"
    return text


def assumed(chosen, given: dict) -> str:
    """A second title line naming the values not given: 'from preset P: size, procs;
    defaults: pattern' ('' when every value was given)."""
    from_preset = [key for key in given if given[key] is None and chosen.preset
                   and key in chosen.preset.values]
    defaults = [key for key in given if given[key] is None and key not in from_preset
                and key in chosen.values]
    parts = []
    if from_preset:
        parts.append(f"from preset {chosen.preset.name}: {', '.join(from_preset)}")
    if defaults:
        parts.append(f"defaults: {', '.join(defaults)}")
    return "\n" + "; ".join(parts) if parts else ""


def size_readings(chosen: dict, keys, decimal: bool) -> list[str]:
    """How the sizes among `keys` were read ("64GB read as 64 GiB"), for the title."""
    from ptcalc.units import UnitError, describe_size

    readings = []
    for key in keys:
        if chosen.get(key) is None:
            continue
        try:
            reading = describe_size(chosen[key], decimal=decimal)
        except UnitError:
            continue               # the parser reports it, with the option's name
        if reading:
            readings.append(reading)
    return readings


def verdicts(rows, scenario, ram, reserved, decimal: bool):
    """Rows with the reservation outcomes, RAM verdicts and inputs, and the reservation."""
    from ptcalc.compute import reservations
    from ptcalc.compute.scalar import scenario_rows

    reservation = reservations.parse_reservation(reserved, size_bytes=scenario.size_bytes,
                                                 ram_bytes=ram, decimal=decimal)
    rows = reservations.expand_rows(rows, scenario, reservation, scenario_rows)
    if ram:
        rows = reservations.add_ram_verdicts(rows, scenario, ram)
    return reservations.add_inputs(rows, scenario), reservation


def verdict_notes(rows, scenario, ram, reservation) -> list[str]:
    """The notes on the reservation and the RAM verdicts of the rows shown."""
    from ptcalc.present import settings

    notes = []
    if ram:
        notes.append(settings.ram_note(rows, scenario.size_bytes, ram))
    if reservation is not None:
        notes.append(reservation.describe())
        notes += settings.reservation_notes(rows, scenario.requested_size_bytes)
    return notes

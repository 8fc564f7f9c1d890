"""`--layout` for compare and plan: load a layout (a TOML file, a name in models/layouts,
or a preset as its one-region layout) and print the host and per-group results."""

from __future__ import annotations

import typer

LAYOUT_HELP = ("A host layout: a TOML file with [[regions]] and [[groups]], or a name in "
               "models/layouts (or a preset as its one-region layout); --size/--procs "
               "and the scenario options do not apply.")


def layout_names() -> list[str]:
    from ptcalc.data import models_path

    return sorted(p.stem for p in models_path("layouts").glob("*.toml"))


def layout_file(text: str):
    """The TOML file of --layout: a path, or a name in models/layouts (e.g. redis-fork-24g);
    None when it is neither."""
    from pathlib import Path

    from ptcalc.data import models_path

    path = Path(text)
    if path.is_file():
        return path
    named = models_path("layouts", f"{text}.toml")
    return named if "/" not in text and named.is_file() else None


def load_layout(text: str, paging="4", fault_around="64KiB"):
    """A layout file or name (not a preset) loaded; InputError naming the choices if neither."""
    from ptcalc.errors import InputError
    from ptcalc.inputs.layout import load_layout_file

    path = layout_file(text)
    if path is None:
        if "/" in text or text.endswith(".toml"):
            return load_layout_file(text, paging, fault_around)   # its own one-line error
        raise InputError(f"layout {text!r} is neither a file nor a known name; give a TOML "
                         f"file or one of: {', '.join(layout_names())}")
    return load_layout_file(path, paging, fault_around)


def _preset_document(path) -> bool:
    """Is the TOML file a preset (a [scenario] table, as in models/workloads)?  Such a file
    is taken as its one-region layout; anything unreadable is left to the layout loader."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return isinstance(data.get("scenario"), dict) and "regions" not in data


def resolve_layout(text: str, paging="4", fault_around="64KiB", ram=None, decimal=False):
    """A layout from a TOML layout file, a name in models/layouts, or a preset (a name in
    models/workloads or a preset file) as its one-region layout with the preset's sources."""
    from ptcalc.errors import InputError
    from ptcalc.inputs.layout import layout_from_scenario, load_layout_file
    from ptcalc.inputs.presets import load_preset, preset_names
    from ptcalc.inputs.scenario import make_scenario
    from ptcalc.units import parse_size

    path = layout_file(text)
    if path is not None and not _preset_document(path):
        layout = load_layout_file(path, paging, fault_around)
    elif path is not None or ("/" not in text and text in preset_names()):
        preset = load_preset(str(path) if path is not None else text)
        values = {"offset": 0, "touched": 1, "access": "write", "pattern": "dense",
                  **preset.values}
        scenario = make_scenario(values["size"], values["procs"], values["offset"],
                                 values["touched"], values["access"], values["pattern"],
                                 paging, fault_around)
        layout = layout_from_scenario(scenario, preset.name)
        from dataclasses import replace

        layout = replace(layout, description=preset.description,
                         sources=tuple(preset.sources.items()),
                         ram_bytes=parse_size(values["ram"], what="ram")
                         if values.get("ram") else None)
    else:
        names = sorted(set(layout_names()) | set(preset_names()))
        raise InputError(f"layout {text!r} is neither a file nor a known name; give a TOML "
                         f"file or one of: {', '.join(names)}")
    if ram:
        from dataclasses import replace

        layout = replace(layout, ram_bytes=parse_size(ram, what="ram", decimal=decimal))
    return layout


def compare_layout(text, strategy, paging, fault_around, ram, fmt, units, decimal) -> None:
    from ptcalc.compute.host import evaluate_layout
    from ptcalc.inputs.scenario import parse_choice, parse_strategies
    from ptcalc.present.layouts import render_layout
    from ptcalc.present.tables import FORMATS, UNITS

    fmt = parse_choice(fmt, FORMATS, "format")
    units = parse_choice(units, UNITS, "units")
    layout = resolve_layout(text, paging, fault_around, ram, decimal)
    result = evaluate_layout(layout, parse_strategies(strategy))
    typer.echo(render_layout(layout, result, fmt, units))


def plan_layout(text, group, strategy, paging, ram, fmt, units, decimal) -> None:
    from ptcalc.compute.host_plan import most_procs
    from ptcalc.errors import InputError
    from ptcalc.inputs.scenario import parse_choice, parse_strategies
    from ptcalc.present.layouts import render_plan
    from ptcalc.present.tables import FORMATS, UNITS

    fmt = parse_choice(fmt, FORMATS, "format")
    units = parse_choice(units, UNITS, "units")
    layout = resolve_layout(text, paging, "64KiB", ram, decimal)
    if layout.ram_bytes is None:
        raise InputError("plan --layout needs the host's RAM: give --ram or ram = \"...\" in "
                         "the layout")
    rows = most_procs(layout, group, layout.ram_bytes, parse_strategies(strategy))
    typer.echo(render_plan(layout, rows, fmt, units))


def sweep_layout_command(text, group, region, procs, size, strategy, paging, fault_around,
                         fmt, units, output) -> None:
    """`ptcalc sweep --layout FILE --group G --procs AXIS` (or --region R --size AXIS)."""
    from ptcalc.compute.host_sweep import sweep_layout
    from ptcalc.errors import InputError
    from ptcalc.inputs.scenario import parse_choice, parse_strategies
    from ptcalc.present.layouts import render_layout_sweep
    from ptcalc.present.tables import FORMATS, UNITS
    from ptcalc.sweep.axes import parse_procs_axis, parse_size_axis

    if group is not None and (procs is None or size is not None):
        raise InputError("sweep --layout --group NAME varies that group's processes: give "
                         "--procs COUNTS (and no --size)")
    if region is not None and (size is None or procs is not None):
        raise InputError("sweep --layout --region NAME varies that region's size: give "
                         "--size SIZES (and no --procs)")
    kind = None
    if output is not None:
        from ptcalc.present.files import check_output_path

        check_output_path(output, example="sweep.csv")
        kind = output.rsplit(".", 1)[-1].lower() if "." in output else ""
        if kind not in ("csv", "json"):
            raise InputError(f"output {output!r}: a layout sweep writes .csv or .json")
        if fmt is not None and fmt != kind:
            raise InputError(f"--format {fmt} does not match output {output!r}; the extension "
                             "chooses the file format (or leave out --format)")
    fmt = parse_choice(kind or fmt or "table", FORMATS, "format")
    units = parse_choice(units, UNITS, "units")
    layout = resolve_layout(text, paging, fault_around)
    values = parse_procs_axis(procs).values() if group is not None else \
        parse_size_axis(size).values() if size is not None else ()
    result = sweep_layout(layout, group=group, region=region, values=values,
                          strategies=parse_strategies(strategy))
    rendered = render_layout_sweep(layout, result, fmt, units)
    if output is None:
        typer.echo(rendered)
        return
    from ptcalc.present.files import atomic_write

    atomic_write(output, (rendered + "\n").encode())
    typer.echo(f"wrote {len(result['host']):,} host rows and {len(result['groups']):,} group "
               f"rows to {output}")

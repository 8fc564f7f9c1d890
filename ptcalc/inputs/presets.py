"""Named workload presets (models/workloads/*.toml): scenario values, each with its source.

A preset file holds a `description` (one line), a [scenario] table with scenario values only
(the keys of SCENARIO_KEYS; `size` and `procs` required) and a [sources] table with one
non-empty source for every scenario value.  Everything is validated at load; errors name the
file and the key.  Command-line options override a preset's values.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass

from ptcalc.data import models_path
from ptcalc.errors import InputError

SCENARIO_KEYS = ("size", "procs", "ram", "offset", "touched", "access", "pattern")
TOP_KEYS = ("description", "scenario", "sources")
DEFAULT_PRESET = "oracle-sga-300g"
#: Scenario values when neither the command line nor a preset gives them (the defaults of
#: ptcalc.compare and make_scenario too).
SCENARIO_DEFAULTS = {"offset": "0", "touched": "1", "access": "write", "pattern": "dense"}
GIVEN = "given on the command line"


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    values: dict          # scenario key -> value as written (text or number)
    sources: dict         # scenario key -> where the value comes from


def preset_names() -> list[str]:
    return sorted(path.stem for path in models_path("workloads").glob("*.toml"))


def is_preset_file(text) -> bool:
    """Does a --preset value name a file (a path, or a name ending in .toml)?"""
    text = str(text).strip()
    return "/" in text or text.endswith(".toml") or text.startswith("~")


def load_preset(name: str) -> Preset:
    """The preset called `name`, or the preset file at that path (same form as
    models/workloads/*.toml); InputError (naming file and key) if it is unknown or bad."""
    name = str(name).strip()
    if is_preset_file(name):
        from pathlib import Path

        path = Path(name).expanduser()
        if not path.is_file():
            raise InputError(f"preset {name!r} is not known: no such file; give a TOML file "
                             "with description, [scenario] and [sources] (as in "
                             "models/workloads), or a name: " + ", ".join(preset_names()))
        return load_preset_file(path)
    path = models_path("workloads", f"{name}.toml")
    if not name or "/" in name or not path.is_file():
        names = preset_names()
        near = difflib.get_close_matches(name, names, n=1, cutoff=0.4)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise InputError(f"preset {name!r} is not known; {hint}known: {', '.join(names)}")
    return load_preset_file(path)


def load_preset_file(path) -> Preset:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not valid TOML: {error}") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read it: {error.strerror or error}") from None
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise InputError(f"{path}: unknown key {unknown[0]}; known: {', '.join(TOP_KEYS)}")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise InputError(f"{path}: missing key description (a one-line string)")
    scenario = data.get("scenario")
    if not isinstance(scenario, dict):
        raise InputError(f"{path}: missing table [scenario]")
    sources = data.get("sources", {})
    if not isinstance(sources, dict):
        raise InputError(f"{path}: key sources must be a table [sources]")
    for key in scenario:
        if key not in SCENARIO_KEYS:
            raise InputError(f"{path}: unknown key scenario.{key}; presets hold scenario "
                             f"values only: {', '.join(SCENARIO_KEYS)}")
    for key in ("size", "procs"):
        if key not in scenario:
            raise InputError(f"{path}: missing key scenario.{key}")
    for key in scenario:
        source = sources.get(key)
        if not isinstance(source, str) or not source.strip():
            raise InputError(f"{path}: missing key sources.{key} (where scenario.{key} comes "
                             "from)")
    for key in sources:
        if key not in scenario:
            raise InputError(f"{path}: key sources.{key} has no scenario.{key}")
    _check_values(path, scenario)
    return Preset(path.stem, description.strip(), dict(scenario), dict(sources))


def _check_values(path, scenario: dict) -> None:
    """Each value must be what the command line would accept."""
    from ptcalc.inputs.scenario import make_scenario
    from ptcalc.units import UnitError, parse_size

    for key, value in scenario.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InputError(f"{path}: key scenario.{key} must be a string or a number, not "
                             f"{type(value).__name__}")
    defaults = {"size": 4096, "procs": 1, **SCENARIO_DEFAULTS}
    checks = [(key, {**defaults, key: scenario[key]}) for key in SCENARIO_KEYS
              if key != "ram" and key in scenario]
    checks.append(("size", {**defaults, **{k: v for k, v in scenario.items() if k != "ram"}}))
    for key, trial in checks:
        try:
            make_scenario(trial["size"], trial["procs"], trial["offset"], trial["touched"],
                          trial["access"], trial["pattern"])
        except InputError as error:
            raise InputError(f"{path}: key scenario.{key}: {error}") from None
    if "ram" in scenario:
        try:
            ram = parse_size(scenario["ram"], what="ram")
        except UnitError as error:
            raise InputError(f"{path}: key scenario.ram: {error}") from None
        size = parse_size(scenario["size"], what="size")
        if ram < size:
            raise InputError(f"{path}: key scenario.ram: {scenario['ram']!r} is smaller than "
                             f"scenario.size {scenario['size']!r}")


@dataclass(frozen=True)
class Chosen:
    """Scenario values after the one merge of defaults, a preset and the command line."""

    preset: Preset | None
    values: dict          # key -> value (text when as_text)
    sources: dict         # key -> where the value comes from (preset values and given ones)


def choose(preset: str | None, given: dict, *, default_unless=("size", "procs"),
           required=("size", "procs"), as_text: bool = False,
           default_preset: bool = True) -> Chosen:
    """Defaults, then the preset's values, then the values given (those not None).

    `given` holds every option the command takes (None when not given); the preset supplies
    only those keys.  Without a named preset, the default one is used when none of
    `default_unless` is given (never with default_preset=False).  A key of `required`
    still missing is an InputError.
    """
    loaded = None
    if preset or (default_preset and all(given.get(key) is None for key in default_unless)):
        loaded = load_preset(preset or DEFAULT_PRESET)
    values = {key: value for key, value in SCENARIO_DEFAULTS.items() if key in given}
    if loaded:
        values.update({k: v for k, v in loaded.values.items() if k in given})
    values.update({k: v for k, v in given.items() if v is not None})
    if as_text:
        values = {k: str(v) for k, v in values.items()}
    missing = [key for key in required if key not in values]
    if missing:
        options = [f"--{key}" for key in required]
        listed = ", ".join(options[:-1]) + " and " + options[-1] if len(options) > 1 \
            else options[0]
        raise InputError(f"--{missing[0]} is missing; give {listed}, or --preset NAME")
    sources = {k: v for k, v in (loaded.sources if loaded else {}).items() if k in given}
    sources.update({key: GIVEN for key, value in given.items() if value is not None})
    return Chosen(loaded, values, sources)


def all_presets() -> list[Preset]:
    return [load_preset(name) for name in preset_names()]

"""Named workload presets (models/workloads/*.toml): scenario values, each with its source."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass

from ptcalc.data import models_path
from ptcalc.errors import InputError

SCENARIO_KEYS = ("size", "procs", "ram", "offset", "touched", "access", "pattern")
DEFAULT_PRESET = "oracle-sga-300g"


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    values: dict          # scenario key -> value as written (text or number)
    sources: dict


def preset_names() -> list[str]:
    return sorted(path.stem for path in models_path("workloads").glob("*.toml"))


def load_preset(name: str) -> Preset:
    path = models_path("workloads", f"{name}.toml")
    if not path.is_file():
        names = preset_names()
        near = difflib.get_close_matches(name, names, n=1, cutoff=0.4)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise InputError(f"preset {name!r} is not known; {hint}known: {', '.join(names)}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{path}: not valid TOML: {error}") from None
    scenario = data.get("scenario")
    if not isinstance(scenario, dict):
        raise InputError(f"{path}: missing table [scenario]")
    unknown = sorted(set(scenario) - set(SCENARIO_KEYS))
    if unknown:
        raise InputError(f"{path}: unknown key scenario.{unknown[0]}; known: "
                         f"{', '.join(SCENARIO_KEYS)}")
    for key in ("size", "procs"):
        if key not in scenario:
            raise InputError(f"{path}: missing key scenario.{key}")
    description = data.get("description")
    if not isinstance(description, str):
        raise InputError(f"{path}: missing key description (a string)")
    return Preset(name, description, dict(scenario), dict(data.get("sources", {})))

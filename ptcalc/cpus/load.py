"""CPU TLB data: load and validate models/cpus/*.toml, list them, resolve ``--cpu``.

Each file describes one core generation (schema: models/cpus/README.md).  Every number in it
carries an evidence class and source URLs; loading checks types, ranges, required keys and
unknown keys, and every error names the file and the dotted key.  Nothing is read at import
time; files are parsed on first use and cached.  The data classes are in ``ptcalc.cpus.spec``,
host matching in ``ptcalc.cpus.detect``.

Public API (what the CLI and ptcalc.model.tlb call):
    load_cpu(name) -> Cpu              a listed name or alias; InputError lists the known names
    load_cpu_file(path) -> Cpu         one file (used by tests and for user-supplied files)
    cpu_names() -> list[str]           listed CPUs, Intel then AMD, oldest first
    summary_lines() -> list[str]       one line per CPU, for `ptcalc cpus`
    detect_host_cpu(cpuinfo_text=None) -> (name, explanation)
    resolve_cpu(name) -> (Cpu, explanation or None)   handles name == "host"
    DEFAULT_CPU                        the CPU used when none is given
"""
from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

from ptcalc.cpus.detect import pick_host_cpu
from ptcalc.cpus.spec import (
    DEFAULT_CPU,
    EVIDENCE_CLASSES,
    PAGE_SIZES,
    SCHEMA_VERSION,
    TLB_LEVELS,
    VENDORS,
    Alternative,
    Cpu,
    CpuDataError,
    CpuMatch,
    Fact,
    TlbArray,
    TlbLevel,
)
from ptcalc.errors import InputError

# --------------------------------------------------------------------------------------------
# Validation


_TOP_KEYS = {"schema", "name", "title", "vendor", "core", "aliases", "match", *TLB_LEVELS,
             "page_walkers", "five_level_paging", "llc"}
_SOURCE_KEYS = {"evidence", "source", "note", "alternatives", "why"}
_MATCH_KEYS = {"vendor_id", "family", "models", "generation_models", "related_models",
               "model_name_patterns"} | _SOURCE_KEYS
_ARRAY_KEYS = {"sizes", "entries", "ways", "smashed"} | _SOURCE_KEYS
_WALKER_KEYS = {"count"} | _SOURCE_KEYS
_FIVE_LEVEL_KEYS = {"supported"} | _SOURCE_KEYS
_LLC_KEYS = {"bytes", "sku", "domain_bytes"} | _SOURCE_KEYS


class _Reader:
    """Typed access to one parsed file; every failure names the file and the dotted key."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, problem: str):
        raise CpuDataError(f"{self.path}: key '{key}': {problem}")

    def check_table(self, value, key: str, allowed: set[str]) -> dict:
        if value is None:
            self.fail(key, "missing (a table is required)")
        if not isinstance(value, dict):
            self.fail(key, f"must be a table, not {type(value).__name__}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            self.fail(f"{key}.{unknown[0]}", f"unknown key; allowed: {', '.join(sorted(allowed))}")
        return value

    def value(self, data: dict, key: str, dotted: str, kind, *, required=True, default=None):
        if key not in data:
            if required:
                self.fail(dotted, "missing")
            return default
        raw = data[key]
        if kind is int:
            if isinstance(raw, bool) or not isinstance(raw, int):
                self.fail(dotted, f"must be an integer, not {raw!r}")
        elif kind is bool:
            if not isinstance(raw, bool):
                self.fail(dotted, f"must be true or false, not {raw!r}")
        elif kind is str and (not isinstance(raw, str) or not raw.strip()):
            self.fail(dotted, f"must be a non-empty string, not {raw!r}")
        return raw

    def non_negative(self, data: dict, key: str, dotted: str, *, required=True):
        number = self.value(data, key, dotted, int, required=required)
        if number is not None and number < 0:
            self.fail(dotted, f"must be >= 0, not {number}")
        return number

    def string_list(self, data: dict, key: str, dotted: str, *, required=True) -> tuple[str, ...]:
        raw = data.get(key)
        if raw is None:
            if required:
                self.fail(dotted, "missing")
            return ()
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not raw or not all(
                isinstance(item, str) and item for item in raw):
            self.fail(dotted, "must be a non-empty string or list of non-empty strings")
        return tuple(raw)

    def urls(self, data: dict, dotted: str) -> tuple[str, ...]:
        urls = self.string_list(data, "source", f"{dotted}.source")
        for url in urls:
            if not re.match(r"^https?://\S+$", url):
                self.fail(f"{dotted}.source", f"{url!r} is not an http(s) URL")
        return urls

    def evidence(self, data: dict, dotted: str) -> str:
        evidence = self.value(data, "evidence", f"{dotted}.evidence", str)
        if evidence not in EVIDENCE_CLASSES:
            self.fail(f"{dotted}.evidence",
                      f"{evidence!r} is not an evidence class; use one of "
                      f"{', '.join(EVIDENCE_CLASSES)}")
        return evidence

    def fact(self, data: dict, dotted: str, value_key: str, value) -> Fact:
        """The sourcing keys of a table: evidence, source, note, alternatives, why."""
        evidence = self.evidence(data, dotted)
        urls = self.urls(data, dotted)
        note = self.value(data, "note", f"{dotted}.note", str, required=False, default="")
        alternatives = []
        raw_alts = data.get("alternatives", [])
        if not isinstance(raw_alts, list):
            self.fail(f"{dotted}.alternatives", "must be a list of inline tables")
        value_keys = {value_key, "ways"}
        for index, alt in enumerate(raw_alts):
            alt_key = f"{dotted}.alternatives[{index}]"
            alt = self.check_table(alt, alt_key, value_keys | {"evidence", "source", "note"})
            values = tuple((k, alt[k]) for k in sorted(value_keys) if k in alt)
            if not values:
                self.fail(alt_key, f"gives no value (expected '{value_key}')")
            alternatives.append(Alternative(
                values=values,
                evidence=self.evidence(alt, alt_key),
                source=self.urls(alt, alt_key),
                note=self.value(alt, "note", f"{alt_key}.note", str, required=False, default=""),
            ))
        why = self.value(data, "why", f"{dotted}.why", str, required=False, default="")
        if alternatives and not why:
            self.fail(f"{dotted}.why", "missing: a table with alternatives must say why its "
                                       "value was chosen")
        return Fact(key=f"{dotted}.{value_key}", value=value, evidence=evidence, source=urls,
                    note=note, alternatives=tuple(alternatives), why=why)

    def model_list(self, data: dict, key: str, dotted: str) -> tuple[tuple[int, int], ...]:
        raw = data.get(key, [])
        if not isinstance(raw, list):
            self.fail(dotted, "must be a list of model numbers or [low, high] ranges")
        ranges = []
        for index, item in enumerate(raw):
            if isinstance(item, int) and not isinstance(item, bool):
                lo = hi = item
            elif (isinstance(item, list) and len(item) == 2
                  and all(isinstance(x, int) and not isinstance(x, bool) for x in item)):
                lo, hi = item
            else:
                self.fail(f"{dotted}[{index}]", f"must be a model number or [low, high], "
                                                f"not {item!r}")
            if not 0 <= lo <= hi <= 0xFF:
                self.fail(f"{dotted}[{index}]", f"model range {item!r} is outside 0..0xff")
            ranges.append((lo, hi))
        return tuple(ranges)


def _read_match(reader: _Reader, data: dict) -> CpuMatch:
    table = reader.check_table(data.get("match"), "match", _MATCH_KEYS)
    vendor_id = reader.value(table, "vendor_id", "match.vendor_id", str)
    family = reader.non_negative(table, "family", "match.family")
    models = reader.model_list(table, "models", "match.models")
    if not models:
        reader.fail("match.models", "must list at least one model number")
    if any(lo != hi for lo, hi in models):
        reader.fail("match.models", "must list single model numbers (ranges belong in "
                                    "generation_models or related_models)")
    patterns = reader.string_list(table, "model_name_patterns", "match.model_name_patterns",
                                  required=False)
    for index, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as error:
            reader.fail(f"match.model_name_patterns[{index}]", f"bad regular expression: {error}")
    return CpuMatch(
        vendor_id=vendor_id,
        family=family,
        models=tuple(lo for lo, _ in models),
        generation_models=reader.model_list(table, "generation_models",
                                            "match.generation_models"),
        related_models=reader.model_list(table, "related_models", "match.related_models"),
        model_name_patterns=patterns,
        fact=reader.fact(table, "match", "models", tuple(lo for lo, _ in models)),
    )


def _read_level(reader: _Reader, data: dict, key: str) -> TlbLevel:
    raw = data.get(key)
    if raw is None:
        reader.fail(key, "missing: list the arrays as [[" + key + "]] tables")
    if not isinstance(raw, list) or not raw:
        reader.fail(key, "must be a non-empty array of tables ([[" + key + "]])")
    arrays = []
    for index, table in enumerate(raw):
        dotted = f"{key}[{index}]"
        table = reader.check_table(table, dotted, _ARRAY_KEYS)
        sizes = reader.string_list(table, "sizes", f"{dotted}.sizes")
        for size in sizes:
            if size not in PAGE_SIZES:
                reader.fail(f"{dotted}.sizes", f"{size!r} is not a page size; use "
                                               f"{', '.join(PAGE_SIZES)}")
        if len(set(sizes)) != len(sizes):
            reader.fail(f"{dotted}.sizes", "lists a page size twice")
        entries = reader.non_negative(table, "entries", f"{dotted}.entries")
        ways = table.get("ways")
        if ways is not None and ways != "full" and (
                isinstance(ways, bool) or not isinstance(ways, int) or ways <= 0):
            reader.fail(f"{dotted}.ways", f"must be a positive integer or \"full\", not {ways!r}")
        smashed_raw = table.get("smashed", {})
        if not isinstance(smashed_raw, dict):
            reader.fail(f"{dotted}.smashed", "must be a table such as { \"1g\" = \"2m\" }")
        smashed = []
        for page, entry in smashed_raw.items():
            if page not in PAGE_SIZES or entry not in PAGE_SIZES or entry not in sizes:
                reader.fail(f"{dotted}.smashed.{page}",
                            "must map a page size to a smaller size this array holds")
            if PAGE_SIZES[entry] >= PAGE_SIZES[page] or page in sizes:
                reader.fail(f"{dotted}.smashed.{page}",
                            f"{page} is held natively or {entry} is not smaller")
            smashed.append((page, entry))
        arrays.append(TlbArray(
            sizes=tuple(s for s in PAGE_SIZES if s in sizes),
            entries=entries,
            ways=ways,
            smashed=tuple(smashed),
            fact=reader.fact(table, dotted, "entries", entries),
        ))
    level = TlbLevel(key=key, arrays=tuple(arrays))
    for size in PAGE_SIZES:
        if not any(size in a.held_sizes for a in arrays):
            reader.fail(key, f"no array mentions {size} pages; add one (entries = 0 with its "
                             f"source when the level does not hold them)")
    names = [a.symbol_name for a in arrays]
    if len(set(names)) != len(names):
        reader.fail(key, "two arrays hold the same page sizes; merge them")
    return level


def _read_cpu(path: Path, data: dict) -> Cpu:
    reader = _Reader(path)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        reader.fail(unknown[0], f"unknown key; allowed: {', '.join(sorted(_TOP_KEYS))}")
    schema = reader.value(data, "schema", "schema", int)
    if schema != SCHEMA_VERSION:
        reader.fail("schema", f"version {schema} is not supported; this ptcalc reads "
                              f"{SCHEMA_VERSION}")
    name = reader.value(data, "name", "name", str)
    if name != path.stem:
        reader.fail("name", f"{name!r} must equal the file name {path.stem!r}")
    vendor = reader.value(data, "vendor", "vendor", str)
    if vendor not in VENDORS:
        reader.fail("vendor", f"{vendor!r} is not one of {', '.join(VENDORS)}")
    aliases = reader.string_list(data, "aliases", "aliases", required=False)
    match = _read_match(reader, data)
    if match.vendor_id != VENDORS[vendor]:
        reader.fail("match.vendor_id", f"{match.vendor_id!r} does not fit vendor {vendor!r} "
                                       f"(expected {VENDORS[vendor]!r})")

    walkers_table = reader.check_table(data.get("page_walkers"), "page_walkers", _WALKER_KEYS)
    count = reader.value(walkers_table, "count", "page_walkers.count", int, required=False)
    if count is not None and count <= 0:
        reader.fail("page_walkers.count", f"must be positive, not {count}")
    walkers = reader.fact(walkers_table, "page_walkers", "count", count)
    if count is None and walkers.evidence != "UNCONFIRMED":
        reader.fail("page_walkers.count", "missing (omit it only with evidence = "
                                          "\"UNCONFIRMED\")")
    if count is not None and walkers.evidence == "UNCONFIRMED":
        reader.fail("page_walkers.evidence", "UNCONFIRMED facts carry no value; drop count or "
                                             "give its evidence class")

    five_table = reader.check_table(data.get("five_level_paging"), "five_level_paging",
                                    _FIVE_LEVEL_KEYS)
    supported = reader.value(five_table, "supported", "five_level_paging.supported", bool)

    llc_table = reader.check_table(data.get("llc"), "llc", _LLC_KEYS)
    llc_bytes = reader.non_negative(llc_table, "bytes", "llc.bytes")
    if llc_bytes <= 0:
        reader.fail("llc.bytes", "must be positive")
    domain = reader.non_negative(llc_table, "domain_bytes", "llc.domain_bytes", required=False)
    if domain is not None and not 0 < domain <= llc_bytes:
        reader.fail("llc.domain_bytes", f"must be in 1..llc.bytes ({llc_bytes}), not {domain}")

    return Cpu(
        name=name,
        title=reader.value(data, "title", "title", str),
        vendor=vendor,
        core=reader.value(data, "core", "core", str),
        aliases=tuple(a.lower() for a in aliases),
        path=str(path),
        match=match,
        l1_dtlb=_read_level(reader, data, "l1_dtlb"),
        l2_tlb=_read_level(reader, data, "l2_tlb"),
        page_walkers=walkers,
        five_level_paging=reader.fact(five_table, "five_level_paging", "supported", supported),
        llc=reader.fact(llc_table, "llc", "bytes", llc_bytes),
        llc_sku=reader.value(llc_table, "sku", "llc.sku", str),
        llc_domain_bytes=domain,
    )


# --------------------------------------------------------------------------------------------
# Loading


def cpus_dir() -> Path:
    """The directory holding the CPU files (installed package or source checkout)."""
    from ptcalc.data import models_path

    return models_path("cpus")


def load_cpu_file(path: str | Path) -> Cpu:
    """Load and validate one CPU file; CpuDataError names the file and the key."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise CpuDataError(f"{path}: file not found") from None
    except OSError as error:
        raise CpuDataError(f"{path}: cannot be read: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise CpuDataError(f"{path}: not valid TOML: {error}") from None
    return _read_cpu(path, data)


@cache
def _load_dir(directory: str) -> tuple[Cpu, ...]:
    root = Path(directory)
    files = sorted(root.glob("*.toml"))
    if not files:
        raise CpuDataError(f"{root}: no CPU files (*.toml) found")
    cpus = [load_cpu_file(path) for path in files]
    seen: dict[str, str] = {}
    for cpu in cpus:
        for key in (cpu.name, *cpu.aliases):
            if key in seen and seen[key] != cpu.name:
                raise CpuDataError(f"{cpu.path}: key 'aliases': {key!r} is also a name or "
                                   f"alias of {seen[key]!r}")
            seen[key] = cpu.name

    def order(cpu: Cpu):
        return (list(VENDORS).index(cpu.vendor), cpu.match.family, min(cpu.match.models))

    return tuple(sorted(cpus, key=order))


@cache
def _load_one(path: str) -> Cpu:
    return load_cpu_file(path)


def _is_file_stem(key: str) -> bool:
    return key.replace("-", "").replace("_", "").isalnum() and key.isascii()


def all_cpus(directory: str | Path | None = None) -> tuple[Cpu, ...]:
    """Every listed CPU, validated, Intel then AMD, oldest first."""
    return _load_dir(str(directory if directory is not None else cpus_dir()))


def cpu_names(directory: str | Path | None = None) -> list[str]:
    """Names accepted by --cpu (besides aliases and 'host'), Intel then AMD, oldest first."""
    return [cpu.name for cpu in all_cpus(directory)]


def load_cpu(name: str, directory: str | Path | None = None) -> Cpu:
    """The listed CPU called `name` (file stem or alias, case-insensitive).

    Raises InputError with one line listing the known names when there is no such CPU.
    """
    key = str(name).strip().lower()
    root = Path(directory if directory is not None else cpus_dir())
    # a CPU's name is its file stem: read that one file rather than the whole directory
    # (most of what --cpu added to start-up); aliases and unknown names read them all
    if _is_file_stem(key) and (root / f"{key}.toml").is_file():
        return _load_one(str(root / f"{key}.toml"))
    cpus = all_cpus(root)
    for cpu in cpus:
        if key == cpu.name or key in cpu.aliases:
            return cpu
    known = ", ".join(cpu.name for cpu in cpus)
    raise InputError(f"unknown CPU {name!r}; known CPUs: {known} (or 'host' to detect)")


def summary_lines(directory: str | Path | None = None) -> list[str]:
    """One line per listed CPU, for `ptcalc cpus`."""
    return [cpu.summary_line() for cpu in all_cpus(directory)]



def detect_host_cpu(cpuinfo_text: str | None = None,
                    directory: str | Path | None = None) -> tuple[str, str]:
    """Pick the listed CPU closest to this host (or to `cpuinfo_text`) and say why
    (``ptcalc.cpus.detect.pick_host_cpu`` gives the order of preference)."""
    if cpuinfo_text is None:
        try:
            cpuinfo_text = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError as error:
            return DEFAULT_CPU, (f"cannot read /proc/cpuinfo ({error.strerror or error}); "
                                 f"using the default CPU {DEFAULT_CPU}")
    return pick_host_cpu(all_cpus(directory), cpuinfo_text)


def resolve_cpu(name: str | None,
                directory: str | Path | None = None) -> tuple[Cpu, str | None]:
    """`--cpu NAME` to a Cpu: None means DEFAULT_CPU, 'host' detects (with an explanation)."""
    if name is None:
        return load_cpu(DEFAULT_CPU, directory), None
    if str(name).strip().lower() == "host":
        chosen, explanation = detect_host_cpu(directory=directory)
        return load_cpu(chosen, directory), explanation
    return load_cpu(name, directory), None


__all__ = ["DEFAULT_CPU", "EVIDENCE_CLASSES", "PAGE_SIZES", "SCHEMA_VERSION", "TLB_LEVELS",
           "VENDORS", "Alternative", "Cpu", "CpuDataError", "CpuMatch", "Fact", "TlbArray",
           "TlbLevel", "all_cpus", "cpu_names", "cpus_dir", "detect_host_cpu", "load_cpu",
           "load_cpu_file", "resolve_cpu", "summary_lines"]

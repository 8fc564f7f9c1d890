"""CPU TLB data: load and validate models/cpus/*.toml, list them, detect the host CPU.

Each file describes one core generation (schema: models/cpus/README.md).  Every number in it
carries an evidence class and source URLs; loading checks types, ranges, required keys and
unknown keys, and every error names the file and the dotted key.  Nothing is read at import
time; files are parsed on first use and cached.

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
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ptcalc.errors import InputError
from ptcalc.paging import HUGE_1G_BYTES, HUGE_2M_BYTES, PAGE_BYTES

#: The CPU used when the user names none: Skylake-SP / Cascade Lake is the most widely deployed
#: server core of the listed ones (and still common in clouds), and every number it uses is
#: CPUID- or vendor-documented with no open conflict on entry counts.
DEFAULT_CPU = "skylake-sp"

#: Page-size keys used in the data files, smallest first, and their sizes in bytes.
PAGE_SIZES: dict[str, int] = {"4k": PAGE_BYTES, "2m": HUGE_2M_BYTES, "1g": HUGE_1G_BYTES}

#: Evidence classes (models/cpus/README.md explains each).
EVIDENCE_CLASSES = ("DOC", "CPUID", "MEAS", "SEC", "CODE", "DERIVED", "UNCONFIRMED")

TLB_LEVELS = ("l1_dtlb", "l2_tlb")
VENDORS = {"intel": "GenuineIntel", "amd": "AuthenticAMD"}
SCHEMA_VERSION = 1


class CpuDataError(InputError):
    """A data file in models/cpus is missing, unreadable or invalid; the message names the
    file and the key."""


# --------------------------------------------------------------------------------------------
# Data classes (frozen, hashable: a Cpu can key a cache of compiled formulas)


@dataclass(frozen=True)
class Alternative:
    """A value another source gives for the same fact, kept for the record."""

    values: tuple[tuple[str, object], ...]   # e.g. (("entries", 64), ("ways", 4))
    evidence: str
    source: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Fact:
    """One sourced fact: its value, evidence class, source URLs, and any conflicting values."""

    key: str                     # dotted key in the file, e.g. "l2_tlb[0].entries"
    value: object
    evidence: str
    source: tuple[str, ...]
    note: str = ""
    alternatives: tuple[Alternative, ...] = ()
    why: str = ""


@dataclass(frozen=True)
class TlbArray:
    """One physical TLB array: the page sizes it holds and its entry count.

    An array listing several sizes is one pool shared by them (e.g. an STLB for 4K and 2M).
    `smashed` maps a page size to the smaller entry size it is cached as (Zen 2's L2 holds a
    1 GiB page as 2 MiB entries).
    """

    sizes: tuple[str, ...]
    entries: int
    ways: int | str | None
    smashed: tuple[tuple[str, str], ...]
    fact: Fact

    @property
    def held_sizes(self) -> tuple[str, ...]:
        """Every page size this array can translate, natively or smashed, smallest first."""
        held = set(self.sizes) | {size for size, _ in self.smashed}
        return tuple(size for size in PAGE_SIZES if size in held)

    def granule_bytes(self, size: str) -> int | None:
        """Bytes one entry covers for pages of `size`; None when the array cannot hold them."""
        if size in self.sizes:
            return PAGE_SIZES[size]
        for page, entry in self.smashed:
            if page == size:
                return PAGE_SIZES[entry]
        return None

    @property
    def pooled(self) -> bool:
        return len(self.held_sizes) > 1

    @property
    def symbol_name(self) -> str:
        """Name of this array's entry count in formulas, e.g. l2_entries_4k_2m."""
        return "entries_" + "_".join(self.sizes)


@dataclass(frozen=True)
class TlbLevel:
    """The arrays of one TLB level (l1_dtlb or l2_tlb)."""

    key: str
    arrays: tuple[TlbArray, ...]

    def arrays_for(self, size: str) -> tuple[TlbArray, ...]:
        return tuple(a for a in self.arrays if a.granule_bytes(size) is not None and a.entries)

    def entries_for(self, size: str) -> int:
        """Entries usable by pages of `size` (all of a pool serves each of its sizes)."""
        return sum(a.entries for a in self.arrays_for(size))

    def reach_bytes(self, size: str) -> int:
        """Bytes mapped when every usable entry holds a `size` page: entries x bytes per entry."""
        return sum(a.entries * a.granule_bytes(size) for a in self.arrays_for(size))

    def describe(self) -> str:
        """Short text: '4K 64, 2M 32, 1G 4' or '4K+2M 1536 (pool), 1G 16'."""
        parts = []
        for a in self.arrays:
            text = f"{'+'.join(s.upper() for s in a.sizes)} {a.entries}"
            if len(a.sizes) > 1:
                text += " (pool)"
            for page, entry in a.smashed:
                text += f" [{page.upper()} as {entry.upper()}]"
            parts.append(text)
        return ", ".join(parts)


@dataclass(frozen=True)
class CpuMatch:
    """What `--cpu host` compares with /proc/cpuinfo."""

    vendor_id: str
    family: int
    models: tuple[int, ...]
    generation_models: tuple[tuple[int, int], ...]
    related_models: tuple[tuple[int, int], ...]
    model_name_patterns: tuple[str, ...]
    fact: Fact

    @staticmethod
    def _in(ranges: tuple[tuple[int, int], ...], model: int) -> bool:
        return any(lo <= model <= hi for lo, hi in ranges)

    def is_model(self, model: int) -> bool:
        return model in self.models

    def is_generation(self, model: int) -> bool:
        return self._in(self.generation_models, model)

    def is_related(self, model: int) -> bool:
        return self._in(self.related_models, model)

    def name_matches(self, model_name: str) -> str | None:
        for pattern in self.model_name_patterns:
            if re.search(pattern, model_name):
                return pattern
        return None


@dataclass(frozen=True)
class Cpu:
    """One listed CPU, validated."""

    name: str
    title: str
    vendor: str
    core: str
    aliases: tuple[str, ...]
    path: str
    match: CpuMatch
    l1_dtlb: TlbLevel
    l2_tlb: TlbLevel
    page_walkers: Fact             # value: int, or None when UNCONFIRMED
    five_level_paging: Fact        # value: bool (LA57)
    llc: Fact                      # value: bytes per socket of the reference SKU
    llc_sku: str
    llc_domain_bytes: int | None

    @property
    def llc_bytes(self) -> int:
        return self.llc.value

    @property
    def supports_five_level(self) -> bool:
        return bool(self.five_level_paging.value)

    def level(self, key: str) -> TlbLevel:
        if key not in TLB_LEVELS:
            raise KeyError(f"{key!r} is not a TLB level; use one of {', '.join(TLB_LEVELS)}")
        return getattr(self, key)

    def facts(self) -> tuple[Fact, ...]:
        """Every sourced fact in the file."""
        arrays = tuple(a.fact for lvl in (self.l1_dtlb, self.l2_tlb) for a in lvl.arrays)
        return (self.match.fact, *arrays, self.page_walkers, self.five_level_paging, self.llc)

    def conflicts(self) -> tuple[Fact, ...]:
        """Facts where sources disagree (each says the value used and why)."""
        return tuple(f for f in self.facts() if f.alternatives)

    def summary_line(self) -> str:
        from ptcalc.units import format_size

        walkers = self.page_walkers.value
        walkers_text = ("page walkers unconfirmed" if walkers is None
                        else f"{walkers} page walker{'s' if walkers != 1 else ''}")
        return (
            f"{self.name}: {self.title}; L1 DTLB {self.l1_dtlb.describe()}; "
            f"L2 TLB {self.l2_tlb.describe()}; {walkers_text}; "
            f"5-level {'yes' if self.supports_five_level else 'no'}; "
            f"LLC {format_size(self.llc_bytes)} on {self.llc_sku}"
        )


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
    cpus = all_cpus(directory)
    for cpu in cpus:
        if key == cpu.name or key in cpu.aliases:
            return cpu
    known = ", ".join(cpu.name for cpu in cpus)
    raise InputError(f"unknown CPU {name!r}; known CPUs: {known} (or 'host' to detect)")


def summary_lines(directory: str | Path | None = None) -> list[str]:
    """One line per listed CPU, for `ptcalc cpus`."""
    return [cpu.summary_line() for cpu in all_cpus(directory)]


# --------------------------------------------------------------------------------------------
# Host detection


def _parse_cpuinfo(text: str) -> dict[str, str]:
    """Fields of the first processor block of /proc/cpuinfo."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    return fields


def _as_int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def detect_host_cpu(cpuinfo_text: str | None = None,
                    directory: str | Path | None = None) -> tuple[str, str]:
    """Pick the listed CPU closest to this host (or to `cpuinfo_text`) and say why.

    Order of preference: exact family/model of the listed core; a model of the same core
    generation (Linux's tables); the model-name pattern; a related part whose nearest listed
    core it is; the same vendor's listed CPU with the nearest model number; else DEFAULT_CPU.
    """
    if cpuinfo_text is None:
        try:
            cpuinfo_text = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError as error:
            return DEFAULT_CPU, (f"cannot read /proc/cpuinfo ({error.strerror or error}); "
                                 f"using the default CPU {DEFAULT_CPU}")
    info = _parse_cpuinfo(cpuinfo_text)
    vendor = info.get("vendor_id", "")
    family = _as_int(info.get("cpu family"))
    model = _as_int(info.get("model"))
    model_name = info.get("model name", "")
    flags = set(info.get("flags", "").split())
    described = (f"{vendor or 'unknown vendor'} family {family if family is not None else '?'}"
                 + (f" model {model} (0x{model:02x})" if model is not None else "")
                 + (f", {model_name!r}" if model_name else ""))
    vm_note = ("; note: running under a hypervisor, consider --virtualized"
               if "hypervisor" in flags else "")
    cpus = all_cpus(directory)
    same_family = [c for c in cpus if c.match.vendor_id == vendor and c.match.family == family]

    def answer(cpu: Cpu, why: str) -> tuple[str, str]:
        return cpu.name, f"host is {described}: {why}{vm_note}"

    if model is not None:
        for cpu in same_family:
            if cpu.match.is_model(model):
                return answer(cpu, f"{cpu.name} lists this model ({cpu.title})")
        for cpu in same_family:
            if cpu.match.is_generation(model):
                return answer(cpu, f"the model is a {cpu.core} part, listed as {cpu.name}")
    for cpu in cpus:
        pattern = cpu.match.name_matches(model_name) if cpu.match.vendor_id == vendor else None
        if pattern:
            return answer(cpu, f"the model name matches {cpu.name} ({cpu.title})")
    if model is not None:
        for cpu in same_family:
            if cpu.match.is_related(model):
                return answer(cpu, f"not listed; {cpu.name} ({cpu.core}) is the closest "
                                   f"listed core")
    same_vendor = [c for c in cpus if c.match.vendor_id == vendor]
    if same_vendor and family is not None and model is not None:
        target = family * 256 + model

        def distance(cpu: Cpu) -> int:
            return min(abs(cpu.match.family * 256 + m - target) for m in cpu.match.models)

        cpu = min(same_vendor, key=distance)
        return answer(cpu, f"no listed CPU matches; {cpu.name} has the nearest family/model "
                           f"number (a guess: check `ptcalc cpus`)")
    return DEFAULT_CPU, (f"host is {described}: no listed CPU of this vendor; using the "
                         f"default CPU {DEFAULT_CPU}{vm_note}")


def resolve_cpu(name: str | None,
                directory: str | Path | None = None) -> tuple[Cpu, str | None]:
    """`--cpu NAME` to a Cpu: None means DEFAULT_CPU, 'host' detects (with an explanation)."""
    if name is None:
        return load_cpu(DEFAULT_CPU, directory), None
    if str(name).strip().lower() == "host":
        chosen, explanation = detect_host_cpu(directory=directory)
        return load_cpu(chosen, directory), explanation
    return load_cpu(name, directory), None

"""CPU TLB descriptions: the frozen data classes a models/cpus/*.toml file is read into, and
the constants of the file format (schema: models/cpus/README.md).  ``ptcalc.cpus.load`` reads
and validates the files; ``ptcalc.cpus.detect`` picks the one closest to the host."""

from __future__ import annotations

import re
from dataclasses import dataclass

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


"""The strategy catalogue: one sympy-free record per strategy, the one home of its facts.

Everything a reader, the CLI, the probe, the plots or the sizing report needs to know about a
strategy besides its formulas lives here: its stable name, what it shares, the rule the
formulas implement, the sources (each one a URL or a kernel file a reader can open), the leaf
sizes it maps, where it stands upstream (in mainline Linux since a release, or a posted RFC,
or a proposal without code), the probe backings that can measure it on a live kernel, and
how the plots draw it.  The formulas themselves are in ptcalc/model/strategies/<name>.py.

Importing this module loads nothing but the standard library (`ptcalc strategies` stays
fast).  Names are stable: they appear in the CLI, JSON and DataFrames.
"""

from __future__ import annotations

from dataclasses import dataclass

from ptcalc.errors import InputError
from ptcalc.paging import HUGE_1G_BYTES, HUGE_2M_BYTES, PAGE_BYTES

#: Leaf page sizes by key, smallest first (the keys of mapped_<key>_bytes and models/cpus).
LEAF_BYTES = {"4k": PAGE_BYTES, "2m": HUGE_2M_BYTES, "1g": HUGE_1G_BYTES}

#: Upstream status kinds: merged, posted as patches but not merged, discussed without code.
UPSTREAM_KINDS = ("mainline", "rfc", "proposal", "prototype")


def lore(message_id: str) -> str:
    """The lore.kernel.org address of a mailing-list message."""
    return f"https://lore.kernel.org/all/{message_id}/"


def kernel_file(path: str) -> str:
    """The address of a file in the mainline kernel tree."""
    return f"https://github.com/torvalds/linux/blob/master/{path}"


@dataclass(frozen=True)
class Upstream:
    """Where a strategy stands in Linux.

    kind: one of UPSTREAM_KINDS.  mainline: `since` is the first release that has it (None for
    the default behaviour of every kernel).  rfc/prototype: `posted` (YYYY-MM) and `posting`
    (the address of the posting) of the version the model follows; proposal: the message
    that proposed it.
    """

    kind: str
    since: str | None = None
    posted: str | None = None
    posting: str | None = None
    note: str = ""

    @property
    def in_mainline(self) -> bool:
        return self.kind == "mainline"

    def summary(self) -> str:
        """One phrase, e.g. 'mainline since 2.6.20' or 'RFC posted 2022-12, not merged'."""
        if self.kind == "mainline":
            text = f"mainline since {self.since}" if self.since else "mainline"
        else:
            label = {"rfc": "RFC", "proposal": "proposal", "prototype": "prototype"}[self.kind]
            text = f"{label} posted {self.posted}" if self.posted else label
            text += ", not merged"
        return f"{text} ({self.note})" if self.note else text

    def as_dict(self) -> dict:
        out = {"kind": self.kind}
        for key in ("since", "posted", "posting", "note"):
            value = getattr(self, key)
            if value:
                out[key] = value
        return out


@dataclass(frozen=True)
class Strategy:
    """One strategy: its facts besides the formulas (see the module docstring)."""

    name: str
    shared: str                          # what is shared, one phrase
    rule: str                            # the rule the formulas implement
    sources: tuple[tuple[str, str], ...]   # (what, address a reader can open)
    leaf_sizes: tuple[str, ...]          # keys of LEAF_BYTES this strategy maps, smallest first
    upstream: Upstream
    probe_backings: tuple[str, ...] = ()   # first = the default; () = cannot be measured here
    hugetlb_page: str | None = None      # hugetlb page size key: pages to reserve
    one_mm: bool = False                 # every sharer is a thread of one mm
    plot_style: tuple[str, str, str] = ("#333333", "-", "o")   # colour, line style, marker

    @property
    def source(self) -> str:
        """The sources as one line (the `source` field of `ptcalc strategies`)."""
        return "; ".join(f"{what} ({address})" for what, address in self.sources)

    @property
    def layout_rule(self) -> str:
        """How the rule extends to host layouts (several regions, groups, fork)."""
        return LAYOUT_RULES.get(self.name, ONE_REGION_LAYOUT_RULE)

    @property
    def hugetlb_page_bytes(self) -> int | None:
        return LEAF_BYTES[self.hugetlb_page] if self.hugetlb_page else None

    def as_dict(self) -> dict:
        """JSON form (`ptcalc strategies --format json`)."""
        return {"name": self.name, "shared": self.shared, "rule": self.rule,
                "source": self.source,
                "sources": [{"what": what, "address": address} for what, address in self.sources],
                "upstream": self.upstream.as_dict(), "layouts": self.layout_rule,
                "leaf_sizes": list(self.leaf_sizes),
                "probe_backings": list(self.probe_backings)}


_MSHARE_COVER = "cover.1642526745.git.khalid.aziz@oracle.com"
_HUGETLB_DOC = "https://docs.kernel.org/admin-guide/mm/hugetlbpage.html"
_PTSHARE_RFC = "cover.1670287695.git.khalid.aziz@oracle.com"
_FILE_PT_PROPOSAL = "397f3cb2-1351-afcf-cd87-e8f9fb482059@redhat.com"
_MSHARE_V3 = "20250820010415.699353-1-anthony.yznaga@oracle.com"
_PUD_THP_RFC = "20260202005451.774496-1-usamaarif642@gmail.com"
_PTSHARE_2026 = ("https://github.com/Kalesh-Singh/linux/blob/"
                 "00158c3ee2dae9c83e6060e917d1c242f23e8eac/mm/ptshare.c")
_FAULTAROUND_PATCH = "20250923110310.689126-5-kirill@shutemov.name"
#: shmem multi-size THP folio sizes (strategy suffix, KiB, plot colour).
_MTHP_SIZES = (("8k", 8, "#fdd0a2"), ("16k", 16, "#fdae6b"), ("32k", 32, "#fd8d3c"),
               ("64k", 64, "#f16913"), ("128k", 128, "#d94801"), ("256k", 256, "#a63603"),
               ("512k", 512, "#7f2704"), ("1m", 1024, "#4a1486"))
#: shmem mTHP strategy name -> folio bytes.
MTHP_FOLIO_BYTES = {f"thp-shmem-{suffix}": kib * 1024 for suffix, kib, _ in _MTHP_SIZES}


def _mthp(name: str, kib: int, colour: str) -> Strategy:
    """The record of shmem mTHP with folios of `kib` KiB (formulas: model/strategies/folios.py)."""
    return Strategy(
        name=f"thp-shmem-{name}",
        shared=f"nothing ({kib} KiB folios stay PTE-mapped: the tables of 4 KiB pages)",
        rule=f"shared anonymous memory with hugepages-{kib}kB/shmem_enabled on: a {kib} KiB "
             f"folio is used where VA = file offset (mod {kib} KiB) and the aligned folio lies "
             "inside the mapping (a start not so aligned gets 4 KiB pages throughout); page "
             "tables as for 4 KiB pages; a fault maps the whole folio (first toucher and later "
             "writers: one fault per folio); a later reader's fault-around maps cached folios "
             "whole, so one fault per folio when it is at least fault_around_bytes, else one "
             "per window (kernels without whole-folio fault-around: one per window always). "
             "TLB: 4 KiB entries (AMD PTE coalescing is not in the CPU data)",
        sources=(("mm/shmem.c shmem_allowable_huge_orders(), shmem_suitable_orders()",
                  kernel_file("mm/shmem.c")),
                 ("mm/memory.c finish_fault(): maps the whole large folio",
                  kernel_file("mm/memory.c")),
                 (("commit e7a2ab7b3bb5 'mm: shmem: add mTHP support for anonymous shmem' "
                   "(Baolin Wang, Linux 6.11)"),
                  "https://github.com/torvalds/linux/commit/e7a2ab7b3bb5"),
                 (("Kiryl Shutsemau, 'mm/filemap: Map entire large folio faultaround' (in the "
                   "6.18 kernel the probe measured)"), lore(_FAULTAROUND_PATCH)),
                 ("Documentation/admin-guide/mm/transhuge.rst",
                  "https://docs.kernel.org/admin-guide/mm/transhuge.html")),
        leaf_sizes=("4k",),
        upstream=Upstream("mainline", since="6.11",
                          note="per-size hugepages-<size>kB/shmem_enabled"),
        probe_backings=("mthp",),
        plot_style=(colour, ":", "v"),
    )

# In the order results are shown.
STRATEGIES: tuple[Strategy, ...] = (
    Strategy(
        name="private-4k",
        shared="nothing (data pages only)",
        rule="4 KiB PTEs; each process allocates the PTE, PMD and PUD tables covering the pages "
             "it touches: ceil((s+L)/g) - floor(s/g) tables of span g per level",
        sources=(("include/linux/mm.h mm_inc_nr_ptes/pmds/puds",
                  kernel_file("include/linux/mm.h")),
                 ("mshare cover letter, for the 878 GB case", lore(_MSHARE_COVER))),
        leaf_sizes=("4k",),
        upstream=Upstream("mainline", note="the default for MAP_SHARED mappings"),
        probe_backings=("anon", "file", "memfd"),
        plot_style=("#d62728", "-", "o"),
    ),
    Strategy(
        name="thp-shmem",
        shared="nothing (PMD-mapped 2 MiB folios need no PTE table)",
        rule="a 2 MiB folio is PMD-mapped only where VA = file offset (mod 2 MiB) and the "
             "aligned 2 MiB lies inside the mapping; with the file mapped from offset 0 that is "
             "every full 2 MiB when the start is 2 MiB-aligned, else nothing; the rest uses "
             "4 KiB PTEs. (A scenario maps the region from file offset 0; a layout's "
             "file_offset models a file mapped from an offset congruent to its address mod "
             "2 MiB, which gets huge pages in the middle.)",
        sources=(("include/linux/huge_mm.h thp_vma_suitable_order()",
                  kernel_file("include/linux/huge_mm.h")),
                 ("mm/shmem.c shmem_allowable_huge_orders()", kernel_file("mm/shmem.c")),
                 ("Documentation/admin-guide/mm/transhuge.rst",
                  "https://docs.kernel.org/admin-guide/mm/transhuge.html")),
        leaf_sizes=("4k", "2m"),
        upstream=Upstream("mainline", since="4.8",
                          note="huge pages on tmpfs/shmem: https://kernelnewbies.org/Linux_4.8"),
        probe_backings=("thp",),
        plot_style=("#ff7f0e", "--", "v"),
    ),
    *(_mthp(name, kib, colour) for name, kib, colour in _MTHP_SIZES),
    Strategy(
        name="thp-shmem-1g",
        shared="nothing (PUD-mapped 1 GiB folios need no PMD or PTE table)",
        rule="proposal: where the start is 1 GiB-aligned (VA = file offset mod 1 GiB) every "
             "whole GiB is one PUD-mapped shmem folio: no PMD or PTE table, one fault per GiB "
             "per process; the rest follows thp-shmem (2 MiB PMD-mapped where aligned, then "
             "4 KiB). Not counted: the page-table deposit a splittable PUD THP would keep "
             "(1 PMD + 512 PTE tables, about 2 MiB per folio), whose need is disputed in review",
        sources=(("Usama Arif, RFC: 1 GiB THP, 2026-02", lore(_PUD_THP_RFC)),
                 ("David Hildenbrand: start with shared memory, a shmem mount option",
                  lore("ee5bd77f-87ad-4640-a974-304b488e4c64@kernel.org")),
                 (("LWN, 'Scaling transparent huge pages to 1GB' (LSF/MM/BPF 2026): the "
                   "deposit and a first version on shared memory only"),
                  "https://lwn.net/Articles/1071716/")),
        leaf_sizes=("4k", "2m", "1g"),
        upstream=Upstream("rfc", posted="2026-02", posting=lore(_PUD_THP_RFC),
                          note="shared memory first, suggested at LSF/MM/BPF 2026"),
        plot_style=("#e377c2", "--", "D"),
    ),
    Strategy(
        name="hugetlb-2m",
        shared="nothing",
        rule="leaf entries in the PMD: no PTE tables; one PMD table per 1 GiB slot and one PUD "
             "table per 512 GiB slot per process; one fault per 2 MiB page per process",
        sources=(("mm/hugetlb.c huge_pte_alloc()", kernel_file("mm/hugetlb.c")),
                 ("Documentation/admin-guide/mm/hugetlbpage.rst", _HUGETLB_DOC)),
        leaf_sizes=("2m",),
        upstream=Upstream("mainline", since="2.6.0", note="hugetlbfs"),
        probe_backings=("hugetlb-anon", "hugetlb-memfd", "hugetlbfs"),
        hugetlb_page="2m",
        plot_style=("#bcbd22", ":", "^"),
    ),
    Strategy(
        name="hugetlb-2m-pmdshare",
        shared="PMD tables of 1 GiB slots fully inside the mapping",
        rule="want_pmd_share(): the whole PUD-aligned 1 GiB range must lie in the VMA (rounded "
             "up to 2 MiB pages); such a slot's PMD table is allocated once and linked by every "
             "sharer, which is still charged 4 KiB in VmPTE (mm_inc_nr_pmds); partial slots "
             "stay private; a later process takes one fault per shared slot, then sees its "
             "pages. huge_pmd_share() links only a table another live mapping holds: the "
             "counts assume earlier processes still map the region (measured: a process "
             "mapping it alone, after the first exited, faults once per 2 MiB page again)",
        sources=(("mm/hugetlb.c huge_pmd_share(), want_pmd_share(), page_table_shareable()",
                  kernel_file("mm/hugetlb.c")),
                 ("commit 39dde65c9940 'shared page table for hugetlb page' (2006)",
                  "https://github.com/torvalds/linux/commit/39dde65c9940")),
        leaf_sizes=("2m",),
        upstream=Upstream("mainline", since="2.6.20", note="MAP_SHARED hugetlb mappings"),
        probe_backings=("hugetlb-memfd", "hugetlb-anon", "hugetlbfs"),
        hugetlb_page="2m",
        plot_style=("#2ca02c", "-", "s"),
    ),
    Strategy(
        name="hugetlb-1g",
        shared="nothing (PUD leaves are never shared)",
        rule="leaf entries in the PUD: no PMD or PTE tables; one PUD table per 512 GiB slot "
             "per process; one fault per 1 GiB page per process",
        sources=(("mm/hugetlb.c huge_pte_alloc() (sz == PUD_SIZE)", kernel_file("mm/hugetlb.c")),
                 ("Documentation/admin-guide/mm/hugetlbpage.rst", _HUGETLB_DOC)),
        leaf_sizes=("1g",),
        upstream=Upstream("mainline", since="2.6.27",
                          note="1 GiB pages on x86-64: https://kernelnewbies.org/Linux_2_6_27"),
        probe_backings=("hugetlb-memfd", "hugetlb-anon", "hugetlbfs"),
        hugetlb_page="1g",
        plot_style=("#17becf", "-.", "D"),
    ),
    Strategy(
        name="ptshare",
        shared="PTE tables, held by a host mm",
        rule="the 2022-23 MAP_SHARED_PT RFC: start and size 2 MiB-aligned, same VA in every "
             "process; the host mm holds the PTE tables (and its own PMD and PUD tables); each "
             "process keeps private PMD and PUD tables whose entries point at the host's PTE "
             "tables, and is charged only those; a process takes one link fault per 2 MiB "
             "slot, the first also one per page. (ptshare-2026 is the 2026 code, which charges "
             "every sharer; a downstream CONFIG_PAGETABLE_SHARE of this lineage charges the "
             "guest's RSS instead of VmPTE: not modelled)",
        sources=(("MAP_SHARED_PT RFC, 2022-12", lore(_PTSHARE_RFC)),
                 ("RFC v2, 2023-04: set_pmd(guest, host)",
                  lore("cover.1682453344.git.khalid.aziz@oracle.com")),
                 (("the downstream CONFIG_PAGETABLE_SHARE (an Anolis-derived tree, "
                   "mm/pgtable_share.c: guest charged MM_SHMEMPAGES, not mm_inc_nr_ptes(); "
                   "whether OpenAnolis ships it is not confirmed)"),
                  "https://github.com/jeevandeepj994/anolis_perf")),
        leaf_sizes=("4k",),
        upstream=Upstream("rfc", posted="2022-12",
                          posting=lore(_PTSHARE_RFC),
                          note="MAP_SHARED_PT, RFC v2 2023-04"),
        plot_style=("#9467bd", "--", "P"),
    ),
    Strategy(
        name="ptshare-2026",
        shared="PTE tables, held by a shadow mm; every sharer charged",
        rule="mm/ptshare.c (2026): file mappings only, MAP_SHARED when writable and also "
             "read-only MAP_PRIVATE, MAP_FIXED, address and length 2 MiB-aligned (else not "
             "applicable), sharers are the creator and its fork children. A fault is handled "
             "in a shadow mm that holds the PTE tables (and its own PMD and PUD tables) and "
             "splices the shadow PTE table into the process's PMD entry in the same fault, "
             "with mm_inc_nr_ptes(): every sharer's VmPTE is charged each PTE table, as "
             "hugetlb charges a shared PMD table, while PageTables counts it once. The first "
             "toucher takes one fault per page, a later process one per 2 MiB slot. Same "
             "physical bytes as ptshare (the 2023 RFC, which charges only PMD and PUD tables). "
             "The closest existing code to file-pt: it shares PTE tables only (file-pt also "
             "PMD tables of whole 1 GiB slots), refuses unaligned mappings instead of keeping "
             "partial slots private, and charges like file-pt. Operations (ptcalc op): "
             "munmap of the whole mapping detaches the process (no zap; free_pgtables() "
             "drops its references); the last sharer's unmap removes the shadow VMA, whose "
             "invalidation flushes every CPU (on_each_cpu IPI). Not modelled: mprotect, "
             "MADV_DONTNEED, a partial munmap (the code defines none), and a write GUP, "
             "which unshares the VMA by copying its tables",
        sources=((("mm/ptshare.c ptshare_validate_mmap(), ptshare_handle_mm_fault() "
                   "(Kalesh Singh, Google, 2026)"), _PTSHARE_2026),
                 ("Kalesh Singh on linux-mm, 2026-02-20: the Android Zygote use case",
                  lore("CAC_TJvcaJdEzK8n9BK0qgEXdzjzXtbA_Zk-ybfmG8kjNExVCzw@mail.gmail.com"))),
        leaf_sizes=("4k",),
        upstream=Upstream("prototype", posting=_PTSHARE_2026,
                          note="code in a public kernel tree, not posted to the lists"),
        plot_style=("#9467bd", ":", "p"),
    ),
    Strategy(
        name="file-pt",
        shared="PTE tables of full 2 MiB slots, PMD tables of full 1 GiB slots",
        rule="tables cached on the file are shared where the mapping covers their whole "
             "aligned slot (2 MiB for a PTE table, 1 GiB for a PMD table); partial slots stay "
             "private. Charging follows hugetlb: a process is charged each table it links "
             "itself (its PUD tables, one PMD table per 1 GiB slot, the PTE tables under its "
             "private PMD tables). A later process faults once per shared table it links, and "
             "per page (or fault-around window) in partial 2 MiB slots",
        sources=(("David Hildenbrand, 2022-07", lore(_FILE_PT_PROPOSAL)),
                 ("Kirill Shutemov, 2022-01",
                  lore("20220125135917.ezi6itozrchsdcxg@box.shutemov.name"))),
        leaf_sizes=("4k",),
        upstream=Upstream("proposal", posted="2022-07",
                          posting=lore(_FILE_PT_PROPOSAL),
                          note="proposed in review of mshare; no implementation posted"),
        plot_style=("#8c564b", "-", "X"),
    ),
    Strategy(
        name="mshare",
        shared="PUD, PMD and PTE tables, held by a host mm",
        rule="the region sits on a 512 GiB boundary (mshare_align = P4D_SIZE) whatever the "
             "offset asked for; the host mm holds every table below the top level; a process "
             "only links one top-level entry per 512 GiB slot and its VmPTE does not grow; a "
             "later process takes one link fault per slot, the first toucher one per page plus "
             "the links",
        sources=(("mshare v2, 2025-04", lore("20250404021902.48863-1-anthony.yznaga@oracle.com")),
                 ("mshare v3, 2025-08: set_p4d(guest, host)", lore(_MSHARE_V3))),
        leaf_sizes=("4k",),
        upstream=Upstream("rfc", posted="2025-08",
                          posting=lore(_MSHARE_V3),
                          note="v3; first posted 2022-01"),
        plot_style=("#1f77b4", "-", "*"),
    ),
    Strategy(
        name="threads",
        shared="everything (one mm_struct)",
        rule="one set of 4 KiB page tables for all threads; a later thread takes no fault on a "
             "page another thread mapped",
        sources=(("mshare cover letters: 'This issue does not apply to threads'",
                  lore(_MSHARE_COVER)),),
        leaf_sizes=("4k",),
        upstream=Upstream("mainline", note="threads share one mm"),
        probe_backings=("anon", "file", "memfd"),
        one_mm=True,
        plot_style=("#7f7f7f", ":", "h"),
    ),
)

CATALOG: dict[str, Strategy] = {strategy.name: strategy for strategy in STRATEGIES}
STRATEGY_NAMES: tuple[str, ...] = tuple(CATALOG)
BASELINE = "private-4k"
#: Strategies the probe can measure on this kernel (they have a backing).
MEASURABLE = tuple(s.name for s in STRATEGIES if s.probe_backings)
#: Strategies with hugetlb pages (pages to reserve): name -> page bytes.
HUGETLB_PAGE_BYTES = {s.name: s.hugetlb_page_bytes for s in STRATEGIES if s.hugetlb_page}


def strategy(name: str) -> Strategy:
    """The record of strategy `name`; InputError naming the known ones otherwise."""
    try:
        return CATALOG[name]
    except KeyError:
        raise InputError(f"unknown strategy {name!r}; known: {', '.join(STRATEGY_NAMES)}") \
            from None


# How each rule extends to a host layout (ptcalc.compute.host).  Common to all: one process's
# tables are the union of its regions' per span; groups start in order, a later one finds the
# page cache and shared tables the earlier ones left; private (MAP_PRIVATE anonymous) regions
# use 4 KiB pages under every strategy, and fork copies their tables when the parent wrote
# them (mm/memory.c vma_needs_copy()); shared regions are never copied at fork.
#: The strategies whose formulas exist for one region only (ptcalc.compute.host COMPARE_ONLY).
ONE_REGION_LAYOUT_RULE = ("modelled for one region only: a layout of one shared region mapped "
                          "by one group (no fork, baseline, file offset or independent pages) "
                          "gives the ptcalc compare row; any other layout shows it not "
                          "applicable")
LAYOUT_RULES = {
    "private-4k": "per process the union of its regions' tables; a later process reads the "
                  "pages already in the page cache one fault-around window at a time, the "
                  "others one page at a time",
    "thp-shmem": "a 2 MiB chunk is PMD-mapped where (address - file_offset) is 2 MiB-aligned "
                 "and the aligned chunk lies in the VMA (thp_vma_suitable_order()): one fault "
                 "per chunk per process; the rest as private-4k",
    "hugetlb-2m": "one fault per touched huge page per process; the region's file_offset must "
                  "be 2 MiB-aligned",
    "hugetlb-2m-pmdshare": "a full 1 GiB slot's PMD table is shared by the processes whose "
                           "(address - file_offset) is congruent mod 1 GiB "
                           "(page_table_shareable(): same pmd_index), whatever their address "
                           "mod 512 GiB; each congruence class has its own tables; linking an "
                           "existing table costs one fault, pages no one of the class mapped "
                           "one each; a forked child links again (nothing is copied)",
    "hugetlb-1g": "one fault per touched 1 GiB page per process; file_offset 1 GiB-aligned",
    "ptshare": "not in Linux; extended: one host mm per region holding the tables of every "
               "page any process touched (at the first mapper's address); every process links "
               "it once per 2 MiB slot it touches; a page no one touched yet faults once in "
               "the host",
    "file-pt": "not in Linux; extended as hugetlb PMD sharing: PMD tables of full 1 GiB slots "
               "are shared by processes whose (address - file_offset) is congruent mod 1 GiB, "
               "PTE tables of full 2 MiB slots by those congruent mod 2 MiB; pages not yet in "
               "a shared table fault as in private-4k",
    "mshare": "not in Linux; extended: each region is its own msharefs region on its own "
              "512 GiB boundary with a host mm; a process links once per 512 GiB slot; a page "
              "no one touched yet faults once in the host",
    "threads": "not a kernel mechanism but a program design; extended: each group is one "
               "process whose procs are threads (shared regions' tables once, each thread's "
               "private regions its own); a group forked from another stays processes",
}

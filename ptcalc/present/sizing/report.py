"""What a sizing report holds (``SizingReport``), the tables it shows, the sources it cites,
and the text helpers both renderers use (table cells, links, embedded images)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

from ptcalc import catalog

HTML_SUFFIXES = (".html", ".htm")
MARKDOWN_SUFFIXES = (".md", ".markdown")

MSHARE_COVER = "lore:cover.1642526745.git.khalid.aziz@oracle.com"

#: Sources every report cites (label, reference); strategy sources are added per strategy.
REFERENCES = (
    (("mshare RFC cover letter (Khalid Aziz, 2022): the 300 GB SGA x 1500 processes OOM, "
     "'878GB+ for just the PTEs'"), MSHARE_COVER),
    ("Linux kernel: HugeTLB Pages (nr_hugepages, hugepagesz=, hugepages=)",
     "https://docs.kernel.org/admin-guide/mm/hugetlbpage.html"),
    ("Linux kernel: Transparent Hugepage Support (shmem_enabled, tmpfs huge=)",
     "https://docs.kernel.org/admin-guide/mm/transhuge.html"),
    ("Linux kernel: /proc/meminfo PageTables and /proc/PID/status VmPTE",
     "https://docs.kernel.org/filesystems/proc.html"),
    ("PostgreSQL: Linux huge pages (shared_memory_size_in_huge_pages, vm.nr_hugepages)",
     "https://www.postgresql.org/docs/current/kernel-resources.html#LINUX-HUGE-PAGES"),
    ("PostgreSQL: shared_buffers and huge_pages",
     "https://www.postgresql.org/docs/current/runtime-config-resource.html"),
)

#: Strategies that exist in mainline Linux; the others are proposals (see their sources).
MERGED = tuple(s.name for s in catalog.STRATEGIES if s.upstream.in_mainline)

#: Columns of the main table: (column, header).
TABLE_COLUMNS = (
    ("strategy", "strategy"),
    ("leaf_page_bytes", "leaf page size"),
    ("pt_bytes_per_process", "page tables per process (VmPTE)"),
    ("pt_bytes_total", "page tables, all processes (PageTables)"),
    ("savings_vs_private_4k", "saving vs private-4k (%)"),
    ("max_procs", "most processes that fit in RAM"),
    ("huge_pages", "huge pages to reserve"),
    ("faults_first", "faults, first process"),
    ("faults_next", "faults, each later process"),
    ("tlb_coverage", "TLB coverage (% of the touched region)"),
)
LEVEL_COLUMNS = (
    ("strategy", "strategy"),
    ("pte_table_bytes", "PTE tables, all processes"),
    ("pmd_table_bytes", "PMD tables, all processes"),
    ("pud_table_bytes", "PUD tables, all processes"),
    ("p4d_table_bytes", "P4D tables, all processes"),
    ("faults_total", "faults, all processes"),
    ("tlb_reach_l1_bytes", "L1 TLB reach"),
    ("tlb_reach_l2_bytes", "L2 TLB reach"),
    ("walk_refs", "memory references per page walk"),
)


@dataclass
class ReportFigure:
    name: str          # file stem: page-tables, savings, faults, tlb
    title: str
    caption: str
    png: bytes


@dataclass
class ReportTable:
    title: str                  # a sub-heading
    headers: list[str]          # in words, with units
    rows: list[list[str]]       # cells as text; the first column is a label, the rest numbers
    notes: list[str] = field(default_factory=list)


@dataclass
class ReportSection:
    title: str
    intro: str                  # one paragraph; `code` spans allowed
    tables: list[ReportTable]
    notes: list[str] = field(default_factory=list)


@dataclass
class SizingReport:
    title: str
    description: str
    scenario_text: str
    inputs: list[tuple[str, str, str]]           # (name, value, source)
    results: object                              # DataFrame: compare() + max_procs, oom_procs
    findings: list[str]
    figures: list[ReportFigure]
    huge_pages: list[str]
    formulas: list[tuple[str, str]]              # (heading, text)
    strategies: list[tuple[str, str, str, str]]  # (name, status, shared, source)
    notes: list[str] = field(default_factory=list)
    command: str = ""
    recommendation: str = ""                     # one paragraph (present/narrative.py)
    generated: str = ""                          # UTC date the report was built
    formula_forms: list = field(default_factory=list)   # (heading, presentation Form)
    sections: list[ReportSection] = field(default_factory=list)   # after the huge pages
    table_columns: tuple = TABLE_COLUMNS       # the main table: (column, header)
    level_columns: tuple = LEVEL_COLUMNS       # the per-level table


def has_value(value) -> bool:
    """Not None and not NA."""
    import pandas as pd

    return value is not None and not pd.isna(value)


def table_cells(frame, columns) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of text for the columns present in ``frame``."""
    from ptcalc.present.plots import readable

    present = [(key, header) for key, header in columns if key in frame]
    shown = readable(frame)
    applicable = frame["applicable"].astype(bool).tolist()
    rows = []
    for i in range(len(frame)):
        cells = []
        for key, _ in present:
            text = str(shown[key].iloc[i])
            if key == "max_procs" and applicable[i] and not has_value(frame[key].iloc[i]):
                text = "no limit"
            cells.append(text)
        rows.append(cells)
    return [header for _, header in present], rows


LINK = re.compile(r"(lore:[^\s,;()'\"]+[^\s,;:()'\".])|(https?://[^\s,;()'\"]+[^\s,;:()'\".])|"
                  r"(Documentation/[\w/.-]+\.rst)")


def link_target(match) -> str:
    """Where a ``LINK`` match points: lore ids and kernel Documentation/ paths as URLs."""
    lore, url, doc = match.groups()
    if lore:
        return f"https://lore.kernel.org/all/{lore[len('lore:'):]}/"
    if url:
        return url
    return "https://docs.kernel.org/" + doc[len("Documentation/"):-len(".rst")] + ".html"


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")

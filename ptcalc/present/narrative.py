"""The words around the numbers: a scenario's title and the one-paragraph recommendation that
the sizing report and the notebooks show, computed from a `compare` result.

The recommendation names the strategy with the fewest page-table bytes among those in
mainline Linux that the layout allows (threads excluded: they change the program, not the
kernel's configuration), the settings that turn it on, and what the unmerged proposals would
add, each marked with its upstream status from ptcalc.catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

from ptcalc import catalog

REGION_NAMES = {"oracle": "SGA", "postgresql": "shared_buffers"}


def size_text(value) -> str:
    """Bytes with 3 significant digits and a binary unit: 300 GiB, 1.18 MiB."""
    from ptcalc.present.plots.readable import short_size

    return short_size(int(value))


def count_text(value) -> str:
    """A count with thousands separators: 1,500."""
    return f"{int(value):,}"


def _faults(value) -> str:
    return f"{count_text(value)} fault{'' if int(value) == 1 else 's'}"


def status_text(name: str) -> str:
    """'mainline since 2.6.20', 'RFC posted 2025-08, not merged'."""
    upstream = catalog.strategy(name).upstream
    if upstream.in_mainline:
        return f"mainline since {upstream.since}" if upstream.since else "mainline"
    label = {"rfc": "RFC", "proposal": "proposal", "prototype": "prototype"}[upstream.kind]
    return (f"{label} posted {upstream.posted}" if upstream.posted else label) + ", not merged"


def scenario_title(size_bytes: int, procs: int, ram_bytes: int | None = None,
                   region: str = "shared region") -> str:
    """'300 GiB SGA, 1,500 processes, 512 GiB host'."""
    title = f"{size_text(size_bytes)} {region}, {count_text(procs)} process"
    title += "" if procs == 1 else "es"
    return title + (f", {size_text(ram_bytes)} host" if ram_bytes else "")


@dataclass(frozen=True)
class Recommendation:
    strategy: str              # the cheapest mainline strategy
    settings: tuple[str, ...]  # what to configure, exact values
    proposals: tuple[str, ...]  # what each cheaper proposal would give, with its status
    text: str                  # the paragraph (plain text; Markdown-safe)


def _rows(frame) -> dict:
    return {row["strategy"]: row for row in frame.to_dict("records")}


def _usable(row) -> bool:
    value = row.get("pt_bytes_total")
    return bool(row.get("applicable", True)) and value is not None and value == value


def settings_for(strategy: str, size_bytes: int, ram_bytes: int | None,
                 database: str | None, pool_pages: int | None = None) -> tuple[str, ...]:
    """The exact settings that turn `strategy` on for a region of `size_bytes` (or, for a
    host layout, the `pool_pages` huge pages its shared regions take)."""
    record = catalog.strategy(strategy)
    page = record.hugetlb_page_bytes
    if page:
        from ptcalc.compute.pool import pool_rules

        pages = pool_pages if pool_pages is not None else next(
            r.pages for r in pool_rules(size_bytes, page) if r.key == "ptcalc")
        if page == 2**21:
            out = [(f"reserve {count_text(pages)} huge pages of 2 MiB "
                    f"(sysctl vm.nr_hugepages={pages}, persisted in /etc/sysctl.d/)")]
        else:
            out = [(f"reserve {count_text(pages)} huge pages of 1 GiB at boot "
                    f"(kernel command line hugepagesz=1G hugepages={pages})")]
        if database == "oracle":
            out.append(f"let the oracle user lock the SGA (memlock ≥ {-(-size_bytes // 1024)} "
                       "kB in /etc/security/limits.conf, or its group in vm.hugetlb_shm_group) "
                       "and set USE_LARGE_PAGES=ONLY")
        elif database == "postgresql":
            out.append("set huge_pages = on"
                       + ("" if page == 2**21 else " and huge_page_size = 1GB")
                       + " in postgresql.conf (add the server's other shared memory to the "
                       "pool: postgres -C shared_memory_size_in_huge_pages)")
        return tuple(out)
    if strategy == "thp-shmem":
        return (("echo advise > /sys/kernel/mm/transparent_hugepage/shmem_enabled (or always), "
                 "with the region 2 MiB-aligned"),)
    return ()


def _no_proposal_helps(rows: dict) -> str:
    """The proposals compared, each with its upstream status, none of which would help."""
    names = [name for name, row in rows.items() if _usable(row)
             and not catalog.strategy(name).upstream.in_mainline]
    listed = "; ".join(f"{name}: {status_text(name)}" for name in names)
    return (f"None of the proposals ({listed}) would use fewer page tables or faults here."
            if names else "No proposal was compared.")


def _runner_up(rows: dict, mainline: list[str], best: str) -> list[str]:
    """When 1 GiB pages win: the cheapest 2 MiB hugetlb strategy, which needs no reboot."""
    others = sorted((n for n in mainline if n != best and catalog.strategy(n).hugetlb_page
                     and catalog.strategy(n).hugetlb_page != catalog.strategy(best).hugetlb_page),
                    key=lambda n: rows[n]["pt_bytes_total"])
    if catalog.strategy(best).hugetlb_page != "1g" or not others:
        return []
    runner = others[0]
    return [(f"Next is {runner} with {size_text(rows[runner]['pt_bytes_total'])}: 2 MiB "
             "pages can be reserved at run time, 1 GiB pages reliably only at boot.")]


def recommend(frame, size_bytes: int, procs: int, ram_bytes: int | None = None,
              database: str | None = None) -> Recommendation:
    """The recommendation for one `ptcalc.compare` result (one row per strategy)."""
    rows = _rows(frame)
    region = REGION_NAMES.get(database or "", "region")
    mainline = [name for name, row in rows.items() if _usable(row)
                and catalog.strategy(name).upstream.in_mainline
                and not catalog.strategy(name).one_mm]
    best = min(mainline, key=lambda n: (rows[n]["pt_bytes_total"], rows[n]["faults_total"]))
    chosen, base = rows[best], rows.get("private-4k")
    sentences = []
    if base is not None and best != "private-4k":
        fits = "" if not ram_bytes else (
            ": more than the host's RAM" if size_bytes + base["pt_bytes_total"] > ram_bytes
            else f", which fits in {size_text(ram_bytes)} of RAM")
        sentences.append(
            f"With ordinary 4 KiB pages the {count_text(procs)} processes need "
            f"{size_text(base['pt_bytes_total'])} of page tables{fits}.")
    settings = settings_for(best, size_bytes, ram_bytes, database)
    status = status_text(best)
    lead = (f"The cheapest choice in mainline Linux for this {region} is {best} ({status}): "
            f"{size_text(chosen['pt_bytes_total'])} of page tables in all, "
            f"{_faults(chosen['faults_next'])} for each later process")
    if base is not None and best != "private-4k":
        lead += (f" (instead of {count_text(base['faults_next'])})")
    sentences.append(lead + ".")
    runner_up = _runner_up(rows, mainline, best)
    if settings:
        sentences.append("Configure: " + "; ".join(settings) + ".")
    sentences += runner_up
    proposals = _proposals(rows, chosen, "faults_next",
                           lambda n: f"{_faults(n)} per later process")
    sentences.append(_proposal_sentence(proposals, rows))
    return Recommendation(best, settings, tuple(proposals), " ".join(sentences))


def layout_title(layout) -> str:
    """'postgres-host: 16 GiB shared_buffers (shared), 64 MiB heap (private); 201 processes
    in 2 groups; 64 GiB host'."""
    regions = ", ".join(f"{size_text(r.size_bytes)} {r.name} ({r.kind})" for r in layout.regions)
    procs = sum(group.procs for group in layout.groups)
    groups = len(layout.groups)
    title = (f"{layout.name + ': ' if layout.name else ''}{regions}; {count_text(procs)} "
             f"process{'' if procs == 1 else 'es'}"
             + (f" in {groups} groups" if groups > 1 else ""))
    return title + (f"; {size_text(layout.ram_bytes)} host" if layout.ram_bytes else "")


def recommend_layout(frame, layout, database: str | None = None) -> Recommendation:
    """The recommendation for a host layout: `frame` holds the host rows of
    ptcalc.compute.host.evaluate_layout (page tables of the whole host, baselines included;
    `memory_bytes` is data plus page tables)."""
    rows = _rows(frame)
    procs = sum(group.procs for group in layout.groups)
    mainline = [name for name, row in rows.items() if _usable(row)
                and catalog.strategy(name).upstream.in_mainline
                and not catalog.strategy(name).one_mm]
    best = min(mainline, key=lambda n: (rows[n]["pt_bytes_total"], rows[n]["faults_total"]))
    chosen, base = rows[best], rows.get("private-4k")
    sentences = []
    if base is not None:
        fits = "" if not layout.ram_bytes else (
            f"; with the data that is {size_text(base['memory_bytes'])}, "
            + ("more than the host's RAM" if base["memory_bytes"] > layout.ram_bytes
               else f"which fits in {size_text(layout.ram_bytes)}"))
        sentences.append(f"With ordinary 4 KiB pages the {count_text(procs)} processes of this "
                         f"host need {size_text(base['pt_bytes_total'])} of page tables{fits}.")
    if base is not None and best != "private-4k" and \
            chosen["pt_bytes_total"] >= base["pt_bytes_total"]:
        best, chosen = "private-4k", base
    if best == "private-4k":
        sentences.append("No strategy in mainline Linux uses fewer page tables for this "
                         "layout (private memory keeps 4 KiB pages under every strategy): keep "
                         "the default.")
    else:
        pages = chosen.get("huge_pages")
        pages = int(pages) if pages is not None and pages == pages else None
        shared = sum(r.size_bytes for r in layout.regions if r.kind == "shared")
        settings = settings_for(best, shared, layout.ram_bytes, database, pool_pages=pages)
        sentences.append(
            f"The cheapest choice in mainline Linux for it is {best} ({status_text(best)}): "
            f"{size_text(chosen['pt_bytes_total'])} of page tables in all, "
            f"{count_text(chosen['faults_total'])} page faults in all (instead of "
            f"{count_text(base['faults_total'])}).")
        if settings:
            sentences.append("Configure: " + "; ".join(settings) + ".")
        sentences += _runner_up(rows, mainline, best)
    proposals = _proposals(rows, chosen, "faults_total",
                           lambda n: f"{count_text(n)} faults in all")
    sentences.append(_proposal_sentence(proposals, rows))
    settings = () if best == "private-4k" else settings
    return Recommendation(best, tuple(settings), tuple(proposals), " ".join(sentences))


def _proposals(rows: dict, chosen: dict, faults_key: str, faults_phrase) -> list[str]:
    """The designs not in mainline Linux that would use fewer page tables or faults than
    the chosen one, each with its status and figures."""
    out = []
    for name, row in rows.items():
        record = catalog.strategy(name)
        if record.upstream.in_mainline or record.one_mm or not _usable(row):
            continue
        if row["pt_bytes_total"] < chosen["pt_bytes_total"] or (
                row[faults_key] < chosen[faults_key]):
            out.append(f"{name} ({status_text(name)}): "
                       f"{size_text(row['pt_bytes_total'])} of page tables, "
                       f"{faults_phrase(row[faults_key])}")
    return out


def _proposal_sentence(proposals: list[str], rows: dict) -> str:
    if proposals:
        return "Proposals, not in mainline Linux, would give: " + "; ".join(proposals) + "."
    return _no_proposal_helps(rows)

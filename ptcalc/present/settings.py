"""What a DBA types next: the settings around the huge page pool, per NUMA node and for a
Kubernetes pod, the reservation read like Oracle's alert log, and the verdict notes.

Every line names the documentation it follows:

* pool size per page size: vm.nr_hugepages and /sys/kernel/mm/hugepages/hugepages-<kB>kB/
  nr_hugepages; per node /sys/devices/system/node/node<N>/hugepages/...; 1 GiB pages on the
  kernel command line (hugepagesz=1G hugepages=N, "the most reliable method"):
  Documentation/admin-guide/mm/hugetlbpage.rst, https://docs.kernel.org/admin-guide/mm/
  hugetlbpage.html.  Per-node boot syntax hugepages=0:N,1:M: Linux 5.16, commit b5389086ad7b
  "hugetlbfs: extend the definition of hugepages parameter to support node allocation"
  (lore: 20211005054729.86457-1-yaozhenguo1@gmail.com).
* SysV segments with SHM_HUGETLB (Oracle's SGA) need the user in vm.hugetlb_shm_group or a
  memlock limit covering the segment: fs/hugetlbfs/inode.c hugetlb_file_setup() calls
  user_shm_lock() (RLIMIT_MEMLOCK) unless can_do_hugetlb_shm(); Oracle's guide sets memlock to
  at least 90% of RAM (https://docs.oracle.com/en/database/oracle/oracle-database/19/cwlin/
  configure-hugepages.html).  mmap(MAP_HUGETLB), what PostgreSQL uses by default
  (src/backend/port/sysv_shmem.c CreateAnonymousSegment()), is checked against neither.
* Kubernetes: resources.limits.hugepages-2Mi / hugepages-1Gi, requests equal to limits, memory
  or cpu requested too (https://kubernetes.io/docs/tasks/manage-hugepages/
  scheduling-hugepages/).  Page tables are kernel memory charged to the memory cgroup of the
  process that allocates them (GFP_PGTABLE_USER includes __GFP_ACCOUNT, include/asm-generic/
  pgalloc.h; memory.stat "pagetables", https://docs.kernel.org/admin-guide/cgroup-v2.html), so
  they count against the container's memory limit; hugetlb pages do not (they have their own
  hugetlb controller unless cgroup2 is mounted with memory_hugetlb_accounting), but 4 KiB
  shared memory pages do, charged to the cgroup that first touches them.
"""

from __future__ import annotations

from ptcalc.units import format_size

MiB = 2**20
KERNEL_DOC = "https://docs.kernel.org/admin-guide/mm/hugetlbpage.html"
K8S_DOC = "https://kubernetes.io/docs/tasks/manage-hugepages/scheduling-hugepages/"
CGROUP_DOC = "https://docs.kernel.org/admin-guide/cgroup-v2.html"
ORACLE_MEMLOCK_DOC = ("https://docs.oracle.com/en/database/oracle/oracle-database/19/cwlin/"
                      "configure-hugepages.html")
TANEL_CASE = ("https://tanelpoder.com/2013/10/25/sga-bigger-than-than-the-amount-of-hugepages-"
              "configured-linux-11-2-0-3/")


def _kb(page_bytes: int) -> int:
    return page_bytes // 1024


def page_name(page_bytes: int) -> str:
    """A huge page size as the kernel's hugepagesz= writes it: 2M, 1G."""
    return "1G" if page_bytes == 2**30 else f"{page_bytes // MiB}M"


def pool_lines(page_bytes: int, pages: int, region_bytes: int, ram_bytes: int | None,
               numa_nodes: int | None = None) -> list[str]:
    """The settings for a pool of `pages` huge pages of `page_bytes`."""
    from ptcalc.compute.pool import split_over_nodes

    kb = _kb(page_bytes)
    sysfs = f"/sys/kernel/mm/hugepages/hugepages-{kb}kB/nr_hugepages"
    lines = []
    if page_bytes == 2 * MiB:
        lines.append(f"sysctl -w vm.nr_hugepages={pages} (persist it in /etc/sysctl.d/; the "
                     f"default 2M size, also {sysfs}) [{KERNEL_DOC}]")
    else:
        lines.append(f"kernel command line: hugepagesz=1G hugepages={pages} (1G pages are "
                     f"reliably found only at boot; at run time {sysfs}) [{KERNEL_DOC}]")
    memlock_kb = -(-region_bytes // 1024)
    oracle = (f"; Oracle's guide: at least 90% of RAM = {ram_bytes * 9 // 10 // 1024} kB"
              if ram_bytes else "")
    lines.append(f"Oracle (shmget SHM_HUGETLB): memlock >= {memlock_kb} kB for the oracle user "
                 "(/etc/security/limits.conf 'oracle soft memlock' and 'hard memlock', or "
                 "systemd LimitMEMLOCK=; check with ulimit -l) unless its group is "
                 f"vm.hugetlb_shm_group (sysctl -w vm.hugetlb_shm_group=GID){oracle} "
                 f"[{ORACLE_MEMLOCK_DOC}; fs/hugetlbfs/inode.c hugetlb_file_setup()]")
    lines.append("PostgreSQL (mmap MAP_HUGETLB, the default shared_memory_type=mmap): no "
                 "memlock or hugetlb_shm_group needed; huge_pages=on to fail loudly rather than "
                 "fall back [https://www.postgresql.org/docs/current/kernel-resources.html"
                 "#LINUX-HUGE-PAGES]")
    if numa_nodes and numa_nodes > 1:
        shares = split_over_nodes(pages, numa_nodes)
        boot = ",".join(f"{node}:{count}" for node, count in enumerate(shares))
        size = "2M" if page_bytes == 2 * MiB else "1G"
        lines.append(f"NUMA, {numa_nodes} nodes: {' + '.join(map(str, shares))} pages; boot: "
                     f"hugepagesz={size} hugepages={boot} (Linux >= 5.16) [{KERNEL_DOC}]")
        for node, count in enumerate(shares):
            lines.append(f"  echo {count} > /sys/devices/system/node/node{node}/hugepages/"
                         f"hugepages-{kb}kB/nr_hugepages")
    return lines


def pool_rule_lines(page_sizes, size_bytes: int, segments=None,
                    shared_memory_size: int | None = None) -> list[str]:
    """The pool as each tool sizes it, side by side, for each huge page size shown."""
    from ptcalc.compute.pool import pool_rules

    lines = []
    for page in page_sizes:
        lines.append(f"huge page pool in {page_name(page)} pages, as each tool sizes it:")
        rules = pool_rules(size_bytes, page, segments=segments,
                           shared_memory_size=shared_memory_size)
        width = max(len(rule.label) for rule in rules)
        for rule in rules:
            pages = "-" if rule.pages is None else f"{rule.pages:,}"
            lines.append(f"  {rule.label:<{width}}  {pages:>9}  {rule.note}")
    return lines


def alert_log_lines(strategy: str, size_bytes: int, page_bytes: int, reserved: int) -> list[str]:
    """A reservation short of the region, in the words of Oracle's alert log (11.2.0.3+,
    USE_LARGE_PAGES=TRUE; MB there are MiB).  Tanel Poder's case, 512 x 2 MiB for a 1202 MB
    SGA: 1024 MB (85%) in large pages, short by 89 pages (178 MB) [TANEL_CASE]."""
    from ptcalc.compute.pool import short_of

    numbers = short_of(size_bytes, page_bytes, reserved)
    if not numbers["pages_short"]:
        return []
    return [
        (f"{strategy}: {reserved:,} pages reserved, {numbers['pages_needed']:,} needed; Oracle's "
        f"alert log (11.2.0.3+, USE_LARGE_PAGES=TRUE) would say [{TANEL_CASE}]:"),
        (f"  Total Shared Global Region in Large Pages = "
        f"{numbers['bytes_in_large_pages'] // MiB} MB ({numbers['percent_in_large_pages']}%)"),
        (f"  Large Pages used by this instance: {numbers['pages_used']} "
        f"({numbers['pages_used'] * page_bytes // MiB} MB)"),
        (f"  Total Shared Global Region size is {-(-size_bytes // MiB)} MB: increase by at least "
        f"{numbers['pages_short']} pages ({numbers['bytes_short'] // MiB} MB) of "
        f"{_kb(page_bytes)} KB to get 100% of the SGA in large pages"),
        (f"  PostgreSQL huge_pages=on and Oracle USE_LARGE_PAGES=ONLY do not start: "
        f"{numbers['pages_short']:,} pages short"),
    ]


def reservation_notes(rows: list[dict], size_bytes: int) -> list[str]:
    """Alert-log lines once per short hugetlb strategy, plus what each fallback row means."""
    from ptcalc.compute.reservations import FALLBACK_LABELS

    notes = []
    for row in rows:
        if row.get("fallback") == "mixed":
            notes += alert_log_lines(row["strategy"], size_bytes, row["huge_page_bytes"]
                                     if row.get("huge_page_bytes") else row["leaf_page_bytes"],
                                     row["huge_pages_reserved"])
    if any(row.get("fallback") in FALLBACK_LABELS for row in rows):
        notes += [f"{name}: {label}" for name, label in FALLBACK_LABELS.items()]
    return notes


def ram_note(rows: list[dict], size_bytes: int, ram_bytes: int) -> str:
    """The RAM verdict the rows carry (fits_ram, oom_procs), as one line."""
    over, oom = [], []
    for row in rows:
        if row.get("applicable") and row.get("fits_ram") is False:
            label = row["strategy"] + (f" {row['fallback']}" if row.get("fallback") in (
                "mixed", "whole") else "")
            over.append(f"{label} ({format_size(size_bytes + row['pt_bytes_total'])})")
            if row.get("oom_procs"):
                oom.append(f"{label} from {row['oom_procs']:,} processes")
    if not over:
        return f"region + page tables fit in {format_size(ram_bytes)} RAM for every strategy shown"
    return (f"region + page tables exceed {format_size(ram_bytes)} RAM (OOM) for: "
            + ", ".join(over) + (f"; OOM {', '.join(oom)}" if oom else "")
            + "; `ptcalc plan` gives the most processes that fit")


def kubernetes_lines(rows: list[dict], size_bytes: int, procs: int) -> list[str]:
    """Per strategy shown: the pod's resources.limits for the region and its page tables at
    `procs` processes in the pod (pt_bytes_total: each table page charged once)."""
    from ptcalc.compute.pool import kubernetes_quantity

    lines = [(f"Kubernetes pod with {procs:,} processes mapping the region "
             f"[{K8S_DOC}; page tables in memory.stat 'pagetables', {CGROUP_DOC}]:")]
    for row in rows:
        if not row.get("applicable") or row.get("fallback") == "whole":
            continue
        pt = row["pt_bytes_total"]
        pages = row.get("huge_pages") or 0
        page = row.get("leaf_page_bytes")
        if row["strategy"].startswith("hugetlb") and pages:
            huge = pages * page
            rest = size_bytes - min(size_bytes, huge)
            memory = pt + rest
            lines.append(f"  {row['strategy']}: limits hugepages-{kubernetes_quantity(page)}: "
                         f"{kubernetes_quantity(huge)} (= requests); memory >= "
                         f"{_mebibytes(memory)} "
                         f"({format_size(pt)} page tables"
                         + (f" + {format_size(rest)} of the region in 4 KiB pages" if rest
                            else "") + ") + the processes' own memory")
        else:
            memory = pt + size_bytes
            lines.append(f"  {row['strategy']}: memory >= {_mebibytes(memory)} "
                         f"({format_size(size_bytes)} region in shared memory, charged to the "
                         f"first toucher's cgroup, + {format_size(pt)} page tables) + the "
                         "processes' own memory")
    return lines


def _mebibytes(size_bytes: int) -> str:
    """A memory quantity rounded up to whole MiB: 243,785,728 bytes -> 233Mi."""
    return f"{-(-size_bytes // MiB)}Mi"


def verdict_columns(columns, rows: list[dict]):
    """COMPARE_COLUMNS with the reservation and RAM verdict columns the rows carry."""
    extra_after_strategy = [("fallback", "fallback", "text")] if any(
        "fallback" in row for row in rows) else []
    tail = []
    if any("huge_pages_short" in row for row in rows):
        tail += [("huge_pages_reserved", "reserved", "count"),
                 ("huge_pages_short", "short", "count")]
    if any("fits_ram" in row for row in rows):
        tail += [("fits_ram_text", "fits RAM", "text"), ("oom_procs", "OOM at", "count")]
    first, rest = columns[:1], columns[1:]
    return (*first, *extra_after_strategy, *rest, *tail)


def for_table(rows: list[dict]) -> list[dict]:
    """Rows for table/markdown: booleans as yes/no (json and csv keep True/False)."""
    out = []
    for row in rows:
        row = dict(row)
        if "fits_ram" in row:
            row["fits_ram_text"] = {True: "yes", False: "no"}.get(row["fits_ram"], "-")
        out.append(row)
    return out


def size_readings(values: dict, decimal: bool = False) -> str:
    """" (64GB read as 64 GiB; ...)" for the sizes among `values` a reader could take
    otherwise, or "" (the title's suffix)."""
    from ptcalc.units import UnitError, describe_size

    readings = []
    for value in values.values():
        if value is None or str(value).strip().endswith("%"):
            continue
        try:
            reading = describe_size(value, decimal=decimal)
        except UnitError:
            continue
        if reading:
            readings.append(reading)
    return f" ({'; '.join(readings)})" if readings else ""


def plan_notes(rows: list[dict], summary: dict, numa_nodes: int | None = None) -> list[str]:
    """Under `ptcalc plan`'s table: the pool rules side by side, the settings around the
    pool (per NUMA node with `numa_nodes`) and, for a short reservation, the alert log."""
    pages_by_size = {}
    for row in rows:
        if row.get("huge_page_bytes") and row.get("pool_ptcalc") is not None:
            pages_by_size.setdefault(row["huge_page_bytes"], row["pool_ptcalc"])
    scenario = summary["scenario"]
    notes = pool_rule_lines(list(pages_by_size), scenario.requested_size_bytes,
                            summary.get("segments"), summary.get("shared_memory_size"))
    for page, pages in pages_by_size.items():
        notes.append(f"settings for {pages:,} pages of {page_name(page)}:")
        notes += ["  " + line for line in pool_lines(page, pages, scenario.size_bytes,
                                                     summary.get("ram_bytes"), numa_nodes)]
    reservation = summary.get("reservation")
    if reservation is not None:
        notes.append(reservation.describe())
        notes += reservation_notes(rows, scenario.requested_size_bytes)
    return notes


__all__ = [
    "alert_log_lines",
    "for_table",
    "kubernetes_lines",
    "plan_notes",
    "pool_lines",
    "pool_rule_lines",
    "ram_note",
    "reservation_notes",
    "size_readings",
    "verdict_columns",
]

"""The huge page pool as the tools DBAs use size it, in each tool's own integer arithmetic.

Every rule takes byte counts and a huge page size and returns a page count (None where the
tool gives no answer).  The rules differ on purpose; `pool_rules()` puts them side by side
with ptcalc's own recommendation and the reason for it.

* plain ceil -- Oracle Database Administrator's Reference for Linux, "Using HugePages on
  Linux": divide the SGA by the huge page size and round up, "if ... the instance's total SGA
  size is 1.6 GB, then set the value for the vm.nr_hugepages kernel parameter to 820 (1.6 GB
  / 2 MB = 819.2)" (https://docs.oracle.com/en/database/oracle/oracle-database/19/unxar/
  administering-oracle-database-on-linux.html).
* Oracle's hugepages_settings.sh (My Oracle Support Doc ID 401749.1, reproduced in the Oracle
  Linux administrator's guide, https://docs.oracle.com/cd/E39368_01/adminsg/
  ol_config_hugepages.html): NUM_PG starts at 1 and, for each shared memory segment that
  `ipcs -m` lists, MIN_PG = SEG_BYTES / (HPG_SZ * 1024) (bc: integer division) and, when
  MIN_PG > 0, NUM_PG = NUM_PG + MIN_PG + 1.  So 1 + sum(floor(segment / page) + 1) over the
  segments at least one page long: one 10 GiB segment -> 1 + 5120 + 1 = 5122.
* PostgreSQL's shared_memory_size_in_huge_pages: src/backend/storage/ipc/ipci.c
  InitializeShmemGUCs(), hp_required = add_size(size_b / hp_size, 1), i.e. floor(segment /
  page) + 1, where size_b is the server's whole main shared memory segment
  (CalculateShmemSize()), which is larger than shared_buffers
  (https://www.postgresql.org/docs/current/kernel-resources.html#LINUX-HUGE-PAGES:
  `postgres -D $PGDATA -C shared_memory_size_in_huge_pages`).  `postgres -C
  shared_memory_size` prints that segment in MB rounded up (size_mb = add_size(size_b,
  1 MB - 1) / 1 MB, same function), so a whole number of MB given as the segment stands for a
  size_b in ((MB - 1) MB, MB MB]: the rule is then taken on MB MB - 1 byte, which is the
  server's figure unless its segment is an exact multiple of the page.  Checked against
  PostgreSQL 15.18 (Debian 15.18-0+deb12u1) with huge_pages=try and 2 MiB pages:
  shared_buffers 128MB -> shared_memory_size 143 -> 72 pages; 1GB -> 1074 -> 537; 10GB ->
  10488 -> 5244; 64GB -> 67004 -> 33502 (tests/kernel/test_pool_postgres.py asks the server).
* autobase (formerly vitabaks/postgresql_cluster), automation/roles/pre_checks/tasks/
  huge_pages.yml (https://github.com/vitabaks/autobase/blob/
  d10e67554fff1bf1de7e2f8559aaf97c4569a59d/automation/roles/pre_checks/tasks/
  huge_pages.yml): shared_buffers_gb is the GB value (MB // 1024 for an MB value), and only
  from min_shared_buffers_gb = 8 on, huge_pages_required = (shared_buffers_gb +
  additional_huge_pages_gb (1)) * 1024 * 1024 // Hugepagesize_kB.  64 GiB -> 65 * 512 = 33280.
"""

from __future__ import annotations

import dataclasses

from ptcalc import paging as geometry

GiB, MiB = 2**30, 2**20
AUTOBASE_MIN_SHARED_BUFFERS_GB = 8       # min_shared_buffers_gb default in the role
AUTOBASE_ADDITIONAL_GB = 1               # additional_huge_pages_gb default in the role


def ceil_pages(size_bytes: int, page_bytes: int) -> int:
    """Whole huge pages that hold `size_bytes`: ceil(size / page)."""
    return -(-size_bytes // page_bytes)


def oracle_script_pages(segment_bytes: list[int], page_bytes: int) -> int:
    """hugepages_settings.sh: 1 + sum(floor(seg / page) + 1) over segments of >= 1 page."""
    total = 1
    for segment in segment_bytes:
        whole = segment // page_bytes
        if whole > 0:
            total += whole + 1
    return total


def postgresql_pages(segment_bytes: int, page_bytes: int) -> int:
    """shared_memory_size_in_huge_pages: floor(segment / page) + 1 (ipci.c)."""
    return segment_bytes // page_bytes + 1


def postgresql_segment_bytes(shared_memory_size: int) -> int:
    """The server's exact segment for a shared_memory_size as `postgres -C` prints it: a whole
    number of MB is a value rounded up, so the segment is taken one byte below it; any other
    byte count is taken as exact."""
    return shared_memory_size - 1 if shared_memory_size % MiB == 0 else shared_memory_size


def autobase_pages(shared_buffers_bytes: int, page_bytes: int) -> int | None:
    """autobase's rule, or None below its 8 GB threshold (the role then sets nothing)."""
    gigabytes = shared_buffers_bytes // GiB
    if gigabytes < AUTOBASE_MIN_SHARED_BUFFERS_GB:
        return None
    return (gigabytes + AUTOBASE_ADDITIONAL_GB) * GiB // page_bytes


@dataclasses.dataclass(frozen=True)
class PoolRule:
    key: str            # stable name, also the JSON/CSV column pool_<key>
    label: str          # who computes it this way
    pages: int | None
    note: str


def pool_rules(size_bytes: int, page_bytes: int, *, segments: list[int] | None = None,
               shared_memory_size: int | None = None) -> list[PoolRule]:
    """The pool for a region of `size_bytes` (the SGA, or shared_buffers) in `page_bytes`
    pages, as each tool sizes it, then ptcalc's recommendation (key "ptcalc").

    `segments`: the shared memory segments the Oracle script would see (default: one segment
    of `size_bytes`); `shared_memory_size`: PostgreSQL's whole segment (default: unknown,
    and `size_bytes` is shared_buffers alone, which under-reserves)."""
    segments = list(segments) if segments else [size_bytes]
    pg_segment = postgresql_segment_bytes(shared_memory_size) if shared_memory_size \
        is not None else size_bytes
    autobase = autobase_pages(size_bytes, page_bytes)
    rules = [
        PoolRule("plain_ceil", "ceil(size / page) (Oracle install guide)",
                 sum(ceil_pages(s, page_bytes) for s in segments),
                 "whole pages for each segment, no margin"),
        PoolRule("oracle_script", "Oracle hugepages_settings.sh (MOS 401749.1)",
                 oracle_script_pages(segments, page_bytes),
                 "1 + sum(floor(segment / page) + 1) over "
                 f"{len(segments)} segment{'s' if len(segments) > 1 else ''}"),
        PoolRule("postgresql", "PostgreSQL shared_memory_size_in_huge_pages",
                 postgresql_pages(pg_segment, page_bytes),
                 "floor(segment / page) + 1 of the server's segment (a whole number of MB "
                 "as postgres -C prints it: rounded up, so taken 1 byte below)"
                 if shared_memory_size is not None else
                 "of shared_buffers alone: under-reserves, the server's segment is larger "
                 "(postgres -C shared_memory_size_in_huge_pages)"),
        PoolRule("autobase", "autobase role (shared_buffers + 1GB)", autobase,
                 "(whole GB of shared_buffers + 1) x 1024^3 / page" if autobase is not None else
                 "the role sets no pool below 8GB of shared_buffers (min_shared_buffers_gb)"),
    ]
    need = sum(ceil_pages(s, page_bytes) for s in
               ([shared_memory_size] if shared_memory_size is not None else segments))
    why = ("what the mapping needs: whole pages per segment (hugetlb mmap/shmget round each "
           "segment up to its page size); add the pages of any other hugetlb user on the host")
    if shared_memory_size is None and len(segments) == 1:
        why += ("; for PostgreSQL give --shared-memory-size (the server's segment), not "
                "shared_buffers")
    rules.append(PoolRule("ptcalc", "ptcalc recommendation", need, why))
    return rules


def short_of(size_bytes: int, page_bytes: int, reserved_pages: int) -> dict:
    """How a reservation of `reserved_pages` covers a region: the numbers Oracle's alert log
    prints at startup (11.2.0.3 and later, "Large Pages Information"; the case in
    https://tanelpoder.com/2013/10/25/sga-bigger-than-than-the-amount-of-hugepages-configured-
    linux-11-2-0-3/: 512 pages of 2 MiB for a 1202 MB SGA -> 1024 MB (85%) in large pages,
    "increase ... by atleast 89 2048 KB Large Pages (178 MB)").

    percent_in_large_pages is floor(100 * in_large / size): 1024/1202 = 85.19% -> 85."""
    needed = ceil_pages(size_bytes, page_bytes)
    used = min(reserved_pages, needed)
    in_large = min(used * page_bytes, size_bytes)
    missing = needed - used
    return {"pages_needed": needed, "pages_used": used, "bytes_in_large_pages": in_large,
            "percent_in_large_pages": 100 * in_large // size_bytes if size_bytes else 100,
            "pages_short": missing, "bytes_short": missing * page_bytes}


def split_over_nodes(pages: int, nodes: int) -> list[int]:
    """Pages per NUMA node, the pool spread evenly: boot-time `hugepages=N` pages "are divided
    equally between the NUMA nodes" (Oracle Linux, https://docs.oracle.com/en/operating-
    systems/oracle-linux/9/hugepages/hugepage-KernelBootParametersForHugeTLBPages.html), and
    writing vm.nr_hugepages makes "the kernel ... attempt to distribute the huge page pool over
    all the set of allowed nodes" (Documentation/admin-guide/mm/hugetlbpage.rst,
    https://docs.kernel.org/admin-guide/mm/hugetlbpage.html).  Naming each node's share
    (sysfs, or hugepages=0:N,1:M) makes it certain; the first `pages % nodes` nodes take one
    page more.  A process bound to one node (numactl --membind) can use only that node's."""
    base, extra = divmod(pages, nodes)
    return [base + (1 if node < extra else 0) for node in range(nodes)]


def kubernetes_quantity(size_bytes: int) -> str:
    """A Kubernetes binary quantity with an integer value: 64Gi, 1026Mi, 2048Ki."""
    for factor, suffix in ((2**40, "Ti"), (2**30, "Gi"), (2**20, "Mi"), (2**10, "Ki")):
        if size_bytes and size_bytes % factor == 0:
            return f"{size_bytes // factor}{suffix}"
    return str(size_bytes)


def page_size_name(page_bytes: int) -> str:
    """'2Mi' / '1Gi' (Kubernetes resource hugepages-<size>), kB for sysfs, names for humans."""
    return kubernetes_quantity(page_bytes)


HUGE_PAGE_SIZES = (geometry.HUGE_2M_BYTES, geometry.HUGE_1G_BYTES)

__all__ = ["HUGE_PAGE_SIZES", "PoolRule", "autobase_pages", "ceil_pages", "kubernetes_quantity",
           "oracle_script_pages", "page_size_name", "pool_rules", "postgresql_pages",
           "postgresql_segment_bytes",
           "short_of", "split_over_nodes"]

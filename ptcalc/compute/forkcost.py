"""fork() of a private anonymous heap (a Redis BGSAVE child): the page tables it copies and
the time that takes, at a rate measured on this host by `ptcalc op-probe --fork`.

copy_page_range() (mm/memory.c) copies every PTE, PMD and PUD table of a VMA with an anon_vma
(vma_needs_copy()), so fork time grows with the heap's page tables: 8 bytes per 4 KiB page.
The rate is stored in the user's cache (``$XDG_CACHE_HOME/ptcalc/fork-calibration.json``) with
the host name, kernel and date of the measurement.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from ptcalc import paging

GIB = 1 << 30
GB = 10**9
REDIS_MS_PER_GB = (9.0, 13.1)   # the Redis latency docs' fork table, per GB of RSS


def calibration_path() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "ptcalc" / "fork-calibration.json"


def load_calibration() -> dict | None:
    """The stored measurement, or None (absent or unreadable: the caller says so)."""
    try:
        data = json.loads(calibration_path().read_text())
        float(data["ms_per_gib_of_tables"])
        return data
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_calibration(ms_per_gib: float, samples: list[dict]) -> Path:
    path = calibration_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"ms_per_gib_of_tables": ms_per_gib, "host": platform.node(),
            "kernel": platform.release(), "samples": samples,
            "measured_by": "ptcalc op-probe --fork"}
    import time

    data["date"] = time.strftime("%Y-%m-%d", time.gmtime())
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)
    return path


def heap_tables(heap_bytes: int) -> tuple[int, int]:
    """(tables, PTEs) that fork copies for a fully touched heap starting on a 512 GiB
    boundary: one PTE table per 2 MiB, one PMD table per 1 GiB, one PUD table per 512 GiB."""
    tables = sum(-(-heap_bytes // span) for span in
                 (paging.PTE_SPAN, paging.PMD_SPAN, paging.PUD_SPAN))
    return tables, -(-heap_bytes // paging.PAGE_BYTES)


def fork_cost(heap_bytes: int, calibration: dict | None = None) -> dict:
    """Tables copied and the latency, calibrated where a measurement exists."""
    tables, ptes = heap_tables(heap_bytes)
    table_bytes = tables * paging.TABLE_BYTES
    out = {"heap_bytes": heap_bytes, "tables_copied": tables, "ptes_copied": ptes,
           "tables_copied_bytes": table_bytes,
           "redis_docs_ms": tuple(rate * heap_bytes / GB for rate in REDIS_MS_PER_GB),
           "ms_per_gib_of_tables": None, "latency_ms": None, "calibration": None}
    if calibration:
        rate = float(calibration["ms_per_gib_of_tables"])
        here = calibration.get("host") == platform.node()
        where = "calibrated on this host" if here else \
            f"calibrated on host {calibration.get('host')!r}"
        out.update(ms_per_gib_of_tables=rate, latency_ms=rate * table_bytes / GIB,
                   calibration=f"{where} ({calibration.get('kernel')}, "
                               f"{calibration.get('date')})")
    return out

"""thp-shmem-1m: shmem multi-size THP, PTE-mapped 1024 KiB folios (see folios.py)."""

from ptcalc.model.strategies.folios import folio_strategy

counts, not_applicable = folio_strategy(1024 * 1024)

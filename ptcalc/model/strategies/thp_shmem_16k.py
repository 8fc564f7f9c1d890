"""thp-shmem-16k: shmem multi-size THP, PTE-mapped 16 KiB folios (see folios.py)."""

from ptcalc.model.strategies.folios import folio_strategy

counts, not_applicable = folio_strategy(16 * 1024)

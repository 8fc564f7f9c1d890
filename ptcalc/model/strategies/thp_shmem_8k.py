"""thp-shmem-8k: shmem multi-size THP, PTE-mapped 8 KiB folios (see folios.py)."""

from ptcalc.model.strategies.folios import folio_strategy

counts, not_applicable = folio_strategy(8 * 1024)

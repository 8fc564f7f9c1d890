"""thp-shmem-32k: shmem multi-size THP, PTE-mapped 32 KiB folios (see folios.py)."""

from ptcalc.model.strategies.folios import folio_strategy

counts, not_applicable = folio_strategy(32 * 1024)

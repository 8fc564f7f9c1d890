"""thp-shmem-64k: shmem multi-size THP, PTE-mapped 64 KiB folios (see folios.py)."""

from ptcalc.model.strategies.folios import folio_strategy

counts, not_applicable = folio_strategy(64 * 1024)

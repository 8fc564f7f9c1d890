"""thp-shmem-128k: shmem multi-size THP, PTE-mapped 128 KiB folios (see folios.py)."""

from ptcalc.model.strategies.folios import folio_strategy

counts, not_applicable = folio_strategy(128 * 1024)

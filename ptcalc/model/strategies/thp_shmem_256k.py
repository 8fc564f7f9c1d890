"""thp-shmem-256k: shmem multi-size THP, PTE-mapped 256 KiB folios (see folios.py)."""

from ptcalc.model.strategies.folios import folio_strategy

counts, not_applicable = folio_strategy(256 * 1024)

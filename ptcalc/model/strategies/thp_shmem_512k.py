"""thp-shmem-512k: shmem multi-size THP, PTE-mapped 512 KiB folios (see folios.py)."""

from ptcalc.model.strategies.folios import folio_strategy

counts, not_applicable = folio_strategy(512 * 1024)

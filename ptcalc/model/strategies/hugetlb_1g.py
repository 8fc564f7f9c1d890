"""hugetlb-1g: 1 GiB hugetlb pages, leaf entries in the PUD."""

from __future__ import annotations

import sympy as sp

from ptcalc.model import symbols as S
from ptcalc.model.strategies.base import Context, StrategyCounts
from ptcalc.model.strategies.hugetlb_2m import unshared_counts


def counts(ctx: Context) -> StrategyCounts:
    return unshared_counts(ctx, S.PMD_SPAN, "1g", below=("pte", "pmd"))


def not_applicable(ctx: Context) -> list:
    return [(sp.Ne(sp.Mod(S.offset_bytes, S.PMD_SPAN), 0),
             ("offset is not 1 GiB-aligned: a 1 GiB hugetlb mapping must start on a 1 GiB "
             "boundary (mmap fails with EINVAL)"))]

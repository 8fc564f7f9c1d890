"""`ptcalc formula`: one metric's expression, with its constants and inputs explained."""

from __future__ import annotations

import sympy as sp

from ptcalc.model import symbols as S
from ptcalc.units import format_size

INPUT_MEANING = {
    "offset_bytes": "start address of the region modulo 512 GiB",
    "size_bytes": "region size, rounded up to whole 4 KiB pages",
    "touched_bytes": "dense prefix each process touches: ceil(touched * size_bytes / 4096) * 4096",
    "touched": "fraction of pages each process touches (random pattern: each page independently)",
    "procs": "processes mapping the region",
    "fault_around_bytes": "the kernel's fault_around_bytes (default 64 KiB)",
    "read_access": "1 for read access, 0 for write",
}


def _latex_name(name: str) -> str:
    return r"\mathrm{" + name.replace("_", r"\_") + "}"


def _tlb_text(strategy, metric, latex, paging, cpu, virtualized, host_page) -> str:
    from ptcalc.api import formula
    from ptcalc.model import tlb

    expr = formula(strategy, metric, paging=paging, cpu=cpu, virtualized=virtualized,
                   host_page=host_page)
    if latex:
        return f"{_latex_name(metric)} = {sp.latex(expr)}"
    where = f", {cpu}" if cpu else ""
    return f"{metric} [{strategy}{where}] =\n  {expr}\n\n" + tlb.metric_doc(metric).strip()


def formula_text(strategy: str, metric: str, *, latex: bool = False, paging=4,
                 pattern: str = "dense", cpu=None, virtualized=False, host_page="4k") -> str:
    from ptcalc.api import formula
    from ptcalc.model import tlb

    if metric in tlb.METRIC_NAMES:
        return _tlb_text(strategy, metric, latex, paging, cpu, virtualized, host_page)
    expr = formula(strategy, metric, paging=paging, pattern=pattern)
    names = {str(s) for s in getattr(expr, "free_symbols", ())}
    constants = [(str(sym), value) for sym, value in S.CONSTANTS.items() if str(sym) in names]
    inputs = [(name, meaning) for name, meaning in INPUT_MEANING.items() if name in names]
    if latex:
        lines = [f"{_latex_name(metric)} = {sp.latex(expr)}"]
        lines += [f"{_latex_name(n)} = {v}" for n, v in constants]
        return "\n".join(lines)
    lines = [f"{metric} [{strategy}, {paging}-level, {pattern}] =", f"  {expr}", ""]
    if constants:
        lines.append("where")
        lines += [f"  {n} = {v} ({format_size(v)})" for n, v in constants]
    if inputs:
        lines.append("inputs")
        lines += [f"  {n}: {m}" for n, m in inputs]
    return "\n".join(lines).rstrip()

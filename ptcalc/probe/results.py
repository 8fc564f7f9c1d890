"""Probe results: the checks of one case against the model, the report of a run, and its
table/JSON rendering.  Bytes must match exactly; faults within ``FAULT_TOLERANCE`` per process
(the probe's own stack and code pages)."""

from __future__ import annotations

import json
import signal
from dataclasses import asdict, dataclass, field

from ptcalc.errors import InputError
from ptcalc.probe.cases import ProbeCase, fmt_bytes

FAULT_TOLERANCE = 2                 # per process: the probe's own stack and code pages


@dataclass(frozen=True)
class Check:
    metric: str            # pt_bytes_per_process, faults_first, faults_next
    model: int | None
    measured: tuple[int, ...]
    tolerance: int
    ok: bool | None        # None: the model has no value for this metric


@dataclass
class CaseResult:
    case: ProbeCase
    status: str                       # pass, fail, skip, error
    reason: str | None = None
    model: dict | None = None
    pt_bytes: tuple[int, ...] = ()    # measured VmPTE growth per process (thread)
    faults: tuple[int, ...] = ()      # measured minor faults per process (thread)
    noise_faults: int = 0
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        c = self.case
        return {"name": c.name, "strategy": c.strategy, "backing": c.backing,
                "size_bytes": c.size, "offset_bytes": c.offset, "procs": c.procs,
                "measured_procs": c.measured_procs, "access": c.access,
                "status": self.status, "reason": self.reason, "model": self.model,
                "measured": {"pt_bytes": list(self.pt_bytes), "faults": list(self.faults),
                             "noise_faults": self.noise_faults},
                "checks": [asdict(ch) for ch in self.checks],
                "seconds": round(self.seconds, 3)}


@dataclass
class ProbeReport:
    results: list[CaseResult]
    kernel: str
    fault_around_bytes: int | None
    fault_around_source: str = "unknown"    # debugfs, measured, or given
    environment: dict = field(default_factory=dict)
    restored: bool = False
    restore_problems: list[str] = field(default_factory=list)
    foreign_changes: list[str] = field(default_factory=list)
    state_before: dict = field(default_factory=dict)
    state_after: dict = field(default_factory=dict)
    interrupted: str | None = None
    repaired: list[str] = field(default_factory=list)   # a killed earlier probe's leftovers

    @property
    def exit_code(self) -> int:
        """0: every case that ran agreed with the model; 1: a mismatch, an error, or
        restoration trouble; 128 + signal number when interrupted (130 SIGINT, 143 SIGTERM)."""
        if self.interrupted:
            return 128 + signal.Signals[self.interrupted].value
        bad = any(r.status in ("fail", "error") for r in self.results)
        return 1 if bad or self.restore_problems else 0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def to_dict(self) -> dict:
        return {"kernel": self.kernel, "fault_around_bytes": self.fault_around_bytes,
                "fault_around_source": self.fault_around_source,
                "environment": self.environment, "fault_tolerance": FAULT_TOLERANCE,
                "cases": [r.to_dict() for r in self.results],
                "summary": self.counts(), "restored": self.restored,
                "restore_problems": self.restore_problems,
                "foreign_changes": self.foreign_changes, "state_before": self.state_before,
                "state_after": self.state_after, "interrupted": self.interrupted,
                "exit_code": self.exit_code}



def compare(case: ProbeCase, model: dict, run) -> tuple[str, list[Check]]:
    """The checks of one measured run (``kernel.RegionRun``) against the model's numbers."""
    procs = run.procs
    pt = [p.pt_bytes for p in procs]
    faults = [p.minor_faults for p in procs]
    checks = []
    if case.strategy == "threads":   # one mm: its growth is the sum over the threads
        pt_measured = (sum(pt),)
    else:
        pt_measured = tuple(pt)
    want = model.get("pt_bytes_per_process")
    checks.append(Check("pt_bytes_per_process", want, pt_measured, 0,
                        None if want is None else all(v == want for v in pt_measured)))
    for metric, values in (("faults_first", faults[:1]), ("faults_next", faults[1:])):
        want = model.get(metric)
        if not values:
            continue
        ok = None if want is None else all(abs(v - want) <= FAULT_TOLERANCE for v in values)
        checks.append(Check(metric, want, tuple(values), FAULT_TOLERANCE, ok))
    status = "fail" if any(ch.ok is False for ch in checks) else "pass"
    return status, checks


def _cell(check: Check | None) -> tuple[str, str]:
    if check is None:
        return "", ""
    model = "-" if check.model is None else str(check.model)
    measured = ",".join(str(v) for v in check.measured)
    mark = "" if check.ok in (True, None) else " !"
    return model, measured + mark


def render_table(report: ProbeReport) -> str:
    from tabulate import tabulate

    rows = []
    for r in report.results:
        by = {ch.metric: ch for ch in r.checks}
        pt_m, pt_x = _cell(by.get("pt_bytes_per_process"))
        ff_m, ff_x = _cell(by.get("faults_first"))
        fn_m, fn_x = _cell(by.get("faults_next"))
        c = r.case
        rows.append([c.name, c.strategy, fmt_bytes(c.size), fmt_bytes(c.offset), c.access,
                     c.measured_procs, pt_m, pt_x, ff_m, ff_x, fn_m, fn_x,
                     r.status + (f": {r.reason}" if r.reason else "")])
    head = ["case", "strategy", "size", "offset", "access", "procs", "VmPTE model",
            "VmPTE measured", "faults_first model", "first measured", "faults_next model",
            "next measured", "status"]
    summary = ", ".join(f"{v} {k}" for k, v in sorted(report.counts().items()))
    lines = [tabulate(rows, head, tablefmt="simple", disable_numparse=True), "",
             (f"kernel {report.kernel}; fault_around_bytes "
              f"{report.fault_around_bytes or 'unknown'} ({report.fault_around_source}); "
              f"faults within +-{FAULT_TOLERANCE} per process; {summary}")]
    if report.interrupted:
        lines.append(f"interrupted by {report.interrupted}")
    lines.append("settings restored" if report.restored and not report.restore_problems
                 else f"restoration problems: {report.restore_problems}")
    lines.extend(f"note: {text}" for text in report.foreign_changes)
    return "\n".join(lines)


def render_json(report: ProbeReport) -> str:
    return json.dumps(report.to_dict(), indent=2)


def render(report: ProbeReport, fmt: str = "table") -> str:
    if fmt == "table":
        return render_table(report)
    if fmt == "json":
        return render_json(report)
    raise InputError(f"format {fmt!r} is not table or json")

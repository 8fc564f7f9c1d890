"""``ptcalc probe``: check the model against the running kernel.

Each case maps a real region at a fixed virtual address in real child processes
(``ptcalc.probe.kernel``), touches it, and compares per process the measured ``VmPTE`` growth and
minor faults with the model (``ptcalc.compare``): bytes must match exactly, faults within
+-2 per process (the probe's own stack and code pages).

The pieces: ``ptcalc.probe.cases`` (what to measure), ``ptcalc.probe.guard`` (the kernel
settings a case needs, and their restoration), ``ptcalc.probe.kernel`` (the measurement),
``ptcalc.probe.results`` (checks, report, rendering).  This module runs them in order.

    run_probe(cases=None, *, model=None, progress=None, fault_around=None)
        -> ProbeReport          (never raises on SIGINT/SIGTERM: see report.interrupted)
    user_cases(size, offset=0, procs=2, access="write", strategies=None) -> list[ProbeCase]
    default_matrix() -> list[ProbeCase]
    render(report, fmt="table" | "json") -> str
    report.exit_code -> 0 agree, 1 mismatch/error/restore trouble, 128+signal interrupted
    main(argv=None) -> int        (``python -m ptcalc.probe.run``)

Without debugfs the fault-around window is measured (``kernel.measure_fault_around_bytes``)
and passed to the model.
"""

from __future__ import annotations

import os
import signal
import time

from ptcalc.errors import InputError
from ptcalc.paging import HUGE_2M_BYTES
from ptcalc.probe.cases import (
    LIVE_STRATEGIES,
    MAX_MEASURED_PROCS,
    NOT_IN_LINUX,
    ProbeCase,
    default_matrix,
    user_cases,
)
from ptcalc.probe.guard import (
    CaseSkipped,
    ProbeBusy,
    ProbeInterrupted,
    SystemGuard,
    mount_table,
    mthp_knob,
)
from ptcalc.probe.results import (
    FAULT_TOLERANCE,
    CaseResult,
    Check,
    ProbeReport,
    compare,
    render,
    render_json,
    render_table,
)


class ModelFailed(RuntimeError):
    """The model could not be evaluated for a case."""


def model_for(case: ProbeCase, fault_around: int | None = None) -> dict:
    """The model's numbers for a case: applicable, reason, pt_bytes_per_process,
    faults_first, faults_next (None where the model has no such column)."""
    import pandas as pd

    import ptcalc

    kwargs = {}
    if fault_around:
        kwargs["fault_around"] = fault_around
    df = ptcalc.compare(size=case.size, procs=case.procs, offset=case.offset, touched=1.0,
                        access=case.access, strategies=[case.strategy], **kwargs)
    row = df.iloc[0].to_dict()
    out = {"applicable": bool(row.get("applicable", True)),
           "reason": row.get("reason") if isinstance(row.get("reason"), str) else None}
    for key in ("pt_bytes_per_process", "faults_first", "faults_next"):
        value = row.get(key)
        out[key] = None if pd.isna(value) else int(value)   # None, NaN or pd.NA: n/a
    return out



def _region_for(case: ProbeCase, guard: SystemGuard, slot: int):
    from ptcalc.probe import kernel

    backing, directory, hp = case.backing, None, case.huge_page_bytes
    if backing == "mthp":        # shared anonymous memory with one folio size switched on
        guard.set_choice(mthp_knob(case.folio_bytes), "always")
        backing = "anon"
    elif backing == "thp":
        room = -(-case.size // HUGE_2M_BYTES) * HUGE_2M_BYTES + HUGE_2M_BYTES
        directory = guard.mount("tmpfs", f"huge=always,size={room}")
        backing = "file"
    elif backing == "hugetlbfs":
        directory = guard.mount("hugetlbfs", f"pagesize={hp // 1024}K")
        backing = "file"
    return kernel.Region(size=case.mapped_size, offset=case.offset, backing=backing,
                         private=case.private, huge_page_bytes=hp if hp else 0,
                         directory=directory, slot=slot)

def run_case(case: ProbeCase, guard: SystemGuard, *, model=None, fault_around=None,
             slot: int = 0, hold_seconds: float = 0.0) -> CaseResult:
    """Run one case inside ``guard``; its resources are released before returning."""
    from ptcalc.probe import kernel

    t0 = time.monotonic()
    result = CaseResult(case, "skip")
    try:
        if case.strategy in NOT_IN_LINUX:
            raise CaseSkipped(NOT_IN_LINUX[case.strategy])
        problem = kernel.platform_problem()
        if problem:
            raise CaseSkipped(problem)
        model_fn = model or (lambda c: model_for(c, fault_around))
        try:
            result.model = model_fn(case)
        except InputError as exc:
            raise CaseSkipped(f"model rejects the scenario: {exc}") from None
        except Exception as exc:   # any model failure is this case's error, not a crash
            raise ModelFailed(f"model failed: {type(exc).__name__}: {exc}") from None
        if not result.model.get("applicable", True):
            raise CaseSkipped(f"model: not applicable: {result.model.get('reason')}")
        guard.check_memory(case.memory_needed(), "the region")
        if case.huge_page_bytes:
            guard.reserve_huge_pages(case.huge_page_bytes, case.huge_pages_needed())
        region = _region_for(case, guard, slot)
        n = case.measured_procs
        threads = case.strategy == "threads"
        touches = [kernel.Touch(case.access, 0, case.size)] * n
        try:
            run = kernel.run_region(region, touches, threads=threads,
                                    hold_seconds=hold_seconds)
        except kernel.KernelProbeError as exc:
            # Someone else on the machine may have taken the free huge pages between our
            # reservation and the mmap (ENOMEM): reserve again and retry once.
            if not (case.huge_page_bytes and "Cannot allocate memory" in str(exc)):
                raise
            guard.reserve_huge_pages(case.huge_page_bytes, case.huge_pages_needed())
            run = kernel.run_region(region, touches, threads=threads,
                                    hold_seconds=hold_seconds)
        result.pt_bytes = tuple(p.pt_bytes for p in run.procs)
        result.faults = tuple(p.minor_faults for p in run.procs)
        result.noise_faults = max(p.noise_faults for p in run.procs)
        result.status, result.checks = compare(case, result.model, run)
    except CaseSkipped as exc:
        result.status, result.reason = "skip", str(exc)
    except (kernel.KernelProbeError, ModelFailed, OSError, ValueError) as exc:
        result.status, result.reason = "error", f"{type(exc).__name__}: {exc}"
    finally:
        guard.release()
        result.seconds = time.monotonic() - t0
    return result


def environment() -> dict:
    """Settings that change what the kernel does for these mappings (reported, not set)."""
    env = {}
    base = "/sys/kernel/mm/transparent_hugepage"
    for name in ("enabled", "shmem_enabled"):
        try:
            with open(f"{base}/{name}") as f:
                text = f.read()
            env[f"thp_{name}"] = text[text.index("[") + 1:text.index("]")]
        except (OSError, ValueError):
            pass
    try:   # per-size shmem mTHP (internal shmem mount): anything on changes 4 KiB faults
        on = []
        for name in sorted(os.listdir(base)):
            if name.startswith("hugepages-"):
                with open(f"{base}/{name}/shmem_enabled") as f:
                    text = f.read()
                choice = text[text.index("[") + 1:text.index("]")]
                if choice not in ("never", "inherit"):
                    on.append(f"{name}={choice}")
        env["shmem_mthp_on"] = on
    except (OSError, ValueError):
        pass
    for line in mount_table():
        parts = line.split()
        if len(parts) > 3 and parts[1] == "/dev/shm":
            env["dev_shm_options"] = parts[3]
    return env


def _fault_around(given: int | None) -> tuple[int | None, str]:
    from ptcalc.probe import kernel

    if given:
        return given, "given"
    value = kernel.fault_around_bytes()
    if value:
        return value, "debugfs"
    if kernel.platform_problem() is None:
        try:
            return kernel.measure_fault_around_bytes(), "measured"
        except (kernel.KernelProbeError, OSError):
            pass
    return None, "unknown"


def run_probe(cases=None, *, model=None, progress=None, fault_around: int | None = None,
              hold_seconds: float = 0.0, install_signal_handlers: bool = True) -> ProbeReport:
    """Run ``cases`` (default: the built-in matrix) against the live kernel.

    model(case) -> dict overrides the model (default: ``ptcalc.compare``);
    progress(text) is called before each case.  Settings are restored before returning,
    also when interrupted (then ``report.interrupted`` names the signal and the exception
    is not re-raised: the caller exits with ``report.exit_code``)."""
    import platform

    cases = default_matrix() if cases is None else list(cases)
    report = ProbeReport([], platform.release(), None)
    guard = SystemGuard(install_signal_handlers=install_signal_handlers)
    with guard:
        try:
            report.environment = environment()
            report.fault_around_bytes, report.fault_around_source = \
                _fault_around(fault_around)
            for i, case in enumerate(cases):
                if progress:
                    progress(f"[{i + 1}/{len(cases)}] {case.name}")
                report.results.append(run_case(case, guard, model=model,
                                                fault_around=report.fault_around_bytes,
                                                hold_seconds=hold_seconds))
        except KeyboardInterrupt as exc:
            signum = exc.signum if isinstance(exc, ProbeInterrupted) else signal.SIGINT
            report.interrupted = signal.Signals(signum).name
    report.repaired = list(guard.repaired)
    report.restored = guard.restored
    report.restore_problems = list(guard.problems)
    report.foreign_changes = list(guard.foreign)
    report.state_before = {"nr_hugepages": {str(k): v for k, v in guard.saved_counts.items()},
                           "mounts": guard.saved_mounts, "shmem_mthp": guard.saved_mthp}
    report.state_after = {"nr_hugepages": {str(k): v for k, v in guard.final_counts.items()},
                          "mounts": guard.final_mounts, "shmem_mthp": guard.final_mthp}
    return report


def restore_only() -> list[str]:
    """Only repair what a probe killed before restoring left (its journal): take the lock,
    undo, release.  Returns one line per repair ([] when there was nothing to do)."""
    with SystemGuard(install_signal_handlers=True) as guard:
        return list(guard.repaired)


# --------------------------------------------------------------------------- stand-alone


def main(argv=None) -> int:
    """``python -m ptcalc.probe.run [--size S --offset O --procs N --access A --strategy X]
    [--format table|json]``; with no size, the built-in matrix."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m ptcalc.probe.run", description=main.__doc__)
    parser.add_argument("--size")
    parser.add_argument("--offset", default="0")
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--access", choices=("read", "write"), action="append")
    parser.add_argument("--strategy", action="append")
    parser.add_argument("--case", action="append", help="run matrix cases whose name "
                        "contains this text")
    parser.add_argument("--format", default="table", choices=("table", "json"))
    parser.add_argument("--hold", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.size:
            cases = user_cases(args.size, args.offset, args.procs, args.access or ["write"],
                               args.strategy)
        else:
            cases = default_matrix()
            if args.strategy:
                cases = [c for c in cases if c.strategy in args.strategy]
            if args.case:
                cases = [c for c in cases if any(t in c.name for t in args.case)]
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        report = run_probe(cases, progress=lambda t: print(t, file=sys.stderr, flush=True),
                           hold_seconds=args.hold)
    except KeyboardInterrupt as exc:    # a second signal after restoration began
        signum = exc.signum if isinstance(exc, ProbeInterrupted) else signal.SIGINT
        print(f"interrupted by {signal.Signals(signum).name}; settings restored",
              file=sys.stderr)
        return 128 + signum
    print(render(report, args.format))
    return report.exit_code


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "FAULT_TOLERANCE",
    "LIVE_STRATEGIES",
    "MAX_MEASURED_PROCS",
    "NOT_IN_LINUX",
    "CaseResult",
    "Check",
    "ProbeBusy",
    "ProbeCase",
    "ProbeReport",
    "SystemGuard",
    "default_matrix",
    "main",
    "model_for",
    "render",
    "render_json",
    "render_table",
    "restore_only",
    "run_case",
    "run_probe",
    "user_cases",
]

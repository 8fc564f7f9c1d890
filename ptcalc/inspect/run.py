"""`ptcalc inspect`: measure live processes (or snapshots) and answer what-if for their layout.

    result = inspect(pids=[4242], pgrep="postgres", maps_files=["host1/4242.snap"])
    print(render(result, "table"))

For each process: VmPTE as measured, the page-table bytes predicted from the pages it really
has mapped (ptcalc.inspect.tables), and the difference with an explanation.  For each object
mapped MAP_SHARED by the processes: what it costs now and what every strategy of
`ptcalc.compare` would cost for the same size, address, process count and touched fraction
(ptcalc.inspect.shared).  Snapshot format: ptcalc.inspect.layout.

Errors: a PID or file that cannot be read is skipped with a warning (result.warnings); if
nothing at all could be read, InputError is raised (the CLI exits with code 2).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field

from ptcalc.errors import InputError


@dataclass
class ProcessReport:
    """One inspected process: measured and predicted page-table bytes."""

    layout: object                    # ProcessLayout
    prediction: object                # inspect_tables.Prediction
    uses: list = field(default_factory=list)     # inspect_shared.SharedUse
    notes: list[str] = field(default_factory=list)

    @property
    def diff_bytes(self) -> int | None:
        vmpte = self.layout.vmpte_bytes
        return None if vmpte is None else self.prediction.tables.bytes - vmpte

    @property
    def diff_pct(self) -> float | None:
        vmpte = self.layout.vmpte_bytes
        if not vmpte:
            return None
        return round(100.0 * self.diff_bytes / vmpte, 3)

    def to_dict(self, shared: bool = True) -> dict:
        """The JSON form; shared=False leaves out "shared_mappings" (one entry per shared
        mapping: thousands for some processes)."""
        tables = self.prediction.tables
        out = {"pid": self.layout.pid, "name": self.layout.name, "source": self.layout.source,
               "vmpte_bytes": self.layout.vmpte_bytes,
               "predicted_pt_bytes": tables.bytes, "diff_bytes": self.diff_bytes,
               "diff_pct": self.diff_pct, "pte_tables": tables.pte, "pmd_tables": tables.pmd,
               "pud_tables": tables.pud, "presence": self.layout.presence_source,
               "notes": list(self.notes)}
        if shared:
            out["shared_mappings"] = [u.to_dict() for u in self.uses]
        return out


@dataclass
class InspectResult:
    processes: list[ProcessReport]
    shared_groups: list            # inspect_shared.SharedGroup
    what_if: list[dict]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The JSON contract of `ptcalc inspect --format json`."""
        return {"processes": [p.to_dict() for p in self.processes],
                "shared_groups": [g.to_dict() for g in self.shared_groups],
                "what_if": self.what_if,
                "warnings": list(self.warnings)}


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (str, int)):
        return [value]
    return list(value)


# Bounds on one snapshot: vm.max_map_count (65530 by default) mappings of ~25 smaps lines
# each, plus their pagemap ranges, is ~2 million lines and ~80 MB; allow some room above.
MAX_SNAPSHOT_BYTES = 256 * 2**20
MAX_SNAPSHOT_LINES = 8 * 2**20


def _bounded_read(stream, path: str) -> bytes:
    data = stream.read(MAX_SNAPSHOT_BYTES + 1)
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise InputError(f"{path}: larger than {MAX_SNAPSHOT_BYTES >> 20} MiB (uncompressed); "
                         "a snapshot of one process is far smaller: is it the right file?")
    if data.count(b"\n") > MAX_SNAPSHOT_LINES:
        raise InputError(f"{path}: more than {MAX_SNAPSHOT_LINES:,} lines; a snapshot of one "
                         "process has far fewer: is it the right file?")
    return data


def _read_snapshot_file(path: str) -> str:
    """A snapshot file's text; "-" is stdin, *.gz is decompressed.  Only regular files (a
    FIFO or device would block or never end), read up to MAX_SNAPSHOT_BYTES."""
    import os
    import stat
    import sys

    if path == "-":
        data = _bounded_read(sys.stdin.buffer, "stdin")
        return data.decode("utf-8", errors="replace")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    with open(fd, "rb") as raw:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(f"{path}: not a regular file; give a snapshot file")
        os.set_blocking(fd, True)
        if path.endswith(".gz"):
            import gzip
            import zlib

            try:
                with gzip.GzipFile(fileobj=raw) as handle:
                    data = _bounded_read(handle, path)
            except (gzip.BadGzipFile, zlib.error, EOFError):
                raise InputError(f"{path}: not a valid gzip file") from None
        else:
            data = _bounded_read(raw, path)
    return data.decode("utf-8", errors="replace")


def _load(pids, pgrep, maps_files, use_pagemap, warnings) -> list:
    from ptcalc.inspect.layout import parse_snapshot
    from ptcalc.inspect.proc import find_pids, read_process

    layouts = []
    wanted: list[int] = []
    for pid in _as_list(pids):
        try:
            wanted.append(int(pid))
        except (TypeError, ValueError):
            warnings.append(f"skipped pid {pid!r}: not a number")
    for pattern in _as_list(pgrep):
        found = find_pids(pattern)
        if not found:
            warnings.append(f"pgrep {pattern!r}: no process matches")
        wanted.extend(p for p in found if p not in wanted)
    for pid in dict.fromkeys(wanted):
        try:
            layouts.append(read_process(pid, use_pagemap=use_pagemap))
        except InputError as exc:
            warnings.append(f"skipped {exc}")
    for path in _as_list(maps_files):
        try:
            text = _read_snapshot_file(str(path))
            layouts.append(parse_snapshot(text, str(path)))
        except OSError as exc:
            warnings.append(f"skipped {path}: {exc.strerror or exc}")
        except InputError as exc:
            warnings.append(f"skipped {exc}")
    return layouts


@contextmanager
def _without_cycle_collection():
    """The cyclic garbage collector paused: inspect builds hundreds of thousands of objects
    for a process of 10,000 mappings (none of them cycles that outlive the call), and each
    full collection walks all of them (a fifth of the run).  Reference counting still frees
    everything.  Afterwards the objects go to the oldest generation (freeze, unfreeze), so
    that the first collection after the call does not walk them all again either, and the
    collector's state is restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()


def inspect(pids=None, pgrep=None, maps_files=None, *, what_if: bool = True,
            strategies=None, pattern: str = "layout", use_pagemap: bool = True,
            min_procs: int = 1) -> InspectResult:
    """Inspect live PIDs, processes matching `pgrep` regexes, and snapshot files.

    pids: int or list; pgrep: regex or list (matched against name and command line);
    maps_files: path or list of snapshot files (ptcalc.inspect.layout).  what_if=False skips
    the strategy evaluation; strategies limits it (names as in ptcalc.compare); pattern is
    "layout" (the real pages, see ptcalc.inspect.whatif), or compare's "dense" or "random";
    min_procs hides shared objects mapped by
    fewer processes.  Raises InputError when no input is given or nothing could be read.
    """
    with _without_cycle_collection():
        return _inspect(pids, pgrep, maps_files, what_if, strategies, pattern, use_pagemap,
                        min_procs)


def _inspect(pids, pgrep, maps_files, what_if, strategies, pattern, use_pagemap,
             min_procs) -> InspectResult:
    from ptcalc.inspect.shared import group_uses, shared_uses
    from ptcalc.inspect.tables import explain_gap, predict

    if not (_as_list(pids) or _as_list(pgrep) or _as_list(maps_files)):
        raise InputError("nothing to inspect: give --pid PID, --pgrep PATTERN or --maps FILE")
    if what_if:
        from ptcalc.inputs.scenario import parse_choice, parse_strategies
        from ptcalc.inspect.whatif import PATTERNS

        pattern = parse_choice(pattern, PATTERNS, "pattern")
        strategies = list(parse_strategies(strategies)) if strategies else None
    warnings: list[str] = []
    layouts = _load(pids, pgrep, maps_files, use_pagemap, warnings)
    if not layouts:
        reasons = "; ".join(warnings) if warnings else "no input"
        raise InputError(f"nothing could be read: {reasons}")
    reports = []
    uses = []
    for layout in layouts:
        prediction = predict(layout)
        mine = shared_uses(layout.pid, layout.label, layout.mappings, prediction.pieces)
        uses.extend(mine)
        reports.append(ProcessReport(layout, prediction, mine,
                                     layout.notes + explain_gap(layout, prediction)))
    groups = group_uses(uses, min_procs=min_procs)
    top: list[dict] = []
    if what_if and groups:
        from ptcalc.inspect.batch import evaluate_groups

        # each distinct what-if once, for every group; a layout the model cannot take is a
        # warning (ptcalc.inspect.batch)
        top = evaluate_groups(groups, strategies, pattern, warnings)
    return InspectResult(reports, groups, top, warnings)


def render(result: InspectResult, fmt: str = "table", units: str = "iec",
           detail: bool = False, layout=None, objects: int | None = 20) -> str:
    """Format a result: "table" (default), "json", "markdown" or "csv".

    units: "iec", "si" or "bytes" (ptcalc.units.format_size); detail: table and markdown
    also show each listed shared object's what-if; layout: see ptcalc.inspect.render.render;
    objects: table and markdown list the 20 largest shared objects and count the rest
    (0 or None: list all; json and csv always hold all).
    """
    from ptcalc.inspect.render import render as _render

    with _without_cycle_collection():
        return _render(result, fmt, units, detail, layout, objects)


def save_snapshots(pids, directory: str, warnings: list[str] | None = None) -> list[str]:
    """Write a snapshot (ptcalc.inspect.layout format, exact pagemap ranges) of each live
    PID to DIRECTORY/PID.snap (mode 0600: a memory layout defeats ASLR; written as
    ptcalc.atomic.write_file does, never through a symbolic link); returns the paths.  A PID
    that cannot be read or a target that is refused is skipped with a warning appended to
    `warnings` (InputError when none could be saved; OSError when a write fails)."""
    import os

    from ptcalc.atomic import write_file
    from ptcalc.inspect.proc import snapshot

    warnings = [] if warnings is None else warnings
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create snapshot directory {directory!r}: "
                         f"{exc.strerror}") from None
    paths = []
    for pid in _as_list(pids):
        path = os.path.join(directory, f"{pid}.snap")
        try:
            write_file(path, snapshot(int(pid)), private=True)
        except InputError as exc:
            warnings.append(f"not saved: {exc}")
            continue
        paths.append(path)
    if _as_list(pids) and not paths:
        raise InputError("no snapshot could be saved: " + "; ".join(warnings))
    return paths

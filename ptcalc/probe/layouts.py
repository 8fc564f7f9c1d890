"""Probe cases for host layouts: fork, maps at other addresses, THP with a file offset,
independent touched sets.  Each case runs in its own forked *holder* (own process group);
the holder creates the object, forks the processes of the case one after the other and
reports one JSON line.  Regions sit in otherwise empty 512 GiB slots above BASE_ADDRESS, so
a process's VmPTE growth is exactly the tables of its region.

What is measured, per case (kernel function names are mm/ of Linux 6.x):
* fork of private anonymous memory the parent wrote (copy_page_range(): vma_needs_copy()
  is true with an anon_vma): the child's tables at fork (its VmPTE minus what munmap() of
  the region frees after its touch, minus what its touch added), its faults reading or
  writing everything (copy-on-write);
* fork of MAP_SHARED shmem and of PMD-shared hugetlb (no anon_vma: nothing copied);
* hugetlb PMD sharing with the second process at +1 GiB (another 512 GiB slot) and at
  +2 MiB (page_table_shareable(): pmd_index(addr) == pmd_index(saddr));
* shmem THP mapped from a file offset congruent to the address mod 2 MiB, and not;
* independent random touched sets on shmem: the second reader's faults.

Resources (huge pages, the tmpfs mount) come from a SystemGuard, which restores them.
Stdlib + ctypes only at import; the model is evaluated lazily for the comparison.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import resource
import select
import signal
import time
from dataclasses import dataclass, field

from ptcalc.paging import HUGE_2M_BYTES, PAGE_BYTES
from ptcalc.probe.children import _memoryview, _warm_and_noise
from ptcalc.probe.procfs import read_vmpte_kb, region_smaps, slot_is_empty
from ptcalc.probe.region import (
    BASE_ADDRESS,
    MAP_ANONYMOUS,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    MAP_SHARED,
    PROT_READ,
    PROT_WRITE,
    SLOT_BYTES,
    KernelProbeError,
)

MiB, GiB = 1 << 20, 1 << 30
FIRST_SLOT = 40                     # probe slots 40.. (the matrix uses the low ones)
RANDOM_FRACTION = 0.25


@dataclass
class LayoutCase:
    name: str
    layout: dict                    # the layout (TOML shape) the model evaluates
    run: object                     # callable(guard) -> measured dict
    group: str                      # the group whose row is compared
    checks: tuple = ()              # (measured key, model key, tolerance)
    huge_pages: int = 0             # 2 MiB pages the case needs
    model: dict = field(default_factory=dict)
    measured: dict = field(default_factory=dict)
    status: str = "skip"
    reason: str = ""


# --------------------------------------------------------------------------- processes

def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return libc


def _map(address, size, flags, fd=-1, file_offset=0) -> memoryview:
    got = _libc().mmap(address, size, PROT_READ | PROT_WRITE, flags | MAP_FIXED_NOREPLACE, fd,
                       file_offset)
    if got != address:
        raise KernelProbeError(f"mmap at {address:#x}: {os.strerror(ctypes.get_errno())}")
    return _memoryview(address, size)


def _slot(index: int) -> int:
    address = BASE_ADDRESS + (FIRST_SLOT + index) * SLOT_BYTES
    if not slot_is_empty(FIRST_SLOT + index):
        raise KernelProbeError(f"probe slot at {address:#x} is not empty")
    return address


def _touch(mv, offsets, write):
    if write:
        for i in offsets:
            mv[i] = 1
    else:
        x = 0
        for i in offsets:
            x ^= mv[i]


def _measure(mv, offsets, write) -> dict:
    """Faults and VmPTE growth of one touch loop, after the warm-up that removes the
    interpreter's own first-run faults."""
    noise = _warm_and_noise(resource.RUSAGE_SELF)
    for _offset in offsets:    # iterating a list writes its ints' refcounts: a forked child
        pass                   # takes those copy-on-write faults here, not in the loop
    pte0 = read_vmpte_kb()
    # the loop written out, no Python call between the readings: a call can map a new
    # frame-stack chunk, one fault no warm-up removes (see children._measured)
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    if write:
        for i in offsets:
            mv[i] = 1
    else:
        x = 0
        for i in offsets:
            x ^= mv[i]
    f1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    return {"faults": f1 - f0, "pt_growth": (read_vmpte_kb() - pte0) * 1024,
            "noise_faults": noise[0]}


def _pages(size):
    return range(0, size, PAGE_BYTES)


def _in_child(body, *args, timeout=600.0) -> dict:
    """Run body(*args) in a forked process (own group); its JSON-able result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            os.setpgid(0, 0)
            try:
                out = body(*args)
            except BaseException as exc:     # report every failure, then exit
                out, code = {"error": f"{type(exc).__name__}: {exc}"}, 1
            os.write(w, (json.dumps(out) + "\n").encode())
        finally:
            os._exit(code)
    os.close(w)
    try:
        data, deadline = b"", time.monotonic() + timeout
        while not data.endswith(b"\n"):
            ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise KernelProbeError(f"no report within {timeout:.0f} s")
            chunk = os.read(r, 65536)
            if not chunk:
                raise KernelProbeError("the case's process died without a report")
            data += chunk
        result = json.loads(data)
    finally:
        os.close(r)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    if "error" in result:
        raise KernelProbeError(result["error"])
    return result


def _forked_child_touch(mv, address, size, offsets, write) -> dict:
    """In a forked child: tables at fork = what munmap() frees - what the touch added; new
    RAM = the region's Private_Dirty growth (a copy-on-write copy becomes the child's own
    page; pages still shared with the parent count as Shared_Dirty)."""
    private0 = region_smaps(address).get("Private_Dirty", 0)
    out = _measure(mv, offsets, write)
    out["new_ram"] = (region_smaps(address).get("Private_Dirty", 0) - private0) * 1024
    before = read_vmpte_kb()
    _libc().munmap(address, size)
    out["pt_at_fork"] = (before - read_vmpte_kb()) * 1024 - out["pt_growth"]
    return out


# --------------------------------------------------------------------------- cases

def _fork_case(kind, size, write, fd_kind="anon", huge=False, delta=0):
    def holder():
        address = _slot(0) + delta
        fd = -1
        if fd_kind == "hugetlb-memfd":
            fd = os.memfd_create("ptcalc-layout", os.MFD_HUGETLB | os.MFD_HUGE_2MB)
            os.ftruncate(fd, size)
        flags = (MAP_PRIVATE if kind == "private" else MAP_SHARED) | \
            (MAP_ANONYMOUS if fd < 0 else 0)
        mv = _map(address, size, flags, fd)
        parent = _measure(mv, _pages(size), True)
        child = _in_child(_forked_child_touch, mv, address, size, _pages(size), write)
        return {"parent_faults": parent["faults"], "child_faults": child["faults"],
                "child_pt_at_fork": child["pt_at_fork"], "child_new_ram": child["new_ram"],
                "noise": child["noise_faults"]}
    return holder


def _two_mappers(size, delta, fd_kind):
    """Process A maps the object at a fresh slot and writes it; B maps it at another slot
    + delta while A still maps it, and writes it."""
    def holder():
        fd = os.memfd_create("ptcalc-layout", os.MFD_HUGETLB | os.MFD_HUGE_2MB)
        os.ftruncate(fd, size)
        a_addr, b_addr = _slot(0), _slot(1) + delta
        ready_r, ready_w = os.pipe()
        done_r, done_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                mv = _map(a_addr, size, MAP_SHARED, fd)
                _touch(mv, _pages(size), True)
                os.write(ready_w, b"1")
                os.read(done_r, 1)
            finally:
                os._exit(0)
        os.read(ready_r, 1)
        try:
            b = _in_child(lambda: _measure(_map(b_addr, size, MAP_SHARED, fd), _pages(size),
                                           True))
        finally:
            os.write(done_w, b"1")
            os.waitpid(pid, 0)
        return {"second_faults": b["faults"], "second_pt": b["pt_growth"],
                "noise": b["noise_faults"]}
    return holder


def _thp_case(size, file_offset, directory):
    def holder():
        path = os.path.join(directory, f"ptcalc-layout-{os.getpid()}")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.unlink(path)
        os.ftruncate(fd, file_offset + size + HUGE_2M_BYTES)
        address = _slot(0) + HUGE_2M_BYTES + PAGE_BYTES
        mv = _map(address, size, MAP_SHARED, fd, file_offset)
        out = _measure(mv, _pages(size), True)
        smaps = region_smaps(address)
        out["pmd_mapped"] = 1024 * (smaps.get("ShmemPmdMapped", 0)
                                    + smaps.get("FilePmdMapped", 0))
        return out
    return holder


def _independent_case(size, seed, same=False):
    """The first process writes a random quarter; the second reads its own random quarter
    (independent sets) or the very pages the first wrote (the same set)."""
    def holder():
        address = _slot(0)
        mv = _map(address, size, MAP_SHARED | MAP_ANONYMOUS)
        rng = random.Random(seed)
        first = [o for o in _pages(size) if rng.random() < RANDOM_FRACTION]
        second = first if same else [o for o in _pages(size) if rng.random() < RANDOM_FRACTION]
        a = _in_child(lambda: _measure(mv, first, True))
        b = _in_child(lambda: _measure(mv, second, False))
        return {"first_faults": a["faults"], "second_faults": b["faults"],
                "noise": b["noise_faults"], "first": first, "second": second}
    return holder


# --------------------------------------------------------------------------- the matrix

def _address(slot_index, delta=0) -> int:
    return BASE_ADDRESS + (FIRST_SLOT + slot_index) * SLOT_BYTES + delta


def _fork_layout(kind, size, access, fd_kind="anon", delta=0):
    return {"regions": [{"name": "r", "size": size, "kind": kind,
                         "address": _address(0, delta)}],
            "groups": [{"name": "parent", "maps": [{"region": "r", "access": "write"}]},
                       {"name": "child", "forked_from": "parent",
                        "maps": [{"region": "r", "access": access}]}]}


def _two_layout(size, delta):
    return {"regions": [{"name": "r", "size": size, "address": _address(0)}],
            "groups": [{"name": "first", "maps": [{"region": "r"}]},
                       {"name": "second", "maps": [{"region": "r",
                                                    "address": _address(1, delta)}]}]}


def _thp_layout(size, file_offset):
    return {"regions": [{"name": "r", "size": size, "file_offset": file_offset,
                         "address": _address(0, HUGE_2M_BYTES + PAGE_BYTES)}],
            "groups": [{"name": "g", "maps": [{"region": "r"}]}]}


FORK = (("child_pt_at_fork", "pt_bytes_at_fork", 0), ("child_faults", "faults_first", 2),
        ("parent_faults", "parent.faults_first", 2),
        ("child_new_ram", "written_bytes_per_process", 0))


def layout_cases(thp_directory=lambda: "/dev/shm") -> list[LayoutCase]:
    """The layout probe matrix (see the module docstring)."""
    size = 64 * MiB
    cases = []
    for access in ("read", "write"):
        cases.append(LayoutCase(f"fork private anon 64MiB, child {access}s",
                                _fork_layout("private", size, access),
                                _fork_case("private", size, access == "write"), "child", FORK))
        cases.append(LayoutCase(f"fork shared shmem 64MiB, child {access}s",
                                _fork_layout("shared", size, access),
                                _fork_case("shared", size, access == "write"), "child", FORK))
    for access in ("read", "write"):    # the copy of two PMD tables (and their PTEs)
        cases.append(LayoutCase(f"fork private anon 256MiB across a 1GiB boundary, child "
                                f"{access}s",
                                _fork_layout("private", 256 * MiB, access, delta=GiB - 128 * MiB),
                                _fork_case("private", 256 * MiB, access == "write",
                                           delta=GiB - 128 * MiB), "child", FORK))
    cases.append(LayoutCase("fork PMD-shared hugetlb 1GiB, child writes",
                            _fork_layout("shared", GiB, "write"),
                            _fork_case("shared", GiB, True, "hugetlb-memfd"), "child", FORK,
                            huge_pages=512))
    for delta, text in ((GiB, "+1GiB (other 512GiB slot)"), (2 * MiB, "+2MiB")):
        cases.append(LayoutCase(f"hugetlb PMD sharing 2GiB, second at {text}",
                                _two_layout(2 * GiB, delta),
                                _two_mappers(2 * GiB, delta, "hugetlb-memfd"), "second",
                                (("second_faults", "faults_first", 2),
                                 ("second_pt", "pt_bytes_per_process", 0)), huge_pages=1024))
    for offset, text in ((PAGE_BYTES, "congruent file offset 4KiB"),
                         (0, "file offset 0, not congruent")):
        cases.append(LayoutCase(f"shmem THP 8MiB at 2MiB+4KiB, {text}",
                                _thp_layout(8 * MiB, offset), ("thp", offset), "g",
                                (("faults", "faults_first", 2),
                                 ("pt_growth", "pt_bytes_per_process", 0),
                                 ("pmd_mapped", "mapped_2m_bytes", 0))))
    cases.append(LayoutCase("independent random sets 64MiB shmem, f=0.25",
                            {}, _independent_case(size, seed=11), "second",
                            (("second_faults", "oracle_second_faults", 2),)))
    cases.append(LayoutCase("same random set 64MiB shmem, f=0.25",
                            {}, _independent_case(size, seed=12, same=True), "second",
                            (("second_faults", "oracle_second_faults", 2),)))
    return cases


STRATEGY_OF = {"fork PMD-shared hugetlb": "hugetlb-2m-pmdshare",
               "hugetlb PMD sharing": "hugetlb-2m-pmdshare", "shmem THP": "thp-shmem"}


def _strategy(case: LayoutCase) -> str:
    return next((s for prefix, s in STRATEGY_OF.items() if case.name.startswith(prefix)),
                "private-4k")


def model_for(case: LayoutCase, fault_around: int) -> dict:
    """The model's group row (and the parent's, prefixed) for a case."""
    from ptcalc.compute.host import evaluate_layout
    from ptcalc.inputs.layout import parse_layout

    layout = parse_layout(case.layout, case.name, fault_around=fault_around)
    result = evaluate_layout(layout, (_strategy(case),))
    rows = {r["group"]: r for r in result["groups"]}
    out = dict(rows[case.group])
    for group, row in rows.items():
        out.update({f"{group}.{k}": v for k, v in row.items()})
    return out


def _random_model(measured: dict, size: int, fault_around: int, same: bool) -> dict:
    """The oracle on the very pages drawn, and the model's expectation: independent sets
    (compute.host.independent_read_faults) or the same set (the compiled random-pattern
    faults_next of private-4k: a later reader faults once per window holding a touched
    page, so windows of n pages give sum 1 - (1-f)^n, variance sum p (1 - p))."""
    import math

    from ptcalc.compute.host import independent_read_faults
    from ptcalc.compute.scalar import scenario_rows
    from ptcalc.inputs.scenario import make_scenario
    from ptcalc.oracle_host import two_process_faults

    scenario = make_scenario(size, 2, 0, RANDOM_FRACTION, "read", "random",
                             fault_around=fault_around)
    (same_set,) = scenario_rows(scenario, ["private-4k"])
    if same:
        expected = same_set["faults_next"]
        p = 1 - (1 - RANDOM_FRACTION) ** (fault_around // PAGE_BYTES)
        sigma = math.sqrt(size // fault_around * p * (1 - p))
    else:
        expected, sigma = independent_read_faults(size, RANDOM_FRACTION, 1, fault_around)
    _, oracle = two_process_faults(size, measured["first"], measured["second"], fault_around)
    return {"oracle_second_faults": oracle, "expected_second_faults": expected,
            "sigma": sigma, "same_set_expected": same_set["faults_next"]}


def run_layout_probe(guard, fault_around: int, progress=None) -> list[LayoutCase]:
    """Run every case under `guard` (resources released after each)."""
    cases = layout_cases()
    for case in cases:
        if progress:
            progress(f"layout probe: {case.name}")
        try:
            if case.huge_pages:
                guard.reserve_huge_pages(HUGE_2M_BYTES, case.huge_pages)
            run = case.run
            if isinstance(run, tuple):        # THP: the mount is made here, under the guard
                directory = guard.mount("tmpfs", f"huge=always,size={16 * MiB}")
                run = _thp_case(8 * MiB, run[1], directory)
            case.measured = _in_child(run)
            if case.layout:
                case.model = model_for(case, fault_around)
            else:
                case.model = _random_model(case.measured, 64 * MiB, fault_around,
                                           case.name.startswith("same"))
                case.measured.pop("first")
                case.measured.pop("second")
            case.status = "pass"
            for measured_key, model_key, tolerance in case.checks:
                if abs(case.measured[measured_key] - case.model[model_key]) > tolerance:
                    case.status = "FAIL"
        except Exception as exc:       # a case's failure is reported, the others still run
            from ptcalc.probe.guard import CaseSkipped

            case.status = "skip" if isinstance(exc, CaseSkipped) else "error"
            case.reason = f"{type(exc).__name__}: {exc}"
        finally:
            guard.release()
    return cases


def render(cases) -> str:
    lines = ["case | measured | model | status"]
    for case in cases:
        pairs = [f"{m}={case.measured.get(m)} vs {k}={case.model.get(k)}"
                 for m, k, _ in case.checks]
        if "random set" in case.name and case.model:
            model = case.model
            pairs.append(f"expected={model['expected_second_faults']:.1f} "
                         f"(sigma {model['sigma']:.1f}), "
                         f"{model['expected_second_faults'] / model['same_set_expected']:.2f}x "
                         f"the same-set model's {model['same_set_expected']:.1f}")
        lines.append(f"{case.name} | {'; '.join(pairs)} | {case.status} {case.reason}".rstrip())
    return "\n".join(lines)


def probe_layouts(progress=None) -> tuple[list[LayoutCase], dict]:
    """Run the layout cases under a SystemGuard; (cases, what the guard saw)."""
    from ptcalc.probe.guard import SystemGuard
    from ptcalc.probe.run import _fault_around

    with SystemGuard() as guard:
        fault_around = _fault_around(None)[0] or 65536
        cases = run_layout_probe(guard, fault_around, progress)
    state = {"restored": guard.restored, "problems": list(guard.problems),
             "fault_around_bytes": fault_around}
    return cases, state


if __name__ == "__main__":
    import sys

    found, seen = probe_layouts(lambda text: print(text, file=sys.stderr, flush=True))
    print(render(found))
    print(json.dumps(seen))
    print(json.dumps([{"case": c.name, "status": c.status, "reason": c.reason,
                       "measured": c.measured,
                       "model": {k: c.model.get(k) for _, k, _ in c.checks}}
                      for c in found], default=str))

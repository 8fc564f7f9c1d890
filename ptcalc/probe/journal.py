"""The probe's journal: every kernel change is written down before it is made, so that a
probe killed with SIGKILL (or by the OOM killer) is repaired by the next run.

The journal lives in a root-only directory (``STATE_DIR``, mode 0700, owned by root; /run is
emptied at boot, as the huge page pools and mounts are), beside the lock file that serialises
probes and the folders the probe mounts tmpfs and hugetlbfs on.  It is one small JSON
document, replaced atomically (ptcalc.atomic) at every step:

    {"pid": 4242, "start": 123456, "boot_id": "...",
     "hugepages": {"2097152": {"before": 0}},         nr_hugepages before the first change
     "mounts": ["/run/ptcalc-probe/ptcalc-tmpfs-x1"],  listed before mount(2)
     "groups": [[4300, 123460]]}                       child process groups (pgid, start)

A run that takes the lock and finds a journal knows its writer is dead (the lock is an flock,
released when its holder dies): ``repair()`` kills the listed process groups that still run
(the start time guards against PID reuse), unmounts the listed mounts, writes each recorded
``before`` back to nr_hugepages, says what it repaired, and removes the journal.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import stat
import time

from ptcalc.errors import InputError

STATE_DIR = "/run/ptcalc-probe"
JOURNAL = "journal.json"
LOCK = "lock"
HUGEPAGES_DIR = "/sys/kernel/mm/hugepages"
MNT_DETACH = 2
EINVAL = 22


def state_dir(create: bool = True) -> str:
    """The root-only state directory; InputError when it is not safe (another owner, a
    link, writable by others)."""
    base = os.environ.get("PTCALC_PROBE_STATE_DIR", STATE_DIR)
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(base, 0o700)
    try:
        info = os.lstat(base)
    except FileNotFoundError:
        return base
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or \
            info.st_mode & 0o077:
        raise InputError(f"probe state directory {base} is not a directory of this user "
                         "with mode 0700; remove it (the probe recreates it)")
    return base


def process_start(pid: int) -> int | None:
    """The start time of `pid` (clock ticks after boot, /proc/PID/stat field 22); None when
    it does not run."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    fields = data.rpartition(b")")[2].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return handle.read().strip()
    except OSError:
        return ""


class Journal:
    """The journal of one probe run (see the module doc)."""

    def __init__(self, directory: str):
        self.path = os.path.join(directory, JOURNAL)
        self.state = {"pid": os.getpid(), "start": process_start(os.getpid()),
                      "boot_id": _boot_id(), "hugepages": {}, "mounts": [], "groups": []}
        self.active = False

    def _write(self) -> None:
        from ptcalc.atomic import write_file

        write_file(self.path, json.dumps(self.state, sort_keys=True) + "\n", private=True)
        self.active = True

    def hugepages(self, page_bytes: int, before: int) -> None:
        """Record nr_hugepages of `page_bytes` before its first change in this run."""
        key = str(page_bytes)
        if key not in self.state["hugepages"]:
            self.state["hugepages"][key] = {"before": before}
            self._write()

    def hugepages_restored(self, page_bytes: int) -> None:
        if self.state["hugepages"].pop(str(page_bytes), None) is not None:
            self._write()

    def knob(self, path: str, before: str) -> None:
        """Record a sysfs choice (a THP knob) before this run sets it."""
        knobs = self.state.setdefault("knobs", {})
        if path not in knobs:
            knobs[path] = before
            self._write()

    def knob_restored(self, path: str) -> None:
        if self.state.get("knobs", {}).pop(path, None) is not None:
            self._write()

    def mount(self, path: str) -> None:
        self.state["mounts"].append(path)
        self._write()

    def unmounted(self, path: str) -> None:
        if path in self.state["mounts"]:
            self.state["mounts"].remove(path)
            self._write()

    def group(self, pgid: int) -> None:
        self.state["groups"].append([pgid, process_start(pgid)])
        self._write()

    def group_gone(self, pgid: int) -> None:
        kept = [g for g in self.state["groups"] if g[0] != pgid]
        if kept != self.state["groups"]:
            self.state["groups"] = kept
            self._write()

    def pending(self) -> bool:
        """Is anything still listed (not undone)?"""
        return bool(self.state["hugepages"] or self.state["mounts"] or self.state["groups"]
                    or self.state.get("knobs"))

    def close(self) -> None:
        """Everything is restored: the journal goes."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self.active = False


# --- repair ------------------------------------------------------------------------------


def _read_int(path: str) -> int:
    with open(path) as handle:
        return int(handle.read().split()[0])


def _mounted(path: str) -> bool:
    with open("/proc/self/mounts") as handle:
        return any(line.split()[1:2] == [path] for line in handle)


def _kill_group(pgid: int, start: int | None) -> bool:
    """SIGKILL the group of a dead probe's child, only if its leader is still that process
    (same start time: the PID was not reused); waits until its members are gone."""
    if start is None or process_start(pgid) != start:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while process_start(pgid) == start and time.monotonic() < deadline:
        time.sleep(0.02)
    return True


def _unmount(path: str) -> str:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    deadline = time.monotonic() + 10
    how = "unmounted"
    while libc.umount2(path.encode(), 0) != 0:
        if ctypes.get_errno() == EINVAL:
            break
        if time.monotonic() > deadline:
            libc.umount2(path.encode(), MNT_DETACH)
            how = "detached lazily (busy)"
            break
        time.sleep(0.02)
    with contextlib.suppress(OSError):
        os.rmdir(path)
    return how


def read_journal(directory: str) -> dict | None:
    path = os.path.join(directory, JOURNAL)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    with open(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            raise InputError(f"probe journal {path} is not a regular file of this user; "
                             "remove it")
        data = handle.read(1 << 20)
    try:
        state = json.loads(data)
        assert isinstance(state, dict)
    except (ValueError, AssertionError):
        raise InputError(f"probe journal {path} is damaged; check nr_hugepages and the "
                         f"mounts under {directory} by hand, then remove it") from None
    return state


def repair(directory: str, *, hugepages_dir: str = HUGEPAGES_DIR) -> list[str]:
    """Undo what a dead probe's journal lists (the caller holds the probe lock); returns
    one line per repair, [] when there was no journal."""
    state = read_journal(directory)
    if state is None:
        return []
    repaired = []
    same_boot = state.get("boot_id") == _boot_id()
    writer = f"probe pid {state.get('pid')}"
    if same_boot:
        for pgid, start in state.get("groups", []):
            if _kill_group(int(pgid), start):
                repaired.append(f"killed the left-over process group {pgid} of the {writer}")
        for path in reversed(state.get("mounts", [])):
            if not str(path).startswith(directory + os.sep):
                continue             # only our own folders, whatever the file says
            if _mounted(path):
                repaired.append(f"{_unmount(path)} {path}")
            else:
                with contextlib.suppress(OSError):
                    os.rmdir(path)
        for path, before in sorted(state.get("knobs", {}).items()):
            if not str(path).startswith("/sys/kernel/mm/transparent_hugepage/"):
                continue             # only THP switches, whatever the file says
            try:
                with open(path) as handle:
                    text = handle.read()
                now = text[text.index("[") + 1:text.index("]")]
                if now != before:
                    with open(path, "w") as handle:
                        handle.write(before)
                    repaired.append(f"{path} {now} -> {before}")
            except (OSError, ValueError):
                continue
        for key, entry in sorted(state.get("hugepages", {}).items(), key=lambda kv: int(kv[0])):
            page_bytes, before = int(key), int(entry["before"])
            path = f"{hugepages_dir}/hugepages-{page_bytes // 1024}kB/nr_hugepages"
            try:
                now = _read_int(path)
            except OSError:
                continue
            if now == before:
                continue
            deadline = time.monotonic() + 10
            while True:
                with open(path, "w") as handle:
                    handle.write(f"{before}\n")
                if _read_int(path) == before or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            result = _read_int(path)
            size = f"{page_bytes >> 20} MiB" if page_bytes < 1 << 30 else \
                f"{page_bytes >> 30} GiB"
            repaired.append(f"nr_hugepages of {size} pages {now} -> {result}"
                            + ("" if result == before else f" (wanted {before})"))
    os.unlink(os.path.join(directory, JOURNAL))
    if repaired:
        repaired = [f"repaired what the {writer} (killed before restoring) left: "
                    + "; ".join(repaired)]
    return repaired

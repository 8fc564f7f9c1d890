"""Read live processes from /proc: status, smaps, pagemap; find them by pattern; save them.

Every failure is an InputError with a one-line message naming the PID.
"""

from __future__ import annotations

import errno
import os
import re

from ptcalc.errors import InputError
from ptcalc.inspect.layout import (
    PRESENCE_PAGEMAP,
    PRESENCE_RSS,
    SNAPSHOT_HEADER,
    Mapping,
    Presence,
    ProcessLayout,
    format_presence,
    parse_snapshot,
)
from ptcalc.paging import FIVE_LEVEL

_ATTEMPTS = 3          # re-read when VmPTE changed while reading (a busy process)
_NO_SCAN = {errno.ENOTTY, errno.EINVAL, errno.EOPNOTSUPP, errno.EFAULT}


def _read_text(pid: int, name: str) -> str:
    path = f"/proc/{pid}/{name}"
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except (FileNotFoundError, ProcessLookupError):
        raise InputError(f"pid {pid}: no such process (it exited or never existed)") from None
    except PermissionError:
        raise InputError(f"pid {pid}: cannot read {path}: permission denied; run as root or "
                         "as the process owner") from None
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            raise InputError(f"pid {pid}: the process exited while being read") from None
        raise InputError(f"pid {pid}: cannot read {path}: {exc.strerror}") from None


def _vmpte(status: str) -> str | None:
    match = re.search(r"^VmPTE:\s*(.*)$", status, re.MULTILINE)
    return match.group(1).strip() if match else None


def read_presence(pid: int, mappings: list[Mapping]) -> tuple[list[Presence] | None, str]:
    """Mapped pages from /proc/PID/pagemap, and a note; (None, why) when unreadable."""
    from ptcalc.inspect.pagemap import mark_pmd_mapped, read_ranges, scan_ranges

    user = [m for m in mappings if m.end <= FIVE_LEVEL.user_space_bytes]
    if not user:
        return [], ""
    try:
        fd = os.open(f"/proc/{pid}/pagemap", os.O_RDONLY)
    except (FileNotFoundError, ProcessLookupError):
        raise InputError(f"pid {pid}: no such process (it exited while being read)") from None
    except OSError as exc:
        return None, f"pagemap not readable ({exc.strerror})"
    try:
        try:
            return scan_ranges(fd, user[0].start, user[-1].end), ""
        except OSError as exc:
            if exc.errno not in _NO_SCAN:
                return None, f"pagemap scan failed ({exc.strerror})"
        presence: list[Presence] = []
        for mapping in user:
            if not mapping.pfnmap:
                presence.extend(read_ranges(fd, mapping.start, mapping.end))
        for mapping in user:
            pmd_mapped = (mapping.fields.get("ShmemPmdMapped", 0)
                          + mapping.fields.get("FilePmdMapped", 0))
            if pmd_mapped and not mapping.hugetlb:
                presence = mark_pmd_mapped(presence, mapping, pmd_mapped // (2 << 20))
        return presence, ""
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            raise InputError(f"pid {pid}: the process exited while being read") from None
        return None, f"pagemap not readable ({exc.strerror})"
    finally:
        os.close(fd)


def _read_once(pid: int, use_pagemap: bool) -> tuple[str, str, list[Presence] | None, str, bool]:
    status = _read_text(pid, "status")
    before = _vmpte(status)
    if before is None:
        raise InputError(f"pid {pid}: no address space (a kernel thread or a zombie)")
    smaps = _read_text(pid, "smaps")
    if not smaps.strip():
        raise InputError(f"pid {pid}: no address space (a kernel thread or a zombie)")
    presence, note = None, ""
    if use_pagemap:
        layout = parse_snapshot(smaps, f"/proc/{pid}/smaps")
        presence, note = read_presence(pid, layout.mappings)
    after = _vmpte(_read_text(pid, "status"))
    return status, smaps, presence, note, before == after


def _read_stable(pid: int, use_pagemap: bool):
    for _ in range(_ATTEMPTS):
        status, smaps, presence, note, stable = _read_once(pid, use_pagemap)
        if stable:
            break
    return status, smaps, presence, note, stable


def read_process(pid: int, use_pagemap: bool = True) -> ProcessLayout:
    """The layout of a live process: status + smaps, pages from pagemap where readable."""
    status, smaps, presence, note, stable = _read_stable(pid, use_pagemap)
    layout = parse_snapshot(status + smaps, f"/proc/{pid}")
    if presence is not None:
        layout.presence = presence
        layout.presence_source = PRESENCE_PAGEMAP
    else:
        layout.presence_source = PRESENCE_RSS
        if note:
            layout.notes.append(note)
    if not stable:
        layout.notes.append("VmPTE changed while the process was read: it is busy mapping")
    return layout


def snapshot(pid: int) -> str:
    """A snapshot of a live process (see ptcalc.inspect.layout) with exact pagemap ranges."""
    status, smaps, presence, _note, _stable = _read_stable(pid, True)
    header = SNAPSHOT_HEADER + (" presence=pagemap" if presence is not None else "") + "\n"
    body = status + smaps
    if not body.endswith("\n"):
        body += "\n"
    return header + body + (format_presence(presence) if presence else "")


def _ancestors(pid: int) -> set[int]:
    """`pid` and its parents up to init: the wrappers (sudo, timeout, a shell's -c) whose
    command line holds this run's own --pgrep pattern."""
    chain = set()
    while pid > 1 and pid not in chain:
        chain.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                stat = handle.read()
            pid = int(stat[stat.rindex(b")") + 2:].split()[1])   # the field after state
        except (OSError, ValueError, IndexError):
            break
    return chain


def find_pids(pattern: str, exclude_self: bool = True) -> list[int]:
    """PIDs whose name (comm) or command line matches the regular expression `pattern`.

    Kernel threads (empty command line), this process and its ancestors (sudo, timeout, the
    shell: their command lines hold the pattern too) are left out.
    """
    try:
        regex = re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise InputError(f"pgrep pattern {pattern[:80]!r} is not a valid regular expression: "
                         f"{exc}") from None
    found = []
    excluded = _ancestors(os.getpid()) if exclude_self else set()
    for entry in os.listdir("/proc"):
        if not (entry.isascii() and entry.isdigit()) or int(entry) in excluded:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open(f"/proc/{entry}/comm", encoding="utf-8", errors="replace") as handle:
                comm = handle.read().strip()
        except OSError:
            continue
        if cmdline and (regex.search(comm) or regex.search(cmdline)):
            found.append(int(entry))
    return sorted(found)

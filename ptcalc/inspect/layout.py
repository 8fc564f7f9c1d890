"""A process's memory layout as `ptcalc inspect` sees it, and the snapshot text format.

One parser serves live processes and offline copies alike.  A snapshot is plain text:

    # ptcalc-snapshot 1 presence=pagemap      optional header; presence=pagemap says the
                                              "# pagemap" lines below are complete
    Name:   postgres                          optional: /proc/PID/status lines (Name, Pid
    Pid:    4242                              and VmPTE are used, the rest is ignored)
    VmPTE:       52 kB
    55d0c0a00000-55d0c0a02000 r--p 00000000 fe:00 260131   /usr/bin/cat
    Size:                  8 kB               /proc/PID/smaps: each maps line followed by
    Rss:                   8 kB               its fields (Rss, Swap, KernelPageSize, ...)
    ...
    VmFlags: rd mr mw me
    # pagemap 55d0c0a00000-55d0c0a02000       optional: virtual ranges whose pages hold a
    # pagemap 7f0000000000-7f0000200000 huge  page-table entry (present or swapped);
                                              "huge" = mapped by one PMD entry (THP)

So `cat /proc/PID/status /proc/PID/smaps > PID.snap` is a valid snapshot (page presence is
then estimated from Rss), and a bare `cat /proc/PID/maps` is one too (every page of every
mapping is then assumed mapped: an upper bound).  `ptcalc.inspect.proc.snapshot(pid)` (and
`ptcalc inspect --pid PID --save DIR`) writes the complete form with exact presence from
/proc/PID/pagemap.  One file holds one process; files may be gzipped (NAME.gz).  All files
given together are taken to come from one host (shared objects are matched by device and
inode).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ptcalc.errors import InputError
from ptcalc.paging import PAGE_BYTES

SNAPSHOT_HEADER = "# ptcalc-snapshot 1"

# Presence sources, best first.
PRESENCE_PAGEMAP = "pagemap"   # exact: /proc/PID/pagemap present or swapped bits
PRESENCE_RSS = "rss"           # estimate: Rss + Swap per mapping, as a dense prefix
PRESENCE_MAPS = "maps"         # upper bound: every page of every mapping

_HEADER_RE = re.compile(
    r"^([0-9a-fA-F]+)-([0-9a-fA-F]+)\s+([r-][w-][x-][sp])\s+([0-9a-fA-F]+)\s+"
    r"([0-9a-fA-F]+:[0-9a-fA-F]+)\s+([0-9]+)(?:\s+(.*))?$")
_FIELD_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):\s*(.*)$")
_KB_RE = re.compile(r"^([0-9]+)\s*kB$")
_PAGEMAP_RE = re.compile(r"^#\s*pagemap\s+([0-9a-fA-F]+)-([0-9a-fA-F]+)((?:\s+[a-z]+)*)\s*$")

# /proc/PID/status keys we use; they never occur in smaps, so they are recognised anywhere.
_STATUS_KEYS = {"Name", "Pid", "Tgid", "VmPTE"}


@dataclass(frozen=True)
class Mapping:
    """One line of /proc/PID/maps (one VMA) with its smaps fields in bytes."""

    start: int
    end: int
    perms: str
    offset: int            # file offset in bytes
    dev: str               # "major:minor" as maps prints it
    inode: int
    path: str              # may be "", "[heap]", "/memfd:x (deleted)", ...
    fields: dict = field(default_factory=dict, compare=False)   # smaps "Rss" -> bytes, ...
    vmflags: tuple = ()

    @property
    def size_bytes(self) -> int:
        return self.end - self.start

    @property
    def shared(self) -> bool:
        """MAP_SHARED (VM_MAYSHARE): maps prints 's' as the fourth permission."""
        return self.perms[3] == "s"

    @property
    def page_bytes(self) -> int:
        """Leaf page size: KernelPageSize (2 MiB or 1 GiB for hugetlb), else 4 KiB."""
        return self.fields.get("KernelPageSize", PAGE_BYTES) or PAGE_BYTES

    @property
    def hugetlb(self) -> bool:
        return self.page_bytes > PAGE_BYTES or "ht" in self.vmflags

    @property
    def pfnmap(self) -> bool:
        """VM_PFNMAP (e.g. [vvar], device memory): pagemap cannot see its pages."""
        return "pf" in self.vmflags

    @property
    def anonymous_private(self) -> bool:
        """Private anonymous memory: a PMD-mapped THP here keeps a deposited PTE table."""
        if self.shared or self.inode != 0:
            return False
        return self.path == "" or self.path.startswith("[heap]") or \
            self.path.startswith("[stack") or self.path.startswith("[anon")

    @property
    def identity(self) -> str:
        """The backing object: device and inode, as maps prints them."""
        return f"{self.dev}:{self.inode}"


@dataclass(frozen=True)
class Presence:
    """A page-aligned virtual range whose pages each hold a page-table entry."""

    start: int
    end: int
    huge: bool = False     # mapped by PMD entries (THP), not by PTEs


@dataclass
class ProcessLayout:
    """Everything inspect knows about one address space."""

    pid: int | None
    name: str
    vmpte_bytes: int | None
    mappings: list[Mapping]
    presence: list[Presence] | None      # None unless presence_source is pagemap
    presence_source: str                 # PRESENCE_PAGEMAP, PRESENCE_RSS or PRESENCE_MAPS
    source: str                          # "/proc/4242" or the snapshot file name
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return str(self.pid) if self.pid is not None else self.source


def _kb_or_int(value: str) -> int | None:
    """smaps value "8 kB" -> 8192; "0" -> 0 (THPeligible); anything else -> None."""
    if len(value) > 24:           # beyond 64 bits: no real smaps value (and int() would
        return None               # refuse more than 4300 digits)
    match = _KB_RE.match(value)
    if match:
        return int(match.group(1)) * 1024
    if value.isascii() and value.isdigit():     # "²".isdigit() is True, int("²") fails
        return int(value)
    return None


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _mapping(values: dict) -> Mapping:
    """Mapping(**values) for the complete, checked values of the parser, without the frozen
    dataclass's __init__ (a setattr per field, the cost of a snapshot of 10,000 mappings)."""
    mapping = object.__new__(Mapping)
    mapping.__dict__.update(values)
    return mapping


def _kb_value(value: str) -> int | None:
    """_kb_or_int for the usual "N kB" (None for anything else: _kb_or_int decides)."""
    if value.endswith(" kB") and len(value) <= 24:
        digits = value[:-3].rstrip()
        if digits.isascii() and digits.isdigit():
            return int(digits) * 1024
    return None


def _maps_header(line: str) -> dict | None:
    """The mapping of a well-formed maps line (None otherwise: the general path reads it,
    or says what is wrong)."""
    match = _HEADER_RE.match(line)
    if match is None:
        return None
    low, high, perms, offset, dev, inode, path = match.groups()
    if len(low) > 16 or len(high) > 16 or not inode.isascii() or len(inode) > 20:
        return None
    start, end = int(low, 16), int(high, 16)
    if end <= start:
        return None
    return {"start": start, "end": end, "perms": perms, "offset": int(offset, 16),
            "dev": dev, "inode": int(inode), "path": (path or "").strip(), "fields": {},
            "vmflags": ()}


def _pagemap_range(line: str) -> Presence | None:
    """The range of a well-formed "# pagemap START-END [huge]" line (None otherwise: the
    general path reads it, or says what is wrong)."""
    match = _PAGEMAP_RE.match(line)
    if match is None:
        return None
    low, high, flags = match.groups()
    flags = flags.split()
    if len(low) > 16 or len(high) > 16 or set(flags) - {"huge"}:
        return None
    start, end = int(low, 16), int(high, 16)
    if end <= start or start % PAGE_BYTES or end % PAGE_BYTES:
        return None
    presence = object.__new__(Presence)        # Presence(...) without the frozen __init__
    presence.__dict__.update(start=start, end=end, huge="huge" in flags)
    return presence


def _not_a_snapshot(source: str, lineno: int) -> InputError:
    """The error for a file that is not a snapshot: its content is not quoted (root may read
    any file; the message must not echo what it holds)."""
    return InputError(f"{source}:{lineno}: not a snapshot (this line is neither a maps line "
                      "'START-END PERMS OFFSET DEV INODE [PATH]' nor an smaps/status 'Key: "
                      "value' line); give the output of `ptcalc inspect --save` or of "
                      "`cat /proc/PID/status /proc/PID/smaps`")


def parse_snapshot(text: str, source: str = "<snapshot>") -> ProcessLayout:
    """Parse status + smaps (or bare maps) text, with optional "# pagemap" lines.

    Raises InputError naming the source and line for a line that is none of: blank, comment,
    maps header, "Key: value" field.  Lines are quoted in errors only once the text has shown
    itself to be a snapshot (a header or a maps line came before).
    """
    mappings: list[Mapping] = []
    presence: list[Presence] = []
    status: dict[str, str] = {}
    pending: dict | None = None        # the mapping being built: header values + fields
    fields: dict = {}                  # its fields
    saw_fields = False
    pagemap_complete = False

    def flush():
        if pending is not None:
            mappings.append(_mapping(pending))

    is_snapshot = False                # quote lines in errors only from then on
    # The common lines are read without regular expressions: a well-formed smaps field (most
    # repeat: "Swap: 0 kB", so each distinct one is split once), a maps line, a pagemap
    # range.  Anything else (and every error) takes the general path below, which reads the
    # same lines the same way.
    known: dict[str, tuple] = {}       # field line -> (key, value, number or None)
    for lineno, raw in enumerate(text.splitlines(), 1):
        field_line = known.get(raw)
        if field_line is None:
            line = raw.strip()
            if not line:
                continue
            key, colon, value = line.partition(":")
            if colon and key.isascii() and key.isidentifier():
                value = value.strip()
                field_line = known[raw] = (key, value, _kb_value(value))
        if field_line is not None:
            key, value, number = field_line
            if key in _STATUS_KEYS or pending is None:
                status.setdefault(key, value)
                continue
            if key == "VmFlags":
                pending["vmflags"] = tuple(value.split())
                continue
            if number is not None:
                fields[key] = number
                saw_fields = True
                continue
            line = raw.strip()
        elif line[0] in _HEX_DIGITS:
            header = _maps_header(line)
            if header is not None:
                flush()
                pending = header
                fields = header["fields"]
                is_snapshot = True
                continue
        elif is_snapshot and line.startswith("# pagemap "):
            found = _pagemap_range(line)
            if found is not None:
                presence.append(found)
                continue
        where = f"{source}:{lineno}"
        if line.startswith("#"):
            if line.startswith(SNAPSHOT_HEADER):
                pagemap_complete = "presence=pagemap" in line
                is_snapshot = True
                continue
            if not is_snapshot:
                if line.lower().startswith("# pagemap"):
                    raise _not_a_snapshot(source, lineno)
                continue
            match = _PAGEMAP_RE.match(line)
            if match:
                start, end = int(match.group(1)[-17:], 16), int(match.group(2)[-17:], 16)
                flags = match.group(3).split()
                too_wide = len(match.group(1)) > 16 or len(match.group(2)) > 16
                if too_wide or end <= start or start % PAGE_BYTES or end % PAGE_BYTES or \
                        set(flags) - {"huge"}:
                    raise InputError(f"{where}: malformed pagemap line {line[:80]!r}; "
                                     "expected '# pagemap START-END [huge]' with page-aligned "
                                     "hex addresses")
                presence.append(Presence(start, end, "huge" in flags))
            elif line.lower().startswith("# pagemap"):
                raise InputError(f"{where}: malformed pagemap line {line[:80]!r}; "
                                 "expected '# pagemap START-END [huge]'")
            continue
        match = _HEADER_RE.match(line)
        if match:
            flush()
            if len(match.group(1)) > 16 or len(match.group(2)) > 16 or \
                    not match.group(6).isascii() or len(match.group(6)) > 20:
                raise InputError(f"{where}: mapping addresses above 64 bits or an inode "
                                 f"above 20 digits in {line[:80]!r}")
            start, end = int(match.group(1), 16), int(match.group(2), 16)
            is_snapshot = True
            if end <= start:
                raise InputError(f"{where}: mapping end {match.group(2)} is not above its start "
                                 f"{match.group(1)}")
            pending = {"start": start, "end": end, "perms": match.group(3),
                       "offset": int(match.group(4), 16), "dev": match.group(5),
                       "inode": int(match.group(6)), "path": (match.group(7) or "").strip(),
                       "fields": {}, "vmflags": ()}
            fields = pending["fields"]
            continue
        match = _FIELD_RE.match(line)
        if not match and not is_snapshot:
            raise _not_a_snapshot(source, lineno)
        if not match:
            # the line is not quoted: a file given as a snapshot may hold anything
            raise InputError(f"{where}: malformed line; expected a maps line 'START-END PERMS "
                             "OFFSET DEV INODE [PATH]' or an smaps/status 'Key: value' line")
        key, value = match.group(1), match.group(2).strip()
        if key in _STATUS_KEYS or pending is None:
            status.setdefault(key, value)
            continue
        if key == "VmFlags":
            pending["vmflags"] = tuple(value.split())
            continue
        number = _kb_or_int(value)
        if number is None:
            if value[:1].isdigit():          # also "²": digits int() cannot read
                raise InputError(f"{where}: malformed smaps field {line[:80]!r}; expected "
                                 "'Key: N kB'")
            continue     # a /proc/PID/status line after the smaps: not needed
        fields[key] = number
        saw_fields = True
    flush()

    if not mappings:
        raise InputError(f"{source}: no maps lines found; expected /proc/PID/smaps or "
                         "/proc/PID/maps content")
    mappings.sort(key=lambda m: m.start)
    if presence or pagemap_complete:
        presence_source = PRESENCE_PAGEMAP
    elif saw_fields:
        presence_source = PRESENCE_RSS
    else:
        presence_source = PRESENCE_MAPS
    pid_text = status.get("Pid") or status.get("Tgid")
    if pid_text and pid_text.isdigit() and not (pid_text.isascii() and len(pid_text) <= 10):
        raise InputError(f"{source}: malformed Pid value {pid_text[:40]!r}; expected a "
                         "process id in ASCII digits")
    vmpte = None
    if "VmPTE" in status:
        kb = _KB_RE.match(status["VmPTE"])
        if not kb or len(kb.group(1)) > 20:
            raise InputError(f"{source}: malformed VmPTE value {status['VmPTE'][:40]!r}; "
                             "expected 'N kB'")
        vmpte = int(kb.group(1)) * 1024
    return ProcessLayout(
        pid=int(pid_text) if pid_text and pid_text.isascii() and pid_text.isdigit()
        and len(pid_text) <= 10 else None,
        name=status.get("Name", ""),
        vmpte_bytes=vmpte,
        mappings=mappings,
        presence=sorted(presence, key=lambda p: p.start)
        if presence_source == PRESENCE_PAGEMAP else None,
        presence_source=presence_source,
        source=source,
    )


def format_presence(presence: list[Presence]) -> str:
    """The "# pagemap" lines of a snapshot."""
    return "".join(f"# pagemap {p.start:x}-{p.end:x}{' huge' if p.huge else ''}\n"
                   for p in presence)

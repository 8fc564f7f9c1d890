"""`--paging auto`: how many paging levels the running host uses, and why.

x86-64 Linux runs 5-level page tables when the CPU has LA57 and the kernel enables it.  The
kernel clears the ``la57`` flag from /proc/cpuinfo whenever it runs with 4 levels (built
without 5-level support, booted with ``no5lvl``, or a CPU without LA57:
arch/x86/kernel/cpu/common.c early_identify_cpu(), Documentation/arch/x86/cpuinfo.rst), so
the flag shows the mode in use.  Since Linux 6.16 5-level support is always built
(7212b58d6d71 "x86/mm/64: Make 5-level paging support unconditional"); before, it needed
CONFIG_X86_5LEVEL.  Either way user space stays 47-bit (128 TiB) unless a program passes
mmap a hint above it (Documentation/arch/x86/x86_64/5level-paging.rst).

Standard library only; nothing is read at import.
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass

#: The first release that always builds 5-level paging support.
UNCONDITIONAL_5LEVEL = (6, 16)


@dataclass(frozen=True)
class PagingChoice:
    levels: int       # 4 or 5
    reason: str       # why these levels, for titles ("" when given explicitly)


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _flags(cpuinfo_text: str) -> set[str]:
    """The flags of the first processor in a /proc/cpuinfo text."""
    match = re.search(r"^flags\s*:(.*)$", cpuinfo_text, re.MULTILINE)
    return set(match.group(1).split()) if match else set()


def kernel_version(release: str) -> tuple[int, int] | None:
    """(major, minor) of a kernel release string such as '6.18.44-fc-v1045'."""
    match = re.match(r"(\d+)\.(\d+)", release.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def host_paging(cpuinfo_text: str | None = None, release: str | None = None,
                cmdline: str | None = None) -> PagingChoice:
    """The paging levels of this host (or of the given /proc/cpuinfo text, kernel release
    and /proc/cmdline), with the reason in one phrase."""
    if cpuinfo_text is None:
        cpuinfo_text = _read("/proc/cpuinfo")
    release = platform.release() if release is None else release
    if cmdline is None:
        cmdline = _read("/proc/cmdline") or ""
    version = kernel_version(release)
    name = f"Linux {release.split('-')[0]}" if version else f"kernel {release!r}"
    if not cpuinfo_text or "flags" not in cpuinfo_text:
        return PagingChoice(4, "auto: no /proc/cpuinfo flags to read (not x86-64 Linux?), "
                               "assuming 4 levels")
    if "la57" in _flags(cpuinfo_text):
        why = ("5-level paging is built in since 6.16" if version and
               version >= UNCONDITIONAL_5LEVEL else "the kernel was built with CONFIG_X86_5LEVEL")
        return PagingChoice(5, f"auto: la57 in /proc/cpuinfo under {name}: {why} and in use")
    if "no5lvl" in cmdline.split():
        return PagingChoice(4, f"auto: {name} booted with no5lvl")
    if version and version >= UNCONDITIONAL_5LEVEL:
        return PagingChoice(4, f"auto: no la57 in /proc/cpuinfo under {name}: the CPU (or "
                               "its VM) lacks LA57")
    return PagingChoice(4, f"auto: no la57 in /proc/cpuinfo under {name}")


def choose_paging(value) -> PagingChoice:
    """'auto' (the host's levels), or 4 / 5 as given; InputError otherwise."""
    from ptcalc.errors import InputError

    text = str(value).strip().lower()
    if text == "auto":
        return host_paging()
    if text in ("4", "5"):
        return PagingChoice(int(text), "")
    raise InputError(f"paging {value!r} is not supported; use 4 or 5 (levels), or auto "
                     "(this host's, from la57 in /proc/cpuinfo)")

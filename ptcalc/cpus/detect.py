"""Host CPU detection: pick the listed CPU closest to /proc/cpuinfo and say why."""

from __future__ import annotations

from ptcalc.cpus.spec import DEFAULT_CPU, Cpu


def _parse_cpuinfo(text: str) -> dict[str, str]:
    """Fields of the first processor block of /proc/cpuinfo."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    return fields


def _as_int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def pick_host_cpu(cpus: tuple[Cpu, ...], cpuinfo_text: str) -> tuple[str, str]:
    """The name of the CPU in ``cpus`` closest to the host described by ``cpuinfo_text``,
    and why.

    Order of preference: exact family/model of the listed core; a model of the same core
    generation (Linux's tables); the model-name pattern; a related part whose nearest listed
    core it is; the same vendor's listed CPU with the nearest model number; else DEFAULT_CPU.
    """
    info = _parse_cpuinfo(cpuinfo_text)
    vendor = info.get("vendor_id", "")
    family = _as_int(info.get("cpu family"))
    model = _as_int(info.get("model"))
    model_name = info.get("model name", "")
    flags = set(info.get("flags", "").split())
    described = (f"{vendor or 'unknown vendor'} family {family if family is not None else '?'}"
                 + (f" model {model} (0x{model:02x})" if model is not None else "")
                 + (f", {model_name!r}" if model_name else ""))
    vm_note = ("; note: running under a hypervisor, consider --virtualized"
               if "hypervisor" in flags else "")
    same_family = [c for c in cpus if c.match.vendor_id == vendor and c.match.family == family]

    def answer(cpu: Cpu, why: str) -> tuple[str, str]:
        return cpu.name, f"host is {described}: {why}{vm_note}"

    if model is not None:
        for cpu in same_family:
            if cpu.match.is_model(model):
                return answer(cpu, f"{cpu.name} lists this model ({cpu.title})")
        for cpu in same_family:
            if cpu.match.is_generation(model):
                return answer(cpu, f"the model is a {cpu.core} part, listed as {cpu.name}")
    for cpu in cpus:
        pattern = cpu.match.name_matches(model_name) if cpu.match.vendor_id == vendor else None
        if pattern:
            return answer(cpu, f"the model name matches {cpu.name} ({cpu.title})")
    if model is not None:
        for cpu in same_family:
            if cpu.match.is_related(model):
                return answer(cpu, f"not listed; {cpu.name} ({cpu.core}) is the closest "
                                   f"listed core")
    same_vendor = [c for c in cpus if c.match.vendor_id == vendor]
    if same_vendor and family is not None and model is not None:
        target = family * 256 + model

        def distance(cpu: Cpu) -> int:
            return min(abs(cpu.match.family * 256 + m - target) for m in cpu.match.models)

        cpu = min(same_vendor, key=distance)
        return answer(cpu, f"no listed CPU matches; {cpu.name} has the nearest family/model "
                           f"number (a guess: check `ptcalc cpus`)")
    return DEFAULT_CPU, (f"host is {described}: no listed CPU of this vendor; using the "
                         f"default CPU {DEFAULT_CPU}{vm_note}")

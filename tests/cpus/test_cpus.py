"""models/cpus data files, their validation, listing and host detection (ptcalc.cpus.load)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ptcalc.cpus import load as cpus
from ptcalc.cpus.load import CpuDataError, load_cpu, load_cpu_file
from ptcalc.data import models_path
from ptcalc.errors import InputError

CPU_FILES = sorted(models_path("cpus").glob("*.toml"))
REQUIRED = ("haswell-ep", "skylake-sp", "icelake-sp", "sapphire-rapids", "granite-rapids",
            "zen2", "zen3", "zen4", "zen5")


# ---------------------------------------------------------------------------------------------
# Every shipped file


def test_models_path_finds_the_cpu_files():
    assert models_path("cpus").is_dir()
    assert {path.stem for path in CPU_FILES} >= set(REQUIRED)


@pytest.mark.parametrize("path", CPU_FILES, ids=[p.stem for p in CPU_FILES])
def test_every_cpu_file_loads_and_every_fact_is_sourced(path):
    cpu = load_cpu_file(path)
    assert cpu.name == path.stem
    for fact in cpu.facts():
        assert fact.evidence in cpus.EVIDENCE_CLASSES, fact.key
        assert fact.source and all(url.startswith(("https://", "http://"))
                                   for url in fact.source), fact.key
        for alternative in fact.alternatives:
            assert alternative.source and alternative.evidence in cpus.EVIDENCE_CLASSES
        if fact.alternatives:
            assert fact.why, f"{fact.key}: conflict without a reason"
    # Every level states something for every page size (possibly 0 entries, with a source).
    for level in (cpu.l1_dtlb, cpu.l2_tlb):
        for size in cpus.PAGE_SIZES:
            assert any(size in array.held_sizes for array in level.arrays)
    assert cpu.llc_bytes > 0
    assert cpu.page_walkers.value is None or cpu.page_walkers.value > 0


def test_cpu_names_lists_the_required_cpus_in_generation_order():
    names = cpus.cpu_names()
    assert set(REQUIRED) <= set(names)
    assert names.index("haswell-ep") < names.index("skylake-sp") < names.index("icelake-sp")
    assert names.index("sapphire-rapids") < names.index("granite-rapids") < names.index("zen2")
    assert names.index("zen2") < names.index("zen3") < names.index("zen4") < names.index("zen5")


def test_summary_lines_one_line_per_cpu():
    lines = cpus.summary_lines()
    assert len(lines) == len(cpus.cpu_names())
    for name, line in zip(cpus.cpu_names(), lines, strict=True):
        assert line.startswith(f"{name}: ") and "\n" not in line
    skylake = lines[cpus.cpu_names().index("skylake-sp")]
    assert "4K+2M 1536 (pool)" in skylake and "1G 16" in skylake and "24.75 MiB" in skylake


def test_sourced_values_the_metrics_rely_on():
    # Skylake-SP: CPUID leaf 2 descriptors 0x03 (64 x 4K), 0x63 (32 x 2M, 4 x 1G) and
    # 0xC3 (1536 shared 4K/2M, 16 x 1G), InstLatx64 Xeon Gold 6154 dump.
    sky = load_cpu("skylake-sp")
    assert [(a.sizes, a.entries) for a in sky.l1_dtlb.arrays] == [
        (("4k",), 64), (("2m",), 32), (("1g",), 4)]
    assert [(a.sizes, a.entries) for a in sky.l2_tlb.arrays] == [
        (("4k", "2m"), 1536), (("1g",), 16)]
    assert sky.l2_tlb.arrays[0].pooled
    # Zen 3: 0x80000006 EBX = 68004200 -> 2048 4K entries in the L2 DTLB pool (EPYC 7713).
    assert load_cpu("zen3").l2_tlb.entries_for("4k") == 2048
    # Ice Lake-SP: two 1024-entry L2 arrays (4K/2M and 4K/1G) -> 2048 usable by 4K pages.
    icx = load_cpu("icelake-sp").l2_tlb
    assert (icx.entries_for("4k"), icx.entries_for("2m"), icx.entries_for("1g")) == (
        2048, 1024, 1024)
    # Zen 2 smashes 1 GiB pages into 2 MiB L2 entries (vendor text on WikiChip).
    assert load_cpu("zen2").l2_tlb.arrays[0].granule_bytes("1g") == 2 * 2**20


def test_conflicts_say_which_value_and_why():
    spr = load_cpu("sapphire-rapids")
    (l1_4k,) = [f for f in spr.conflicts() if f.key == "l1_dtlb[0].entries"]
    assert l1_4k.value == 96 and l1_4k.evidence == "DOC"
    assert ("entries", 64) in l1_4k.alternatives[0].values
    assert "96" in l1_4k.why
    zen5_llc = [f for f in load_cpu("zen5").conflicts() if f.key == "llc.bytes"]
    assert zen5_llc and zen5_llc[0].value == 384 * 2**20


# ---------------------------------------------------------------------------------------------
# Names


def test_aliases_and_case_are_accepted():
    assert load_cpu("Cascade-Lake").name == "skylake-sp"
    assert load_cpu(" MILAN ").name == "zen3"
    assert load_cpu("emerald-rapids").name == "sapphire-rapids"


def test_unknown_cpu_is_a_one_line_error_listing_the_known_ones():
    with pytest.raises(InputError) as info:
        load_cpu("pentium-pro")
    message = str(info.value)
    assert "\n" not in message
    assert "pentium-pro" in message
    for name in REQUIRED:
        assert name in message


def test_resolve_cpu_default_and_host():
    cpu, explanation = cpus.resolve_cpu(None)
    assert cpu.name == cpus.DEFAULT_CPU and explanation is None
    cpu, explanation = cpus.resolve_cpu("host")
    assert cpu.name in cpus.cpu_names() and explanation


# ---------------------------------------------------------------------------------------------
# Validation: errors name the file and the key

VALID = """\
schema = 1
name = "testcpu"
title = "Test CPU"
vendor = "intel"
core = "Test Cove"

[match]
vendor_id = "GenuineIntel"
family = 6
models = [0x55]
evidence = "CODE"
source = "https://example.org/intel-family.h"

[[l1_dtlb]]
sizes = ["4k", "2m", "1g"]
entries = 64
evidence = "CPUID"
source = "https://example.org/dump.txt"

[[l2_tlb]]
sizes = ["4k", "2m"]
entries = 1536
evidence = "CPUID"
source = "https://example.org/dump.txt"

[[l2_tlb]]
sizes = ["1g"]
entries = 16
evidence = "CPUID"
source = "https://example.org/dump.txt"

[page_walkers]
count = 2
evidence = "DOC"
source = "https://example.org/manual"

[five_level_paging]
supported = false
evidence = "CPUID"
source = "https://example.org/dump.txt"

[llc]
bytes = 25952256
sku = "Test 1234"
evidence = "CPUID"
source = "https://example.org/dump.txt"
"""


def write(tmp_path: Path, text: str, name: str = "testcpu") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def test_minimal_valid_file_loads(tmp_path):
    cpu = load_cpu_file(write(tmp_path, VALID))
    assert cpu.name == "testcpu" and cpu.l2_tlb.reach_bytes("4k") == 1536 * 4096


@pytest.mark.parametrize("old, new, key", [
    ("entries = 1536", "entries = -1", "l2_tlb[0].entries"),
    ("entries = 1536", 'entries = "many"', "l2_tlb[0].entries"),
    ('sizes = ["1g"]', 'sizes = ["1t"]', "l2_tlb[1].sizes"),
    ('sizes = ["1g"]\nentries = 16', 'sizes = ["1g"]\nentires = 16', "l2_tlb[1].entires"),
    ('evidence = "DOC"', 'evidence = "BLOG"', "page_walkers.evidence"),
    ('source = "https://example.org/manual"', 'source = "see the manual"',
     "page_walkers.source"),
    ('count = 2\nevidence = "DOC"', 'evidence = "DOC"', "page_walkers.count"),
    ('count = 2\nevidence = "DOC"', 'count = 2\nevidence = "UNCONFIRMED"',
     "page_walkers.evidence"),
    ("supported = false", 'supported = "no"', "five_level_paging.supported"),
    ("bytes = 25952256", "bytes = 0", "llc.bytes"),
    ('name = "testcpu"', 'name = "othercpu"', "name"),
    ('vendor = "intel"', 'vendor = "via"', "vendor"),
    ('vendor_id = "GenuineIntel"', 'vendor_id = "AuthenticAMD"', "match.vendor_id"),
    ("models = [0x55]", "models = []", "match.models"),
    ("models = [0x55]", "models = [0x155]", "match.models[0]"),
    ("schema = 1", "schema = 2", "schema"),
    (('[[l2_tlb]]\nsizes = ["1g"]\nentries = 16\nevidence = "CPUID"\n'
     'source = "https://example.org/dump.txt"\n'), "", "l2_tlb"),
    ('[llc]\n', '[llc]\ncolour = "blue"\n', "llc.colour"),
    ('entries = 1536\nevidence = "CPUID"',
     ('entries = 1536\nalternatives = [{ entries = 1024, evidence = "CPUID", '
     'source = "https://example.org/other" }]\nevidence = "CPUID"'), "l2_tlb[0].why"),
    ('entries = 1536\nevidence = "CPUID"',
     'entries = 1536\nsmashed = { "2m" = "1g" }\nevidence = "CPUID"', "l2_tlb[0].smashed.2m"),
])
def test_validation_errors_name_the_file_and_the_key(tmp_path, old, new, key):
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(CpuDataError) as info:
        load_cpu_file(path)
    message = str(info.value)
    assert str(path) in message
    assert f"key '{key}'" in message
    assert "\n" not in message
    assert isinstance(info.value, InputError)          # the CLI prints it on one line


def test_invalid_toml_names_the_file(tmp_path):
    path = write(tmp_path, VALID + "\n[llc\n")
    with pytest.raises(CpuDataError, match="not valid TOML") as info:
        load_cpu_file(path)
    assert str(path) in str(info.value)


def test_missing_file_and_empty_directory(tmp_path):
    with pytest.raises(CpuDataError, match="file not found"):
        load_cpu_file(tmp_path / "nope.toml")
    with pytest.raises(CpuDataError, match="no CPU files"):
        cpus.cpu_names(tmp_path)


def test_duplicate_alias_across_files_names_the_file(tmp_path):
    write(tmp_path, VALID.replace('core = "Test Cove"', 'core = "A"\naliases = ["same"]'))
    other = VALID.replace('name = "testcpu"', 'name = "othercpu"').replace(
        'core = "Test Cove"', 'core = "B"\naliases = ["same"]')
    write(tmp_path, other, "othercpu")
    with pytest.raises(CpuDataError, match="key 'aliases'"):
        cpus.cpu_names(tmp_path)


def test_a_directory_of_user_files_is_listed(tmp_path):
    write(tmp_path, VALID)
    assert cpus.cpu_names(tmp_path) == ["testcpu"]
    assert load_cpu("testcpu", tmp_path).llc_bytes == 25952256


def test_a_name_reads_its_own_file_and_an_alias_reads_the_directory(tmp_path):
    # `--cpu NAME` reads NAME.toml alone (start-up): a broken sibling file does not stop
    # it, while an alias, which can be in any file, reads and validates them all
    write(tmp_path, VALID.replace('core = "Test Cove"', 'core = "A"\naliases = ["tc"]'))
    write(tmp_path, VALID + "\n[llc\n", "brokencpu")
    assert load_cpu("TestCPU", tmp_path).name == "testcpu"
    with pytest.raises(CpuDataError, match=r"brokencpu\.toml"):
        load_cpu("tc", tmp_path)


def test_a_listed_name_loads_the_same_cpu_as_the_directory():
    listed = {cpu.name: cpu for cpu in cpus.all_cpus()}
    for name, cpu in listed.items():
        assert load_cpu(name) == cpu


# ---------------------------------------------------------------------------------------------
# Host detection from /proc/cpuinfo text


def cpuinfo(vendor, family, model, name, flags="fpu vme pse pdpe1gb lm"):
    block = (f"processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\n"
             f"model\t\t: {model}\nmodel name\t: {name}\nstepping\t: 4\n"
             f"flags\t\t: {flags}\n\n")
    return block + block.replace("processor\t: 0", "processor\t: 1")


@pytest.mark.parametrize("text, expected, words", [
    (cpuinfo("GenuineIntel", 6, 85, "Intel(R) Xeon(R) Gold 6154 CPU @ 3.00GHz"),
     "skylake-sp", "lists this model"),
    (cpuinfo("GenuineIntel", 6, 63, "Intel(R) Xeon(R) CPU E5-2699 v3 @ 2.30GHz"),
     "haswell-ep", "lists this model"),
    (cpuinfo("GenuineIntel", 6, 143, "Intel(R) Xeon(R) Platinum 8480+"),
     "sapphire-rapids", "lists this model"),
    (cpuinfo("GenuineIntel", 6, 173, "Intel(R) Xeon(R) 6980P"), "granite-rapids",
     "lists this model"),
    (cpuinfo("AuthenticAMD", 23, 49, "AMD EPYC 7742 64-Core Processor"), "zen2",
     "lists this model"),
    (cpuinfo("AuthenticAMD", 25, 1, "AMD EPYC 7763 64-Core Processor"), "zen3",
     "lists this model"),
    (cpuinfo("AuthenticAMD", 25, 17, "AMD EPYC 9654 96-Core Processor"), "zen4",
     "lists this model"),
    (cpuinfo("AuthenticAMD", 26, 2, "AMD EPYC 9655 96-Core Processor"), "zen5",
     "lists this model"),
    # Ryzen 5000 (Vermeer, family 0x19 model 0x21): a Zen 3 part by Linux's table.
    (cpuinfo("AuthenticAMD", 25, 0x21, "AMD Ryzen 9 5950X 16-Core Processor"), "zen3",
     "Zen 3 part"),
    # Emerald Rapids (0xCF): not a listed model, same TLBs as Sapphire Rapids.
    (cpuinfo("GenuineIntel", 6, 207, "INTEL(R) XEON(R) PLATINUM 8592+"), "sapphire-rapids",
     "closest listed core"),
    # An unlisted model whose brand string follows the Ice Lake-SP numbering.
    (cpuinfo("GenuineIntel", 6, 0x99, "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"),
     "icelake-sp", "model name matches"),
    # Sierra Forest (0xAF) is not listed: nearest model number, said to be a guess.
    (cpuinfo("GenuineIntel", 6, 0xAF, "Intel(R) Xeon(R) 6780E"), "granite-rapids",
     "nearest"),
])
def test_detect_host_cpu(text, expected, words):
    name, explanation = cpus.detect_host_cpu(text)
    assert name == expected
    assert words in explanation and expected in explanation
    assert "\n" not in explanation


def test_detect_non_x86_host_falls_back_to_the_default():
    arm = "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n\n"
    name, explanation = cpus.detect_host_cpu(arm)
    assert name == cpus.DEFAULT_CPU and "default" in explanation


def test_detect_mentions_a_hypervisor():
    text = cpuinfo("GenuineIntel", 6, 85, "Intel Xeon Processor (Cascadelake)",
                   flags="fpu hypervisor lm")
    name, explanation = cpus.detect_host_cpu(text)
    assert name == "skylake-sp" and "--virtualized" in explanation


def test_detect_reads_this_machine():
    name, explanation = cpus.detect_host_cpu()
    assert name in cpus.cpu_names() and explanation


# ---------------------------------------------------------------------------------------------
# No import-time work


def test_importing_cpus_reads_nothing_and_loads_no_sympy():
    code = ("import sys, ptcalc.cpus.load as c, ptcalc.data; "
            "assert 'sympy' not in sys.modules and 'pandas' not in sys.modules; "
            "assert c._load_dir.cache_info().currsize == 0")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_models_path_in_an_installed_layout(tmp_path):
    # Installed, models/ is the namespace package ptcalc.models (no __init__.py), which
    # importlib.resources.files() returns as a MultiplexedPath; models_path must still find it.
    import shutil

    import ptcalc

    site = tmp_path / "site"
    # The package under test may itself be installed (models/ already inside): leave that
    # copy out and lay the data in as an install does.
    shutil.copytree(Path(ptcalc.__file__).parent, site / "ptcalc",
                    ignore=shutil.ignore_patterns("__pycache__", "models"))
    shutil.copytree(models_path("cpus"), site / "ptcalc" / "models" / "cpus")
    code = ("import ptcalc.data as d, ptcalc.cpus.load as c; "
            "print(d.models_path('cpus')); print(len(c.cpu_names()))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, cwd=tmp_path, env={"PYTHONPATH": str(site)}).stdout.split()
    assert Path(out[0]) == site / "ptcalc" / "models" / "cpus"
    assert int(out[1]) == len(CPU_FILES)

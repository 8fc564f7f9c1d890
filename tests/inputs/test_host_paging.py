"""--paging auto: the host's paging levels from /proc/cpuinfo's la57 flag and the kernel."""

import pytest

from ptcalc.errors import InputError
from ptcalc.inputs.host_paging import choose_paging, host_paging, kernel_version
from ptcalc.inputs.scenario import make_scenario, parse_paging

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep pge {extra} avx512f
address sizes\t: 52 bits physical, 57 bits virtual
"""


def test_la57_on_a_6_16_kernel_gives_five_levels():
    # A Sapphire Rapids host on 6.16: the kernel keeps la57 in the flags only when it runs
    # 5-level tables (early_identify_cpu() clears it otherwise), and 6.16 always builds them.
    choice = host_paging(CPUINFO.format(extra="la57"), "6.16.0-1-generic", "ro quiet")
    assert choice.levels == 5
    assert "la57" in choice.reason and "6.16" in choice.reason


def test_no_la57_gives_four_levels_with_the_reason():
    choice = host_paging(CPUINFO.format(extra=""), "6.18.2", "")
    assert choice.levels == 4 and "no la57" in choice.reason
    booted = host_paging(CPUINFO.format(extra=""), "6.18.2", "root=/dev/sda1 no5lvl")
    assert booted.levels == 4 and "no5lvl" in booted.reason


def test_la57_before_6_16_means_the_kernel_was_built_with_it():
    choice = host_paging(CPUINFO.format(extra="la57"), "5.14.0-427.el9.x86_64", "")
    assert choice.levels == 5 and "CONFIG_X86_5LEVEL" in choice.reason


def test_no_cpuinfo_assumes_four():
    assert host_paging("", "6.18.0", "").levels == 4


def test_this_machine():
    # This VM's CPU shows no la57 (see /proc/cpuinfo): auto picks 4 and says why.
    with open("/proc/cpuinfo") as f:
        has_la57 = " la57" in f.read()
    choice = choose_paging("auto")
    assert choice.levels == (5 if has_la57 else 4)
    assert choice.reason.startswith("auto: ")
    assert parse_paging("auto") == choice.levels
    assert make_scenario("1GiB", 2, paging_levels="auto").paging == choice.levels


def test_explicit_levels_stay_and_bad_values_are_one_line():
    assert choose_paging("4").levels == 4 and choose_paging(" 5 ").levels == 5
    assert choose_paging("5").reason == ""
    with pytest.raises(InputError) as error:
        choose_paging("6")
    text = str(error.value)
    assert "use 4 or 5" in text and "auto" in text and "\n" not in text


def test_kernel_version():
    assert kernel_version("6.18.44-fc-v1045") == (6, 18)
    assert kernel_version("weird") is None


def test_titles_say_which_paging_and_why():
    from conftest import run_cli

    choice = choose_paging("auto")
    code, out, err = run_cli("compare", "--size", "1GiB", "--procs", "2", "-s", "private-4k")
    assert code == 0, err
    assert f"{choice.levels}-level paging ({choice.reason})" in out.splitlines()[0]
    code, out, err = run_cli("compare", "--size", "1GiB", "--procs", "2", "-s", "private-4k",
                             "--paging", "5")
    assert code == 0, err
    assert "5-level paging\n" in out.splitlines()[0] + "\n"       # given: no reason shown

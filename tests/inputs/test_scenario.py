import pytest

from ptcalc.errors import InputError
from ptcalc.inputs.scenario import make_scenario, parse_strategies


def test_touched_prefix_is_exact_whole_pages():
    # 0.3 of 10 pages = 3 pages exactly; float 0.3 * 10 would also give 3, but 0.1 * 3 pages
    # gives 0.30000000000000004 -> ceil 1 page either way; check a case where floats err:
    # 0.7 * 10 = 7.000000000000001 as floats (ceil 8); exact 7/10 * 10 = 7 pages.
    assert make_scenario(10 * 4096, 1, touched="0.7").touched_bytes == 7 * 4096
    assert make_scenario(10 * 4096, 1, touched=0.7).touched_bytes == 7 * 4096
    # 1 page of 3 touched at 0.2: ceil(0.6) = 1 page.
    assert make_scenario(3 * 4096, 1, touched="0.2").touched_bytes == 4096


def test_size_rounds_up_to_pages():
    scenario = make_scenario("10e9", 1)       # 10**10 bytes: not a multiple of 4 KiB
    assert scenario.size_bytes == -(-10**10 // 4096) * 4096
    assert scenario.requested_size_bytes == 10**10


@pytest.mark.parametrize("kwargs, fragment", [
    ({"size": "-1", "procs": 1}, "negative"),
    ({"size": "", "procs": 1}, "size"),
    ({"size": "nan", "procs": 1}, "size"),
    ({"size": "0", "procs": 1}, "empty"),
    ({"size": "1G", "procs": 0}, "procs 0"),
    ({"size": "1G", "procs": "x"}, "procs"),
    ({"size": "1G", "procs": 1, "touched": 1.5}, "touched"),
    ({"size": "1G", "procs": 1, "touched": 0}, "touched"),
    ({"size": "1G", "procs": 1, "touched": float("nan")}, "touched"),
    ({"size": "1G", "procs": 1, "offset": 100}, "multiple of 4 KiB"),
    ({"size": "1G", "procs": 1, "offset": "512GiB"}, "below 512 GiB"),
    ({"size": "129TiB", "procs": 1}, "user address space"),
    ({"size": "1G", "procs": 1, "access": "exec"}, "read, write"),
    ({"size": "1G", "procs": 1, "paging": 3}, "4 or 5"),
    ({"size": "1G", "procs": 1, "fault_around": "48KiB"}, "power of two"),
])
def test_bad_input_is_one_line(kwargs, fragment):
    args = dict(kwargs)
    paging = args.pop("paging", 4)
    with pytest.raises(InputError) as error:
        make_scenario(**args, paging_levels=paging)
    assert fragment in str(error.value)
    assert "\n" not in str(error.value)


def test_five_level_fits_more():
    assert make_scenario("129TiB", 1, paging_levels=5).size_bytes == 129 * 2**40


def test_unknown_strategy_suggests_nearest():
    with pytest.raises(InputError, match="did you mean 'hugetlb-1g'"):
        parse_strategies(["hugetlb-1gb"])

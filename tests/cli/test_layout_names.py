"""--layout takes a file or a name in models/layouts in every command that has it."""

import pytest

from tests.conftest import run_cli


@pytest.mark.parametrize("argv", [
    ["compare", "--layout", "redis-fork-24g", "-f", "json"],
    ["op", "fork", "--layout", "redis-fork-24g", "-f", "json"],
])
def test_a_layout_name_is_found(argv):
    code, out, err = run_cli(*argv)
    assert code == 0, err
    assert out.lstrip().startswith(("{", "["))


def test_plan_with_a_named_layout_reads_it():
    # the Redis layout has only private memory: plan reads it and says why it has no pool,
    # instead of failing to open a file called "redis-fork-24g"
    code, _, err = run_cli("plan", "--layout", "redis-fork-24g")
    assert code == 2 and "has no shared region" in err and "cannot be read" not in err


@pytest.mark.parametrize("command", [["plan"], ["op", "fork"], ["compare"]])
def test_an_unknown_layout_name_lists_the_known_ones(command):
    code, _, err = run_cli(*command, "--layout", "nonesuch")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert "nonesuch" in lines[0] and "redis-fork-24g" in lines[0]

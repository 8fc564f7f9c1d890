"""Every notebook in notebooks/ runs top to bottom in a fresh kernel, without errors, and shows
at least one plot.  Notebooks are committed without outputs; this test checks that too.

Both are templates: one cell tagged `parameters` (papermill's convention), and a run with
other parameters (injected after it, as papermill does) changes the computed title and
conclusions accordingly.

The kernel is "python3" resolved to the interpreter running the tests (a kernel spec written to
a temporary JUPYTER_PATH), so the notebooks import the ptcalc under test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
TIMEOUT_S = 120          # per cell


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory, monkeypatch_module):
    """A python3 kernel spec that runs this interpreter, first on JUPYTER_PATH."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ptcalc tests)",
        "language": "python",
    }))
    monkeypatch_module.setenv("JUPYTER_PATH", str(root))
    monkeypatch_module.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return root


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_notebooks_exist():
    names = {path.name for path in NOTEBOOKS}
    assert {"sga-sizing.ipynb", "postgres-sizing.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name}: a cell has stale outputs; clear them"
            assert cell.execution_count is None, f"{path.name}: clear the execution counts"


# Parameters of a second run, and what its conclusions must then say (by hand: 64 GiB is
# 32 PMD-shared 1 GiB slots, so hugetlb-1g is still the cheapest when aligned; 800 processes
# x 128.25 MiB of 4 KiB page tables = 100 GiB, which fits next to 64 GiB in 256 GiB).
ROOT = Path(__file__).resolve().parents[2]
# The second runs also give a host layout (oracle-host: a 64 GiB SGA and 800 servers with a
# 16 MiB PGA each; postgres-host: docs/layouts.md's example); by hand, 1 GiB pages are the
# cheapest in both, 64 of them for the 64 GiB SGA and 16 for the 16 GiB shared_buffers.
LAYOUTS = {"sga-sizing.ipynb": (str(ROOT / "tests/fixtures/layouts/oracle-host.toml"),
                                ("oracle-host: 64 GiB sga (shared), 16 MiB pga (private); "
                                 "800 processes; 256 GiB host"), "hugepagesz=1G hugepages=64"),
           "postgres-sizing.ipynb": (str(ROOT / "docs/examples/postgres-host.toml"),
                                     ("postgres-host: 16 GiB shared_buffers (shared), 64 MiB "
                                      "heap (private); 201 processes in 2 groups; 64 GiB host"),
                                     "hugepagesz=1G hugepages=16")}
OTHER_RUNS = {
    "sga-sizing.ipynb": ({"SIZE": "64GiB", "PROCS": 800, "RAM": "256GiB", "OFFSET": "512MiB",
                          "LAYOUT": LAYOUTS["sga-sizing.ipynb"][0]},
                         "64 GiB SGA, 800 processes, 256 GiB host",
                         "300 GiB SGA, 1,500 processes, 512 GiB host"),
    "postgres-sizing.ipynb": ({"SIZE": "64GiB", "PROCS": 300, "RAM": "128GiB",
                               "SHARED_BUFFERS": ["16GiB", "64GiB"], "CONNECTIONS": [100, 300],
                               "TOUCHED": [0.5, 1.0],
                               "LAYOUT": LAYOUTS["postgres-sizing.ipynb"][0]},
                              "64 GiB shared_buffers, 300 processes, 128 GiB host",
                              "100 GiB shared_buffers, 400 processes, 256 GiB host"),
}


def _tagged(notebook, tag):
    return [cell for cell in notebook.cells if tag in cell.get("metadata", {}).get("tags", [])]


def _inject(notebook, parameters: dict):
    """papermill's injection: a cell tagged injected-parameters right after `parameters`."""
    (cell,) = _tagged(notebook, "parameters")
    at = notebook.cells.index(cell) + 1
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(at, injected)
    return notebook


def _execute(path, parameters=None):
    notebook = nbformat.read(path, as_version=4)
    if parameters:
        _inject(notebook, parameters)
    client = nbclient.NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name} failed:\n{error}")
    return notebook


def _conclusions(notebook) -> str:
    (cell,) = _tagged(notebook, "conclusions")
    return "".join(output.get("data", {}).get("text/markdown", "") for output in cell.outputs)


@pytest.fixture(scope="module")
def default_runs(kernel_env):
    return {}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_one_parameters_cell_defines_every_parameter(path):
    notebook = nbformat.read(path, as_version=4)
    (cell,) = _tagged(notebook, "parameters")
    names = {line.split("=")[0].strip() for line in cell.source.splitlines() if "=" in line}
    assert set(OTHER_RUNS[path.name][0]) <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_other_parameters_change_the_conclusions(path, kernel_env, default_runs):
    parameters, other_title, default_title = OTHER_RUNS[path.name]
    other = _conclusions(_execute(path, parameters))
    if path.name not in default_runs:
        default_runs[path.name] = _execute(path)
    default = _conclusions(default_runs[path.name])
    assert other_title in other and default_title not in other
    assert default_title in default and other_title not in default
    assert "mainline Linux" in other and "not merged" in other   # proposals marked as such
    _, layout_title, layout_pool = LAYOUTS[path.name]
    assert f"The whole host: {layout_title}." in other and layout_pool in other
    assert "The whole host" not in default                     # LAYOUT = None by default
    if path.name == "sga-sizing.ipynb":
        # 1 GiB pages need a 1 GiB-aligned start: at 512 MiB the 2 MiB pool is the answer.
        assert "hugetlb-2m-pmdshare (mainline" in other and "vm.nr_hugepages=32768" in other
        assert "fit in 256 GiB even if each touches the whole SGA" in other
        assert "more than the host's RAM" in default and "hugetlb-1g (mainline" in default
    else:
        assert "they fit." in other


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_runs_and_plots(path, kernel_env, default_runs):
    notebook = default_runs.get(path.name) or _execute(path)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs]
    errors = [output for output in outputs if output.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"
    images = [output for output in outputs
              if output.output_type in ("display_data", "execute_result")
              and "image/png" in output.get("data", {})]
    assert images, f"{path.name} showed no plot"
    warnings = [output.text for output in outputs
                if output.output_type == "stream" and output.name == "stderr"
                and "Warning" in output.text]
    assert not warnings, f"{path.name} printed warnings:\n{warnings[0]}"

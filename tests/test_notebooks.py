"""The notebooks in notebooks/: stored clean, public API only, and they run top to bottom.

Execution uses nbclient with the ``python3`` kernel of the interpreter running the tests (a kernel
spec written to a temporary ``JUPYTER_PATH``, so a user-level ``python3`` kernel pointing at another
Python cannot be picked up) and ``SEISIM_NOTEBOOK_SMALL=1``, which every notebook's settings cell
reads to shrink its Monte Carlo sizes.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
EXPECTED = ["01-quickstart.ipynb", "02-levers.ipynb", "03-calibration.ipynb",
            "04-at-scale.ipynb"]
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: Per-notebook wall-clock budget in small mode (seconds), generous for slow CI machines.
BUDGET = 180


def _ids(path: Path) -> str:
    return path.stem


def _code_cells(path: Path) -> list:
    nb = nbformat.read(path, as_version=4)
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_expected_notebooks_exist():
    missing = set(EXPECTED) - {p.name for p in NOTEBOOKS}
    assert not missing, f"missing notebooks: {sorted(missing)}"


# -- stored form ------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"{path.name}: code cell {k} has stored outputs"
        assert cell.execution_count is None, f"{path.name}: code cell {k} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_small_mode_switch(path):
    """Every notebook's sizes are controlled by SEISIM_NOTEBOOK_SMALL in its settings cell."""
    source = "\n".join(cell.source for cell in _code_cells(path))
    assert 'os.environ.get("SEISIM_NOTEBOOK_SMALL") == "1"' in source


def _private_uses(source: str) -> list[str]:
    """Imports of private sim modules or names, and access to private attributes."""
    problems = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "sim" and any(p.startswith("_") for p in parts):
                    problems.append(f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            parts = module.split(".")
            if parts[0] == "sim":
                private_module = any(p.startswith("_") for p in parts)
                for alias in node.names:
                    if private_module or alias.name.startswith("_"):
                        problems.append(f"from {module} import {alias.name}")
        elif isinstance(node, ast.Attribute):
            name = node.attr
            if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
                problems.append(f".{name}")
    return problems


def test_private_use_checker():
    assert _private_uses("from sim.api import _run_dir") == ["from sim.api import _run_dir"]
    assert _private_uses("import sim._x") == ["import sim._x"]
    assert _private_uses("from sim._x import y") == ["from sim._x import y"]
    assert _private_uses("r.store._read('a', 'b')") == ["._read"]
    assert _private_uses("import sim\nsim.run('fuling')\nprint(sim.__version__)") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_public_api_only(path):
    problems = []
    for k, cell in enumerate(_code_cells(path)):
        # IPython magics and shell escapes are not Python; none are expected, but skip them.
        source = "\n".join(line for line in cell.source.splitlines()
                           if not line.lstrip().startswith(("%", "!")))
        problems += [f"code cell {k}: {p}" for p in _private_uses(source)]
    assert not problems, f"{path.name} uses private API: {problems}"


# -- execution --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A ``python3`` kernel spec running this interpreter, first on JUPYTER_PATH, and small sizes."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (seisim tests)", "language": "python"}), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", os.pathsep.join(
            [str(root)] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]))
        mp.setenv("SEISIM_NOTEBOOK_SMALL", "1")
        mp.delenv("SEISIM_PARAMETER_SETS", raising=False)
        mp.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        yield


def test_kernel_is_this_interpreter(kernel_env):
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] == sys.executable


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_runs(path, kernel_env):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError at the first failing cell
    seconds = time.perf_counter() - start
    errors = [(k, out.get("ename"), out.get("evalue"))
              for k, cell in enumerate(nb.cells) if cell.cell_type == "code"
              for out in cell.outputs if out.output_type == "error"]
    assert not errors, f"{path.name}: cells raised {errors}"
    assert seconds < BUDGET, f"{path.name} took {seconds:.0f} s in small mode"

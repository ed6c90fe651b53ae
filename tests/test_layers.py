"""The package's layers depend one way: data -> model -> engines -> experiments -> analysis ->
reporting -> the user-facing entry points. A lower layer importing a higher one (even inside a
function) fails here, naming the import, so the structure cannot erode unnoticed."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sim"

#: Every module's layer, by longest matching prefix. Lower numbers may not import higher ones.
LAYERS = {
    "sim._version": 0, "sim.errors": 0, "sim.paths": 0, "sim.fingerprints": 0, "sim.compat": 0,
    "sim.yamlio": 0, "sim.csvfiles": 0, "sim.caching": 0, "sim.portable": 0,
    "sim.plans": 1,                                   # plan and statistics data
    "sim.model": 2, "sim.parameter_sets": 2, "sim.outcomes": 2,   # the model and its targets
    "sim.scenarios": 3,                               # a plan + parameters + levers to run
    "sim.engines": 4,                                 # numba kernel and Mesa reference
    "sim.experiments": 5,                             # the driver, backends, run store
    "sim.calibration": 6, "sim.analysis": 6,          # fitting and policy analysis
    "sim.reporting": 7,                               # tables, plots, reports
    "sim.api": 8, "sim": 8, "sim.connectors": 8,      # the public API, EMA and Mesa connectors
    "sim.cli": 9, "sim.app": 9, "sim.__main__": 9,    # command line and dashboard
}


def layer(module: str) -> int | None:
    matches = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    return LAYERS[max(matches, key=len)] if matches else None


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, name) for line, name in found if name == "sim" or name.startswith("sim.")]


def test_every_module_has_a_layer():
    missing = [module_name(p) for p in PACKAGE.rglob("*.py") if layer(module_name(p)) is None]
    assert not missing, f"modules without a layer in tests/test_layers.py: {missing}"


def test_no_module_imports_a_higher_layer():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = module_name(path)
        for line, target in imports(path):
            if layer(target) is not None and layer(target) > layer(here):
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} {here} -> {target}")
    assert not upward, "upward imports:\n" + "\n".join(upward)

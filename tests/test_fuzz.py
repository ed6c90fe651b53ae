"""Property-based fuzzing of the files users write: scenarios and plans, mutated at random.

Whatever a file holds, seisim must either work or stop with one line naming the file (and, where it
can, the line and key): never a traceback, never a hang. Each example mutates one valid file at a
random key path (a new value of a random type, a deleted key, an unknown key) and loads it the way a
command would: scenario -> model inputs -> a short run; plan -> audit -> plan check.

``make test`` runs a small budget; ``pytest -m fuzz_long`` runs a long one.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sim.errors import InputError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FAST = settings(max_examples=40, deadline=20_000, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
LONG = settings(max_examples=1500, deadline=20_000,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

SCENARIO = {
    "name": "fuzzed",
    "region": "fuling",
    "horizon": {"start": 2021, "end": 2024},
    "parameters": "builtin",
    "params": {"firms": {"drift": 0.05}, "economy": {"nonsei_growth": 0.05}},
    "levers": {"fund": {"scale": 1.0}, "talent": {"supply": 1.0}, "attraction": 1.0,
               "parks": {"expansion": {"all": 0.1}}},
    "uncertainties": {"firms.drift": {"dist": "uniform", "low": 0.0, "high": 0.1}},
    "monte_carlo": {"replications": 2, "seed": 1},
    "targets": "all",
}

values = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e308, -1e308, 2100, 100000, "", "..", "/tmp/x", "a" * 300,
                     "fuling", "nonsense", [], {}, [1, 2], {"a": 1}, math.nan, math.inf]),
    st.text(max_size=30), st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(-3, 3), max_size=2))


def key_paths(node, prefix=()):
    """Every key path of a nested mapping/list, the root included."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from key_paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from key_paths(v, prefix + (i,))


@st.composite
def mutated(draw, base):
    """``base`` with one mutation at a random key path."""
    data = yaml.safe_load(yaml.safe_dump(base, allow_unicode=True))
    paths = [p for p in key_paths(data) if p]
    path = draw(st.sampled_from(paths))
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    action = draw(st.sampled_from(["replace", "delete", "unknown"]))
    if action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif action == "unknown" and isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=10))] = draw(values)
    else:
        parent[path[-1]] = draw(values)
    return data


def assert_clean(exc: BaseException, file: Path) -> None:
    assert isinstance(exc, InputError), f"{type(exc).__name__}: {exc}"
    message = str(exc)
    assert "\n" not in message, message
    assert file.name in message or "unknown region" in message, message


def write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    try:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, ValueError):
        text = "{}\n"
    path.write_text(text, encoding="utf-8")
    return path


def exercise_scenario(path: Path) -> None:
    import sim
    from sim.engines import run_engine

    try:
        scenario = sim.load_scenario(str(path))
        inputs = scenario.model_inputs()
        run_engine(inputs, 0, "numba", False)
    except Exception as exc:  # noqa: BLE001 - the property: only one-line InputErrors
        assert_clean(exc, path)


def exercise_plan(path: Path) -> None:
    import sim.plans
    from sim.model.readiness import check_plan

    try:
        plan = sim.plans.load(path)
        sim.plans.audit(plan).to_text()
        check_plan(plan).to_text()
    except Exception as exc:  # noqa: BLE001
        assert_clean(exc, path)


PLAN = yaml.safe_load((ROOT / "tests" / "data" / "fuzzplan.yaml").read_text(encoding="utf-8"))


@FAST
@given(data=mutated(SCENARIO))
def test_mutated_scenarios_run_or_fail_in_one_line(tmp_path, data):
    exercise_scenario(write(tmp_path, "fuzzed.yaml", data))


@FAST
@given(data=mutated(PLAN))
def test_mutated_plans_load_or_fail_in_one_line(tmp_path, data):
    exercise_plan(write(tmp_path, "fuzzplan.yaml", data))


@pytest.mark.fuzz_long
@LONG
@given(data=mutated(SCENARIO))
def test_mutated_scenarios_long(tmp_path, data):
    exercise_scenario(write(tmp_path, "fuzzed.yaml", data))


@pytest.mark.fuzz_long
@LONG
@given(data=mutated(PLAN))
def test_mutated_plans_long(tmp_path, data):
    exercise_plan(write(tmp_path, "fuzzplan.yaml", data))

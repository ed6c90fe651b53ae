"""One Monte Carlo replication, on its own.

Replication ``r`` of a Monte Carlo run with seed ``s`` draws the scenario's uncertain parameters
(posterior draws of the fitted set, declared ``uncertainties``, priors, the structural variant of a
pooled scenario, "about" baselines) from ``parameter_rng(s, r)`` and steps the model with
``replication_seed(s, r)``. A loop that runs the model itself (EMA Workbench, ``mesa.batch_run``, a
hand-written loop over seeds) must do the same, or it silently samples a narrower distribution
than the Monte Carlo (the fixed base parameters only). :func:`replicate` is that replication;
``tests/test_connectors.py`` checks it row for row against a Monte Carlo run, which guards it
against drifting from :func:`sim.experiments.runner.run_replications`.
"""

from __future__ import annotations

import os
from pathlib import Path

from sim.engines import run_engine
from sim.errors import InputError
from sim.experiments.seeding import check_seed, parameter_rng, replication_seed
from sim.model.inputs import ModelInputs
from sim.scenarios import MAX_REPLICATIONS, Scenario


def check_replication(replication) -> int:
    """A replication index as an int, or a one-line error."""
    if (isinstance(replication, bool) or not isinstance(replication, (int, float))
            or not float(replication).is_integer()
            or not 0 <= int(replication) < MAX_REPLICATIONS):
        raise InputError(f"replication must be a whole number from 0 to {MAX_REPLICATIONS - 1:,} "
                         f"(got {replication!r})")
    return int(replication)


def replication_inputs(scenario: Scenario, replication: int, seed: int) -> ModelInputs:
    """The model inputs of replication ``replication`` of a Monte Carlo run with ``seed``: the
    scenario's parameters with that replication's draws (the fixed inputs if nothing varies)."""
    replication, seed = check_replication(replication), check_seed(seed)
    if scenario.varies:
        return scenario.model_inputs(parameter_rng(seed, replication))
    return scenario.model_inputs()


def replicate(scenario: Scenario, replication: int = 0, seed: int = 0, engine: str = "numba",
              record_firms: bool = False):
    """Run replication ``replication`` of a Monte Carlo with ``seed``, exactly as the Monte Carlo
    runner does; returns the engine's RunResult (``.annual``: one row per year)."""
    inputs = replication_inputs(scenario, replication, seed)
    return run_engine(inputs, replication_seed(check_seed(seed), check_replication(replication)),
                      engine, record_firms)


def _is_plan_file(path: Path) -> bool:
    """A plan file declares its ``format``; a scenario file never does."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return True  # let the plan loader report the problem as it always has
    return not isinstance(data, dict) or "format" in data


def scenario_target(target):
    """``target`` as a Scenario if it names one (a Scenario, a mapping, a scenario YAML file, or
    a scenario name such as ``"fuling-baseline"``), else None: region names, plan files, plans and
    compiled inputs are not scenarios."""
    from sim.plans.loader import available_regions
    from sim.scenarios import find_scenario, load_scenario, scenario_from_dict

    if isinstance(target, Scenario):
        return target
    if isinstance(target, dict):
        return scenario_from_dict(target)
    if not isinstance(target, (str, os.PathLike)):
        return None
    text = str(target)
    if Path(text).is_file():
        return None if _is_plan_file(Path(text)) else load_scenario(text)
    if text.endswith((".yaml", ".yml")) or "/" in text or os.sep in text:
        return None  # a missing file: the plan loader's "file not found" error
    if text in available_regions():
        return None
    found = find_scenario(text)
    return load_scenario(found) if found != text else None

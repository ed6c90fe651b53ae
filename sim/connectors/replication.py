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
from sim.experiments.runner import monte_carlo_inputs
from sim.experiments.seeding import check_seed, parameter_rng, replication_seed
from sim.model.inputs import ModelInputs
from sim.model.levers import scalar_lever_keys
from sim.scenarios import MAX_REPLICATIONS, Scenario


def check_replication(replication) -> int:
    """A replication index as an int, or a one-line error."""
    if (isinstance(replication, bool) or not isinstance(replication, (int, float))
            or not float(replication).is_integer()
            or not 0 <= int(replication) < MAX_REPLICATIONS):
        raise InputError(f"replication must be a whole number from 0 to {MAX_REPLICATIONS - 1:,} "
                         f"(got {replication!r})")
    return int(replication)


def replication_inputs(scenario: Scenario, replication: int, seed: int,
                       params: dict | None = None) -> ModelInputs:
    """The model inputs of replication ``replication`` of a Monte Carlo run with ``seed``: the
    scenario's parameters with that replication's draws (the fixed inputs if nothing varies).

    ``params`` (dotted key -> value) replaces drawn or fixed values after the draws, leaving every
    other draw of the replication as it was: exploratory analyses set some uncertain parameters
    explicitly while the rest stay sampled as in the Monte Carlo."""
    replication, seed = check_replication(replication), check_seed(seed)
    if not params:
        return monte_carlo_inputs(scenario, seed, replication)
    from pydantic import ValidationError

    from sim.model.inputs import compile_inputs
    from sim.model.params import merge_nested, nested_override

    drawn = scenario.draw_params(parameter_rng(seed, replication) if scenario.varies else None)
    overrides: dict = {}
    for key, value in params.items():
        overrides = merge_nested(overrides, nested_override(key, value))
    try:
        drawn = drawn.updated(overrides)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise InputError(f"parameter {'.'.join(str(p) for p in err['loc'])}: "
                         f"{err['msg']}") from None
    h = scenario.spec.horizon
    return compile_inputs(scenario.plan, drawn, scenario.spec.levers,
                          start_year=h.start, end_year=h.end)


def replicate(scenario: Scenario, replication: int = 0, seed: int = 0, engine: str = "numba",
              record_firms: bool = False, params: dict | None = None):
    """Run replication ``replication`` of a Monte Carlo with ``seed``, exactly as the Monte Carlo
    runner does; returns the engine's RunResult (``.annual``: one row per year). ``params`` as
    for :func:`replication_inputs`."""
    inputs = replication_inputs(scenario, replication, seed, params)
    return run_engine(inputs, replication_seed(check_seed(seed), check_replication(replication)),
                      engine, record_firms)


#: Identifier lever names (keyword arguments of a Mesa model, EMA Workbench lever names) and the
#: scenario keys they set, derived from the one lever model. Dict-valued levers (fund
#: allocation, park expansion) are set with their dotted scenario key.
LEVER_KEYS = scalar_lever_keys()


def lever_overrides(values: dict) -> dict:
    """Flat lever names or dotted ``levers.`` keys -> scenario overrides; unknown names get a
    one-line error with the nearest valid name."""
    from sim.errors import nearest

    out = {}
    for name, value in values.items():
        if name in LEVER_KEYS:
            out[LEVER_KEYS[name]] = value
        elif str(name).startswith("levers."):
            out[name] = value
        else:
            raise InputError(f"unknown lever '{name}'{nearest(str(name), LEVER_KEYS)}; levers: "
                             f"{', '.join(LEVER_KEYS)} or a dotted 'levers.' key")
    return out


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
def scenario_specs(scenario: Scenario):
    """The scenario's targets and their evaluation rules, as its Monte Carlo evaluates them."""
    from sim.experiments.driver import Experiment

    return Experiment({"": scenario}, 1, 0).specs()[""]


def target_values(annual, specs) -> dict[str, float]:
    """Each simulated target's value in its year from one run's annual table (NaN for a target
    year the table does not reach): the column's value, or for a k-of-n target the number of
    listed units at their class, as :func:`sim.outcomes.replication_outcomes` computes them for a
    whole Monte Carlo chunk (that pandas reshaping costs more than a run, so one run reads its
    rows directly; the connector tests compare the two)."""
    import math

    rows = annual.set_index("year")
    out = {}
    for spec in specs:
        if not spec.simulated:
            continue
        if spec.year not in rows.index:
            out[spec.id] = math.nan
            continue
        row = rows.loc[spec.year]
        if spec.members:
            out[spec.id] = float(sum(float(row[c] >= spec.member_threshold)
                                     for c in spec.members))
        else:
            out[spec.id] = float(row[spec.column])
    return out

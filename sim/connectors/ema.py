"""A ready EMA Workbench model of a scenario.

``ema_model(scenario)`` returns an ``ema_workbench.Model`` whose outcomes are the scenario's
simulated targets (each target's value in its year, and for targets with a level a 0/1 ``_met``
flag), whose levers are the planner's levers with ranges around the scenario's own setting, and
whose uncertainties are the Monte Carlo replication index plus the scenario's uncertain parameters.
It can be used in two ways:

- **Monte Carlo**: give only the replication index as a designed input
  (``perform_experiments(model, scenarios=ema_scenarios(n))``). Experiment ``r`` is then replication
  ``r`` of ``sim.monte_carlo(scenario, seed=seed)``, every parameter drawn as the Monte Carlo draws
  it, so P(met) over the experiments equals the Monte Carlo's exactly.
- **Exploratory**: let EMA Workbench sample (``perform_experiments(model, scenarios=500)``): the
  uncertain parameters become explicit inputs over their ranges (declared distributions cut to
  their bulk, priors over their support), replacing the draws of those parameters; everything else
  (posterior draws of the fitted set, the structural variant, "about" baselines) is still drawn
  from the sampled replication index. That is what PRIM or feature scoring needs: the parameters
  that drive a miss as columns of the experiments table.
"""

from __future__ import annotations

import math
import re

from sim.analysis.factors import default_factors, has_funds
from sim.connectors.replication import (LEVER_KEYS, lever_overrides, replicate,
                                        scenario_specs, target_values)
from sim.scenarios import Scenario


def identifier(name: str) -> str:
    """A name EMA Workbench accepts (a Python identifier): other characters become ``_``."""
    text = re.sub(r"\W", "_", str(name))
    return text if text.isidentifier() else f"x_{text}"


def uncertainty_ranges(scenario: Scenario) -> dict[str, tuple[float, float]]:
    """Dotted parameter key -> (low, high) for the scenario's uncertain parameters: the declared
    distributions (uniform and triangular over their support, normal over mean +- 2 sd within any
    truncation, lognormal over median * exp(+-2 sigma)) and the prior-driven parameters it leaves
    open (their uniform prior)."""
    from sim.model.params import PRIORS

    out: dict[str, tuple[float, float]] = {}
    for key, dist in scenario.spec.uncertainties.items():
        if dist.dist in ("uniform", "triangular"):
            low, high = dist.low, dist.high
        elif dist.dist == "normal":
            low, high = dist.mean - 2 * dist.sd, dist.mean + 2 * dist.sd
            low = low if dist.low is None else max(low, dist.low)
            high = high if dist.high is None else min(high, dist.high)
        else:
            spread = math.exp(2 * dist.sigma)
            low, high = dist.median / spread, dist.median * spread
        out[key] = (float(low), float(high))
    if has_funds(scenario):
        for key in scenario.prior_keys(scenario.parameter_set):
            out[key] = tuple(float(v) for v in PRIORS[key])
    return out


def lever_ranges(scenario: Scenario) -> dict[str, tuple[float, float]]:
    """Flat lever name -> (low, high): the ranges sensitivity analysis uses by default
    (:data:`sim.analysis.factors.LEVER_RANGES`, multiples of the scenario's own setting); fund
    levers only when the scenario has a fund, degenerate ranges (a lever set to 0) left out."""
    by_key = {v: k for k, v in LEVER_KEYS.items()}
    out = {}
    for key, (low, high) in default_factors(scenario).items():
        if key not in by_key or not low < high:
            continue
        out[by_key[key]] = (float(low), float(high))
    return out


class ScenarioFunction:
    """The function EMA Workbench calls: keyword arguments in, target outcomes out. A class
    (not a closure) so process-pool evaluators can pickle it."""

    def __init__(self, scenario: Scenario, engine: str, parameter_names: dict[str, str]):
        self.scenario = scenario
        self.engine = engine
        self.parameter_names = parameter_names  # EMA name -> dotted parameter key
        self.specs = [s for s in scenario_specs(scenario) if s.simulated]
        self.outcome_names = {s.id: identifier(s.id) for s in self.specs}
        self._with_levers: dict[tuple, Scenario] = {}

    #: Scenarios with lever settings kept for reuse: a factorial design runs every policy on
    #: every scenario, and validating a scenario costs several runs' time.
    CACHED_POLICIES = 64

    def _scenario_with(self, levers: dict) -> Scenario:
        key = tuple(sorted(levers.items()))
        if key not in self._with_levers:
            if len(self._with_levers) >= self.CACHED_POLICIES:
                self._with_levers.pop(next(iter(self._with_levers)))
            self._with_levers[key] = self.scenario.with_overrides(lever_overrides(levers))
        return self._with_levers[key]

    def __call__(self, replication: int = 0, seed: int = 0, **values) -> dict[str, float]:
        sc = self.scenario
        levers = {k: float(v) for k, v in values.items() if k not in self.parameter_names}
        if levers:
            sc = self._scenario_with(levers)
        params = {self.parameter_names[k]: float(v) for k, v in values.items()
                  if k in self.parameter_names}
        annual = replicate(sc, int(replication), int(seed), self.engine, params=params).annual
        found = target_values(annual, self.specs)
        out = {}
        for spec in self.specs:
            name = self.outcome_names[spec.id]
            out[name] = found[spec.id]
            if spec.evaluable:
                out[name + "_met"] = (float(found[spec.id] >= spec.threshold)
                                      if not math.isnan(found[spec.id]) else math.nan)
        return out


def ema_model(scenario: Scenario, replications: int, seed: int, engine: str = "numba",
              name: str | None = None):
    """An ``ema_workbench.Model`` of ``scenario`` (see the module docstring for the two ways to use
    it). ``replications`` bounds the ``replication`` uncertainty (0 .. replications-1); ``seed``
    is a model constant (the Monte Carlo seed)."""
    from sim.compat import optional_import

    ema = optional_import("ema_workbench", "discovery", "sim.ema_model")
    parameters = {identifier(k): k for k in uncertainty_ranges(scenario)}
    function = ScenarioFunction(scenario, engine, parameters)
    model = ema.Model(identifier(name or scenario.name).replace("_", "") or "seisim",
                      function=function)
    model.uncertainties = (
        [ema.IntegerParameter("replication", 0, int(replications) - 1)]
        + [ema.RealParameter(identifier(k), low, high)
           for k, (low, high) in uncertainty_ranges(scenario).items()])
    model.levers = [ema.RealParameter(k, low, high)
                    for k, (low, high) in lever_ranges(scenario).items()]
    model.constants = [ema.Constant("seed", int(seed))]
    outcomes = []
    for spec in function.specs:
        outcomes.append(ema.ScalarOutcome(function.outcome_names[spec.id]))
        if spec.evaluable:
            outcomes.append(ema.ScalarOutcome(function.outcome_names[spec.id] + "_met"))
    model.outcomes = outcomes
    return model


def ema_scenarios(replications: int, start: int = 0):
    """EMA Workbench scenarios that set only the replication index, ``start`` .. ``start +
    replications - 1``: with them an EMA model reproduces the Monte Carlo replication by
    replication."""
    from sim.compat import ema_scenario

    return [ema_scenario(f"replication_{r}", replication=r)
            for r in range(int(start), int(start) + int(replications))]

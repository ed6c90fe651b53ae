"""Factors: the levers and uncertain parameters a policy analysis varies, with their ranges.

A factor is a dotted key of a scenario (``levers.fund.scale``, ``params.firms.drift``) and a range.
Defaults cover the planner's levers around the scenario's own setting and the scenario's declared
uncertainties; users pass their own as ``{"levers.fund.scale": [0.5, 4]}`` or ``--factor``.
"""

from __future__ import annotations

from sim.errors import InputError
from sim.scenarios import Scenario

#: Default ranges of the levers, as multiples of the scenario's own value.
LEVER_RANGES = {
    "levers.fund.scale": (0.5, 2.0),
    "levers.talent.supply": (0.8, 1.2),
    "levers.attraction": (0.5, 2.0),
    "levers.rd_policy": (0.8, 1.5),
}


def has_funds(scenario: Scenario) -> bool:
    """Whether the scenario's model has a government fund (from the plan or declared)."""
    return scenario.model_inputs().fund_inflow.size > 0


def default_factors(scenario: Scenario) -> dict[str, tuple[float, float]]:
    """The planner's levers around the scenario's own setting (:data:`LEVER_RANGES`; fund levers
    only when the model has a fund) and the scenario's declared uncertainties."""
    levers = scenario.spec.levers
    current = {"levers.fund.scale": levers.fund.scale, "levers.talent.supply": levers.talent.supply,
               "levers.attraction": levers.attraction, "levers.rd_policy": levers.rd_policy}
    factors = {k: (lo * current[k], hi * current[k]) for k, (lo, hi) in LEVER_RANGES.items()}
    if not has_funds(scenario):  # a plan without a fund has no fund lever to vary
        factors = {k: v for k, v in factors.items() if not k.startswith("levers.fund.")}
    for key, dist in scenario.spec.uncertainties.items():
        if dist.dist in ("uniform", "triangular"):
            factors[f"params.{key}"] = (dist.low, dist.high)
        elif dist.dist == "normal":
            factors[f"params.{key}"] = (dist.mean - 2 * dist.sd, dist.mean + 2 * dist.sd)
        else:
            factors[f"params.{key}"] = (dist.median * 0.5, dist.median * 2)
    return factors


def parse_factors(items: list[str] | dict | None, scenario: Scenario) -> dict[str, tuple]:
    """``["levers.fund.scale=0.5:4", ...]`` or a mapping -> {key: (low, high)}."""
    if not items:
        return default_factors(scenario)
    if isinstance(items, dict):
        pairs = {k: tuple(float(x) for x in v) for k, v in items.items()}
    else:
        pairs = {}
        for item in items:
            key, _, rng = item.partition("=")
            try:
                low, high = (float(x) for x in rng.split(":"))
            except ValueError:
                raise InputError(f"factor '{item}' must look like key=low:high") from None
            pairs[key.strip()] = (low, high)
    for key, (low, high) in pairs.items():
        if not low < high:
            raise InputError(f"factor '{key}': low {low} must be below high {high}")
        scenario.with_overrides({key: low})  # validates the key and the value
    return pairs

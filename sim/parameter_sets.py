"""Named parameter sets: the model parameters a scenario runs with.

``default`` is the fitted set of the scenario's plan (``calibration/sets/<region>-<version>.yaml``),
and an error when none exists (never a silent fallback); ``builtin`` is always the built-in defaults
of :class:`~sim.model.params.ModelParams`; any other name is a file ``calibration/sets/<name>.yaml``. A set may
carry posterior ``draws``; Monte Carlo then samples one draw per replication, so reported
probabilities include parameter uncertainty.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from sim.errors import InputError, nearest
from sim.model.params import ModelParams, dotted_keys
from sim.paths import SHIPPED_ROOT
from sim.plans import Plan
from sim.yamlio import load_located, raise_validation_error

PACKAGE_ROOT = SHIPPED_ROOT


def set_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("SEISIM_PARAMETER_SETS", "").split(os.pathsep) if p]
    dirs += [Path.cwd() / "calibration" / "sets", PACKAGE_ROOT / "calibration" / "sets"]
    return [d for d in dirs if d.is_dir()]


@dataclass
class ParameterSet:
    name: str
    params: ModelParams
    draws: list[dict] = field(default_factory=list)  # nested overrides, one per posterior draw
    meta: dict = field(default_factory=dict)
    file: str | None = None
    keys: frozenset[str] = frozenset()  # dotted keys the set fixes (the rest are defaults)

    @property
    def content_hash(self) -> str:
        """SHA-256 of the values a run uses (parameters and draws), whatever file they came from:
        manifests record it and reports print it, so a result names the exact set behind it."""
        from sim.fingerprints import fingerprint

        return fingerprint({"params": self.params.model_dump(mode="json"), "draws": self.draws})

    def sample(self, rng: np.random.Generator) -> dict:
        """One posterior draw (nested overrides), or {} for a point estimate."""
        if not self.draws:
            return {}
        return self.draws[int(rng.integers(len(self.draws)))]


def find_set(name: str) -> Path | None:
    for d in set_dirs():
        candidate = d / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    return None


def available_sets() -> list[str]:
    return sorted({p.stem for d in set_dirs() for p in d.glob("*.yaml")})


def read_parameter_set(path: Path) -> ParameterSet:
    from sim.plans.loader import display_path

    located = load_located(path, display_path(path))
    data = located.data
    if not isinstance(data, dict) or "params" not in data:
        raise InputError("a parameter set needs a 'params' mapping", file=located.file)
    try:
        params = ModelParams().updated(data.get("params") or {})
    except ValidationError as exc:
        raise_validation_error(located, exc, ModelParams, base=("params",))
    draws = data.get("draws") or []
    for k, draw in enumerate(draws):
        try:
            params.updated(draw)
        except ValidationError as exc:
            raise_validation_error(located, exc, ModelParams, base=("draws", k))
    meta = {k: v for k, v in data.items() if k not in ("params", "draws")}
    return ParameterSet(data.get("name", path.stem), params, list(draws), meta, located.file,
                        frozenset(dotted_keys(data.get("params") or {})))


def default_set_name(plan: Plan, variant: str = "persist", as_of: int | None = None) -> str:
    """``<region>-<version>``, with ``-converge`` for the converge structural variant and
    ``-through-<year>`` for a set calibrated on data up to ``as_of``."""
    name = f"{plan.region}-{plan.version}" + ("-converge" if variant == "converge" else "")
    return name + (f"-through-{as_of}" if as_of is not None else "")


def load_parameter_set(name: str, plan: Plan | None = None, as_of: int | None = None,
                       variant: str = "persist") -> ParameterSet:
    """The named set for ``plan``. ``default`` is the plan version's fitted set for the structural
    ``variant`` (an error when none exists: defaults must be asked for as ``builtin``). With ``as_of``,
    ``default`` is the set calibrated on data up to that year, which must exist: a mid-plan
    forecast must not run on parameters fitted to later data; so must a converge set."""
    if name == "builtin":
        return ParameterSet("builtin", ModelParams())
    if name == "default" and plan is not None and (as_of is not None or variant == "converge"):
        wanted = default_set_name(plan, variant, as_of)
        path = find_set(wanted)
        if path is None:
            spec = f"{plan.region}-{plan.version}" + ("-converge" if variant == "converge" else "")
            through = f" --data-through {as_of}" if as_of is not None else ""
            what = (f"calibrated on data up to {as_of}" if as_of is not None else
                    "for the converge variant")
            raise InputError(f"no parameter set {what} ({wanted}); make it with `seisim "
                             f"calibrate calibration/{spec}.yaml{through}`")
        return read_parameter_set(path)
    if name == "default":
        if plan is None:
            return ParameterSet("builtin", ModelParams())
        fitted = find_set(f"{plan.region}-{plan.version}")
        if fitted is None:
            # Never a silent fallback: results on uncalibrated defaults must be asked for.
            raise InputError(f"no fitted parameter set for {plan.region} version {plan.version} "
                             f"({plan.region}-{plan.version}); fit one with `seisim calibrate` "
                             "(docs/calibration.md) or say `parameters: builtin` to run on the "
                             "built-in defaults", key="parameters")
        return read_parameter_set(fitted)
    path = find_set(name)
    if path is None:
        raise InputError(f"unknown parameter set '{name}'{nearest(name, available_sets())}; "
                         f"available: default, builtin, {', '.join(available_sets()) or '-'}",
                         key="parameters")
    pset = read_parameter_set(path)
    if plan is not None and pset.meta.get("region") not in (None, plan.region):
        raise InputError(f"parameter set '{name}' was fitted for {pset.meta['region']}, not "
                         f"{plan.region}", key="parameters")
    return pset

"""Scenario files: the question an analyst asks, as validated YAML.

A scenario names a region and plan version, the horizon, the parameter set, the levers, the
uncertain parameters (as distributions), the Monte Carlo settings, the targets to evaluate and where
to write results. ``extends: other.yaml`` inherits a scenario and overrides keys; ``sweep:`` gives a
grid of lever or parameter values. The format is documented in ``docs/scenarios.md``.

Every error names the file, line and key path in one line; unknown keys get the nearest valid key.
"""

from __future__ import annotations

import copy
import itertools
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.errors import InputError, nearest
from sim.model.inputs import ModelInputs, compile_inputs
from sim.model.levers import GrowthShock, Levers
from sim.model.params import ModelParams
from sim.parameter_sets import load_parameter_set
from sim.plans import Plan, load
from sim.yamlio import Located, fields_at, format_path, load_located, raise_validation_error


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FundLevers(Strict):
    scale: float = Field(1.0, ge=0, description="multiplier on annual fund investment")
    leverage: float | None = Field(None, ge=0, description="co-investment per fund yuan")
    allocation: dict[str, float] | None = Field(None, description="industry weights of deals")


class TalentLevers(Strict):
    supply: float = Field(1.0, ge=0, description="multiplier on talent inflow")
    supply_growth: float | None = Field(None, ge=-0.5, le=1.0, description="inflow growth rate")


class ParkLevers(Strict):
    expansion: dict[str, float] = Field({}, description="extra land per park (fraction)")


class LeverSettings(Strict):
    fund: FundLevers = FundLevers()
    talent: TalentLevers = TalentLevers()
    attraction: float = Field(1.0, ge=0, description="multiplier on attracted projects")
    parks: ParkLevers = ParkLevers()
    rd_policy: float = Field(1.0, gt=0, description="multiplier on firms' R&D intensity")
    shocks: list[GrowthShock] = []

    def to_levers(self) -> Levers:
        return Levers(fund_scale=self.fund.scale, fund_leverage=self.fund.leverage,
                      fund_allocation=self.fund.allocation, talent_supply=self.talent.supply,
                      talent_supply_growth=self.talent.supply_growth, attraction=self.attraction,
                      park_expansion=self.parks.expansion, rd_policy=self.rd_policy,
                      shocks=tuple(self.shocks))


class Distribution(Strict):
    """An uncertain parameter's distribution, sampled once per replication."""

    dist: Literal["normal", "uniform", "triangular", "lognormal"]
    mean: float | None = None
    sd: float | None = Field(None, gt=0)
    low: float | None = None
    high: float | None = None
    mode: float | None = None
    median: float | None = Field(None, gt=0)
    sigma: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> Distribution:
        need = {"normal": ("mean", "sd"), "uniform": ("low", "high"),
                "triangular": ("low", "mode", "high"), "lognormal": ("median", "sigma")}[self.dist]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"{self.dist} distribution needs {', '.join(missing)}")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError(f"low {self.low} must be below high {self.high}")
        if self.dist == "triangular" and not self.low <= self.mode <= self.high:
            raise ValueError("mode must lie between low and high")
        return self

    def sample(self, rng: np.random.Generator) -> float:
        if self.dist == "normal":
            x = rng.normal(self.mean, self.sd)
            if self.low is not None or self.high is not None:
                x = float(np.clip(x, self.low if self.low is not None else -np.inf,
                                  self.high if self.high is not None else np.inf))
            return float(x)
        if self.dist == "uniform":
            return float(rng.uniform(self.low, self.high))
        if self.dist == "triangular":
            return float(rng.triangular(self.low, self.mode, self.high))
        return float(self.median * np.exp(self.sigma * rng.standard_normal()))


class MonteCarloSettings(Strict):
    replications: int = Field(1000, ge=1, le=10_000_000)
    seed: int = Field(20250101, ge=0)
    engine: Literal["numba", "mesa"] = "numba"
    chunk_size: int = Field(100, ge=1, description="replications per stored chunk")


class Horizon(Strict):
    start: int | None = Field(None, description="base year (default: the plan's latest baseline)")
    end: int | None = Field(None, description="last simulated year (default: last target year)")


class OutputSettings(Strict):
    dir: str | None = Field(None, description="run directory (default runs/<name>-<time>)")
    plots: bool = True
    firm_history: bool = False


class ScenarioSpec(Strict):
    name: str = Field(min_length=1)
    question: str = ""
    region: str
    version: str | None = None
    horizon: Horizon = Horizon()
    parameters: str = Field("default", description="parameter set name (calibration/sets/)")
    params: dict[str, Any] = Field({}, description="overrides of model parameters")
    levers: LeverSettings = LeverSettings()
    uncertainties: dict[str, Distribution] = {}
    monte_carlo: MonteCarloSettings = MonteCarloSettings()
    targets: Literal["all"] | list[str] = "all"
    share_definition: Literal["strict", "plan"] = "strict"
    outputs: OutputSettings = OutputSettings()
    sweep: dict[str, list[Any]] = {}


#: Top-level keys that configure a scenario but are not part of the validated spec.
META_KEYS = ("extends",)


class Scenario:
    """A validated scenario, ready to compile into model inputs."""

    def __init__(self, spec: ScenarioSpec, source: str = "<dict>", resolved: dict | None = None):
        self.spec = spec
        self.source = source
        self.resolved = resolved if resolved is not None else spec.model_dump(mode="json")
        self.plan: Plan = load(spec.region, spec.version)
        self.parameter_set = load_parameter_set(spec.parameters, self.plan)
        self._check_paths()

    def __repr__(self) -> str:
        return f"Scenario({self.spec.name!r}, region={self.spec.region!r}, version={self.plan.version!r})"

    @property
    def name(self) -> str:
        return self.spec.name

    def _check_paths(self) -> None:
        """Uncertainty and sweep keys must name real parameters or levers."""
        for key in self.spec.uncertainties:
            _check_param_path(key, self.source, ("uncertainties", key))
        for key in self.spec.sweep:
            if key.startswith("levers."):
                parts = key.split(".")[1:]
                fields = fields_at(LeverSettings, tuple(parts[:-1]))
                if parts[-1] not in fields and not _is_dict_field(LeverSettings, parts[:-1]):
                    raise InputError(f"unknown lever '{key}'{nearest(parts[-1], fields)}",
                                     file=self.source, key=f"sweep.{key}")
            elif key.startswith("params."):
                _check_param_path(key[len("params."):], self.source, ("sweep", key))
            else:
                raise InputError("sweep keys start with 'levers.' or 'params.'", file=self.source,
                                 key=f"sweep.{key}")

    def base_params(self) -> ModelParams:
        """Parameter set plus the scenario's explicit overrides (no uncertainty draws)."""
        params = self.parameter_set.params
        if self.spec.params:
            try:
                params = params.updated(self.spec.params)
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                key = "params." + ".".join(str(p) for p in err["loc"])
                raise InputError(err["msg"], file=self.source, key=key) from None
        return params

    def draw_params(self, rng: np.random.Generator | None) -> ModelParams:
        """Parameters for one replication: base, a draw from the parameter set's posterior (if
        it has draws), then the scenario's uncertainties."""
        params = self.base_params()
        if rng is None:
            return params
        overrides: dict = {}
        draw = self.parameter_set.sample(rng)
        if draw:
            overrides = _merge_dicts(overrides, draw)
        for key, dist in self.spec.uncertainties.items():
            overrides = _merge_dicts(overrides, _nested(key, dist.sample(rng)))
        return params.updated(overrides) if overrides else params

    def model_inputs(self, rng: np.random.Generator | None = None) -> ModelInputs:
        h = self.spec.horizon
        try:
            return compile_inputs(self.plan, self.draw_params(rng), self.spec.levers.to_levers(),
                                  start_year=h.start, end_year=h.end)
        except InputError as exc:
            if exc.file:
                raise
            raise InputError(exc.problem, file=self.source, key=exc.key) from None

    def with_overrides(self, overrides: dict[str, Any], name: str | None = None) -> Scenario:
        """A copy with dotted-key overrides (``levers.fund.scale: 2``), e.g. one sweep point."""
        data = copy.deepcopy(self.resolved)
        for key, value in overrides.items():
            _set_dotted(data, key, value)
        data["sweep"] = {}
        if name:
            data["name"] = name
        return scenario_from_dict(data, self.source)

    def sweep_points(self) -> list[tuple[dict, Scenario]]:
        """The grid of the scenario's ``sweep`` (cartesian product), one scenario per point."""
        if not self.spec.sweep:
            return [({}, self)]
        keys = list(self.spec.sweep)
        points = []
        for values in itertools.product(*(self.spec.sweep[k] for k in keys)):
            point = dict(zip(keys, values))
            label = ",".join(f"{k.split('.')[-1]}={v}" for k, v in point.items())
            points.append((point, self.with_overrides(point, f"{self.name}[{label}]")))
        return points


def _is_dict_field(model, parts) -> bool:
    """Whether ``parts`` names a mapping-valued lever (allocation weights, park expansion)."""
    return bool(parts) and parts[-1] in ("allocation", "expansion")


def _check_param_path(key: str, source: str, path: tuple) -> None:
    parts = key.split(".")
    fields = fields_at(ModelParams, tuple(parts[:-1]))
    parent_is_dict = parts[-2:-1] and parts[-2] in ("industry_drift", "industry_output")
    if parts[-1] not in fields and not parent_is_dict:
        raise InputError(f"unknown parameter '{key}'{nearest(parts[-1], fields)}", file=source,
                         key=format_path(path))


def _nested(dotted: str, value) -> dict:
    out: dict = {}
    _set_dotted(out, dotted, value)
    return out


def _set_dotted(data: dict, dotted: str, value) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _merge_dicts(base: dict, override: dict) -> dict:
    out = dict(base)
    for k, v in override.items():
        out[k] = _merge_dicts(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) \
            else v
    return out


# Loading -----------------------------------------------------------------------------------------
def _resolve_extends(path: Path, chain: tuple[Path, ...]) -> tuple[dict, dict]:
    """Merged data of a scenario and everything it extends, with the (file, line) of every key."""
    located = load_located(path, _display(path))
    if not isinstance(located.data, dict):
        raise InputError("a scenario must be a mapping at the top level", file=located.file)
    origins = {k: (located.file, line) for k, line in located.lines.items()}
    data = located.data
    parent_name = data.get("extends")
    if parent_name is None:
        return data, origins
    if not isinstance(parent_name, str):
        raise located.error(("extends",), "must be a file name")
    parent = (path.parent / parent_name).resolve()
    if parent in chain or parent == path.resolve():
        cycle = " -> ".join(_display(p) for p in chain + (path.resolve(), parent))
        raise located.error(("extends",), f"extends cycle: {cycle}")
    if not parent.is_file():
        raise located.error(("extends",), f"file '{parent_name}' not found")
    base, base_origins = _resolve_extends(parent, chain + (path.resolve(),))
    merged = _merge_dicts(base, {k: v for k, v in data.items() if k != "extends"})
    base_origins.update(origins)
    return merged, base_origins


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_scenario(path: str | os.PathLike) -> Scenario:
    """Read, merge (``extends``) and validate a scenario file."""
    path = Path(path)
    data, origins = _resolve_extends(path, ())
    return scenario_from_dict(data, _display(path), origins)


def scenario_from_dict(data: dict, source: str = "<dict>",
                       origins: dict | None = None) -> Scenario:
    """Validate a scenario given as a mapping (e.g. built in a notebook)."""
    origins = origins or {}
    lines = {k: line for k, (_, line) in origins.items()}

    def error_at(path: tuple, problem: str) -> InputError:
        probe = tuple(path)
        while probe and probe not in origins:
            probe = probe[:-1]
        file, line = origins.get(probe, (source, None))
        return InputError(problem, file=file, line=line, key=format_path(path))

    clean = {k: v for k, v in data.items() if k not in META_KEYS}
    try:
        spec = ScenarioSpec.model_validate(clean)
    except ValidationError as exc:
        try:
            raise_validation_error(Located(clean, lines, source), exc, ScenarioSpec)
        except InputError as err:
            path = tuple(_split_key(err.key)) if err.key else ()
            raise error_at(path, err.problem) from None
    resolved = spec.model_dump(mode="json")
    try:
        return Scenario(spec, source, resolved)
    except InputError as err:
        if err.file and err.file != source:
            raise
        path = tuple(_split_key(err.key)) if err.key else ("region",)
        if "region" in err.problem or "version" in err.problem:
            path = ("version",) if "version" in err.problem and "version" in clean else ("region",)
        raise error_at(path, err.problem) from None


def _split_key(key: str) -> list:
    out: list = []
    for part in key.replace("]", "").split("."):
        name, *idx = part.split("[")
        if name:
            out.append(name)
        out.extend(int(i) for i in idx)
    return out

"""Scenario files: the question an analyst asks, as validated YAML.

A scenario names a region and plan version, the horizon, the parameter set, the levers, the
uncertain parameters (as distributions), the Monte Carlo settings, the targets to evaluate and where
to write results. ``extends: other.yaml`` inherits a scenario and overrides keys; ``sweep:`` gives a
grid of lever or parameter values. The format is documented in ``docs/scenarios.md``.

Every error names the file, line and key path in one line; unknown keys get the nearest valid key.
"""

from __future__ import annotations

import re

import copy
import itertools
import math
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim.caching import MISSING, IdentityCache
from sim.errors import InputError, nearest
from sim.model.baseline import draw_figure_factors, qualified_baselines
from sim.model.inputs import ModelInputs, compile_inputs
from sim.model.levers import GrowthShock, Levers
from sim.model.params import (INDUSTRY_MAPS, KEYED_MAPS, PRIORS, ModelParams, dotted_keys,
                              merge_nested, nested_override)
from sim.parameter_sets import load_parameter_set
from sim.paths import SHIPPED_SCENARIOS
from sim.plans import Plan, load
from sim.yamlio import Located, fields_at, format_path, load_located, raise_validation_error


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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

    def describe(self) -> str:
        """The distribution in words, e.g. 'uniform(0.024, 0.054)'."""
        keys = {"normal": ("mean", "sd"), "uniform": ("low", "high"),
                "triangular": ("low", "mode", "high"), "lognormal": ("median", "sigma")}[self.dist]
        return f"{self.dist}({', '.join(f'{getattr(self, k):g}' for k in keys)})"

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
        return float(self.median * math.exp(self.sigma * rng.standard_normal()))


#: Replications per scenario: the annual rows of ten million replications already fill a disk.
MAX_REPLICATIONS = 10_000_000


class MonteCarloSettings(Strict):
    replications: int = Field(1000, ge=1, le=MAX_REPLICATIONS)
    seed: int = Field(20250101, ge=0)
    engine: Literal["numba", "mesa"] = "numba"
    chunk_size: int = Field(100, ge=1, description="replications per stored chunk")


class Horizon(Strict):
    start: int | None = Field(None, ge=1949, le=2100,
                              description="base year (default: the plan's latest baseline)")
    end: int | None = Field(None, ge=1949, le=2100,
                            description="last simulated year (default: last target year)")


class OutputSettings(Strict):
    dir: str | None = Field(None, description="run directory for `seisim mc` without --out "
                            "(default runs/<name>-<time>)")
    plots: bool = Field(True, description="write PNG plots with the report")


#: A scenario name labels results and becomes a folder name (run directories, comparison labels):
#: no path separators, no control characters, no '..', no leading '.', at most 100 characters.
NAME_PATTERN = r"^(?!.*\.\.)(?!\.)[^/\\\x00-\x1f]{1,100}$"


class ScenarioSpec(Strict):
    name: str = Field(min_length=1)
    question: str = ""
    region: str
    version: str | None = None
    horizon: Horizon = Horizon()
    as_of: int | None = Field(None, ge=1949, le=2100, description="mid-plan forecast: use only "
                              "plan figures dated up to this year, start from the latest plan "
                              "baseline at or before it, and (with parameters: default) the set "
                              "calibrated on data up to it")
    parameters: str = Field("default", description="parameter set name (calibration/sets/)")
    params: dict[str, Any] = Field({}, description="overrides of model parameters")
    levers: Levers = Levers()
    uncertainties: dict[str, Distribution] = {}
    monte_carlo: MonteCarloSettings = MonteCarloSettings()
    targets: Literal["all"] | list[str] = "all"
    share_definition: Literal["strict", "plan"] = "strict"
    outputs: OutputSettings = OutputSettings()
    sweep: dict[str, list[Any]] = {}

    @field_validator("sweep")
    @classmethod
    def _sweep_values_given(cls, value: dict) -> dict:
        for key, values in value.items():
            if not values:
                raise ValueError(f"sweep '{key}' lists no values")
        return value

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, value: str) -> str:
        if not re.fullmatch(NAME_PATTERN, value):
            raise ValueError(f"name {value[:40]!r} becomes a folder name: no '/', '\\', '..', "
                             "control characters or leading '.', at most 100 characters")
        return value


#: Top-level keys that configure a scenario but are not part of the validated spec.
META_KEYS = ("extends",)
#: Longest chain of scenarios extending each other (real ones use two or three).
MAX_EXTENDS = 20


class Scenario:
    """A validated scenario, ready to compile into model inputs."""

    def __init__(self, spec: ScenarioSpec, source: str = "<dict>", resolved: dict | None = None,
                 origins: dict | None = None):
        self.spec = spec
        self.source = source
        self.resolved = resolved if resolved is not None else spec.model_dump(mode="json")
        self.origins = origins or {}  # key path -> (file, line), across extends
        try:
            self.plan: Plan = load(spec.region, spec.version)
        except InputError as err:
            key = "version" if "version" in err.problem and spec.version is not None else "region"
            raise self.error((key,), err.problem) from None
        self.data_note = ""
        self._base_params: dict[str | None, ModelParams] = {}  # see base_params
        self._new_caches()
        if spec.as_of is not None:
            self._cut_plan_at(spec.as_of)
        # One parameter set per structural variant the replications may use (ODD 7.16).
        variant = (spec.params.get("structure") or {}).get("variant", "persist")
        variants = ("persist", "converge") if variant == "pooled" else (variant,)
        self.parameter_sets = {}
        for v in variants:
            try:
                self.parameter_sets[v] = load_parameter_set(spec.parameters, self.plan,
                                                            spec.as_of, v)
            except InputError as err:
                key = (("as_of",) if spec.as_of is not None and spec.parameters == "default"
                       and "data up to" in err.problem else
                       ("params", "structure", "variant") if v == "converge" else ("parameters",))
                raise self.error(key, err.problem) from None
        self.parameter_set = self.parameter_sets[variants[0]]
        self._check_paths()
        self._check_uncertainty_supports()

    def _cut_plan_at(self, year: int) -> None:
        """A mid-plan forecast sees only the plan figures dated up to ``year``."""
        from sim.model.baseline import default_base_year

        self.plan = self.plan.as_of(year)
        try:
            base = default_base_year(self.plan)
        except InputError:
            raise self.error(("as_of",), f"the plan has no baseline SEI output dated at or before "
                                         f"{year}: there is no state to start from") from None
        start = self.spec.horizon.start
        if start is not None and start > year:
            raise self.error(("horizon", "start"), f"start {start} is after as_of {year}")
        if start is None and base < year:
            self.data_note = (f"forecast as of {year}: starts from the plan's {base} baseline "
                              f"(the latest at or before {year})")

    def error(self, path: tuple, problem: str) -> InputError:
        """An error at ``path`` of this scenario, located in the file (and line) defining it."""
        return locate(self.origins, self.source, tuple(path), problem)

    def relocate(self, err: InputError) -> InputError:
        """Point an error raised below the scenario layer at the scenario key that caused it."""
        if err.path:
            return self.error(err.path, err.problem)
        return err

    def __repr__(self) -> str:
        return f"Scenario({self.spec.name!r}, region={self.spec.region!r}, version={self.plan.version!r})"

    @property
    def name(self) -> str:
        return self.spec.name

    def _check_paths(self) -> None:
        """Uncertainty and sweep keys must name real parameters or levers."""
        for key in self.spec.uncertainties:
            if not param_path_known(key):
                raise self.error(("uncertainties", key), unknown_param_message(key))
            if param_is_discrete(key):
                raise self.error(("uncertainties", key), "an integer or yes/no parameter has no "
                                 "distribution to draw from: fix it in params or sweep it")
            self._check_industry_entry(key, ("uncertainties", key))
        for key in self.spec.sweep:
            if key.startswith("levers."):
                parts = key.split(".")[1:]
                fields = fields_at(Levers, tuple(parts[:-1]))
                if parts[-1] not in fields and not _is_dict_field(Levers, parts[:-1]):
                    raise self.error(("sweep", key),
                                     f"unknown lever '{key}'{nearest(parts[-1], fields)}")
            elif key.startswith("params."):
                if not param_path_known(key[len("params."):]):
                    raise self.error(("sweep", key),
                                     unknown_param_message(key[len("params."):]))
                self._check_industry_entry(key[len("params."):], ("sweep", key))
            else:
                raise self.error(("sweep", key), "sweep keys start with 'levers.' or 'params.'")

    def _check_industry_entry(self, key: str, path: tuple) -> None:
        """Per-industry parameters (``firms.industry_drift.<id>``) must name a plan industry."""
        parts = key.split(".")
        if len(parts) >= 2 and parts[-2] in INDUSTRY_MAPS:
            ids = self.plan.industry_ids
            if parts[-1] not in ids:
                raise self.error(path, f"unknown industry '{parts[-1]}'{nearest(parts[-1], ids)}")

    def _check_uncertainty_supports(self) -> None:
        """Every value a distribution can reasonably draw must be a valid parameter value, so a
        bad range fails now with its line rather than replication by replication."""
        base = self.base_params()
        for key, dist in self.spec.uncertainties.items():
            probes = [v for v in (dist.low, dist.high, dist.mean, dist.mode, dist.median)
                      if v is not None]
            if dist.dist == "normal":  # 4 s.d. either side, within any truncation
                lo = -np.inf if dist.low is None else dist.low
                hi = np.inf if dist.high is None else dist.high
                probes += [float(np.clip(dist.mean + k * dist.sd, lo, hi)) for k in (-4, 4)]
            if dist.dist == "lognormal":
                probes += [dist.median * math.exp(k * dist.sigma) for k in (-4, 4)]
            for value in probes:
                try:
                    base.updated(nested_override(key, value))
                except ValidationError as exc:
                    msg = exc.errors(include_url=False)[0]["msg"]
                    raise self.error(("uncertainties", key),
                                     f"the distribution reaches {value:g}, which is invalid: "
                                     f"{msg}") from None

    def base_params(self, draw: dict | None = None, variant: str | None = None) -> ModelParams:
        """Parameter set (of the structural ``variant``; optionally one of its posterior draws),
        then the scenario's explicit ``params``, which always win over the set.

        Without a draw the result is computed once per variant (parameters are immutable); with
        one, the layers are validated together, once per draw (and again layer by layer only to
        report an invalid value where it was written)."""
        if not draw:
            cached = self._base_params.get(variant)
            if cached is None:
                cached = self._base_params[variant] = self._layered_params(None, variant)
            return cached
        params = self._drawn_set_params(draw, variant)
        override = self._variant_override(params, variant)
        return params.updated(override) if override else params

    def _drawn_set_params(self, draw: dict, variant: str | None) -> ModelParams:
        """The set's parameters with its posterior ``draw`` and the scenario's ``params``, the
        structural variant as written (possibly ``pooled``).

        A set holds a few dozen posterior draws and a Monte Carlo run samples one per
        replication, so each (variant, draw) is validated once and kept (parameters are
        immutable)."""
        params = self._set_draws.get((draw,), variant)
        if params is not MISSING:
            return params
        try:
            params = self.parameter_sets.get(variant, self.parameter_set).params.updated(
                draw, self.spec.params or {})
        except ValidationError:
            return self._layered_params(draw, variant, pooled=True)
        return self._set_draws.put((draw,), variant, params)

    def _new_caches(self) -> None:
        """What this scenario keeps between parameter draws: each posterior draw of its sets,
        validated (:meth:`_drawn_set_params`), and its prior keys per set (:meth:`prior_keys`)."""
        self._set_draws = IdentityCache(1024)
        self._prior_keys = IdentityCache(16)

    def __getstate__(self) -> dict:
        """Pickled without the caches: a chunk sent to a worker stays small."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_set_draws", "_prior_keys")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._new_caches()

    def _layered_params(self, draw: dict | None, variant: str | None,
                        pooled: bool = False) -> ModelParams:
        """:meth:`base_params` one layer at a time, each validated, so an invalid value in the
        scenario's ``params`` is reported at its line (``pooled``: leave a pooled variant as
        written)."""
        params = self.parameter_sets.get(variant, self.parameter_set).params
        if draw:
            params = params.updated(draw)
        if self.spec.params:
            try:
                params = params.updated(self.spec.params)
            except ValidationError as exc:
                lines = {k: line for k, (_, line) in self.origins.items()}
                try:
                    raise_validation_error(Located(self.resolved, lines, self.source), exc,
                                           ModelParams, base=("params",))
                except InputError as err:
                    raise self.relocate(err) from None
        override = {} if pooled else self._variant_override(params, variant)
        return params.updated(override) if override else params

    def _variant_override(self, params: ModelParams, variant: str | None) -> dict:
        """A pooled scenario draws its variant per replication (draw_params); without a draw
        (checks, a single run) it compiles as the given variant, else its first one."""
        if params.structure.variant != "pooled":
            return {}
        return {"structure": {"variant": variant or next(iter(self.parameter_sets))}}

    def draw_params(self, rng: np.random.Generator | None) -> ModelParams:
        """Parameters for one replication: a posterior draw of the parameter set (if it has
        draws), the scenario's explicit ``params``, then the scenario's uncertainties."""
        if rng is None:
            return self.base_params()
        variant = None
        if len(self.parameter_sets) > 1:  # pooled: one structural variant per replication
            weight = self.base_params().structure.converge_weight
            variant = "converge" if rng.random() < weight else "persist"
        pset = self.parameter_sets.get(variant, self.parameter_set)
        draw = pset.sample(rng)
        # The set, its draw and the scenario's params, validated with the draws below in one go.
        params = self._drawn_set_params(draw, variant) if draw else self.base_params(None, variant)
        overrides: dict = self._variant_override(params, variant)
        for key, dist in self.spec.uncertainties.items():
            overrides = merge_nested(overrides, self._entry_override(params, key,
                                                                     dist.sample(rng)))
        for key in self.prior_keys(pset):
            low, high = PRIORS[key]
            overrides = merge_nested(overrides, nested_override(key, rng.uniform(low, high)))
        if not params.allocation.figure_factors:
            factors = draw_figure_factors(self.plan, params, rng)
            if factors:
                overrides = merge_nested(overrides, {"allocation": {"figure_factors": factors}})
        if variant is not None:
            overrides = merge_nested(overrides, {"structure": {"variant": variant}})
        return params.updated(overrides) if overrides else params

    @staticmethod
    def _entry_override(params: ModelParams, key: str, value) -> dict:
        """The nested override setting dotted ``key`` to ``value``. A keyed map is one value when
        overrides are applied (``firms.industry_drift``), so an entry drawn on its own
        (``firms.industry_drift.<id>``) comes with the map's other entries as they stand."""
        parts = key.split(".")
        if len(parts) >= 2 and parts[-2] in KEYED_MAPS:
            current = params
            for part in parts[:-1]:
                current = getattr(current, part)
            return nested_override(".".join(parts[:-1]), {**current, parts[-1]: value})
        return nested_override(key, value)

    def prior_keys(self, pset) -> list[str]:
        """The model's prior-driven parameters (:data:`PRIORS`) this scenario leaves open: not set
        in its ``params``, not given its own distribution, not fixed by the parameter set."""
        keys = self._prior_keys.get((pset,))
        if keys is MISSING:  # asked once per parameter draw
            fixed = (set(dotted_keys(self.spec.params or {})) | set(self.spec.uncertainties)
                     | pset.keys)
            keys = self._prior_keys.put((pset,), (), [k for k in PRIORS if k not in fixed])
        return list(keys)

    @property
    def varies(self) -> bool:
        """Whether replications differ in their parameters (so each needs its own draw)."""
        return (bool(self.spec.uncertainties) or len(self.parameter_sets) > 1
                or bool(self.parameter_set.draws) or bool(self.prior_keys(self.parameter_set))
                or bool(qualified_baselines(self.plan)))

    def model_inputs(self, rng: np.random.Generator | None = None) -> ModelInputs:
        h = self.spec.horizon
        try:
            return compile_inputs(self.plan, self.draw_params(rng), self.spec.levers,
                                  start_year=h.start, end_year=h.end)
        except InputError as exc:
            raise self.relocate(exc) if exc.path else exc from None

    def with_overrides(self, overrides: dict[str, Any], name: str | None = None) -> Scenario:
        """A copy with dotted-key overrides (``levers.fund.scale: 2``), e.g. one sweep point."""
        data = copy.deepcopy(self.resolved)
        for key, value in overrides.items():
            _set_dotted(data, key, value)
        data["sweep"] = {}
        if name:
            data["name"] = name
        return scenario_from_dict(data, self.source, self.origins)

    def sweep_points(self) -> list[tuple[dict, Scenario]]:
        """The grid of the scenario's ``sweep`` (cartesian product), one scenario per point."""
        if not self.spec.sweep:
            return [({}, self)]
        keys = list(self.spec.sweep)
        points = []
        for values in itertools.product(*(self.spec.sweep[k] for k in keys)):
            point = dict(zip(keys, values))
            label = ",".join(f"{k.split('.')[-1]}={v}" for k, v in point.items())
            try:
                variant = self.with_overrides(point, f"{self.name}[{label}]")
                variant.model_inputs()  # lever values checked against the model (parks...)
                points.append((point, variant))
            except InputError as err:  # point at the sweep entry that produced the bad value
                dotted = ".".join(str(p) for p in (err.path or ()))
                key = next((k for k in keys if dotted.startswith(k) or k.startswith(dotted)),
                           keys[0])
                index = self.spec.sweep[key].index(point[key])
                raise self.error(("sweep", key, index), err.problem) from None
        return points


def _is_dict_field(model, parts) -> bool:
    """Whether ``parts`` names a mapping-valued lever (allocation weights, park expansion)."""
    return bool(parts) and parts[-1] in ("allocation", "expansion")


def param_path_known(key: str) -> bool:
    """Whether a dotted key names a model parameter (or an entry of a per-industry mapping)."""
    parts = key.split(".")
    if parts[-2:-1] and parts[-2] in INDUSTRY_MAPS:
        return True
    return parts[-1] in fields_at(ModelParams, tuple(parts[:-1]))


def param_is_discrete(key: str) -> bool:
    """Whether a dotted parameter key is an integer or boolean (a count, a switch): such a
    parameter has no continuous distribution to draw from."""
    import typing

    model: Any = ModelParams
    parts = key.split(".")
    for part in parts:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return False
        model = field.annotation
    options = set(typing.get_args(model)) - {type(None)} or {model}
    return options <= {int, bool}


def unknown_param_message(key: str) -> str:
    parts = key.split(".")
    return f"unknown parameter '{key}'{nearest(parts[-1], fields_at(ModelParams, tuple(parts[:-1])))}"


def locate(origins: dict, source: str, path: tuple, problem: str) -> InputError:
    """An InputError at ``path``, in the file and line where that key (or its nearest ancestor)
    was written."""
    probe = path
    while probe and probe not in origins:
        probe = probe[:-1]
    file, line = origins.get(probe, (source, None))
    return InputError(problem, file=file, line=line, key=format_path(path), path=path)


def _set_dotted(data: dict, dotted: str, value) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        if node.get(part) is None:  # e.g. an allocation left at its default (None)
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


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
    if len(chain) >= MAX_EXTENDS:
        raise located.error(("extends",), f"more than {MAX_EXTENDS} scenarios extend each other "
                                          "in one chain")
    base, base_origins = _resolve_extends(parent, chain + (path.resolve(),))
    merged = merge_nested(base, {k: v for k, v in data.items() if k != "extends"})
    base_origins.update(origins)
    return merged, base_origins


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


PACKAGE_SCENARIOS = SHIPPED_SCENARIOS


def find_scenario(name: str | os.PathLike) -> str:
    """A path for a scenario name: the name itself if it is a file, else
    ``scenarios/<name>.yaml`` in the working directory or in the library shipped with seisim."""
    text = str(name)
    if Path(text).is_file() or text.endswith((".yaml", ".yml")):
        return text
    for folder in (Path.cwd() / "scenarios", PACKAGE_SCENARIOS):
        candidate = folder / f"{text}.yaml"
        if candidate.is_file():
            return str(candidate)
    return text


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
    clean = {k: v for k, v in data.items() if k not in META_KEYS}
    try:
        spec = ScenarioSpec.model_validate(clean)
    except ValidationError as exc:
        try:
            raise_validation_error(Located(clean, lines, source), exc, ScenarioSpec)
        except InputError as err:
            raise locate(origins, source, err.path or (), err.problem) from None
    return Scenario(spec, source, spec.model_dump(mode="json"), origins)

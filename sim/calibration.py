"""Calibration: fit free parameters to a plan's historical baselines, with uncertainty.

Method (documented in ``docs/calibration.md``):

* **Simulated method of moments** with common random numbers: the moments are plan figures (e.g.
  Chongqing's 2020 SEI output, share and firm count, simulated from a 2015 start); the objective is
  ``sum_k ((mean_sim_k - data_k) / (tol_k * data_k))^2 + sum_j ((theta_j - mu_j) / sd_j)^2`` where
  ``tol_k`` is the moment's relative tolerance and the second sum holds optional Gaussian priors.
  The same replication seeds are used at every parameter value, so the objective is a smooth-ish
  function of the parameters and ``scipy.optimize`` (Nelder-Mead on a bounded transform) can
  minimise it.
* **Parametric bootstrap** for uncertainty: the plan's history is one realisation of a stochastic
  process, so we simulate pseudo-histories at the estimate, refit each, and keep the refitted
  parameters as draws. Scenarios then sample these draws (one per replication), so reported
  probabilities include parameter uncertainty.
* **Checks**: profiles of the objective along each parameter (what the data pin down), and a
  leave-one-out check (refit without one moment, predict it).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy import optimize

from sim._version import __version__
from sim.engines import run_engine
from sim.errors import InputError, nearest
from sim.experiments.seeding import replication_seed
from sim.model.baseline import default_base_year
from sim.model.inputs import compile_inputs
from sim.model.levers import GrowthShock, Levers
from sim.model.params import ModelParams, merge_nested, nested_override
from sim.outcomes import _column_for, services_in_printed_total, statistic_column
from sim.plans import Plan, load
from sim.plans.statistics import load_statistics
from sim.scenarios import param_path_known, unknown_param_message
from sim.yamlio import load_located, raise_validation_error


#: Free parameters named ``shock.<year>`` are one-off common growth shifts in that calendar year
#: (nuisance parameters: they absorb an exceptional year so it does not bias the trend estimates;
#: they are not part of the fitted parameter set).
SHOCK_PREFIX = "shock."
#: ``break.<year>``: a level shift of SEI output in a year from which the SEI series change
#: definition (declared in the region's statistics file). Added to the free parameters
#: automatically when the fitted history spans the break; a nuisance parameter like a year shock.
BREAK_PREFIX = "break."
BREAK_BOUNDS = (-0.5, 1.0)


def is_nuisance(name: str) -> bool:
    """Year shocks and classification breaks: fitted, never carried into forecasts."""
    return name.startswith((SHOCK_PREFIX, BREAK_PREFIX))


def nuisance_year(name: str) -> int | None:
    return int(name.split(".", 1)[1]) if is_nuisance(name) else None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class MomentSpec(Strict):
    figure: str | None = Field(None, description="id of the plan figure to match")
    statistic: str | None = Field(None, description="id of the published statistic to match "
                                  "(seeds/statistics/<region>.yaml)")
    tolerance: float = Field(0.02, gt=0, description="tolerance (1 s.d.) of the match: relative "
                             "for levels and shares, in percentage points for growth rates")

    @model_validator(mode="after")
    def _one_source(self) -> MomentSpec:
        if (self.figure is None) == (self.statistic is None):
            raise ValueError("a moment names either a 'figure' (plan) or a 'statistic'")
        return self


class FreeParameter(Strict):
    low: float
    high: float
    start: float | None = None
    prior_mean: float | None = None
    prior_sd: float | None = Field(None, gt=0)


class CalibrationSpec(Strict):
    name: str
    region: str
    version: str | None = None
    start_year: int
    parameters: dict[str, Any] = Field({}, description="fixed parameter overrides")
    share_definition: str = "strict"
    moments: list[MomentSpec] = Field(min_length=1)
    data_through: int | None = Field(None, description="use only moments dated at or before "
                                     "this year (a back-test origin); None = all")
    breaks: Literal["auto", "none"] = Field("auto", description="auto: add a level-shift "
                                            "parameter break.<year> for every classification "
                                            "break the fitted history spans")
    free: dict[str, FreeParameter] = Field(min_length=1)
    replications: int = Field(48, ge=2)
    seed: int = 12345
    bootstrap: int = Field(20, ge=0)
    max_evaluations: int = Field(150, ge=10)


#: Extra moments required beyond the number of free parameters: an exact fit of as many moments as
#: parameters tests nothing, so every fit must leave at least this many degrees of freedom.
SPARE_MOMENTS = 2
#: A fitted parameter whose posterior spread exceeds this fraction of its prior spread is labelled
#: prior-driven: the data say little about it, the prior says most.
PRIOR_DRIVEN_RATIO = 0.7


@dataclass
class Moment:
    id: str
    column: str
    year: int
    data: float
    tolerance: float
    source: str
    qualifier: str = "exact"     # more_than / at_least: one-sided (only a shortfall counts)
    growth: bool = False         # growth rates: tolerance in percentage points, not relative

    def z(self, simulated: float, data: float | None = None) -> float:
        """Standardised miss of a simulated mean (against ``data``, default the moment's own);
        one-sided for lower and upper bounds."""
        data = self.data if data is None else data
        scale = self.tolerance if self.growth else self.tolerance * abs(data)
        miss = (simulated - data) / scale
        if self.qualifier in ("more_than", "at_least"):
            return np.minimum(miss, 0.0)
        if self.qualifier == "less_than":
            return np.maximum(miss, 0.0)
        return miss


@dataclass
class Problem:
    """A calibration problem ready to evaluate: plan, moments, free parameters and seeds."""

    spec: CalibrationSpec
    plan: Plan
    base: ModelParams
    moments: list[Moment]
    names: list[str]
    free: list[FreeParameter]
    end_year: int
    source: str = ""

    def params_at(self, theta) -> ModelParams:
        overrides: dict = {}
        for name, value in zip(self.names, theta):
            if not is_nuisance(name):
                overrides = merge_nested(overrides, nested_override(name, float(value)))
        return self.base.updated(overrides)

    def levers_at(self, theta) -> Levers:
        """Year shocks (``shock.2021``: every growth rate) and classification breaks
        (``break.2018``: SEI firms only) among the free parameters, as one-year growth shifts."""
        shocks = [GrowthShock(start=nuisance_year(name), end=nuisance_year(name),
                              growth_shift=float(value),
                              sei_only=name.startswith(BREAK_PREFIX))
                  for name, value in zip(self.names, theta) if is_nuisance(name)]
        return Levers(shocks=tuple(shocks))

    def simulate(self, theta, replications: int | None = None, seed: int | None = None,
                 first: int = 0) -> np.ndarray:
        """Simulated moments, one row per replication (CRN: fixed seeds)."""
        inputs = compile_inputs(self.plan, self.params_at(theta), self.levers_at(theta),
                                start_year=self.spec.start_year, end_year=self.end_year)
        seed = self.spec.seed if seed is None else seed
        n = replications or self.spec.replications
        out = np.empty((n, len(self.moments)))
        for r in range(n):
            annual = run_engine(inputs, replication_seed(seed, first + r)).annual
            by_year = annual.set_index("year")
            out[r] = [by_year.at[m.year, m.column] for m in self.moments]
        return out

    def objective(self, theta, data: np.ndarray | None = None, use: np.ndarray | None = None,
                  prior_means: list | None = None) -> float:
        data = np.array([m.data for m in self.moments]) if data is None else data
        use = np.ones(len(self.moments), bool) if use is None else use
        sim = self.simulate(theta).mean(axis=0)
        z = np.array([m.z(x, d) for m, d, x in zip(self.moments, data, sim)])
        value = float((z[use] ** 2).sum())
        means = prior_means or [f.prior_mean for f in self.free]
        for t, f, mu in zip(theta, self.free, means):
            if mu is not None and f.prior_sd is not None:
                value += ((t - mu) / f.prior_sd) ** 2
        return value


def load_spec(path: str | Path) -> tuple[CalibrationSpec, str]:
    located = load_located(path)
    try:
        spec = CalibrationSpec.model_validate(located.data)
    except ValidationError as exc:
        raise_validation_error(located, exc, CalibrationSpec)
    for key in spec.free:
        if is_nuisance(key):
            if not key.split(".", 1)[1].isdigit():
                raise located.error(("free", key), "a year shock or break is written "
                                                   "shock.<year> or break.<year>")
        elif not param_path_known(key):
            raise located.error(("free", key), unknown_param_message(key))
    return spec, located.file


def find_spec(region: str, version: str) -> Path | None:
    """The calibration spec of a plan version: ``calibration/<region>-<version>.yaml`` in the
    working directory or beside the package."""
    from sim.parameter_sets import PACKAGE_ROOT
    from sim.plans.loader import display_path

    for root in (Path.cwd(), PACKAGE_ROOT):
        candidate = root / "calibration" / f"{region}-{version}.yaml"
        if candidate.is_file():
            return Path(display_path(candidate))
    return None


def build_problem(spec: CalibrationSpec, source: str = "<spec>",
                  check_identification: bool = True) -> Problem:
    """The calibration problem of ``spec``: its moments (only those dated at or before
    ``data_through``, on a plan cut at that year) and free parameters."""
    full_plan = load(spec.region, spec.version)
    plan = full_plan if spec.data_through is None else full_plan.as_of(spec.data_through)
    try:
        base = ModelParams().updated(spec.parameters)
    except ValidationError as exc:
        raise InputError(exc.errors(include_url=False)[0]["msg"], file=source,
                         key="parameters") from None
    inputs = compile_inputs(plan, base, start_year=spec.start_year,
                            end_year=spec.start_year + 1)  # only its baseline is needed
    services = services_in_printed_total(plan, inputs.baseline)
    statistics = load_statistics(plan.region, plan.file)
    moments = []
    for k, m in enumerate(spec.moments):
        if m.figure is not None:
            try:
                fig = full_plan.figure(m.figure)  # figures after data_through are dropped below
            except KeyError as exc:
                raise InputError(str(exc.args[0]), file=source,
                                 key=f"moments[{k}].figure") from None
            column, reason = _column_for(fig, inputs.baseline, services, spec.share_definition)
            moment = Moment(fig.id, column, fig.year, fig.canonical_value, m.tolerance,
                            plan.source_of(fig), fig.qualifier)
        else:
            found = [st for st in (statistics.items if statistics else ()) if st.id == m.statistic]
            if not found:
                known = [st.id for st in statistics.items] if statistics else []
                raise InputError(f"unknown statistic '{m.statistic}'{nearest(m.statistic, known)}"
                                 f" in the statistics of {plan.region}", file=source,
                                 key=f"moments[{k}].statistic")
            st = found[0]
            column, reason = statistic_column(st)
            moment = Moment(st.id, column, st.year, st.value, m.tolerance,
                            f"{st.source} ({st.published})", st.qualifier,
                            growth=st.definition.kind == "growth")
        if moment.year <= spec.start_year:
            raise InputError(f"moment '{moment.id}' ({moment.year}) is not after the start year "
                             f"{spec.start_year}", file=source, key=f"moments[{k}]")
        if column is None:
            raise InputError(f"moment '{moment.id}' cannot be simulated: {reason}", file=source,
                             key=f"moments[{k}]")
        if spec.data_through is None or moment.year <= spec.data_through:
            moments.append(moment)
    free = dict(spec.free)
    last = max([m.year for m in moments], default=spec.start_year)
    for brk in (statistics.breaks if statistics and spec.breaks == "auto" else ()):
        name = f"{BREAK_PREFIX}{brk.year}"
        if spec.start_year < brk.year <= last and name not in free:
            # First in the list: a back-test with few moments fits the break before the trends.
            free = {name: FreeParameter(low=BREAK_BOUNDS[0], high=BREAK_BOUNDS[1], start=0.0),
                    **free}
    spec = spec.model_copy(update={"free": free})
    needed = len(spec.free) + SPARE_MOMENTS
    if check_identification and len(moments) < needed:
        through = "" if spec.data_through is None else f" dated up to {spec.data_through}"
        raise InputError(f"{len(moments)} moments{through} for {len(spec.free)} free parameters: "
                         f"a fit needs at least {needed} (free parameters + {SPARE_MOMENTS}), "
                         "otherwise it reproduces the data exactly and tests nothing",
                         file=source, key="free")
    end = max([m.year for m in moments], default=spec.start_year + 1)
    return Problem(spec, plan, base, moments, list(spec.free), list(spec.free.values()), end,
                   source)


# Optimisation on a bounded transform ---------------------------------------------------------------
def _to_unbounded(theta, free):
    return [math.log((t - f.low) / (f.high - t)) for t, f in zip(theta, free)]


def _to_bounded(x, free):
    return [f.low + (f.high - f.low) / (1 + math.exp(-v)) for v, f in zip(x, free)]


def fit(problem: Problem, start=None, data=None, use=None, max_evaluations=None,
        prior_means=None) -> tuple[list, float, int]:
    """Minimise the SMM objective; returns (theta, objective, evaluations)."""
    free = problem.free
    if start is None:
        start = [f.start if f.start is not None else 0.5 * (f.low + f.high) for f in free]
    start = [min(max(s, f.low + 1e-6 * (f.high - f.low)), f.high - 1e-6 * (f.high - f.low))
             for s, f in zip(start, free)]
    x0 = _to_unbounded(start, free)
    result = optimize.minimize(
        lambda x: problem.objective(_to_bounded(x, free), data, use, prior_means), x0,
        method="Nelder-Mead",
        options={"maxfev": max_evaluations or problem.spec.max_evaluations, "xatol": 1e-3,
                 "fatol": 1e-3, "initial_simplex": _simplex(x0)})
    return _to_bounded(result.x, free), float(result.fun), int(result.nfev)


def _simplex(x0):
    x0 = np.asarray(x0, float)
    simplex = [x0]
    for k in range(len(x0)):
        step = x0.copy()
        step[k] += 0.6
        simplex.append(step)
    return np.array(simplex)


def _bootstrap_one(args) -> list[float]:
    spec_dict, source, theta, b = args
    problem = build_problem(CalibrationSpec.model_validate(spec_dict), source)
    pseudo = problem.simulate(theta, replications=1, seed=problem.spec.seed + 1 + b)[0]
    # Randomise the priors too (each prior mean drawn from its prior), so the refits sample the
    # posterior instead of being pulled twice towards the prior mean.
    rng = np.random.default_rng(np.random.SeedSequence(problem.spec.seed, spawn_key=(b,)))
    prior_means = [None if f.prior_mean is None or f.prior_sd is None
                   else float(rng.normal(f.prior_mean, f.prior_sd)) for f in problem.free]
    refit, _, _ = fit(problem, start=theta, data=pseudo, prior_means=prior_means,
                      max_evaluations=max(40, problem.spec.max_evaluations // 2))
    return refit


def _leave_one_out(args) -> dict:
    spec_dict, source, theta, k = args
    problem = build_problem(CalibrationSpec.model_validate(spec_dict), source)
    use = np.ones(len(problem.moments), bool)
    use[k] = False
    # Start from the priors, not from the full-data estimate, which has seen the left-out moment.
    refit, _, _ = fit(problem, start=prior_start(problem.free), use=use,
                      max_evaluations=max(40, problem.spec.max_evaluations // 2))
    predicted = problem.simulate(refit).mean(axis=0)[k]
    m = problem.moments[k]
    return {"moment": m.id, "data": m.data, "predicted": float(predicted),
            "relative_error": float(predicted / m.data - 1), "refit": dict(zip(problem.names, refit))}


def prior_start(free: list[FreeParameter]) -> list[float]:
    """Starting values that know nothing of the data: prior means, else the spec's start, else
    the middle of the bounds."""
    return [f.prior_mean if f.prior_mean is not None else
            f.start if f.start is not None else 0.5 * (f.low + f.high) for f in free]


def prior_spread(f: FreeParameter) -> float:
    """The prior s.d. of a free parameter; a uniform prior over its bounds when none is given."""
    return f.prior_sd if f.prior_sd is not None else (f.high - f.low) / math.sqrt(12)


@dataclass
class CalibrationResult:
    problem: Problem
    theta: list[float]
    objective: float
    evaluations: int
    draws: list[list[float]]
    moments_sim: np.ndarray          # (replications, moments) at the estimate
    profiles: dict[str, list[tuple[float, float]]]
    leave_one_out: list[dict]
    seconds: float
    extra: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return self.problem.names

    def estimates(self) -> dict[str, dict]:
        out = {}
        draws = np.array(self.draws) if self.draws else None
        for k, name in enumerate(self.names):
            row = {"value": self.theta[k]}
            if draws is not None and len(draws) > 1:
                sd = float(draws[:, k].std(ddof=1))
                ratio = sd / prior_spread(self.problem.free[k])
                row.update(q05=float(np.quantile(draws[:, k], 0.05)),
                           q95=float(np.quantile(draws[:, k], 0.95)), sd=sd,
                           posterior_to_prior_sd=ratio,
                           prior_driven=bool(ratio > PRIOR_DRIVEN_RATIO))
            out[name] = row
        return out

    @property
    def prior_driven(self) -> list[str]:
        """Free parameters the data hardly constrain (posterior spread > 0.7 of the prior's)."""
        return [name for name, row in self.estimates().items() if row.get("prior_driven")]

    @property
    def data_through(self) -> int:
        """The latest year of data the fit used."""
        return max(m.year for m in self.problem.moments)

    def moment_table(self) -> list[dict]:
        rows = []
        for k, m in enumerate(self.problem.moments):
            sim = self.moments_sim[:, k]
            rows.append({"moment": m.id, "column": m.column, "year": m.year, "data": m.data,
                         "simulated_mean": float(sim.mean()),
                         "relative_error": float(sim.mean() / m.data - 1),
                         "q05": float(np.quantile(sim, 0.05)),
                         "q95": float(np.quantile(sim, 0.95)), "source": m.source})
        return rows

    def parameter_set(self) -> dict:
        """The fitted parameter set as written to ``calibration/sets/<region>-<version>.yaml``."""
        p = self.problem
        fitted: dict = dict(p.spec.parameters)
        for name, value in zip(self.names, self.theta):
            if not is_nuisance(name):
                fitted = merge_nested(fitted, nested_override(name, round(float(value), 6)))
        draws = []
        for theta in self.draws:
            d: dict = {}
            for name, value in zip(self.names, theta):
                if not is_nuisance(name):
                    d = merge_nested(d, nested_override(name, round(float(value), 6)))
            draws.append(d)
        return {
            "name": p.spec.name,
            "region": p.plan.region, "version": p.plan.version,
            "method": "simulated method of moments (common random numbers) with parametric "
                      "bootstrap draws",
            "spec": p.source, "code_version": __version__,
            "date": _dt.date.today().isoformat(),
            "objective": round(self.objective, 6),
            "data_through": self.data_through,
            "prior_driven": self.prior_driven,
            "estimates": {k: {kk: (round(vv, 6) if isinstance(vv, float) else vv)
                              for kk, vv in v.items()}
                          for k, v in self.estimates().items()},
            "moments": [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()}
                        for row in self.moment_table()],
            "params": fitted,
            "draws": draws,
        }


def calibrate(spec_path: str | Path, *, workers: int | None = None, bootstrap: int | None = None,
              progress: bool = True, backend: str = "processes", address: str | None = None,
              work_dir: str | Path | None = None) -> CalibrationResult:
    """Run the full calibration described by a spec file (see module docstring).

    The bootstrap and leave-one-out refits run on ``backend`` (serial, processes, or a Dask
    cluster at ``address``) through the experiment driver's job runner; with ``work_dir`` each
    finished refit is kept there, so an interrupted calibration rerun with the same spec resumes
    instead of refitting."""
    import time

    from sim.experiments.backends import default_workers
    from sim.experiments.driver import run_jobs

    start = time.perf_counter()
    spec, source = load_spec(spec_path)
    if bootstrap is not None:
        spec = spec.model_copy(update={"bootstrap": bootstrap})
    problem = build_problem(spec, source)
    _say(progress, f"fitting {len(problem.names)} parameters to {len(problem.moments)} moments")
    theta, value, nfev = fit(problem)
    _say(progress, f"estimate {dict(zip(problem.names, np.round(theta, 4)))} "
                   f"(objective {value:.3g}, {nfev} evaluations)")
    moments_sim = problem.simulate(theta)
    profiles = {}
    for k, (name, f) in enumerate(zip(problem.names, problem.free)):
        grid = np.linspace(f.low, f.high, 9)
        values = []
        for g in grid:
            t = list(theta)
            t[k] = float(g)
            values.append((float(g), problem.objective(t)))
        profiles[name] = values
    spec_dict = spec.model_dump()
    jobs_boot = [(spec_dict, source, theta, b) for b in range(spec.bootstrap)]
    jobs_loo = [(spec_dict, source, theta, k) for k in range(len(problem.moments))]
    workers = workers or default_workers()
    _say(progress, f"bootstrap ({spec.bootstrap} refits) and leave-one-out "
                   f"({len(jobs_loo)} refits) on {workers} worker(s), backend {backend}")
    on = {"backend": backend, "workers": workers, "address": address, "progress": progress}
    store = None if work_dir is None else Path(work_dir)
    draws = run_jobs(_bootstrap_one, jobs_boot, store=store and store / "bootstrap",
                     desc="bootstrap refits", **on)
    loo = run_jobs(_leave_one_out, jobs_loo, store=store and store / "leave-one-out",
                   desc="leave-one-out refits", **on)
    return CalibrationResult(problem, theta, value, nfev, draws, moments_sim, profiles, loo,
                             time.perf_counter() - start)




def _say(enabled: bool, message: str) -> None:
    if enabled:
        import sys

        print(f"seisim calibrate: {message}", file=sys.stderr)


@dataclass
class FitThrough:
    """A calibration on data dated up to one year (a back-test origin, or ``as_of`` for a
    mid-plan forecast): what the data could pin down, and what stays with the priors."""

    origin: int
    base_year: int
    moments: list[str]
    fitted: list[str]
    prior_only: list[str]
    estimates: dict[str, dict]
    prior_driven: list[str]
    draws: list[dict]                     # nested overrides of the fitted parameters
    theta: dict[str, float] = field(default_factory=dict)
    label: str = ""                       # the calibration spec's name

    def sample(self, spec: CalibrationSpec, rng: np.random.Generator, r: int) -> dict:
        """Nested overrides for replication ``r``: a posterior draw of the fitted parameters and a
        prior draw (clipped to the bounds) of every parameter the data could not fit."""
        overrides = dict(self.draws[r % len(self.draws)]) if self.draws else {}
        for name in self.prior_only:
            f = spec.free[name]
            if f.prior_mean is not None and f.prior_sd is not None:
                value = float(np.clip(rng.normal(f.prior_mean, f.prior_sd), f.low, f.high))
            else:
                value = float(rng.uniform(f.low, f.high))
            overrides = merge_nested(overrides, nested_override(name, value))
        return overrides

    def parameter_set(self, spec: CalibrationSpec, source: str, draws: int = 64,
                      seed: int = 0) -> dict:
        """A parameter set (as written to ``calibration/sets/``) whose draws carry both the
        posterior of the fitted parameters and the priors of the others."""
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(self.origin,)))
        plan = load(spec.region, spec.version)
        return {
            "name": f"{spec.name}-through-{self.origin}",
            "region": plan.region, "version": plan.version,
            "method": "simulated method of moments on data dated up to data_through, bootstrap "
                      "draws; parameters the data could not fit are drawn from their priors",
            "spec": source, "code_version": __version__, "date": _dt.date.today().isoformat(),
            "data_through": self.origin, "base_year": self.base_year,
            "moments": self.moments, "fitted": self.fitted, "prior_only": self.prior_only,
            "prior_driven": self.prior_driven,
            "estimates": {k: {kk: (round(vv, 6) if isinstance(vv, float) else vv)
                              for kk, vv in v.items()} for k, v in self.estimates.items()},
            "params": dict(spec.parameters),
            "draws": [self.sample(spec, rng, r) for r in range(draws)],
        }

    def summary_rows(self) -> list[dict]:
        rows = []
        for name in self.fitted:
            e = self.estimates.get(name, {})
            rows.append({"origin": self.origin, "spec": self.label, "parameter": name, "status":
                         "prior-driven" if name in self.prior_driven else "fitted",
                         "value": e.get("value"), "q05": e.get("q05"), "q95": e.get("q95"),
                         "posterior_to_prior_sd": e.get("posterior_to_prior_sd")})
        for name in self.prior_only:
            rows.append({"origin": self.origin, "spec": self.label, "parameter": name, "status": "prior only",
                         "value": None, "q05": None, "q95": None, "posterior_to_prior_sd": 1.0})
        return rows


def fitting_order(free: dict) -> dict:
    """Free parameters in the order a short history fits them: nuisance parameters (breaks,
    year shocks) first, then the spec's order (a stable sort)."""
    return dict(sorted(free.items(), key=lambda kv: not is_nuisance(kv[0])))


def calibrate_through(spec, source: str, origin: int, bootstrap: int, workers: int,
                      progress: bool = False, *, backend: str = "processes",
                      address: str | None = None, work_dir: str | Path | None = None
                      ) -> FitThrough:
    """Calibrate on data dated up to ``origin``, fitting as many free parameters as the moments
    allow: the first ``moments - SPARE_MOMENTS``, nuisance parameters first and then in the spec's
    order; the others keep their priors. Year shocks dated after the origin are dropped."""
    spec_o = spec.model_copy(update={"data_through": origin})
    free = {k: v for k, v in spec.free.items()
            if not (is_nuisance(k) and nuisance_year(k) > origin)}
    counted = build_problem(spec_o.model_copy(update={"free": free}), source,
                            check_identification=False)
    # With the classification breaks the history spans. Nuisance parameters (breaks, year shocks)
    # go first: a break or an exceptional year left unfitted would be absorbed by the trends.
    free = fitting_order(counted.spec.free)
    n_fit = max(0, min(len(free), len(counted.moments) - SPARE_MOMENTS))
    fitted = dict(list(free.items())[:n_fit])
    prior_only = [k for k in list(free)[n_fit:] if not is_nuisance(k)]
    plan_o = counted.plan
    base_year = default_base_year(plan_o)
    fit_result = FitThrough(origin, base_year, [m.id for m in counted.moments], list(fitted),
                           prior_only, {}, [], [], label=spec.name)
    if not fitted:
        return fit_result
    spec_fit = spec_o.model_copy(update={"free": fitted, "bootstrap": bootstrap,
                                         "breaks": "none"})
    problem = build_problem(spec_fit, source)
    if progress:
        print(f"seisim: data through {origin}: fitting {list(fitted)} to "
              f"{len(problem.moments)} moments", flush=True)
    theta, value, nfev = fit(problem, start=prior_start(problem.free))
    jobs = [(spec_fit.model_dump(), source, theta, b) for b in range(bootstrap)]
    from sim.experiments.driver import run_jobs

    draws = run_jobs(_bootstrap_one, jobs, backend=backend, workers=workers, address=address,
                     store=None if work_dir is None else Path(work_dir) / f"through-{origin}",
                     progress=progress, desc=f"bootstrap refits, data through {origin}")
    result = CalibrationResult(problem, theta, value, nfev, draws, np.zeros((1, 1)), {}, [], 0.0)
    fit_result.theta = dict(zip(problem.names, theta))
    fit_result.estimates = result.estimates()
    fit_result.prior_driven = [name for name, row in fit_result.estimates.items()
                               if row.get("prior_driven")]
    overrides = []
    for d in (draws or [theta]):
        o: dict = {}
        for name, v in zip(problem.names, d):
            if not is_nuisance(name):
                o = merge_nested(o, nested_override(name, float(v)))
        overrides.append(o)
    fit_result.draws = overrides
    return fit_result

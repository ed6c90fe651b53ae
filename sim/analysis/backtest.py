"""Rolling-origin back-test: how the model's forecasts compare with what was published later.

For each origin year ``t`` the back-test does what a forecaster at the end of ``t`` could have done:

1. **Data up to the origin only.** The plan is cut at ``t`` (:meth:`Plan.as_of`: baseline figures
   dated after ``t`` are dropped) and only statistics dated at or before ``t`` are moments.
2. **Calibrate** the region's calibration spec (``calibration/<region>-<version>.yaml``) on those
   moments. A fit needs at least two more moments than free parameters, so at an early origin only
   the first ``moments - 2`` free parameters (in the spec's order) are fitted, with bootstrap
   draws for their uncertainty; the others are drawn from their priors in every replication and
   reported as prior-only. Year shocks (``shock.<year>``) are nuisance parameters of the fit and
   never enter a forecast.
3. **Forecast** from the latest plan baseline at or before ``t`` (the state a forecaster knew) to
   the last year with statistics: Monte Carlo replications, each with its own parameter draw. By
   default both structural variants (persist, converge; ODD 7.16) are calibrated and pooled with
   equal weights, and each is also scored alone.
4. **Score** every later statistic that the model simulates: observed value, median, 50% and 90%
   bands, PIT, inside or outside, CRPS; and, on exactly the same points, the naive forecasts an
   economist tries first: no change, the linear trend of the last three observations, and the
   plan's straight line from its baseline to its target (only where the plan targets the same
   measure). Statistics given as bounds ("more than") are not scored; the share of replications
   on the right side of the bound is reported instead.

Nothing here tunes the model: the back-test measures it. Summaries are per measure, because errors
in 亿元 and in percentage points cannot be averaged together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.analysis import scoring
from sim.calibration import FitThrough, calibrate_through
from sim.engines import run_engine
from sim.engines.state import annual_table
from sim.errors import InputError
from sim.experiments.seeding import parameter_rng, replication_seed
from sim.model.baseline import default_base_year
from sim.model.inputs import compile_inputs
from sim.model.params import ModelParams, merge_nested
from sim.outcomes import statistic_column
from sim.plans import Plan
from sim.plans.statistics import MEASURES, Statistic, Statistics, load_statistics

METHODS = ("model", "no_change", "linear_trend", "plan_path")
BOUND_QUALIFIERS = ("more_than", "at_least", "less_than")
#: Plan indicators that measure the same thing as a statistic (for the plan-path forecast and the
#: naive forecasts' history).
PLAN_EQUIVALENT = {"sei_output": "sei_output", "sei_output_share": "sei_output_share",
                   "sei_value_added_share_gdp": "sei_value_added_share_gdp"}


@dataclass
class BacktestResult:
    """Tables of a back-test; :func:`sim.reporting.backtest_report.write_backtest` writes them."""

    region: str
    version: str
    origins: list[int]
    points: pd.DataFrame          # one row per origin x statistic x method
    bounds: pd.DataFrame          # bound statistics: share of replications on the right side
    fans: pd.DataFrame            # origin x column x year quantiles
    fits: list[FitThrough]
    statistics: Statistics
    replications: int
    seed: int
    spec_file: str
    notes: list[str] = field(default_factory=list)
    bootstrap: int = 0
    calibration_seeds: tuple[int, ...] = ()  # the seed of each calibration spec's refits
    calibration_seed: int | None = None      # the override of those seeds, if one was given

    def summary(self) -> pd.DataFrame:
        """Per measure and method: n, MAE, mean bias, CRPS, coverage, PIT mean; naive methods also
        carry the model's MAE on exactly their points (``model_mae_same_points``)."""
        rows = []
        if self.points.empty:
            return pd.DataFrame()
        for (measure, method), group in self.points.groupby(["measure", "method"], sort=False):
            s = scoring.summarise(group.to_dict("records"))
            s.update(measure=measure, method=method)
            if method != "model":
                keys = group[["origin", "statistic"]].apply(tuple, axis=1)
                model = self.points[(self.points.method == "model")
                                    & self.points[["origin", "statistic"]].apply(tuple, axis=1)
                                    .isin(set(keys))]
                s["model_mae_same_points"] = scoring.summarise(model.to_dict("records"))["mae"]
            rows.append(s)
        model_all = self.points[self.points.method == "model"]
        s = scoring.summarise(model_all.to_dict("records"))
        s.update(measure="all measures (coverage only)", method="model", mae=None,
                 mean_bias=None, crps=None)
        rows.append(s)
        cols = ["measure", "method", "n", "mae", "model_mae_same_points", "mean_bias", "crps",
                "coverage_50", "coverage_90", "pit_mean"]
        return pd.DataFrame(rows).reindex(columns=cols)

    def table(self) -> pd.DataFrame:
        """The headline table: per measure, model MAE and 90% coverage beside each naive MAE."""
        summary = self.summary()
        out = []
        for measure, group in summary[summary.measure.isin(MEASURES)].groupby("measure",
                                                                            sort=False):
            model = group[group.method == "model"].iloc[0]
            row = {"measure": measure, "points": int(model["n"]), "model_mae": model["mae"],
                   "model_coverage_90": model["coverage_90"],
                   "model_coverage_50": model["coverage_50"]}
            for method in METHODS[1:]:
                g = group[group.method == method]
                row[f"{method}_mae"] = None if g.empty else g.iloc[0]["mae"]
                row[f"{method}_n"] = 0 if g.empty else int(g.iloc[0]["n"])
            for _, v in group[group.method.str.startswith("model[")].iterrows():
                row[f"{v['method']}_mae"] = v["mae"]
                row[f"{v['method']}_coverage_90"] = v["coverage_90"]
            out.append(row)
        return pd.DataFrame(out)


def plan_history(plan: Plan, indicator: str | None, through: int) -> dict[float, float]:
    if indicator is None:
        return {}
    return {float(f.year): f.canonical_value
            for f in plan.find(indicator, role="baseline") if f.year <= through}


def naive_forecasts(stat: Statistic, statistics: Statistics, plan: Plan,
                    origin: int) -> dict[str, float | None]:
    """The three naive forecasts of ``stat`` made at ``origin`` from data dated up to it."""
    indicator = PLAN_EQUIVALENT.get(stat.measure)
    history = plan_history(plan, indicator, origin)
    history.update({s.time: s.value for s in statistics.find(stat.measure, through=origin)
                    if s.qualifier not in BOUND_QUALIFIERS})
    plan_path = None
    if indicator is not None:
        bases = [f for f in plan.find(indicator, role="baseline") if f.year <= origin]
        targets = sorted((f for f in plan.find(indicator, role="target")
                          if f.year >= stat.year), key=lambda f: f.year)
        if bases and targets:
            base = max(bases, key=lambda f: f.year)
            plan_path = scoring.naive_plan_path(base.year, base.canonical_value, targets[0].year,
                                                targets[0].canonical_value, stat.time)
    return {"no_change": scoring.naive_no_change(history, origin, stat.time),
            "linear_trend": scoring.naive_linear_trend(history, origin, stat.time),
            "plan_path": plan_path}


def forecast_at_origin(plan_o: Plan, variants: list[tuple], fits: list[FitThrough],
                       end_year: int, replications: int, seed: int,
                       progress: bool) -> pd.DataFrame:
    """Annual tables of the forecast replications from the origin's base year to ``end_year``.
    ``variants`` are (spec, base parameters) pairs with their ``fits``; replication ``r`` uses
    variant ``r % len(variants)``, so several variants pool with equal weights."""
    from tqdm import tqdm

    runs, done = [], []
    origin, base_year = fits[0].origin, fits[0].base_year
    for r in tqdm(range(replications), desc=f"forecast from {origin}", disable=not progress,
                  leave=False):
        k = r % len(variants)
        (spec, base), fit = variants[k], fits[k]
        params = base.updated(fit.sample(spec, parameter_rng(seed, r), r // len(variants)))
        inputs = compile_inputs(plan_o, params, start_year=base_year, end_year=end_year)
        result = run_engine(inputs, replication_seed(seed, r))
        runs.append((inputs, result.raw, result.by_industry, result.by_park, result.by_services))
        done.append(r)
    annual = annual_table(runs, done)
    annual["variant"] = annual["replication"] % len(variants)
    return annual


def score_origin(fit: FitThrough, annual: pd.DataFrame, statistics: Statistics, plan_o: Plan,
                 labels: list[str] = ()) -> tuple[list[dict], list[dict]]:
    """Scored points (model and naive) and bound checks for the statistics after the origin.
    With several variants (``labels``), each is also scored alone as ``model[<label>]``."""
    points, bounds = [], []
    if len(labels) > 1:
        for k, label in enumerate(labels):
            sub = annual[annual["variant"] == k]
            p, _ = score_origin(fit, sub, statistics, plan_o)
            points += [dict(row, method=f"model[{label}]") for row in p
                       if row["method"] == "model"]
    for stat in statistics.items:
        if stat.year <= fit.origin:
            continue
        column, note = statistic_column(stat)
        if column is None:
            continue
        samples = annual.loc[annual.year == stat.year, column].to_numpy(float)
        common = {"origin": fit.origin, "statistic": stat.id, "measure": stat.measure,
                  "year": stat.year, "period": stat.period, "time": stat.time,
                  "horizon": stat.time - fit.origin, "observed": stat.value, "column": column,
                  "note": note, "source": f"{stat.source} ({stat.published})"}
        if stat.qualifier in BOUND_QUALIFIERS:
            finite = samples[np.isfinite(samples)]
            above = float(np.mean(finite > stat.value)) if finite.size else math.nan
            bounds.append({**common, "qualifier": stat.qualifier,
                           "share_consistent": above if stat.qualifier != "less_than"
                           else 1 - above,
                           "median": float(np.median(finite)) if finite.size else math.nan})
            continue
        q = scoring.quantiles(samples)
        points.append({**common, "method": "model", "median": q[2], "q05": q[0], "q25": q[1],
                       "q75": q[3], "q95": q[4], "pit": scoring.pit(samples, stat.value),
                       "inside_50": scoring.inside(samples, stat.value, 0.5),
                       "inside_90": scoring.inside(samples, stat.value, 0.9),
                       "crps": scoring.crps_ensemble(samples, stat.value)})
        for method, value in naive_forecasts(stat, statistics, plan_o, fit.origin).items():
            if value is None:
                continue
            points.append({**common, "method": method, "median": value, "q05": None,
                           "q25": None, "q75": None, "q95": None, "pit": math.nan,
                           "inside_50": None, "inside_90": None,
                           "crps": abs(value - stat.value)})
    return points, bounds


def fan_table(origin: int, annual: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    rows = []
    for column in columns:
        for year, values in annual.groupby("year")[column]:
            q = scoring.quantiles(values.to_numpy(float))
            if np.all(np.isnan(q)):
                continue
            rows.append({"origin": origin, "column": column, "year": int(year), "q05": q[0],
                         "q25": q[1], "median": q[2], "q75": q[3], "q95": q[4]})
    return pd.DataFrame(rows)


def default_origins(statistics: Statistics, plan: Plan) -> list[int]:
    """Every year with a statistic, except the last, from the plan's first baseline year on."""
    first = min(plan.baseline_years)
    years = sorted({s.year for s in statistics.items})
    return [y for y in years[:-1] if y >= first]


def backtest_scenario(target):
    """The target's scenario stripped of what a back-test recalibrates anyway (parameter sets,
    structural variant, as_of), so it runs whether or not fitted sets exist."""
    from pathlib import Path

    from sim.scenarios import Scenario, _resolve_extends, find_scenario, scenario_from_dict

    if isinstance(target, Scenario):
        data = dict(target.resolved)
    elif isinstance(target, dict):
        data = dict(target)
    else:
        path = find_scenario(target)
        data = (_resolve_extends(Path(path), ())[0] if Path(path).is_file() else
                {"name": f"{target}-baseline", "region": str(target)})
    data = merge_nested(data, {"parameters": "builtin",
                               "params": {"structure": {"variant": "persist"}}})
    for key in ("as_of", "sweep", "extends"):
        data.pop(key, None)
    return scenario_from_dict(data)


def backtest(scenario, origins: list[int] | None = None, *, replications: int = 300,
             bootstrap: int = 12, seed: int | None = None,
             calibration: str | list[str] | None = None, structure: str = "pooled",
             workers: int | None = None, progress: bool = True, backend: str = "processes",
             address: str | None = None, calibration_seed: int | None = None) -> BacktestResult:
    """Rolling-origin back-test of ``scenario``'s region and plan version (see module docstring).

    ``calibration`` is one calibration spec file or several (one per structural variant, pooled
    with equal weights); by default ``structure`` picks them: ``persist`` is
    ``calibration/<region>-<version>.yaml``, ``converge`` the ``-converge`` spec, ``pooled`` both.
    The scenario's levers and parameter set are not used: each origin is calibrated afresh.

    ``seed`` draws the forecasts; the refits at each origin use the calibration spec's own
    ``seed`` (their simulated moments share fixed random numbers), unless ``calibration_seed``
    replaces it. Rerunning with other values of both shows how much of a score is Monte Carlo
    noise: with ``seed`` alone the fitted parameters, and their noise, stay the same.
    """
    from sim.calibration import find_spec, load_spec
    from sim.experiments.backends import default_workers

    if structure not in ("persist", "converge", "pooled"):
        raise InputError(f"structure must be persist, converge or pooled, not '{structure}'")
    if replications < 1 or bootstrap < 0:
        raise InputError(f"replications must be >= 1 and bootstrap >= 0 (got {replications}, "
                         f"{bootstrap})")
    sc = backtest_scenario(scenario)
    plan = sc.plan
    statistics = load_statistics(plan.region, plan.file)
    if statistics is None:
        raise InputError(f"region {plan.region} has no published statistics "
                         f"(seeds/statistics/{plan.region}.yaml); nothing to back-test against")
    from sim.plans import load

    paths = [calibration] if isinstance(calibration, str) else list(calibration or [])
    if not paths:
        wanted = {"persist": [""], "converge": ["-converge"], "pooled": ["", "-converge"]}
        for suffix in wanted[structure]:
            found = find_spec(plan.region, plan.version + suffix)
            if found is None:
                raise InputError(f"no calibration spec calibration/{plan.region}-{plan.version}"
                                 f"{suffix}.yaml; give one with --calibration")
            paths.append(found)
    specs = []
    for path in paths:
        spec, source = load_spec(path)
        if calibration_seed is not None:
            spec = spec.model_copy(update={"seed": int(calibration_seed)})
        if (load(spec.region, spec.version).region, spec.version or plan.version) != (
                plan.region, plan.version):
            raise InputError(f"calibration spec is for {spec.region} {spec.version}, the "
                             f"scenario for {plan.region} {plan.version}", file=source)
        specs.append((spec, source))
    origins = sorted(set(origins)) if origins else default_origins(statistics, plan)
    later = [o for o in origins if any(s.year > o for s in statistics.items)]
    notes = [f"origin {o}: no statistic after it; skipped" for o in origins if o not in later]
    if not later:
        raise InputError(f"no published statistic of {plan.region} is dated after the origins "
                         f"{origins}: add later bulletins to {statistics.file}")
    seed = int(sc.spec.monte_carlo.seed if seed is None else seed)
    workers = workers or default_workers()
    variants = [(spec, ModelParams().updated(spec.parameters)) for spec, _ in specs]
    labels = [spec.name for spec, _ in specs]
    end_year = max(s.year for s in statistics.items)
    points, bounds, fans, fits = [], [], [], []
    columns = sorted({c for c in (statistic_column(s)[0] for s in statistics.items) if c})
    for origin in later:
        plan_o = plan.as_of(origin)
        try:
            default_base_year(plan_o)
        except InputError:
            notes.append(f"origin {origin}: the plan has no baseline SEI output at or before "
                         "it, so there is no state to start from; skipped")
            continue
        origin_fits = [calibrate_through(spec, source, origin, bootstrap, workers, progress,
                                         backend=backend, address=address)
                       for spec, source in specs]
        fits += origin_fits
        annual = forecast_at_origin(plan_o, variants, origin_fits, end_year, replications, seed,
                                    progress)
        p, b = score_origin(origin_fits[0], annual, statistics, plan_o, labels)
        points += p
        bounds += b
        fans.append(fan_table(origin, annual, columns))
    if not fits:
        raise InputError(f"no usable origin among {later}: " + "; ".join(notes))
    return BacktestResult(plan.region, plan.version, sorted({f.origin for f in fits}),
                          pd.DataFrame(points), pd.DataFrame(bounds),
                          pd.concat(fans, ignore_index=True), fits, statistics, replications,
                          seed, ", ".join(source for _, source in specs), notes, bootstrap,
                          tuple(spec.seed for spec, _ in specs), calibration_seed)

"""The public entry points, importable as ``sim.run``, ``sim.load_scenario``, ``sim.monte_carlo``...

Thin wrappers that accept what users have at hand (a region name, a plan, a scenario) and hand the
work to the layer that owns it.
"""

from __future__ import annotations

import numpy as np

from sim.engines import run_engine
from sim.errors import InputError
from sim.model.inputs import ModelInputs, compile_inputs
from sim.model.levers import Levers
from sim.model.params import ModelParams
from sim.plans import Plan, load


def as_inputs(target, *, version: str | None = None, params: ModelParams | dict | None = None,
              levers: Levers | dict | None = None, start_year: int | None = None,
              end_year: int | None = None) -> ModelInputs:
    """Model inputs from a region name, plan-file path, :class:`Plan`, scenario or inputs.

    For a plan, parameters start from its ``default`` parameter set (the fitted set of that plan
    version when one exists, else the built-in defaults); ``params`` as a dict overrides keys of
    it, a :class:`ModelParams` replaces it (``ModelParams()`` = built-in defaults).
    """
    from sim.parameter_sets import load_parameter_set

    if isinstance(target, ModelInputs):
        return target
    if hasattr(target, "model_inputs"):  # a Scenario
        return target.model_inputs()
    plan = target if isinstance(target, Plan) else load(target, version)
    if not isinstance(params, ModelParams):
        base = load_parameter_set("default", plan).params
        params = base.updated(params) if params else base
    if isinstance(levers, dict):
        levers = Levers.model_validate(levers)
    return compile_inputs(plan, params, levers, start_year=start_year, end_year=end_year)


def mesa_model(target, seed=0, **options):
    """A Mesa model to step and inspect in a notebook (``model.step()``, ``model.agents_by_type``,
    ``model.datacollector``). ``target`` and ``options`` as for :func:`run`.

    For a scenario: a :class:`sim.SEIRegion` (one step = one year, ready for ``mesa.batch_run``),
    replication ``options.get("replication", 0)`` of the Monte Carlo with ``seed``, as
    :func:`run` runs it; other ``options`` are its keyword arguments (levers). For a region, plan
    or inputs: the engine's :class:`~sim.engines.mesa_engine.RegionModel` (one step = one
    sub-year step) on the fixed parameters, as before."""
    from sim.connectors.replication import scenario_target

    scenario = scenario_target(target)
    if scenario is not None:
        from sim.connectors.mesa_batch import SEIRegion

        return SEIRegion(scenario, seed=seed, **options)
    from sim.engines.mesa_engine import RegionModel

    return RegionModel(as_inputs(target, **options), seed)


def run(target, seed=0, engine: str = "numba", *, record_firms: bool = False, **options):
    """One simulation run.

    ``target`` is a region name (``"fuling"``), a path to a plan file, a :class:`Plan`, compiled
    :class:`ModelInputs`, or a scenario (a :func:`sim.load_scenario` object, a scenario name such
    as ``"fuling-baseline"``, or a scenario ``.yaml`` path). Returns a result whose ``.annual`` is a
    tidy table, one row per year, starting with the base year (the plan's baseline).

    A scenario run with ``seed=s`` is replication 0 of ``sim.monte_carlo(scenario, seed=s)``
    (:func:`replicate`): its uncertain parameters are drawn as the Monte Carlo draws them, so a
    loop over seeds samples the same distribution as a Monte Carlo run. A region, plan or inputs
    run uses the fixed parameters it is given (no draws); ``options`` (``version``, ``params``,
    ``levers``, ``start_year``, ``end_year``) apply to these only (change a scenario with
    ``scenario.with_overrides``).
    """
    from sim.connectors.replication import replicate as _replicate, scenario_target
    from sim.experiments.seeding import check_seed

    scenario = scenario_target(target)
    if scenario is not None:
        if options:
            raise InputError(f"{', '.join(sorted(options))} apply to plans, not to a scenario: "
                             "use scenario.with_overrides({...}) or a plan")
        if isinstance(seed, np.random.SeedSequence):
            raise InputError("a scenario run takes a whole-number seed (the Monte Carlo seed)")
        return _replicate(scenario, 0, seed, engine, record_firms)
    if not isinstance(seed, np.random.SeedSequence):
        seed = check_seed(seed)
    return run_engine(as_inputs(target, **options), seed, engine, record_firms)


# Scenarios and Monte Carlo ------------------------------------------------------------------------
def load_scenario(path):
    """Read and validate a scenario YAML file (``extends`` resolved). A bare name such as
    ``"fuling-baseline"`` finds ``scenarios/fuling-baseline.yaml`` in the working directory or
    the scenario library shipped beside the package."""
    from sim.scenarios import find_scenario, load_scenario as _load

    return _load(find_scenario(path))


def as_scenario(target):
    """A Scenario from a Scenario, a scenario YAML path, a mapping, or a region name (its
    baseline: the plan's default version with ``parameters: default``, i.e. the fitted parameter
    set when one exists)."""
    from sim.scenarios import Scenario, load_scenario as _load, scenario_from_dict

    if isinstance(target, Scenario):
        return target
    if isinstance(target, dict):
        return scenario_from_dict(target)
    from sim.scenarios import find_scenario

    text = str(target)
    if text.endswith((".yaml", ".yml")):
        return _load(text)
    found = find_scenario(text)
    if found != text:
        return _load(found)
    return scenario_from_dict({"name": f"{text}-baseline", "region": text})


def _run_dir(out, name: str):
    import datetime as _dt
    import re
    import tempfile
    from pathlib import Path

    if out is not None:
        return Path(out)
    if name is None:
        return Path(tempfile.mkdtemp(prefix="seisim-"))
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}-{stamp}"


def _experiment(scenarios: dict, replications, seed, engine, chunk_size=None):
    from sim.experiments.driver import Experiment

    first = next(iter(scenarios.values())).spec.monte_carlo
    from sim.scenarios import MAX_REPLICATIONS

    if replications is not None and not 1 <= int(replications) <= MAX_REPLICATIONS:
        raise InputError(f"replications must be between 1 and {MAX_REPLICATIONS:,} (got "
                         f"{replications})")
    from sim.experiments.seeding import check_seed

    return Experiment(scenarios, int(first.replications if replications is None
                                     else replications),
                      check_seed(first.seed if seed is None else seed), engine or first.engine,
                      int(chunk_size or first.chunk_size))


def monte_carlo(scenario, replications: int | None = None, seed: int | None = None, *,
                backend: str = "processes", workers: int | None = None,
                address: str | None = None, out=None, resume: bool = False,
                progress: bool = True, engine: str | None = None, chunk_size: int | None = None):
    """Run a scenario's Monte Carlo; returns a :class:`~sim.reporting.results.MonteCarloResult`.

    ``replications``, ``seed`` and ``chunk_size`` default to the scenario's ``monte_carlo``
    settings. Results stream to ``out`` (a run directory; a new temporary one if None) chunk by
    chunk, so an interrupted run continues with ``resume=True``. ``backend`` is ``"serial"``, ``"processes"`` (default) or
    ``"dask"`` (``address`` of a scheduler, or a local cluster of ``workers``); all give identical
    results for the same seed.
    """
    from sim.experiments.driver import run_experiment
    from sim.reporting.results import MonteCarloResult

    sc = as_scenario(scenario)
    experiment = _experiment({"": sc}, replications, seed, engine, chunk_size)
    run_dir = _run_dir(out, None)
    run_experiment(experiment, run_dir, backend=backend, workers=workers, address=address,
                   resume=resume, progress=progress)
    return MonteCarloResult(run_dir, "", sc)


def compare(scenarios, replications: int | None = None, seed: int | None = None, *,
            backend: str = "processes", workers: int | None = None, address: str | None = None,
            out=None, resume: bool = False, progress: bool = True, engine: str | None = None,
            chunk_size: int | None = None):
    """Run several scenarios on common random numbers (same seed and replications); returns a
    :class:`~sim.reporting.results.ComparisonResult` with paired differences."""
    from sim.experiments.driver import run_experiment
    from sim.reporting.results import ComparisonResult

    items = [as_scenario(s) for s in scenarios]
    labelled: dict = {}
    for sc in items:
        label = sc.name
        k = 2
        while label in labelled:
            label, k = f"{sc.name}#{k}", k + 1
        labelled[label] = sc
    experiment = _experiment(labelled, replications, seed, engine, chunk_size)
    run_dir = _run_dir(out, None)
    run_experiment(experiment, run_dir, backend=backend, workers=workers, address=address,
                   resume=resume, progress=progress)
    return ComparisonResult(run_dir, labelled)


def sweep(scenario, replications: int | None = None, seed: int | None = None, **options):
    """Run every point of a scenario's ``sweep:`` grid on common random numbers; returns a
    :class:`~sim.reporting.sweep.SweepResult` (P(met) against the lever, differences from the
    status quo: the scenario's own setting, run as an extra point when it is not on the grid).
    ``options`` as for :func:`compare`."""
    from sim.analysis.sweep import sweep_design
    from sim.reporting.sweep import SweepResult

    sc = as_scenario(scenario)
    if not sc.spec.sweep:
        raise InputError("the scenario has no 'sweep:' grid", file=sc.source, key="sweep")
    labelled, grid, status_quo = sweep_design(sc)
    comparison = compare(list(labelled.values()), replications, seed, **options)
    return SweepResult(comparison.store.path, labelled, grid, status_quo)


# Policy analysis ----------------------------------------------------------------------------------
def _target_id(sc, target):
    """Default target: the scenario plan's SEI share target (the headline question)."""
    if target:
        return target
    shares = [f.id for f in sc.plan.targets if f.indicator == "sei_output_share"]
    return shares[-1] if shares else sc.plan.targets[0].id


def sensitivity(scenario, target: str | None = None, factors=None, *, method: str = "sobol",
                samples: int = 64, replications: int = 8, seed: int | None = None, out=None,
                backend: str = "processes", workers: int | None = None,
                address: str | None = None):
    """Sobol (or Morris) indices of the levers/uncertainties on a target's value and P(met).

    ``factors`` maps dotted keys to (low, high); default: the planner's levers around the
    scenario's setting plus its declared uncertainties. Writes the design and indices to ``out``.
    Returns a :class:`~sim.analysis.sensitivity.SensitivityResult` (``.summary()``, ``.plot()``,
    ``.warnings``).
    """
    from sim.analysis.factors import parse_factors
    from sim.analysis.sensitivity import sensitivity as _sensitivity

    sc = as_scenario(scenario)
    return _sensitivity(sc, parse_factors(factors, sc), _target_id(sc, target),
                        _run_dir(out, None), method=method, samples=samples,
                        replications=replications, seed=seed, backend=backend, workers=workers,
                        address=address)


def discover(scenario, target: str | None = None, factors=None, *, samples: int = 400,
             mode: str = "missed", density: float = 0.8, seed: int | None = None, out=None,
             backend: str = "processes", workers: int | None = None,
             address: str | None = None):
    """PRIM scenario discovery: boxes of factor space where ``target`` is missed (or met).
    Returns a :class:`~sim.analysis.discovery.DiscoveryResult` (``.summary()``, ``.plot()``,
    ``.warnings``)."""
    from sim.analysis.discovery import discover as _discover
    from sim.analysis.factors import parse_factors

    sc = as_scenario(scenario)
    return _discover(sc, parse_factors(factors, sc), _target_id(sc, target), _run_dir(out, None),
                     samples=samples, mode=mode, density=density, seed=seed, backend=backend,
                     workers=workers, address=address)


def solve(scenario, target: str | None = None, lever: str = "levers.fund.scale",
          prob: float = 0.8, bounds: tuple[float, float] = (0.5, 16.0), *,
          replications: int = 200, seed: int | None = None, out=None, grid: int = 6,
          bisections: int = 5, backend: str = "processes", workers: int | None = None,
          address: str | None = None):
    """Smallest ``lever`` value with P(target met) >= ``prob`` within ``bounds`` (or an honest
    "not reachable")."""
    from sim.analysis.solve import solve as _solve

    sc = as_scenario(scenario)
    if not lever.startswith(("levers.", "params.")):
        lever = "levers." + lever
    return _solve(sc, _target_id(sc, target), lever, prob, bounds, _run_dir(out, None),
                  replications=replications, seed=seed, grid=grid, bisections=bisections,
                  backend=backend, workers=workers, address=address)


def backtest(scenario, origins=None, *, replications: int = 300, bootstrap: int = 12,
             seed: int | None = None, calibration=None, structure: str = "pooled",
             workers: int | None = None, out=None, progress: bool = True,
             backend: str = "processes", address: str | None = None,
             calibration_seed: int | None = None):
    """Rolling-origin back-test of a scenario's region and plan version against its published
    statistics, pooling the structural variants by default (``structure``; ``seed`` draws the
    forecasts, ``calibration_seed`` the refits: see :func:`sim.analysis.backtest.backtest`);
    returns a :class:`~sim.analysis.backtest.BacktestResult` (``.table()``,
    ``.summary()``, ``.points``). With ``out`` the tables, charts and ``report.md`` are written
    there (a new directory)."""
    from sim.analysis.backtest import backtest as _backtest
    from sim.reporting.backtest_report import write_backtest

    result = _backtest(scenario, origins, replications=replications, bootstrap=bootstrap,
                       seed=seed, calibration=calibration, structure=structure, workers=workers,
                       progress=progress, backend=backend, address=address,
                       calibration_seed=calibration_seed)
    if out is not None:
        write_backtest(result, out)
    return result


# Connectors: the model as other tools run it -----------------------------------------------------
def replicate(scenario, replication: int = 0, seed: int | None = None, engine: str = "numba", *,
              record_firms: bool = False, params: dict | None = None):
    """One replication exactly as inside a Monte Carlo run: replication ``replication`` of
    ``sim.monte_carlo(scenario, seed=seed)``, parameter draws included, so its ``.annual`` equals
    that replication's rows of the Monte Carlo's ``annual`` table. ``scenario`` as for
    :func:`monte_carlo`; ``seed`` defaults to the scenario's ``monte_carlo.seed``. A loop over
    ``replication`` with one seed reproduces the Monte Carlo run; ``sim.run(scenario, seed=s)`` is
    ``replicate(scenario, 0, s)``. ``params`` (dotted key -> value, e.g. ``{"funds.leverage":
    3.0}``) fixes parameters after the draws, every other draw unchanged (what
    :func:`ema_model`'s exploratory mode does)."""
    from sim.connectors.replication import replicate as _replicate

    sc = as_scenario(scenario)
    return _replicate(sc, replication, sc.spec.monte_carlo.seed if seed is None else seed, engine,
                      record_firms, params)


def ema_model(scenario, replications: int | None = None, seed: int | None = None, *,
              engine: str = "numba", name: str | None = None):
    """A ready EMA Workbench ``Model`` of a scenario: outcomes are each simulated target's value
    (``<target>``) and, for targets with a level, a 0/1 flag (``<target>_met``); levers are the
    planner's levers around the scenario's setting; uncertainties are the replication index
    (0 .. ``replications``-1, default the scenario's ``monte_carlo.replications``) and the
    scenario's uncertain parameters; ``seed`` (default the scenario's) is a constant.

    Two modes. Monte Carlo: design only the replication index,
    ``perform_experiments(model, scenarios=sim.ema_scenarios(n))``; experiment ``r`` is replication
    ``r`` of ``sim.monte_carlo(scenario, seed=seed)`` and the share of ``<target>_met`` equals the
    Monte Carlo's P(met) exactly. Exploratory: let EMA Workbench sample
    (``scenarios=500``); the uncertain parameters then take the sampled values instead of their
    draws (the rest of the replication is still drawn from the sampled index), so PRIM or feature
    scoring can name the parameters behind a missed target. Needs the ``discovery`` extra."""
    from sim.connectors.ema import ema_model as _ema_model
    from sim.experiments.seeding import check_seed

    sc = as_scenario(scenario)
    n = sc.spec.monte_carlo.replications if replications is None else replications
    from sim.scenarios import MAX_REPLICATIONS

    if isinstance(n, bool) or not float(n).is_integer() or not 1 <= int(n) <= MAX_REPLICATIONS:
        raise InputError(f"replications must be between 1 and {MAX_REPLICATIONS:,} (got {n})")
    return _ema_model(sc, int(n), check_seed(sc.spec.monte_carlo.seed if seed is None else seed),
                      engine, name)


def ema_scenarios(replications: int, start: int = 0):
    """EMA Workbench ``Scenario`` objects setting only the replication index (``start`` ..
    ``start+replications-1``): designed inputs under which :func:`ema_model` reproduces the Monte
    Carlo replication by replication."""
    from sim.connectors.ema import ema_scenarios as _ema_scenarios

    return _ema_scenarios(replications, start)

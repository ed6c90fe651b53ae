"""The unit of work: a chunk of replications, run and reduced by a worker.

Every experiment (a Monte Carlo run, a comparison, a sweep, and the designs of sensitivity
analysis, scenario discovery and the required-lever search) is split into chunks of this one kind.
A chunk holds one or more *units*: a design point of one labelled scenario (dotted-key overrides,
none for a plain Monte Carlo run) and a contiguous block of its replications. It is run wherever
the backend puts it (this process, a process pool, a Dask worker); it writes its own results into
the run directory through :class:`~sim.experiments.store.RunStore` and returns only a small
status. A replication that raises is recorded with its seed and error, never dropped silently.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass

import pandas as pd

from sim.engines import run_engine
from sim.engines.state import annual_table
from sim.experiments.seeding import parameter_rng, replication_seed
from sim.experiments.store import RunStore
from sim.outcomes import TargetSpec, replication_outcomes
from sim.scenarios import Scenario

#: Dotted-key overrides of a design point, as a hashable, picklable tuple.
Overrides = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Unit:
    """Replications ``first .. first + count - 1`` of design point ``point``."""

    point: int
    overrides: Overrides
    first: int
    count: int

    @property
    def replications(self) -> range:
        return range(self.first, self.first + self.count)


@dataclass(frozen=True)
class ChunkTask:
    scenario: Scenario
    specs: tuple[TargetSpec, ...]
    seed: int
    engine: str
    chunk: int
    units: tuple[Unit, ...]
    run_dir: str
    label: str = ""        # which scenario of a comparison or sweep (empty for a single scenario)
    design: bool = False   # results carry a ``point`` column (a designed experiment)
    keep_annual: bool = True  # store the yearly rows, not only the per-target outcomes

    @property
    def size(self) -> int:
        return sum(u.count for u in self.units)


@dataclass(frozen=True)
class ChunkStatus:
    chunk: int
    label: str
    done: int
    failures: tuple[dict, ...]
    seconds: float


def run_replications(scenario: Scenario, replications, seed: int, engine: str = "numba"):
    """Annual rows (with a ``replication`` column) and failures for the given replications.

    Inputs are compiled once per parameter draw: once for all replications when the scenario's
    parameters do not vary, else once per replication from its own parameter stream. The
    replications then run as one batch (on numba, one compiled call; each replication still with
    its own random streams, so results do not depend on how replications are grouped)."""
    from sim.engines import run_batch

    batch, failures = [], []
    fixed_inputs = None
    for r in replications:
        try:
            if scenario.varies:
                inputs = monte_carlo_inputs(scenario, seed, r)
            else:
                fixed_inputs = fixed_inputs or monte_carlo_inputs(scenario, seed, r)
                inputs = fixed_inputs
            batch.append((r, inputs))
        except Exception as exc:  # noqa: BLE001 - reported with the seed, never swallowed
            failures.append(failure_record(r, seed, exc))
    runs, done = [], []
    if batch:
        try:
            results = run_batch([inputs for _, inputs in batch],
                                [replication_seed(seed, r) for r, _ in batch], engine,
                                errors="return", keep_firms=False)
        except Exception:  # noqa: BLE001 - find the replication that raised, one by one
            results = [_run_alone(inputs, seed, r, engine) for r, inputs in batch]
        for (r, inputs), result in zip(batch, results):
            if isinstance(result, Exception):
                failures.append(failure_record(r, seed, result))
                continue
            runs.append((inputs, result.raw, result.by_industry, result.by_park,
                         result.by_services))
            done.append(r)
    failures.sort(key=lambda f: f["replication"])
    annual = annual_table(runs, done) if runs else pd.DataFrame()
    return annual, failures


def _run_alone(inputs, seed: int, replication: int, engine: str):
    """One replication's result, or the exception it raised."""
    try:
        return run_engine(inputs, replication_seed(seed, replication), engine)
    except Exception as exc:  # noqa: BLE001 - kept as this replication's failure
        return exc


def monte_carlo_inputs(scenario: Scenario, seed: int, replication: int):
    """The model inputs of replication ``replication`` of a Monte Carlo run with ``seed``: the
    scenario's parameters drawn from that replication's own parameter stream, or the fixed inputs
    when nothing varies. Every driver and connector that runs a replication uses this."""
    if scenario.varies:
        return scenario.model_inputs(parameter_rng(seed, replication))
    return scenario.model_inputs()


def failure_record(replication: int, seed: int, exc: BaseException, **where) -> dict:
    """What a failed replication leaves on record: enough to rerun it alone."""
    return {**where, "replication": int(replication), "seed": int(seed),
            "spawn_key": [int(replication)], "error": f"{type(exc).__name__}: {exc}",
            "traceback": "".join(traceback.format_exception(exc, limit=5))}


def run_unit(task: ChunkTask, unit: Unit):
    """Annual rows, outcomes and failures of one unit (``point`` columns added in a design)."""
    where = {"point": unit.point} if task.design else {}
    try:
        variant = (task.scenario.with_overrides(dict(unit.overrides)) if unit.overrides
                   else task.scenario)
    except Exception as exc:  # noqa: BLE001 - a point that cannot be built fails all its runs
        return pd.DataFrame(), None, [failure_record(r, task.seed, exc, **where)
                                      for r in unit.replications]
    annual, failures = run_replications(variant, unit.replications, task.seed, task.engine)
    for f in failures:
        f.update(where)
    outcomes = replication_outcomes(annual, list(task.specs)) if len(annual) else None
    if task.design:
        if outcomes is not None:
            outcomes.insert(0, "point", unit.point)
        if len(annual):
            annual.insert(0, "point", unit.point)
    return annual, outcomes, failures


def run_chunk(task: ChunkTask) -> ChunkStatus:
    """Run one chunk and store it; the function every backend calls."""
    start = time.perf_counter()
    annuals, outcomes, failures = [], [], []
    for unit in task.units:
        annual, out, fails = run_unit(task, unit)
        if len(annual) and task.keep_annual:
            annuals.append(annual)
        if out is not None:
            outcomes.append(out)
        failures += fails
    annual = pd.concat(annuals, ignore_index=True) if annuals else pd.DataFrame()
    outcome_table = pd.concat(outcomes, ignore_index=True) if outcomes else None
    done = task.size - len(failures)
    RunStore(task.run_dir).write_chunk(task.label, task.chunk, annual, outcome_table, failures,
                                       replications=done)
    return ChunkStatus(task.chunk, task.label, done, tuple(failures),
                       time.perf_counter() - start)

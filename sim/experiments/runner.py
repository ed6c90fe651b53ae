"""The unit of work: a chunk of replications of one scenario, run and reduced by a worker.

A chunk is run wherever the backend puts it (this process, a process pool, a Dask worker); it writes
its own results into the run directory (annual rows and per-target outcomes as Parquet, written under
a temporary name and renamed when complete) and returns only a small status. A replication that
raises is recorded with its seed and error, never dropped silently.
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


@dataclass(frozen=True)
class ChunkTask:
    scenario: Scenario
    specs: tuple[TargetSpec, ...]
    seed: int
    engine: str
    chunk: int
    replications: tuple[int, ...]
    run_dir: str
    label: str = ""  # which scenario of a comparison or sweep (empty for a single scenario)


@dataclass(frozen=True)
class ChunkStatus:
    chunk: int
    label: str
    done: int
    failures: tuple[dict, ...]
    seconds: float


def run_replications(scenario: Scenario, replications, seed: int, engine: str = "numba"):
    """Annual rows (with a ``replication`` column) and failures for the given replications."""
    runs, done, failures = [], [], []
    fixed_inputs = None
    varies = scenario.varies
    for r in replications:
        try:
            if varies:
                inputs = scenario.model_inputs(parameter_rng(seed, r))
            else:
                fixed_inputs = fixed_inputs or scenario.model_inputs()
                inputs = fixed_inputs
            result = run_engine(inputs, replication_seed(seed, r), engine)
            runs.append((inputs, result.raw, result.by_industry, result.by_park,
                         result.by_services))
            done.append(r)
        except Exception as exc:  # noqa: BLE001 - reported with the seed, never swallowed
            failures.append({"replication": int(r), "seed": int(seed), "spawn_key": [int(r)],
                             "error": f"{type(exc).__name__}: {exc}",
                             "traceback": traceback.format_exc(limit=5)})
    annual = annual_table(runs, done) if runs else pd.DataFrame()
    return annual, failures


def run_chunk(task: ChunkTask) -> ChunkStatus:
    """Run one chunk and store it; the function every backend calls."""
    start = time.perf_counter()
    annual, failures = run_replications(task.scenario, task.replications, task.seed, task.engine)
    store = RunStore(task.run_dir)
    outcomes = replication_outcomes(annual, list(task.specs)) if len(annual) else None
    store.write_chunk(task.label, task.chunk, annual, outcomes, failures)
    return ChunkStatus(task.chunk, task.label, len(task.replications) - len(failures),
                       tuple(failures), time.perf_counter() - start)

"""Designed experiments: many variants of one scenario, each run for a few replications.

Sensitivity analysis, scenario discovery and the required-lever search all evaluate a scenario at
many points of lever/parameter space. A design is a table of points (dotted-key overrides such as
``levers.fund.scale``); each point runs ``replications`` replications and is reduced at once to one
value per target and replication, stored as Parquet chunks in a run directory like ``seisim mc``.

Seeds: with ``crn=True`` every point uses replications 0..R-1 of the experiment seed (common random
numbers: differences between points are not masked by noise, as sensitivity and root-finding need);
with ``crn=False`` point i uses replications i*R..(i+1)*R-1 (independent draws, as scenario
discovery needs to integrate over randomness).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import InputError
from sim.experiments.backends import execute
from sim.experiments.montecarlo import warm_up
from sim.experiments.runner import run_replications
from sim.experiments.seeding import check_seed
from sim.experiments.store import (RunStore, atomic_write_parquet, atomic_write_text,
                                  claim_directory)
from sim.fingerprints import fingerprint
from sim.outcomes import TargetSpec, replication_outcomes, target_specs
from sim.scenarios import Scenario


@dataclass(frozen=True)
class DesignTask:
    scenario: Scenario
    points: tuple[tuple[int, tuple[tuple[str, float], ...]], ...]   # (point id, overrides)
    replications: tuple[int, ...]
    crn: bool
    seed: int
    engine: str
    specs: tuple[TargetSpec, ...]
    chunk: int
    run_dir: str


def evaluate_point(scenario: Scenario, overrides: dict, replications, seed: int, engine: str,
                   specs) -> list[dict]:
    """Target-year value of every evaluable target for each replication at one design point
    (the same replication runner and outcome extraction as Monte Carlo)."""
    variant = scenario.with_overrides(overrides) if overrides else scenario
    annual, failures = run_replications(variant, replications, seed, engine)
    if failures:
        raise RuntimeError(f"replication {failures[0]['replication']}: {failures[0]['error']}")
    outcomes = replication_outcomes(annual, list(specs))
    return [{"replication": int(r.replication), "target": r.target, "value": float(r.value)}
            for r in outcomes.itertuples()]


def run_design_chunk(task: DesignTask) -> dict:
    start = time.perf_counter()
    rows, failures = [], []
    for point, overrides in task.points:
        reps = (task.replications if task.crn else
                tuple(point * len(task.replications) + r for r in task.replications))
        try:
            for row in evaluate_point(task.scenario, dict(overrides), reps, task.seed,
                                      task.engine, task.specs):
                rows.append({"point": point, **row})
        except Exception as exc:  # noqa: BLE001 - recorded with the point, never dropped
            failures.append({"point": point, "overrides": dict(overrides), "seed": task.seed,
                             "error": f"{type(exc).__name__}: {exc}"})
    store = Path(task.run_dir)
    name = f"chunk-{task.chunk:05d}"
    if rows:
        atomic_write_parquet(store / "design" / f"{name}.parquet", pd.DataFrame(rows))
    if failures:
        atomic_write_text(store / "design-failures" / f"{name}.json", json.dumps(failures))
    atomic_write_text(store / "design-done" / f"{name}.json", json.dumps({"rows": len(rows)}))
    return {"chunk": task.chunk, "failures": failures, "seconds": time.perf_counter() - start}


def run_design(scenario: Scenario, points: pd.DataFrame, run_dir: str | Path, *,
               replications: int = 8, crn: bool = True, seed: int | None = None,
               targets: list[str] | None = None, backend: str = "processes",
               workers: int | None = None, address: str | None = None,
               points_per_chunk: int | None = None) -> pd.DataFrame:
    """Evaluate every row of ``points`` (columns = dotted override keys); returns tidy rows
    (point, replication, target, value). Finished chunks are kept on disk; a rerun into the same
    directory computes only missing chunks."""
    seed = check_seed(scenario.spec.monte_carlo.seed if seed is None else seed)
    inputs = scenario.model_inputs()
    specs = [s for s in target_specs(scenario.plan, inputs.baseline, inputs.end_year,
                                     select=targets or "all",
                                     share_definition=scenario.spec.share_definition,
                                     source_file=scenario.source) if s.evaluable]
    if not specs:
        raise InputError("no evaluable target selected", file=scenario.source, key="targets")
    for key in points.columns:  # validate every override key once, before running
        scenario.with_overrides({key: float(points[key].iloc[0])})
    engine = scenario.spec.monte_carlo.engine
    per_chunk = points_per_chunk or max(1, int(np.ceil(len(points) / 40)))
    # Chunks are reused only by the same design: another lever, scenario or seed is refused.
    run_dir = claim_directory(Path(run_dir).resolve(), "design", {
        "scenario": scenario.resolved, "columns": list(points.columns),
        "points": fingerprint(points.to_dict("list")), "replications": replications,
        "crn": crn, "seed": seed, "engine": engine, "targets": [s.id for s in specs],
        "points_per_chunk": per_chunk})
    store = RunStore(run_dir)
    store.lock()
    try:
        points.to_csv(run_dir / "design_points.csv", index_label="point")
        done = {int(p.stem.split("-")[1]) for p in (run_dir / "design-done").glob("chunk-*.json")}
        tasks = []
        for k, start in enumerate(range(0, len(points), per_chunk)):
            if k in done:
                continue
            block = points.iloc[start:start + per_chunk]
            tasks.append(DesignTask(
                scenario, tuple((int(i), tuple((c, float(v)) for c, v in row.items()))
                                for i, row in block.iterrows()),
                tuple(range(replications)), crn, seed, engine, tuple(specs), k, str(run_dir)))
        if tasks:
            warm_up(engine)
        failures = []
        for status in execute(tasks, backend, workers, address, func=run_design_chunk):
            failures += status["failures"]
    finally:
        store.unlock()
    files = sorted((run_dir / "design").glob("chunk-*.parquet"))
    out = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else \
        pd.DataFrame(columns=["point", "replication", "target", "value"])
    all_failures = []
    for f in sorted((run_dir / "design-failures").glob("chunk-*.json")):
        all_failures += json.loads(f.read_text())
    if all_failures:
        import sys

        print(f"seisim: warning: {len(all_failures)} design point(s) failed; see "
              f"{run_dir / 'design-failures'}", file=sys.stderr)
    out.attrs["specs"] = specs
    out.attrs["failures"] = all_failures
    return out

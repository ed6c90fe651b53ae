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

from pathlib import Path

import numpy as np
import pandas as pd

from sim.csvfiles import CSV_ENCODING
from sim.experiments.driver import Experiment, Point, run_experiment
from sim.experiments.seeding import check_seed
from sim.experiments.store import RunStore, claim_directory
from sim.fingerprints import fingerprint
from sim.scenarios import Scenario

#: Chunks a design is split into at most (so a long design shows progress and resumes finely).
MAX_DESIGN_CHUNKS = 40
#: Replications of one design point per chunk when a point runs many (as the required-lever
#: search does): the point's replications are then spread over several chunks and workers.
DESIGN_CHUNK_REPLICATIONS = 100


def design_points(points: pd.DataFrame, replications: int, crn: bool) -> tuple[Point, ...]:
    """One :class:`Point` per row: its overrides and, without common random numbers, its own
    block of replications (point i runs replications i*R .. (i+1)*R - 1)."""
    return tuple(Point(int(i), tuple((str(c), float(v)) for c, v in row.items()),
                       0 if crn else int(i) * replications)
                 for i, row in points.iterrows())


def run_design(scenario: Scenario, points: pd.DataFrame, run_dir: str | Path, *,
               replications: int = 8, crn: bool = True, seed: int | None = None,
               targets: list[str] | None = None, backend: str = "processes",
               workers: int | None = None, address: str | None = None,
               points_per_chunk: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Evaluate every row of ``points`` (columns = dotted override keys); returns tidy rows
    (point, replication, target, value). The experiment runs through the same driver as a Monte
    Carlo run, into ``run_dir/replications``: in parallel on any backend, and a rerun of the same
    design into the same directory computes only the missing chunks."""
    seed = check_seed(scenario.spec.monte_carlo.seed if seed is None else seed)
    if len(points):  # every override key, and a model built at the first point, before running
        first = {key: float(points[key].iloc[0]) for key in points.columns}
        scenario.with_overrides(first).model_inputs()
    engine = scenario.spec.monte_carlo.engine
    if points_per_chunk:
        chunk_size = replications * points_per_chunk
    elif replications >= DESIGN_CHUNK_REPLICATIONS:
        chunk_size = DESIGN_CHUNK_REPLICATIONS
    else:
        chunk_size = replications * max(1, int(np.ceil(len(points) / MAX_DESIGN_CHUNKS)))
    experiment = Experiment({"": scenario}, replications, seed, engine, chunk_size,
                            points=design_points(points, replications, crn), keep_annual=False,
                            targets=list(targets) if targets else "all")
    specs = experiment.specs()[""]
    # The directory is reused only by the same design: another lever, scenario or seed is refused.
    run_dir = claim_directory(Path(run_dir).resolve(), "design", {
        "scenario": scenario.resolved, "columns": list(points.columns),
        "points": fingerprint(points.to_dict("list")), "replications": replications,
        "crn": crn, "seed": seed, "engine": engine, "targets": [s.id for s in specs],
        "chunk_size": chunk_size})
    points.to_csv(run_dir / "design_points.csv", index_label="point", encoding=CSV_ENCODING)
    store_dir = run_dir / "replications"
    run_experiment(experiment, store_dir, backend=backend, workers=workers, address=address,
                   resume=RunStore(store_dir).exists(), progress=progress)
    store = RunStore(store_dir)
    outcomes = store.read_outcomes("")
    columns = ["point", "replication", "target", "value"]
    out = (outcomes[columns].sort_values(["point", "target", "replication"], kind="stable")
           .reset_index(drop=True) if len(outcomes) else pd.DataFrame(columns=columns))
    failures = store.failures("")
    out.attrs["specs"] = specs
    out.attrs["failures"] = failures
    return out

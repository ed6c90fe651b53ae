"""The experiment driver: validate, plan chunks, run them on a backend, keep the manifest.

An experiment is a set of labelled scenarios (a comparison or a sweep shares one seed, hence common
random numbers), each run at one or more design points (dotted-key overrides; a Monte Carlo run has
one point, the scenario as written) for N replications each, all written to one run directory.
Monte Carlo, ``compare`` and ``sweep`` build one point per label; sensitivity analysis, scenario
discovery and the required-lever search build their designs (:mod:`sim.experiments.design`). The
same :func:`run_experiment` validates, locks, plans the missing chunks, runs them on the chosen
backend and stores them, so every kind of experiment runs in parallel, on a cluster, and resumes.
Everything that can be wrong with the input is checked before the directory is created, so a bad
scenario leaves nothing behind.
"""

from __future__ import annotations

import datetime as _dt
import platform
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sim._version import __version__
from sim.errors import InputError
from sim.experiments.backends import check_backend, execute, start_workers
from sim.experiments.runner import ChunkTask, Overrides, Unit, run_replications
from sim.experiments.store import DEFAULT_LABEL, RunStore
from sim.fingerprints import fingerprint
from sim.outcomes import TargetSpec, target_specs
from sim.scenarios import Scenario


@dataclass(frozen=True)
class Point:
    """A design point: overrides of the scenario and the replication its first run uses (every
    point of a common-random-numbers design starts at 0; independent points at disjoint
    offsets)."""

    id: int
    overrides: Overrides = ()
    first: int = 0


@dataclass
class Experiment:
    """What to run: labelled scenarios sharing a seed, each at every design point."""

    scenarios: dict[str, Scenario]
    replications: int           # per label and design point
    seed: int
    engine: str = "numba"
    chunk_size: int = 100       # replications per chunk; points with fewer share a chunk
    points: tuple[Point, ...] = ()   # a designed experiment's points; none = the scenario as is
    keep_annual: bool = True    # keep the yearly rows (a design keeps only target outcomes)
    targets: list[str] | str | None = field(default=None)  # a design's (evaluable ones only)

    @property
    def design(self) -> bool:
        return bool(self.points)

    def specs(self) -> dict[str, list[TargetSpec]]:
        """Target rules per scenario; compiling inputs here validates each scenario fully."""
        out = {}
        for label, sc in self.scenarios.items():
            inputs = sc.model_inputs()
            try:
                specs = target_specs(sc.plan, inputs.baseline, inputs.end_year,
                                     select=self.targets or sc.spec.targets,
                                     share_definition=sc.spec.share_definition,
                                     source_file=sc.source)
            except InputError as err:
                raise sc.relocate(err) from None
            if self.targets is not None:
                specs = [s for s in specs if s.evaluable]
                if not specs:
                    raise InputError("no evaluable target selected", file=sc.source,
                                     key="targets")
            out[label] = specs
        return out

    def settings(self) -> dict:
        settings = {"replications": self.replications, "seed": self.seed, "engine": self.engine,
                    "chunk_size": self.chunk_size, "labels": list(self.scenarios)}
        if self.design:
            settings.update(points=len(self.points), keep_annual=self.keep_annual,
                            targets=self.targets,
                            design=fingerprint([[p.id, list(map(list, p.overrides)), p.first]
                                                for p in self.points]))
        return settings

    def chunks(self) -> list[tuple[int, tuple[Unit, ...]]]:
        """The chunks of every label, numbered: a point's replications are split into blocks of
        ``chunk_size``; points with fewer replications than that are packed together. The plan
        depends only on the experiment, so a resumed run finds the same chunks."""
        points = self.points or (Point(0),)
        size, n = self.chunk_size, self.replications
        if n >= size or len(points) == 1:
            blocks = [(Unit(p.id, p.overrides, p.first + start, min(size, n - start)),)
                      for p in points for start in range(0, n, size)]
        else:
            per = max(1, size // n)
            blocks = [tuple(Unit(p.id, p.overrides, p.first, n) for p in points[i:i + per])
                      for i in range(0, len(points), per)]
        return list(enumerate(blocks))

    @property
    def runs_per_label(self) -> int:
        return self.replications * max(1, len(self.points))


def _resolved_yaml(experiment: Experiment) -> str:
    """The scenario(s) exactly as run: Monte Carlo settings are those of the experiment (which
    command-line options may have changed), so the file reproduces the run."""
    docs = {}
    for label, sc in experiment.scenarios.items():
        doc = dict(sc.resolved)
        doc["monte_carlo"] = {**doc.get("monte_carlo", {}),
                              "replications": experiment.replications, "seed": experiment.seed,
                              "engine": experiment.engine, "chunk_size": experiment.chunk_size}
        docs[label] = doc
    if list(docs) == [""]:
        docs = docs[""]
    return yaml.safe_dump(docs, allow_unicode=True, sort_keys=False)


def provenance(experiment: Experiment) -> dict:
    """What produced a run besides its settings and scenario: the library versions that compute it
    and the parameter sets it used (name, file, SHA-256 of their content), so a resume can require
    the same."""
    import numba
    import numpy
    import pandas

    sets = {f"{label or DEFAULT_LABEL}/{variant}": {"name": pset.name,
                                                     "sha256": pset.content_hash}
            for label, sc in experiment.scenarios.items()
            for variant, pset in sc.parameter_sets.items()}
    return {"versions": {"seisim": __version__, "python": platform.python_version(),
                         "numpy": numpy.__version__, "numba": numba.__version__,
                         "pandas": pandas.__version__},
            "parameter_sets": sets}


def warm_up(experiment: Experiment) -> None:
    """Compile (or load from its cache) the numba kernel once in the driver before the workers
    start, with one replication of the experiment's first scenario (so parallel workers load the
    cache instead of compiling it side by side)."""
    if experiment.engine == "numba":
        scenario = next(iter(experiment.scenarios.values()))
        run_replications(scenario, [0], experiment.seed, experiment.engine)


def run_experiment(experiment: Experiment, run_dir: str | Path, *, backend: str = "processes",
                   workers: int | None = None, address: str | None = None, resume: bool = False,
                   progress: bool = True) -> RunStore:
    """Run (or resume) an experiment into ``run_dir``; returns the store of finished results."""
    specs = experiment.specs()  # validates before anything touches the disk
    check_backend(backend, workers)
    run_dir = Path(run_dir).resolve()  # workers may run in another working directory
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError("--out names a file, not a directory", file=str(run_dir))
    store = RunStore(run_dir)
    resolved = _resolved_yaml(experiment)
    created = False
    if store.exists():
        if not resume:
            raise InputError("run directory already holds a run; use --resume to continue it or "
                             "choose another --out", file=str(run_dir))
        manifest = store.manifest()
        try:
            stored_yaml = (run_dir / "scenario.yaml").read_text(encoding="utf-8")
        except OSError:
            stored_yaml = None
        if manifest.get("settings") != experiment.settings() or stored_yaml != resolved:
            raise InputError("--resume: the scenario or settings differ from the stored run "
                             "(compare scenario.yaml and manifest.json)", file=str(run_dir))
        now = provenance(experiment)
        for key in ("versions", "parameter_sets"):
            if key in manifest and manifest[key] != now[key]:
                differ = sorted(k for k in set(now[key]) | set(manifest[key])
                                if now[key].get(k) != manifest[key].get(k))
                raise InputError(f"--resume: {key.replace('_', ' ')} differ from the stored run "
                                 f"({', '.join(differ)}); results would mix; start a new run",
                                 file=str(run_dir))
    elif run_dir.exists() and any(run_dir.iterdir()):
        raise InputError("directory exists and is not a seisim run directory", file=str(run_dir))
    else:
        created = not run_dir.exists()
    store.lock()
    try:
        if not store.exists():
            (run_dir / "scenario.yaml").write_text(resolved, encoding="utf-8")
            store.write_manifest({
                "seisim_version": __version__, "python": platform.python_version(),
                **provenance(experiment), "command": list(sys.argv),
                "created": _dt.datetime.now().isoformat(timespec="seconds"),
                "settings": experiment.settings(), "status": "running",
                "targets": {label: [s.__dict__ for s in sp] for label, sp in specs.items()},
            })
        tasks = []
        for label, sc in experiment.scenarios.items():
            done = store.completed_chunks(label)
            damaged = store.damaged_chunks(label, done)
            if damaged:
                print(f"seisim: recomputing {len(damaged)} damaged or incomplete chunk(s) of "
                      f"'{label or DEFAULT_LABEL}': {damaged[:5]}", file=sys.stderr)
            tasks += [ChunkTask(sc, tuple(specs[label]), experiment.seed, experiment.engine, k,
                                units, str(run_dir), label, experiment.design,
                                experiment.keep_annual)
                      for k, units in experiment.chunks() if k not in done]
        store.update_manifest(status="running", backend=backend)
        start = time.perf_counter()
        if tasks:
            start_workers(backend, workers, len(tasks), address)
            warm_up(experiment)
        failures = 0
        total = sum(t.size for t in tasks)
        what = (f"{len(experiment.points)} design point(s)" if experiment.design
                else f"{len(experiment.scenarios)} scenario(s)")
        bar = _progress(total, progress, what)
        try:
            for status in execute(tasks, backend, workers, address):
                failures += len(status.failures)
                if bar is not None:
                    bar.update(status.done + len(status.failures))
        except BaseException:
            store.update_manifest(status="interrupted")
            raise
        finally:
            if bar is not None:
                bar.close()
        all_failures = sum(len(store.failures(label)) for label in experiment.scenarios)
        expected = {k for k, _ in experiment.chunks()}
        missing = {label: sorted(expected - store.completed_chunks(label))
                   for label in experiment.scenarios}
        if any(missing.values()):
            store.update_manifest(status="incomplete")
            raise RuntimeError(f"chunks finished without their results in {run_dir}: "
                               f"{ {k: v[:5] for k, v in missing.items() if v} }; the workers "
                               "must see the run directory (a shared filesystem on a cluster); "
                               "rerun with --resume")
        counted = {label: store.replications_done(label) + len(store.failures(label))
                   for label in experiment.scenarios}
        short = {k: v for k, v in counted.items() if v != experiment.runs_per_label}
        if short:
            store.update_manifest(status="incomplete")
            raise RuntimeError(f"{run_dir}: {short} replications on record instead of "
                               f"{experiment.runs_per_label}; rerun with --resume")
        store.update_manifest(
            status="complete" if all_failures == 0 else "complete_with_failures",
            finished=_dt.datetime.now().isoformat(timespec="seconds"),
            seconds_last_session=round(time.perf_counter() - start, 3),
            failures=all_failures)
        if all_failures:
            print(f"seisim: warning: {all_failures} replication(s) failed; their seeds and errors "
                  f"are in {run_dir / 'failures'}", file=sys.stderr)
    except BaseException:
        store.unlock()
        # Nothing half-written is left behind: a directory this call created and in which no
        # chunk finished goes; finished chunks are kept for --resume.
        if created and not any(store.completed_chunks(label) for label in experiment.scenarios):
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    finally:
        store.unlock()
    return store


def _progress(total: int, enabled: bool, desc: str):
    """A progress bar on stderr (counts replications or jobs), or None when disabled."""
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="rep", mininterval=0.5, file=sys.stderr)


# -- independent jobs (calibration refits) -----------------------------------------------------------
@dataclass(frozen=True)
class JobTask:
    """One call ``func(job)`` of a job list, numbered so results return in job order whatever
    the order the backend finishes them in."""

    func: object
    index: int
    job: object
    store: str | None
    key: str


def run_job(task: JobTask):
    """Run one job and, with a store, keep its result (JSON, written atomically) so a rerun of
    the same job list skips it; the function every backend calls."""
    import json

    from sim.experiments.store import atomic_write_text

    result = plain(task.func(task.job))
    if task.store is not None:
        atomic_write_text(Path(task.store) / f"job-{task.index:05d}.json",
                          json.dumps({"key": task.key, "result": result}))
    return task.index, result


def plain(value):
    """``value`` as JSON would return it (numpy arrays as lists, numpy numbers as Python ones;
    floats round-trip exactly), so a kept result and a fresh one are the same objects."""
    import json

    return json.loads(json.dumps(value, default=_plain))


def _plain(value):
    """JSON for numpy scalars and arrays in job results."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def run_jobs(func, jobs: list, *, backend: str = "processes", workers: int | None = None,
             address: str | None = None, store: str | Path | None = None,
             progress: bool = False, desc: str = "jobs") -> list:
    """``[func(job) for job in jobs]`` on a backend (serial, processes, Dask), in job order.

    The unit of work for what is not a replication: the refits of a calibration's bootstrap and
    leave-one-out. With ``store`` (a directory) every finished result is kept there under a
    fingerprint of its function and arguments, so an interrupted calibration resumes where it
    stopped, and a result computed for different arguments is never reused. ``func`` must be a
    module-level function and results JSON-serialisable (numbers, lists, dicts)."""
    import json

    check_backend(backend, workers)
    name = f"{func.__module__}.{func.__qualname__}"
    results: dict[int, object] = {}
    tasks = []
    for index, job in enumerate(jobs):
        key = fingerprint({"func": name, "job": plain(job)})
        if store is not None:
            try:
                kept = json.loads((Path(store) / f"job-{index:05d}.json").read_text("utf-8"))
                if kept.get("key") == key:
                    results[index] = kept["result"]
                    continue
            except (OSError, ValueError, AttributeError):
                pass
        tasks.append(JobTask(func, index, job, None if store is None else str(store), key))
    if store is not None and tasks:
        Path(store).mkdir(parents=True, exist_ok=True)
    bar = _progress(len(jobs), progress and bool(tasks), desc)
    if bar is not None:
        bar.update(len(results))
    try:
        for index, result in execute(tasks, backend, workers, address, func=run_job):
            results[index] = result
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return [results[i] for i in range(len(jobs))]

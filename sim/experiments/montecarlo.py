"""The experiment driver: validate, plan chunks, run them on a backend, keep the manifest.

One experiment = one or more labelled scenarios (a comparison or a sweep shares one seed, hence
common random numbers) x N replications, written to one run directory. Everything that can be wrong
with the input is checked before the directory is created, so a bad scenario leaves nothing behind.
"""

from __future__ import annotations

import datetime as _dt
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from sim import __version__
from sim.errors import InputError
from sim.experiments.backends import check_backend, execute
from sim.experiments.runner import ChunkTask
from sim.experiments.store import DEFAULT_LABEL, RunStore
from sim.outcomes import TargetSpec, target_specs
from sim.scenarios import Scenario


@dataclass
class Experiment:
    """What to run: labelled scenarios sharing a seed."""

    scenarios: dict[str, Scenario]
    replications: int
    seed: int
    engine: str = "numba"
    chunk_size: int = 100

    def specs(self) -> dict[str, list[TargetSpec]]:
        """Target rules per scenario; compiling inputs here validates each scenario fully."""
        out = {}
        for label, sc in self.scenarios.items():
            inputs = sc.model_inputs()
            try:
                out[label] = target_specs(sc.plan, inputs.baseline, inputs.end_year,
                                          select=sc.spec.targets,
                                          share_definition=sc.spec.share_definition,
                                          source_file=sc.source)
            except InputError as err:
                raise sc.relocate(err) from None
        return out

    def settings(self) -> dict:
        return {"replications": self.replications, "seed": self.seed, "engine": self.engine,
                "chunk_size": self.chunk_size, "labels": list(self.scenarios)}

    def chunks(self) -> list[tuple[int, tuple[int, ...]]]:
        size = self.chunk_size
        return [(k, tuple(range(start, min(start + size, self.replications))))
                for k, start in enumerate(range(0, self.replications, size))]


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


def warm_up(engine: str) -> None:
    """Compile (or load from cache) the numba kernel once in the driver before workers start."""
    if engine == "numba":
        import sim

        sim.run("fuling", seed=0, end_year=2023)


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
                                reps, str(run_dir), label)
                      for k, reps in experiment.chunks() if k not in done]
        store.update_manifest(status="running", backend=backend)
        start = time.perf_counter()
        if tasks:
            warm_up(experiment.engine)
        failures = 0
        total = sum(len(t.replications) for t in tasks)
        bar = _progress(total, progress, f"{len(experiment.scenarios)} scenario(s)")
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
        short = {k: v for k, v in counted.items() if v != experiment.replications}
        if short:
            store.update_manifest(status="incomplete")
            raise RuntimeError(f"{run_dir}: {short} replications on record instead of "
                               f"{experiment.replications}; rerun with --resume")
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
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="rep", mininterval=0.5, file=sys.stderr)

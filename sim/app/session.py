"""What the dashboard offers and runs, without any user-interface code.

The dashboard is a front end to the same library calls as the command line: scenarios are found
where ``seisim mc NAME`` finds them, levers and their bounds come from the scenario's lever model
(the ``levers`` section of :class:`sim.scenarios.ScenarioSpec`), and a run is one
:func:`sim.compare` of the chosen scenario with its levers at the status quo against the same
scenario with the levers the user set, on common random numbers. Keeping this apart from the
page makes it testable without a browser and keeps model logic out of the page.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from annotated_types import Ge, Gt, Le
from pydantic import BaseModel

from sim.errors import InputError
from sim.paths import SHIPPED_SCENARIOS
from sim.scenarios import (Scenario, ScenarioSpec, find_scenario, load_scenario,
                           scenario_from_dict)

DEFAULT_REPLICATIONS = 200
SLIDER_SPAN = 4.0  # multiplier sliders reach this many times the status quo (or a scenario's value)
PARK_EXPANSION = "levers.parks.expansion.all"


@dataclass(frozen=True)
class ScenarioChoice:
    """One scenario file the dashboard can offer, or why it cannot be loaded."""

    name: str
    path: str
    region: str | None
    question: str = ""
    problem: str | None = None


def scenario_files(workdir: str | Path | None = None) -> dict[str, Path]:
    """Scenario files by name: the user's ``scenarios/`` folder in ``workdir`` (default: the
    working directory) first, then the library shipped with seisim; a user's file hides a shipped
    one of the same name, as :func:`sim.scenarios.find_scenario` resolves names."""
    folders = [Path(workdir or Path.cwd()) / "scenarios", Path(SHIPPED_SCENARIOS)]
    found: dict[str, Path] = {}
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                found.setdefault(path.stem, path)
    return dict(sorted(found.items()))


def scenario_choices(workdir: str | Path | None = None) -> list[ScenarioChoice]:
    """Every scenario file with its region; a broken file is listed with its one-line problem
    rather than hiding the good ones."""
    choices = []
    for name, path in scenario_files(workdir).items():
        try:
            sc = load_scenario(path)
        except InputError as exc:
            choices.append(ScenarioChoice(name, str(path), None, problem=str(exc)))
            continue
        choices.append(ScenarioChoice(name, str(path), sc.spec.region, sc.spec.question))
    return choices


def regions(choices: list[ScenarioChoice]) -> list[str]:
    """Regions that have at least one loadable scenario, in order."""
    return sorted({c.region for c in choices if c.region is not None})


def open_scenario(name_or_path: str) -> Scenario:
    """Load a scenario by name or path, as ``seisim mc`` does."""
    return load_scenario(find_scenario(name_or_path))


@dataclass(frozen=True)
class LeverControl:
    """A numeric lever the page shows as a slider: its dotted scenario key, label, help text and
    the range the slider covers (inside the lever model's bounds)."""

    key: str
    label: str
    help: str
    low: float
    high: float
    default: float
    step: float = 0.05

    def value_in(self, sc: Scenario) -> float:
        """The lever's value in a scenario."""
        levers = sc.spec.levers
        if self.key == PARK_EXPANSION:
            return float(levers.parks.expansion.get("all", 0.0))
        value = levers
        for part in self.key.removeprefix("levers.").split("."):
            value = getattr(value, part)
        return float(value)

    def span(self, current: float) -> tuple[float, float]:
        """The slider range, widened to hold a scenario's own value if it lies outside."""
        return min(self.low, current), max(self.high, current)


def _bounds(field) -> tuple[float | None, float | None, bool]:
    low = high = None
    strict = False
    for item in field.metadata:
        if isinstance(item, Ge):
            low = float(item.ge)
        elif isinstance(item, Gt):
            low, strict = float(item.gt), True
        elif isinstance(item, Le):
            high = float(item.le)
    return low, high, strict


def lever_controls() -> list[LeverControl]:
    """Sliders for the scenario levers that are a plain number with a status-quo value, read from
    the lever model with its bounds; plus park land for every park. Levers whose default means
    "keep the plan-derived value" (None), weights per industry and shocks have no single slider
    and stay as the scenario file sets them."""
    controls = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            default = field.default
            if isinstance(default, BaseModel):
                walk(type(default), f"{prefix}{name}.")
            elif isinstance(default, (int, float)) and not isinstance(default, bool):
                low, high, strict = _bounds(field)
                step = 0.05
                low = (low or 0.0) + (step if strict else 0.0)
                top = default * SLIDER_SPAN
                high = top if high is None else min(high, top)
                key = f"levers.{prefix}{name}"
                label = f"{prefix}{name}".replace(".", " ").replace("_", " ")
                controls.append(LeverControl(key, label,
                                             field.description or "", low, high, float(default),
                                             step))

    # The model of a scenario file's ``levers:`` section, whatever class holds it.
    walk(ScenarioSpec.model_fields["levers"].annotation, "")
    # Park land is a mapping per park; 'all' applies to every park. A park cannot lose more than
    # its land (-1), the bound sim.model.levers.Levers checks.
    controls.append(LeverControl(PARK_EXPANSION, "parks expansion (all parks)",
                                 "extra land of every park as a fraction of its land "
                                 "(0.5 = +50%)", -1.0, 2.0, 0.0))
    return controls


def lever_problems(sc: Scenario) -> dict[str, str]:
    """Levers the scenario's model cannot move (a plan without a fund has no fund to scale), each
    with the model's reason, found by compiling the scenario with the lever moved off its status
    quo; the page disables those sliders instead of failing when Run is pressed."""
    problems = {}
    for control in lever_controls():
        probe = min(control.default + 0.5, control.high)
        try:
            with_levers(sc, {control.key: probe}).model_inputs()
        except InputError as exc:
            problems[control.key] = exc.problem or str(exc)
    return problems


def status_quo(sc: Scenario) -> Scenario:
    """The scenario with every lever at the status quo (parameters, uncertainties, horizon and
    targets as in the file): what the user's lever settings are compared with."""
    data = dict(sc.resolved)
    data["levers"] = {}
    data["sweep"] = {}
    data["name"] = f"{sc.name}-status-quo"
    return scenario_from_dict(data, sc.source, sc.origins)


def with_levers(sc: Scenario, values: dict[str, float]) -> Scenario:
    """The scenario with the given lever values (dotted keys from :func:`lever_controls`)."""
    known = {c.key for c in lever_controls()}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"unknown lever '{unknown[0]}' (known: {', '.join(sorted(known))})")
    overrides = {k: float(v) for k, v in values.items() if k != PARK_EXPANSION}
    if PARK_EXPANSION in values:
        expansion = dict(sc.spec.levers.parks.expansion)
        expansion["all"] = float(values[PARK_EXPANSION])
        overrides["levers.parks.expansion"] = expansion
    return sc.with_overrides(overrides, name=f"{sc.name}-levers")


@dataclass
class DashboardRun:
    """The results the page shows: the comparison (status quo first), the chosen levers' result
    and where the run directory is."""

    comparison: object
    run_dir: Path

    @property
    def baseline(self):
        return self.comparison[self.comparison.labels[0]]

    @property
    def adjusted(self):
        return self.comparison[self.comparison.labels[1]]

    def target_table(self) -> pd.DataFrame:
        """One row per target: probability met with its interval under the chosen levers, under
        the status quo, and the paired difference with its interval."""
        t = self.adjusted.targets()
        cols = ["target", "year", "threshold", "unit", "p_met", "ci_low", "ci_high", "median"]
        t = t[[c for c in cols if c in t.columns]]
        base = self.baseline.targets().set_index("target")["p_met"].rename("p_status_quo")
        diff = self.comparison.differences()
        t = t.join(base, on="target")
        if not diff.empty:
            d = diff.set_index("target")[["p_met_diff", "p_met_diff_low", "p_met_diff_high"]]
            t = t.join(d, on="target")
        return t

    def cleanup(self) -> None:
        shutil.rmtree(self.run_dir, ignore_errors=True)


def run_dashboard(sc: Scenario, levers: dict[str, float], replications: int = DEFAULT_REPLICATIONS,
                  seed: int | None = None, progress=None, backend: str = "serial") -> DashboardRun:
    """Run the status quo and the chosen levers of ``sc`` on common random numbers through
    :func:`sim.compare` into a new temporary run directory. ``progress(done, total)``, if given,
    is called with the replications finished (both scenarios counted) while it runs."""
    import sim

    scenarios = [status_quo(sc), with_levers(sc, levers)]
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=_runs_root()))
    chunk_size = chunk_size_for(replications)
    watcher = None
    if progress is not None:
        watcher = _ProgressWatcher(run_dir, [s.name for s in scenarios], int(replications),
                                   chunk_size, progress)
    try:
        comparison = sim.compare(scenarios, replications, seed, backend=backend, out=run_dir,
                                 progress=False, chunk_size=chunk_size)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    finally:
        if watcher is not None:
            watcher.stop()
    return DashboardRun(comparison, run_dir)


class _ProgressWatcher:
    """Reports a running comparison's progress by watching its run directory for finished chunks
    (the run store's done markers), the same record ``--resume`` relies on, so the experiment
    driver needs no hook for it."""

    def __init__(self, run_dir: Path, labels: list[str], replications: int, chunk_size: int,
                 callback, interval: float = 0.25):
        import threading

        self.run_dir, self.labels, self.callback = run_dir, labels, callback
        self.replications, self.chunk_size = replications, chunk_size
        self.total = replications * len(labels)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(interval,), daemon=True)
        callback(0, self.total)
        self._thread.start()

    def finished(self) -> int:
        from sim.experiments.store import RunStore

        store = getattr(self, "_store", None) or RunStore(self.run_dir)
        self._store = store
        done = 0
        for label in self.labels:
            for chunk in store.completed_chunks(label):
                done += min(self.chunk_size, self.replications - chunk * self.chunk_size)
        return done

    def _watch(self, interval: float) -> None:
        last = 0
        while not self._done.wait(interval):
            try:
                done = self.finished()
            except (OSError, ValueError):  # the directory is being set up or torn down
                continue
            if done != last:
                last = done
                self.callback(done, self.total)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()
        try:
            self.callback(self.finished(), self.total)
        except (OSError, ValueError):
            pass


_RUNS_ROOT: Path | None = None


def _runs_root() -> Path:
    """One temporary folder for the server's runs, removed when the server stops: the page shows
    results, it does not keep them (``seisim mc --out`` does)."""
    global _RUNS_ROOT
    if _RUNS_ROOT is None:
        import atexit

        _RUNS_ROOT = Path(tempfile.mkdtemp(prefix="seisim-app-"))
        atexit.register(shutil.rmtree, _RUNS_ROOT, True)
    return _RUNS_ROOT


def chunk_size_for(replications: int) -> int:
    """Chunks of about a tenth of the run, so the progress indicator moves; results do not depend
    on the chunking (every replication has its own random stream)."""
    return max(10, -(-int(replications) // 10))

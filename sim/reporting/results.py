"""Result objects returned by ``sim.monte_carlo`` and ``sim.compare``.

They are views of a run directory: tables are read from its Parquet chunks on demand, so a result
holds no more in memory than the question asked needs.
"""

from __future__ import annotations

import json
import shutil
from functools import cached_property
from pathlib import Path

import pandas as pd

from sim.analysis.targets import (annual_quantiles, first_met_distribution, paired_differences,
                                  summarize_targets)
from sim.csvfiles import CSV_ENCODING
from sim.experiments.store import RunStore
from sim.outcomes import TargetSpec


def _figure(x: float) -> str:
    """A simulated or target level as a reader wants it: whole numbers from 100 up."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.4g}"


class MonteCarloResult:
    """Monte Carlo results of one scenario (one label of a run directory)."""

    def __init__(self, run_dir: str | Path, label: str = "", scenario=None):
        self.store = RunStore(run_dir)
        self.label = label
        self.scenario = scenario
        manifest = self.store.manifest()
        self.settings = manifest["settings"]
        self.specs = [TargetSpec(**s) for s in manifest["targets"][label]]

    def __repr__(self) -> str:
        return (f"MonteCarloResult({self.name!r}, replications={self.replications}, "
                f"dir={str(self.store.path)!r})")

    @property
    def run_dir(self) -> Path:
        return self.store.path

    @property
    def name(self) -> str:
        return self.label or (self.scenario.name if self.scenario is not None else "run")

    @property
    def replications(self) -> int:
        return self.store.replications_done(self.label)

    @cached_property
    def annual(self) -> pd.DataFrame:
        """Tidy: one row per replication and year, every model variable as a column."""
        return self.store.read_annual(self.label)

    def annual_columns(self, *columns: str) -> pd.DataFrame:
        """Only some variables (cheaper than ``annual`` for large runs)."""
        return self.store.read_annual(self.label, ["replication", "year", *columns])

    @cached_property
    def outcomes(self) -> pd.DataFrame:
        """Tidy: one row per replication and target: value in the target year, first year met."""
        return self.store.read_outcomes(self.label)

    @property
    def failures(self) -> list[dict]:
        return self.store.failures(self.label)

    def targets(self) -> pd.DataFrame:
        """Tidy: target, year, threshold, p_met, ci_low, ci_high, median, q05, q95, ..."""
        return summarize_targets(self.outcomes, self.specs)

    def targets_by_structure(self) -> pd.DataFrame:
        """Target probabilities under each structural variant the replications used, and
        pooled over all (``structure`` column); one block per variant present."""
        outcomes = self.outcomes
        frames = [summarize_targets(outcomes, self.specs).assign(structure="pooled")]
        if "structure" in outcomes.columns:
            for variant, sub in outcomes.groupby("structure"):
                frames.append(summarize_targets(sub, self.specs).assign(structure=variant))
        out = pd.concat(frames, ignore_index=True)
        return out[["structure"] + [c for c in out.columns if c != "structure"]]

    def first_met(self) -> pd.DataFrame:
        years = sorted(self.annual_columns()["year"].unique())[1:]
        return first_met_distribution(self.outcomes, self.specs, years)

    def quantiles(self, column: str = "sei_output_share") -> pd.DataFrame:
        return annual_quantiles(self.annual_columns(column), column)

    def summary(self) -> str:
        """A short plain-text answer: each evaluable target with its probability."""
        t = self.targets()
        by = self.targets_by_structure()
        variants = [v for v in ("persist", "converge") if v in set(by["structure"])]
        per_variant = ({v: by[by.structure == v].set_index("target")["p_met"] for v in variants}
                       if len(variants) > 1 else {})
        lines = [f"{self.name}: {self.replications} replications, seed {self.settings['seed']}"
                 + (" (structural variants pooled)" if per_variant else "")]
        for r in t.itertuples():
            year = "undated" if pd.isna(r.year) else str(int(r.year))
            if pd.isna(r.p_met):
                shown = ("" if pd.isna(r.median) else
                         f"; simulated median {r.median:,.4g} (5-95%: {r.q05:,.4g}-{r.q95:,.4g})")
                lines.append(f"  {r.target:<40} {year:>7}  not evaluated ({r.note}{shown})")
            else:
                split = ", ".join(f"{v} {p[r.target]:.1%}" for v, p in per_variant.items())
                lines.append(
                    f"  {r.target:<40} {year:>7}  P(met) = {r.p_met:5.1%} "
                    f"[{r.ci_low:5.1%}, {r.ci_high:5.1%}]  median {_figure(r.median)} vs "
                    f"{_figure(r.threshold)} {r.unit}" + (f"  ({split})" if split else "")
                    + (f"  [{r.rule}]" if isinstance(r.rule, str) and r.rule else ""))
        if self.failures:
            lines.append(f"  {len(self.failures)} replication(s) failed; see failures/")
        return "\n".join(lines)

    def to_parquet(self, directory: str | Path) -> Path:
        """Write annual rows, outcomes and target statistics as Parquet files in ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.annual.to_parquet(directory / "annual.parquet", index=False)
        self.outcomes.to_parquet(directory / "outcomes.parquet", index=False)
        self.targets().to_parquet(directory / "targets.parquet", index=False)
        return directory

    # -- plots --------------------------------------------------------------------------------------
    def plot_share(self, column: str = "sei_output_share"):
        """Fan chart of the SEI share with the plan's share targets."""
        from sim.reporting.plots import fan_chart

        from sim.reporting.present import indicator_label

        marks = [(s.year, s.threshold, "") for s in self.specs if s.column == column]
        what = next((indicator_label(s.indicator, "en") for s in self.specs
                     if s.column == column and s.scope == "region"), column.replace("_", " "))
        return fan_chart(self.quantiles(column), targets=marks, title=f"{self.name}: {what}",
                         ylabel="% of industrial output")

    def headline_column(self) -> str | None:
        """The annual column most of the plan's region targets are scored on, when it is not the
        SEI share (a plan such as Chengdu's, whose stages are on industrial value added)."""
        columns = [s.column for s in self.specs
                   if s.evaluable and s.scope == "region" and not s.members]
        if not columns:
            return None
        best = max(dict.fromkeys(columns), key=columns.count)
        return None if best == "sei_output_share" else best

    def plot_headline(self):
        """Fan chart of the headline column with its targets marked."""
        from sim.reporting.plots import fan_chart

        column = self.headline_column()
        marks = [(s.year, s.threshold, "") for s in self.specs if s.column == column]
        unit = next(s.unit for s in self.specs if s.column == column)
        ylabel = {"亿元": "亿元 (100 million yuan)"}.get(unit, unit)
        from sim.reporting.present import indicator_label

        what = next((indicator_label(s.indicator, "en") for s in self.specs
                     if s.column == column and s.scope == "region"), column.replace("_", " "))
        return fan_chart(self.quantiles(column), targets=marks, title=f"{self.name}: {what}",
                         ylabel=ylabel)

    def plot_probabilities(self):
        from sim.reporting.plots import probability_chart
        from sim.reporting.present import present_targets

        shown = present_targets(self.targets(), self.scenario.plan if self.scenario else None, "en")
        return probability_chart(shown, labels=shown["name"] + " " + shown["year_text"],
                                 title=f"{self.name}: P(target met), 95% CI")

    def plot_outcomes(self, scope_kind: str = "industry"):
        from sim.reporting.plots import outcomes_chart

        from sim.reporting.present import present_targets

        targets = self.targets()
        shown = present_targets(targets, self.scenario.plan if self.scenario else None, "en")
        labels = dict(zip(shown["target"], shown["name"] + " " + shown["year_text"]))
        return outcomes_chart(self.outcomes, targets, scope_kind=scope_kind, labels=labels,
                              title=f"{self.name}: {scope_kind} outcomes vs targets")

    def to_xarray(self):
        """The annual table and target outcomes as an ``xarray.Dataset``: every annual column a
        variable on (replication, year) with ``units`` and ``long_name``; ``target_value`` and
        ``target_met`` on (target, replication). Needs the ``xarray`` extra."""
        from sim.reporting.datasets import annual_dataset

        ds = annual_dataset(self.annual, self.outcomes, self.specs)
        ds.attrs.update(scenario=self.name, seed=int(self.settings["seed"]))
        return ds

    def briefing(self, lang: str = "zh") -> dict[str, Path]:
        """Write ``briefing.html`` and ``briefing.xlsx`` of this result's run directory in
        ``lang`` (``zh`` or ``en``); returns their paths (``html``, ``xlsx``)."""
        from sim.reporting.briefing import write_briefing

        scenarios = {self.label: self.scenario} if self.scenario is not None else None
        return write_briefing(self.run_dir, lang, scenarios)


class ComparisonResult:
    """Several scenarios run on common random numbers (same seed, same replications)."""

    def __init__(self, run_dir: str | Path, scenarios: dict | None = None):
        self.store = RunStore(run_dir)
        labels = self.store.manifest()["settings"]["labels"]
        scenarios = scenarios or {}
        self.results = {label: MonteCarloResult(run_dir, label, scenarios.get(label))
                        for label in labels}

    def __getitem__(self, label: str) -> MonteCarloResult:
        return self.results[label]

    @property
    def labels(self) -> list[str]:
        return list(self.results)

    def __repr__(self) -> str:
        first = next(iter(self.results.values()))
        return (f"ComparisonResult({self.labels!r}, replications={first.replications}, "
                f"dir={str(self.store.path)!r})")

    def summary(self, reference: str | None = None) -> str:
        """Plain text, one block per evaluable target: each scenario's P(met) with its 95% interval
        and its paired difference from the reference (default: the first scenario)."""
        from sim.reporting.comparison import comparison_summary

        return comparison_summary(self, reference)

    def headline_column(self) -> str:
        """The column the fan charts show: the first scenario's headline, else the SEI share."""
        return next(iter(self.results.values())).headline_column() or "sei_output_share"

    def plot_fans(self, column: str | None = None):
        """Every scenario's fan chart of ``column`` (default: the headline column) on one axis,
        one colour per scenario, with the targets on that column marked."""
        from sim.reporting.comparison import plot_comparison_fans

        return plot_comparison_fans(self, column or self.headline_column())

    plot = plot_fans

    def plot_probabilities(self, targets: list[str] | None = None):
        """P(met) of each target (or of the listed ``targets``), one bar per scenario side by
        side, with 95% intervals."""
        from sim.reporting.comparison import plot_comparison_probabilities

        return plot_comparison_probabilities(self, targets)

    def targets(self) -> pd.DataFrame:
        frames = [r.targets().assign(scenario=label) for label, r in self.results.items()]
        out = pd.concat(frames, ignore_index=True)
        return out[["scenario"] + [c for c in out.columns if c != "scenario"]]

    def differences(self, reference: str | None = None) -> pd.DataFrame:
        """Each scenario minus the reference (default: the first), paired by replication."""
        reference = reference or self.labels[0]
        base = self.results[reference]
        frames = []
        for label, r in self.results.items():
            if label == reference:
                continue
            d = paired_differences(base.outcomes, r.outcomes, base.specs)
            frames.append(d.assign(scenario=label, reference=reference))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def to_xarray(self):
        """Every scenario's :meth:`MonteCarloResult.to_xarray` stacked along a ``scenario``
        dimension (scenario, replication, year); replications are paired across scenarios (common
        random numbers), so differences along ``scenario`` are paired differences."""
        from sim.reporting.datasets import comparison_dataset

        ds = comparison_dataset({label: r.to_xarray() for label, r in self.results.items()})
        ds.attrs.pop("scenario", None)
        return ds


def write_outputs(result: MonteCarloResult, out: Path, plots: bool = True) -> list[Path]:
    """targets.csv, first_met.csv, summary.txt and the PNG plots of one scenario."""
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    targets = result.targets()
    targets.to_csv(out / "targets.csv", index=False, encoding=CSV_ENCODING)
    result.first_met().to_csv(out / "first_met.csv", index=False, encoding=CSV_ENCODING)
    (out / "summary.txt").write_text(result.summary() + "\n", encoding="utf-8")
    written += [out / "targets.csv", out / "first_met.csv", out / "summary.txt"]
    by_structure = result.targets_by_structure()
    if by_structure["structure"].nunique() > 2:  # pooled plus at least two variants
        by_structure.to_csv(out / "targets_by_structure.csv", index=False, encoding=CSV_ENCODING)
        written.append(out / "targets_by_structure.csv")
    if plots:
        figures = {"share_fan.png": result.plot_share(),
                   "probabilities.png": result.plot_probabilities()}
        if result.headline_column() is not None:
            figures["headline_fan.png"] = result.plot_headline()
        for kind in ("industry", "park"):
            if targets["scope"].str.startswith(kind + ":").any() and \
                    targets.loc[targets["scope"].str.startswith(kind + ":"), "p_met"].notna().any():
                figures[f"{kind}_outcomes.png"] = result.plot_outcomes(kind)
        for name, fig in figures.items():
            fig.savefig(out / name, dpi=110)
            plt.close(fig)
            written.append(out / name)
    return written


def write_report(run_dir: str | Path, scenarios: dict | None = None, plots: bool = True) -> Path:
    """Write outputs and ``report.md`` for every scenario of a run directory; returns the report."""
    from sim.reporting.report import render_report

    store = RunStore(run_dir)
    labels = store.manifest()["settings"]["labels"]
    scenarios = scenarios or {}
    sections = []
    for label in labels:
        result = MonteCarloResult(run_dir, label, scenarios.get(label))
        out = store.path / (label or "") if label else store.path
        # Several scenarios are charted together (one axis each chart), not one by one.
        write_outputs(result, out if label else store.path, plots and len(labels) == 1)
        sections.append((label, result))
    comparison = ComparisonResult(run_dir, scenarios) if len(labels) > 1 else None
    if comparison is not None:
        diffs = comparison.differences()
        diffs.to_csv(store.path / "differences.csv", index=False, encoding=CSV_ENCODING)
        if plots:
            import matplotlib.pyplot as plt

            for name, fig in (("comparison_fans.png", comparison.plot_fans()),
                              ("comparison_probabilities.png", comparison.plot_probabilities())):
                fig.savefig(store.path / name, dpi=110)
                plt.close(fig)
    text = render_report(store, sections, comparison)
    path = store.path / "report.md"
    path.write_text(text, encoding="utf-8")
    return path


def run_scenarios(run_dir: str | Path) -> dict:
    """The scenarios of a run directory, by label, rebuilt from its ``scenario.yaml`` (the fully
    resolved scenarios the run used)."""
    import yaml

    from sim.scenarios import scenario_from_dict

    from sim.errors import InputError

    store = RunStore(run_dir)
    labels = store.manifest()["settings"]["labels"]
    path = store.path / "scenario.yaml"
    if not path.is_file():
        raise InputError("run directory has no scenario.yaml (needed for plan names and "
                         "assumptions)", file=str(store.path))
    docs = yaml.safe_load(path.read_text(encoding="utf-8"))
    if labels == [""]:
        return {"": scenario_from_dict(docs, str(path))}
    return {label: scenario_from_dict(docs[label], str(path)) for label in labels}


def load_result(run_dir: str | Path):
    """Open a run directory: a MonteCarloResult, or a ComparisonResult for several scenarios."""
    labels = json.loads((Path(run_dir) / "manifest.json").read_text())["settings"]["labels"]
    return MonteCarloResult(run_dir, labels[0]) if len(labels) == 1 else ComparisonResult(run_dir)


def copy_run(run_dir: str | Path, dest: str | Path) -> Path:
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns(".lock", ".lock-holder"))
    return Path(dest)

"""The result of ``sim.sweep`` / ``seisim sweep``: P(met) of each target against the lever.

A sweep's run directory is a comparison's (one label per grid point); :class:`SweepResult` reads it
as a curve along the swept key(s), with paired differences from the status quo (see
:mod:`sim.analysis.sweep`), and writes a one-table report instead of one section per point.
"""

from __future__ import annotations

import json
import math
from functools import cached_property
from pathlib import Path

import pandas as pd

from sim.analysis.sweep import is_geometric, sweep_table
from sim.csvfiles import CSV_ENCODING
from sim.reporting.results import ComparisonResult, MonteCarloResult, write_outputs


#: The file in a sweep's run directory that marks it as a sweep and records its grid.
SWEEP_FILE = "sweep.json"

#: More targets than this are drawn as small multiples, one axis each.
MAX_LINES = 6


def _value(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


class SweepResult:
    """Monte Carlo results at every point of a sweep grid, on common random numbers.

    ``grid`` has one row per label: the swept keys' values and whether the point is the status
    quo (the scenario's own setting). ``table()`` is tidy: one row per point and target."""

    def __init__(self, run_dir: str | Path, scenarios: dict, grid: pd.DataFrame,
                 status_quo: str, grid_values: dict | None = None):
        self.comparison = ComparisonResult(run_dir, scenarios)
        self.grid = grid
        self.status_quo = status_quo
        #: whether the status quo is not a grid point and was run as an extra one
        self.status_quo_extra = bool(grid.attrs.get("status_quo_extra", False))
        self.keys = list(grid.attrs.get("keys", [c for c in grid.columns if c != "status_quo"]))
        on_grid = grid.drop(index=status_quo) if self.status_quo_extra else grid
        self.grid_values = grid_values or grid.attrs.get("grid_values") or {
            k: list(on_grid[k]) for k in self.keys}

    @classmethod
    def open(cls, run_dir: str | Path, scenarios: dict | None = None) -> SweepResult:
        """A sweep's run directory again, from the ``sweep.json`` its report wrote."""
        doc = json.loads((Path(run_dir) / SWEEP_FILE).read_text(encoding="utf-8"))
        grid = pd.DataFrame.from_dict(doc["grid"], orient="index")
        grid.index.name = "label"
        grid.attrs.update(keys=doc["keys"], grid_values=doc["grid_values"],
                          status_quo_extra=doc["status_quo_extra"])
        return cls(run_dir, scenarios or {}, grid, doc["status_quo"])

    def save_design(self) -> Path:
        """Write ``sweep.json`` (swept keys, grid, status quo), which :meth:`open` reads."""
        path = self.run_dir / SWEEP_FILE
        grid = {label: {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                for label, row in self.grid.to_dict(orient="index").items()}
        path.write_text(json.dumps({"keys": self.keys, "status_quo": self.status_quo,
                                    "status_quo_extra": self.status_quo_extra,
                                    "grid_values": self.grid_values, "grid": grid}, indent=1),
                        encoding="utf-8")
        return path

    # the comparison underneath ---------------------------------------------------------------
    @property
    def store(self):
        return self.comparison.store

    @property
    def run_dir(self) -> Path:
        return self.comparison.store.path

    @property
    def results(self) -> dict[str, MonteCarloResult]:
        return self.comparison.results

    @property
    def labels(self) -> list[str]:
        return self.comparison.labels

    def __getitem__(self, label: str) -> MonteCarloResult:
        return self.comparison[label]

    @property
    def replications(self) -> int:
        return self.results[self.status_quo].replications

    def targets(self) -> pd.DataFrame:
        """P(met) and value statistics of every target at every point (``scenario`` = label)."""
        return self.comparison.targets()

    def differences(self) -> pd.DataFrame:
        """Each point minus the status quo, paired by replication."""
        return self.comparison.differences(self.status_quo)

    # the curve ------------------------------------------------------------------------------------
    @cached_property
    def _table(self) -> pd.DataFrame:
        return sweep_table(self.targets(), self.differences(), self.grid, self.status_quo)

    def table(self) -> pd.DataFrame:
        """Tidy: swept key(s), label, status_quo, target, year, P(met) with its 95% Wilson
        interval, median, and the paired difference from the status quo (P(met) in points of
        probability, mean value), each with its 95% interval."""
        return self._table.copy()

    def log_scale(self, lever: str | None = None) -> bool:
        """Whether the grid of ``lever`` (default: the first swept key) is geometric."""
        return is_geometric(self.grid_values[lever or self.keys[0]])

    def status_quo_setting(self) -> dict:
        return {k: self.grid.loc[self.status_quo, k] for k in self.keys}

    def __repr__(self) -> str:
        sweep = ", ".join(f"{k}: {', '.join(_value(v) for v in self.grid_values[k])}"
                          for k in self.keys)
        sq = ", ".join(f"{k.split('.')[-1]}={_value(v)}"
                       for k, v in self.status_quo_setting().items())
        return (f"SweepResult({sweep}; status quo {sq}; points={len(self.labels)}, "
                f"replications={self.replications}, dir={str(self.run_dir)!r})")

    def summary(self) -> str:
        """Plain text, one block per evaluable target: P(met) [95% interval] at each point and
        the paired difference from the status quo."""
        t = self._table
        sq = ", ".join(f"{k}={_value(v)}" for k, v in self.status_quo_setting().items())
        first = self.results[self.status_quo]
        lines = [f"sweep of {', '.join(self.keys)} on common random numbers: "
                 f"{len(self.labels)} points x {self.replications} replications, seed "
                 f"{first.settings['seed']}; differences paired by replication, vs the status "
                 f"quo ({sq})"]
        for target, block in t.groupby("target", sort=False):
            r0 = block.iloc[0]
            lines.append(f"  {target} ({int(r0.year)}): threshold {r0.threshold:,.4g} {r0.unit}")
            for r in block.itertuples():
                setting = ", ".join(_value(block.loc[r.Index, k]) for k in self.keys)
                diff = ("status quo" if r.status_quo else
                        f"{100 * r.p_met_diff:+5.1f} pp [{100 * r.p_met_diff_low:+.1f}, "
                        f"{100 * r.p_met_diff_high:+.1f}]")
                lines.append(f"    {setting:>10}  P(met) {r.p_met:6.1%} [{r.ci_low:6.1%}, "
                             f"{r.ci_high:6.1%}]  {diff}")
        skipped = self.targets().loc[lambda d: d["p_met"].isna(), "target"].unique()
        if len(skipped):
            lines.append(f"  not evaluated: {', '.join(skipped)}")
        return "\n".join(lines)

    def plot(self, target: str | list[str] | None = None, lever: str | None = None):
        """P(met) against ``lever`` (default: the first swept key) for ``target`` (default:
        every evaluable target), with 95% intervals, the status quo marked and a log axis when
        the grid is geometric. More than :data:`MAX_LINES` targets are drawn one axis each. With
        several swept keys, one line per setting of the others."""
        from sim.errors import InputError
        from sim.reporting.plots import sweep_chart

        lever = lever or self.keys[0]
        if lever not in self.keys:
            raise InputError(f"'{lever}' is not swept (swept: {', '.join(self.keys)})")
        t = self._table
        if target is not None:
            wanted = [target] if isinstance(target, str) else list(target)
            unknown = [w for w in wanted if w not in set(t["target"])]
            if unknown:
                raise InputError(f"no evaluable target '{unknown[0]}' in this sweep (targets: "
                                 f"{', '.join(dict.fromkeys(t['target']))})")
            t = t[t["target"].isin(wanted)]
        others = [k for k in self.keys if k != lever]
        if others:
            t = t.assign(target=t["target"] + " (" + t[others].astype(str).agg(
                ", ".join, axis=1) + ")")
        sq = self.status_quo_setting()[lever]
        sq = float(sq) if isinstance(sq, (int, float)) and not math.isnan(float(sq)) else None
        options = {"lever": lever, "log_x": self.log_scale(lever), "status_quo": sq}
        names = list(dict.fromkeys(t["target"]))
        if len(names) <= MAX_LINES:
            return sweep_chart(t, **options, title=(f"P({names[0]} met)" if len(names) == 1
                                                    else "P(target met)") + f" against {lever}")
        # Many targets: small multiples on shared axes, one target each, so lines stay legible.
        import matplotlib.pyplot as plt

        columns = 3
        rows = math.ceil(len(names) / columns)
        fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.9 * rows),
                                 sharex=True, sharey=True, squeeze=False)
        for ax, name in zip(axes.flat, names):
            sweep_chart(t[t["target"] == name], **options, title=name, ax=ax, legend=False)
            ax.title.set_fontsize(9)
            ax.set(xlabel="", ylabel="")
            ax.tick_params(labelbottom=True)
        for ax in axes.flat[len(names):]:
            ax.set_visible(False)
        fig.suptitle(f"P(target met) against {lever}"
                     + (" (log scale)" if options["log_x"] else "")
                     + "; dashed: status quo; bars: 95% interval", fontsize=11)
        fig.supylabel("P(target met)")
        fig.tight_layout(rect=(0, 0, 1, 0.98))
        return fig


def _pct(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def sweep_markdown(result: SweepResult) -> list[str]:
    """One table: a row per target, a column per point (along the lever) with P(met) and the
    paired change from the status quo in percentage points, in bold when its 95% interval
    excludes zero."""
    t = result.table()
    labels = list(dict.fromkeys(t["label"]))  # along the lever, as in the table
    heads = []
    for label in labels:
        setting = ", ".join(f"{k.split('.')[-1]}={_value(result.grid.loc[label, k])}"
                            for k in result.keys)
        heads.append(setting + (" (status quo)" if label == result.status_quo else ""))
    lines = ["| target | year | " + " | ".join(heads) + " |",
             "|---|---|" + "---|" * len(heads)]
    for target, block in t.groupby("target", sort=False):
        rows = block.set_index("label")
        cells = []
        for label in labels:
            if label not in rows.index:
                cells.append("")
                continue
            r = rows.loc[label]
            cell = _pct(r["p_met"])
            if label != result.status_quo and not math.isnan(r["p_met_diff"]):
                change = f"{100 * r['p_met_diff']:+.1f} pp"
                clear = r["p_met_diff_low"] > 0 or r["p_met_diff_high"] < 0
                cell += f" ({'**' + change + '**' if clear else change})"
            cells.append(cell)
        lines.append(f"| {target} | {int(block['year'].iloc[0])} | " + " | ".join(cells) + " |")
    return lines


def write_sweep_report(result: SweepResult, plots: bool = True) -> Path:
    """``sweep.json``, per-point target tables, ``sweep.csv``, ``differences.csv`` (vs the status
    quo), the curve chart(s) and a one-table ``report.md``; returns the report's path."""
    import matplotlib.pyplot as plt

    out = result.run_dir
    result.save_design()
    for label, r in result.results.items():
        write_outputs(r, out / label, plots=False)
    result.table().to_csv(out / "sweep.csv", index=False, encoding=CSV_ENCODING)
    result.differences().to_csv(out / "differences.csv", index=False, encoding=CSV_ENCODING)
    charts = []
    if plots:
        if len(result.keys) == 1:
            figures = {"sweep.png": result.plot()}
        else:
            figures = {f"sweep-{target}.png": result.plot(target)
                       for target in dict.fromkeys(result.table()["target"])}
        for name, fig in figures.items():
            fig.savefig(out / name, dpi=110)
            plt.close(fig)
            charts.append(name)
    s = result.results[result.status_quo].settings
    sq = ", ".join(f"`{k}` = {_value(v)}" for k, v in result.status_quo_setting().items())
    scenario = result.results[result.status_quo].scenario
    question = scenario.spec.question if scenario is not None else ""
    lines = ["# seisim sweep report", "",
             *([f"*Question:* {question}", ""] if question else []),
             f"- swept: {', '.join(f'`{k}`' for k in result.keys)}; {len(result.labels)} points "
             f"x {s['replications']} replications, seed {s['seed']}, engine {s['engine']}, on "
             "common random numbers",
             f"- status quo: {sq} (the scenario's own setting"
             + (", run as an extra point" if result.status_quo_extra else "") + ")",
             "- cells: P(target met); in brackets the change from the status quo in percentage "
             "points, paired by replication, **bold** when its 95% interval excludes zero "
             "(intervals in `sweep.csv`)", "",
             *sweep_markdown(result), "",
             "Tables: [sweep.csv](sweep.csv) (with intervals and value changes), "
             "[differences.csv](differences.csv); per point `<label>/targets.csv`; the resolved "
             "scenarios in `scenario.yaml`.", ""]
    lines += [f"![P(target met) against the lever]({name})\n" for name in charts]
    skipped = result.targets().loc[lambda d: d["p_met"].isna(), "target"].unique()
    if len(skipped):
        lines += [f"Not evaluated (no level set or not simulated): {', '.join(skipped)}", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path

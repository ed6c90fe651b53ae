"""Writing a back-test: tables, one fan chart per measure, and ``report.md``.

The directory is written under a temporary name and renamed when complete, so a crash never leaves
a half-written back-test that looks finished.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from sim.analysis.backtest import METHODS, BacktestResult  # noqa: E402
from sim.errors import InputError  # noqa: E402
from sim.outcomes import STATISTIC_COLUMNS  # noqa: E402
from sim.plans.statistics import MEASURES  # noqa: E402
from sim.csvfiles import CSV_ENCODING  # noqa: E402


def _fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float):
        return f"{x:,.{digits}g}" if abs(x) < 1000 else f"{x:,.0f}"
    return str(x)


def _pct(x) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"


def fan_plot(result: BacktestResult, measure: str, path: Path) -> None:
    """Forecast fans (median, 50% and 90% bands) from each origin, with the observed points."""
    column = STATISTIC_COLUMNS[measure]
    fans = result.fans[result.fans.column == column]
    observed = [s for s in result.statistics.items if s.measure == measure]
    fig, ax = plt.subplots(figsize=(7, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, origin in enumerate(result.origins):
        f = fans[(fans.origin == origin) & (fans.year > origin)]
        if f.empty:
            continue
        c = colours[k % len(colours)]
        ax.fill_between(f.year, f.q05, f.q95, color=c, alpha=0.12)
        ax.fill_between(f.year, f.q25, f.q75, color=c, alpha=0.25)
        ax.plot(f.year, f["median"], color=c, label=f"model, origin {origin}")
    scored = [s for s in observed if s.qualifier not in ("more_than", "at_least", "less_than")]
    bounds = [s for s in observed if s not in scored]
    ax.plot([s.time for s in scored], [s.value for s in scored], "ko", label="published")
    if bounds:
        ax.plot([s.time for s in bounds], [s.value for s in bounds], "k^", mfc="none",
                label="published bound")
    ax.set_title(MEASURES[measure].definition, fontsize=9)
    ax.set_xlabel("year")
    unit = MEASURES[measure].unit
    ax.set_ylabel("100 million yuan" if unit == "亿元" else unit)  # the default font has no CJK
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report_markdown(result: BacktestResult) -> str:
    table = result.table()
    lines = [f"# Back-test: {result.region} (plan version {result.version})", "",
             f"Origins {', '.join(map(str, result.origins))}; {result.replications} "
             f"replications per origin (seed {result.seed}); calibration spec "
             f"`{result.spec_file}`, refits with seed "
             f"{', '.join(map(str, sorted(set(result.calibration_seeds))))}; statistics "
             f"`{result.statistics.file}`.", "",
             "At each origin the model is calibrated on data dated at or before it (plan "
             "baselines and published statistics), starts from the latest plan baseline at or "
             "before it, and forecasts every later published statistic it simulates. The naive "
             "forecasts use the same data and are scored on the same points. Errors are in the "
             "measure's own unit (percentage points for shares and growth rates).", "",
             "## Headline table", "",
             "| measure | points | model MAE | model 90% coverage | model 50% coverage | "
             "no change MAE (n) | linear trend MAE (n) | plan path MAE (n) |",
             "|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        naive = [f"{_fmt(r[f'{m}_mae'])} ({r[f'{m}_n']})" for m in METHODS[1:]]
        lines.append(f"| {r['measure']} | {r['points']} | {_fmt(r['model_mae'])} | "
                     f"{_pct(r['model_coverage_90'])} | {_pct(r['model_coverage_50'])} | "
                     + " | ".join(naive) + " |")
    lines += ["", "A naive forecast's MAE is over its own points (n); `summary.csv` also gives "
              "the model's MAE on exactly those points (`model_mae_same_points`). The plan path "
              "exists only where the plan targets the same measure.", "",
              "## Summary by measure and method", "",
              "| measure | method | n | MAE | model MAE, same points | bias | CRPS | 50% cov. | "
              "90% cov. | mean PIT |", "|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in result.summary().iterrows():
        lines.append(f"| {r['measure']} | {r['method']} | {r['n']} | {_fmt(r['mae'])} | "
                     f"{_fmt(r['model_mae_same_points'])} | {_fmt(r['mean_bias'])} | "
                     f"{_fmt(r['crps'])} | {_pct(r['coverage_50'])} | {_pct(r['coverage_90'])} | "
                     f"{_fmt(r['pit_mean'], 2)} |")
    variants = sorted({f.label for f in result.fits})
    if len(variants) > 1:
        lines += ["", f"The model forecast pools {len(variants)} structural variants with equal "
                  f"weights ({', '.join(variants)}); `model[<spec>]` rows in the summary score "
                  "each variant alone on the same points."]
    lines += ["", "## Calibration at each origin", "",
              "| origin | spec | start year | moments | parameter | status | value | 5% | 95% | "
              "posterior/prior s.d. |", "|---|---|---|---|---|---|---|---|---|---|"]
    for fit in result.fits:
        for r in fit.summary_rows():
            lines.append(f"| {fit.origin} | {fit.label} | {fit.base_year} | {len(fit.moments)} | "
                         f"{r['parameter']} | {r['status']} | {_fmt(r['value'])} | "
                         f"{_fmt(r['q05'])} | {_fmt(r['q95'])} | "
                         f"{_fmt(r['posterior_to_prior_sd'], 2)} |")
    lines += ["", "'prior only': too few moments at that origin to fit it (a fit needs two more "
              "moments than free parameters); it is drawn from its prior in every replication. "
              "'prior-driven': fitted, but its posterior spread exceeds 0.7 of its prior's.", ""]
    model = result.points[result.points.method == "model"] if not result.points.empty else None
    # (per-variant rows are in points.csv; the table below shows the pooled forecast)
    if model is not None and len(model):
        lines += ["## Every scored point", "",
                  "| origin | statistic | period | horizon | observed | median | 90% band | PIT | "
                  "inside 90% | no change | trend | plan path |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        naive = result.points[result.points.method.isin(METHODS[1:])]
        for _, r in model.iterrows():
            same = naive[(naive.origin == r.origin) & (naive.statistic == r.statistic)]
            by = {m: same[same.method == m]["median"] for m in METHODS[1:]}
            cells = [_fmt(float(v.iloc[0])) if len(v) else "-" for v in by.values()]
            lines.append(f"| {r.origin} | {r.statistic} | {r.year} {r.period} | "
                         f"{r.horizon:g} | {_fmt(r.observed)} | {_fmt(r['median'])} | "
                         f"{_fmt(r.q05)}-{_fmt(r.q95)} | {r.pit:.2f} | "
                         f"{'yes' if r.inside_90 else 'no'} | " + " | ".join(cells) + " |")
            if r.note:
                lines[-1] += f" {r.note}"
    if not result.bounds.empty:
        lines += ["", "## Published bounds (not scored)", "",
                  "| origin | statistic | bound | median | replications on the right side |",
                  "|---|---|---|---|---|"]
        for _, r in result.bounds.iterrows():
            sign = "<" if r.qualifier == "less_than" else ">"
            lines.append(f"| {r.origin} | {r.statistic} | {sign} {_fmt(r.observed)} | "
                         f"{_fmt(r['median'])} | {_pct(r.share_consistent)} |")
    measures = sorted(set(result.points.measure)) if not result.points.empty else []
    lines += ["", "## Charts", ""] + [f"![{m}](fan-{m}.png)" for m in measures]
    if result.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result.notes]
    specs = " ".join(result.spec_file.split(", "))
    lines += ["", "Reproduce: `seisim backtest <scenario> --origins "
              f"{' '.join(map(str, result.origins))} --replications {result.replications} "
              f"--bootstrap {result.bootstrap} --seed {result.seed} --calibration {specs}"
              + (f" --calibration-seed {result.calibration_seed}"
                 if result.calibration_seed is not None else "") + "`"]
    return "\n".join(lines) + "\n"


def write_backtest(result: BacktestResult, out: str | Path) -> Path:
    """Write every table, chart and ``report.md`` into ``out`` (a new directory)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"output directory {out} exists and is not empty; choose another --out")
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    result.points.to_csv(tmp / "points.csv", index=False, encoding=CSV_ENCODING)
    if not result.points.empty:
        result.points.to_parquet(tmp / "points.parquet", index=False)
    result.bounds.to_csv(tmp / "bounds.csv", index=False, encoding=CSV_ENCODING)
    result.summary().to_csv(tmp / "summary.csv", index=False, encoding=CSV_ENCODING)
    result.table().to_csv(tmp / "table.csv", index=False, encoding=CSV_ENCODING)
    result.fans.to_csv(tmp / "fans.csv", index=False, encoding=CSV_ENCODING)
    pd.DataFrame([r for f in result.fits for r in f.summary_rows()]).to_csv(
        tmp / "calibration.csv", index=False, encoding=CSV_ENCODING)
    for measure in sorted(set(result.points.measure)) if not result.points.empty else []:
        fan_plot(result, measure, tmp / f"fan-{measure}.png")
    (tmp / "report.md").write_text(report_markdown(result), encoding="utf-8")
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return out

"""Target statistics from per-replication outcomes.

For each target: the probability it is met in its year (share of replications at or above the
threshold) with a Wilson score interval, the distribution of the simulated value, the shortfall, and
when it is first met. Comparisons of scenarios run on common random numbers use paired differences,
whose standard errors are far smaller than those of independent runs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.outcomes import TargetSpec

Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927); (nan, nan) when n == 0."""
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def by_target(outcomes: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The outcome rows of each target (replication order kept), split in one pass: selecting
    them target by target would scan the whole table once per target."""
    if not len(outcomes):
        return {}
    return dict(tuple(outcomes.groupby("target", sort=False)))


TARGET_COLUMNS = ["target", "indicator", "scope", "year", "threshold", "unit", "qualifier", "kind",
                  "replications", "p_met", "ci_low", "ci_high", "median", "q05", "q95", "mean",
                  "shortfall_median", "shortfall_q90", "first_met_median", "column", "rule",
                  "source", "note"]


def summarize_targets(outcomes: pd.DataFrame, specs: list[TargetSpec]) -> pd.DataFrame:
    """One row per target (tidy): probability met with 95% Wilson interval and value quantiles.

    Shortfall = threshold - value (positive when the target is missed), quantiles over all
    replications. Targets the model cannot evaluate are listed with the reason in ``note``.
    """
    rows = []
    groups = by_target(outcomes)
    for spec in specs:
        row = {"target": spec.id, "indicator": spec.indicator, "scope": spec.scope,
               "year": spec.year, "threshold": spec.threshold, "unit": spec.unit,
               "qualifier": spec.qualifier, "kind": spec.kind, "column": spec.column,
               "rule": spec.rule, "source": spec.source, "note": spec.reason}
        sub = groups.get(spec.id) if spec.simulated else None
        if sub is None or not len(sub):
            row.update(replications=0, p_met=np.nan, ci_low=np.nan, ci_high=np.nan)
            rows.append(row)
            continue
        values = sub["value"].to_numpy()
        n = len(values)
        if not spec.evaluable:  # simulated, but the plan sets no level: the distribution only
            row.update(replications=n, p_met=np.nan, ci_low=np.nan, ci_high=np.nan,
                       median=float(np.median(values)), q05=float(np.quantile(values, 0.05)),
                       q95=float(np.quantile(values, 0.95)), mean=float(values.mean()))
            rows.append(row)
            continue
        met = int((values >= spec.threshold).sum())
        low, high = wilson_interval(met, n)
        shortfall = spec.threshold - values
        first = sub["first_met_year"].to_numpy()
        # Never-met replications count as "later than any year", so the median is a year when
        # more than half of the replications reach the target, and missing otherwise.
        first_median = float(np.quantile(np.where(np.isnan(first), np.inf, first), 0.5,
                                         method="higher"))  # an actual year, not x.5
        row.update(
            replications=n, p_met=met / n, ci_low=low, ci_high=high,
            median=float(np.median(values)), q05=float(np.quantile(values, 0.05)),
            q95=float(np.quantile(values, 0.95)), mean=float(values.mean()),
            shortfall_median=float(np.median(shortfall)),
            shortfall_q90=float(np.quantile(shortfall, 0.9)),
            first_met_median=first_median if np.isfinite(first_median) else np.nan)
        rows.append(row)
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)


def first_met_distribution(outcomes: pd.DataFrame, specs: list[TargetSpec],
                           years: list[int]) -> pd.DataFrame:
    """Tidy: target, year, share of replications that first reach the target level that year, and
    the cumulative share reached by that year."""
    rows = []
    groups = by_target(outcomes)
    for spec in specs:
        if not spec.evaluable or spec.id not in groups:
            continue
        first = groups[spec.id]["first_met_year"].to_numpy()
        n = len(first)
        if n == 0:
            continue
        cumulative = 0.0
        for year in years:
            share = float((first == year).sum()) / n
            cumulative += share
            rows.append({"target": spec.id, "year": year, "p_first_met": share,
                         "p_met_by_year": cumulative})
    return pd.DataFrame(rows, columns=["target", "year", "p_first_met", "p_met_by_year"])


def paired_differences(outcomes_a: pd.DataFrame, outcomes_b: pd.DataFrame,
                       specs: list[TargetSpec]) -> pd.DataFrame:
    """B minus A per target, paired by replication (common random numbers): difference in the
    probability met and in the mean value, each with its standard error and 95% interval."""
    from scipy import stats  # here, not at the top: importing it takes about a second

    rows = []
    groups_a, groups_b = by_target(outcomes_a), by_target(outcomes_b)
    for spec in specs:
        if not spec.evaluable or spec.id not in groups_a or spec.id not in groups_b:
            continue
        a = groups_a[spec.id].set_index("replication")["value"]
        b = groups_b[spec.id].set_index("replication")["value"]
        common = a.index.intersection(b.index)
        if len(common) < 2:
            continue
        va, vb = a.loc[common].to_numpy(), b.loc[common].to_numpy()
        met_diff = (vb >= spec.threshold).astype(float) - (va >= spec.threshold).astype(float)
        val_diff = vb - va
        n = len(common)
        se_p = met_diff.std(ddof=1) / math.sqrt(n)
        se_v = val_diff.std(ddof=1) / math.sqrt(n)
        t = stats.t.ppf(0.975, n - 1)
        rows.append({"target": spec.id, "year": spec.year, "replications": n,
                     "p_met_a": (va >= spec.threshold).mean(),
                     "p_met_b": (vb >= spec.threshold).mean(),
                     "p_met_diff": met_diff.mean(), "p_met_diff_se": se_p,
                     "p_met_diff_low": met_diff.mean() - t * se_p,
                     "p_met_diff_high": met_diff.mean() + t * se_p,
                     "mean_diff": val_diff.mean(), "mean_diff_se": se_v,
                     "mean_diff_low": val_diff.mean() - t * se_v,
                     "mean_diff_high": val_diff.mean() + t * se_v})
    return pd.DataFrame(rows)


def annual_quantiles(annual: pd.DataFrame, column: str,
                     quantiles=(0.05, 0.25, 0.5, 0.75, 0.95)) -> pd.DataFrame:
    """Per year: quantiles of ``column`` across replications (for fan charts)."""
    grouped = annual.groupby("year")[column]
    out = grouped.quantile(list(quantiles)).unstack()
    out.columns = [f"q{int(round(q * 100)):02d}" for q in quantiles]
    out["mean"] = grouped.mean()
    return out.reset_index()

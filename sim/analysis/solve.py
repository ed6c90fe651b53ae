"""The lever size a target needs: the smallest lever value with P(target met) >= p.

P(met | v) is estimated by Monte Carlo at each trial value v with the same replication seeds
(common random numbers), which makes the estimated curve close to monotone in v. The search brackets
the crossing on a grid, then bisects. The answer carries an interval from the Monte Carlo error: the
lever values at which the 95% Wilson interval of P(met) first reaches p (upper bound of the interval
above p: the lower end) and lies wholly above p (the upper end). If even the upper bound of the lever
range does not reach p, the answer says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.targets import wilson_interval
from sim.experiments.design import run_design
from sim.experiments.seeding import check_seed
from sim.experiments.store import claim_directory
from sim.scenarios import Scenario


@dataclass
class SolveResult:
    """The smallest lever value meeting a probability, the P(met) curve it was read from, and a
    one-line ``message``; ``extra`` holds the target spec, the number of evaluations and (for the
    fund lever) the investment check."""

    lever: str
    prob: float
    target: str
    value: float | None                  # smallest lever value with estimated P >= prob
    interval: tuple[float | None, float | None]
    reachable: bool
    curve: pd.DataFrame                   # lever, p_met, ci_low, ci_high, n
    message: str
    extra: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        answer = f"value={self.value:.4g}" if self.reachable else "not reachable"
        return (f"SolveResult({self.lever} for P({self.target} met) >= {self.prob:.0%}: "
                f"{answer}, interval=({_fmt(self.interval[0])}, {_fmt(self.interval[1])}), "
                f"evaluations={len(self.curve)})")

    def summary(self) -> str:
        """Plain text: the answer and every lever value tried with P(met) and its interval."""
        lines = [f"Smallest {self.lever} with P({self.target} met) >= {self.prob:.0%}",
                 f"  {self.message}",
                 f"  {'lever':>10}  {'P(met)':>7}  95% interval   n"]
        for r in self.curve.itertuples():
            lines.append(f"  {r.lever:>10.4g}  {r.p_met:>7.1%}  {r.ci_low:5.1%}-{r.ci_high:5.1%}"
                         f"  {r.n}")
        return "\n".join(lines)

    def plot(self):
        """P(met) against the lever with 95% Wilson intervals, the probability asked for and the
        answer."""
        return plot_curve(self)


def solve_monotone(estimate: Callable[[float], tuple[int, int]], low: float, high: float,
                   prob: float, *, grid: int = 6, bisections: int = 5,
                   log_scale: bool = False) -> tuple[float | None, pd.DataFrame]:
    """Smallest v in [low, high] with estimated P(v) >= prob, for a non-decreasing P.

    ``estimate(v)`` returns (successes, trials). Returns (v or None, curve of all evaluations).
    """
    seen: dict[float, tuple[int, int]] = {}

    def p_at(v: float) -> float:
        if v not in seen:
            seen[v] = estimate(v)
        k, n = seen[v]
        return k / n

    points = (np.geomspace(low, high, grid) if log_scale and low > 0 else
              np.linspace(low, high, grid))
    values = [p_at(float(v)) for v in points]
    above = [i for i, p in enumerate(values) if p >= prob]
    answer = None
    if above:
        i = above[0]
        if i == 0:
            answer = float(points[0])
        else:
            lo, hi = float(points[i - 1]), float(points[i])
            for _ in range(bisections):
                mid = float(np.sqrt(lo * hi)) if log_scale and lo > 0 else 0.5 * (lo + hi)
                if p_at(mid) >= prob:
                    hi = mid
                else:
                    lo = mid
            answer = hi
    rows = []
    for v in sorted(seen):
        k, n = seen[v]
        ci = wilson_interval(k, n)
        rows.append({"lever": v, "p_met": k / n, "ci_low": ci[0], "ci_high": ci[1], "n": n})
    return answer, pd.DataFrame(rows)


def interval_from_curve(curve: pd.DataFrame, prob: float) -> tuple[float | None, float | None]:
    """Lever values where the Wilson interval first reaches ``prob`` and first lies above it."""
    reach = curve[curve["ci_high"] >= prob]
    clear = curve[curve["ci_low"] >= prob]
    return (float(reach["lever"].min()) if len(reach) else None,
            float(clear["lever"].min()) if len(clear) else None)


def solve(scenario: Scenario, target: str, lever: str, prob: float, bounds: tuple[float, float],
          run_dir: str | Path, *, replications: int = 200, seed: int | None = None,
          grid: int = 6, bisections: int = 5, log_scale: bool | None = None,
          **backend) -> SolveResult:
    """Smallest value of ``lever`` (a dotted key such as ``levers.fund.scale``) at which the
    probability of meeting ``target`` is at least ``prob``."""
    seed = check_seed(scenario.spec.monte_carlo.seed if seed is None else seed)
    # A lever the model cannot move fails here, in one line, before the directory is made.
    scenario.with_overrides({lever: bounds[0]}).model_inputs()
    run_dir = claim_directory(run_dir, "solve", {
        "scenario": scenario.resolved, "target": target, "lever": lever, "prob": prob,
        "bounds": list(bounds), "replications": replications, "seed": seed, "grid": grid,
        "bisections": bisections, "log_scale": log_scale})
    low, high = bounds
    if log_scale is None:
        log_scale = low > 0 and high / low >= 8
    counter = {"n": 0}
    spec_box: dict = {}

    def estimate(v: float) -> tuple[int, int]:
        counter["n"] += 1
        points = pd.DataFrame({lever: [v]})
        rows = run_design(scenario, points, run_dir / f"eval-{counter['n']:03d}",
                          replications=replications, crn=True, seed=seed, targets=[target],
                          **backend)
        spec = rows.attrs["specs"][0]
        spec_box["spec"] = spec
        values = rows.loc[rows["target"] == target, "value"].to_numpy()
        return int((values >= spec.threshold).sum()), len(values)

    value, curve = solve_monotone(estimate, low, high, prob, grid=grid, bisections=bisections,
                                  log_scale=log_scale)
    interval = interval_from_curve(curve, prob)
    spec = spec_box["spec"]
    if value is None:
        message = (f"not reachable within bounds: P({target} met) is at most "
                   f"{curve['p_met'].max():.1%} for {lever} in [{low:g}, {high:g}] "
                   f"(target {prob:.0%})")
    else:
        message = (f"{lever} >= {value:.4g} gives P({target} met) >= {prob:.0%} "
                   f"(Monte Carlo interval {_fmt(interval[0])} to {_fmt(interval[1])})")
    extra = {"spec": spec, "evaluations": counter["n"], "replications": replications}
    if lever.startswith("levers.fund."):
        # At the answer, or (when out of reach) at the largest value tried.
        at = value if value is not None else float(curve["lever"].max())
        check = fund_investment_check(scenario, {lever: at})
        extra["fund_check"] = check
        message += "; " + ("" if value is not None else f"at {lever} = {at:g}: ") \
            + check["message"]
    return SolveResult(lever, prob, target, value, interval, value is not None, curve, message,
                       extra)


#: Fund-driven investment above this share of the region's industrial investment is outside the
#: range the model can speak for: funds that large would change the investment climate itself
#: (prices of land and capital, the region's pool of projects), which the model represents only
#: through fixed crowding-out, land and deployment-capacity parameters.
FUND_INVESTMENT_LIMIT = 0.25


def fund_investment_check(scenario: Scenario, overrides: dict | None = None) -> dict:
    """Fund-driven project investment a year (fund money the funds can deploy x (1 + leverage)) of
    ``scenario`` with lever ``overrides`` (dotted keys), against the region's latest published
    industrial investment. Returns the figures and a one-line verdict; ``outside`` is True above
    the limit."""
    from sim.plans.statistics import load_statistics

    sc = scenario.with_overrides(overrides) if overrides else scenario
    driven = fund_driven_investment(sc.model_inputs())
    stats = load_statistics(sc.plan.region, sc.plan.file)
    found = [s for s in (stats.find("industrial_investment") if stats else [])
             if s.period == "year" and s.qualifier in ("exact", "about")]
    out = {"fund_driven_investment": driven, "industrial_investment": None, "year": None,
           "share": None, "outside": False}
    if not found:
        out["message"] = (f"fund-driven investment {driven:.4g} 亿元/yr; no published industrial "
                          f"investment of {sc.plan.region} to compare it with (add "
                          "industrial_investment to its statistics file)")
        return out
    latest = max(found, key=lambda s: s.year)
    share = driven / latest.value
    out.update(industrial_investment=latest.value, year=latest.year, share=share,
               outside=share > FUND_INVESTMENT_LIMIT)
    verdict = ("OUTSIDE the range the model can speak for (above "
               f"{FUND_INVESTMENT_LIMIT:.0%})" if out["outside"] else "within the model's range")
    out["message"] = (f"fund-driven investment {driven:.4g} 亿元/yr = {share:.0%} of the region's "
                      f"industrial investment ({latest.value:g} 亿元 in {latest.year}, "
                      f"{latest.source}): {verdict}")
    return out


def fund_driven_investment(inputs) -> float:
    """Project investment a year the funds drive: their yearly money, capped by what their
    deployment capacity lets them invest, times (1 + leverage)."""
    deployable = np.minimum(inputs.fund_inflow,
                            inputs.fund_max_deals * inputs.scalars["ticket"] * inputs.steps_per_year)
    return float((deployable * (1 + inputs.fund_leverage)).sum())


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def plot_curve(result: SolveResult):
    import matplotlib.pyplot as plt

    c = result.curve
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(c["lever"], c["p_met"], yerr=np.clip([c["p_met"] - c["ci_low"],
                                                      c["ci_high"] - c["p_met"]], 0, None),
                fmt="o-", capsize=3)
    ax.axhline(result.prob, color="C3", ls="--", label=f"P = {result.prob:.0%}")
    if result.value is not None:
        ax.axvline(result.value, color="C2", ls=":", label=f"answer {result.value:.3g}")
    c_pos = c["lever"][c["lever"] > 0]
    if len(c_pos) == len(c) and len(c) > 2 and c_pos.max() / c_pos.min() >= 8:
        ax.set_xscale("log")  # a lever searched over a wide positive range: equal ratios
    ax.set_xlabel(result.lever)
    ax.set_ylabel(f"P({result.target} met)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

"""Global sensitivity: which lever or uncertainty moves an outcome, via SALib.

Sobol indices (first order and total, with bootstrap confidence intervals; Saltelli sampling) and
Morris screening (mu*, sigma) on two outcomes per target: its simulated value in the target year
(mean over the replications of a design point) and the probability it is met (share of those
replications at or above the threshold). Design points share their replication seeds (common random
numbers), so simulation noise does not masquerade as sensitivity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.quality import emit, sensitivity_warnings
from sim.errors import InputError
from sim.experiments.design import run_design
from sim.experiments.seeding import check_seed
from sim.scenarios import Scenario


def salib_problem(factors: dict[str, tuple[float, float]]) -> dict:
    return {"num_vars": len(factors), "names": list(factors),
            "bounds": [list(v) for v in factors.values()]}


def point_outcomes(rows: pd.DataFrame, target: str, threshold: float) -> pd.DataFrame:
    """Per design point: mean value and share of replications meeting the threshold."""
    sub = rows[rows["target"] == target]
    grouped = sub.groupby("point")["value"]
    out = pd.DataFrame({"value": grouped.mean(),
                        "p_met": sub.assign(met=sub["value"] >= threshold)
                        .groupby("point")["met"].mean()})
    return out


def sensitivity(scenario: Scenario, factors: dict[str, tuple[float, float]], target: str,
                run_dir: str | Path, *, method: str = "sobol", samples: int = 64,
                replications: int = 8, seed: int | None = None,
                **backend) -> SensitivityResult:
    """Run the design and the SALib analysis; returns a :class:`SensitivityResult` and warns
    (:class:`~sim.errors.AnalysisWarning`) when it is too small to trust."""
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    problem = salib_problem(factors)
    seed = check_seed(scenario.spec.monte_carlo.seed if seed is None else seed)
    if method == "sobol":
        x = sobol_sample.sample(problem, samples, calc_second_order=False, seed=seed)
    elif method == "morris":
        x = morris_sample.sample(problem, samples, num_levels=4, seed=seed)
    else:
        raise InputError(f"unknown method '{method}' (sobol or morris)")
    points = pd.DataFrame(x, columns=problem["names"])
    rows = run_design(scenario, points, run_dir, replications=replications, crn=True, seed=seed,
                      targets=[target], **backend)
    spec = rows.attrs["specs"][0]
    per_point = point_outcomes(rows, target, spec.threshold).reindex(range(len(points)))
    if per_point.isna().any().any():
        raise RuntimeError(f"{int(per_point['value'].isna().sum())} design point(s) failed; "
                           "sensitivity indices need every point (see replications/failures/)")
    tables = []
    for outcome in ("value", "p_met"):
        y = per_point[outcome].to_numpy()
        if np.ptp(y) == 0:  # e.g. P(met) is 0 everywhere: no variance to apportion
            cols = (["S1", "S1_conf", "ST", "ST_conf"] if method == "sobol" else
                    ["mu_star", "mu_star_conf", "mu", "sigma"])
            table = pd.DataFrame({"factor": problem["names"], **{c: np.nan for c in cols}})
        elif method == "sobol":
            res = sobol_analyze.analyze(problem, y, calc_second_order=False, conf_level=0.95,
                                        seed=seed)
            table = pd.DataFrame({"factor": problem["names"], "S1": res["S1"],
                                  "S1_conf": res["S1_conf"], "ST": res["ST"],
                                  "ST_conf": res["ST_conf"]})
        else:
            res = morris_analyze.analyze(problem, x, y, conf_level=0.95, num_levels=4, seed=seed)
            table = pd.DataFrame({"factor": problem["names"], "mu_star": res["mu_star"],
                                  "mu_star_conf": res["mu_star_conf"], "mu": res["mu"],
                                  "sigma": res["sigma"]})
        table.insert(1, "outcome", f"{target}:{outcome}")
        tables.append(table)
    indices = pd.concat(tables, ignore_index=True)
    indices.attrs["constant_outcomes"] = [o for o in ("value", "p_met")
                                          if per_point[o].nunique() <= 1]
    result = SensitivityResult(indices, points.join(per_point), spec, method, problem, samples,
                               replications,
                               sensitivity_warnings(indices, method, samples, replications))
    emit(result.warnings)
    return result


@dataclass(eq=False)  # tables inside: compare results by identity
class SensitivityResult:
    """Sobol or Morris indices of the factors on a target's value and P(met).

    ``indices`` is tidy (factor, outcome, then S1/S1_conf/ST/ST_conf or mu_star/mu_star_conf/mu/
    sigma); ``points`` the design with each point's mean value and P(met). Item access
    (``result["indices"]``) works as for the plain mapping earlier versions returned."""

    indices: pd.DataFrame
    points: pd.DataFrame
    spec: object
    method: str
    problem: dict
    samples: int
    replications: int
    warnings: list[str] = field(default_factory=list)

    def __getitem__(self, key: str):
        return getattr(self, key)

    def __repr__(self) -> str:
        return (f"SensitivityResult({self.method}, target={self.spec.id!r}, "
                f"factors={len(self.problem['names'])}, points={len(self.points)}, "
                f"replications={self.replications}, warnings={len(self.warnings)})")

    @property
    def constant_outcomes(self) -> list[str]:
        return list(self.indices.attrs.get("constant_outcomes", []))

    def table(self) -> pd.DataFrame:
        """The indices, one row per outcome and factor, strongest factor first."""
        key = "ST" if self.method == "sobol" else "mu_star"
        order = {o: k for k, o in enumerate(dict.fromkeys(self.indices["outcome"]))}
        return (self.indices.assign(_o=self.indices["outcome"].map(order))
                .sort_values(["_o", key], ascending=[True, False], na_position="last")
                .drop(columns="_o").reset_index(drop=True))

    def summary(self) -> str:
        """Plain text: the design, each outcome's factors ranked with their intervals, and the
        warnings."""
        s = self.spec
        lines = [f"{'Sobol' if self.method == 'sobol' else 'Morris'} sensitivity of {s.id} "
                 f"({s.year}, threshold {s.threshold:g} {s.unit}): {len(self.points)} design "
                 f"points x {self.replications} replications (common random numbers), "
                 f"{self.samples} {'base samples' if self.method == 'sobol' else 'trajectories'}"]
        for outcome, t in self.table().groupby("outcome", sort=False):
            lines.append(f"  {outcome}"
                         + ("  constant: no variance to apportion"
                            if outcome.split(":")[-1] in self.constant_outcomes else ""))
            if outcome.split(":")[-1] in self.constant_outcomes:
                continue
            for r in t.itertuples():
                if self.method == "sobol":
                    lines.append(f"    {r.factor:<36} ST {r.ST:6.3f} +- {r.ST_conf:.3f}   "
                                 f"S1 {r.S1:6.3f} +- {r.S1_conf:.3f}")
                else:
                    lines.append(f"    {r.factor:<36} mu* {r.mu_star:10.4g} +- "
                                 f"{r.mu_star_conf:.4g}   sigma {r.sigma:.4g}")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def plot(self):
        """Bars of the indices with their 95% intervals, one panel per outcome."""
        return plot_indices(self.indices, self.method)


def plot_indices(indices: pd.DataFrame, method: str):
    """Bar chart of the indices with their 95% intervals, one panel per outcome."""
    import matplotlib.pyplot as plt

    outcomes = list(dict.fromkeys(indices["outcome"]))
    fig, axes = plt.subplots(1, len(outcomes), figsize=(5.5 * len(outcomes), 3.6), squeeze=False)
    for ax, outcome in zip(axes[0], outcomes):
        t = indices[indices["outcome"] == outcome]
        y = np.arange(len(t))
        if method == "sobol":
            ax.barh(y - 0.2, t["S1"], 0.4, xerr=t["S1_conf"], label="first order", capsize=2)
            ax.barh(y + 0.2, t["ST"], 0.4, xerr=t["ST_conf"], label="total", capsize=2)
            ax.set_xlabel("Sobol index (95% CI)")
        else:
            ax.barh(y, t["mu_star"], xerr=t["mu_star_conf"], capsize=2, label="mu*")
            ax.set_xlabel("Morris mu* (95% CI)")
        ax.set_yticks(y, t["factor"], fontsize=8)
        ax.set_title(outcome, fontsize=9)
        ax.axvline(0, color="k", lw=0.5)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

"""Scenario discovery: under which conditions is a target met (or missed)?

Latin-hypercube samples of the factors, one independent replication each, and the Patient Rule
Induction Method (Friedman & Fisher 1999) as implemented in EMA Workbench to find boxes in factor
space where the outcome of interest is concentrated. The coverage/density trade-off of the peeling
trajectory is returned so the analyst can pick a box.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import qmc

from sim.analysis.quality import discovery_warnings, emit
from sim.compat import prim_finder
from sim.experiments.design import run_design
from sim.experiments.seeding import check_seed
from sim.scenarios import Scenario


def latin_hypercube(factors: dict[str, tuple[float, float]], n: int, seed: int) -> pd.DataFrame:
    sampler = qmc.LatinHypercube(d=len(factors), seed=seed)
    unit = sampler.random(n)
    lows = np.array([v[0] for v in factors.values()])
    highs = np.array([v[1] for v in factors.values()])
    return pd.DataFrame(qmc.scale(unit, lows, highs), columns=list(factors))


def prim_boxes(x: pd.DataFrame, y: np.ndarray, *, threshold: float = 0.8,
               mass_min: float = 0.05, peel_alpha: float = 0.05):
    """Run EMA Workbench's PRIM on cases ``x`` with binary outcome ``y``; returns the first box
    (a ``PrimBox``: ``peeling_trajectory``, ``box_lims``, ``inspect``...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("EMA").setLevel(logging.ERROR)
        finder = prim_finder(x.reset_index(drop=True), np.asarray(y, bool), threshold=threshold,
                             mass_min=mass_min, peel_alpha=peel_alpha)
        return finder.find_box()


def choose_box(box, min_density: float = 0.8) -> int:
    """The trajectory step with the highest coverage among those of at least ``min_density``
    (the last step, i.e. the densest box, if none reaches it)."""
    traj = box.peeling_trajectory
    ok = traj[traj["density"] >= min_density]
    if not len(ok):
        return int(traj.index[-1])
    return int(ok["coverage"].idxmax())


def box_table(box, step: int, factors: dict) -> pd.DataFrame:
    """Restricted dimensions of the chosen box: factor, box low/high, full range."""
    rows = []
    if box is None:
        return pd.DataFrame(rows, columns=["factor", "box_low", "box_high", "range_low",
                                           "range_high"])
    lims, full = box.box_lims[step], box.box_lims[0]  # box_lims[0]: the sampled data's extent
    for name, (low, high) in factors.items():
        b_low, b_high = float(lims.loc[0, name]), float(lims.loc[1, name])
        if b_low > float(full.loc[0, name]) or b_high < float(full.loc[1, name]):
            rows.append({"factor": name, "box_low": b_low, "box_high": b_high,
                         "range_low": low, "range_high": high})
    return pd.DataFrame(rows, columns=["factor", "box_low", "box_high", "range_low",
                                       "range_high"])


def discover(scenario: Scenario, factors: dict, target: str, run_dir: str | Path, *,
             samples: int = 400, mode: str = "missed", density: float = 0.8,
             seed: int | None = None, **backend) -> DiscoveryResult:
    """Sample, simulate and run PRIM for the cases where ``target`` is met or missed; warns
    (:class:`~sim.errors.AnalysisWarning`) when the box is too weak to act on."""
    seed = check_seed(scenario.spec.monte_carlo.seed if seed is None else seed)
    points = latin_hypercube(factors, samples, seed)
    rows = run_design(scenario, points, run_dir, replications=1, crn=False, seed=seed,
                      targets=[target], **backend)
    spec = rows.attrs["specs"][0]
    values = rows[rows["target"] == target].set_index("point")["value"]
    cases = points.loc[values.index]
    met = values.to_numpy() >= spec.threshold
    y = ~met if mode == "missed" else met
    base = {"cases": cases.assign(met=met), "spec": spec, "mode": mode,
            "share_of_interest": float(y.mean()), "factors": dict(factors)}
    if y.all() or not y.any():
        word = "every" if y.all() else "no"
        result = DiscoveryResult(
            **base, box=None, step=None, trajectory=pd.DataFrame(),
            restrictions=box_table(None, None, factors),
            message=f"the target is {mode} in {word} sampled case: there are no conditions to "
                    "discover within these factor ranges")
    else:
        box = prim_boxes(cases, y, threshold=density)
        step = choose_box(box, density)
        traj = box.peeling_trajectory.copy()
        chosen = traj.loc[step]
        result = DiscoveryResult(
            **base, box=box, step=step, trajectory=traj,
            restrictions=box_table(box, step, factors),
            message=f"chosen box (step {step}): coverage {chosen['coverage']:.2f}, density "
                    f"{chosen['density']:.2f}, mass {chosen['mass']:.2f}, lift "
                    f"{chosen['density'] / y.mean():.2f} over the base rate {y.mean():.2f}")
    result.warnings = discovery_warnings(result.chosen, result.share_of_interest,
                                         int(y.sum()), len(y))
    emit(result.warnings)
    return result


@dataclass(eq=False)  # tables inside: compare results by identity
class DiscoveryResult:
    """A PRIM scenario discovery: the cases, the peeling trajectory (coverage/density trade-off)
    and the chosen box's restrictions. Item access (``result["restrictions"]``) works as for the
    plain mapping earlier versions returned."""

    cases: pd.DataFrame                 # sampled factors and whether the target was met
    spec: object
    mode: str                           # "missed" or "met": the outcome of interest
    share_of_interest: float            # base rate of the outcome of interest
    factors: dict
    box: object                         # EMA Workbench PrimBox, or None
    step: int | None                    # chosen step of the peeling trajectory
    trajectory: pd.DataFrame
    restrictions: pd.DataFrame          # factor, box_low, box_high, range_low, range_high
    message: str
    warnings: list[str] = field(default_factory=list)

    def __getitem__(self, key: str):
        return getattr(self, key)

    @property
    def chosen(self) -> dict | None:
        """Coverage, density, mass, restricted dimensions and lift of the chosen box."""
        if self.step is None:
            return None
        row = self.trajectory.loc[self.step]
        out = {k: float(row[k]) for k in ("coverage", "density", "mass", "res_dim") if k in row}
        out["lift"] = (out["density"] / self.share_of_interest if self.share_of_interest > 0
                       else float("nan"))
        return out

    def __repr__(self) -> str:
        c = self.chosen
        box = ("no box" if c is None else
               f"box coverage={c['coverage']:.2f} density={c['density']:.2f} "
               f"lift={c['lift']:.2f} restricts={len(self.restrictions)}")
        return (f"DiscoveryResult(target={self.spec.id!r}, {self.mode} in "
                f"{self.share_of_interest:.1%} of {len(self.cases)} cases, {box}, "
                f"warnings={len(self.warnings)})")

    def summary(self) -> str:
        """Plain text: base rate, chosen box with its restrictions, and the warnings."""
        lines = [f"PRIM: {self.spec.id} {self.mode} in {self.share_of_interest:.1%} of "
                 f"{len(self.cases)} sampled cases (one replication each)", f"  {self.message}"]
        for r in self.restrictions.itertuples():
            lines.append(f"    {r.factor:<36} {r.box_low:.4g} - {r.box_high:.4g}  (sampled "
                         f"{r.range_low:.4g} - {r.range_high:.4g})")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def plot_tradeoff(self):
        return plot_tradeoff(self.trajectory, self.step)

    def plot_box(self):
        return plot_box(self.restrictions)

    def plot(self):
        """The peeling trajectory (coverage against density) beside the chosen box."""
        import matplotlib.pyplot as plt

        if self.step is None:
            raise ValueError(f"no box to plot: {self.message}")
        fig, (left, right) = plt.subplots(
            1, 2, figsize=(12, max(4, 0.6 * len(self.restrictions) + 1.2)),
            gridspec_kw={"width_ratios": [1, 1.2]})
        plot_tradeoff(self.trajectory, self.step, ax=left)
        plot_box(self.restrictions, ax=right)
        fig.tight_layout()
        return fig


def plot_tradeoff(trajectory: pd.DataFrame, step: int, ax=None):
    import matplotlib.pyplot as plt

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.5, 4))
    sc = ax.scatter(trajectory["coverage"], trajectory["density"], c=trajectory["res_dim"],
                    cmap="viridis")
    ax.scatter([trajectory.loc[step, "coverage"]], [trajectory.loc[step, "density"]], s=120,
               facecolors="none", edgecolors="C3", label="chosen box")
    fig.colorbar(sc, ax=ax, label="restricted dimensions")
    ax.set_xlabel("coverage")
    ax.set_ylabel("density")
    ax.set_title("PRIM peeling trajectory")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_box(restrictions: pd.DataFrame, ax=None):
    import matplotlib.pyplot as plt

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(
        figsize=(6, 0.6 * max(len(restrictions), 1) + 1.2))
    for k, r in enumerate(restrictions.itertuples()):
        span = r.range_high - r.range_low
        ax.plot([0, 1], [k, k], color="0.8", lw=6)
        ax.plot([(r.box_low - r.range_low) / span, (r.box_high - r.range_low) / span], [k, k],
                color="C0", lw=6)
        ax.annotate(f"{r.box_low:.3g} - {r.box_high:.3g}", (1.02, k), va="center", fontsize=8)
    ax.set_yticks(range(len(restrictions)), restrictions["factor"], fontsize=8)
    ax.set_xlim(0, 1.35)
    ax.set_xlabel("position within the sampled range")
    ax.set_title("Chosen PRIM box (blue) within the factor ranges (grey)")
    fig.tight_layout()
    return fig

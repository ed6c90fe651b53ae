"""Scenario discovery: under which conditions is a target met (or missed)?

Latin-hypercube samples of the factors, one independent replication each, and the Patient Rule
Induction Method (Friedman & Fisher 1999) as implemented in EMA Workbench to find boxes in factor
space where the outcome of interest is concentrated. The coverage/density trade-off of the peeling
trajectory is returned so the analyst can pick a box.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import qmc

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
             seed: int | None = None, **backend) -> dict:
    """Sample, simulate and run PRIM for the cases where ``target`` is met or missed."""
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
            "share_of_interest": float(y.mean())}
    if y.all() or not y.any():
        word = "every" if y.all() else "no"
        return {**base, "box": None, "step": None, "trajectory": pd.DataFrame(),
                "restrictions": box_table(None, None, factors),
                "message": f"the target is {mode} in {word} sampled case: there are no "
                           "conditions to discover within these factor ranges"}
    box = prim_boxes(cases, y, threshold=density)
    step = choose_box(box, density)
    traj = box.peeling_trajectory.copy()
    chosen = traj.loc[step]
    return {**base, "box": box, "step": step, "trajectory": traj,
            "restrictions": box_table(box, step, factors),
            "message": f"chosen box (step {step}): coverage {chosen['coverage']:.2f}, density "
                       f"{chosen['density']:.2f}, mass {chosen['mass']:.2f}"}


def plot_tradeoff(trajectory: pd.DataFrame, step: int):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
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


def plot_box(restrictions: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 0.6 * max(len(restrictions), 1) + 1.2))
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

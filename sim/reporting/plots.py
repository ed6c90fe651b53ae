"""Matplotlib figures of Monte Carlo results. Each function returns a ``Figure`` the user can
restyle or save; nothing is shown or written here. Labels may be Chinese: the bundled CJK font is
registered on import (:mod:`sim.reporting.fonts`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.reporting.fonts import use_cjk_font
from sim.reporting.present import LIGHT_COLOURS, light

use_cjk_font()


FAN_LEGEND = {"band90": "90% of runs", "band50": "50% of runs", "median": "median"}


def fan_chart(quantiles: pd.DataFrame, *, targets: list[tuple[int, float, str]] = (),
              title: str = "", ylabel: str = "", ax=None, legend: dict | None = None):
    """Median and 50%/90% bands by year, with target markers (year, level, label); ``legend``
    words the bands (keys of :data:`FAN_LEGEND`) in another language."""
    use_cjk_font()  # again, in case a style or rcdefaults() reset the fonts
    words = {**FAN_LEGEND, **(legend or {})}
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 4.2))
    years = quantiles["year"]
    ax.fill_between(years, quantiles["q05"], quantiles["q95"], alpha=0.18, color="C0",
                    label=words["band90"])
    ax.fill_between(years, quantiles["q25"], quantiles["q75"], alpha=0.35, color="C0",
                    label=words["band50"])
    ax.plot(years, quantiles["q50"], color="C0", lw=2, label=words["median"])
    for year, level, label in targets:
        ax.axhline(level, color="C3", lw=1, ls="--")
        ax.plot([year], [level], marker="D", color="C3")
        ax.annotate(f"{label}: {level:g}" if label else f"{level:g}", (year, level), textcoords="offset points",
                    xytext=(-6, 6), ha="right", color="C3", fontsize=8)
    ax.set_xticks(list(years))
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def probability_chart(targets: pd.DataFrame, *, title: str = "Probability each target is met",
                      labels=None, xlabel: str = "P(target met)", ax=None):
    """Horizontal bars of P(met) with 95% Wilson intervals, one per evaluable target, top to
    bottom in the order given, coloured as traffic lights (green from 80%, amber from 50%, red
    below) and labelled with their value. ``labels`` (one per row of ``targets``) name the
    bars; by default the target key and year."""
    use_cjk_font()  # again, in case a style or rcdefaults() reset the fonts
    if labels is None:
        labels = [f"{r.target} ({r.year})" for r in targets.itertuples()]
    keep = targets["p_met"].notna().to_numpy()
    t = targets[keep].iloc[::-1]
    names = list(np.asarray(labels, dtype=object)[keep])[::-1]
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(
        figsize=(7.5, 0.35 * max(len(t), 3) + 1.2))
    y = np.arange(len(t))
    p = t["p_met"].to_numpy(dtype=float)
    ax.barh(y, p, color=[LIGHT_COLOURS[light(v)] for v in p], alpha=0.9)
    xerr = np.clip([p - t["ci_low"].to_numpy(float), t["ci_high"].to_numpy(float) - p], 0, None)
    ax.errorbar(p, y, xerr=xerr, fmt="none", ecolor="k", capsize=3, lw=1)
    for yi, (v, high) in enumerate(zip(p, t["ci_high"].to_numpy(float))):
        ax.text(min(high, 1.0) + 0.015, yi, f"{100 * v:.0f}%", va="center", fontsize=8)
    for edge in (0.5, 0.8):
        ax.axvline(edge, color="0.5", lw=0.8, ls=":")
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xlim(0, 1.1)
    ax.set_xticks(np.linspace(0, 1, 6), [f"{v:.0%}" for v in np.linspace(0, 1, 6)])
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def outcomes_chart(outcomes: pd.DataFrame, targets: pd.DataFrame, *, scope_kind: str,
                   title: str = "", ax=None, labels: dict | None = None):
    """Simulated target-year values relative to their targets (1 = exactly met), one box per
    industry or park target; ``labels`` (target key -> text) name the boxes."""
    use_cjk_font()  # again, in case a style or rcdefaults() reset the fonts
    rows = targets[targets["scope"].str.startswith(scope_kind + ":") & targets["p_met"].notna()]
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(
        figsize=(9, 0.45 * max(len(rows), 3) + 1.2))
    data, names = [], []
    for r in rows.itertuples():
        values = outcomes.loc[outcomes["target"] == r.target, "value"].to_numpy()
        data.append(values / r.threshold)
        names.append((labels or {}).get(r.target)
                     or f"{r.scope.split(':', 1)[1]} {r.indicator} ({r.year})")
    if data:
        ax.boxplot(data, orientation="horizontal", whis=(5, 95), showfliers=False)
        ax.set_yticks(range(1, len(names) + 1), names, fontsize=8)
    ax.axvline(1.0, color="C3", ls="--", lw=1)
    ax.set_xlabel("simulated / target (box: 25-75%, whiskers: 5-95%)")
    ax.set_title(title or f"{scope_kind.capitalize()} outcomes vs targets")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig

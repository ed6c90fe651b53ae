"""Matplotlib figures of Monte Carlo results. Each function returns a ``Figure`` the user can
restyle or save; nothing is shown or written here."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def fan_chart(quantiles: pd.DataFrame, *, targets: list[tuple[int, float, str]] = (),
              title: str = "", ylabel: str = "", ax=None):
    """Median and 50%/90% bands by year, with target markers (year, level, label)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 4.2))
    years = quantiles["year"]
    ax.fill_between(years, quantiles["q05"], quantiles["q95"], alpha=0.18, color="C0",
                    label="90% of runs")
    ax.fill_between(years, quantiles["q25"], quantiles["q75"], alpha=0.35, color="C0",
                    label="50% of runs")
    ax.plot(years, quantiles["q50"], color="C0", lw=2, label="median")
    for year, level, label in targets:
        ax.axhline(level, color="C3", lw=1, ls="--")
        ax.plot([year], [level], marker="D", color="C3")
        ax.annotate(f"{label}: {level:g}", (year, level), textcoords="offset points",
                    xytext=(-6, 6), ha="right", color="C3", fontsize=8)
    ax.set_xticks(list(years))
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def probability_chart(targets: pd.DataFrame, *, title: str = "Probability each target is met",
                      ax=None):
    """Horizontal bars of P(met) with 95% Wilson intervals, one per evaluable target."""
    t = targets.dropna(subset=["p_met"]).iloc[::-1]
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(
        figsize=(7, 0.35 * max(len(t), 3) + 1.2))
    y = np.arange(len(t))
    ax.barh(y, t["p_met"], color="C0", alpha=0.8)
    xerr = np.clip([t["p_met"] - t["ci_low"], t["ci_high"] - t["p_met"]], 0, None)
    ax.errorbar(t["p_met"], y, xerr=xerr,
                fmt="none", ecolor="k", capsize=3, lw=1)
    ax.set_yticks(y, [f"{r.target} ({r.year})" for r in t.itertuples()], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("P(target met)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def outcomes_chart(outcomes: pd.DataFrame, targets: pd.DataFrame, *, scope_kind: str,
                   title: str = "", ax=None):
    """Simulated target-year values relative to their targets (1 = exactly met), one box per
    industry or park target."""
    rows = targets[targets["scope"].str.startswith(scope_kind + ":") & targets["p_met"].notna()]
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(
        figsize=(7, 0.45 * max(len(rows), 3) + 1.2))
    data, labels = [], []
    for r in rows.itertuples():
        values = outcomes.loc[outcomes["target"] == r.target, "value"].to_numpy()
        data.append(values / r.threshold)
        labels.append(f"{r.scope.split(':', 1)[1]} {r.indicator} ({r.year})")
    if data:
        ax.boxplot(data, orientation="horizontal", whis=(5, 95), showfliers=False)
        ax.set_yticks(range(1, len(labels) + 1), labels, fontsize=8)
    ax.axvline(1.0, color="C3", ls="--", lw=1)
    ax.set_xlabel("simulated / target (box: 25-75%, whiskers: 5-95%)")
    ax.set_title(title or f"{scope_kind.capitalize()} outcomes vs targets")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig

"""Matplotlib figures of Monte Carlo results. Each function returns a ``Figure`` the user can
restyle or save; nothing is shown or written here. Labels may be Chinese: the bundled CJK font is
registered on import (:mod:`sim.reporting.fonts`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.analysis.targets import by_target
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
    groups = by_target(outcomes)
    for r in rows.itertuples():
        values = groups[r.target]["value"].to_numpy() if r.target in groups else np.empty(0)
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


def overlaid_fan_chart(quantiles: dict[str, pd.DataFrame], *,
                       targets: list[tuple[int, float, str]] = (), title: str = "",
                       ylabel: str = "", ax=None):
    """Several scenarios' fans on one axis, one colour each: the median as a line, the middle
    50% of runs as a band and the 5%/95% quantiles as thin dotted lines, with target markers
    (year, level, label). One shared axis is the point: scenarios are compared by eye."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(8, 4.6))
    years = []
    for k, (label, q) in enumerate(quantiles.items()):
        colour = f"C{k % 10}"
        ax.fill_between(q["year"], q["q25"], q["q75"], alpha=0.2, color=colour, lw=0)
        ax.plot(q["year"], q["q05"], color=colour, lw=0.8, ls=":")
        ax.plot(q["year"], q["q95"], color=colour, lw=0.8, ls=":")
        ax.plot(q["year"], q["q50"], color=colour, lw=2, label=f"{label}")
        years += list(q["year"])
    for year, level, label in targets:
        ax.plot([year], [level], marker="D", color="k", ls="none")
        ax.annotate(f"{label}: {level:g}", (year, level), textcoords="offset points",
                    xytext=(-6, 6), ha="right", fontsize=8)
    ax.set_xticks(sorted(set(years)))
    ax.set_title(title + ("\n" if title else "")
                 + "line: median; band: middle 50% of runs; dotted: 5% and 95%", fontsize=10)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def grouped_probability_chart(targets: pd.DataFrame, *, title: str = "", ax=None,
                              labels: dict[str, str] | None = None):
    """P(met) of each evaluable target, one bar per scenario side by side (tidy ``targets`` with
    a ``scenario`` column), with 95% Wilson intervals; ``labels`` names targets by id (default:
    the id and year)."""
    t = targets.dropna(subset=["p_met"])
    scenarios = list(dict.fromkeys(t["scenario"]))
    rows = list(dict.fromkeys(zip(t["target"], t["year"])))[::-1]
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(
        figsize=(8, 0.3 * max(len(rows), 2) * max(len(scenarios), 1) + 1.6))
    height = 0.8 / max(len(scenarios), 1)
    index = {key: k for k, key in enumerate(rows)}
    for j, label in enumerate(scenarios):
        sub = t[t["scenario"] == label]
        y = np.array([index[(r.target, r.year)] for r in sub.itertuples()], dtype=float)
        y = y + 0.4 - height * (j + 0.5)
        ax.barh(y, sub["p_met"], height, color=f"C{j % 10}", alpha=0.85, label=label)
        xerr = np.clip([sub["p_met"] - sub["ci_low"], sub["ci_high"] - sub["p_met"]], 0, None)
        ax.errorbar(sub["p_met"], y, xerr=xerr, fmt="none", ecolor="k", capsize=2, lw=0.8)
    labels = labels or {}
    ax.set_yticks(range(len(rows)), [labels.get(target, f"{target} ({int(year)})")
                                     for target, year in rows], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("P(target met), 95% interval")
    ax.set_title(title or "Probability each target is met, by scenario")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def sweep_chart(table: pd.DataFrame, *, lever: str, log_x: bool = False,
                status_quo: float | None = None, title: str = "", ax=None,
                legend: bool = True):
    """P(met) against a lever's value, one line per target (tidy ``table``: ``target``, the
    lever column, ``p_met``, ``ci_low``, ``ci_high``), with 95% intervals and the status quo
    marked."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7.5, 4.4))
    for k, (target, sub) in enumerate(table.groupby("target", sort=False)):
        sub = sub.sort_values(lever)
        yerr = np.clip([sub["p_met"] - sub["ci_low"], sub["ci_high"] - sub["p_met"]], 0, None)
        ax.errorbar(sub[lever], sub["p_met"], yerr=yerr, fmt="o-", capsize=3,
                    color=f"C{k % 10}", label=target)
    if status_quo is not None:
        ax.axvline(status_quo, color="0.4", ls="--", lw=1, label=f"status quo ({status_quo:g})")
    if log_x:
        ax.set_xscale("log")
        values = sorted(table[lever].unique())
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.minorticks_off()
    ax.set_xlabel(lever + (" (log scale)" if log_x else ""))
    ax.set_ylabel("P(target met), 95% interval")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

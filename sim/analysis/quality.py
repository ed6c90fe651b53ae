"""When an analysis is too small to trust, say so.

Sobol indices from a few dozen base samples come with bootstrap intervals as wide as the indices,
and sampling error can push a first-order index above its total index (impossible in theory); a PRIM
box found in a few dozen cases may be no denser than the data as a whole. The numbers are still
computed and shown, but each such result carries plain-language warnings that say what to change.
The rules look only at the result tables, so they can be checked on constructed tables.
"""

from __future__ import annotations

import math
import warnings

import pandas as pd

from sim.errors import AnalysisWarning

#: Fewer Saltelli base samples than this leave Sobol intervals of the order of the indices.
MIN_SOBOL_SAMPLES = 64
#: Fewer Morris trajectories than this make the mu* ranking unstable.
MIN_MORRIS_TRAJECTORIES = 10
#: An index whose 95% interval is wider than the index itself, with a half-width above this, is
#: not estimated at all (narrower intervals around a near-zero index just say "negligible").
CI_FLOOR = 0.1
#: S1 above ST by more than this (and more than the intervals allow) is sampling error.
S1_EXCESS_FLOOR = 0.05
#: A PRIM box must be this many times denser than the data as a whole to say anything.
MIN_LIFT = 1.25
#: A PRIM box holding less than this share of the cases of interest explains too few of them.
MIN_COVERAGE = 0.1
#: Fewer cases of interest than this cannot outline a box.
MIN_CASES_OF_INTEREST = 20


def sensitivity_warnings(indices: pd.DataFrame, method: str, samples: int,
                         replications: int) -> list[str]:
    """Warnings for a Sobol or Morris index table (``outcome``, ``factor`` and the index
    columns of :func:`sim.analysis.sensitivity.sensitivity`)."""
    out = []
    more = (f"rerun with more samples (now {samples}"
            + (f"; Sobol needs {MIN_SOBOL_SAMPLES} or more, a power of two" if method == "sobol"
               else f"; Morris needs {MIN_MORRIS_TRAJECTORIES} or more trajectories") + ")")
    if method == "sobol" and samples < MIN_SOBOL_SAMPLES or \
            method == "morris" and samples < MIN_MORRIS_TRAJECTORIES:
        out.append(f"too few samples for stable indices: {more}")
    for outcome, t in indices.groupby("outcome", sort=False):
        if t.drop(columns=["factor", "outcome"]).isna().all().all():
            continue  # a constant outcome: reported separately, nothing to estimate
        if method == "sobol":
            wide = [f"{r.factor} {name} {getattr(r, name):.2f} +- {getattr(r, name + '_conf'):.2f}"
                    for r in t.itertuples() for name in ("S1", "ST")
                    if 2 * getattr(r, name + "_conf") > abs(getattr(r, name))
                    and getattr(r, name + "_conf") > CI_FLOOR]
            if wide:
                out.append(f"{outcome}: 95% intervals wider than the indices themselves "
                           f"({'; '.join(wide[:3])}{'; ...' if len(wide) > 3 else ''}): the "
                           f"ranking is not established; {more}")
            excess = [f"{r.factor} S1 {r.S1:.2f} > ST {r.ST:.2f}" for r in t.itertuples()
                      if r.S1 - r.ST > max(S1_EXCESS_FLOOR, math.hypot(r.S1_conf, r.ST_conf))]
            if excess:
                out.append(f"{outcome}: first-order index above the total index beyond sampling "
                           f"error ({'; '.join(excess[:3])}), which cannot happen in theory: the "
                           f"estimates are dominated by noise; {more}")
        else:
            top = t.sort_values("mu_star", ascending=False).iloc[0]
            if top["mu_star_conf"] > top["mu_star"]:
                out.append(f"{outcome}: the 95% interval of the top factor's mu* "
                           f"({top['factor']}: {top['mu_star']:.3g} +- {top['mu_star_conf']:.3g}) "
                           f"is wider than mu* itself: the ranking is not established; {more}")
    p_met = indices[indices["outcome"].str.endswith(":p_met")]
    if replications < 8 and p_met.drop(columns=["factor", "outcome"]).notna().any().any():
        out.append(f"P(met) at each design point rests on {replications} replication(s), so it "
                   f"moves in steps of {1 / replications:.2g}: use --replications 8 or more for "
                   "the p_met indices")
    return out


def discovery_warnings(chosen: dict | None, base_rate: float, cases_of_interest: int,
                       cases: int) -> list[str]:
    """Warnings for a PRIM box: ``chosen`` holds its ``coverage`` and ``density`` (None when no
    box was searched); ``base_rate`` is the share of cases of interest among all ``cases``."""
    out = []
    more = f"rerun with more samples (now {cases}; --samples)"
    if cases_of_interest < MIN_CASES_OF_INTEREST:
        out.append(f"only {cases_of_interest} case(s) of interest among {cases}: too few to "
                   f"outline conditions; {more}")
    if chosen is None:
        return out
    lift = chosen["density"] / base_rate if base_rate > 0 else math.inf
    if lift < MIN_LIFT:
        out.append(f"the box is hardly denser than the data as a whole (density "
                   f"{chosen['density']:.2f} vs base rate {base_rate:.2f}, lift {lift:.2f} < "
                   f"{MIN_LIFT}): it does not single out conditions; {more}, or widen the factor "
                   "ranges")
    if chosen["coverage"] < MIN_COVERAGE:
        out.append(f"the box holds only {chosen['coverage']:.0%} of the cases of interest: it "
                   f"explains few of them; {more}, or choose a box with lower density "
                   "(--density)")
    return out


def emit(messages: list[str]) -> None:
    """Each message as an :class:`~sim.errors.AnalysisWarning`, attributed to the code that called
    the public function (``sim.sensitivity``...) rather than to the library."""
    for message in messages:
        warnings.warn(message, AnalysisWarning, stacklevel=4)  # the caller of sim.*

"""Synthetic firm population matching a :class:`~sim.model.baseline.Baseline` exactly.

Firm sizes are heavy-tailed (Pareto with tail ``firms.pareto_alpha``). Counts and sizes are drawn per
park-industry cell and then fitted so that

* every cell's above-scale output equals the baseline cell output (hence industry and park totals
  are exact),
* every above-scale firm is at or above the statistical threshold (a cell whose whole output is
  below the threshold gets one firm of that output, which the statistics then miss),
* exactly the plan's number of very large firms (e.g. 百亿级) exceed their threshold where the plan
  gives that count and the cell outputs allow it.

Sub-threshold firms (candidates for crossing into the statistics) are added on top; they do not count
in the baseline figures because the statistics ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.baseline import Baseline
from sim.model.params import ModelParams


@dataclass
class Population:
    """Initial firm columns (one entry per firm)."""

    output: np.ndarray     # 亿元 per year
    industry: np.ndarray   # index into Baseline.industries
    park: np.ndarray       # index into Baseline.parks
    rd: np.ndarray         # R&D intensity (fraction of output)
    age: np.ndarray        # years
    notes: list[str]

    def __len__(self) -> int:
        return len(self.output)


def allocate_counts(cell_output: np.ndarray, total: int) -> np.ndarray:
    """Firm counts per cell proportional to output (largest remainder), at least one per non-empty
    cell."""
    flat = cell_output.ravel()
    positive = flat > 0
    counts = np.zeros(flat.size, dtype=np.int64)
    if not positive.any():
        return counts.reshape(cell_output.shape)
    total = max(int(total), int(positive.sum()))
    share = flat / flat.sum() * total
    counts[positive] = np.maximum(1, np.floor(share[positive]).astype(np.int64))
    remaining = total - counts.sum()
    if remaining > 0:
        order = np.argsort(-(share - np.floor(share)) * positive, kind="stable")
        for k in order[:remaining]:
            counts[k] += 1
    elif remaining < 0:
        order = np.argsort(share - counts, kind="stable")
        for k in order:
            if remaining == 0:
                break
            if counts[k] > 1:
                counts[k] -= 1
                remaining += 1
    return counts.reshape(cell_output.shape)


def allocate_big_firms(cell_output: np.ndarray, counts: np.ndarray, n_big: int, big: float,
                       threshold: float) -> tuple[np.ndarray, int]:
    """Place ``n_big`` firms of at least ``big`` in cells that can hold them; returns per-cell big
    counts and how many could not be placed."""
    flat_out, flat_n = cell_output.ravel(), counts.ravel()
    bigs = np.zeros_like(flat_n)
    for _ in range(n_big):
        slack = flat_out - big * (bigs + 1) - threshold * (flat_n - bigs - 1)
        feasible = (slack >= 0) & (bigs < flat_n)
        if not feasible.any():
            break
        score = np.where(feasible, flat_out / (bigs + 1), -np.inf)
        bigs[int(np.argmax(score))] += 1
    return bigs.reshape(counts.shape), int(n_big - bigs.sum())


def _clipped_sum(c: np.ndarray, raw, lower, upper) -> np.ndarray:
    """sum_i clip(c * raw_i, lower_i, upper_i) for every value in ``c``, in O((n + m) log n).

    Firm i is at its lower bound while c < lower_i / raw_i, at its upper bound once
    c >= upper_i / raw_i, and equal to c * raw_i in between; sorted breakpoints and cumulative sums
    give the three groups' totals for each c.
    """
    a, b = lower / raw, upper / raw
    oa, ob = np.argsort(a), np.argsort(b)
    a_sorted, b_sorted = a[oa], b[ob]
    cum_lo = np.concatenate([[0.0], np.cumsum(lower[oa])])
    cum_ra = np.concatenate([[0.0], np.cumsum(raw[oa])])
    finite_hi = np.where(np.isfinite(upper[ob]), upper[ob], 0.0)
    cum_hi = np.concatenate([[0.0], np.cumsum(finite_hi)])
    cum_rb = np.concatenate([[0.0], np.cumsum(raw[ob])])
    na = np.searchsorted(a_sorted, c, side="right")
    nb = np.searchsorted(b_sorted, c, side="right")
    return (cum_lo[-1] - cum_lo[na]) + c * (cum_ra[na] - cum_rb[nb]) + cum_hi[nb]


def fit_sizes(raw: np.ndarray, total: float, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Scale ``raw`` sizes by one factor ``c``, clipped to [lower, upper], so they sum to ``total``.

    f(c) = sum(clip(c * raw, lower, upper)) is piecewise linear and non-decreasing in c, with kinks
    where a firm hits a bound; we evaluate it at every kink and interpolate exactly in the segment
    that brackets ``total``. Requires sum(lower) <= total <= sum(upper).
    """
    finite = np.isfinite(upper)
    kinks = np.unique(np.concatenate([lower / raw, upper[finite] / raw[finite]]))
    sums = _clipped_sum(kinks, raw, lower, upper)
    k = int(np.searchsorted(sums, total))
    if k == 0:
        c = kinks[0]
    elif k == len(kinks):
        free = upper == np.inf
        base = np.clip(kinks[-1] * raw, lower, upper)
        c = kinks[-1] + (total - base.sum()) / raw[free].sum() if free.any() else kinks[-1]
    else:
        c0, c1, s0, s1 = kinks[k - 1], kinks[k], sums[k - 1], sums[k]
        c = c0 + (c1 - c0) * (total - s0) / (s1 - s0) if s1 > s0 else c1
    sizes = np.clip(c * raw, lower, upper)
    free = (sizes > lower) & (sizes < upper)
    excess = sizes.sum() - total
    if free.any():
        sizes[free] -= excess * sizes[free] / sizes[free].sum()
    return sizes


def build_population(baseline: Baseline, params: ModelParams, rng: np.random.Generator
                     ) -> Population:
    """Draw a synthetic firm population for ``baseline`` (see module docstring)."""
    fp = params.firms
    thr = fp.above_scale_threshold
    notes: list[str] = []
    cell = baseline.cell_output
    counts = allocate_counts(cell, baseline.above_scale_firms)
    big = baseline.big_firm_threshold
    bigs = np.zeros_like(counts)
    if big is not None and baseline.big_firms > 0:
        bigs, unplaced = allocate_big_firms(cell, counts, baseline.big_firms, big, thr)
        if unplaced:
            notes.append(f"{unplaced} of {baseline.big_firms} firms above {big:g} 亿元 could not "
                         "be placed within the cell outputs")
    too_small = counts * thr > cell + 1e-12
    if too_small.any():
        # Fewer firms where the cell's output cannot keep them all above the threshold.
        counts = np.where(too_small, np.maximum(1, np.floor(cell / thr)).astype(np.int64), counts)
    outputs, industries, parks = [], [], []
    n_parks, n_ind = cell.shape
    for p in range(n_parks):
        for j in range(n_ind):
            n, b, total = int(counts[p, j]), int(bigs[p, j]), float(cell[p, j])
            if n == 0 or total <= 0:
                continue
            raw = np.sort(rng.pareto(fp.pareto_alpha, n) + 1.0)[::-1]
            lower = np.full(n, min(thr, total / n))
            upper = np.full(n, np.inf)
            if big is not None:
                lower[:b] = big
                upper[b:] = np.nextafter(big, 0)
                if total > lower[:b].sum() + upper[b:].sum():
                    upper[b:] = np.inf  # the plan's count cannot hold: let the tail exceed it
                    notes.append(f"cell {baseline.parks[p]}/{baseline.industries[j]}: output too "
                                 f"large for {b} firms above {big:g}; more are allowed")
            outputs.append(fit_sizes(raw, total, lower, upper))
            industries.append(np.full(n, j))
            parks.append(np.full(n, p))
    above = np.concatenate(outputs)
    ind = np.concatenate(industries)
    park = np.concatenate(parks)

    # Sub-threshold firms, spread over cells in proportion to their above-scale counts.
    n_sub = int(round(fp.subscale_ratio * len(above)))
    if n_sub:
        weights = counts.ravel() / counts.sum()
        cells = rng.choice(weights.size, size=n_sub, p=weights)
        sub = thr * np.exp(-np.abs(rng.standard_normal(n_sub)) * fp.subscale_log_sd - 1e-3)
        above = np.concatenate([above, sub])
        ind = np.concatenate([ind, cells % n_ind])
        park = np.concatenate([park, cells // n_ind])
    n = len(above)
    rd = baseline.rd_mean * np.exp(fp.rd_log_sd * rng.standard_normal(n) - 0.5 * fp.rd_log_sd ** 2)
    age = rng.exponential(10.0, n)
    return Population(above, ind.astype(np.int64), park.astype(np.int64), rd, age, notes)

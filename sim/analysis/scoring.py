"""Scores for a rolling-origin back-test of ensemble forecasts against later observations.

At each forecast origin the simulator gives an ensemble (Monte Carlo draws) for an indicator at a
later time, and the same time is also forecast by simple benchmarks. Each score answers one
question:

* **Central-interval coverage** (``inside``, ``coverage_50``/``coverage_90`` in ``summarise``): do
  the 50% and 90% intervals contain the observation about 50% and 90% of the time? This is the
  simplest check of whether the spread is honest: too narrow an ensemble covers too rarely.
* **PIT** (``pit``): where the observation falls in the ensemble, as a probability. For a
  calibrated forecast PIT values are uniform on [0, 1]; a mean well away from 0.5 shows bias, a
  U shape over-confidence and a hump under-confidence. Ties are handled by the mid-rank, so the
  score is deterministic (no randomisation).
* **CRPS** (``crps_ensemble``): a proper score that rewards both sharpness and calibration, in the
  units of the indicator. It reduces to the absolute error for a point forecast, so the ensemble
  can be compared directly with the naive benchmarks' mean absolute error.
* **Bias and MAE of the median**: the plain accuracy of the central forecast, easy to read next to
  the benchmarks.

The benchmarks (``naive_no_change``, ``naive_linear_trend``, ``naive_plan_path``) are what a
simulator has to beat to be worth its cost: persistence, a local trend, and taking the plan's own
straight line from base year to target year at face value.

Non-finite ensemble members (NaN, which is how failed replications are recorded, or infinite) are
dropped before scoring. Times are floats in years; a half year may be written as e.g. 2021.25.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

DEFAULT_PROBS: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)


def _finite(samples: Iterable[float] | np.ndarray) -> np.ndarray:
    """The finite members of an ensemble as a flat float array (NaN and +-inf dropped)."""
    x = np.asarray(samples, dtype=float).ravel()
    return x[np.isfinite(x)]


def _missing(value: float | None) -> bool:
    """True for None or NaN: a value that cannot be scored."""
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def quantiles(samples: np.ndarray, probs: Sequence[float] = DEFAULT_PROBS) -> np.ndarray:
    """Empirical quantiles of a 1-D ensemble (numpy 'linear' method), NaNs dropped.

    All NaN when the ensemble has no finite member, so a failed forecast stays visible.
    """
    p = np.asarray(probs, dtype=float)
    x = _finite(samples)
    if x.size == 0:
        return np.full(p.shape, np.nan)
    return np.quantile(x, p, method="linear")


def pit(samples: np.ndarray, observed: float) -> float:
    """Probability integral transform of ``observed`` under the ensemble, with mid-rank ties.

    ``(count(s < y) + 0.5 * count(s == y)) / n``: deterministic, unlike the randomised version, and
    0.5 for an observation equal to every member. NaN if there is no finite sample or the
    observation is missing.
    """
    x = _finite(samples)
    if x.size == 0 or _missing(observed):
        return math.nan
    y = float(observed)
    below = np.count_nonzero(x < y)
    equal = np.count_nonzero(x == y)
    return float((below + 0.5 * equal) / x.size)


def central_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """Equal-tailed central interval holding ``level`` of the ensemble (0.9 -> (q05, q95)).

    Equal tails make coverage failures interpretable: misses above and below are expected equally
    often.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
    tail = (1.0 - level) / 2.0
    low, high = quantiles(samples, (tail, 1.0 - tail))
    return float(low), float(high)


def inside(samples: np.ndarray, observed: float, level: float) -> bool:
    """Whether ``observed`` lies in the closed central ``level`` interval of the ensemble.

    False when the observation is missing or the ensemble has no finite member.
    """
    low, high = central_interval(samples, level)
    if _missing(observed):
        return False
    return bool(low <= float(observed) <= high)


def crps_ensemble(samples: np.ndarray, observed: float) -> float:
    """Continuous ranked probability score of the empirical ensemble distribution; lower is better.

    CRPS = E|X - y| - 0.5 E|X - X'|, with X, X' independent draws from the ensemble: the exact CRPS
    of the empirical CDF (not the 'fair' n/(n-1) variant). For a single-sample ensemble, i.e. a
    point forecast x, it equals |x - y|, so the naive point forecasts get a CRPS equal to their
    absolute error and the two are directly comparable.

    E|X - X'| is computed in O(n log n) from the sorted sample x_(1) <= ... <= x_(n):
    sum_{i,j} |x_i - x_j| = 2 * sum_i (2i - n - 1) x_(i), instead of the O(n^2) double sum.
    NaN if there is no finite sample or the observation is missing.
    """
    x = _finite(samples)
    if x.size == 0 or _missing(observed):
        return math.nan
    y = float(observed)
    n = x.size
    x.sort()
    weights = 2.0 * np.arange(1, n + 1) - n - 1.0
    mean_abs_error = np.mean(np.abs(x - y))
    # 0.5 * E|X - X'| = 0.5 * (2 / n^2) * sum_i (2i - n - 1) x_(i)
    half_spread = float(np.dot(weights, x)) / (n * n)
    return float(mean_abs_error - half_spread)


def _observations_up_to(history: Mapping[float, float | None],
                        origin: float) -> list[tuple[float, float]]:
    """(time, value) pairs with time <= origin and a usable value, sorted by time."""
    pairs = [(float(t), float(v)) for t, v in history.items()
             if float(t) <= origin and not _missing(v)]
    return sorted(pairs)


def naive_no_change(history: Mapping[float, float | None], origin: float,
                    target_time: float) -> float | None:
    """Persistence forecast: the latest observation at or before ``origin``; None if there is none.

    ``target_time`` does not change the forecast; it is accepted so all benchmarks share one call.
    Missing values (None or NaN) in ``history`` are ignored.
    """
    del target_time  # the no-change forecast is flat
    obs = _observations_up_to(history, origin)
    if not obs:
        return None
    return obs[-1][1]


def naive_linear_trend(history: Mapping[float, float | None], origin: float, target_time: float,
                       window: int = 3) -> float | None:
    """Least-squares line through the last ``window`` observations at or before ``origin``.

    Uses fewer points when fewer exist but at least two; None with fewer than two. The line is
    evaluated at ``target_time``. Missing values (None or NaN) in ``history`` are ignored.
    """
    if window < 2:
        raise ValueError(f"window must be at least 2, got {window!r}")
    obs = _observations_up_to(history, origin)[-window:]
    if len(obs) < 2:
        return None
    t = np.array([p[0] for p in obs])
    v = np.array([p[1] for p in obs])
    # centred OLS: exact for year-sized abscissae, and times are distinct (they are dict keys)
    t_mean, v_mean = t.mean(), v.mean()
    slope = float(np.dot(t - t_mean, v - v_mean) / np.dot(t - t_mean, t - t_mean))
    return float(v_mean + slope * (float(target_time) - t_mean))


def naive_plan_path(base_time: float | None, base_value: float | None,
                    target_time_plan: float | None, target_value: float | None,
                    t: float | None) -> float | None:
    """The plan's straight line from (base_time, base_value) to (target_time_plan, target_value).

    Linear in the value (not in logs), interpolated or extrapolated to time ``t``: the forecast of
    someone who takes the plan at its word. None if any input is None (or NaN).
    """
    args = (base_time, base_value, target_time_plan, target_value, t)
    if any(_missing(a) for a in args):
        return None
    t0, v0, t1, v1, tt = (float(a) for a in args)
    if t1 == t0:
        raise ValueError(f"plan target time equals base time ({t0}); the plan path is undefined")
    return v0 + (v1 - v0) * (tt - t0) / (t1 - t0)


def _mean_or_none(values: list[float]) -> float | None:
    """Mean of a list, None when it is empty."""
    return float(np.mean(values)) if values else None


def summarise(rows: list[dict]) -> dict:
    """Aggregate per-forecast scores into coverage, bias, MAE, mean CRPS and mean PIT.

    Each row has 'observed', 'median', 'pit' (NaN for point forecasts), 'inside_50' and
    'inside_90' (bool, or None for point forecasts) and 'crps'. Rows whose 'median' (or
    'observed') is missing are skipped and not counted. Coverages are over the rows with intervals
    (None if there are none); 'pit_mean' and 'crps' are over the rows where they are finite (None
    if none); 'mean_bias' is the mean of median - observed and 'mae' the mean |median - observed|.
    """
    used = [r for r in rows if not _missing(r.get("median")) and not _missing(r.get("observed"))]
    errors = [float(r["median"]) - float(r["observed"]) for r in used]
    in50 = [bool(r["inside_50"]) for r in used if r.get("inside_50") is not None]
    in90 = [bool(r["inside_90"]) for r in used if r.get("inside_90") is not None]
    pits = [float(r["pit"]) for r in used if not _missing(r.get("pit"))]
    crps = [float(r["crps"]) for r in used if not _missing(r.get("crps"))]
    return {
        "n": len(used),
        "coverage_50": _mean_or_none([float(b) for b in in50]),
        "coverage_90": _mean_or_none([float(b) for b in in90]),
        "mean_bias": _mean_or_none(errors),
        "mae": _mean_or_none([abs(e) for e in errors]),
        "crps": _mean_or_none(crps),
        "pit_mean": _mean_or_none(pits),
    }

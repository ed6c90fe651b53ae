"""Forecast scores of the rolling-origin back-test (``sim.analysis.scoring``) against cases
computed by hand, brute force and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.analysis.scoring import (central_interval, crps_ensemble, inside, naive_linear_trend,
                                  naive_no_change, naive_plan_path, pit, quantiles, summarise)

NAN = float("nan")


# ---------------------------------------------------------------- quantiles and intervals

def test_quantiles_linear_method_and_nan_dropped():
    # [1..5]: linear position p * (n - 1) = 0.2, 1, 2, 3, 3.8 -> 1.2, 2, 3, 4, 4.8
    q = quantiles(np.array([5.0, NAN, 1.0, 3.0, 2.0, 4.0]))
    np.testing.assert_allclose(q, [1.2, 2.0, 3.0, 4.0, 4.8])
    assert np.isnan(quantiles(np.array([NAN, NAN]), (0.5,))).all()


def test_central_interval_and_closed_inside():
    s = np.arange(11.0)  # 0..10; q05 at position 0.5 -> 0.5, q95 at 9.5 -> 9.5
    assert central_interval(s, 0.9) == pytest.approx((0.5, 9.5))
    # 50%: q25 at position 2.5 -> 2.5, q75 at 7.5 -> 7.5
    assert central_interval(s, 0.5) == pytest.approx((2.5, 7.5))
    assert inside(s, 9.5, 0.9) and inside(s, 0.5, 0.9)  # the interval is closed
    assert not inside(s, 9.6, 0.9) and not inside(s, 0.4, 0.9)
    assert not inside(s, 8.0, 0.5)
    assert not inside(s, NAN, 0.9)
    with pytest.raises(ValueError):
        central_interval(s, 1.0)


# ---------------------------------------------------------------- PIT

@pytest.mark.parametrize("y, expected", [
    (0.0, 0.0),   # below every member: 0 / 5
    (6.0, 1.0),   # above every member: 5 / 5
    (2.0, 0.4),   # one below, two ties: (1 + 0.5 * 2) / 5
    (4.0, 0.8),   # four below, no tie: 4 / 5
    (5.0, 0.9),   # four below, one tie with the maximum: (4 + 0.5) / 5
    (1.0, 0.1),   # tie with the minimum: (0 + 0.5) / 5
])
def test_pit_mid_rank(y, expected):
    assert pit(np.array([3.0, 2.0, 1.0, 5.0, 2.0]), y) == pytest.approx(expected)


def test_pit_all_tied_and_missing():
    assert pit(np.array([7.0, 7.0, 7.0]), 7.0) == pytest.approx(0.5)  # (0 + 0.5 * 3) / 3
    assert pit(np.array([1.0, NAN, 3.0]), 2.0) == pytest.approx(0.5)  # NaN dropped: 1 / 2
    assert math.isnan(pit(np.array([NAN, NAN]), 2.0))
    assert math.isnan(pit(np.array([]), 2.0))
    assert math.isnan(pit(np.array([1.0, 2.0]), NAN))


# ---------------------------------------------------------------- CRPS

def crps_brute_force(x: np.ndarray, y: float) -> float:
    """E|X - y| - 0.5 E|X - X'| by the O(n^2) double sum."""
    return float(np.mean(np.abs(x - y)) - 0.5 * np.mean(np.abs(x[:, None] - x[None, :])))


def test_crps_hand_case():
    # E|X - 2| = (1 + 0 + 1) / 3 = 2/3
    # E|X - X'| = (0+1+2 + 1+0+1 + 2+1+0) / 9 = 8/9, half of it 4/9
    # CRPS = 2/3 - 4/9 = 2/9
    assert crps_ensemble(np.array([3.0, 1.0, 2.0]), 2.0) == pytest.approx(2 / 9, abs=1e-15)
    # y = 5: E|X - 5| = (4 + 3 + 2) / 3 = 3, CRPS = 3 - 4/9 = 23/9
    assert crps_ensemble(np.array([1.0, 2.0, 3.0]), 5.0) == pytest.approx(23 / 9, abs=1e-14)


def test_crps_single_sample_is_absolute_error():
    assert crps_ensemble(np.array([4.5]), 2.0) == pytest.approx(2.5)   # |4.5 - 2|
    assert crps_ensemble(np.array([-1.0]), 2.0) == pytest.approx(3.0)  # |-1 - 2|
    assert crps_ensemble(np.array([2.0]), 2.0) == 0.0


def test_crps_degenerate_and_missing():
    # all members equal to c: spread term 0, CRPS = |c - y|
    assert crps_ensemble(np.full(10, 3.0), 1.0) == pytest.approx(2.0)
    # NaN member dropped: same as [1, 2, 3] at y = 2 -> 2/9
    assert crps_ensemble(np.array([1.0, NAN, 2.0, 3.0]), 2.0) == pytest.approx(2 / 9)
    assert math.isnan(crps_ensemble(np.array([NAN]), 1.0))
    assert math.isnan(crps_ensemble(np.array([1.0, 2.0]), NAN))


@pytest.mark.parametrize("n", [2, 7, 50, 301])
def test_crps_sorted_equals_brute_force(n):
    rng = np.random.default_rng(20240 + n)
    x = rng.gamma(2.0, 3.0, size=n)
    for y in (rng.normal(6.0, 4.0), float(x[0]), -3.0, 100.0):
        assert abs(crps_ensemble(x, y) - crps_brute_force(x, y)) < 1e-12


def test_crps_does_not_modify_input():
    x = np.array([3.0, 1.0, 2.0])
    crps_ensemble(x, 2.0)
    np.testing.assert_array_equal(x, [3.0, 1.0, 2.0])


def test_crps_large_normal_ensemble_matches_closed_form():
    # CRPS of N(mu, sigma^2) at y: sigma * (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)),
    # z = (y - mu) / sigma (Gneiting and Raftery 2007)
    mu, sigma = 1.0, 2.0
    x = np.random.default_rng(7).normal(mu, sigma, size=200_000)
    for y in (1.0, 2.5, -4.0):
        z = (y - mu) / sigma
        exact = sigma * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z)
                         - 1 / math.sqrt(math.pi))
        assert crps_ensemble(x, y) == pytest.approx(exact, rel=0.01)


# ---------------------------------------------------------------- calibration

def calibration_trials(spread_factor: float, trials: int = 400, members: int = 500):
    """Coverage of the 50% and 90% intervals and the PITs over trials whose observation comes from
    N(mu, sigma^2) and whose ensemble from N(mu, (spread_factor * sigma)^2)."""
    rng = np.random.default_rng(12345)
    in50, in90, pits = [], [], []
    for _ in range(trials):
        mu, sigma = rng.normal(0.0, 10.0), rng.uniform(0.5, 5.0)
        ens = rng.normal(mu, spread_factor * sigma, size=members)
        y = rng.normal(mu, sigma)
        in50.append(inside(ens, y, 0.5))
        in90.append(inside(ens, y, 0.9))
        pits.append(pit(ens, y))
    return np.mean(in50), np.mean(in90), np.array(pits)


def test_coverage_and_pit_calibrated_ensemble():
    cov50, cov90, pits = calibration_trials(1.0)
    # binomial sd with 400 trials: 0.015 at 0.9, 0.025 at 0.5
    assert abs(cov90 - 0.9) <= 0.05
    assert abs(cov50 - 0.5) <= 0.075
    assert stats.kstest(pits, "uniform").pvalue > 0.001
    assert abs(pits.mean() - 0.5) < 0.05


def test_coverage_and_pit_detect_overconfident_ensemble():
    # an ensemble half as wide as the truth: the 90% interval covers P(|Z| < 0.82) ~ 0.59
    cov50, cov90, pits = calibration_trials(0.5)
    assert cov90 < 0.75
    assert stats.kstest(pits, "uniform").pvalue < 0.001


# ---------------------------------------------------------------- naive forecasts

HISTORY = {2016: 100.0, 2018: 1.0, 2019: 3.0, 2020: 2.0, 2021.25: 7.0}


def test_naive_no_change():
    h = {2019: 10.0, 2020: 12.0, 2021.25: 13.0, 2022: 15.0}
    assert naive_no_change(h, 2021.5, 2025) == 13.0   # latest at or before the origin
    assert naive_no_change(h, 2021.25, 2025) == 13.0  # time == origin counts
    assert naive_no_change(h, 2021.0, 2021.25) == 12.0
    assert naive_no_change(h, 2018.0, 2020) is None   # nothing observed yet
    assert naive_no_change({}, 2020, 2021) is None
    assert naive_no_change({2019: 10.0, 2020: NAN, 2021: None}, 2021, 2023) == 10.0


def test_naive_linear_trend_hand_case():
    # last 3 at or before 2020: (2018, 1), (2019, 3), (2020, 2); 2016 and 2021.25 excluded.
    # means t = 2019, v = 2; slope = ((-1)(-1) + 0 + (1)(0)) / ((-1)^2 + 0 + 1^2) = 0.5
    # at 2022: 2 + 0.5 * 3 = 3.5
    assert naive_linear_trend(HISTORY, 2020.0, 2022) == pytest.approx(3.5)
    # window 2: line through (2019, 3), (2020, 2), slope -1; at 2022: 2 - 2 = 0
    assert naive_linear_trend(HISTORY, 2020.0, 2022, window=2) == pytest.approx(0.0)


def test_naive_linear_trend_half_years_and_few_points():
    h = {2020.25: 10.0, 2020.75: 11.0, 2021.25: 12.0}
    # slope 1 per half year = 2 per year; at 2022.25: 12 + 2 * 1 = 14
    assert naive_linear_trend(h, 2021.25, 2022.25) == pytest.approx(14.0)
    # only two observations by 2020.75: line through (2020.25, 10), (2020.75, 11); at 2021.75: 13
    assert naive_linear_trend(h, 2020.9, 2021.75) == pytest.approx(13.0)
    assert naive_linear_trend(h, 2020.5, 2022) is None  # one point only
    assert naive_linear_trend({}, 2020, 2022) is None
    # a missing value does not count as a point: (2019, 1), (2021, 5), slope 2; at 2022: 7
    assert naive_linear_trend({2019: 1.0, 2020: NAN, 2021: 5.0}, 2021, 2022) == pytest.approx(7.0)


def test_naive_plan_path():
    # 2020: 100 -> 2025: 150, slope 10 per year
    assert naive_plan_path(2020, 100.0, 2025, 150.0, 2023) == pytest.approx(130.0)
    assert naive_plan_path(2020, 100.0, 2025, 150.0, 2021.25) == pytest.approx(112.5)
    assert naive_plan_path(2020, 100.0, 2025, 150.0, 2026) == pytest.approx(160.0)  # extrapolated
    assert naive_plan_path(2020, 100.0, 2025, 150.0, 2019) == pytest.approx(90.0)
    # linear in the value, not in logs: halfway from 100 to 400 is 250 (log-linear would give 200)
    assert naive_plan_path(2020, 100.0, 2022, 400.0, 2021) == pytest.approx(250.0)
    assert naive_plan_path(None, 100.0, 2025, 150.0, 2023) is None
    assert naive_plan_path(2020, None, 2025, 150.0, 2023) is None
    assert naive_plan_path(2020, 100.0, None, 150.0, 2023) is None
    assert naive_plan_path(2020, 100.0, 2025, None, 2023) is None
    assert naive_plan_path(2020, 100.0, 2025, 150.0, None) is None


# ---------------------------------------------------------------- summarise

def test_summarise_hand_case():
    rows = [
        dict(observed=10.0, median=12.0, pit=0.8, inside_50=False, inside_90=True, crps=1.5),
        dict(observed=10.0, median=9.0, pit=0.3, inside_50=True, inside_90=True, crps=0.5),
        # a point forecast: no PIT, no intervals
        dict(observed=20.0, median=18.0, pit=NAN, inside_50=None, inside_90=None, crps=2.0),
        # no forecast: skipped and not counted
        dict(observed=5.0, median=None, pit=NAN, inside_50=None, inside_90=None, crps=NAN),
    ]
    s = summarise(rows)
    assert s["n"] == 3
    assert s["coverage_50"] == pytest.approx(0.5)   # 1 of the 2 rows with intervals
    assert s["coverage_90"] == pytest.approx(1.0)   # 2 of 2
    assert s["mean_bias"] == pytest.approx(-1 / 3)  # (2 - 1 - 2) / 3
    assert s["mae"] == pytest.approx(5 / 3)         # (2 + 1 + 2) / 3
    assert s["crps"] == pytest.approx(4 / 3)        # (1.5 + 0.5 + 2) / 3
    assert s["pit_mean"] == pytest.approx(0.55)     # (0.8 + 0.3) / 2, NaN ignored


def test_summarise_point_forecasts_only_and_empty():
    rows = [dict(observed=3.0, median=5.0, pit=NAN, inside_50=None, inside_90=None, crps=2.0),
            dict(observed=3.0, median=NAN, pit=NAN, inside_50=None, inside_90=None, crps=NAN)]
    s = summarise(rows)
    assert s["n"] == 1
    assert s["coverage_50"] is None and s["coverage_90"] is None
    assert s["pit_mean"] is None
    assert s["mean_bias"] == pytest.approx(2.0) and s["mae"] == pytest.approx(2.0)
    assert s["crps"] == pytest.approx(2.0)
    empty = summarise([])
    assert empty["n"] == 0 and empty["mae"] is None and empty["coverage_90"] is None

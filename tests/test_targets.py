"""Target statistics (``sim.analysis.targets``) and per-replication outcomes (``sim.outcomes``)
against cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.analysis.targets import (Z95, first_met_distribution, paired_differences,
                                  summarize_targets, wilson_interval)
from sim.outcomes import TargetSpec, replication_outcomes

NAN = float("nan")


def spec(id="t", year=2023, threshold=10.0, column="x", reason="") -> TargetSpec:
    return TargetSpec(id=id, indicator="sei_output", scope="region", year=year,
                      threshold=threshold, unit="亿元", qualifier="exact", kind="expected",
                      source="doc.txt, 表1", column=column, reason=reason)


def outcomes_frame(target: str, values, first=None) -> pd.DataFrame:
    values = list(values)
    first = [NAN] * len(values) if first is None else list(first)
    return pd.DataFrame({"replication": range(len(values)), "target": target,
                         "value": np.asarray(values, float),
                         "first_met_year": np.asarray(first, float)})


# Wilson score interval ----------------------------------------------------------------------------
# With z = 1.959963984540054, z^2 = 3.841458820694124 and n = 10:
#   0/10:  centre = half = (z^2 / 2n) / (1 + z^2 / n), so the interval is [0, z^2 / (n + z^2)]
#          = [0, 3.841458820694124 / 13.841458820694124] = [0, 0.2775328]
#   10/10: by symmetry [n / (n + z^2), 1] = [10 / 13.841458820694124, 1] = [0.7224672, 1]
#   5/10:  centre 0.5, half = z * sqrt(0.25/10 + z^2/400) / (1 + z^2/10)
#          = 1.959964 * sqrt(0.0346036470) / 1.3841458821 = 0.2634069
#          -> [0.2365931, 0.7634069]
#   1/10:  p = 0.1, centre = (0.1 + 0.1920729) / 1.3841459 = 0.2110131,
#          half = 1.959964 * sqrt(0.009 + 0.0096036) / 1.3841459 = 0.1931369
#          -> [0.0178762, 0.4041500]
@pytest.mark.parametrize("k, n, low, high", [
    (0, 10, 0.0, 0.2775328),
    (10, 10, 0.7224672, 1.0),
    (5, 10, 0.2365931, 0.7634069),
    (1, 10, 0.0178762, 0.4041500),
])
def test_wilson_interval_known_values(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=2e-7)
    assert hi == pytest.approx(high, abs=2e-7)


def test_wilson_interval_closed_forms():
    z2 = Z95 ** 2
    for n in (1, 7, 20, 1000):
        assert wilson_interval(0, n) == pytest.approx((0.0, z2 / (n + z2)), abs=1e-12)
        assert wilson_interval(n, n) == pytest.approx((n / (n + z2), 1.0), abs=1e-12)


def test_wilson_interval_formula_and_symmetry():
    for k, n in [(3, 10), (17, 40), (250, 1000), (1, 3)]:
        p = k / n
        centre = (p + Z95 ** 2 / (2 * n)) / (1 + Z95 ** 2 / n)
        half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / (1 + Z95 ** 2 / n)
        lo, hi = wilson_interval(k, n)
        assert (lo, hi) == pytest.approx((centre - half, centre + half), abs=1e-12)
        assert lo < p < hi
        lo2, hi2 = wilson_interval(n - k, n)
        assert (lo2, hi2) == pytest.approx((1 - hi, 1 - lo), abs=1e-12)


def test_wilson_interval_narrows_with_n_and_handles_n_zero():
    widths = [np.subtract(*wilson_interval(n // 2, n)[::-1]) for n in (10, 100, 1000)]
    assert widths[0] > widths[1] > widths[2]
    lo, hi = wilson_interval(0, 0)
    assert math.isnan(lo) and math.isnan(hi)


def test_wilson_interval_other_z():
    # z = 1: 5/10 -> centre 0.5, half = sqrt(0.025 + 0.0025) / 1.1 = 0.1507557
    lo, hi = wilson_interval(5, 10, z=1.0)
    assert (lo, hi) == pytest.approx((0.5 - 0.1507557, 0.5 + 0.1507557), abs=1e-7)


def test_wilson_interval_matches_statsmodels():
    smp = pytest.importorskip("statsmodels.stats.proportion")  # optional: not a dependency
    for k, n in [(0, 10), (1, 10), (5, 10), (10, 10), (37, 120), (999, 1000)]:
        expected = smp.proportion_confint(k, n, alpha=0.05, method="wilson")
        assert wilson_interval(k, n) == pytest.approx(expected, abs=1e-9), (k, n)


# summarize_targets --------------------------------------------------------------------------------
def test_summarize_targets_hand_computed():
    # Values 1..10, threshold 7.5: 8, 9 and 10 meet it -> p = 0.3 (at or above counts).
    a = spec("a", threshold=7.5)
    first = [NAN] * 7 + [2023, 2022, 2021]
    # Threshold 4 met exactly by the value 4 (>= counts): 7 of 10 replications.
    b = spec("b", threshold=4.0)
    out = pd.concat([outcomes_frame("a", range(1, 11), first),
                     outcomes_frame("b", range(1, 11))], ignore_index=True)
    t = summarize_targets(out, [a, b]).set_index("target")

    ra = t.loc["a"]
    assert ra["replications"] == 10
    assert ra["p_met"] == pytest.approx(0.3)
    lo, hi = wilson_interval(3, 10)
    assert (ra["ci_low"], ra["ci_high"]) == pytest.approx((lo, hi))
    assert (ra["ci_low"], ra["ci_high"]) == pytest.approx((0.1077913, 0.6032219), abs=1e-6)
    assert ra["median"] == pytest.approx(5.5)
    # numpy's default (linear) quantiles: position 0.05 * 9 = 0.45 -> 1.45; 0.95 * 9 = 8.55 -> 9.55
    assert ra["q05"] == pytest.approx(1.45)
    assert ra["q95"] == pytest.approx(9.55)
    assert ra["mean"] == pytest.approx(5.5)
    # shortfall = threshold - value = 6.5, 5.5, ..., -2.5: median 2.0; 90% quantile at position
    # 0.9 * 9 = 8.1 of the sorted shortfalls -> 5.5 + 0.1 * 1.0 = 5.6
    assert ra["shortfall_median"] == pytest.approx(2.0)
    assert ra["shortfall_q90"] == pytest.approx(5.6)
    # only 3 of 10 replications ever reach the level: no median first year
    assert math.isnan(ra["first_met_median"])
    assert ra["threshold"] == 7.5 and ra["year"] == 2023 and ra["unit"] == "亿元"
    assert ra["column"] == "x" and ra["source"] == "doc.txt, 表1" and ra["note"] == ""

    assert t.loc["b", "p_met"] == pytest.approx(0.7)
    assert t.loc["b", "shortfall_median"] == pytest.approx(-1.5)


def test_summarize_targets_columns_and_order():
    specs = [spec("z"), spec("a")]
    out = pd.concat([outcomes_frame("a", [1.0, 20.0]), outcomes_frame("z", [30.0, 40.0])])
    t = summarize_targets(out, specs)
    assert list(t["target"]) == ["z", "a"]  # plan order, not sorted
    assert list(t.columns[:12]) == ["target", "indicator", "scope", "year", "threshold", "unit",
                                    "qualifier", "kind", "replications", "p_met", "ci_low",
                                    "ci_high"]
    assert list(t["p_met"]) == [1.0, 0.5]


def test_summarize_targets_first_met_median_all_reached():
    s = spec("a", threshold=0.0)
    out = outcomes_frame("a", [1.0, 2.0, 3.0], first=[2021, 2022, 2024])
    row = summarize_targets(out, [s]).iloc[0]
    assert row["first_met_median"] == 2022


def test_summarize_targets_first_met_median_half_or_fewer_reached_is_nan():
    s = spec("a", threshold=0.0)
    out = outcomes_frame("a", [1.0, 2.0, 3.0, 4.0], first=[2021, 2022, NAN, NAN])
    assert math.isnan(summarize_targets(out, [s]).iloc[0]["first_met_median"])


def test_summarize_targets_first_met_median_most_reached():
    # 8 of 10 reach the level; sorted with 'never' last: 2021 2022 2022 2023 2023 | 2023 2024 2025
    # never never -> median 2023 (and 2023 as well if the never-reached are left out).
    s = spec("a", threshold=0.0)
    first = [2023, 2021, NAN, 2022, 2025, 2023, 2022, NAN, 2024, 2023]
    out = outcomes_frame("a", np.arange(10.0), first)
    assert summarize_targets(out, [s]).iloc[0]["first_met_median"] == 2023
    # Never met counts as later than any year, not as missing: 5 of 7 reach the level; sorted
    # 2021 2021 2022 | 2025 | 2026 never never -> 2025 (leaving the never-met out would give 2022).
    first = [2026, NAN, 2021, 2025, NAN, 2022, 2021]
    out = outcomes_frame("a", np.arange(7.0), first)
    assert summarize_targets(out, [s]).iloc[0]["first_met_median"] == 2025


def test_summarize_targets_not_evaluated_rows():
    evaluable = spec("a", threshold=1.0)
    listed = spec("listed", column=None, reason="listed companies are not modelled")
    out = outcomes_frame("a", [0.0, 2.0])
    t = summarize_targets(out, [evaluable, listed]).set_index("target")
    row = t.loc["listed"]
    assert row["replications"] == 0
    assert math.isnan(row["p_met"]) and math.isnan(row["ci_low"]) and math.isnan(row["ci_high"])
    assert math.isnan(row["median"])
    assert row["note"] == "listed companies are not modelled"
    assert pd.isna(row["column"])
    assert t.loc["a", "p_met"] == 0.5

    # no outcomes at all (e.g. every replication failed): every row is 'not evaluated'
    empty = summarize_targets(pd.DataFrame(columns=out.columns), [evaluable, listed])
    assert empty["p_met"].isna().all() and (empty["replications"] == 0).all()


# first_met_distribution ---------------------------------------------------------------------------
def test_first_met_distribution_hand_computed():
    a = spec("a")
    skipped = spec("n", column=None, reason="not modelled")
    out = outcomes_frame("a", [0, 0, 0, 0], first=[2021, 2021, 2023, NAN])
    d = first_met_distribution(out, [a, skipped], [2021, 2022, 2023, 2024, 2025])
    assert list(d.columns) == ["target", "year", "p_first_met", "p_met_by_year"]
    assert list(d["target"].unique()) == ["a"]
    assert list(d["year"]) == [2021, 2022, 2023, 2024, 2025]
    assert list(d["p_first_met"]) == pytest.approx([0.5, 0.0, 0.25, 0.0, 0.0])
    assert list(d["p_met_by_year"]) == pytest.approx([0.5, 0.5, 0.75, 0.75, 0.75])


def test_first_met_distribution_empty():
    d = first_met_distribution(pd.DataFrame(), [spec("a")], [2021, 2022])
    assert len(d) == 0 and list(d.columns) == ["target", "year", "p_first_met", "p_met_by_year"]


# paired_differences -------------------------------------------------------------------------------
def test_paired_differences_hand_computed():
    s = spec("a", threshold=3.0)
    a = outcomes_frame("a", [1.0, 2.0, 3.0, 4.0])
    # B has an extra replication 4 with no partner in A: it is left out of the pairs.
    b = outcomes_frame("a", [3.5, 2.0, 5.0, 4.0, 100.0])
    d = paired_differences(a, b, [s])
    assert len(d) == 1
    r = d.iloc[0]
    assert r["target"] == "a" and r["year"] == 2023 and r["replications"] == 4
    # met: A = [F, F, T, T] -> 0.5; B = [T, F, T, T] -> 0.75; differences [1, 0, 0, 0]
    assert r["p_met_a"] == 0.5 and r["p_met_b"] == 0.75
    assert r["p_met_diff"] == pytest.approx(0.25)
    # sd (ddof 1) of [1, 0, 0, 0] = sqrt((0.5625 + 3 * 0.0625) / 3) = 0.5; se = 0.5 / 2
    assert r["p_met_diff_se"] == pytest.approx(0.25)
    t3 = 3.182446305283708  # Student t, 97.5% quantile, 3 degrees of freedom
    assert r["p_met_diff_low"] == pytest.approx(0.25 - t3 * 0.25)
    assert r["p_met_diff_high"] == pytest.approx(0.25 + t3 * 0.25)
    # value differences B - A = [2.5, 0, 2, 0]: mean 1.125; squared deviations 1.890625,
    # 1.265625, 0.765625, 1.265625 sum to 5.1875 -> sd sqrt(5.1875 / 3), se = sd / 2
    se = math.sqrt(5.1875 / 3) / 2
    assert r["mean_diff"] == pytest.approx(1.125)
    assert r["mean_diff_se"] == pytest.approx(se)
    assert r["mean_diff_low"] == pytest.approx(1.125 - t3 * se)
    assert r["mean_diff_high"] == pytest.approx(1.125 + t3 * se)


def test_paired_differences_pairs_by_replication_not_row_order():
    s = spec("a", threshold=0.0)
    a = outcomes_frame("a", [1.0, 2.0, 3.0])
    b = outcomes_frame("a", [11.0, 12.0, 13.0]).iloc[::-1]  # same replications, reversed rows
    r = paired_differences(a, b, [s]).iloc[0]
    assert r["mean_diff"] == pytest.approx(10.0)
    assert r["mean_diff_se"] == pytest.approx(0.0)


def test_paired_differences_skips_unevaluable_and_unpaired():
    a = outcomes_frame("a", [1.0, 2.0])
    b = outcomes_frame("a", [1.0, 2.0]).assign(replication=[5, 6])  # nothing in common
    d = paired_differences(a, b, [spec("a"), spec("n", column=None, reason="-")])
    assert len(d) == 0


# replication_outcomes -----------------------------------------------------------------------------
def test_replication_outcomes_hand_computed():
    # years 2020 (base) .. 2023, target year 2022, threshold 10 on column x
    rows = {
        0: [12.0, 8.0, 11.0, 9.0],   # value 11, first met 2022 (the base year 2020 is ignored)
        1: [5.0, 10.0, 7.0, 12.0],   # value 7, first met 2021 (reaching exactly 10 counts)
        2: [15.0, 1.0, 2.0, 3.0],    # value 2, never met after the base year
    }
    annual = pd.DataFrame([{"replication": r, "year": 2020 + k, "x": v, "y": -v}
                           for r, vals in rows.items() for k, v in enumerate(vals)])
    annual = annual.sample(frac=1.0, random_state=1)  # row order must not matter
    specs = [spec("t", year=2022, threshold=10.0, column="x"),
             spec("skip", column=None, reason="not modelled"),
             spec("u", year=2023, threshold=-7.5, column="y")]
    out = replication_outcomes(annual, specs)
    assert list(out.columns) == ["replication", "target", "value", "first_met_year"]
    t = out[out["target"] == "t"].set_index("replication").sort_index()
    assert list(t["value"]) == [11.0, 7.0, 2.0]
    assert t.loc[0, "first_met_year"] == 2022
    assert t.loc[1, "first_met_year"] == 2021
    assert math.isnan(t.loc[2, "first_met_year"])
    assert "skip" not in set(out["target"])
    # y = -x, threshold -7.5: met when x <= 7.5
    u = out[out["target"] == "u"].set_index("replication").sort_index()
    assert list(u["value"]) == [-9.0, -12.0, -3.0]
    assert math.isnan(u.loc[0, "first_met_year"])  # x = 8, 11, 9 after the base year
    assert u.loc[1, "first_met_year"] == 2022
    assert u.loc[2, "first_met_year"] == 2021


def test_replication_outcomes_nothing_evaluable():
    annual = pd.DataFrame({"replication": [0, 0], "year": [2020, 2021], "x": [1.0, 2.0]})
    out = replication_outcomes(annual, [spec("n", column=None, reason="-")])
    assert len(out) == 0
    assert list(out.columns) == ["replication", "target", "value", "first_met_year"]

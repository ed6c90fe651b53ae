"""Result objects of comparisons, sweeps and analyses: charts on one axis, the sweep curve read
from the per-point probabilities, differences from the status quo, and warnings when an analysis
is too small to trust."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

import sim
from sim.analysis.quality import discovery_warnings, sensitivity_warnings
from sim.analysis.sweep import is_geometric
from sim.errors import AnalysisWarning, InputError

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "fuling-baseline.yaml")
DOUBLE = str(ROOT / "scenarios" / "fuling-fund-double.yaml")
FUND = ROOT / "scenarios" / "fuling-district-fund.yaml"
FAST = {"backend": "serial", "progress": False}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    return sim.compare([BASELINE, DOUBLE], 12, seed=5, out=tmp_path_factory.mktemp("cmp") / "c",
                       **FAST)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A geometric fund grid that leaves out the scenario's own setting (scale 1)."""
    scenario = sim.load_scenario(FUND).with_overrides({}, "fund-grid")
    data = dict(scenario.resolved, sweep={"levers.fund.scale": [0.5, 2.0, 8.0]})
    return sim.sweep(data, 12, seed=9, out=tmp_path_factory.mktemp("sweep") / "s", **FAST)


# Comparison ---------------------------------------------------------------------------------------
def test_overlaid_fans_share_one_axis_with_one_median_per_scenario(comparison):
    fig = comparison.plot_fans("sei_output_share")
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    medians = {line.get_label(): line for line in ax.get_lines()
               if line.get_label() in comparison.labels}
    assert list(medians) == comparison.labels
    colours = {tuple(line.get_color()) if not isinstance(line.get_color(), str)
               else line.get_color() for line in medians.values()}
    assert len(colours) == 2
    for label, line in medians.items():
        q = comparison[label].quantiles("sei_output_share")
        np.testing.assert_allclose(line.get_ydata(), q["q50"])
    # the plan's share target is marked
    targets = [s for s in comparison[comparison.labels[0]].specs
               if s.column == "sei_output_share" and s.evaluable]
    marks = [line for line in ax.get_lines() if line.get_marker() == "D"]
    assert {(int(m.get_xdata()[0]), float(m.get_ydata()[0])) for m in marks} == \
        {(s.year, s.threshold) for s in targets}
    assert comparison.plot.__func__ is comparison.plot_fans.__func__


def test_grouped_probabilities_one_bar_per_scenario_and_target(comparison):
    fig = comparison.plot_probabilities()
    assert len(fig.axes) == 1
    t = comparison.targets().dropna(subset=["p_met"])
    bars = [c for c in fig.axes[0].containers if isinstance(c, matplotlib.container.BarContainer)]
    assert len(bars) == 2
    for container, label in zip(bars, comparison.labels):
        widths = [p.get_width() for p in container.patches]
        # bars are drawn bottom-up in the table's order
        assert sorted(widths) == sorted(t.loc[t["scenario"] == label, "p_met"])


def test_comparison_charts_name_targets_as_the_plan_does(comparison):
    fig = comparison.plot_probabilities(["sei_output_share_2026", "sei_output_2026"])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 2 and not any("_" in label for label in labels)
    assert any("SEI share" in label and "2026" in label for label in labels)
    with pytest.raises(sim.errors.InputError, match="unknown target"):
        comparison.plot_probabilities(["sei_output_share_2062"])
    fans = comparison.plot_fans("sei_output_share")
    assert "_" not in fans.axes[0].get_title().splitlines()[0]


def test_comparison_repr_and_summary_carry_the_numbers(comparison):
    text = repr(comparison)
    assert "fuling-baseline" in text and "fuling-fund-double" in text and "replications=12" in text
    summary = comparison.summary()
    t = comparison.targets().set_index(["scenario", "target"])
    d = comparison.differences().set_index("target")
    row = t.loc[("fuling-fund-double", "sei_output_2026")]
    assert f"P(met) {row.p_met:6.1%} [{row.ci_low:6.1%}, {row.ci_high:6.1%}]" in summary
    diff = d.loc["sei_output_2026"]
    assert f"{100 * diff.p_met_diff:+5.1f} pp [{100 * diff.p_met_diff_low:+.1f}, " in summary
    assert "(reference)" in summary
    with pytest.raises(InputError, match="no scenario labelled 'nope'"):
        comparison.summary("nope")


# Sweep --------------------------------------------------------------------------------------------
def test_status_quo_not_on_the_grid_is_run_as_an_extra_point(swept):
    assert swept.status_quo == "fund-grid[status quo]" and swept.status_quo_extra
    assert swept.labels[0] == swept.status_quo and len(swept.labels) == 4
    assert swept.status_quo_setting() == {"levers.fund.scale": 1.0}
    # the status quo is the scenario itself on the same random numbers as the grid points
    assert swept[swept.status_quo].replications == 12


def test_sweep_curve_equals_the_per_point_probabilities(swept):
    table = swept.table()
    assert set(table["label"]) == set(swept.labels)
    for r in table.itertuples():
        t = swept[r.label].targets().set_index("target").loc[r.target]
        assert (r.p_met, r.ci_low, r.ci_high) == (t.p_met, t.ci_low, t.ci_high)
    # the curve drawn is that table, along the lever
    target = "sei_output_share_2026"
    fig = swept.plot(target)
    ax = fig.axes[0]
    curve = next(c for c in ax.containers if c.get_label() == target)
    line = curve.lines[0]  # the data line of the error-bar plot
    expected = table[table["target"] == target].sort_values("levers.fund.scale")
    np.testing.assert_allclose(np.asarray(line.get_xdata(), float), expected["levers.fund.scale"])
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float), expected["p_met"])


def test_differences_are_measured_from_the_status_quo(swept):
    table = swept.table()
    at_sq = table[table["label"] == swept.status_quo]
    assert len(at_sq) and at_sq["status_quo"].all()
    for column in ("p_met_diff", "p_met_diff_low", "p_met_diff_high", "mean_diff"):
        assert (at_sq[column] == 0.0).all()
    base = swept[swept.status_quo].outcomes
    checked = 0
    for r in table[table["label"] != swept.status_quo].itertuples():
        other = swept[r.label].outcomes
        a = base[base["target"] == r.target].set_index("replication")["value"].sort_index()
        b = other[other["target"] == r.target].set_index("replication")["value"].sort_index()
        assert list(a.index) == list(b.index)  # common random numbers: the same replications
        by_hand = ((b >= r.threshold).astype(float) - (a >= r.threshold).astype(float)).mean()
        assert r.p_met_diff == pytest.approx(by_hand, abs=1e-12)
        assert r.mean_diff == pytest.approx((b - a).mean(), rel=1e-9, abs=1e-12)
        checked += 1
    assert checked == 3 * table["target"].nunique()
    # more fund money, more output at the largest grid point
    top = table[(table["target"] == "sei_output_2026") & (table["levers.fund.scale"] == 8.0)]
    assert top["mean_diff"].iloc[0] > 0


def test_status_quo_setting_of_levers_and_parameters():
    from sim.analysis.sweep import own_setting

    scenario = sim.load_scenario(FUND)
    assert own_setting(scenario, "levers.fund.scale") == 1.0
    assert own_setting(scenario, "params.funds.annual_investment") == 4.8  # set by the scenario
    drift = own_setting(scenario, "params.firms.drift")  # from its parameter set
    assert drift == scenario.draw_params(None).firms.drift
    assert own_setting(scenario, "levers.parks.expansion.all") == 0.0  # unlisted: no extra land


def test_geometric_grid_gets_a_log_axis():
    assert is_geometric([0.5, 1.0, 2.0, 4.0, 8.0]) and is_geometric([1, 3, 10, 30, 100])
    assert not is_geometric([0.5, 1.0, 1.5, 2.0]) and not is_geometric([0, 1, 2, 4])
    assert not is_geometric([1.0, 2.0]) and not is_geometric(["a", "b", "c"])


def test_sweep_plot_axis_and_errors(swept):
    assert swept.log_scale()
    targets = list(dict.fromkeys(swept.table()["target"]))
    ax = swept.plot(targets[:3]).axes[0]  # a few targets: one axis, one line each
    assert ax.get_xscale() == "log"
    assert [c.get_label() for c in ax.containers] == targets[:3]
    many = swept.plot()  # every target: one axis each, all on the log scale
    shown = [a for a in many.axes if a.get_visible()]
    assert len(targets) > 6 and [a.get_title() for a in shown] == targets
    assert {a.get_xscale() for a in shown} == {"log"}
    with pytest.raises(InputError, match="no evaluable target 'nope'"):
        swept.plot("nope")
    with pytest.raises(InputError, match="is not swept"):
        swept.plot(lever="levers.attraction")


def test_sweep_repr_and_summary_carry_the_numbers(swept):
    text = repr(swept)
    assert "levers.fund.scale: 0.5, 2, 8" in text and "status quo scale=1" in text
    summary = swept.summary()
    r = swept.table().query("target == 'sei_output_2026' and `levers.fund.scale` == 8.0").iloc[0]
    assert (f"P(met) {r.p_met:6.1%} [{r.ci_low:6.1%}, {r.ci_high:6.1%}]  "
            f"{100 * r.p_met_diff:+5.1f} pp") in summary
    assert "status quo" in summary


def test_sweep_without_a_grid_is_refused():
    with pytest.raises(InputError, match="no 'sweep:' grid"):
        sim.sweep(BASELINE, 2, **FAST)


# Warnings -----------------------------------------------------------------------------------------
def _sobol(rows, outcome="t:value"):
    return pd.DataFrame([{"factor": f, "outcome": outcome, "S1": s1, "S1_conf": c1, "ST": st,
                          "ST_conf": ct} for f, s1, c1, st, ct in rows])


def test_sobol_warnings_fire_on_wide_intervals_and_s1_above_st():
    small = _sobol([("a", 0.62, 0.56, 0.30, 0.21), ("b", 0.05, 0.02, 0.20, 0.08)])
    found = sensitivity_warnings(small, "sobol", 16, 8)
    assert len(found) == 2 and all("more samples" in w for w in found)
    assert "too few samples" in found[0]
    assert "wider than the indices" in found[1] and "a S1 0.62 +- 0.56" in found[1]
    # S1 above ST by more than both intervals allow, with enough samples and narrow intervals
    noisy = _sobol([("a", 0.45, 0.05, 0.25, 0.05), ("b", 0.31, 0.05, 0.30, 0.05)])
    found = sensitivity_warnings(noisy, "sobol", 128, 8)
    assert len(found) == 1 and "first-order index above the total index" in found[0]
    assert "a S1 0.45 > ST 0.25" in found[0] and "b S1" not in found[0]


def test_sobol_warnings_quiet_on_a_well_sized_case():
    good = _sobol([("a", 0.55, 0.04, 0.60, 0.05), ("b", 0.20, 0.03, 0.25, 0.04),
                   ("c", 0.00, 0.01, 0.01, 0.01), ("d", 0.03, 0.02, 0.02, 0.01)])
    assert sensitivity_warnings(good, "sobol", 512, 16) == []
    # a constant outcome has no indices to doubt, however few replications it rests on
    constant = _sobol([("a", np.nan, np.nan, np.nan, np.nan)], "t:p_met")
    assert sensitivity_warnings(pd.concat([good, constant]), "sobol", 512, 2) == []
    coarse = _sobol([("a", 0.5, 0.05, 0.6, 0.05)], "t:p_met")
    found = sensitivity_warnings(pd.concat([good, coarse]), "sobol", 512, 2)
    assert len(found) == 1 and "rests on 2 replication(s)" in found[0]


def test_morris_warning_on_an_unsettled_ranking():
    t = pd.DataFrame({"factor": ["a", "b"], "outcome": "t:value", "mu_star": [1.0, 0.2],
                      "mu_star_conf": [1.5, 0.1], "mu": [1.0, 0.1], "sigma": [2.0, 0.1]})
    assert any("mu*" in w for w in sensitivity_warnings(t, "morris", 20, 8))
    assert sensitivity_warnings(t.assign(mu_star_conf=[0.2, 0.1]), "morris", 20, 8) == []


def test_prim_warnings():
    weak = discovery_warnings({"coverage": 0.9, "density": 0.55}, 0.5, 30, 60)
    assert len(weak) == 1 and "lift 1.10" in weak[0] and "more samples" in weak[0]
    tiny = discovery_warnings({"coverage": 0.04, "density": 1.0}, 0.3, 12, 40)
    assert any("only 12 case(s) of interest" in w for w in tiny)
    assert any("holds only 4%" in w for w in tiny)
    assert discovery_warnings({"coverage": 0.7, "density": 0.9}, 0.4, 160, 400) == []


def test_no_prim_warning_on_a_clear_well_sampled_box():
    from sim.analysis.discovery import choose_box, prim_boxes

    rng = np.random.default_rng(7)
    x = pd.DataFrame(rng.random((2000, 3)), columns=["a", "b", "c"])
    y = ((x["a"] > 0.6) & (x["b"] < 0.3)).to_numpy()
    box = prim_boxes(x, y, threshold=0.9)
    chosen = box.peeling_trajectory.loc[choose_box(box, 0.9)]
    assert discovery_warnings(chosen, y.mean(), int(y.sum()), len(y)) == []


def test_a_tiny_sobol_run_warns_and_its_result_explains_itself(tmp_path):
    with pytest.warns(AnalysisWarning) as record:
        res = sim.sensitivity(FUND, "sei_output_share_2026", {"levers.fund.scale": (0.5, 4)},
                              samples=4, replications=2, out=tmp_path / "s", backend="serial")
    assert [str(w.message) for w in record] == res.warnings
    assert any("too few samples" in w for w in res.warnings)
    assert res["indices"] is res.indices  # mapping-style access still works
    text = res.summary()
    row = res.indices.iloc[0]
    assert f"ST {row.ST:6.3f} +- {row.ST_conf:.3f}" in text
    assert all(f"warning: {w}" in text for w in res.warnings)
    assert "sobol" in repr(res) and "warnings=" in repr(res)
    assert len(res.plot().axes) >= 1


def test_a_small_prim_run_reports_its_box_and_warnings(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sim.discover("scenarios/chongqing-baseline.yaml", "sei_firm_count_2025",
                           {"levers.attraction": (0.5, 4), "levers.fund.scale": (0.2, 4)},
                           samples=30, out=tmp_path / "d", backend="serial")
    emitted = [str(w.message) for w in caught if issubclass(w.category, AnalysisWarning)]
    assert emitted == res.warnings
    assert any("more samples" in w for w in res.warnings)  # 30 cases cannot be enough
    assert res["share_of_interest"] == res.share_of_interest
    text = res.summary()
    assert f"{res.share_of_interest:.1%} of 30 sampled cases" in text
    if res.step is not None:
        assert f"lift {res.chosen['lift']:.2f}" in text
        assert len(res.plot().axes) >= 2
    assert "DiscoveryResult" in repr(res)


def test_solve_result_summary_and_plot():
    from sim.analysis.solve import SolveResult, solve_monotone

    value, curve = solve_monotone(lambda v: (int(100 * min(v / 8, 1)), 100), 0.5, 16.0, 0.5,
                                  grid=6, bisections=4, log_scale=True)
    res = SolveResult("levers.fund.scale", 0.5, "t", value, (value, value), True, curve, "ok")
    assert f"value={value:.4g}" in repr(res)
    text = res.summary()
    for r in curve.itertuples():
        assert f"{r.lever:>10.4g}  {r.p_met:>7.1%}" in text
    assert res.plot().axes[0].get_xscale() == "log"


def test_cli_prints_and_reports_the_warnings_once(tmp_path, capsys):
    from sim.cli import main

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["sensitivity", str(FUND), "--target", "sei_output_share_2026", "--factor",
                     "levers.fund.scale=0.5:4", "--samples", "4", "--replications", "2",
                     "--backend", "serial", "--out", str(tmp_path / "s")])
    out = capsys.readouterr().out
    assert code == 0
    # shown with the results and in the report, not a second time by Python's warning display
    assert not [w for w in caught if issubclass(w.category, AnalysisWarning)]
    printed = [line[len("warning: "):] for line in out.splitlines() if line.startswith("warning: ")]
    assert printed and any("too few samples" in w for w in printed)
    report = (tmp_path / "s" / "report.md").read_text(encoding="utf-8")
    assert all(f"**Warning:** {w}" in report for w in printed)

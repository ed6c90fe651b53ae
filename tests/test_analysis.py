"""Policy analysis on cases with known answers: a lever without effect, a known threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.analysis.discovery import box_table, choose_box, prim_boxes
from sim.analysis.solve import interval_from_curve, solve_monotone
from sim.cli import main


def test_lever_without_effect_gets_zero_total_sobol_index(tmp_path):
    # Chongqing's firms sit in one region-wide pseudo park with unlimited land, so expanding
    # park land cannot change anything; with common random numbers its outputs are identical.
    res = sim.sensitivity("scenarios/chongqing-baseline.yaml", "sei_output_share_2025",
                          {"levers.fund.scale": (0.2, 4.0), "levers.parks.expansion.all": (0, 2)},
                          samples=16, replications=2, out=tmp_path / "s", backend="serial")
    idx = res["indices"].set_index(["outcome", "factor"])
    value = "sei_output_share_2025:value"
    assert abs(idx.loc[(value, "levers.parks.expansion.all"), "ST"]) < 1e-9
    assert idx.loc[(value, "levers.fund.scale"), "ST"] > 0.5


def test_morris_ranks_the_effective_lever_first(tmp_path):
    res = sim.sensitivity("scenarios/chongqing-baseline.yaml", "sei_output_share_2025",
                          {"levers.fund.scale": (0.2, 4.0), "levers.parks.expansion.all": (0, 2)},
                          method="morris", samples=6, replications=2, out=tmp_path / "m",
                          backend="serial")
    t = res["indices"][res["indices"]["outcome"].str.endswith(":value")].set_index("factor")
    assert t.loc["levers.parks.expansion.all", "mu_star"] == 0
    assert t.loc["levers.fund.scale", "mu_star"] > 0


def test_prim_recovers_a_known_box():
    rng = np.random.default_rng(7)
    x = pd.DataFrame(rng.random((2000, 3)), columns=["a", "b", "c"])
    y = (x["a"] > 0.6) & (x["b"] < 0.3)
    box = prim_boxes(x, y.to_numpy(), threshold=0.9)
    step = choose_box(box, 0.9)
    table = box_table(box, step, {"a": (0, 1), "b": (0, 1), "c": (0, 1)}).set_index("factor")
    assert set(table.index) == {"a", "b"}  # c is irrelevant and stays unrestricted
    assert table.loc["a", "box_low"] == pytest.approx(0.6, abs=0.03)
    assert table.loc["b", "box_high"] == pytest.approx(0.3, abs=0.03)
    assert box.peeling_trajectory.loc[step, "density"] >= 0.9


def test_solve_finds_a_known_threshold():
    # P(v) = logistic(5 (v - 3)) reaches 0.8 at v = 3 + ln(4)/5.
    n = 100_000

    def estimate(v):
        p = 1 / (1 + np.exp(-5 * (v - 3)))
        return int(round(p * n)), n

    value, curve = solve_monotone(estimate, 0.5, 8.0, 0.8, grid=6, bisections=12)
    assert value == pytest.approx(3 + np.log(4) / 5, abs=1e-3)
    assert curve["lever"].is_monotonic_increasing
    low, high = interval_from_curve(curve, 0.8)
    assert low <= value <= high + 1e-12


def test_solve_reports_unreachable_honestly():
    value, curve = solve_monotone(lambda v: (int(10 * min(v, 5)), 100), 1.0, 4.0, 0.8)
    assert value is None and curve["p_met"].max() < 0.8


def test_solve_end_to_end_on_a_lever_with_a_real_threshold(tmp_path, capsys):
    # Fuling's 2026 firm-count target (200) needs far more attracted projects than today:
    # P(met) rises with the attraction lever; the answer must lie inside the bounds or be
    # reported as unreachable, and the run directory must hold its table, plot and report.
    code = main(["solve", "scenarios/fuling-baseline.yaml", "--target", "sei_firm_count_2026",
                 "--lever", "attraction", "--prob", "0.5", "--low", "1", "--high", "64",
                 "--replications", "12", "--backend", "serial", "--out", str(tmp_path / "v")])
    out = capsys.readouterr().out
    assert code == 0
    curve = pd.read_csv(tmp_path / "v" / "curve.csv")
    assert curve["p_met"].iloc[-1] >= curve["p_met"].iloc[0]
    assert ("levers.attraction >=" in out) or ("not reachable" in out)
    for name in ("curve.png", "report.md"):
        assert (tmp_path / "v" / name).is_file()


def test_discover_cli_writes_box_and_report(tmp_path, capsys):
    code = main(["discover", "scenarios/chongqing-baseline.yaml", "--target",
                 "sei_firm_count_2025", "--factor", "levers.attraction=0.5:4", "--factor",
                 "levers.fund.scale=0.2:4", "--samples", "60", "--backend", "serial", "--out",
                 str(tmp_path / "d")])
    assert code == 0
    out = capsys.readouterr().out
    assert "cases where sei_firm_count_2025 is missed" in out
    assert (tmp_path / "d" / "report.md").is_file() and (tmp_path / "d" / "cases.csv").is_file()


def test_bad_factor_is_a_one_line_error(capsys):
    code = main(["sensitivity", "scenarios/fuling-baseline.yaml", "--factor",
                 "levers.fund.scal=0.5:2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "scale" in err[0]


def test_fund_answers_beyond_a_quarter_of_industrial_investment_are_flagged():
    from sim.analysis.solve import FUND_INVESTMENT_LIMIT, fund_investment_check

    sc = sim.api.as_scenario({"name": "f", "region": "fuling", "params": {
        "funds": {"annual_investment": 4.8, "source": "test"}}})
    base = fund_investment_check(sc)
    assert base["industrial_investment"] == 323 and base["year"] == 2024
    assert not base["outside"] and base["share"] < FUND_INVESTMENT_LIMIT
    inputs = sc.model_inputs()
    expected = (inputs.fund_inflow * (1 + inputs.fund_leverage)).sum()
    assert base["fund_driven_investment"] == pytest.approx(expected)
    # Scaled 15.7x, the extra money is raised only in part and deployed only up to the funds'
    # capacity (3x the declared yearly size): the check reports what can be invested.
    big = fund_investment_check(sc, {"levers.fund.scale": 15.7})
    deploy = inputs.fund_max_deals[0] * inputs.scalars["ticket"] * inputs.steps_per_year
    assert 3.0 * 4.8 <= deploy < 3.0 * 4.8 + inputs.scalars["ticket"] * inputs.steps_per_year
    assert big["fund_driven_investment"] == pytest.approx(deploy * (1 + inputs.fund_leverage[0]))
    assert big["fund_driven_investment"] > expected
    # A declared fund twelve times larger is beyond what the model can speak for.
    huge = fund_investment_check(sc, {"params.funds.annual_investment": 60.0})
    assert huge["outside"] and "OUTSIDE the range the model can speak for" in huge["message"]
    none = fund_investment_check(sim.api.as_scenario({"name": "c", "region": "chongqing"}))
    assert none["share"] is None and "no published industrial investment" in none["message"]


def test_report_says_when_parks_are_full(tmp_path):
    from sim.reporting.results import write_report

    tight = sim.api.as_scenario({"name": "tight", "region": "fuling",
                                 "levers": {"parks": {"expansion": {"all": -0.6}}}})
    sim.monte_carlo(tight, replications=12, backend="serial", out=tmp_path / "t", progress=False)
    text = write_report(tmp_path / "t", {"": tight}, plots=False).read_text(encoding="utf-8")
    assert "**Parks and land**: entrants refused for lack of land in 100% of replications" in text
    assert ("- Baitao New Materials Science City: land for 312 亿元 of output; full (output at "
            "least 90% of it) in 100%") in text
    roomy = sim.api.as_scenario({"name": "roomy", "region": "fuling",
                                 "levers": {"parks": {"expansion": {"all": 3.0}}}})
    sim.monte_carlo(roomy, replications=12, backend="serial", out=tmp_path / "r", progress=False)
    text = write_report(tmp_path / "r", {"": roomy}, plots=False).read_text(encoding="utf-8")
    assert "full (output at least 90% of it) in 0% of replications" in text


def test_an_unreachable_fund_answer_still_reports_the_fund_check(tmp_path, capsys):
    # A 99% chance is out of reach with twice the declared fund: the message says so and gives
    # the fund-driven investment at the largest value tried, against industrial investment.
    code = main(["solve", "scenarios/fuling-district-fund.yaml", "--lever", "fund.scale",
                 "--prob", "0.99", "--low", "1", "--high", "2", "--replications", "8",
                 "--backend", "serial", "--out", str(tmp_path / "s")])
    out = capsys.readouterr().out
    assert code == 0
    assert "not reachable within bounds" in out
    assert "at levers.fund.scale = 2: fund-driven investment" in out and "323" in out


def test_default_factors_leave_out_fund_levers_of_a_plan_without_a_fund(tmp_path):
    """Fuling's plan names no fund: its default factors hold no fund lever (varying it would fail
    every design point), and a required-lever search on the fund fails in one line before any
    directory is made."""
    from sim.analysis.factors import default_factors

    fuling = sim.load_scenario("scenarios/fuling-baseline.yaml")
    assert not [k for k in default_factors(fuling) if k.startswith("levers.fund.")]
    assert "levers.attraction" in default_factors(fuling)
    assert "levers.fund.scale" in default_factors(
        sim.load_scenario("scenarios/fuling-district-fund.yaml"))
    with pytest.raises(sim.errors.InputError, match="no fund to change"):
        sim.solve(fuling, out=tmp_path / "solve", replications=10, backend="serial")
    assert not (tmp_path / "solve").exists()

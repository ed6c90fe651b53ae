"""Connectors (``sim.replicate``, ``sim.run`` with a scenario, ``sim.ema_model``, ``sim.SEIRegion``
with ``mesa.batch_run``, ``to_xarray``): each must reproduce the Monte Carlo it stands for, so an
analysis run through another tool samples the same distribution as ``sim.monte_carlo``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.connectors.replication import LEVER_KEYS, scenario_specs, target_values
from sim.engines import run_engine
from sim.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SEED = 11
R = 6
FUND = "fuling-district-fund"   # structural variants pooled, fund priors: every kind of draw


@pytest.fixture(scope="module")
def fund():
    return sim.load_scenario(FUND)


@pytest.fixture(scope="module")
def mc(fund, tmp_path_factory):
    return sim.monte_carlo(fund, replications=R, seed=SEED, backend="serial", progress=False,
                           out=tmp_path_factory.mktemp("mc"))


def mc_p_met(result) -> pd.Series:
    t = result.targets()
    return t[t.p_met.notna()].set_index("target")["p_met"]


def outcome_values(result, target: str) -> np.ndarray:
    o = result.outcomes
    return o[o.target == target].sort_values("replication")["value"].to_numpy()


# sim.replicate and sim.run -----------------------------------------------------------------------
def test_replicate_equals_the_monte_carlo_rows(fund, mc):
    assert fund.varies  # otherwise the draws would not be exercised
    annual = mc.annual
    for r in range(R):
        one = sim.replicate(fund, replication=r, seed=SEED).annual
        rows = annual[annual.replication == r].drop(columns="replication").reset_index(drop=True)
        pd.testing.assert_frame_equal(one, rows, check_exact=True, check_dtype=False)


def test_a_replicate_loop_reproduces_the_monte_carlo_probabilities(fund, mc):
    specs = scenario_specs(fund)
    values = [target_values(sim.replicate(fund, r, SEED).annual, specs) for r in range(R)]
    expected = mc_p_met(mc)
    assert len(expected) > 5
    for spec in specs:
        if spec.id in expected.index:
            got = np.mean([v[spec.id] >= spec.threshold for v in values])
            assert got == expected[spec.id], spec.id
            np.testing.assert_array_equal([v[spec.id] for v in values],
                                          outcome_values(mc, spec.id))


def test_run_of_a_scenario_is_replication_zero_of_its_monte_carlo(fund):
    expected = sim.replicate(fund, replication=0, seed=5).annual
    path = str(ROOT / "scenarios" / f"{FUND}.yaml")
    for target in (fund, FUND, path):
        pd.testing.assert_frame_equal(sim.run(target, seed=5).annual, expected, check_exact=True)
    # The fixed parameters alone give another run: the draws are really used.
    fixed = run_engine(fund.model_inputs(), 5).annual
    assert not fixed["sei_output_share"].equals(expected["sei_output_share"])


def test_run_of_a_region_or_plan_file_keeps_the_fixed_parameters():
    from sim.api import as_inputs

    expected = run_engine(as_inputs("fuling"), 3).annual
    pd.testing.assert_frame_equal(sim.run("fuling", seed=3).annual, expected, check_exact=True)
    plan_file = str(ROOT / "seeds" / "fuling.yaml")
    pd.testing.assert_frame_equal(sim.run(plan_file, seed=3).annual, expected, check_exact=True)


@pytest.mark.parametrize("call, words", [
    (lambda: sim.run(FUND, 0, levers={"fund_scale": 2}), ["levers", "with_overrides"]),
    (lambda: sim.replicate(FUND, replication=-1), ["replication", "-1"]),
    (lambda: sim.replicate(FUND, replication=1.5), ["replication", "1.5"]),
    (lambda: sim.replicate(FUND, seed=-2), ["seed", "-2"]),
])
def test_connector_input_errors_are_one_line(call, words):
    with pytest.raises(InputError) as err:
        call()
    text = str(err.value)
    assert "\n" not in text and all(w in text for w in words), text


@pytest.mark.slow
def test_a_loop_of_runs_over_seeds_samples_the_monte_carlo_distribution(tmp_path):
    """Replication 0 of independent seeds and the replications of one Monte Carlo are two samples
    of one distribution: their P(met) agree within binomial error (a loop on the fixed parameters,
    as ``sim.run`` once did, misses it by about ten points here)."""
    sc = sim.load_scenario("fuling-baseline")
    target = "sei_output_share_2026"
    spec = next(s for s in scenario_specs(sc) if s.id == target)
    n = 300
    runs = [target_values(sim.run(sc, seed=i).annual, [spec])[target] >= spec.threshold
            for i in range(n)]
    p_loop = float(np.mean(runs))
    result = sim.monte_carlo(sc, replications=n, seed=20250101, backend="serial",
                             progress=False, out=tmp_path / "mc")
    p_mc = float(mc_p_met(result)[target])
    pooled = (p_loop + p_mc) / 2
    se = math.sqrt(2 * pooled * (1 - pooled) / n)
    assert 0.05 < p_mc < 0.95
    assert abs(p_loop - p_mc) < 3.5 * se, (p_loop, p_mc)


# EMA Workbench -----------------------------------------------------------------------------------
def test_ema_experiments_on_the_replication_index_reproduce_the_monte_carlo(fund, mc):
    from ema_workbench import SequentialEvaluator, perform_experiments

    model = sim.ema_model(fund, replications=R, seed=SEED)
    experiments, outcomes = perform_experiments(model, scenarios=sim.ema_scenarios(R),
                                                evaluator=SequentialEvaluator(model))
    order = np.argsort(experiments["replication"].to_numpy())
    np.testing.assert_array_equal(experiments["replication"].to_numpy()[order], np.arange(R))
    expected = mc_p_met(mc)
    for target, p in expected.items():
        assert float(np.mean(outcomes[f"{target}_met"])) == p, target
        np.testing.assert_array_equal(np.asarray(outcomes[target])[order],
                                      outcome_values(mc, target))


def test_ema_model_exposes_the_scenario_uncertainties_and_levers(fund):
    from sim.analysis.factors import LEVER_RANGES
    from sim.model.params import PRIORS

    model = sim.ema_model(fund, replications=50, seed=SEED)
    unc = {u.name: u for u in model.uncertainties}
    assert (unc["replication"].lower_bound, unc["replication"].upper_bound) == (0, 49)
    for key, (low, high) in PRIORS.items():  # the fund's priors, as the Monte Carlo draws them
        u = unc[key.replace(".", "_")]
        assert (u.lower_bound, u.upper_bound) == (low, high)
    levers = {lv.name: lv for lv in model.levers}
    assert set(levers) == {"fund_scale", "talent_supply", "attraction", "rd_policy"}
    assert (levers["fund_scale"].lower_bound, levers["fund_scale"].upper_bound) == \
        LEVER_RANGES["levers.fund.scale"]
    names = {o.name for o in model.outcomes}
    assert {"sei_output_share_2026", "sei_output_share_2026_met"} <= names
    assert "listed_firm_count_2026" not in names  # not simulated: no outcome
    # Without a fund the fund levers and priors do nothing, so they are not offered.
    plain = sim.ema_model("fuling-baseline", replications=5, seed=SEED)
    assert "fund_scale" not in {lv.name for lv in plain.levers}
    assert [u.name for u in plain.uncertainties] == ["replication"]


def test_ema_explicit_parameters_and_levers_replace_their_draws(fund):
    model = sim.ema_model(fund, replications=R, seed=SEED)
    explicit = model.function(replication=2, seed=SEED, funds_leverage=3.0, fund_scale=2.0)
    moved = fund.with_overrides({"levers.fund.scale": 2.0})
    annual = sim.replicate(moved, 2, SEED, params={"funds.leverage": 3.0}).annual
    assert annual["co_investment"].sum() == pytest.approx(3.0 * annual["fund_invested"].sum())
    for spec in scenario_specs(fund):
        if spec.simulated:
            assert explicit[spec.id] == target_values(annual, [spec])[spec.id]
    drawn = model.function(replication=2, seed=SEED)
    assert drawn["sei_output_2026"] != explicit["sei_output_2026"]


def test_ema_sampled_experiments_are_replications_with_those_values(fund):
    """Exploratory mode: EMA Workbench samples parameters and levers; each experiment is the
    replication it sampled, with the sampled values in place of their draws."""
    from ema_workbench import SequentialEvaluator, perform_experiments

    model = sim.ema_model(fund, replications=R, seed=SEED)
    experiments, outcomes = perform_experiments(model, scenarios=3, policies=2,
                                                evaluator=SequentialEvaluator(model))
    assert len(experiments) == 6
    params = [u.name for u in model.uncertainties if u.name != "replication"]
    levers = [lv.name for lv in model.levers]
    row = experiments.iloc[4]
    moved = fund.with_overrides({LEVER_KEYS[k]: float(row[k]) for k in levers})
    annual = sim.replicate(moved, int(row["replication"]), SEED,
                           params={k.replace("_", ".", 1): float(row[k]) for k in params}).annual
    got = target_values(annual, scenario_specs(fund))["sei_output_share_2026"]
    assert outcomes["sei_output_share_2026"][4] == got


def test_ema_model_input_errors(fund):
    with pytest.raises(InputError, match="replications"):
        sim.ema_model(fund, replications=0)
    with pytest.raises(InputError, match="unknown lever 'fund_scal'.*fund_scale"):
        sim.ema_model(fund, replications=2).function(replication=0, fund_scal=2.0)


# mesa.batch_run ----------------------------------------------------------------------------------
def batch(parameters: dict, seed: int, **options) -> pd.DataFrame:
    import mesa

    from sim.compat import batch_run_kwargs

    rows = mesa.batch_run(sim.SEIRegion, **batch_run_kwargs(parameters, seed), number_processes=1,
                          display_progress=False, **options)
    return pd.DataFrame(rows)


def test_batch_run_over_replications_reproduces_the_monte_carlo(mc):
    reps = 4
    rows = batch({"scenario": FUND, "replication": range(reps)}, SEED, max_steps=100)
    rows = rows.sort_values("replication")
    assert rows["replication"].tolist() == list(range(reps))
    assert (rows["year"] == 2026).all()
    p_expected = {}
    for target in mc_p_met(mc).index:
        expected = outcome_values(mc, target)[:reps]
        np.testing.assert_allclose(rows[target].to_numpy(), expected, rtol=1e-9, atol=0)
        p_expected[target] = float(np.mean(expected >= next(
            s.threshold for s in mc.specs if s.id == target)))
        assert rows[f"{target}_met"].mean() == p_expected[target], target


def test_batch_run_collects_every_year_and_stops_at_the_horizon():
    import mesa

    rows = batch({"scenario": "fuling-baseline", "replication": 0, "fund_scale": 1.0}, SEED,
                 max_steps=100, data_collection_period=1)
    assert rows["year"].tolist() == [2022, 2023, 2024, 2025, 2026]
    share = rows["sei_output_share_2026"]
    assert share.iloc[:-1].isna().all() and share.iloc[-1] == rows["sei_output_share"].iloc[-1]
    # The plain call (seed from the scenario, or from batch_run's iterations) runs too.
    plain = pd.DataFrame(mesa.batch_run(
        sim.SEIRegion, parameters={"scenario": "fuling-baseline", "replication": [0, 1]},
        iterations=1, max_steps=100, number_processes=1, display_progress=False))
    assert len(plain) == 2 and plain["year"].eq(2026).all()
    model = sim.SEIRegion("fuling-baseline", replication=0, seed=SEED)
    model.run()
    assert model.running is False and model.steps == 5


def test_seiregion_is_the_mesa_engine_run_of_its_replication(fund):
    model = sim.mesa_model(fund, seed=SEED, replication=3, talent_supply=1.2)
    assert isinstance(model, sim.SEIRegion)
    model.run()
    moved = fund.with_overrides({"levers.talent.supply": 1.2})
    expected = sim.replicate(moved, 3, SEED, engine="mesa").annual
    pd.testing.assert_frame_equal(model.run_result().annual, expected, check_exact=True)
    fast = sim.replicate(moved, 3, SEED).annual
    assert not fast.equals(sim.replicate(fund, 3, SEED).annual)  # the lever took effect
    np.testing.assert_allclose(model.run_result().annual["sei_output_share"],
                               fast["sei_output_share"], rtol=1e-9)


def test_seiregion_input_errors():
    with pytest.raises(InputError, match="unknown lever 'atraction'.*attraction"):
        sim.SEIRegion("fuling-baseline", atraction=2.0)
    with pytest.raises(InputError, match="needs a scenario"):
        sim.SEIRegion("fuling")


# to_xarray ---------------------------------------------------------------------------------------
def test_monte_carlo_to_xarray_keeps_values_and_units(mc):
    ds = mc.to_xarray()
    annual = mc.annual
    assert ds.sizes["replication"] == R and list(ds["year"].values) == sorted(annual.year.unique())
    for column in ("sei_output_share", "sei_industrial_output", "above_scale_firms",
                   "talent_shortage", "sei_output.industry.new_materials"):
        wide = annual.pivot(index="replication", columns="year", values=column)
        np.testing.assert_array_equal(ds[column].transpose("replication", "year").values,
                                      wide.to_numpy())
    assert ds["sei_output_share"].attrs["units"] == "%"
    assert ds["sei_industrial_output"].attrs["units"] == "亿元"
    assert ds["gdp"].attrs["units"] == "亿元"
    assert ds["above_scale_firms"].attrs["units"] == "firms"
    assert ds["talent_stock"].attrs["units"] == "persons"
    assert ds["sei_output.park.baitao"].attrs["units"] == "亿元"
    for name, var in ds.data_vars.items():
        assert var.attrs.get("units") and var.attrs.get("long_name"), name
    p = ds["target_met"].mean("replication").to_series()
    expected = mc_p_met(mc)
    pd.testing.assert_series_equal(p[expected.index], expected, check_names=False)
    assert ds["threshold"].sel(target="sei_output_share_2026") == 40


def test_comparison_to_xarray_stacks_scenarios(tmp_path):
    cmp = sim.compare(["fuling-baseline", FUND], replications=3, seed=SEED, backend="serial",
                      progress=False, out=tmp_path / "cmp")
    ds = cmp.to_xarray()
    assert list(ds["scenario"].values) == ["fuling-baseline", FUND]
    assert ds["sei_output_share"].dims == ("scenario", "replication", "year")
    for label in cmp.labels:
        annual = cmp[label].annual
        wide = annual.pivot(index="replication", columns="year", values="fund_invested")
        np.testing.assert_array_equal(ds["fund_invested"].sel(scenario=label).values,
                                      wide.to_numpy())
    assert ds["fund_invested"].attrs["units"] == "亿元"


def test_to_xarray_without_xarray_names_the_extra(mc, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "xarray", None)  # as if not installed
    with pytest.raises(InputError, match=r"seisim\[xarray\]"):
        mc.to_xarray()

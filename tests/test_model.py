"""Behavioural tests of the model and its two engines.

Nothing here compares against stored outputs: every assertion is a property the model must have
(the first row reproduces the plan's baseline, money is conserved, the engines agree, levers push
outcomes the way the mechanism says). Statistical tests use the numba engine with common random
numbers (the same seeds in both arms: every mechanism draws from its own stream, so the arms differ
only through the lever) and compare paired means with a margin of several standard errors. The Mesa
engine is used only for equality checks on short, small cases.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd
import pytest

import sim
from sim.api import as_inputs
from sim.errors import InputError
from sim.model.levers import GrowthShock, Levers
from sim.model.params import merge_nested

#: (id, options of sim.run) for every shipped plan version and the long-history Chongqing start.
CASES = {
    "fuling": ("fuling", {}),
    # Fuling's plan gives no fund figure, so the model has none; fund tests declare one.
    "fuling-fund": ("fuling", {"params": {"funds": {"annual_investment": 4.8,
                                                    "source": "test: a declared fund"}}}),
    "chongqing-001": ("chongqing", {"version": "001"}),
    "chongqing-000": ("chongqing", {"version": "000"}),
    "chongqing-001-2015": ("chongqing", {"version": "001", "start_year": 2015}),
}

#: Floating-point rounding of a sum of n positive terms computed in two different orders (and,
#: per firm, a log/exp round trip) is bounded by about n * 2.2e-16; with at most a few thousand
#: firms that is < 1e-12 relative. Any modelling discrepancy is many orders of magnitude larger.
ROUNDING = 1e-12

COUNT_COLUMNS = ("above_scale_firms", "firms_over_10", "firms_over_100", "alive_firms",
                 "entries_startup", "entries_attracted", "entries_blocked", "entries_dropped",
                 "exits", "crossings")
SHARE_COLUMNS = ("sei_output_share", "sei_value_added_share_gdp",
                 "sei_share_of_industrial_value_added")
OUTPUT_COLUMNS = ("sei_industrial_output", "nonsei_output", "sei_services_output", "gdp_rest",
                  "sei_output_total", "total_industrial_output", "gdp", "sei_value_added",
                  "talent_stock", "talent_demand", "fund_invested", "co_investment",
                  "fund_stakes", "fund_exit_proceeds", "fund_writeoffs")


def inputs_for(case: str, params: tuple = (), levers: Levers | None = None,
               end_year: int | None = None):
    """Compiled inputs (cached: several tests reuse the same configuration)."""
    return _inputs(case, params, None if levers is None else levers.model_dump_json(), end_year)


@cache
def _inputs(case, params, levers_json, end_year):
    region, options = CASES[case]
    options = dict(options)
    merged = merge_nested(options.pop("params", {}), _nested(params))
    levers = None if levers_json is None else Levers.model_validate_json(levers_json)
    return as_inputs(region, params=merged, levers=levers, end_year=end_year, **options)


def _nested(flat: tuple) -> dict:
    """(("funds.holding_period", 1.0), ...) -> {"funds": {"holding_period": 1.0}} (hashable
    params for the cache above)."""
    out: dict = {}
    for key, value in flat:
        *path, leaf = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def runs(inputs, seeds, **kw) -> list[pd.DataFrame]:
    return [sim.run(inputs, seed, **kw).annual for seed in seeds]


def paired(diff) -> tuple[float, float]:
    """Mean and standard error of paired differences."""
    d = np.asarray(diff, float)
    return d.mean(), d.std(ddof=1) / math.sqrt(d.size)


def log_growth(frame: pd.DataFrame, column: str = "sei_industrial_output") -> float:
    return math.log(frame[column].iloc[-1] / frame[column].iloc[0])


# -- the first row is the plan's baseline ---------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("case", list(CASES))
def test_first_row_reproduces_the_baseline(case, seed):
    inputs = inputs_for(case)
    b = inputs.baseline
    row = sim.run(inputs, seed).annual.iloc[0]

    def same(value, expected):
        return value == pytest.approx(expected, rel=ROUNDING, abs=ROUNDING)

    assert row["year"] == b.year
    assert same(row["sei_industrial_output"], b.sei_industrial_output)
    for name, value in zip(b.industries, b.industry_output):
        assert same(row[f"sei_output.industry.{name}"], value), name
    for name, value in zip(b.services, b.services_output):
        assert same(row[f"sei_output.industry.{name}"], value), name
    for name, value in zip(b.parks, b.park_output):
        assert same(row[f"sei_output.park.{name}"], value), name
    assert row["above_scale_firms"] == b.above_scale_firms
    assert same(row["nonsei_output"], b.nonsei_output)
    assert same(row["sei_output_share"], b.strict_share)
    assert same(row["talent_stock"], b.talent)
    # Firms below the threshold exist (candidates for crossing) but are not counted.
    assert row["alive_firms"] > row["above_scale_firms"]


# -- invariants ---------------------------------------------------------------------------------

STRESS = Levers(talent={"supply": 0.3}, attraction=3, fund={"scale": 3},
                parks={"expansion": {"all": 0.2}}, shocks=(GrowthShock(start=2022, end=2022, growth_shift=-0.3),))


@pytest.mark.parametrize("levers", [None, STRESS], ids=["status-quo", "stress"])
@pytest.mark.parametrize("case", ["fuling-fund", "chongqing-001", "chongqing-001-2015"])
def test_invariants_hold_every_year(case, levers):
    inputs = inputs_for(case, levers=levers)
    for seed in range(4):
        result = sim.run(inputs, seed)
        a = result.annual
        for col in OUTPUT_COLUMNS + COUNT_COLUMNS:
            assert (a[col] >= 0).all(), col
            assert np.isfinite(a[col]).all(), col
        for col in COUNT_COLUMNS:
            assert (a[col] == np.round(a[col])).all(), col
        for col in SHARE_COLUMNS:
            assert a[col].between(0, 100).all(), col
        assert (a["firms_over_100"] <= a["firms_over_10"]).all()
        assert (a["firms_over_10"] <= a["above_scale_firms"]).all()
        assert (a["above_scale_firms"] <= a["alive_firms"]).all()
        assert a["talent_shortage"].between(0, 1).all()
        # Industry and park breakdowns add up to the total (parks partition the firms).
        ind = [f"sei_output.industry.{i}" for i in inputs.baseline.industries]
        park = [f"sei_output.park.{p}" for p in inputs.baseline.parks]
        np.testing.assert_allclose(a[ind].sum(axis=1), a["sei_industrial_output"], rtol=ROUNDING)
        np.testing.assert_allclose(a[park].sum(axis=1), a["sei_industrial_output"],
                                   rtol=ROUNDING)
        # The firm table is sized generously: no entry is lost for lack of slots.
        assert (a["entries_dropped"] == 0).all()
        # Firm stock flow over the run: every entry takes a new slot, every exit frees a firm.
        # (The yearly alive_firms counts firms that produced in the year's last step, so
        # entrants of that step show up a year later; the final firm table has them.)
        entries = a["entries_startup"].sum() + a["entries_attracted"].sum()
        assert result.firms.n_used == a["alive_firms"].iloc[0] + entries
        assert result.firms.alive.sum() == a["alive_firms"].iloc[0] + entries - a["exits"].sum()


# -- fund capital is conserved -------------------------------------------------------------------

# Exits within the horizon need a holding period shorter than it (default 5 years).
FUND_PARAMS = (("funds.holding_period", 1.0), ("funds.exit_multiple", 1.0))


@pytest.mark.parametrize("recycle", [True, False], ids=["recycle", "no-recycle"])
@pytest.mark.parametrize("case", ["fuling-fund", "chongqing-000"])
def test_fund_capital_is_conserved(case, recycle):
    inputs = inputs_for(case, FUND_PARAMS + (("funds.recycle", recycle),), end_year=None)
    inflow = inputs.fund_inflow.sum()
    leverage = inputs.fund_leverage
    written_off = 0.0
    for a in runs(inputs, range(12)):  # enough runs that some funded firm exits
        a = a.iloc[1:]
        years = a["year"] - inputs.start_year
        cum_in = inflow * years
        writeoffs = a["fund_writeoffs"].cumsum()
        proceeds = a["fund_exit_proceeds"].cumsum()
        invested = a["fund_invested"].cumsum()
        assert proceeds.iloc[-1] > 0 and invested.iloc[-1] > 0
        written_off += writeoffs.iloc[-1]
        held = a["fund_cash"] + a["fund_stakes"] + writeoffs
        # Sums of a few hundred tickets: 1e-9 is rounding, one ticket (0.5) would be a leak.
        if recycle:
            # Exited capital (multiple 1) goes back to cash: every yuan raised is in cash, in
            # stakes, or written off.
            np.testing.assert_allclose(held, cum_in, rtol=1e-9)
        else:
            # Exited capital is paid out as proceeds and leaves the fund.
            np.testing.assert_allclose(held + proceeds, cum_in, rtol=1e-9)
        # Stakes are what was invested less what was exited or written off.
        np.testing.assert_allclose(a["fund_stakes"], invested - proceeds - writeoffs,
                                   rtol=1e-9, atol=1e-9)
        if leverage.size == 1:
            np.testing.assert_allclose(a["co_investment"], leverage[0] * a["fund_invested"],
                                       rtol=1e-12)
        assert (a["fund_cash"] >= -1e-9).all()
    # Some funded firm must have exited in these runs, or write-offs were never exercised.
    assert written_off > 0


def test_exit_multiple_adds_its_gain_to_the_fund():
    inputs = inputs_for("chongqing-001", (("funds.holding_period", 1.0),
                                          ("funds.exit_multiple", 2.0)))
    inflow = inputs.fund_inflow.sum()
    for a in runs(inputs, range(2)):
        a = a.iloc[1:]
        proceeds = a["fund_exit_proceeds"].cumsum()
        gain = proceeds / 2  # half of what comes back at multiple 2 is profit
        held = a["fund_cash"] + a["fund_stakes"] + a["fund_writeoffs"].cumsum()
        assert proceeds.iloc[-1] > 0
        np.testing.assert_allclose(held, inflow * (a["year"] - inputs.start_year) + gain,
                                   rtol=1e-9)


# -- determinism --------------------------------------------------------------------------------

def test_same_seed_same_result_numba():
    inputs = inputs_for("chongqing-001")
    pd.testing.assert_frame_equal(sim.run(inputs, 11).annual, sim.run(inputs, 11).annual,
                                  check_exact=True)


def test_same_seed_same_result_mesa():
    inputs = inputs_for("fuling", end_year=2023)
    pd.testing.assert_frame_equal(sim.run(inputs, 11, "mesa").annual,
                                  sim.run(inputs, 11, "mesa").annual, check_exact=True)


def test_seed_sequence_is_reusable_and_not_mutated():
    inputs = inputs_for("fuling")
    seq = np.random.SeedSequence(20240601).spawn(3)[2]
    first = sim.run(inputs, seq).annual
    second = sim.run(inputs, seq).annual
    assert seq.n_children_spawned == 0
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    # An integer seed is shorthand for SeedSequence(seed).
    pd.testing.assert_frame_equal(sim.run(inputs, 5).annual,
                                  sim.run(inputs, np.random.SeedSequence(5)).annual,
                                  check_exact=True)
    # Sibling sequences are different replications.
    other = np.random.SeedSequence(20240601).spawn(3)[1]
    assert not sim.run(inputs, other).annual.equals(first)


def test_different_seeds_differ():
    inputs = inputs_for("chongqing-001")
    a, b = sim.run(inputs, 1).annual, sim.run(inputs, 2).annual
    # The baseline row is the plan's (identical); every later year's output differs.
    assert a["sei_industrial_output"].iloc[0] == pytest.approx(b["sei_industrial_output"].iloc[0])
    assert (a["sei_industrial_output"].iloc[1:] != b["sei_industrial_output"].iloc[1:]).all()


# -- the two engines are one model --------------------------------------------------------------

ENGINE_CASES = {
    # Tight land (baitao is full from the start), a declared fund and short holding: entries,
    # blocked entries, exits, fund deals (failed and blocked ones too), exits of stakes and
    # write-offs all happen.
    "fuling": ("fuling", (("parks.land_headroom", 0.5), ("funds.holding_period", 1.0),
                          ("funds.annual_investment", 20.0), ("funds.source", "test fund"),
                          ("funds.project_failure", 0.3)),
               Levers(attraction=3), 2024),
    "chongqing-000": ("chongqing-000", (("funds.holding_period", 1.0),),
                      Levers(talent={"supply": 0.5}, shocks=(GrowthShock(start=2021, end=2021,
                                                                    growth_shift=-0.05),)), 2022),
}


@pytest.mark.parametrize("name", list(ENGINE_CASES))
def test_numba_and_mesa_agree(name):
    case, params, levers, end = ENGINE_CASES[name]
    inputs = inputs_for(case, params, levers, end)
    seed = np.random.SeedSequence(99)
    fast = sim.run(inputs, seed, "numba", record_firms=True)
    ref = sim.run(inputs, seed, "mesa", record_firms=True)
    a = fast.annual
    totals = a.sum()
    assert totals["entries_startup"] + totals["entries_attracted"] > 0
    assert totals["exits"] > 0
    assert totals["fund_invested"] > 0
    assert totals["fund_exit_proceeds"] > 0
    if name == "fuling":
        assert totals["entries_blocked"] > 0
        assert totals["fund_projects_failed"] > 0 and totals["fund_deals_blocked"] > 0
    else:
        assert totals["talent_shortage"] > 0
    # Same draws in the same order and the same summation order: equal up to rounding.
    pd.testing.assert_frame_equal(a, ref.annual, check_exact=False, rtol=1e-9, atol=0)
    # Per-firm output histories (slot x year) agree.
    np.testing.assert_allclose(fast.firm_history, ref.firm_history, rtol=1e-9, atol=0)
    assert fast.firms.n_used == ref.firms.n_used
    n = fast.firms.n_used
    np.testing.assert_array_equal(fast.firms.alive[:n], ref.firms.alive[:n])
    alive = fast.firms.alive[:n] == 1
    for field in ("industry", "park"):
        np.testing.assert_array_equal(getattr(fast.firms, field)[:n][alive],
                                      getattr(ref.firms, field)[:n][alive])
    for field in ("logy", "stake", "pipeline", "rd"):
        np.testing.assert_allclose(getattr(fast.firms, field)[:n][alive],
                                   getattr(ref.firms, field)[:n][alive], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(ENGINE_CASES))
def test_numba_and_mesa_firm_tables_agree(name):
    case, params, levers, end = ENGINE_CASES[name]
    inputs = inputs_for(case, params, levers, end)
    fast = sim.run(inputs, 99, "numba", record_firms=True)
    ref = sim.run(inputs, 99, "mesa", record_firms=True)
    assert fast.annual["exits"].sum() > 0
    pd.testing.assert_frame_equal(fast.firm_table(), ref.firm_table(), check_exact=False,
                                  rtol=1e-9, atol=0)


# -- stylized facts -----------------------------------------------------------------------------

def hill(sizes: np.ndarray, k: int) -> float:
    """Hill estimator of the Pareto tail exponent from the k largest sizes."""
    x = np.sort(sizes)[::-1]
    return k / np.sum(np.log(x[:k]) - math.log(x[k]))


def test_size_distribution_keeps_a_heavy_tail():
    inputs = inputs_for("chongqing-001", end_year=2030)
    thr = inputs.params.firms.above_scale_threshold
    estimates = []
    for seed in range(8):
        firms = sim.run(inputs, seed, record_firms=True).firm_table()
        sizes = firms.loc[(firms["year"] == 2030) & (firms["output"] >= thr), "output"].to_numpy()
        estimates.append(hill(sizes, len(sizes) // 5))
    mean, se = np.mean(estimates), np.std(estimates, ddof=1) / math.sqrt(len(estimates))
    # Firm-size tails in the literature have exponents of 1.0-1.5; anything in 0.6-2.0 is
    # heavy-tailed. Require the whole mean +- 4 se band to lie inside.
    assert 0.6 < mean - 4 * se and mean + 4 * se < 2.0, (mean, se)


N_REPS = 30
SEEDS = range(100, 100 + N_REPS)
MARGIN = 4  # standard errors: with ~10 one-sided tests, a false alarm has probability < 1e-3


def lever_effect(case: str, levers: Levers, column: str = "sei_industrial_output",
                 stat=log_growth, params: tuple = ()):
    base = runs(inputs_for(case, params), SEEDS)
    arm = runs(inputs_for(case, params, levers), SEEDS)
    return base, arm, paired([stat(x, column) - stat(y, column) for x, y in zip(arm, base)])


@pytest.mark.parametrize("case", ["fuling-fund", "chongqing-001"])
def test_a_larger_fund_raises_growth(case):
    base, arm, (mean, se) = lever_effect(case, Levers(fund={"scale": 4}))
    assert mean > MARGIN * se, (mean, se)
    # The increase is raised only in part (funds.raised_fraction): 1 + 3 x 0.47 times the money.
    total = sum(a["fund_invested"].sum() for a in arm) / sum(b["fund_invested"].sum() for b in base)
    assert total == pytest.approx(1 + 3 * 0.47, rel=0.05)  # deals come in whole tickets


@pytest.mark.parametrize("case", ["fuling", "chongqing-001"])
def test_talent_shortage_lowers_growth(case):
    # A shortage acts through the R&D firms can staff (ODD 7.3), a small effect at the default
    # R&D premium; a larger premium makes the mechanism's sign visible above the noise.
    base, arm, (mean, se) = lever_effect(case, Levers(talent={"supply": 0.5}),
                                         params=(("firms.rd_growth_effect", 0.3),))
    assert mean < -MARGIN * se, (mean, se)
    # Half the inflow still lets the stock grow ~1 %/yr, so slow-growth replications may see no
    # shortage; most do, and the shortage is larger on average than in the status quo.
    assert np.mean([a["talent_shortage"].iloc[1:].max() > 0 for a in arm]) > 0.5
    s_mean, s_se = paired([x["talent_shortage"].mean() - y["talent_shortage"].mean()
                           for x, y in zip(arm, base)])
    assert s_mean > MARGIN * s_se, (s_mean, s_se)


def test_low_talent_supply_growth_parameter_lowers_growth():
    # The shortage acts through realised R&D (ODD 7.3): a larger R&D premium makes it visible.
    rd = (("firms.rd_growth_effect", 0.3),)
    base = runs(inputs_for("chongqing-001", rd), SEEDS)
    arm = runs(inputs_for("chongqing-001", rd + (("talent.supply_growth", 0.0),)), SEEDS)
    mean, se = paired([log_growth(x) - log_growth(y) for x, y in zip(arm, base)])
    assert mean < -MARGIN * se, (mean, se)
    assert np.mean([a["talent_shortage"].iloc[-1] for a in arm]) > np.mean(
        [b["talent_shortage"].iloc[-1] for b in base])


def test_higher_attraction_raises_attracted_entries():
    base, arm, (mean, se) = lever_effect(
        "chongqing-001", Levers(attraction=2), column="entries_attracted",
        stat=lambda f, c: f[c].sum())
    assert mean > MARGIN * se
    # Unlimited land in the region-wide park: twice the Poisson rate, twice the projects.
    ratio = sum(a["entries_attracted"].sum() for a in arm) / sum(
        b["entries_attracted"].sum() for b in base)
    assert ratio == pytest.approx(2, rel=0.15)  # ~4,500 vs ~9,000 events: se of ratio ~0.03


def test_recession_lowers_output_in_the_shock_years():
    shift = -0.1
    levers = Levers(shocks=(GrowthShock(start=2022, end=2023, growth_shift=shift),))
    base = runs(inputs_for("chongqing-001"), SEEDS)
    arm = runs(inputs_for("chongqing-001", levers=levers), SEEDS)
    by_year = {int(y): k for k, y in enumerate(base[0]["year"])}
    # Before the shock, the arms share every random draw: identical years.
    for x, y in zip(arm, base):
        pd.testing.assert_frame_equal(x.iloc[:by_year[2021] + 1], y.iloc[:by_year[2021] + 1],
                                      check_exact=True)
    spy = inputs_for("chongqing-001").steps_per_year
    # A yearly output is the mean of step outputs; the shift accumulates over the year's steps,
    # so year 1 loses shift*(spy+1)/(2 spy) in logs and year 2 a whole shift more. Second-order
    # effects (exits, agglomeration, talent) are small: allow 30 % of the direct effect.
    direct = {2022: shift * (spy + 1) / (2 * spy), 2023: shift + shift * (spy + 1) / (2 * spy)}
    for year, expected in direct.items():
        k = by_year[year]
        mean, se = paired([math.log(x["sei_industrial_output"].iloc[k]
                                    / y["sei_industrial_output"].iloc[k])
                           for x, y in zip(arm, base)])
        assert mean < -MARGIN * se
        assert mean == pytest.approx(expected, rel=0.3), (year, mean, expected)


def test_fund_allocation_steers_every_deal():
    inputs = inputs_for("chongqing-001", levers=Levers(fund={"allocation": {"nev_icv": 1.0}}))
    target = inputs.baseline.industries.index("nev_icv")
    for seed in range(3):
        firms = sim.run(inputs, seed).firms
        held = firms.stake[:firms.n_used] > 0
        assert held.sum() > 0
        assert (firms.industry[:firms.n_used][held] == target).all()


def test_follow_on_deals_grow_existing_stakes():
    # A firm already holding a stake can receive further deals (kernel `invest`): a stake is a
    # whole number of tickets, and with a large fund some stakes hold several.
    inputs = inputs_for("fuling-fund", levers=Levers(fund={"scale": 4}))
    ticket = inputs.scalars["ticket"]
    for seed in range(3):
        result = sim.run(inputs, seed)
        stake = result.firms.stake[:result.firms.n_used]
        held = stake[stake > 0]
        tickets = held / ticket
        np.testing.assert_allclose(tickets, np.round(tickets), atol=1e-9)
        assert (tickets > 1.5).any()
        assert held.sum() == pytest.approx(result.annual["fund_stakes"].iloc[-1], rel=1e-9)


# -- parks ----------------------------------------------------------------------------------------

def test_full_parks_block_every_entry():
    inputs = inputs_for("fuling", (("parks.land_headroom", 1e-6),))
    # The SEI output outside Fuling's named parks (4.65 亿元) has land by the same rule.
    assert "outside_parks" in inputs.baseline.parks
    assert (inputs.land < 1e-3).all()
    for a in runs(inputs, range(4)):
        assert (a["entries_startup"] == 0).all() and (a["entries_attracted"] == 0).all()
        assert a["entries_blocked"].sum() > 0
        # Incumbents still grow and exit.
        assert a["exits"].sum() > 0


def test_only_parks_with_free_land_receive_entrants():
    # Land at 0.3 x target (0.6 x output outside the named parks) is below current use in every
    # Fuling park; expanding lingang by 300 % reopens that one park only.
    params = (("parks.land_headroom", 0.3),)
    inputs = inputs_for("fuling", params, Levers(parks={"expansion": {"lingang": 3.0}}))
    b = inputs.baseline
    lingang = b.parks.index("lingang")
    assert inputs.land[lingang] > b.park_output[lingang]
    allowed = {b.industries[j] for j in np.flatnonzero(b.cell_allowed[lingang])}
    entrants = 0
    for seed in range(4):
        result = sim.run(inputs, seed, record_firms=True)
        n0 = int(result.annual["alive_firms"].iloc[0])
        firms = result.firm_table()
        new = firms[firms["firm"] >= n0]
        entrants += new["firm"].nunique()
        assert set(new["park"]) <= {"lingang"}
        assert set(new["industry"]) <= allowed
        assert result.annual["entries_blocked"].sum() > 0
    assert entrants > 0


# -- bad inputs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("call, words", [
    (lambda: sim.run("fuling", 0, engine="numpy"), ["unknown engine", "numpy", "numba", "mesa"]),
    (lambda: sim.run("fuling", 0, end_year=2021), ["end year 2021", "base year 2021"]),
    (lambda: sim.run("chongqing", 0, version="001", start_year=2015, end_year=2010),
     ["end year 2010", "base year 2015"]),
    # compile_inputs now names the scenario key path (levers.parks.expansion.<park>,
    # levers.fund.allocation.<industry>) instead of 'park_expansion' / 'fund allocation', so that
    # Scenario.relocate can put the scenario file and line on the error.
    (lambda: sim.run("fuling", 0, levers=Levers(parks={"expansion": {"lingan": 0.5}})),
     ["levers.parks.expansion", "unknown park 'lingan'", "(did you mean 'lingang'?)",
      "model parks: "]),
    (lambda: sim.run("fuling", 0, levers={"fund": {"allocation": {"new_material": 1.0}}},
                     params={"funds": {"annual_investment": 4.8, "source": "test"}}),
     ["levers.fund.allocation", "unknown industry 'new_material'",
      "(did you mean 'new_materials'?)"]),
    # No fund figure in the plan and none declared: no fund, and a fund lever says so.
    (lambda: sim.run("fuling", 0, levers={"fund": {"scale": 2.0}}),
     ["levers.fund", "no fund", "funds.annual_investment", "funds.source"]),
    (lambda: sim.run("fuling", 0, params={"funds": {"annual_investment": 4.8}}),
     ["funds.source", "where the fund size comes from"]),
], ids=["engine", "end-year", "end-before-start", "park", "fund-industry", "no-fund",
        "fund-without-source"])
def test_bad_inputs_raise_input_error(call, words):
    with pytest.raises(InputError) as err:
        call()
    message = str(err.value)
    for word in words:
        assert word in message, (word, message)


# Structural variants (ODD 7.16) and GDP as the sum of its parts --------------------------------
def test_converge_variant_narrows_the_growth_gap_over_time():
    """Under converge the SEI growth premium over the rest of industry shrinks year by year;
    under persist it does not (paired on common random numbers, averaged over seeds)."""
    def gaps(variant):
        out = []
        for seed in range(8):
            params = sim.ModelParams().updated({  # fixed, not the fitted sets
                "firms": {"drift": 0.15}, "economy": {"nonsei_growth": 0.02},
                "structure": {"variant": variant, "half_life": 2.0}})
            a = sim.run("chongqing", seed=seed, params=params, end_year=2030).annual
            g_sei = np.diff(np.log(a.sei_industrial_output.to_numpy()))
            g_rest = np.diff(np.log(a.nonsei_output.to_numpy()))
            out.append(g_sei - g_rest)
        return np.mean(out, axis=0)

    persist, converge = gaps("persist"), gaps("converge")
    # Years 1-3 against years 8-10. Entrants and fund projects keep some gap under converge, and
    # under persist the gap wanders as the mix of firms changes, but it does not trend down.
    early, late = slice(0, 3), slice(-3, None)
    assert converge[late].mean() < 0.7 * converge[early].mean()
    assert persist[late].mean() > 0.8 * persist[early].mean()
    assert converge[late].mean() < persist[late].mean() - 0.04


def test_convergence_continues_from_its_start_year():
    from sim.model.inputs import compile_inputs

    plan = sim.plans.load("chongqing", "001")
    base = {"structure": {"variant": "converge", "half_life": 5.0, "since": 2015}}
    params = sim.ModelParams().updated({**base, "firms": {"drift": 0.15},
                                        "economy": {"nonsei_growth": 0.0}})
    from2015 = compile_inputs(plan, params, start_year=2015, end_year=2025)
    from2020 = compile_inputs(plan, params, start_year=2020, end_year=2025)
    spy = params.steps_per_year
    # The premium in 2020 is the same whether the run started in 2015 or in 2020: halved once.
    assert from2020.mu[0, 0] == pytest.approx(0.075)
    assert from2015.mu[5 * spy, 0] == pytest.approx(from2020.mu[0, 0])


def test_pooled_variant_draws_both_with_its_weight():
    from sim.scenarios import scenario_from_dict

    sc = scenario_from_dict({"name": "p", "region": "fuling", "params": {
        "structure": {"variant": "pooled", "converge_weight": 0.3}}})
    assert sc.varies
    draws = [sc.draw_params(np.random.default_rng(k)).structure.variant for k in range(400)]
    assert set(draws) == {"persist", "converge"}
    assert 0.22 < draws.count("converge") / 400 < 0.38
    with pytest.raises(InputError, match="pooled"):
        sim.run("fuling", params={"structure": {"variant": "pooled"}})


def test_engines_agree_under_convergence():
    opts = {"params": {"structure": {"variant": "converge", "half_life": 3.0}}}
    a = sim.run("fuling", seed=4, **opts).annual
    b = sim.run("fuling", seed=4, engine="mesa", **opts).annual
    pd.testing.assert_frame_equal(a, b, rtol=1e-9)


@pytest.mark.parametrize("region,version,year,published", [
    ("chongqing", "001", 2020, 25002.79), ("chongqing", "000", 2020, 25002.79),
    ("fuling", None, 2021, 1402.74)])
def test_gdp_is_the_sum_of_parts_and_starts_at_the_published_figure(region, version, year,
                                                                     published):
    a = sim.run(region, version=version, seed=2).annual
    assert a.gdp.iloc[0] == pytest.approx(published, rel=0.01)
    # GDP counts all industry, so the rest of industry enters on the comparable sample (ODD 7.17).
    nonsei_va = a.industrial_value_added_comparable - a.sei_industrial_value_added
    services_va = a.sei_value_added - a.sei_industrial_value_added
    assert np.allclose(a.gdp, a.gdp_rest + a.sei_industrial_value_added + services_va + nonsei_va)
    assert (a.gdp_rest > 0).all()


@pytest.mark.parametrize("case", ["fuling", "chongqing-001"])
@pytest.mark.parametrize("levers", [{"rd_policy": 1.2}, {"rd_policy": 1.5},
                                    {"talent": {"supply": 1.2}},
                                    {"talent": {"supply_growth": 0.12}}])
def test_more_rd_policy_or_talent_never_lowers_expected_output(case, levers):
    """Sign check (ODD 7.3): neither lever has a sourced mechanism that lowers output, so on
    common random numbers SEI output growth must not fall significantly."""
    _, _, (mean, se) = lever_effect(case, Levers(**levers))
    assert mean > -MARGIN * se, (mean, se)


# -- funds grounded in evidence (ODD 7.8) -------------------------------------------------------

def test_a_plan_without_fund_figures_has_no_fund():
    inputs = inputs_for("fuling")
    assert inputs.fund_inflow.size == 0
    assert any("no fund figure" in note for note in inputs.baseline.notes)
    a = sim.run(inputs, 0).annual
    assert (a["fund_invested"] == 0).all() and (a["co_investment"] == 0).all()


def test_announced_money_is_raised_in_part_and_past_pace_continues():
    from sim.model.inputs import fund_inflow_per_year

    declared = inputs_for("fuling-fund")
    assert declared.fund_inflow[0] == pytest.approx(4.8 * 0.47)  # an announced size
    actual = inputs_for("chongqing-001")
    base = actual.baseline.funds[0]
    assert base.actual and actual.fund_inflow[0] == pytest.approx(base.annual_investment)
    assert fund_inflow_per_year(base, 2.0, 0.5) == pytest.approx(1.5 * base.annual_investment)
    assert fund_inflow_per_year(base, 0.5, 0.5) == pytest.approx(0.5 * base.annual_investment)


def test_crowding_out_shrinks_what_a_larger_fund_adds():
    """Doubling a fund with crowding out (additionality 0.4) raises output by less than with
    none (additionality 1), on the same random numbers."""
    gains = {}
    for additionality in (1.0, 0.4):
        params = (("funds.additionality", additionality),)
        _, _, (mean, se) = lever_effect("chongqing-001", Levers(fund={"scale": 3}), params=params)
        assert mean > 0
        gains[additionality] = mean
    assert gains[0.4] < 0.6 * gains[1.0], gains


def test_failed_projects_add_no_output_and_lose_their_money():
    sure = inputs_for("fuling-fund", (("funds.project_failure", 1.0),))
    for a in runs(sure, range(3)):
        assert a["fund_invested"].sum() > 0
        # Every deal fails: the money is written off at once, nothing is held, no output added.
        np.testing.assert_allclose(a["fund_writeoffs"].cumsum(), a["fund_invested"].cumsum())
        assert (a["fund_stakes"] == 0).all()
    firms = sim.run(sure, 0).firms
    assert (firms.pipeline == 0).all() and (firms.stake == 0).all()


def test_projects_need_park_land():
    # Parks with no free land: no project can be placed, the money waits in the fund.
    full = inputs_for("fuling-fund", (("parks.land_headroom", 1e-6),))
    for a in runs(full, range(3)):
        assert a["fund_invested"].sum() == 0
        assert a["fund_deals_blocked"].sum() > 0
        assert a["fund_cash"].iloc[-1] > 0


def test_deployment_capacity_bounds_a_huge_fund():
    # The largest scale a lever accepts (1000): the funds still close at most their capacity of
    # deals a step (the run ends fast), and the cash they cannot deploy piles up.
    inputs = inputs_for("fuling-fund", levers=Levers(fund={"scale": 1000}))
    per_year = inputs.fund_max_deals.sum() * inputs.scalars["ticket"] * inputs.steps_per_year
    a = sim.run(inputs, 0).annual
    assert (a["fund_invested"].iloc[1:] <= per_year + 1e-9).all()
    assert a["fund_cash"].iloc[-1] > 10 * a["fund_invested"].iloc[1:].sum()


def test_absurd_lever_values_are_refused():
    with pytest.raises(ValueError, match="less than or equal to 1000"):
        Levers(fund={"scale": 1e9})
    with pytest.raises(ValueError, match="less than or equal to 100"):
        Levers(attraction=1e9)


def test_entry_events_are_bounded_by_the_firm_table():
    # The engines' last line of defence, below the parameter ranges: an absurd entry rate (set
    # here on the compiled inputs, past validation) cannot allocate unbounded memory or loop for
    # hours; the firm table is capped and the excess counted as dropped.
    import copy

    from sim.model.inputs import MAX_FIRM_SLOTS

    inputs = copy.copy(inputs_for("fuling", end_year=2022))
    inputs.scalars = dict(inputs.scalars, attract_rate=1e8)
    assert inputs.capacity(100) == MAX_FIRM_SLOTS
    a = sim.run(inputs, 0).annual
    assert a["entries_dropped"].iloc[1:].sum() > 0


def test_fund_priors_are_drawn_per_replication_unless_fixed():
    from sim.api import as_scenario

    sc = as_scenario({"name": "p", "region": "chongqing"})
    rng = np.random.default_rng(3)
    draws = [sc.draw_params(rng).funds for _ in range(40)]
    lev = [d.leverage for d in draws]
    assert 3.0 <= min(lev) < max(lev) <= 4.0
    assert all(0.43 <= d.raised_fraction <= 0.51 for d in draws)
    fixed = as_scenario({"name": "q", "region": "chongqing", "params": {"funds": {"leverage": 2}}})
    assert {fixed.draw_params(rng).funds.leverage for _ in range(5)} == {2.0}


# -- the rest of industry on the comparable sample (ODD 7.17) -----------------------------------

def test_coverage_drift_moves_levels_and_shares_not_growth_rates():
    base = inputs_for("chongqing-001", (("economy.coverage_drift", 0.0),))
    drift = inputs_for("chongqing-001", (("economy.coverage_drift", -0.05),))
    for seed in range(3):
        a, b = sim.run(base, seed).annual, sim.run(drift, seed).annual
        years = np.arange(len(a))
        np.testing.assert_allclose(b["nonsei_output"], a["nonsei_output"] * np.exp(-0.05 * years),
                                   rtol=1e-12)
        # Published growth compares the same firms: unchanged. Levels and shares move.
        np.testing.assert_allclose(b["industrial_value_added_growth"],
                                   a["industrial_value_added_growth"], rtol=1e-12)
        np.testing.assert_allclose(b["gdp"], a["gdp"], rtol=1e-12)
        assert (b["sei_output_share"].iloc[1:] > a["sei_output_share"].iloc[1:]).all()


def test_qualified_baselines_are_drawn_within_their_range():
    """'More than 1000 firms' is not exactly 1000: each replication draws such figures within a
    documented range; a single run uses the printed value."""
    from sim.api import as_scenario

    sc = as_scenario({"name": "q", "region": "chongqing"})
    assert sc.varies
    single = sc.model_inputs()
    assert single.baseline.above_scale_firms == 1000
    rng = np.random.default_rng(5)
    firms, paces = [], []
    for _ in range(30):
        factors = sc.draw_params(rng).allocation.figure_factors
        assert set(factors) >= {"sei_firm_count_2020", "sei_value_added_2020",
                                "fund_invested_2020"}
        assert all(1.0 <= v <= 1.1 for v in factors.values())
        inputs = compile_with(sc, factors)
        firms.append(inputs.baseline.above_scale_firms)
        paces.append(inputs.fund_inflow[0])
    assert 1000 <= min(firms) < max(firms) <= 1100
    assert 26.0 <= min(paces) < max(paces) <= 28.6 + 1e-9
    # Exact figures stay exact: the SEI output and share of the base year.
    assert inputs.baseline.sei_industrial_output == 7600 and inputs.baseline.strict_share == 32


def compile_with(scenario, factors):
    from sim.model.inputs import compile_inputs

    params = scenario.base_params().updated({"allocation": {"figure_factors": factors}})
    return compile_inputs(scenario.plan, params)


def test_base_year_value_added_share_starts_at_the_published_figure():
    # Chongqing 2020: the statistics publish 28.0%; the non-SEI value-added ratio is set to match.
    a = sim.run("chongqing", seed=0).annual
    assert a["sei_share_of_industrial_value_added"].iloc[0] == pytest.approx(28.0, rel=1e-9)
    # A ratio set in the parameters wins; Fuling (no such statistic) keeps the literature value.
    fixed = as_inputs("chongqing", params={"economy": {"nonsei_va_ratio": 0.3}})
    assert fixed.baseline.nonsei_va_ratio == 0.3
    assert inputs_for("fuling").baseline.nonsei_va_ratio == 0.25


def _ipf_with_numpy(row_totals, col_totals, allowed, iterations=500):
    """The fitting loop written with numpy's own sums: the reference the compiled loop of
    ``sim.model.baseline.ipf`` must reproduce bit for bit."""
    m = allowed.astype(float) * np.outer(row_totals, col_totals)
    m[np.outer(row_totals, col_totals) == 0] = 0.0
    m += allowed * 1e-12
    cs = m.sum(axis=0)
    for _ in range(iterations):
        m *= np.divide(col_totals, cs, out=np.zeros_like(cs), where=cs > 0)
        rs = m.sum(axis=1)
        m *= np.divide(row_totals, rs, out=np.zeros_like(rs), where=rs > 0)[:, None]
        cs = m.sum(axis=0)
        if np.allclose(cs, col_totals, rtol=1e-13, atol=1e-9):
            break
    return m


@pytest.mark.parametrize("shape", [(1, 1), (12, 1), (1, 9), (11, 4), (30, 25), (7, 130)])
def test_compiled_proportional_fitting_matches_numpy_bit_for_bit(shape):
    from sim.model.baseline import ipf

    rng = np.random.default_rng(sum(shape))
    for _ in range(20):
        allowed = rng.random(shape) < 0.6
        allowed[rng.integers(shape[0]), :] = True
        allowed[:, rng.integers(shape[1])] = True
        rows = rng.random(shape[0]) * 10 ** rng.uniform(-1, 4, shape[0])
        rows[rng.random(shape[0]) < 0.1] = 0.0
        cols = rng.random(shape[1])
        cols *= rows.sum() / cols.sum()
        fitted = ipf(rows, cols, allowed)
        np.testing.assert_array_equal(fitted, _ipf_with_numpy(rows, cols, allowed))
        if rows.sum() > 0:
            np.testing.assert_allclose(fitted.sum(axis=1), rows, rtol=1e-12)


def test_parameter_layers_validated_together_equal_one_at_a_time():
    from sim.model.params import ModelParams

    base = ModelParams()
    layers = ({"firms": {"drift": 0.07, "industry_drift": {"a": 0.01}}},
              {"firms": {"industry_drift": {"b": 0.02}}, "funds": {"leverage": 3.5}},
              {"firms": {"drift": 0.05}})
    one_by_one = base
    for layer in layers:
        one_by_one = one_by_one.updated(layer)
    assert base.updated(*layers) == one_by_one
    assert base.updated(*layers).firms.industry_drift == {"b": 0.02}  # a keyed map is one value


def test_updating_some_sections_equals_validating_the_whole_model():
    """``updated`` validates only the sections its overrides touch and shares the rest; the
    result must be what validating the whole model gives, and an invalid value must fail as it
    does there."""
    from pydantic import ValidationError

    from sim.model.params import ModelParams

    base = ModelParams().updated({"firms": {"drift": 0.09}, "economy": {"nonsei_growth": 0.04}})
    layers = ({"funds": {"leverage": 3.2}, "allocation": {"figure_factors": {"x": 1.05}}},
              {"structure": {"variant": "converge"}, "funds": {"additionality": 0.7}})
    fast = base.updated(*layers)
    whole = base._updated_whole(layers)
    assert fast == whole and fast.model_dump() == whole.model_dump()
    assert fast.firms is base.firms and fast.funds is not base.funds  # untouched: shared
    assert fast.funds.leverage == 3.2 and fast.funds.additionality == 0.7
    for bad in ({"funds": {"leverage": "many"}}, {"funds": {"no_such_field": 1}},
                {"no_such_section": {"x": 1}}, {"steps_per_year": 0}):
        with pytest.raises(ValidationError) as fast_error:
            base.updated(bad)
        with pytest.raises(ValidationError) as whole_error:
            base._updated_whole((bad,))
        assert fast_error.value.errors() == whole_error.value.errors()


def test_base_year_structure_is_reused_only_when_what_it_reads_is_unchanged():
    """The base year's sizing and split are computed once per distinct (figures it reads, rules):
    Chongqing's drawn figures (firm count, value added, fund amounts) leave it unchanged, a drawn
    sizing figure or a changed rule does not. Reused or not, a baseline equals one built with
    nothing kept, and changing a baseline's arrays never reaches the next one."""
    import sim.model.baseline as baseline_module
    from sim.api import as_scenario
    from sim.model.baseline import StructureRules, base_year_structure, build_baseline

    sc = as_scenario({"name": "q", "region": "chongqing"})
    params = sc.draw_params(np.random.default_rng(3))
    factors = params.allocation.figure_factors
    assert factors and not {"sei_output_2020", "sei_output_share_2020"} & set(factors)
    rules = StructureRules.of(params)
    first = base_year_structure(sc.plan, factors, 2020, rules)
    other = sc.draw_params(np.random.default_rng(4)).allocation.figure_factors
    assert other != factors and base_year_structure(sc.plan, other, 2020, rules) is first
    share = sc.plan.figure("sei_output_share_2020").value
    moved = base_year_structure(sc.plan, {**factors, "sei_output_share_2020": 1.1}, 2020, rules)
    assert moved is not first and moved.share == pytest.approx(share * 1.1, rel=1e-12)
    assert moved.nonsei < first.nonsei
    resplit = base_year_structure(sc.plan, factors, 2020, StructureRules.of(
        params.updated({"allocation": {"unclassed_fraction": 0.25}})))
    assert resplit is not first
    assert not np.array_equal(resplit.industry_output, first.industry_output)

    kept = build_baseline(sc.plan, params, 2020)
    kept.industry_output *= 2.0
    kept.cell_output[:] = 0.0
    baseline_module._STRUCTURES.clear()
    baseline_module._STRUCTURE_PLANS.clear()
    fresh = build_baseline(sc.plan, params, 2020)
    again = build_baseline(sc.plan, params, 2020)
    for b in (fresh, again):
        assert b.industry_output.sum() == pytest.approx(7600, rel=1e-12)
        assert b.cell_output.sum() == pytest.approx(7600, rel=1e-12)
        assert b.notes == fresh.notes
    for name in ("industry_output", "cell_output", "park_output", "park_land",
                 "services_output", "attraction_weights"):
        np.testing.assert_array_equal(getattr(fresh, name), getattr(again, name))


def test_posterior_draws_are_validated_once_and_not_pickled():
    import pickle

    sc = sim.load_scenario("scenarios/fuling-baseline.yaml")
    pset = sc.parameter_set
    assert len(pset.draws) > 1
    draw = pset.draws[0]
    first = sc._drawn_set_params(draw, None)
    assert sc._drawn_set_params(draw, None) is first
    assert first == pset.params.updated(draw, sc.spec.params or {})
    # A different dict with the same values is validated again (keys are draw identities).
    assert sc._drawn_set_params(dict(draw), None) == first
    copy = pickle.loads(pickle.dumps(sc))
    assert len(sc._set_draws) > 0 and len(copy._set_draws) == 0
    assert copy.draw_params(np.random.default_rng(1)) == sc.draw_params(np.random.default_rng(1))


def test_identity_cache_keys_by_the_objects_themselves_and_stays_bounded():
    """Caches of derived data (figure index, base-year structure) must never hand one object's
    result to another, equal or not, and must not grow without bound."""
    from sim.caching import MISSING, IdentityCache

    cache = IdentityCache(3)
    a, b = [1, 2], [1, 2]  # equal, not identical
    assert cache.put((a,), "k", None) is None
    assert cache.get((a,), "k") is None  # a kept None is not a miss
    assert cache.get((b,), "k") is MISSING and cache.get((a,), "other") is MISSING
    for k in range(5):
        cache.put((a,), k, k)
    assert len(cache) == 3 and cache.get((a,), "k") is MISSING  # the oldest went first
    assert [cache.get((a,), k) for k in range(5)] == [MISSING, MISSING, 2, 3, 4]

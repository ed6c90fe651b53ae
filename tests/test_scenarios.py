"""The scenario file format (``sim.scenarios``, documented in ``docs/scenarios.md``): loading,
``extends``, ``sweep``, ``uncertainties``, and one-line errors naming file, line and key path."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.errors import InputError
from sim.experiments.driver import Experiment
from sim.experiments.runner import run_replications
from sim.experiments.seeding import parameter_rng, replication_seed
from sim.model.levers import GrowthShock, Levers
from sim.scenarios import Scenario, load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def write(directory: Path, name: str, *lines: str) -> Path:
    """A YAML file whose line k (1-based) is ``lines[k - 1]``, so expected line numbers are
    readable in the test."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def validate(path) -> Scenario:
    """What ``seisim mc`` checks before it creates the run directory: the file, then the compiled
    inputs and the target rules."""
    scenario = load_scenario(path)
    Experiment({"": scenario}, 1, 0).specs()
    return scenario


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Work in tmp_path so error messages name files relative to it (``bad.yaml:4: ...``)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# Valid files --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_scenarios_are_valid(path):
    scenario = validate(path)
    assert scenario.name == path.stem
    assert scenario.spec.question
    for _, point in scenario.sweep_points():
        point.model_inputs()


def test_fuling_baseline_fields():
    sc = load_scenario(SCENARIOS / "fuling-baseline.yaml")
    s = sc.spec
    assert (s.name, s.region, s.version) == ("fuling-baseline", "fuling", None)
    assert sc.plan.version == "2022"  # the plan file's default version
    assert (s.horizon.start, s.horizon.end) == (2021, 2026)
    assert s.parameters == "default" and s.params == {"structure": {"variant": "pooled"}}
    assert set(sc.parameter_sets) == {"persist", "converge"}
    assert (s.monte_carlo.replications, s.monte_carlo.seed) == (1000, 20250101)
    assert (s.monte_carlo.engine, s.monte_carlo.chunk_size) == ("numba", 100)
    assert s.targets == "all" and s.share_definition == "strict"
    assert s.levers == Levers()
    assert s.uncertainties == {} and s.sweep == {}
    assert sc.source.endswith("scenarios/fuling-baseline.yaml")
    assert "extends" not in sc.resolved


def test_defaults_of_a_minimal_scenario():
    sc = scenario_from_dict({"name": "x", "region": "chongqing"})
    s = sc.spec
    assert sc.plan.version == "001" and s.version is None
    assert s.horizon.start is None and s.horizon.end is None
    assert s.parameters == "default" and s.question == ""
    assert s.monte_carlo.model_dump() == {"replications": 1000, "seed": 20250101,
                                          "engine": "numba", "chunk_size": 100}
    # outputs holds only dir and plots (per-firm history comes from sim.run(record_firms=True)).
    assert s.outputs.model_dump() == {"dir": None, "plots": True}
    assert s.targets == "all" and s.share_definition == "strict"
    inputs = sc.model_inputs()
    assert (inputs.start_year, inputs.end_year) == (2020, 2025)  # latest baseline, last target


def test_every_key_of_the_format(in_tmp):
    path = write(in_tmp, "full.yaml",
                 "name: full",
                 "question: Does everything parse?",
                 "region: fuling",
                 'version: "2022"',
                 "horizon: {start: 2021, end: 2026}",
                 "parameters: builtin",
                 "params:",
                 "  firms: {drift: 0.09, industry_drift: {new_materials: 0.01}}",
                 "  economy: {nonsei_growth: 0.04, coverage_drift: -0.02}",
                 "  funds: {annual_investment: 4.8, source: 'a declared fund', additionality: 0.6}",
                 "levers:",
                 "  fund: {scale: 1.5, leverage: 3.0,",
                 "         allocation: {new_materials: 2, biomedicine: 1}}",
                 "  talent: {supply: 1.2, supply_growth: 0.05}",
                 "  attraction: 1.3",
                 "  parks: {expansion: {all: 0.1, lingang: 0.5}}",
                 "  rd_policy: 1.1",
                 "  shocks:",
                 "    - {start: 2023, end: 2024, growth_shift: -0.05}",
                 "uncertainties:",
                 "  firms.sigma: {dist: uniform, low: 0.18, high: 0.26}",
                 "monte_carlo: {replications: 50, seed: 7, engine: mesa, chunk_size: 10}",
                 "targets: [sei_output_share_2026, sei_output_2026]",
                 "share_definition: plan",
                 "outputs: {dir: runs/full, plots: false}",  # firm_history: removed key
                 "sweep:",
                 "  levers.fund.scale: [1, 2]")
    sc = validate(path)
    s = sc.spec
    assert sc.plan.version == "2022" and s.question == "Does everything parse?"
    assert s.levers == Levers(
        fund={"scale": 1.5, "leverage": 3.0,
              "allocation": {"new_materials": 2, "biomedicine": 1}},
        talent={"supply": 1.2, "supply_growth": 0.05}, attraction=1.3,
        parks={"expansion": {"all": 0.1, "lingang": 0.5}}, rd_policy=1.1,
        shocks=(GrowthShock(start=2023, end=2024, growth_shift=-0.05),))
    params = sc.base_params()
    assert params.firms.drift == 0.09 and params.firms.industry_drift == {"new_materials": 0.01}
    assert params.economy.nonsei_growth == 0.04
    assert s.monte_carlo.model_dump() == {"replications": 50, "seed": 7, "engine": "mesa",
                                          "chunk_size": 10}
    assert s.outputs.dir == "runs/full" and not s.outputs.plots
    inputs = sc.model_inputs()
    assert (inputs.start_year, inputs.end_year) == (2021, 2026)
    specs = Experiment({"": sc}, 1, 0).specs()[""]
    assert [t.id for t in specs] == ["sei_output_2026", "sei_output_share_2026"]  # plan order
    assert {t.id: t.column for t in specs}["sei_output_share_2026"] == "sei_output_share"
    assert params.economy.coverage_drift == -0.02 and params.funds.additionality == 0.6
    assert inputs.fund_inflow.tolist() == [4.8 * 0.47 * (1 + 0.5 * 0.47)]  # announced, scaled 1.5


def test_share_definition_strict_vs_plan_for_fuling():
    def share_column(region, definition):
        sc = scenario_from_dict({"name": "x", "region": region, "share_definition": definition})
        specs = Experiment({"": sc}, 1, 0).specs()[""]
        return next(t.column for t in specs if t.indicator == "sei_output_share")

    # Fuling's producer-services line is part of its industrial SEI total: both definitions agree.
    assert share_column("fuling", "strict") == "sei_output_share"
    assert share_column("fuling", "plan") == "sei_output_share"
    # Chongqing's total has no services line: both definitions give the industrial share.
    assert share_column("chongqing", "plan") == "sei_output_share"


# extends ------------------------------------------------------------------------------------------
def test_shipped_extends_inherits_and_overrides():
    base = load_scenario(SCENARIOS / "fuling-baseline.yaml")
    double = load_scenario(SCENARIOS / "fuling-fund-double.yaml")
    assert double.name == "fuling-fund-double"
    assert double.spec.question != base.spec.question
    assert double.spec.levers.fund.scale == 2.0
    assert double.spec.levers.fund.leverage is None  # sibling key of the override: default
    for key in ("region", "horizon", "parameters", "monte_carlo", "targets", "share_definition"):
        assert getattr(double.spec, key) == getattr(base.spec, key), key
    cq000 = load_scenario(SCENARIOS / "chongqing-000-baseline.yaml")
    assert cq000.plan.version == "000" and cq000.spec.region == "chongqing"
    assert (cq000.spec.horizon.start, cq000.spec.horizon.end) == (2020, 2025)


def test_extends_nested_merge_across_directories(in_tmp):
    write(in_tmp, "base.yaml",
          "name: base",
          "region: fuling",
          "horizon: {start: 2021, end: 2026}",
          "levers:",
          "  fund: {scale: 2.0, leverage: 3.0}",
          "  talent: {supply: 1.1}",
          "  shocks:",
          "    - {start: 2023, end: 2023, growth_shift: -0.02}",
          "    - {start: 2025, end: 2025, growth_shift: -0.02}",
          "monte_carlo: {replications: 50, seed: 7}",
          "params: {firms: {drift: 0.1, sigma: 0.2}}")
    write(in_tmp, "mid.yaml",
          "extends: base.yaml",
          "name: mid",
          "levers:",
          "  fund: {scale: 4.0}",
          "monte_carlo: {seed: 9}")
    child = write(in_tmp, "sub/child.yaml",
                  "extends: ../mid.yaml",
                  "name: child",
                  "levers:",
                  "  talent: {supply_growth: 0.05}",
                  "  shocks:",
                  "    - {start: 2024, end: 2024, growth_shift: -0.04}",
                  "params: {firms: {sigma: 0.3}}")
    s = load_scenario(child).spec
    assert s.name == "child" and s.region == "fuling"
    assert (s.horizon.start, s.horizon.end) == (2021, 2026)
    # mappings merge key by key, at every depth
    assert (s.levers.fund.scale, s.levers.fund.leverage) == (4.0, 3.0)
    assert (s.levers.talent.supply, s.levers.talent.supply_growth) == (1.1, 0.05)
    assert (s.monte_carlo.replications, s.monte_carlo.seed) == (50, 9)
    assert s.params == {"firms": {"drift": 0.1, "sigma": 0.3}}
    # lists are replaced, not appended
    assert [(x.start, x.growth_shift) for x in s.levers.shocks] == [(2024, -0.04)]
    mid = load_scenario(in_tmp / "mid.yaml").spec
    assert len(mid.levers.shocks) == 2 and mid.levers.talent.supply_growth is None


def test_error_in_an_extended_file_names_that_file(in_tmp):
    write(in_tmp, "base.yaml",
          "name: base",
          "region: fuling",
          "monte_carlo: {replications: many}")
    write(in_tmp, "child.yaml", "extends: base.yaml", "name: child")
    with pytest.raises(InputError) as info:
        load_scenario(in_tmp / "child.yaml")
    assert re.match(r"base\.yaml:3: monte_carlo\.replications: Input should be a valid integer",
                    str(info.value))


# sweep --------------------------------------------------------------------------------------------
def test_shipped_sweep_expands():
    sc = load_scenario(SCENARIOS / "fuling-fund-sweep.yaml")
    assert sc.spec.sweep == {"levers.fund.scale": [0.5, 1.0, 2.0, 4.0, 8.0]}
    points = sc.sweep_points()
    assert [p for p, _ in points] == [{"levers.fund.scale": v} for v in (0.5, 1.0, 2.0, 4.0, 8.0)]
    assert [s.name for _, s in points] == [f"fuling-fund-sweep[scale={v}]"
                                           for v in (0.5, 1.0, 2.0, 4.0, 8.0)]
    for (point, s) in points:
        assert s.spec.levers.fund.scale == point["levers.fund.scale"]
        assert s.spec.sweep == {}
        assert s.spec.region == "fuling" and s.spec.monte_carlo.replications == 400
        assert (s.spec.horizon.start, s.spec.horizon.end) == (2021, 2026)


def test_sweep_is_the_cartesian_grid(in_tmp):
    path = write(in_tmp, "grid.yaml",
                 "name: grid",
                 "region: fuling",
                 "parameters: builtin",
                 "params: {funds: {annual_investment: 4.8, source: 'a declared fund'}}",
                 "levers: {talent: {supply: 1.3}, fund: {leverage: 2.0}}",
                 "sweep:",
                 "  levers.fund.scale: [0.5, 2]",
                 "  params.firms.drift: [0.06, 0.1, 0.12]",
                 "  levers.parks.expansion.all: [0.25]")
    sc = load_scenario(path)
    points = sc.sweep_points()
    assert len(points) == 2 * 3 * 1
    expected = [(scale, drift) for scale in (0.5, 2) for drift in (0.06, 0.1, 0.12)]
    assert [(p["levers.fund.scale"], p["params.firms.drift"]) for p, _ in points] == expected
    for (point, s), (scale, drift) in zip(points, expected):
        assert point["levers.parks.expansion.all"] == 0.25
        assert s.name == f"grid[scale={scale},drift={drift},all=0.25]"
        assert s.spec.levers.fund.scale == scale
        assert s.spec.levers.fund.leverage == 2.0      # untouched sibling
        assert s.spec.levers.talent.supply == 1.3      # untouched lever
        assert s.spec.levers.parks.expansion == {"all": 0.25}
        assert s.base_params().firms.drift == drift
        assert s.spec.params == {"firms": {"drift": drift}, "funds": {
            "annual_investment": 4.8, "source": "a declared fund"}}
        assert s.spec.sweep == {}
    assert sc.spec.levers.fund.scale == 1.0  # the original is unchanged


def test_no_sweep_is_one_point():
    sc = load_scenario(SCENARIOS / "fuling-baseline.yaml")
    assert sc.sweep_points() == [({}, sc)]


def test_sweep_over_an_allocation_entry(in_tmp):
    path = write(in_tmp, "grid.yaml",
                 "name: grid",
                 "region: fuling",
                 "params: {funds: {annual_investment: 4.8, source: 'a declared fund'}}",
                 "sweep:",
                 "  levers.fund.allocation.new_materials: [1, 2]")
    points = load_scenario(path).sweep_points()
    assert [s.spec.levers.fund.allocation for _, s in points] == [{"new_materials": 1},
                                                                  {"new_materials": 2}]


# A bad value in a sweep list is found when the grid points are built, before anything is written.
SWEEP_VALUE_ERRORS = [
    pytest.param(["levers.fund.scale: [1, -1]"],
                 r"sweep\.levers\.fund\.scale(\[1\])?: Input should be greater than or equal to 0",
                 id="negative-scale"),
    pytest.param(["params.firms.drift: [0.1, 2]"],
                 r"sweep\.params\.firms\.drift(\[1\])?: Input should be less than or equal to 1",
                 id="drift-above-1"),
    pytest.param(["levers.parks.expansion.lingan: [0.1]"],
                 r"sweep\.levers\.parks\.expansion\.lingan(\[0\])?: unknown park 'lingan' "
                 r"\(did you mean 'lingang'\?\); model parks: .*", id="unknown-park"),
]


@pytest.mark.parametrize("sweep, _expected", SWEEP_VALUE_ERRORS)
def test_sweep_with_a_bad_value_stops_before_writing(in_tmp, capsys, sweep, _expected):
    write(in_tmp, "bad.yaml", "name: bad", "region: fuling", "sweep:", *("  " + s for s in sweep))
    code = main(["sweep", "bad.yaml", "-n", "2", "--backend", "serial", "--no-progress",
                 "--out", str(in_tmp / "runs" / "bad")])
    stdout, stderr = capsys.readouterr()
    assert code == 2 and stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith("seisim: error: bad.yaml:")
    assert not (in_tmp / "runs").exists()


@pytest.mark.parametrize("sweep, expected", SWEEP_VALUE_ERRORS)
def test_sweep_value_error_names_the_sweep_line(in_tmp, capsys, sweep, expected):
    write(in_tmp, "bad.yaml", "name: bad", "region: fuling", "sweep:", *("  " + s for s in sweep))
    code = main(["sweep", "bad.yaml", "-n", "2", "--backend", "serial", "--no-progress",
                 "--out", str(in_tmp / "runs" / "bad")])
    assert code == 2
    stderr = capsys.readouterr().err
    assert re.fullmatch(r"seisim: error: bad\.yaml:4: " + expected + "\n", stderr), stderr


# uncertainties ------------------------------------------------------------------------------------
UNCERTAIN = {
    "name": "u", "region": "fuling", "parameters": "builtin",
    "uncertainties": {
        "firms.drift": {"dist": "normal", "mean": 0.08, "sd": 0.02, "low": 0.05},
        "shocks.macro_sigma": {"dist": "uniform", "low": 0.02, "high": 0.04},
        "talent.attrition": {"dist": "triangular", "low": 0.03, "mode": 0.06, "high": 0.1},
        "funds.output_per_investment": {"dist": "lognormal", "median": 1.0, "sigma": 0.3},
        "firms.industry_drift.new_materials": {"dist": "uniform", "low": -0.02, "high": 0.02},
    },
}


def _draws(sc: Scenario, seed: int, n: int) -> pd.DataFrame:
    rows = []
    for r in range(n):
        p = sc.draw_params(parameter_rng(seed, r))
        rows.append({"drift": p.firms.drift, "macro": p.shocks.macro_sigma,
                     "attrition": p.talent.attrition, "opi": p.funds.output_per_investment,
                     "nm": p.firms.industry_drift["new_materials"]})
    return pd.DataFrame(rows)


def test_uncertainties_are_sampled_per_replication_and_reproducibly():
    sc = scenario_from_dict(UNCERTAIN)
    d = _draws(sc, 11, 800)
    assert d.nunique().min() > 700  # a fresh draw for every replication
    pd.testing.assert_frame_equal(d, _draws(scenario_from_dict(UNCERTAIN), 11, 800))
    other = _draws(sc, 12, 800)
    assert ((other != d).mean() > 0.9).all()  # another experiment seed, other draws
    # a replication's draw does not depend on which other replications run
    assert sc.draw_params(parameter_rng(11, 500)).firms.drift == d.loc[500, "drift"]

    # normal, clipped at low = 0.05 (values below are set to the bound)
    assert d["drift"].min() == 0.05 and (d["drift"] == 0.05).sum() > 10
    assert abs(d["drift"].median() - 0.08) < 0.005
    # uniform
    assert d["macro"].between(0.02, 0.04).all() and abs(d["macro"].mean() - 0.03) < 0.001
    # triangular: mean (low + mode + high) / 3
    assert d["attrition"].between(0.03, 0.1).all()
    assert abs(d["attrition"].mean() - 0.19 / 3) < 0.002
    # lognormal: median * exp(sigma * Z)
    assert (d["opi"] > 0).all() and abs(np.log(d["opi"]).median()) < 0.04
    assert abs(np.log(d["opi"]).std() - 0.3) < 0.03
    # an entry of a per-industry mapping
    assert d["nm"].between(-0.02, 0.02).all()


def test_a_drawn_industry_entry_keeps_the_other_entries_of_its_map():
    """``firms.industry_drift`` is one value when parameters are layered; drawing one industry's
    entry must not drop the entries the scenario sets for the others."""
    data = {**UNCERTAIN, "params": {"firms": {"industry_drift": {"biomedicine": 0.03}}},
            "uncertainties": {
                "firms.industry_drift.new_materials": {"dist": "uniform", "low": 0, "high": 0.01},
                "firms.industry_drift.clean_energy": {"dist": "uniform", "low": 0, "high": 0.01}}}
    drift = scenario_from_dict(data).draw_params(parameter_rng(3, 0)).firms.industry_drift
    assert set(drift) == {"biomedicine", "new_materials", "clean_energy"}
    assert drift["biomedicine"] == 0.03 and 0 <= drift["new_materials"] <= 0.01


def test_without_a_random_generator_no_uncertainty_is_drawn():
    sc = scenario_from_dict(UNCERTAIN)
    p = sc.draw_params(None)  # what `seisim run` uses
    assert p.firms.drift == sc.base_params().firms.drift == 0.08
    assert p.firms.industry_drift == {}


def test_uncertainties_enter_the_monte_carlo_replications():
    data = dict(UNCERTAIN, uncertainties={
        "firms.drift": {"dist": "uniform", "low": 0.0, "high": 0.2}})
    sc = scenario_from_dict(data)
    annual, failures = run_replications(sc, [0, 1, 2], seed=5)
    assert failures == []
    # replication r is the model run with the parameters drawn for r and the seed of r
    for r in (0, 1, 2):
        expected = sim.run(sc.model_inputs(parameter_rng(5, r)), replication_seed(5, r)).annual
        got = annual[annual["replication"] == r].drop(columns="replication").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected)
    # ... whichever chunk it runs in
    alone, _ = run_replications(sc, [2], seed=5)
    pd.testing.assert_frame_equal(alone, annual[annual["replication"] == 2]
                                  .reset_index(drop=True))
    final = annual[annual["year"] == 2026].set_index("replication")["sei_industrial_output"]
    assert final.nunique() == 3


def test_explicit_params_win_over_parameter_set_draws(tmp_path, monkeypatch):
    # Order: parameter set -> its posterior draw -> scenario `params` -> scenario `uncertainties`.
    sets = tmp_path / "sets"
    write(sets, "mine.yaml",
          "name: mine",
          "region: fuling",
          "params: {firms: {drift: 0.08}}",
          "draws:",
          "  - {firms: {drift: 0.05}}",
          "  - {firms: {drift: 0.06}}")
    monkeypatch.setenv("SEISIM_PARAMETER_SETS", str(sets))
    sc = scenario_from_dict({"name": "x", "region": "fuling", "parameters": "mine",
                             "params": {"firms": {"drift": 0.2}}})
    assert sc.base_params().firms.drift == 0.2
    assert {sc.draw_params(parameter_rng(1, r)).firms.drift for r in range(8)} == {0.2}
    # ... and so do the values of `sweep: params.*`
    swept = scenario_from_dict({"name": "x", "region": "fuling", "parameters": "mine",
                                "sweep": {"params.firms.drift": [0.1, 0.3]}})
    for (point, s), value in zip(swept.sweep_points(), (0.1, 0.3)):
        assert point == {"params.firms.drift": value}
        assert {s.draw_params(parameter_rng(1, r)).firms.drift for r in range(8)} == {value}
    # `uncertainties` come last, so they override both the draws and `params`
    uncertain = scenario_from_dict({
        "name": "x", "region": "fuling", "parameters": "mine",
        "params": {"firms": {"drift": 0.2}},
        "uncertainties": {"firms.drift": {"dist": "uniform", "low": 0.3, "high": 0.4}}})
    drawn = [uncertain.draw_params(parameter_rng(1, r)).firms.drift for r in range(8)]
    assert all(0.3 <= d < 0.4 for d in drawn) and len(set(drawn)) == 8


def test_parameter_set_draws_are_sampled_per_replication(tmp_path, monkeypatch):
    sets = tmp_path / "sets"
    write(sets, "mine.yaml",
          "name: mine",
          "region: fuling",
          "params: {firms: {drift: 0.08}}",
          "draws:",
          "  - {firms: {drift: 0.05}}",
          "  - {firms: {drift: 0.06}}")
    monkeypatch.setenv("SEISIM_PARAMETER_SETS", str(sets))
    sc = scenario_from_dict({"name": "x", "region": "fuling", "parameters": "mine"})
    assert sc.base_params().firms.drift == 0.08
    draws = [sc.draw_params(parameter_rng(1, r)).firms.drift for r in range(40)]
    assert set(draws) == {0.05, 0.06}
    assert draws == [sc.draw_params(parameter_rng(1, r)).firms.drift for r in range(40)]


# Errors: one line naming file, line and key path --------------------------------------------------
def _case(id, files, expected, bug=None, entry="bad.yaml"):
    marks = [pytest.mark.xfail(strict=True, reason="BUG " + bug)] if bug else []
    return pytest.param(files, entry, expected, id=id, marks=marks)


BAD = [
    # --- the cases every user meets ---
    _case("wrong-type", {"bad.yaml": ["name: bad", "region: fuling", "monte_carlo:",
                                      "  replications: many"]},
          r"bad\.yaml:4: monte_carlo\.replications: Input should be a valid integer, .*"),
    _case("unknown-key", {"bad.yaml": ["name: bad", "region: fuling", "levers:",
                                       "  fnd: {scale: 2}"]},
          re.escape("bad.yaml:4: levers.fnd: unknown key 'fnd' (did you mean 'fund'?)")),
    _case("negative-fund-scale", {"bad.yaml": ["name: bad", "region: fuling", "levers:",
                                               "  fund:", "    scale: -1"]},
          re.escape("bad.yaml:5: levers.fund.scale: Input should be greater than or equal to 0")),
    _case("unknown-region", {"bad.yaml": ["name: bad", "region: fulin"]},
          re.escape("bad.yaml:2: region: unknown region 'fulin' (did you mean 'fuling'?); "
                    "available: ") + r".*\bfuling\b.*"),
    _case("unknown-version", {"bad.yaml": ["name: bad", "region: chongqing", 'version: "002"']},
          re.escape("bad.yaml:3: version: unknown version '002' of chongqing (did you mean "
                    "'001'?); versions: ") + r".*\b001\b.*"),
    _case("target-outside-horizon",
          {"bad.yaml": ["name: bad", "region: chongqing", 'version: "001"',
                        "horizon: {start: 2020, end: 2024}"]},
          re.escape("bad.yaml:4: horizon.end: target 'sei_output_share_2025' is for 2025, outside the "
                    "horizon 2020-2024")),
    _case("target-outside-horizon-block-style",
          {"bad.yaml": ["name: bad", "region: chongqing", "horizon:", "  start: 2020",
                        "  end: 2024"]},
          re.escape("bad.yaml:5: horizon.end: target 'sei_output_share_2025' is for 2025, outside the "
                    "horizon 2020-2024")),
    _case("extends-cycle", {"a.yaml": ["name: a", "extends: b.yaml", "region: fuling"],
                            "b.yaml": ["extends: a.yaml", "name: b"]},
          re.escape("b.yaml:1: extends: extends cycle: a.yaml -> b.yaml -> a.yaml"),
          entry="a.yaml"),
    _case("extends-itself", {"bad.yaml": ["name: bad", "extends: bad.yaml"]},
          re.escape("bad.yaml:2: extends: extends cycle: bad.yaml -> bad.yaml")),
    _case("missing-extends-file", {"bad.yaml": ["name: bad", "extends: missing.yaml"]},
          re.escape("bad.yaml:2: extends: file 'missing.yaml' not found")),
    _case("unknown-uncertainty-parameter",
          {"bad.yaml": ["name: bad", "region: fuling", "uncertainties:",
                        "  firms.drift: {dist: normal, mean: 0.08, sd: 0.02}",
                        "  firms.drfit: {dist: normal, mean: 0.08, sd: 0.02}"]},
          re.escape("bad.yaml:5: uncertainties.firms.drfit: unknown parameter 'firms.drfit' "
                    "(did you mean 'drift'?)")),
    _case("unknown-target",
          {"bad.yaml": ["name: bad", "region: fuling", "targets:", "  - sei_output_share_2026",
                        "  - sei_output_shar_2026"]},
          re.escape("bad.yaml:5: targets[1]: unknown target 'sei_output_shar_2026' (did you mean "
                    "'sei_output_share_2026'?)")),
    # --- more of the format ---
    _case("unknown-top-level-key", {"bad.yaml": ["name: bad", "region: fuling",
                                                 "horizn: {end: 2026}"]},
          re.escape("bad.yaml:3: horizn: unknown key 'horizn' (did you mean 'horizon'?)")),
    _case("unknown-nested-key-flow-style",
          {"bad.yaml": ["name: bad", "region: fuling",
                        "levers: {fund: {scale: 2}, talent: {suply: 2}}"]},
          re.escape("bad.yaml:3: levers.talent.suply: unknown key 'suply' (did you mean "
                    "'supply'?)")),
    _case("missing-name", {"bad.yaml": ["region: fuling"]},
          re.escape("bad.yaml:1: name: required key is missing")),
    _case("zero-replications", {"bad.yaml": ["name: bad", "region: fuling",
                                             "monte_carlo: {replications: 0}"]},
          re.escape("bad.yaml:3: monte_carlo.replications: Input should be greater than or "
                    "equal to 1")),
    _case("unknown-engine", {"bad.yaml": ["name: bad", "region: fuling",
                                          "monte_carlo: {engine: julia}"]},
          re.escape("bad.yaml:3: monte_carlo.engine: Input should be 'numba' or 'mesa'")),
    _case("talent-growth-out-of-range",
          {"bad.yaml": ["name: bad", "region: fuling", "levers:",
                        "  talent: {supply_growth: 2}"]},
          re.escape("bad.yaml:4: levers.talent.supply_growth: Input should be less than or "
                    "equal to 1")),
    _case("shock-ends-before-it-starts",
          {"bad.yaml": ["name: bad", "region: fuling", "levers:", "  shocks:",
                        "    - {start: 2024, end: 2023, growth_shift: -0.05}"]},
          re.escape("bad.yaml:5: levers.shocks[0].end: end year 2023 is before start year 2024")),
    _case("bad-share-definition", {"bad.yaml": ["name: bad", "region: fuling",
                                                "share_definition: loose"]},
          re.escape("bad.yaml:3: share_definition: Input should be 'strict' or 'plan'")),
    _case("unknown-parameter-set", {"bad.yaml": ["name: bad", "region: fuling",
                                                 "parameters: calibratd"]},
          re.escape("bad.yaml:3: parameters: unknown parameter set 'calibratd'") + ".*"),
    _case("extends-not-a-file-name", {"bad.yaml": ["name: bad", "extends: [a.yaml]"]},
          re.escape("bad.yaml:2: extends: must be a file name")),
    _case("duplicate-key", {"bad.yaml": ["name: bad", "region: fuling", "name: again"]},
          re.escape("bad.yaml:3: invalid YAML: duplicate key 'name'")),
    _case("invalid-yaml", {"bad.yaml": ["name: [unclosed", "region: fuling"]},
          r"bad\.yaml:2: invalid YAML: .*"),
    _case("not-a-mapping", {"bad.yaml": ["- name: bad"]},
          re.escape("bad.yaml: a scenario must be a mapping at the top level")),
    _case("sweep-key-prefix", {"bad.yaml": ["name: bad", "region: fuling", "sweep:",
                                            "  scale: [1, 2]"]},
          re.escape("bad.yaml:4: sweep.scale: sweep keys start with 'levers.' or 'params.'")),
    _case("unknown-sweep-lever",
          {"bad.yaml": ["name: bad", "region: fuling", "sweep:", "  levers.fund.scale: [1, 2]",
                        "  levers.fund.scal: [1, 2]"]},
          re.escape("bad.yaml:5: sweep.levers.fund.scal: unknown lever 'levers.fund.scal' "
                    "(did you mean 'scale'?)")),
    _case("unknown-sweep-parameter",
          {"bad.yaml": ["name: bad", "region: fuling", "sweep:", "  levers.fund.scale: [1, 2]",
                        "  params.firms.drfit: [0.1]"]},
          re.escape("bad.yaml:5: sweep.params.firms.drfit: unknown parameter 'firms.drfit' "
                    "(did you mean 'drift'?)")),
    _case("sweep-values-not-a-list",
          {"bad.yaml": ["name: bad", "region: fuling", "sweep:", "  levers.fund.scale: 2"]},
          re.escape("bad.yaml:4: sweep.levers.fund.scale: Input should be a valid list")),
    _case("distribution-missing-field",
          {"bad.yaml": ["name: bad", "region: fuling", "uncertainties:",
                        "  firms.drift: {dist: normal, mean: 0.1}"]},
          re.escape("bad.yaml:4: uncertainties.firms.drift: normal distribution needs sd")),
    _case("unknown-distribution",
          {"bad.yaml": ["name: bad", "region: fuling", "uncertainties:",
                        "  firms.drift: {dist: gamma, mean: 1}"]},
          re.escape("bad.yaml:4: uncertainties.firms.drift.dist: Input should be 'normal', "
                    "'uniform', 'triangular' or 'lognormal'")),
    # A distribution whose range reaches an invalid parameter value fails at load time, at the
    # uncertainty's own line, instead of failing replication by replication.
    _case("uncertainty-range-invalid-uniform",
          {"bad.yaml": ["name: bad", "region: fuling", "uncertainties:",
                        "  firms.drift: {dist: normal, mean: 0.08, sd: 0.02}",
                        "  firms.sigma: {dist: uniform, low: 0.1, high: 2.5}"]},
          re.escape("bad.yaml:5: uncertainties.firms.sigma: the distribution reaches 2.5, which "
                    "is invalid: Input should be less than or equal to 2")),
    _case("uncertainty-range-invalid-normal",
          {"bad.yaml": ["name: bad", "region: fuling", "uncertainties:",
                        "  firms.drift: {dist: normal, mean: 0.9, sd: 0.2}"]},
          re.escape("bad.yaml:4: uncertainties.firms.drift: the distribution reaches 1.7, which "
                    "is invalid: Input should be less than or equal to 1")),
    _case("uncertainty-range-invalid-normal-one-bound",
          {"bad.yaml": ["name: bad", "region: fuling", "uncertainties:",
                        "  firms.drift: {dist: normal, mean: 0.9, sd: 0.2, low: 0.5}"]},
          r"bad\.yaml:4: uncertainties\.firms\.drift: the distribution reaches [\d.]+, which is "
          + re.escape("invalid: Input should be less than or equal to 1")),
    _case("uncertainty-range-invalid-lognormal",
          {"bad.yaml": ["name: bad", "region: fuling", "uncertainties:",
                        "  firms.sigma: {dist: lognormal, median: 1.5, sigma: 0.5}"]},
          r"bad\.yaml:4: uncertainties\.firms\.sigma: the distribution reaches [\d.]+, which is "
          + re.escape("invalid: Input should be less than or equal to 2")),
    _case("uncertainty-unknown-industry",
          {"bad.yaml": ["name: bad", "region: fuling", "uncertainties:",
                        "  firms.industry_drift.new_materals: {dist: uniform, low: 0, "
                        "high: 0.1}"]},
          re.escape("bad.yaml:4: uncertainties.firms.industry_drift.new_materals: unknown "
                    "industry 'new_materals' (did you mean 'new_materials'?)")),
    _case("params-unknown-key",
          {"bad.yaml": ["name: bad", "region: fuling", "params:", "  firms:", "    drfit: 0.1"]},
          re.escape("bad.yaml:5: params.firms.drfit: unknown key 'drfit' (did you mean 'drift'?)")),
    _case("params-wrong-type",
          {"bad.yaml": ["name: bad", "region: fuling", "params:", "  firms:", "    drift: lots"]},
          re.escape("bad.yaml:5: params.firms.drift: Input should be a valid number, unable to "
                    "parse string as a number")),
    _case("params-out-of-range",
          {"bad.yaml": ["name: bad", "region: fuling", "params:", "  firms: {drift: 2}"]},
          re.escape("bad.yaml:4: params.firms.drift: Input should be less than or equal to 1")),
    _case("params-unknown-industry",
          {"bad.yaml": ["name: bad", "region: fuling", "params:", "  firms:",
                        "    industry_drift: {new_materals: 0.01}"]},
          re.escape("bad.yaml:5: params.firms.industry_drift.new_materals: unknown industry "
                    "'new_materals' (did you mean 'new_materials'?)")),
    _case("allocation-unknown-industry",
          {"bad.yaml": ["name: bad", "region: fuling", "levers:", "  fund:",
                        "    allocation: {new_materals: 1}"]},
          re.escape("bad.yaml:5: levers.fund.allocation.new_materals: unknown industry "
                    "'new_materals' (did you mean 'new_materials'?)")),
    _case("park-expansion-unknown-park",
          {"bad.yaml": ["name: bad", "region: fuling", "levers:", "  parks:",
                        "    expansion: {lingan: 0.5}"]},
          re.escape("bad.yaml:5: levers.parks.expansion.lingan: unknown park 'lingan' (did you "
                    "mean 'lingang'?); model parks: ") + r".*\blingang\b.*"),
    _case("base-year-without-baseline",
          {"bad.yaml": ["name: bad", "region: fuling", "horizon: {start: 2019}"]},
          re.escape("bad.yaml:3: horizon.start: no figures size the industry in base year 2019") + ".*"),
    _case("end-year-not-after-base-year",
          {"bad.yaml": ["name: bad", "region: fuling", "horizon:", "  start: 2021",
                        "  end: 2021"]},
          re.escape("bad.yaml:5: horizon.end: end year 2021 must be after the base year 2021")),
    # Per-firm history is not a Monte Carlo output: the key is unknown.
    _case("outputs-firm-history-unknown",
          {"bad.yaml": ["name: bad", "region: fuling", "outputs:", "  plots: false",
                        "  firm_history: true"]},
          re.escape("bad.yaml:5: outputs.firm_history: unknown key 'firm_history'")),
    # --- errors found when compiling a file that `extends` name the file defining the key ---
    _case("extends-unknown-target-in-base",
          {"base.yaml": ["name: base", "region: fuling", "targets:",
                         "  - sei_output_shar_2026"],
           "bad.yaml": ["extends: base.yaml", "name: bad"]},
          re.escape("base.yaml:4: targets[0]: unknown target 'sei_output_shar_2026' (did you "
                    "mean 'sei_output_share_2026'?)")),
    _case("extends-unknown-industry-in-base",
          {"base.yaml": ["name: base", "region: fuling", "levers:", "  fund:",
                         "    allocation: {new_materals: 1}"],
           "bad.yaml": ["extends: base.yaml", "name: bad", "levers: {fund: {scale: 2}}"]},
          re.escape("base.yaml:5: levers.fund.allocation.new_materals: unknown industry "
                    "'new_materals' (did you mean 'new_materials'?)")),
    _case("extends-horizon-in-child",
          {"base.yaml": ["name: base", "region: chongqing", "horizon: {start: 2020}"],
           "bad.yaml": ["extends: base.yaml", "name: bad", "horizon:", "  end: 2024"]},
          re.escape("bad.yaml:4: horizon.end: target 'sei_output_share_2025' is for 2025, outside the "
                    "horizon 2020-2024")),
]


@pytest.mark.parametrize("files, entry, expected", BAD)
def test_bad_scenario_error(in_tmp, files, entry, expected):
    for name, lines in files.items():
        write(in_tmp, name, *lines)
    with pytest.raises(InputError) as info:
        validate(in_tmp / entry)
    message = str(info.value)
    assert "\n" not in message
    assert re.fullmatch(expected, message), message


def test_error_attributes(in_tmp):
    write(in_tmp, "bad.yaml", "name: bad", "region: fuling", "levers:", "  fnd: {scale: 2}")
    with pytest.raises(InputError) as info:
        load_scenario(in_tmp / "bad.yaml")
    err = info.value
    assert (err.file, err.line, err.key) == ("bad.yaml", 4, "levers.fnd")
    assert err.problem == "unknown key 'fnd' (did you mean 'fund'?)"


# Errors found after loading (while compiling against the plan) carry the same file, line, key path
# and hint as load-time errors, as attributes too; the target-horizon error names `horizon.end`
# (the key to change) rather than `horizon`.
@pytest.mark.parametrize("lines, line, key, problem", [
    (["name: bad", "region: fuling", "uncertainties:",
      "  firms.drfit: {dist: normal, mean: 0.08, sd: 0.02}"],
     4, "uncertainties.firms.drfit",
     "unknown parameter 'firms.drfit' (did you mean 'drift'?)"),
    (["name: bad", "region: fuling", "targets: [sei_output_shar_2026]"],
     3, "targets[0]",
     "unknown target 'sei_output_shar_2026' (did you mean 'sei_output_share_2026'?)"),
    (["name: bad", "region: chongqing", "horizon: {end: 2024}"],
     3, "horizon.end", "target 'sei_output_share_2025' is for 2025, outside the horizon 2020-2024"),
], ids=["uncertainty", "target", "horizon"])
def test_bad_scenario_message_names_file_and_key(in_tmp, lines, line, key, problem):
    write(in_tmp, "bad.yaml", *lines)
    with pytest.raises(InputError) as info:
        validate(in_tmp / "bad.yaml")
    err = info.value
    assert (err.file, err.line, err.key, err.problem) == ("bad.yaml", line, key, problem)
    assert str(err) == f"bad.yaml:{line}: {key}: {problem}"


def test_scenario_from_dict_errors_name_the_key():
    with pytest.raises(InputError) as info:
        scenario_from_dict({"name": "x", "region": "fuling", "levers": {"fund": {"scale": -2}}})
    assert str(info.value) == ("<dict>: levers.fund.scale: Input should be greater than or "
                               "equal to 0")


def test_missing_scenario_file(in_tmp):
    with pytest.raises(InputError) as info:
        load_scenario(in_tmp / "nofile.yaml")
    assert str(info.value) == "nofile.yaml: file not found"


# `seisim mc` on a bad scenario: exit 2, one line, nothing written ---------------------------------
REQUIRED = {"wrong-type", "unknown-key", "negative-fund-scale", "unknown-region",
            "unknown-version", "target-outside-horizon", "extends-cycle", "missing-extends-file",
            "unknown-uncertainty-parameter", "unknown-target", "params-unknown-key",
            "allocation-unknown-industry", "end-year-not-after-base-year",
            "uncertainty-range-invalid-uniform", "params-unknown-industry",
            "extends-unknown-industry-in-base"}


@pytest.mark.parametrize("files, entry", [
    pytest.param(case.values[0], case.values[1], id=case.id) for case in BAD
    if case.id in REQUIRED])
def test_mc_on_bad_scenario_leaves_nothing(in_tmp, capsys, files, entry):
    for name, lines in files.items():
        write(in_tmp, name, *lines)
    out = in_tmp / "runs" / "bad"
    code = main(["mc", entry, "-n", "2", "--backend", "serial", "--no-progress",
                 "--out", str(out)])
    stdout, stderr = capsys.readouterr()
    assert code == 2
    assert stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith("seisim: error: ")
    assert "Traceback" not in stderr
    assert not out.exists() and not (in_tmp / "runs").exists()


def test_mc_console_script_on_bad_scenario(tmp_path):
    bad = write(tmp_path, "bad.yaml", "name: bad", "region: fuling", "levers:",
                "  fund:", "    scale: -1")
    out = tmp_path / "run"
    script = Path(sys.executable).with_name("seisim")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sim.cli"]
    proc = subprocess.run(command + ["mc", "bad.yaml", "-n", "2", "--backend", "serial",
                                     "--no-progress", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == ("seisim: error: bad.yaml:5: levers.fund.scale: Input should be greater "
                           "than or equal to 0\n")
    assert not out.exists()
    assert bad.exists()


@pytest.mark.parametrize("block,key", [
    ("params:\n  economy: {nonsei_growth: .nan}\n", "params.economy.nonsei_growth"),
    ("params:\n  funds: {deployment_lag: .inf}\n", "params.funds.deployment_lag"),
    ("levers:\n  fund: {scale: .inf}\n", "levers.fund.scale"),
])
def test_non_finite_numbers_are_refused_with_their_key(tmp_path, block, key):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nregion: fuling\n" + block, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_scenario(path).model_inputs()
    message = str(err.value)
    assert f"bad.yaml:4: {key}: " in message and "finite number" in message, message
    assert "\n" not in message


def test_a_horizon_beyond_2100_is_a_one_line_error():
    # An end year of 100000 would simulate for ever; plan years are bounded, so is the horizon.
    with pytest.raises(InputError) as err:
        scenario_from_dict({"name": "far", "region": "fuling", "horizon": {"end": 100000}})
    message = str(err.value)
    assert "horizon.end" in message and "2100" in message and "\n" not in message

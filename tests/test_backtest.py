"""The rolling-origin back-test on a synthetic region whose true parameters are known.

The region's "published statistics" are written from one simulated run (the truth) with parameters
drawn from the calibration spec's priors. When the back-test has no data to fit at its origin it
forecasts from the same priors, so its 90% bands must cover the truth about 90% of the time and
its PITs must be centred: a check of the whole pipeline (plan cut, forecast, scoring) that does
not depend on how well the model fits real data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.analysis.backtest import backtest
from sim.cli import main
from sim.engines import run_engine
from sim.experiments.seeding import replication_seed
from sim.model.inputs import compile_inputs
from sim.model.params import ModelParams
from sim.plans import load
from sim.reporting.backtest_report import report_markdown

PLAN = """\
format: seisim-plan/1
region: synth
name: 合成区
name_en: Synthetic district
versions:
  "v1":
    document: synthetic.txt
    title: Synthetic plan
industries:
  - {id: materials, name: 材料, name_en: Materials, sector: industry, sei: true, source: {"v1": "s1"}}
  - {id: equipment, name: 装备, name_en: Equipment, sector: industry, sei: true, source: {"v1": "s1"}}
figures:
  - {id: output_2020, indicator: sei_output, year: 2020, value: 60, unit: 亿元, role: baseline,
     source: {"v1": "s2"}}
  - {id: share_2020, indicator: sei_output_share, year: 2020, value: 25, unit: "%",
     role: baseline, source: {"v1": "s2"}}
  - {id: firms_2020, indicator: sei_firm_count, year: 2020, value: 40, unit: firms,
     role: baseline, source: {"v1": "s2"}}
  - {id: share_2025, indicator: sei_output_share, year: 2025, value: 35, unit: "%",
     role: target, source: {"v1": "s3"}}
"""

MEASURES = {"sei_output_share": "sei_output_share",
            "sei_share_of_industrial_value_added": "sei_share_of_industrial_value_added",
            "industrial_value_added_growth": "industrial_value_added_growth",
            "gdp_growth": "gdp_growth"}
PRIORS = {"firms.drift": (0.10, 0.05, -0.2, 0.4),
          "economy.nonsei_growth": (0.04, 0.04, -0.2, 0.3)}
YEARS = (2021, 2022, 2023, 2024)


def spec_text(plan_path: Path, max_evaluations: int = 10) -> str:
    moments = "\n".join(f"  - {{statistic: {m}_{y}, tolerance: {3.0 if 'growth' in m else 0.05}}}"
                        for y in YEARS for m in MEASURES)
    free = "\n".join(f"  {k}: {{low: {lo}, high: {hi}, prior_mean: {mu}, prior_sd: {sd}}}"
                     for k, (mu, sd, lo, hi) in PRIORS.items())
    return (f"name: synth-v1\nregion: {plan_path}\nversion: v1\nstart_year: 2020\n"
            f"moments:\n{moments}\nfree:\n{free}\nreplications: 6\nseed: 7\nbootstrap: 0\n"
            f"max_evaluations: {max_evaluations}\n")


def make_region(directory: Path, truth_seed: int) -> tuple[Path, Path]:
    """Plan, statistics drawn from one true run, and calibration spec in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    plan_path = directory / "synth.yaml"
    plan_path.write_text(PLAN, encoding="utf-8")
    rng = np.random.default_rng(truth_seed)
    overrides = {}
    for name, (mu, sd, lo, hi) in PRIORS.items():
        section, key = name.split(".")
        overrides.setdefault(section, {})[key] = float(np.clip(rng.normal(mu, sd), lo, hi))
    inputs = compile_inputs(load(plan_path), ModelParams().updated(overrides), end_year=2024)
    truth = run_engine(inputs, replication_seed(10_000 + truth_seed, 0)).annual.set_index("year")
    lines = ["format: seisim-statistics/1", "region: synth", "statistics:"]
    for year in YEARS:
        for measure, column in MEASURES.items():
            unit = "%"
            lines += [f"  - id: {measure}_{year}", f"    measure: {measure}", f"    year: {year}",
                      f"    value: {truth.at[year, column]:.6f}", f'    unit: "{unit}"',
                      "    source: synthetic truth", "    published: 2025"]
    (directory / "statistics").mkdir(exist_ok=True)
    (directory / "statistics" / "synth.yaml").write_text("\n".join(lines) + "\n",
                                                         encoding="utf-8")
    spec_path = directory / "synth-v1.yaml"
    spec_path.write_text(spec_text(plan_path), encoding="utf-8")
    return plan_path, spec_path


@pytest.mark.slow
def test_bands_cover_a_known_truth_at_their_nominal_rate(tmp_path):
    inside, pits = [], []
    for k in range(14):
        plan_path, spec_path = make_region(tmp_path / f"truth{k}", k)
        result = backtest({"name": "synth", "region": str(plan_path)}, [2020],
                          replications=120, bootstrap=0, seed=500 + k,
                          calibration=str(spec_path), progress=False)
        fit = result.fits[0]
        assert fit.fitted == [] and fit.prior_only == list(PRIORS)  # nothing to fit at 2020
        model = result.points[result.points.method == "model"]
        assert len(model) == len(YEARS) * len(MEASURES)
        inside += list(model.inside_90)
        pits += list(model.pit)
    coverage = np.mean(inside)
    assert 0.8 <= coverage <= 0.97, coverage
    assert 0.4 <= np.mean(pits) <= 0.6
    # PITs spread over the unit interval, not piled at the ends (over-confidence) or centre.
    counts = np.histogram(pits, bins=4, range=(0, 1))[0]
    assert counts.min() >= 0.1 * len(pits), counts


def test_backtest_command_writes_report_with_naive_forecasts(tmp_path, capsys):
    plan_path, spec_path = make_region(tmp_path / "region", 3)
    out = tmp_path / "bt"
    scenario = tmp_path / "synth-scenario.yaml"
    # A pooled scenario whose fitted sets do not exist: the back-test recalibrates anyway.
    scenario.write_text(f"name: synth-baseline\nregion: {plan_path}\nparams:\n  structure: "
                        "{variant: pooled}\n", encoding="utf-8")
    code = main(["backtest", str(scenario), "--origins", "2022", "--replications", "20",
                 "--bootstrap", "2", "--calibration", str(spec_path), "--out", str(out),
                 "--quiet", "--workers", "1"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "model MAE" in printed and "report:" in printed
    for name in ("report.md", "points.csv", "points.parquet", "summary.csv", "table.csv",
                 "fans.csv", "calibration.csv", "fan-gdp_growth.png"):
        assert (out / name).is_file(), name
    points = pd.read_csv(out / "points.csv")
    assert set(points.method) >= {"model", "no_change", "linear_trend"}
    assert (points.year > 2022).all()
    # The naive forecasts are scored on the model's points, never on others.
    model_keys = set(map(tuple, points[points.method == "model"][["origin", "statistic"]].values))
    naive_keys = set(map(tuple, points[points.method != "model"][["origin", "statistic"]].values))
    assert naive_keys <= model_keys
    calibration = pd.read_csv(out / "calibration.csv")
    # 8 moments up to 2022 for 2 free parameters: both fitted.
    assert set(calibration.status) <= {"fitted", "prior-driven"}
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Headline table" in report and "no change" in report
    # A second run into the same directory is refused: finished results are never overwritten.
    assert main(["backtest", str(scenario), "--origins", "2022", "--replications", "5",
                 "--bootstrap", "0", "--calibration", str(spec_path), "--out", str(out),
                 "--quiet"]) == 2
    assert "exists and is not empty" in capsys.readouterr().err


def test_no_statistics_after_the_origin_is_a_clear_error(tmp_path):
    plan_path, spec_path = make_region(tmp_path / "region", 1)
    with pytest.raises(sim.errors.InputError, match="no published statistic of synth is dated "
                                                    "after the origins"):
        backtest({"name": "synth", "region": str(plan_path)}, [2024], replications=5,
                  calibration=str(spec_path), progress=False)


def test_origin_calibration_sees_only_data_up_to_it(tmp_path):
    plan_path, spec_path = make_region(tmp_path / "region", 2)
    result = backtest({"name": "synth", "region": str(plan_path)}, [2021], replications=10,
                      bootstrap=0, calibration=str(spec_path), progress=False)
    fit = result.fits[0]
    # 4 moments dated 2021: 2 fitted parameters need 4 (2 + 2 spare).
    assert len(fit.moments) == 4 and all(m.endswith("2021") for m in fit.moments)
    assert fit.fitted == list(PRIORS)
    assert (result.points.year > 2021).all()


def test_forecast_seed_leaves_the_refits_alone_and_calibration_seed_moves_them(tmp_path):
    """``seed`` draws the forecasts only; the refits keep the calibration spec's seed unless
    ``calibration_seed`` replaces it, so both must vary to see a score's Monte Carlo noise."""
    plan_path, spec_path = make_region(tmp_path / "region", 2)

    def run(**seeds):
        return backtest({"name": "synth", "region": str(plan_path)}, [2021], replications=10,
                        bootstrap=0, calibration=str(spec_path), progress=False, **seeds)

    base, other_forecast, other_fit = run(seed=1), run(seed=2), run(seed=1, calibration_seed=8)
    assert base.fits[0].theta == other_forecast.fits[0].theta
    assert not base.points["median"].equals(other_forecast.points["median"])
    assert other_fit.fits[0].theta != base.fits[0].theta
    assert other_fit.calibration_seeds == (8,) and base.calibration_seeds == (7,)
    assert base.calibration_seed is None
    assert "--calibration-seed 8" in report_markdown(other_fit)


def test_mid_plan_forecast_runs_on_data_up_to_its_year(tmp_path, monkeypatch, capsys):
    from sim.reporting.report import data_basis
    from sim.scenarios import scenario_from_dict

    plan_path, spec_path = make_region(tmp_path / "region", 4)
    scenario = {"name": "synth-asof", "region": str(plan_path), "as_of": 2022,
                "horizon": {"end": 2025}}
    monkeypatch.setenv("SEISIM_PARAMETER_SETS", str(tmp_path / "cal" / "sets"))
    with pytest.raises(sim.errors.InputError, match=r"as_of: no parameter set calibrated on data "
                                                    r"up to 2022 \(synth-v1-through-2022\); make "
                                                    r"it with `seisim calibrate"):
        scenario_from_dict(scenario)
    assert main(["calibrate", str(spec_path), "--data-through", "2022", "--bootstrap", "2",
                 "--workers", "1", "--out", str(tmp_path / "cal"), "--quiet"]) == 0
    assert "synth-v1-through-2022.yaml" in capsys.readouterr().out
    sc = scenario_from_dict(scenario)
    assert sc.parameter_set.meta["data_through"] == 2022
    assert len(sc.parameter_set.draws) == 64
    drifts = {d["firms"]["drift"] for d in sc.parameter_set.draws}
    assert len(drifts) == 2  # two bootstrap refits, cycled
    inputs = sc.model_inputs(np.random.default_rng(0))
    assert inputs.start_year == 2020 and inputs.end_year == 2025
    basis = " ".join(data_basis(sc))
    assert "calibrated on data up to 2022" in basis and "2020 baseline" in basis
    # A later plan baseline would be invisible to a forecast made as of an earlier year.
    late = PLAN + ("  - {id: output_2023, indicator: sei_output, year: 2023, value: 90, unit: 亿元,"
                   " role: baseline, source: {\"v1\": \"s2\"}}\n")
    plan_path.write_text(late, encoding="utf-8")
    assert not [f for f in scenario_from_dict(scenario).plan.figures if f.year == 2023]


def test_as_of_before_any_baseline_is_refused(tmp_path):
    from sim.scenarios import scenario_from_dict

    plan_path, _ = make_region(tmp_path / "region", 5)
    with pytest.raises(sim.errors.InputError, match="as_of: the plan has no baseline SEI output "
                                                    "dated at or before 2019"):
        scenario_from_dict({"name": "x", "region": str(plan_path), "as_of": 2019})


def test_pooled_backtest_scores_each_structural_variant(tmp_path):
    plan_path, spec_path = make_region(tmp_path / "region", 6)
    converge = spec_path.with_name("synth-v1-converge.yaml")
    converge.write_text(spec_path.read_text(encoding="utf-8").replace(
        "name: synth-v1\n", "name: synth-v1-converge\nparameters:\n  structure: "
        "{variant: converge, since: 2020, half_life: 2}\n"), encoding="utf-8")
    result = backtest({"name": "synth", "region": str(plan_path)}, [2020], replications=40,
                      bootstrap=0, calibration=[str(spec_path), str(converge)], progress=False)
    assert {f.label for f in result.fits} == {"synth-v1", "synth-v1-converge"}
    methods = set(result.points.method)
    assert {"model", "model[synth-v1]", "model[synth-v1-converge]"} <= methods
    share = result.points[result.points.statistic == "sei_output_share_2024"].set_index("method")
    # The converge variant forecasts a lower SEI share than persist; the pool lies between.
    persist, conv = share.loc["model[synth-v1]", "median"], share.loc["model[synth-v1-converge]",
                                                                       "median"]
    assert conv < persist
    assert conv <= share.loc["model", "median"] <= persist
    assert "model[synth-v1-converge]_mae" in result.table().columns


def test_calibration_refits_resume_from_their_work_directory(tmp_path, monkeypatch):
    """A calibration with --work keeps each finished refit; a rerun reuses them (the same
    parameter set, byte for byte) instead of refitting, and refits run on the Dask backend too."""
    import sim.calibration as calibration

    plan_path, spec_path = make_region(tmp_path / "region", 4)
    args = ["calibrate", str(spec_path), "--data-through", "2022", "--bootstrap", "2",
            "--workers", "1", "--quiet", "--work", str(tmp_path / "work")]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    kept = sorted((tmp_path / "work").rglob("job-*.json"))
    assert len(kept) == 2
    stamps = [p.stat().st_mtime_ns for p in kept]
    calls = []
    original = calibration.fit
    monkeypatch.setattr(calibration, "fit", lambda *a, **k: calls.append(1) or original(*a, **k))
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    assert len(calls) == 1  # the point estimate only: both refits came from the work directory
    assert [p.stat().st_mtime_ns for p in kept] == stamps
    first = (tmp_path / "a" / "sets" / "synth-v1-through-2022.yaml").read_bytes()
    assert (tmp_path / "b" / "sets" / "synth-v1-through-2022.yaml").read_bytes() == first
    # Without the work directory, on a 2-worker Dask LocalCluster: the same refits.
    assert main(args[:-2] + ["--backend", "dask", "--workers", "2",
                             "--out", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "sets" / "synth-v1-through-2022.yaml").read_bytes() == first


def test_job_runner_refuses_a_kept_result_computed_for_other_arguments(tmp_path):
    from sim.experiments.driver import run_jobs

    assert run_jobs(abs, [-1.5, 2.0], backend="serial", store=tmp_path) == [1.5, 2.0]
    # The same slots with other arguments are recomputed, not read back.
    assert run_jobs(abs, [-3.0, 2.0], backend="serial", store=tmp_path) == [3.0, 2.0]

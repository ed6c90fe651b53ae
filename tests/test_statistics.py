"""Published statistics: the shipped files, one test per validation error, the simulated columns
they map to, and the calibration rules that use them."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.calibration import (CalibrationResult, FreeParameter, build_problem, load_spec,
                             prior_spread)
from sim.cli import main
from sim.errors import InputError
from sim.outcomes import STATISTIC_COLUMNS, STATISTIC_NOT_SIMULATED, statistic_column
from sim.plans.statistics import MEASURES, load_statistics, read_statistics_file

MINIMAL = """\
format: seisim-statistics/1
region: demo
statistics:
  - id: va_share_2019
    measure: sei_share_of_industrial_value_added
    year: 2019
    value: 25.0
    unit: "%"
    source: "Demo bulletin 2019"
    published: 2020-01
  - id: gdp_2021h1
    measure: gdp
    year: 2021
    period: H1
    value: 1000
    unit: 亿元
    qualifier: about
    source: "Demo half-year release"
    published: 2021-07-20
"""


def write(tmp_path: Path, text: str, name: str = "demo") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("region", ["chongqing", "fuling"])
def test_shipped_statistics_load_and_have_sources(region):
    stats = load_statistics(region)
    assert stats is not None and len(stats) >= 10
    for st in stats.items:
        assert st.source.strip() and st.published[:4].isdigit()
        assert st.year >= 2015


def test_minimal_file_reads_with_periods_and_times(tmp_path):
    stats = read_statistics_file(write(tmp_path, MINIMAL))
    assert [s.id for s in stats.items] == ["va_share_2019", "gdp_2021h1"]
    assert stats.items[1].time == pytest.approx(2020.75)
    assert stats.items[1].label == "2021 H1"
    assert stats.find("gdp", through=2020) == []
    assert len(stats.find(through=2021)) == 2


@pytest.mark.parametrize("old,new,line,words", [
    ("measure: gdp\n", "measure: gdpp\n", 12, "statistics[1].measure: unknown measure "
                                              "'gdpp' (did you mean 'gdp'?)"),
    ("value: 25.0", "value: 125.0", 7, "statistics[0].value: share 125 is outside 0-100"),
    ("unit: 亿元", "unit: 万元", 16, "statistics[1].unit: unit '万元' does not fit measure 'gdp'"),
    ("period: H1", "period: first_half", 14, "statistics[1].period: unknown period"),
    ("published: 2020-01", "published: January 2020", 10, "statistics[0].published"),
    ("qualifier: about", "qualifier: roughly", 17, "statistics[1].qualifier"),
    ("value: 1000", "value: .nan", 15, "statistics[1].value: Input should be a finite number"),
    ("region: demo", "region: other", 2, "region: region 'other' must match the file name"),
    ("id: gdp_2021h1", "id: va_share_2019", 11, "statistics[1].id: duplicate id"),
])
def test_errors_name_file_line_and_key(tmp_path, old, new, line, words):
    assert old in MINIMAL
    path = write(tmp_path, MINIMAL.replace(old, new))
    with pytest.raises(InputError) as err:
        read_statistics_file(path, "stats/demo.yaml")
    message = str(err.value)
    assert message.startswith(f"stats/demo.yaml:{line}: "), message
    assert words in message, message
    assert "\n" not in message


def test_the_same_period_twice_is_refused(tmp_path):
    text = MINIMAL + MINIMAL[MINIMAL.index("  - id: va_share_2019"):MINIMAL.index(
        "  - id: gdp_2021h1")].replace("id: va_share_2019", "id: va_share_2019b")
    with pytest.raises(InputError, match=r"demo.yaml:21: statistics\[2\].measure: "
                                         r"sei_share_of_industrial_value_added 2019 is already"):
        read_statistics_file(write(tmp_path, text), "demo.yaml")


def test_every_measure_is_simulated_or_says_why():
    assert set(MEASURES) == set(STATISTIC_COLUMNS) | set(STATISTIC_NOT_SIMULATED)
    assert not set(STATISTIC_COLUMNS) & set(STATISTIC_NOT_SIMULATED)
    annual = sim.run("chongqing", seed=3).annual
    for measure, column in STATISTIC_COLUMNS.items():
        assert column in annual.columns, measure


def test_half_year_figures_say_how_they_are_compared():
    stats = load_statistics("chongqing")
    h1 = next(s for s in stats.items if s.period == "H1")
    column, note = statistic_column(h1)
    assert column == "sei_share_of_industrial_value_added" and "full-year" in note


def test_real_growth_is_nominal_growth_deflated():
    annual = sim.run("fuling", seed=5).annual
    # Growth compares the same sample of firms in both years (ODD 7.17): the comparable basis.
    va = annual.industrial_value_added_comparable.to_numpy()
    price = annual.industrial_price_level.to_numpy()
    expected = 100 * ((va[1:] / price[1:]) / (va[:-1] / price[:-1]) - 1)
    assert np.allclose(annual.industrial_value_added_growth.to_numpy()[1:], expected)
    assert math.isnan(annual.industrial_value_added_growth.iloc[0])
    assert annual.industrial_price_level.iloc[0] == 1.0
    # Prices differ between seeds but not between engines.
    other = sim.run("fuling", seed=6).annual
    assert not np.allclose(other.industrial_price_level, annual.industrial_price_level)
    mesa = sim.run("fuling", seed=5, engine="mesa").annual
    assert np.array_equal(mesa.gdp_price_level, annual.gdp_price_level)


def test_price_drift_lowers_real_growth():
    base = sim.run("chongqing", seed=2, params={"economy": {"industrial_inflation": 0.0}}).annual
    infl = sim.run("chongqing", seed=2, params={"economy": {"industrial_inflation": 0.05}}).annual
    assert np.allclose(base.industrial_value_added, infl.industrial_value_added)
    assert (infl.industrial_value_added_growth.iloc[1:] <
            base.industrial_value_added_growth.iloc[1:]).all()


def test_plan_show_lists_statistics(capsys):
    assert main(["plan", "show", "chongqing"]) == 0
    out = capsys.readouterr().out
    assert "Published statistics (" in out
    assert "sei_va_share_2018" in out and "not simulated" in out


def test_calibration_needs_two_more_moments_than_free_parameters(tmp_path):
    spec = Path("calibration/fuling-2022.yaml").read_text(encoding="utf-8")
    text = spec.replace("moments:\n", "data_through: 2021\nmoments:\n")
    path = tmp_path / "fuling-short.yaml"
    path.write_text(text, encoding="utf-8")
    loaded, source = load_spec(path)
    # 2021 only: five moments for the spec's four free parameters is refused...
    with pytest.raises(InputError, match="5 moments dated up to 2021 for 4 free parameters: a "
                                         "fit needs at least 6"):
        build_problem(loaded, source)
    # ...and accepted with one parameter fewer (3 free + 2).
    three = loaded.model_copy(update={"free": {k: v for k, v in loaded.free.items()
                                               if k != "economy.coverage_drift"}})
    assert len(build_problem(three, source).moments) == 5


def test_statistic_moments_cut_at_data_through(tmp_path):
    loaded, source = load_spec("calibration/chongqing-001.yaml")
    full = build_problem(loaded, source)
    cut = build_problem(loaded.model_copy(update={"data_through": 2020}), source)
    assert max(m.year for m in full.moments) > 2020
    assert max(m.year for m in cut.moments) == 2020
    assert {m.id for m in cut.moments} < {m.id for m in full.moments}
    assert cut.plan.find("sei_output_share", year=2025, role="target")  # targets stay
    assert not [f for f in cut.plan.figures if f.role == "baseline" and f.year > 2020]


def test_prior_driven_label_follows_the_posterior_spread():
    loaded, source = load_spec("calibration/fuling-2022.yaml")
    problem = build_problem(loaded, source)
    rng = np.random.default_rng(0)
    # drift: posterior s.d. 0.045 vs prior 0.05 -> prior-driven; the others tightly pinned.
    assert problem.names == ["firms.drift", "economy.nonsei_growth", "economy.coverage_drift",
                             "shock.2021"]
    draws = np.column_stack([rng.normal(0.15, 0.045, 400), rng.normal(0.05, 0.005, 400),
                             rng.normal(-0.03, 0.005, 400), rng.normal(0.2, 0.01, 400)])
    result = CalibrationResult(problem, [0.15, 0.05, -0.03, 0.2], 0.0, 1, draws.tolist(),
                               np.zeros((2, len(problem.moments))), {}, [], 0.0)
    assert result.prior_driven == ["firms.drift"]
    est = result.estimates()
    assert est["firms.drift"]["posterior_to_prior_sd"] == pytest.approx(0.9, abs=0.08)
    # shock.2021 has no prior: its spread is compared with a uniform prior on its bounds.
    assert prior_spread(problem.free[3]) == pytest.approx(0.9 / math.sqrt(12))
    assert result.data_through == 2024


def test_classification_break_is_fitted_as_a_level_shift_only_when_spanned():
    stats = load_statistics("chongqing")
    assert [b.year for b in stats.breaks] == [2018]
    loaded, source = load_spec("calibration/chongqing-001.yaml")
    full = build_problem(loaded, source)
    assert full.names[0] == "break.2018"  # first, so a short history fits it before the trends
    before = build_problem(loaded.model_copy(update={"data_through": 2017}), source,
                           check_identification=False)
    assert "break.2018" not in before.names
    off = build_problem(loaded.model_copy(update={"breaks": "none"}), source)
    assert "break.2018" not in off.names
    # The break shifts SEI growth in 2018 only; it is not carried into the fitted parameters.
    theta = [0.3, 0.1, 0.04, 0.05]
    levers = full.levers_at(theta)
    assert [(s.start, s.end, s.sei_only) for s in levers.shocks] == [(2018, 2018, True)]
    assert "break" not in str(full.params_at(theta).model_dump())


def test_sei_only_shift_moves_sei_output_but_not_the_rest_of_industry():
    shock = {"shocks": [{"start": 2022, "end": 2022, "growth_shift": 0.3, "sei_only": True}]}
    base = sim.run("fuling", seed=3).annual.set_index("year")
    shifted = sim.run("fuling", seed=3, levers=shock).annual.set_index("year")
    assert np.array_equal(base.nonsei_output, shifted.nonsei_output)
    assert base.sei_industrial_output[2021] == shifted.sei_industrial_output[2021]
    assert shifted.sei_industrial_output[2022] > 1.1 * base.sei_industrial_output[2022]


def test_breaks_need_a_note_and_source(tmp_path):
    text = MINIMAL.replace("statistics:\n", "breaks:\n  - {year: 2018, note: x}\nstatistics:\n")
    with pytest.raises(InputError, match=r"demo.yaml:4: breaks\[0\]"):
        read_statistics_file(write(tmp_path, text), "demo.yaml")


def test_a_short_history_fits_breaks_and_year_shocks_before_trends():
    from sim.calibration import fitting_order

    loaded, _ = load_spec("calibration/fuling-2022.yaml")
    order = list(fitting_order(loaded.free))
    # Fuling's one year of history: the 2021 shock is fitted before any trend, so the trend does
    # not absorb the rebound year; the rest keep the spec's order.
    assert order[0] == "shock.2021"
    assert order[1:] == [k for k in loaded.free if k != "shock.2021"]


def test_statistics_lookup_sees_files_added_edited_and_removed(tmp_path, monkeypatch):
    """The look-up remembers where a region's statistics may be, not whether the file is there:
    a file added, edited or removed during a session is seen on the next call."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEISIM_SEEDS", str(tmp_path / "mine"))
    assert load_statistics("demo") is None
    folder = tmp_path / "mine" / "statistics"
    folder.mkdir(parents=True)
    path = write(folder, MINIMAL)
    assert [s.value for s in load_statistics("demo").items] == [25.0, 1000]
    path.write_text(MINIMAL.replace("value: 25.0", "value: 26.5"), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a clearly later edit
    assert load_statistics("demo").items[0].value == 26.5
    path.unlink()
    assert load_statistics("demo") is None


@pytest.mark.parametrize("region", ["chongqing", "fuling", "chengdu"])
def test_find_by_measure_keeps_file_order_and_every_filter(region):
    stats = load_statistics(region)
    for measure in {s.measure for s in stats.items} | {"no_such_measure"}:
        for year in (None, *sorted({s.year for s in stats.items})):
            for period in (None, "year"):
                expected = [s for s in stats.items if s.measure == measure
                            and (year is None or s.year == year)
                            and (period is None or s.period == period)]
                assert stats.find(measure, year=year, period=period) == expected
    assert stats.find() == list(stats.items)

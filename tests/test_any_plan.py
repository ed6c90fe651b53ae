"""Any plan: the extended plan format (SEI flags, ranges, undated, batch and unscored targets,
statistic and assumption figures), the indicator registry's suggestions, sizing a base year from
industrial value added, the scoring rules (about, ranges, k of n), target specs of the shipped
plans, ``seisim plan check``, one-line errors for unsimulable plans, and Chengdu end to end.

Plan files are written to ``tmp_path`` from two small texts: ``MINIMAL`` of ``tests/test_plans.py``
(sized on SEI output and its share) and ``VA_PLAN`` below (sized only on industrial value added and
an assumed SEI share range, like Chengdu). Every error test checks the one-line message names the
file, the line to edit and the key path.
"""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
import sim.plans
from sim.analysis.targets import summarize_targets
from sim.cli import main
from sim.errors import InputError
from sim.model.baseline import build_baseline, draw_figure_factors
from sim.plans.sizing import SIZING_FORMS, find_sizing
from sim.model.params import ModelParams
from sim.model.readiness import check_plan
from sim.outcomes import TargetSpec, replication_outcomes, scoring_rule, target_specs
from sim.plans.indicators import INDICATORS, UNIT_FACTORS, suggest_indicator
from sim.plans.schema import ABOUT_TOLERANCE, Figure
from test_plans import MINIMAL, edit, edit_target, line_of, load_error, write_plan

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--backend", "serial", "--no-progress"]

#: A plan that states no SEI output: industrial value added 1000 in 2022 (a plan figure) and an
#: assumed SEI share of it between 10% and 20%. Two industrial SEI industries and one that is not.
VA_PLAN = """\
format: seisim-plan/1
region: vademo
name: 示例市
name_en: VA Demo City
versions:
  "2023":
    document: vademo.txt
    title: VA demo plan
industries:
  - id: robots
    name: 机器人
    name_en: Robots
    sector: industry
    sei: true
    source: {"2023": "s1"}
  - id: drones
    name: 无人机
    name_en: Drones
    sector: industry
    sei: true
    source: {"2023": "s1"}
  - id: food
    name: 食品
    name_en: Food
    sector: industry
    sei: false
    source: {"2023": "s1"}
figures:
  - id: iva_2022
    indicator: industrial_value_added
    year: 2022
    value: 1000
    unit: 亿元
    role: baseline
    source: {"2023": "s2"}
  - id: sei_va_share_2022
    indicator: sei_share_of_industrial_value_added
    year: 2022
    value: [10, 20]
    unit: "%"
    role: baseline
    assumption: {by: test maintainers, why: "the plan does not size its SEI part at all"}
  - id: iva_2025
    indicator: industrial_value_added
    year: 2025
    value: 1200
    unit: 亿元
    role: target
    source: {"2023": "s3"}
"""
VA_HEAD, VA_FIGURES = VA_PLAN.split("figures:\n")
VA_TARGET = "  - id: iva_2025" + VA_FIGURES.split("  - id: iva_2025")[1]
#: The same plan with its target only: no figure sizes the base year.
TARGETS_ONLY = VA_HEAD + "figures:\n" + VA_TARGET
SHARE_ID = "sei_va_share_2022"


def figure_yaml(**fields) -> str:
    """One block-style figure item; values are YAML text (quote '%' yourself)."""
    lines = [f"    {key}: {value}" for key, value in fields.items()]
    return "  - " + lines[0].lstrip() + "\n" + "".join(line + "\n" for line in lines[1:])


def write_va(tmp_path: Path, text: str = VA_PLAN, folder: str = "plan") -> Path:
    """Write a VA plan as ``<folder>/vademo.yaml`` (a folder per variant: the loader caches by
    path and modification time)."""
    directory = tmp_path / folder
    directory.mkdir(exist_ok=True)
    return write_plan(directory, text, "vademo")


def load_va(tmp_path: Path, text: str = VA_PLAN, folder: str = "plan"):
    return sim.plans.load(write_va(tmp_path, text, folder))


def assert_located(exc: InputError, path: Path, text: str, marker: str, key: str, problem: str,
                   occurrence: int = 0) -> str:
    """The one-line message names file:line of ``marker``, the key path, and the problem."""
    message = str(exc)
    line = line_of(text, marker, occurrence)
    assert "\n" not in message
    assert (exc.file, exc.line, exc.key) == (str(path), line, key), message
    assert message.startswith(f"{path}:{line}: {key}: "), message
    assert problem in message, message
    return message


def share_of_industrial_va(baseline) -> float:
    """SEI share of industrial value added implied by a baseline's outputs and VA ratios."""
    sei = baseline.va_ratio * baseline.sei_industrial_output
    return 100 * sei / (sei + baseline.nonsei_va_ratio * baseline.nonsei_output)


def with_factors(params: ModelParams, factors: dict) -> ModelParams:
    return params.updated({"allocation": {"figure_factors": factors}})


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# 1. Loader ---------------------------------------------------------------------------------------
def test_missing_sei_flag_names_file_line_and_key(tmp_path):
    text = edit("    sector: industry\n    sei: true\n", "    sector: industry\n")
    path = write_plan(tmp_path, text)
    assert_located(load_error(path), path, text, "- id: materials", "industries[0].sei",
                   "required key is missing")


def test_range_value_loads_and_its_canonical_value_is_the_middle(tmp_path):
    plan = sim.plans.load(write_plan(tmp_path, edit_target("value: 200", "value: [150, 350]")))
    f = plan.figure("output_2025")
    assert f.is_range and f.value == (150, 350)
    assert f.canonical_range == (150, 350)
    assert f.canonical_value == 250
    assert f in plan.targets  # a range is quantified: scored, not merely listed


def test_range_in_another_unit_is_converted_at_both_ends(tmp_path):
    text = edit_target("value: 200\n    unit: 亿元", "value: [0.1, 0.3]\n    unit: 万亿元")
    f = sim.plans.load(write_plan(tmp_path, text)).figure("output_2025")
    assert f.canonical_range == pytest.approx((1000, 3000))
    assert f.canonical_value == pytest.approx(2000)


def test_reversed_range_is_refused(tmp_path):
    text = edit_target("value: 200", "value: [5, 3]")
    path = write_plan(tmp_path, text)
    assert_located(load_error(path), path, text, "value: [5, 3]", "figures[1].value",
                   "range [5, 3] must be [low, high] with low < high")


def test_batch_with_a_value_is_refused(tmp_path):
    text = edit_target("    value: 200\n", "    value: 200\n    qualifier: batch\n")
    path = write_plan(tmp_path, text)
    assert_located(load_error(path), path, text, "qualifier: batch", "figures[1].qualifier",
                   "omit 'value'")


def test_batch_without_a_value_is_listed_not_computed_with(tmp_path):
    plan = sim.plans.load(write_plan(tmp_path, edit_target("    value: 200\n",
                                                           "    qualifier: batch\n")))
    assert [f.id for f in plan.unquantified] == ["output_2025"]
    assert "output_2025" not in [f.id for f in plan.figures]
    assert plan.targets == [] and [f.id for f in plan.all_targets] == ["output_2025"]
    f = plan.figure("output_2025")
    assert f.value is None and not f.quantified
    with pytest.raises(ValueError, match="has no value"):
        f.canonical_value


def test_undated_target_is_accepted_and_listed(tmp_path):
    plan = sim.plans.load(write_plan(tmp_path, edit_target("    year: 2025\n", "")))
    f = plan.figure("output_2025")
    assert f.year is None and f.value == 200
    assert [g.id for g in plan.unquantified] == ["output_2025"]
    assert plan.target_years == [] and plan.find("sei_output", role="target") == []


def test_undated_baseline_is_refused(tmp_path):
    text = edit("    year: 2020\n    value: 100\n", "    value: 100\n")
    path = write_plan(tmp_path, text)
    assert_located(load_error(path), path, text, "- id: output_2020", "figures[0]",
                   "a baseline needs its 'year'")


def test_tolerance_without_about_is_refused(tmp_path):
    text = edit_target("    value: 200\n", "    value: 200\n    tolerance: 5\n")
    path = write_plan(tmp_path, text)
    assert_located(load_error(path), path, text, "tolerance: 5", "figures[1].tolerance",
                   "'tolerance' applies to qualifier 'about' only")


def test_tolerance_with_about_is_accepted(tmp_path):
    text = edit_target("    value: 200\n",
                       "    value: 200\n    qualifier: about\n    tolerance: 5\n")
    f = sim.plans.load(write_plan(tmp_path, text)).figure("output_2025")
    assert (f.qualifier, f.tolerance) == ("about", 5)


def test_among_on_a_non_cluster_indicator_is_refused(tmp_path):
    text = edit_target("    value: 200\n", "    value: 200\n    among: [materials]\n")
    path = write_plan(tmp_path, text)
    assert_located(load_error(path), path, text, "among: [materials]", "figures[1].among",
                   "'among' (k of these industries) applies to 'cluster_count'")


CLUSTERS = figure_yaml(id="clusters_2025", indicator="cluster_count", threshold=1000,
                       among="[materials, matrials]", year=2025, value=1, unit="count",
                       role="target", source='{"2022": "s4"}')


def test_unknown_industry_in_among_is_refused_with_file_and_line(tmp_path):
    text = MINIMAL + CLUSTERS
    path = write_plan(tmp_path, text)
    message = assert_located(load_error(path), path, text, "among: [materials, matrials]",
                             "figures[3].among[1]", "unknown industry 'matrials'")
    assert "(did you mean 'materials'?)" in message


def test_among_of_known_industries_loads(tmp_path):
    plan = sim.plans.load(write_plan(tmp_path, MINIMAL + CLUSTERS.replace(", matrials", "")))
    f = plan.figure("clusters_2025")
    assert f.among == ("materials",) and f.threshold == 1000 and f in plan.targets


RANKED = figure_yaml(id="ranked_2025", indicator="ranked_cluster_count", year=2025, value=2,
                     unit="count", role="target", source='{"2022": "s4"}')


def test_ranked_cluster_count_needs_rank(tmp_path):
    text = MINIMAL + RANKED
    path = write_plan(tmp_path, text)
    message = str(load_error(path))
    assert "\n" not in message and message.startswith(f"{path}:")
    assert "figures[3]" in message and "needs 'rank'" in message


def test_ranked_cluster_count_with_rank_loads(tmp_path):
    text = MINIMAL + RANKED.replace("    role: target\n", "    rank: national\n    role: target\n")
    assert sim.plans.load(write_plan(tmp_path, text)).figure("ranked_2025").rank == "national"


def test_rank_on_another_indicator_is_refused(tmp_path):
    text = edit_target("    role: target\n", "    rank: world\n    role: target\n")
    path = write_plan(tmp_path, text)
    assert_located(load_error(path), path, text, "rank: world", "figures[1].rank",
                   "'rank' applies to 'ranked_cluster_count' only")


@pytest.mark.parametrize("section", ["ASSUMED", "n/a", "assumption of the office"])
def test_fake_section_is_refused_pointing_to_assumption(tmp_path, section):
    text = edit_target('source: {"2022": "s3"}', f'source: {{"2022": "{section}"}}')
    path = write_plan(tmp_path, text)
    message = assert_located(load_error(path), path, text, section, "figures[1].source",
                             f"'{section}' is not a section of the plan document")
    assert "'assumption: {by, why}'" in message


def test_source_and_assumption_together_are_refused(tmp_path):
    text = edit_target('    source: {"2022": "s3"}\n',
                       '    assumption: {by: analysts, why: "the plan prints no such number"}\n'
                       '    source: {"2022": "s3"}\n')
    path = write_plan(tmp_path, text)
    assert_located(load_error(path), path, text, 'source: {"2022": "s3"}', "figures[1].source",
                   "needs exactly one of 'source'", occurrence=1)
    assert "got assumption, source" in str(load_error(path))


#: MINIMAL with a second version "2023" (only the items whose source names it are in it).
TWO_VERSIONS = edit('    title: Demo plan\n',
                    '    title: Demo plan\n  "2023":\n    document: other.txt\n    title: Other\n'
                    'default_version: "2022"\n')
OTHER_SOURCES = (
    figure_yaml(id="gdp_2020", indicator="gdp", year=2020, value=900, unit="亿元",
                role="baseline",
                statistic='{publication: "Demo 2020 statistical bulletin", published: "2021-03"}')
    + figure_yaml(id="va_share_assumed_2020", indicator="sei_share_of_industrial_value_added",
                  year=2020, value="[5, 15]", unit='"%"', role="baseline",
                  assumption='{by: test maintainers, why: "nobody publishes this for the demo"}',
                  versions='["2023"]'))


def test_statistic_and_assumption_figures_load_with_their_versions(tmp_path):
    path = write_plan(tmp_path, TWO_VERSIONS + OTHER_SOURCES)
    v2022, v2023 = sim.plans.load(path, "2022"), sim.plans.load(path, "2023")
    # A statistic without `versions` applies to every version ...
    assert v2022.figure("gdp_2020").value == 900 and v2023.figure("gdp_2020").value == 900
    assert v2022.figure("gdp_2020").source_kind == "statistic"
    # ... an assumption listing versions only to those.
    assert "va_share_assumed_2020" in [f.id for f in v2023.figures]
    assert "va_share_assumed_2020" not in [f.id for f in v2022.figures + v2022.unquantified]
    assert [f.id for f in v2023.assumptions] == ["va_share_assumed_2020"]
    assert v2022.assumptions == []
    # Plan figures keep their own versions: the 2023 version has only the other two kinds.
    assert sorted(f.source_kind for f in v2023.figures) == ["assumption", "statistic"]


def test_source_of_statistic_and_assumption(tmp_path):
    plan = sim.plans.load(write_plan(tmp_path, TWO_VERSIONS + OTHER_SOURCES), "2023")
    assert plan.source_of(plan.figure("gdp_2020")) == \
        "statistic: Demo 2020 statistical bulletin (2021-03)"
    assert plan.source_of(plan.figure("va_share_assumed_2020")) == \
        "assumption by test maintainers: nobody publishes this for the demo"


def test_unknown_version_in_versions_is_refused(tmp_path):
    text = TWO_VERSIONS + OTHER_SOURCES.replace('versions: ["2023"]', 'versions: ["2024"]')
    path = write_plan(tmp_path, text)
    assert_located(load_error(path), path, text, 'versions: ["2024"]', "figures[4].versions[0]",
                   "unknown version '2024' (did you mean '2023'?)")


def test_unscored_on_a_baseline_is_refused(tmp_path):
    text = edit("    role: baseline\n", "    role: baseline\n    unscored: only a heading\n")
    path = write_plan(tmp_path, text)
    assert_located(load_error(path), path, text, "- id: output_2020", "figures[0]",
                   "'unscored' applies to targets only")


def test_unscored_target_is_listed_with_its_reason(tmp_path):
    text = edit_target("    role: target\n", "    role: target\n    unscored: only a heading\n")
    plan = sim.plans.load(write_plan(tmp_path, text))
    assert plan.targets == [] and plan.figure("output_2025").unscored == "only a heading"
    assert plan.value("sei_output", year=2025) is None  # never computed with


# 2. Indicator suggestions -------------------------------------------------------------------------
def test_spelling_slip_suggests_the_indicator(tmp_path):
    assert suggest_indicator("industrial_value_aded") == \
        " (did you mean 'industrial_value_added'?)"
    text = edit_target("indicator: sei_output", "indicator: industrial_value_aded")
    path = write_plan(tmp_path, text)
    assert_located(load_error(path), path, text, "industrial_value_aded", "figures[1].indicator",
                   "unknown indicator 'industrial_value_aded' (did you mean "
                   "'industrial_value_added'?)")


def test_industrial_value_added_is_valid_and_not_another_concept(tmp_path):
    assert "industrial_value_added" in INDICATORS
    assert "sei_value_added" not in suggest_indicator("industrial_value_added")
    text = edit_target("indicator: sei_output", "indicator: industrial_value_added")
    f = sim.plans.load(write_plan(tmp_path, text)).figure("output_2025")
    assert f.indicator == "industrial_value_added"


@pytest.mark.parametrize("name", ["industry_value_added_total", "gdp_value_added"])
def test_a_different_concept_gets_no_suggestion(tmp_path, name):
    assert suggest_indicator(name) == ""
    text = edit_target("indicator: sei_output", f"indicator: {name}")
    path = write_plan(tmp_path, text)
    message = assert_located(load_error(path), path, text, name, "figures[1].indicator",
                             f"unknown indicator '{name}'; the vocabulary is listed")
    assert "did you mean" not in message and "sei_value_added" not in message


@pytest.mark.parametrize("indicator", list(INDICATORS))
def test_indicator_units_are_known_and_share_one_canonical_unit(indicator):
    ind = INDICATORS[indicator]
    assert ind.units and all(u in UNIT_FACTORS for u in ind.units)
    assert {UNIT_FACTORS[u][0] for u in ind.units} == {ind.canonical_unit}


# 3. Sizing from industrial value added ------------------------------------------------------------
def test_value_added_sizing_form_is_found(tmp_path):
    sizing = find_sizing(load_va(tmp_path))
    assert sizing.year == 2022
    assert sizing.form == ("industrial_value_added", "sei_share_of_industrial_value_added")
    assert sizing.form in SIZING_FORMS
    assert sizing.values == (1000, 15)  # the middle of the assumed range
    assert sizing.coverage == "all"
    assert "assumption by test maintainers" in sizing.sources[1]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_baseline_sei_share_of_industrial_va_is_the_drawn_share(tmp_path, seed):
    plan = load_va(tmp_path)
    params = ModelParams()
    factors = draw_figure_factors(plan, params, np.random.default_rng(seed))
    drawn = plan.with_factors(factors).figure(SHARE_ID).value
    baseline = build_baseline(plan, with_factors(params, factors))
    assert baseline.industry_coverage == "all"
    assert share_of_industrial_va(baseline) == pytest.approx(drawn, rel=1e-12)
    total_va = (baseline.va_ratio * baseline.sei_industrial_output
                + baseline.nonsei_va_ratio * baseline.nonsei_output)
    assert total_va == pytest.approx(1000, rel=1e-12)


def test_first_simulated_year_starts_at_the_drawn_share(tmp_path):
    plan = load_va(tmp_path)
    factors = draw_figure_factors(plan, ModelParams(), np.random.default_rng(11))
    drawn = plan.with_factors(factors).figure(SHARE_ID).value
    annual = sim.run(plan, 3, params=with_factors(ModelParams(), factors), end_year=2025).annual
    first = annual.iloc[0]
    assert first["year"] == 2022
    assert first["sei_share_of_industrial_value_added"] == pytest.approx(drawn, rel=1e-9)
    assert first["industrial_value_added"] == pytest.approx(1000, rel=1e-9)


def test_range_figure_is_drawn_within_its_bounds(tmp_path):
    plan = load_va(tmp_path)
    params = ModelParams()
    drawn = []
    for seed in range(300):
        factors = draw_figure_factors(plan, params, np.random.default_rng(seed))
        assert set(factors) == {SHARE_ID}  # the exact value-added figure is not drawn
        drawn.append(plan.with_factors(factors).figure(SHARE_ID).value)
    assert 10 <= min(drawn) and max(drawn) <= 20
    # Uniform over [10, 20]: 300 draws all above 11 (or all below 19) has probability 0.9^300.
    assert min(drawn) < 11 and max(drawn) > 19
    assert np.mean(drawn) == pytest.approx(15, abs=1.0)


FOOD_LINE = figure_yaml(id="food_output_2022", indicator="sei_output", scope="industry:food",
                        year=2022, value=300, unit="亿元", role="baseline",
                        source='{"2023": "s2"}')


def test_non_sei_industry_gets_no_firms_even_with_an_output_line(tmp_path):
    plan = load_va(tmp_path, VA_PLAN + FOOD_LINE)
    assert [i.id for i in plan.non_sei_industries] == ["food"]
    baseline = build_baseline(plan, ModelParams())
    assert sorted(baseline.industries) == ["drones", "robots"]
    assert baseline.non_sei_industries == ["food"]
    # SEI output is what the value-added sizing gives, the food line is not added to it.
    assert baseline.sei_industrial_output == pytest.approx(1000 * 0.15 / baseline.va_ratio)
    annual = sim.run(plan, 0, params=ModelParams(), end_year=2024).annual
    assert "sei_output.industry.food" not in annual.columns
    assert "sei_output.industry.robots" in annual.columns


def class_line(industry: str, floor: float) -> str:
    return figure_yaml(id=f"class_{industry}_2022", indicator="cluster_class",
                       scope=f"industry:{industry}", year=2022, value=floor, unit="亿元",
                       qualifier="class", role="baseline", source='{"2023": "s2"}')


def test_a_non_sei_size_class_does_not_change_the_sei_split(tmp_path):
    without = build_baseline(load_va(tmp_path, VA_PLAN + class_line("robots", 100), "a"),
                             ModelParams())
    with_food = build_baseline(load_va(tmp_path, VA_PLAN + class_line("robots", 100)
                                       + class_line("food", 1000), "b"), ModelParams())
    split = dict(zip(without.industries, without.industry_output))
    assert split["drones"] == pytest.approx(50)  # unclassed: half the lowest SEI floor
    assert dict(zip(with_food.industries, with_food.industry_output)) == pytest.approx(split)


def test_plan_whose_only_industrial_industry_is_not_sei_cannot_be_built(tmp_path):
    path = write_va(tmp_path, VA_PLAN.replace("    sei: true\n", "    sei: false\n"))
    plan = sim.plans.load(path)
    assert plan.industrial_industries == []
    with pytest.raises(InputError) as info:
        build_baseline(plan, ModelParams())
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert "flags no industrial industry as SEI (sei: true)" in message


def test_gdp_implied_by_industrial_value_added_and_its_share(tmp_path):
    share = figure_yaml(id="iva_share_gdp_2022", indicator="industrial_value_added_share_gdp",
                        year=2022, value=25, unit='"%"', role="baseline",
                        source='{"2023": "s2"}')
    baseline = build_baseline(load_va(tmp_path, VA_PLAN + share), ModelParams())
    assert baseline.gdp == pytest.approx(4000)  # 1000 at 25% of GDP
    assert any(n.startswith("GDP 2022 4000 implied by industrial_value_added 1000")
               for n in baseline.notes), baseline.notes


def test_gdp_from_a_statistic_figure_in_the_plan_file(tmp_path):
    gdp = figure_yaml(id="gdp_2022", indicator="gdp", year=2022, value=5000, unit="亿元",
                      role="baseline",
                      statistic='{publication: "Demo 2022 bulletin", published: "2023-03"}')
    baseline = build_baseline(load_va(tmp_path, VA_PLAN + gdp), ModelParams())
    assert baseline.gdp == pytest.approx(5000)


# 4. Scoring -------------------------------------------------------------------------------------
def target(value, qualifier="exact", unit="%", indicator="sei_value_added_share_gdp",
           **extra) -> Figure:
    return Figure.model_validate({"id": "t_2025", "indicator": indicator, "year": 2025,
                                  "value": value, "unit": unit, "qualifier": qualifier,
                                  "role": "target", "source": {"v": "s1"}, **extra})


def test_about_is_met_within_the_default_tolerance():
    threshold, rule = scoring_rule(target(13, "about"))
    assert ABOUT_TOLERANCE == 0.05
    assert threshold == pytest.approx(12.35)
    assert "about" in rule and "12.35" in rule


@pytest.mark.parametrize("figure, expected", [
    (target(13, "about", tolerance=1), 12),
    (target([3, 5]), 3),
    (target(13, "more_than"), 13),
    (target(13, "at_least"), 13),
    (target(13), 13),
    # in the figure's unit, converted: about 1 万亿元 within 0.1 万亿元
    (target(1, "about", unit="万亿元", indicator="industrial_value_added", tolerance=0.1), 9000),
    (target(1, "class", unit="万亿元", indicator="industrial_value_added"), 10000),
], ids=["about-tolerance-1", "range", "more-than", "at-least", "exact", "about-other-unit",
        "class"])
def test_scoring_rule_thresholds(figure, expected):
    assert scoring_rule(figure)[0] == pytest.approx(expected)


def test_range_rule_says_low_end():
    assert "low end" in scoring_rule(target([3, 5]))[1]


MEMBERS = ("sei_output.industry.a", "sei_output.industry.b", "sei_output.industry.c")


def k_of_n_spec(threshold: float | None = 2, qualifier="exact") -> TargetSpec:
    return TargetSpec(id="k_of_n", indicator="cluster_count", scope="region", year=2025,
                      threshold=threshold, unit="count", qualifier=qualifier, kind=None,
                      source="doc.txt, s1", column="count of 3 industries at 1000 亿元 or more",
                      members=MEMBERS, member_threshold=1000)


def k_of_n_annual() -> pd.DataFrame:
    """Four replications, 2022 (base) to 2025; members a, b, c against the class floor 1000."""
    levels = {  # replication -> year -> (a, b, c); count in 2025 in the comment
        0: {2022: (1500, 1200, 10), 2023: (1500, 1200, 10), 2024: (1600, 1300, 1000),
            2025: (1700, 1400, 1100)},                 # 3, first met 2023 (base year ignored)
        1: {2022: (900, 900, 900), 2023: (999, 900, 900), 2024: (1000, 900, 900),
            2025: (1000, 1000, 900)},                  # 2 (1000 counts), first met 2025
        2: {2022: (100, 100, 100), 2023: (2000, 2000, 100), 2024: (2000, 900, 100),
            2025: (2000, 900, 100)},                   # 1, met in 2023 only
        3: {2022: (100, 100, 100), 2023: (100, 100, 100), 2024: (100, 100, 100),
            2025: (100, 100, 100)},                    # 0, never
    }
    rows = [{"replication": r, "year": y, **dict(zip(MEMBERS, abc))}
            for r, by_year in levels.items() for y, abc in by_year.items()]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=3)  # row order must not matter


def test_k_of_n_counts_members_at_their_class():
    out = replication_outcomes(k_of_n_annual(), [k_of_n_spec()]).set_index("replication")
    out = out.sort_index()
    assert list(out["value"]) == [3, 2, 1, 0]
    assert out.loc[0, "first_met_year"] == 2023
    assert out.loc[1, "first_met_year"] == 2025
    assert out.loc[2, "first_met_year"] == 2023
    assert math.isnan(out.loc[3, "first_met_year"])


def test_k_of_n_probability_of_meeting():
    spec = k_of_n_spec()
    row = summarize_targets(replication_outcomes(k_of_n_annual(), [spec]), [spec]).iloc[0]
    assert row["replications"] == 4
    assert row["p_met"] == pytest.approx(0.5)  # 3 and 2 reach 2 of 3; 1 and 0 do not
    assert row["median"] == pytest.approx(1.5)


def test_batch_k_of_n_shows_the_count_but_no_probability():
    spec = k_of_n_spec(threshold=None, qualifier="batch")
    assert spec.simulated and not spec.evaluable
    out = replication_outcomes(k_of_n_annual(), [spec])
    assert out["first_met_year"].isna().all()
    row = summarize_targets(out, [spec]).iloc[0]
    assert row["replications"] == 4 and math.isnan(row["p_met"])
    assert row["median"] == pytest.approx(1.5) and row["mean"] == pytest.approx(1.5)


def test_k_of_n_target_spec_from_a_plan(tmp_path):
    k_of_n = figure_yaml(id="clusters_2025", indicator="cluster_count", threshold=100,
                         among="[robots, drones]", year=2025, value=2, unit="count",
                         role="target", source='{"2023": "s3"}')
    plan = load_va(tmp_path, VA_PLAN + k_of_n)
    specs = {s.id: s for s in target_specs(plan, build_baseline(plan, ModelParams()), 2025)}
    spec = specs["clusters_2025"]
    assert spec.evaluable and spec.threshold == 2
    assert spec.members == ("sei_output.industry.robots", "sei_output.industry.drones")
    assert spec.member_threshold == 100
    assert "2 or more of robots, drones at 100" in spec.rule


def test_k_of_n_with_a_non_sei_member_is_not_evaluable(tmp_path):
    k_of_n = figure_yaml(id="clusters_2025", indicator="cluster_count", threshold=100,
                         among="[robots, food]", year=2025, value=1, unit="count",
                         role="target", source='{"2023": "s3"}')
    plan = load_va(tmp_path, VA_PLAN + k_of_n)
    spec = {s.id: s for s in target_specs(plan, build_baseline(plan, ModelParams()),
                                          2025)}["clusters_2025"]
    assert not spec.evaluable and spec.members == ()
    assert "food" in spec.reason and "not flagged SEI" in spec.reason


def test_above_scale_target_is_not_scored_on_a_model_sized_on_all_industry(tmp_path):
    share = figure_yaml(id="share_2025", indicator="sei_output_share", year=2025, value=30,
                        unit='"%"', role="target", source='{"2023": "s3"}')
    plan = load_va(tmp_path, VA_PLAN + share)
    specs = {s.id: s for s in target_specs(plan, build_baseline(plan, ModelParams()), 2025)}
    assert specs["iva_2025"].evaluable and specs["iva_2025"].threshold == 1200
    assert not specs["share_2025"].evaluable
    assert "sized on all industry" in specs["share_2025"].reason


# 5. Target specs of the shipped plans -------------------------------------------------------------
def shipped_specs(region: str, version: str | None = None, end_year: int = 2035) -> dict:
    plan = sim.plans.load(region, version)
    return {s.id: s for s in target_specs(plan, build_baseline(plan, ModelParams()), end_year)}


def test_chongqing_trillion_heading_is_not_evaluable():
    spec = shipped_specs("chongqing", "001", 2025)["sei_output_2025"]
    assert not spec.evaluable and spec.threshold is None and spec.column is None
    assert "heading" in spec.reason


def test_chongqing_000_all_sei_share_is_not_evaluable():
    spec = shipped_specs("chongqing", "000", 2025)["va_share_gdp_2025"]
    assert not spec.evaluable and spec.column is None
    assert "every size" in spec.reason


def test_chongqing_001_about_13_percent_is_scored_at_12_35():
    spec = shipped_specs("chongqing", "001", 2025)["va_share_gdp_2025"]
    assert spec.evaluable and spec.column == "sei_value_added_share_gdp"
    assert spec.threshold == pytest.approx(12.35)
    assert "about 13" in spec.rule


def test_chongqing_several_clusters_are_simulated_counts_without_a_level():
    spec = shipped_specs("chongqing", "001", 2025)["thousand_yi_clusters_2025"]
    assert spec.simulated and not spec.evaluable
    assert len(spec.members) == 7 and spec.member_threshold == 1000
    assert "unquantified" in spec.reason


def test_chengdu_stage_targets_are_scored_on_industrial_value_added():
    specs = shipped_specs("chengdu")
    for year, threshold in ((2025, 6000), (2030, 8500), (2035, 10000)):
        spec = specs[f"industrial_value_added_{year}"]
        assert spec.evaluable, spec
        assert (spec.year, spec.column) == (year, "industrial_value_added")
        assert spec.threshold == pytest.approx(threshold)


def test_chengdu_undated_targets_are_listed_as_undated():
    specs = shipped_specs("chengdu")
    undated = [s for s in specs.values() if s.year is None]
    assert {s.id for s in undated} == {
        "ranked_cluster_count_world_sei_undated", "ranked_cluster_count_national_equipment_undated",
        "little_giant_count_undated", "single_champion_count_undated",
        "green_factory_count_undated", "functional_zone_count_undated"}
    for s in undated:
        assert not s.evaluable and "undated" in s.reason, s


# 6. Plan check ------------------------------------------------------------------------------------
def test_check_chengdu_is_simulable_and_lists_its_assumption():
    check = check_plan(sim.plans.load("chengdu"))
    assert check.simulable and check.base_year == 2022 and check.missing == []
    assert any(a.startswith("sei_va_share_assumed_2022 = 5-15 %") for a in check.assumptions)
    assert any("industrial_value_added_2025 (2025): scored on `industrial_value_added` at 6000"
               in t for t in check.targets)
    assert any("industry covered: all industry" in b for b in check.basis)


def test_check_plan_without_baselines_names_forms_and_source_kinds(tmp_path):
    check = check_plan(load_va(tmp_path, TARGETS_ONLY))
    assert not check.simulable and check.base_year is None
    text = " ".join(check.missing)
    for form in SIZING_FORMS:
        assert " + ".join(form) in text, form
    for kind in ("`source`", "`statistic: {publication, published}`", "`assumption: {by, why}`"):
        assert kind in text, kind
    assert "none of these figures" in text


def test_check_plan_without_targets_says_so(tmp_path):
    check = check_plan(load_va(tmp_path, VA_PLAN.split("  - id: iva_2025")[0]))
    assert any("targets" in m for m in check.missing), check.missing


def test_cli_plan_check_simulable_exits_0(capsys):
    code, out, err = cli(capsys, "plan", "check", "chengdu")
    assert code == 0 and err == ""
    assert out.splitlines()[0] == "chengdu (2023): can be simulated from base year 2022"
    assert "assumptions the results rest on:" in out and "sei_va_share_assumed_2022" in out


def test_cli_plan_check_unsimulable_exits_1(tmp_path, capsys):
    code, out, err = cli(capsys, "plan", "check", write_va(tmp_path, TARGETS_ONLY))
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert lines[0] == "vademo (2023): cannot be simulated"
    assert "missing:" in lines and "industrial_value_added + sei_share_of_industrial_value_added" \
        in out


# 7. Unsimulable plans in run / mc / calibrate -----------------------------------------------------
def unsimulable_command(tmp_path: Path, command: str) -> list:
    plan = write_va(tmp_path, TARGETS_ONLY)
    if command == "calibrate":
        spec = tmp_path / "calibrate.yaml"
        spec.write_text(f"""\
name: vademo-unsimulable
region: {plan}
start_year: 2022
moments:
  - {{figure: iva_2025, tolerance: 0.05}}
free:
  economy.nonsei_growth: {{low: -0.1, high: 0.2, start: 0.05}}
replications: 2
bootstrap: 0
max_evaluations: 10
""", encoding="utf-8")
        return ["calibrate", spec, "--out", tmp_path / "calibration"]
    scenario = tmp_path / "unsimulable.yaml"
    scenario.write_text(f"name: unsimulable\nregion: {plan}\nparameters: builtin\n",
                        encoding="utf-8")
    if command == "run":
        return ["run", scenario, "--seed", "1"]
    return ["mc", scenario, "-n", "2", *FAST, "--no-plots", "--out", tmp_path / "run"]


@pytest.mark.parametrize("command", ["run", "mc", "calibrate"])
def test_unsimulable_plan_is_one_line_error(tmp_path, capsys, command):
    code, out, err = cli(capsys, *unsimulable_command(tmp_path, command))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("seisim: error: "), err
    assert "Traceback" not in err
    assert "vademo" in err and "seisim plan check" in err


# 8. Chengdu end to end ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chengdu_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("chengdu") / "run"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["mc", str(ROOT / "scenarios" / "chengdu-baseline.yaml"), "-n", "40", *FAST,
                     "--no-plots", "--out", str(out)])
    return {"code": code, "out": out, "stdout": stdout.getvalue()}


def test_chengdu_monte_carlo_scores_the_three_stages(chengdu_run):
    assert chengdu_run["code"] == 0
    targets = pd.read_csv(chengdu_run["out"] / "targets.csv").set_index("target")
    for year, threshold in ((2025, 6000), (2030, 8500), (2035, 10000)):
        row = targets.loc[f"industrial_value_added_{year}"]
        assert row["year"] == year and row["threshold"] == threshold
        assert row["replications"] == 40
        assert 0 <= row["p_met"] <= 1, row
        assert row["ci_low"] <= row["p_met"] <= row["ci_high"]


def test_chengdu_report_lists_undated_targets_as_not_evaluated(chengdu_run):
    report = (chengdu_run["out"] / "report.md").read_text(encoding="utf-8")
    undated = [s.id for s in shipped_specs("chengdu").values() if s.year is None]
    assert len(undated) == 6
    group = report.index("**Targets not evaluated (with the reason)**")
    for target_id in undated:
        row = next(line for line in report.splitlines() if line.endswith(f"| `{target_id}` |"))
        assert "| undated |" in row and "| the plan gives no year |" in row, row
        assert report.index(row) > group
    assert "ranked_cluster_count_world_sei_undated" in chengdu_run["stdout"]


def test_chengdu_report_lists_the_assumption_it_rests_on(chengdu_run):
    report = (chengdu_run["out"] / "report.md").read_text(encoding="utf-8")
    assert "Assumptions the results rest on" in report
    line = next(line for line in report.splitlines() if "(`sei_va_share_assumed_2022`)" in line)
    assert line.startswith("- SEI share of industrial value added 2022 = 5.0%-15.0% (drawn")
    assert "; assumed by seisim data maintainers: " in line


def test_an_edited_statistics_file_resizes_the_next_baseline(tmp_path):
    """A base year sized from the region's statistics file follows an edit of that file in the
    same session, although the base year's structure is kept between parameter draws."""
    import os

    sized_by_statistics = VA_PLAN.split("  - id: sei_va_share_2022")[0] + VA_TARGET
    plan = load_va(tmp_path, sized_by_statistics)
    folder = tmp_path / "plan" / "statistics"
    folder.mkdir()
    path = folder / "vademo.yaml"

    def publish(share: float) -> None:
        path.write_text(
            "format: seisim-statistics/1\nregion: vademo\nstatistics:\n"
            "  - id: va_share_2022\n    measure: sei_share_of_industrial_value_added\n"
            f"    year: 2022\n    value: {share}\n    unit: \"%\"\n"
            "    source: \"Demo bulletin 2022\"\n    published: 2023-03\n", encoding="utf-8")
        stamp = path.stat().st_mtime_ns + 10**9 * publish.edits  # a clearly later edit
        os.utime(path, ns=(stamp, stamp))
        publish.edits += 1

    publish.edits = 0
    publish(15.0)
    first = build_baseline(plan, ModelParams())
    assert share_of_industrial_va(first) == pytest.approx(15.0, rel=1e-12)
    publish(12.0)
    second = build_baseline(plan, ModelParams())
    assert share_of_industrial_va(second) == pytest.approx(12.0, rel=1e-12)
    assert second.sei_industrial_output < first.sei_industrial_output

"""The plan audit on the shipped plans (with the numbers a reader can redo by hand) and on small
synthetic plans for the cases the shipped plans do not trigger."""

from __future__ import annotations

import json

from pathlib import Path

import pytest

import sim.plans
from sim.errors import InputError
from sim.plans.audit import CHECKS, AuditReport, Finding, audit_plan


@pytest.fixture(scope="module")
def fuling() -> AuditReport:
    return sim.plans.audit(sim.plans.load("fuling"))


@pytest.fixture(scope="module")
def cq001() -> AuditReport:
    return sim.plans.audit(sim.plans.load("chongqing", "001"))


@pytest.fixture(scope="module")
def cq000() -> AuditReport:
    return sim.plans.audit(sim.plans.load("chongqing", "000"))


def one(findings: list[Finding], **numbers) -> Finding:
    """The single finding whose numbers include ``numbers`` (approximately)."""
    hits = [f for f in findings
            if all(k in f.numbers and f.numbers[k] == pytest.approx(v) for k, v in numbers.items())]
    assert len(hits) == 1, [f.title for f in findings]
    return hits[0]


def test_audit_is_reexported_and_compares_versions(cq001):
    assert sim.plans.audit is not sim.plans.audit_plan and callable(sim.plans.audit)
    assert isinstance(cq001, AuditReport)
    assert (cq001.region, cq001.version, cq001.compared_with) == ("chongqing", "001", ("000",))
    assert {f.check for f in cq001} <= set(CHECKS)
    assert {f.severity for f in cq001} <= {"info", "warning", "error"}


# Sums ------------------------------------------------------------------------------------------
def test_fuling_2021_industry_lines_vs_both_totals(fuling):
    sums = fuling.select(check="sum", indicator="sei_output", year=2021)
    industry = [f for f in sums if f.title.startswith("Industry")]
    assert len(industry) == 2  # one per printed total: 666 (table) and 666.2 (text)
    text = one(industry, total=666.2)
    assert text.severity == "warning"
    assert text.numbers["sum"] == 665 and text.numbers["diff"] == pytest.approx(-1.2)
    assert text.arithmetic.startswith("300 + 50 + 120 + 110 + 30 + 45 + 10 = 665 vs total 666.2")
    assert "(diff -1.2, -0.18%)" in text.arithmetic
    assert "002_51c201e4551c2db9.txt, 表1 主要发展目标" in text.sources
    assert "002_51c201e4551c2db9.txt, 一、（一）发展基础" in text.sources
    table = one(industry, total=666)
    assert table.numbers["diff"] == -1 and "(diff -1, -0.15%)" in table.arithmetic


def test_fuling_2026_lines_sum_exactly(fuling):
    for kind in ("Industry", "Park"):
        [f] = [f for f in fuling.select(check="sum", year=2026) if f.title.startswith(kind)]
        assert f.severity == "info" and "consistent" in f.title
        assert f.numbers["sum"] == 1400 and f.numbers["diff"] == 0
    [parks] = [f for f in fuling.select(check="sum", year=2026) if f.title.startswith("Park")]
    assert parks.arithmetic.startswith("600 + 200 + 600 = 1400 = total 1400")


def test_fuling_2021_parks_gap(fuling):
    parks = [f for f in fuling.select(check="sum", year=2021) if f.title.startswith("Park")]
    gap = one(parks, total=666.2)
    assert gap.severity == "warning"
    assert gap.numbers["sum"] == pytest.approx(661.55)
    assert gap.numbers["diff"] == pytest.approx(-4.65)
    assert gap.numbers["park:baitao"] == 306.58


# Implied totals --------------------------------------------------------------------------------
@pytest.mark.parametrize("report, year, level, total", [
    ("cq001", 2015, 4000, 4000 / 0.187),
    ("cq001", 2020, 7600, 23_750),
    ("cq000", 2020, 7600, 23_750),
    ("fuling", 2021, 666.2, 666.2 / 0.295),
    ("fuling", 2026, 1400, 3_500),
])
def test_implied_industrial_output(request, report, year, level, total):
    report = request.getfixturevalue(report)
    found = one(report.select(check="implied_total", indicator="sei_output_share", year=year),
                level=level)
    assert found.numbers["implied_total"] == pytest.approx(total)
    assert found.numbers["implied_rest"] == pytest.approx(total - level)


def test_implied_values_headline(cq001, fuling):
    cq2015 = one(cq001.select(check="implied_total", year=2015), level=4000)
    assert round(cq2015.numbers["implied_total"]) == 21_390
    fl2021 = one(fuling.select(check="implied_total", year=2021), level=666.2)
    assert round(fl2021.numbers["implied_total"]) == 2_258


def test_implied_gdp_chongqing_2020(cq001, cq000):
    gdp = one(cq001.select(check="implied_total", indicator="sei_value_added_share_gdp"),
              level=2300)
    assert gdp.numbers["implied_total"] == pytest.approx(2300 / 0.095)
    assert round(gdp.numbers["implied_total"]) == 24_211
    assert ">2300 / 9.5%" in gdp.arithmetic  # the 'more than' qualifier is shown
    # Version 000 does not state the 2020 share, so it implies no GDP.
    assert not cq000.select(check="implied_total", indicator="sei_value_added_share_gdp")


def test_implied_total_growth(fuling, cq001):
    fl = one(fuling.select(check="implied_total"), implied_total_start=666.2 / 0.295)
    assert fl.numbers["cagr"] == pytest.approx(100 * ((3500 / (666.2 / 0.295)) ** 0.2 - 1))
    rest_2021 = 666.2 / 0.295 - 666.2
    assert fl.numbers["rest_cagr"] == pytest.approx(100 * ((2100 / rest_2021) ** 0.2 - 1))
    assert fl.numbers["implied_rest_end"] == pytest.approx(2100)
    cq = one(cq001.select(check="implied_total"), implied_total_end=23_750)
    assert cq.numbers["implied_total_start"] == pytest.approx(4000 / 0.187)
    assert cq.numbers["rest_cagr"] < 0  # non-SEI industrial output implied to shrink 2015-2020


# Required growth -------------------------------------------------------------------------------
def test_unscored_heading_gets_no_required_growth(cq001):
    # The plan's "trillion-yuan" heading names no measure: it is listed with its reason, and no
    # growth requirement is computed from it.
    assert not cq001.select(check="required_cagr", indicator="sei_output")
    listed = [f for f in cq001.select(check="coverage") if "sei_output_2025" in f.figures]
    assert listed and "not a measured target" in listed[0].arithmetic + listed[0].title


def test_required_cagr_chongqing_share(cq001):
    found = one(cq001.select(check="required_cagr", indicator="sei_output_share"), baseline=32)
    assert found.numbers["target"] == pytest.approx(35)


def test_required_cagr_fuling_uses_one_year_growth(fuling):
    found = one(fuling.select(check="required_cagr", indicator="sei_output"), baseline=666.2)
    assert found.numbers["required_cagr"] == pytest.approx(100 * ((1400 / 666.2) ** 0.2 - 1))
    assert found.numbers["historical_cagr"] == pytest.approx(42.5)
    assert "growth in 2021 = 42.5% (one year)" in found.arithmetic


def test_required_cagr_industry_and_park_targets(fuling):
    nm = one(fuling.select(check="required_cagr"), baseline=300, target=750)
    assert nm.numbers["required_cagr"] == pytest.approx(100 * (2.5 ** 0.2 - 1))
    park = one(fuling.select(check="required_cagr"), baseline=75.08)
    assert park.numbers["target"] == 200
    firms = one(fuling.select(check="required_cagr", indicator="sei_firm_count"), baseline=52)
    assert firms.numbers["required_cagr"] == pytest.approx(100 * ((200 / 52) ** 0.2 - 1))


def test_required_share_change(fuling, cq001):
    fl = one(fuling.select(check="required_cagr", indicator="sei_output_share"), baseline=29.5)
    assert fl.numbers["required_pp_per_year"] == pytest.approx(2.1)
    assert fl.numbers["historical_pp_per_year"] == pytest.approx(2.9)
    cq = one(cq001.select(check="required_cagr", indicator="sei_output_share"), baseline=32)
    assert cq.numbers["required_pp_per_year"] == pytest.approx(0.6)
    assert cq.numbers["historical_pp_per_year"] == pytest.approx((32 - 18.7) / 5)
    va = one(cq001.select(check="required_cagr", indicator="sei_value_added_share_gdp"),
             baseline=9.5)
    assert va.numbers["required_pp_per_year"] == pytest.approx(0.7)


# Version differences ---------------------------------------------------------------------------
def test_version_differences_in_figures(cq001):
    diffs = cq001.select(check="version_difference", severity="warning")
    va = one(diffs, value=13, other_value=18)
    assert va.indicator == "sei_value_added_share_gdp" and va.year == 2025
    assert va.arithmetic == "001: ~13% vs 000: >18% (diff -5, -27.78%)"
    assert va.sources == ("001_47939a72131e0a6e.txt, 二、（三）发展目标",
                          "000_2440ad4a6fe4982f.txt, 二、(三)发展目标")
    assert one(diffs, value=130, other_value=260).indicator == "fund_invested"
    assert one(diffs, value=1300, other_value=1200).indicator == "fund_co_investment"
    assert len(diffs) == 3


def test_version_differences_seen_from_the_other_version(cq000):
    diffs = cq000.select(check="version_difference", severity="warning")
    assert one(diffs, value=18, other_value=13).numbers["diff"] == 5
    assert one(diffs, value=260, other_value=130).numbers["diff"] == 130


def test_qualifier_differences_are_info(cq001):
    firms = one(cq001.select(check="version_difference", indicator="sei_firm_count"), value=1500)
    assert firms.severity == "info" and "(exact)" in firms.arithmetic
    assert "(at_least)" in firms.arithmetic


def test_items_in_one_version_only(cq001):
    titles = [f.title for f in cq001.select(check="version_difference", severity="info")]
    assert "industry quantum_information only in version 000 (001 vs 000)" in titles
    assert any(t.startswith("park liangjiang only in version 001") for t in titles)
    assert any(t.startswith("figure va_share_gdp_2020 only in version 001") for t in titles)


def test_explicit_others(fuling):
    plan = sim.plans.load("chongqing", "001")
    alone = audit_plan(plan, others=[])
    assert alone.compared_with == () and not alone.select(check="version_difference")
    with pytest.raises(InputError, match="another region"):
        audit_plan(plan, others=[sim.plans.load("fuling")])
    assert fuling.compared_with == ()  # a single-version plan compares with nothing


# Definitions and consistency -------------------------------------------------------------------
def test_services_in_industrial_share_warning(tmp_path, fuling):
    # Fuling's data count its producer-services line as industry (the plan's table puts it inside
    # the industrial total), so no warning; a plan that calls the same line services gets one.
    assert not fuling.select(check="definition", severity="warning")
    text = Path("seeds/fuling.yaml").read_text(encoding="utf-8")
    marked = text.replace("    sector: industry\n    sei: true\n    group: services",
                          "    sector: services\n    sei: true\n    group: services")
    assert marked != text
    (tmp_path / "fuling.yaml").write_text(marked, encoding="utf-8")
    report = sim.plans.audit(sim.plans.load(tmp_path / "fuling.yaml"))
    defs = report.select(check="definition", severity="warning")
    assert {f.year for f in defs} == {2021, 2026}
    f2026 = one(defs, services=30)
    assert f2026.numbers["total"] == 1400 and f2026.numbers["total_without_services"] == 1370
    assert f2026.numbers["implied_industrial_output"] == pytest.approx(3500)
    assert f2026.numbers["share_without_services"] == pytest.approx(1370 / 35)
    assert "emerging_services" in f2026.title
    f2021 = one(defs, services=10)
    assert f2021.numbers["total"] == 666.2
    assert f2021.numbers["share_without_services"] == pytest.approx(29.5 * 656.2 / 666.2)


def test_value_added_ratio(fuling, cq001):
    ratios = fuling.select(check="definition", indicator="sei_value_added")
    assert [f.severity for f in ratios] == ["info", "info"]
    assert one(ratios, output=1400).numbers["ratio_pct"] == pytest.approx(300 / 14)
    assert one(cq001.select(check="definition"), output=7600).numbers["ratio_pct"] == \
        pytest.approx(2300 / 76)


def test_figures_printed_twice(fuling):
    found = fuling.select(check="consistency")
    output = one(found, sei_output_2021=666, sei_output_2021_text=666.2)
    assert output.severity == "info" and "rounding" in output.title
    va = one(found, sei_value_added_2021=204, sei_value_added_2021_text=204.4)
    assert va.severity == "info"
    cluster = one(found, cluster_class_biomedicine_2026=100)
    assert cluster.severity == "warning" and cluster.numbers["spread"] == 100


# Report views ----------------------------------------------------------------------------------
def test_to_dict_is_json(fuling):
    data = json.loads(json.dumps(fuling.to_dict(), ensure_ascii=False))
    assert data["region"] == "fuling" and len(data["findings"]) == len(fuling)
    assert data["counts"]["warning"] == len(fuling.select(severity="warning"))
    first = data["findings"][0]
    assert set(first) >= {"check", "severity", "title", "arithmetic", "numbers", "sources"}


def test_to_frame(cq001):
    frame = cq001.to_frame()
    assert len(frame) == len(cq001)
    assert {"check", "severity", "title", "arithmetic", "numbers", "sources"} <= set(frame.columns)
    assert (frame["version"] == "001").all()


def test_to_text_groups_by_check(fuling):
    text = fuling.to_text()
    headings = [line for line in text.splitlines() if line.startswith("== ")]
    assert headings == [f"== {CHECKS[c]} ({c}) ==" for c in CHECKS
                        if fuling.select(check=c)]
    assert "300 + 50 + 120 + 110 + 30 + 45 + 10 = 665 vs total 666.2" in text
    assert "source: 002_51c201e4551c2db9.txt, 表1 主要发展目标" in text
    assert str(fuling) == text


# Synthetic plans -------------------------------------------------------------------------------
SYNTHETIC = """\
format: seisim-plan/1
region: synth
name: 合成
name_en: Synthetic
versions:
  a: {document: a.txt, title: Version A}
  b: {document: b.txt, title: Version B}
default_version: a
industries:
  - {id: widgets, name: 器件, name_en: Widgets, sector: industry, sei: true, source: {a: s, b: s}}
figures:
  - {id: out_2018, indicator: sei_output, year: 2018, value: 100, unit: 亿元, role: baseline,
     source: {a: s, b: s}}
  - {id: out_2020, indicator: sei_output, year: 2020, value: 110, unit: 亿元, role: baseline,
     source: {a: s, b: s}}
  - {id: va_2020, indicator: sei_value_added, year: 2020, value: 120, unit: 亿元, role: baseline,
     source: {a: s}}
  - {id: out_2025, indicator: sei_output, year: 2025, value: 2, unit: 万元, role: target,
     source: {a: s}}
  - {id: out_2025, indicator: sei_output, year: 2025, value: 200, unit: 亿元, role: target,
     source: {b: s}}
"""


@pytest.fixture
def synth(tmp_path):
    path = tmp_path / "synth.yaml"
    path.write_text(SYNTHETIC, encoding="utf-8")
    return path


def test_target_faster_than_history_is_a_warning(synth):
    report = sim.plans.audit(sim.plans.load(synth, "b"))
    found = one(report.select(check="required_cagr"), baseline=110)
    assert found.severity == "warning"
    assert found.numbers["historical_cagr"] == pytest.approx(100 * (1.1 ** 0.5 - 1))


def test_value_added_above_output_is_an_error(synth):
    report = sim.plans.audit(sim.plans.load(synth, "a"))
    [error] = report.select(severity="error")
    assert error.check == "definition" and error.numbers["ratio_pct"] == pytest.approx(120 / 1.1)


def test_other_versions_found_for_a_plan_loaded_from_a_path(synth):
    report = sim.plans.audit(sim.plans.load(synth))
    assert report.compared_with == ("b",)
    diff = one(report.select(check="version_difference"), value=2e-4)  # 2 万元 in canonical 亿元
    assert diff.numbers["other_value"] == 200
    assert any(f.title.startswith("figure va_2020 only in version a")
               for f in report.select(check="version_difference"))


# New checks on small plans ---------------------------------------------------------------------
HEADER = """\
format: seisim-plan/1
region: demo
name: 示例
name_en: Demo
versions:
  "1": {document: demo.txt, title: Demo plan}
industries:
  - {id: chips, name: 芯片, name_en: Chips, sector: industry, sei: true, source: {"1": s}}
  - {id: drugs, name: 医药, name_en: Drugs, sector: industry, sei: true, source: {"1": s}}
  - {id: food, name: 食品, name_en: Food, sector: industry, sei: false, source: {"1": s}}
"""
SERVICES = """\
  - {id: software, name: 软件, name_en: Software, sector: services, sei: true, source: {"1": s}}
"""


def fig(id, indicator, year, value, unit="亿元", role="baseline", **extra) -> str:
    """One figure line of a plan file, printed in section 's' unless ``extra`` says otherwise."""
    fields = {"id": id, "indicator": indicator, "year": year, "value": value, "unit": unit,
              "role": role, **extra}
    if not {"source", "statistic", "assumption"} & set(extra):
        fields["source"] = {"1": "s"}
    if value is None:
        del fields["value"]
    if year is None:
        del fields["year"]
    return "  - " + json.dumps(fields, ensure_ascii=False) + "\n"


def demo_plan(tmp_path, *figures: str, statistics: str | None = None, services: bool = False,
              name: str = "p"):
    """Write a demo plan (and its statistics file beside it) and load it."""
    folder = tmp_path / name
    folder.mkdir()
    text = HEADER + (SERVICES if services else "") + "figures:\n" + "".join(figures)
    (folder / "demo.yaml").write_text(text, encoding="utf-8")
    if statistics is not None:
        (folder / "statistics").mkdir()
        (folder / "statistics" / "demo.yaml").write_text(
            "format: seisim-statistics/1\nregion: demo\nstatistics:\n" + statistics,
            encoding="utf-8")
    return sim.plans.load(folder / "demo.yaml")


BASE_2020 = fig("va_2020", "sei_value_added", 2020, 8000)
CLUSTERS_2025 = (fig("clusters_10000_2025", "cluster_count", 2025, 4, "count", "target",
                     threshold=10000)
                 + fig("clusters_5000_2025", "cluster_count", 2025, 4, "count", "target",
                       threshold=5000))


def test_class_floors_above_value_added_total_is_a_warning(tmp_path):
    # 4 clusters of the 10000 class and 4 of the 5000 class need 60000 亿元; value added 16000.
    plan = demo_plan(tmp_path, BASE_2020, CLUSTERS_2025,
                     fig("va_2025", "sei_value_added", 2025, 16000, role="target"))
    report = audit_plan(plan, others=[])
    [found] = report.select(check="class_total")
    assert found.severity == "warning" and found.year == 2025
    assert found.indicator == "sei_value_added"
    assert found.numbers["floor_sum"] == 60000 and found.numbers["total"] == 16000
    assert found.numbers["max_value_added_ratio_pct"] == pytest.approx(100 * 16000 / 60000)
    assert "4 x 10000 + 4 x 5000 = 60000 亿元 at least" in found.arithmetic
    assert "16000 / 60000 = 26.67%" in found.arithmetic
    assert set(found.figures) == {"clusters_10000_2025", "clusters_5000_2025", "va_2025"}
    assert found.sources == ("demo.txt, s",)


def test_class_floors_above_output_total_is_an_error(tmp_path):
    plan = demo_plan(tmp_path, BASE_2020, CLUSTERS_2025,
                     fig("va_2025", "sei_value_added", 2025, 16000, role="target"),
                     fig("out_2025", "sei_output", 2025, 50000, role="target"))
    found = audit_plan(plan, others=[]).select(check="class_total")
    error = one(found, total=50000)
    assert error.severity == "error" and error.numbers["diff"] == 10000
    # No output total holds the floors, so the value-added finding stays a warning.
    assert one(found, total=16000).severity == "warning"
    # With an SEI services industry some counted clusters may be services, outside SEI output.
    plan = demo_plan(tmp_path, BASE_2020, CLUSTERS_2025,
                     fig("out_2025", "sei_output", 2025, 50000, role="target"), services=True,
                     name="with_services")
    [found] = audit_plan(plan, others=[]).select(check="class_total")
    assert found.severity == "warning" and "may be services" in found.arithmetic


def test_class_floors_held_by_output_total(tmp_path):
    plan = demo_plan(tmp_path, BASE_2020, CLUSTERS_2025,
                     fig("va_2025", "sei_value_added", 2025, 16000, role="target"),
                     fig("out_2025", "sei_output", 2025, 70000, role="target"))
    found = audit_plan(plan, others=[]).select(check="class_total")
    assert [f.severity for f in found] == ["info", "info"]
    assert one(found, total=70000).numbers["left"] == 10000
    held = one(found, total=16000)
    assert "sei_output 70000 亿元 of the same year holds them" in held.arithmetic


def test_industry_classes_vs_totals(tmp_path):
    # Classes count for the totals that hold their industry: services not in output, non-SEI
    # industries not in SEI totals; an industry with two classes counts with the lower one.
    plan = demo_plan(
        tmp_path, BASE_2020,
        fig("class_chips", "cluster_class", 2025, 1000, role="target", qualifier="class",
            scope="industry:chips"),
        fig("class_chips_text", "cluster_class", 2025, 2000, role="target", qualifier="class",
            scope="industry:chips"),
        fig("class_drugs", "cluster_class", 2025, 500, role="target", qualifier="class",
            scope="industry:drugs"),
        fig("class_food", "cluster_class", 2025, 5000, role="target", qualifier="class",
            scope="industry:food"),
        fig("class_software", "cluster_class", 2025, 1000, role="target", qualifier="class",
            scope="industry:software"),
        fig("out_2025", "sei_output", 2025, 1200, role="target"),
        fig("ind_out_2025", "industrial_output", 2025, 9000, role="target"), services=True)
    found = audit_plan(plan, others=[]).select(check="class_total")
    sei = one(found, total=1200)
    assert sei.severity == "error" and sei.numbers["floor_sum"] == 1500  # chips 1000 + drugs 500
    assert "an industry given two classes counts with the lower one" in sei.arithmetic
    whole = one(found, total=9000)
    assert whole.severity == "info" and whole.numbers["floor_sum"] == 6500  # + food, no software


STATS_2022 = ("  - {id: gdp_2022, measure: gdp, year: 2022, value: 20817.5, unit: 亿元, "
              "source: Demo 2022 statistical bulletin, published: 2023-03}\n")
IVA_2022 = (fig("iva_2022", "industrial_value_added", 2022, 5067)
            + fig("iva_share_2022", "industrial_value_added_share_gdp", 2022, 24.3, "%"))


def test_floor_pair_with_published_gdp(tmp_path):
    # More than 1400 and more than 7% of GDP bound GDP on neither side; with GDP 20817.5 the share
    # means the turnover is above 0.07 x 20817.5 = 1457.2.
    plan = demo_plan(
        tmp_path,
        fig("tct_2022", "tech_contract_turnover", 2022, 1400, qualifier="more_than"),
        fig("tct_share_2022", "tech_contract_turnover_share_gdp", 2022, 7, "%",
            qualifier="more_than"),
        statistics=STATS_2022)
    [found] = audit_plan(plan, others=[]).select(check="implied_denominator")
    assert found.severity == "info" and found.indicator == "gdp" and found.year == 2022
    assert found.numbers["reference"] == 20817.5
    assert found.numbers["implied_amount"] == pytest.approx(1457.225)
    assert found.numbers["implied_share"] == pytest.approx(100 * 1400 / 20817.5)
    assert "tech_contract_turnover above 1457.2" in found.title
    assert ">7% x 20817.5 / 100 = 1457.2" in found.arithmetic
    assert "statistic: Demo 2022 statistical bulletin (2023-03)" in found.sources
    assert found.figures == ("tct_2022", "tct_share_2022", "statistic:gdp_2022")


def test_consistent_amount_share_pair_gives_no_warning(tmp_path):
    # 5067 / 24.3% = 20851.85; anything printed as 5067 and 24.3% allows 20807-20897, which holds
    # the published 20817.5 and the plan's own 20817.5.
    plan = demo_plan(tmp_path, IVA_2022, fig("gdp_2022", "gdp", 2022, 20817.5),
                     fig("iva_2025", "industrial_value_added", 2025, 6000, role="target"),
                     statistics=STATS_2022)
    found = audit_plan(plan, others=[]).select(check="implied_denominator")
    assert len(found) == 2 and {f.severity for f in found} == {"info"}
    for f in found:
        assert "consistent within rounding" in f.title
        assert f.numbers["implied"] == pytest.approx(5067 / 0.243)
        assert f.numbers["implied_low"] == pytest.approx(5066.5 / 0.2435)
        assert f.numbers["reference"] == 20817.5
    assert not [f for f in audit_plan(plan, others=[]).select(severity="warning")
                if f.check != "coverage"]


def test_inconsistent_amount_share_pair_is_a_warning(tmp_path):
    plan = demo_plan(tmp_path, IVA_2022, fig("gdp_2022", "gdp", 2022, 25000))
    [found] = audit_plan(plan, others=[]).select(check="implied_denominator")
    assert found.severity == "warning" and "inconsistent" in found.title
    assert found.numbers["diff_pct"] == pytest.approx(100 * (5067 / 0.243 - 25000) / 25000)
    assert found.figures == ("iva_2022", "iva_share_2022", "gdp_2022")


def test_two_pairs_imply_different_gdp(tmp_path):
    # GDP from industrial value added (20852) against GDP from technology contracts (14000).
    plan = demo_plan(tmp_path, IVA_2022,
                     fig("tct_2022", "tech_contract_turnover", 2022, 1400),
                     fig("tct_share_2022", "tech_contract_turnover_share_gdp", 2022, 10, "%"))
    [found] = audit_plan(plan, others=[]).select(check="implied_denominator")
    assert found.severity == "warning"
    assert found.numbers["implied"] == pytest.approx(14000)
    assert found.numbers["reference"] == pytest.approx(5067 / 0.243)


def test_target_pairs_are_not_compared_with_statistics(tmp_path):
    plan = demo_plan(
        tmp_path, fig("iva_2020", "industrial_value_added", 2020, 4000),
        fig("iva_2022", "industrial_value_added", 2022, 5067, role="target"),
        fig("iva_share_2022", "industrial_value_added_share_gdp", 2022, 30, "%", role="target"),
        statistics=STATS_2022)
    [found] = audit_plan(plan, others=[]).select(check="implied_denominator")
    assert found.severity == "info" and found.title.startswith("Implied gdp 2022: 16890")


def test_stage_pace_of_a_long_plan(tmp_path):
    plan = demo_plan(
        tmp_path, fig("iva_2022", "industrial_value_added", 2022, 5067),
        fig("iva_2025", "industrial_value_added", 2025, 6000, role="target",
            qualifier="more_than"),
        fig("iva_2030", "industrial_value_added", 2030, 8500, role="target",
            qualifier="more_than"),
        fig("iva_2035", "industrial_value_added", 2035, 10000, role="target",
            qualifier="at_least"))
    [found] = audit_plan(plan, others=[]).select(check="stage_pace")
    assert found.severity == "info" and found.year == 2035
    assert found.numbers == pytest.approx({
        "pace_2022_2025": 100 * ((6000 / 5067) ** (1 / 3) - 1),
        "pace_2025_2030": 100 * ((8500 / 6000) ** (1 / 5) - 1),
        "pace_2030_2035": 100 * ((10000 / 8500) ** (1 / 5) - 1)})
    assert [round(v, 1) for v in found.numbers.values()] == [5.8, 7.2, 3.3]
    assert "2025->2030: (>8500 / >6000)^(1/5) - 1 = 7.21%/yr" in found.arithmetic
    assert found.figures == ("iva_2022", "iva_2025", "iva_2030", "iva_2035")


def test_stage_speeding_up_is_a_warning(tmp_path):
    plan = demo_plan(
        tmp_path, fig("out_2020", "sei_output", 2020, 100),
        fig("out_2025", "sei_output", 2025, 110, role="target"),
        fig("out_2030", "sei_output", 2030, 200, role="target"),
        fig("share_2020", "sei_output_share", 2020, 20, "%"),
        fig("share_2025", "sei_output_share", 2025, 22, "%", role="target"),
        fig("share_2030", "sei_output_share", 2030, 26, "%", role="target"))
    found = audit_plan(plan, others=[]).select(check="stage_pace", severity="warning")
    level = one(found, later_pace=100 * ((200 / 110) ** 0.2 - 1))
    assert level.numbers["earlier_pace"] == pytest.approx(100 * (1.1 ** 0.2 - 1))
    assert "stage 2025->2030" in level.title and "stage 2020->2025" in level.title
    share = one(found, earlier_pace=0.4)
    assert share.numbers["later_pace"] == pytest.approx(0.8)
    assert share.numbers["ratio"] == pytest.approx(2)
    assert "0.8 / 0.4 = 2 > 1.5" in share.arithmetic
    assert share.indicator == "sei_output_share" and share.year == 2030


def test_stage_at_the_same_pace_is_no_warning(tmp_path):
    plan = demo_plan(
        tmp_path, fig("share_2020", "sei_output_share", 2020, 20, "%"),
        fig("share_2025", "sei_output_share", 2025, 22, "%", role="target"),
        fig("share_2030", "sei_output_share", 2030, 24.5, "%", role="target"))
    [found] = audit_plan(plan, others=[]).select(check="stage_pace")
    assert found.severity == "info"
    assert found.numbers == pytest.approx({"pace_2020_2025": 0.4, "pace_2025_2030": 0.5})


def test_plan_without_targets_is_a_warning(tmp_path):
    plan = demo_plan(tmp_path, fig("out_2020", "sei_output", 2020, 100))
    found = [f for f in audit_plan(plan, others=[]).select(check="coverage")
             if f.title.startswith("No targets")]
    assert len(found) == 1 and found[0].severity == "warning"


def test_undated_and_batch_targets_are_listed(tmp_path):
    plan = demo_plan(
        tmp_path, fig("out_2020", "sei_output", 2020, 100),
        fig("out_2025", "sei_output", 2025, 200, role="target"),
        fig("clusters_undated", "ranked_cluster_count", None, 5, "count", "target",
            qualifier="about", rank="world"),
        fig("labs_2025", "key_lab_count", 2025, None, "count", "target", qualifier="batch"))
    report = audit_plan(plan, others=[])
    # The only warning: this small plan cannot be sized (no SEI share), not its targets.
    assert [f.title for f in report.select(check="coverage", severity="warning")] == [
        "No base year can be sized: the plan cannot be simulated"]
    undated = [f for f in report.select(check="coverage") if f.figures == ("clusters_undated",)]
    assert len(undated) == 1 and undated[0].severity == "info"
    assert "undated" in undated[0].title and "no year" in undated[0].arithmetic
    assert undated[0].numbers == {"value": 5}
    batch = [f for f in report.select(check="coverage") if f.figures == ("labs_2025",)]
    assert len(batch) == 1 and batch[0].year == 2025
    assert "unquantified" in batch[0].title and "一批" in batch[0].arithmetic
    # Neither enters any arithmetic.
    assert not [f for f in report if f.check != "coverage"
                and {"clusters_undated", "labs_2025"} & set(f.figures)]


def test_assumed_and_statistic_figures_are_listed(tmp_path):
    plan = demo_plan(
        tmp_path, fig("out_2020", "sei_output", 2020, 100),
        fig("out_2025", "sei_output", 2025, 200, role="target"),
        fig("va_share_2020", "sei_share_of_industrial_value_added", 2020, [5, 15], "%",
            assumption={"by": "the test", "why": "the plan sizes no emerging industry at all"}),
        fig("gdp_2020", "gdp", 2020, 900,
            statistic={"publication": "Demo 2020 bulletin", "published": "2021-03"}))
    found = audit_plan(plan, others=[]).select(check="coverage")
    assumed = one(found, value=10)
    assert assumed.severity == "info" and assumed.figures == ("va_share_2020",)
    assert "assumed by the test because the plan sizes no emerging industry" in assumed.arithmetic
    assert "5-15%" in assumed.title
    assert assumed.sources == ("assumption by the test: the plan sizes no emerging industry at "
                               "all",)
    published = one(found, value=900)
    assert published.figures == ("gdp_2020",)
    assert "Demo 2020 bulletin (published 2021-03)" in published.arithmetic


def test_checks_survive_plans_without_sei_figures_with_ranges_and_undated_targets(tmp_path):
    plan = demo_plan(
        tmp_path, fig("rd_2020", "rd_intensity", 2020, [2, 3], "%"),
        fig("rd_2025", "rd_intensity", 2025, 4, "%", role="target"),
        fig("firms_2020", "hightech_enterprise_count", 2020, [100, 140], "firms"),
        fig("firms_2025", "hightech_enterprise_count", 2025, 240, "firms", role="target"),
        fig("firms_undated", "hightech_enterprise_count", None, 300, "firms", role="target"),
        fig("gdp_2020", "gdp", 2020, 1000), fig("gdp_2020_again", "gdp", 2020, 1100,
                                                statistic={"publication": "Demo bulletin",
                                                           "published": "2021"}))
    report = audit_plan(plan, others=[])
    rd = one(report.select(check="required_cagr"), baseline=2.5)  # the middle of 2-3%
    assert rd.numbers["required_pp_per_year"] == pytest.approx(0.3)
    assert "(4 - 2.5 (middle of 2-3)) / 5" in rd.arithmetic
    firms = one(report.select(check="required_cagr"), baseline=120)
    assert firms.numbers["required_cagr"] == pytest.approx(100 * (2 ** 0.2 - 1))
    twice = one(report.select(check="consistency"), gdp_2020=1000)
    assert "statistic: Demo bulletin (2021)" in twice.arithmetic
    assert report.to_text() and json.loads(report.to_json())
    assert set(CHECKS) >= {"class_total", "implied_denominator", "stage_pace", "coverage"}


def test_versions_compare_unquantified_and_undated_figures(tmp_path):
    text = (HEADER.replace('  "1": {document: demo.txt, title: Demo plan}',
                           '  "1": {document: demo.txt, title: Demo plan}\n'
                           '  "2": {document: demo2.txt, title: Final demo plan}')
            .replace('source: {"1": s}', 'source: {"1": s, "2": s}')
            + "default_version: \"1\"\nfigures:\n"
            + fig("out_2020", "sei_output", 2020, 100).replace('{"1": "s"}', '{"1": "s", "2": "s"}')
            + fig("labs_2025", "key_lab_count", 2025, None, "count", "target", qualifier="batch")
            + fig("labs_2025", "key_lab_count", 2025, 12, "count", "target",
                  source={"2": "t"}))
    (tmp_path / "demo.yaml").write_text(text, encoding="utf-8")
    report = sim.plans.audit(sim.plans.load(tmp_path / "demo.yaml", "1"))
    [found] = report.select(check="version_difference")
    assert found.severity == "warning" and "quantified in one version only" in found.title
    assert found.numbers == {"other_value": 12}
    assert found.arithmetic == "1: 一批 (no number) count in 2025 vs 2: 12 count in 2025"

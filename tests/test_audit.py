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
def test_required_cagr_chongqing_output(cq001):
    found = one(cq001.select(check="required_cagr", indicator="sei_output"), baseline=7600)
    assert found.numbers["required_cagr"] == pytest.approx(100 * ((10000 / 7600) ** 0.2 - 1))
    assert found.numbers["historical_cagr"] == pytest.approx(100 * ((7600 / 4000) ** 0.2 - 1))
    assert round(found.numbers["historical_cagr"], 1) == 13.7
    assert found.severity == "info"  # needs less than the past pace


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

"""Loading and validating plan files: the shipped regions, and one test per validation error.

Every error test derives a bad file from a minimal valid plan and checks that the one-line message
names the file, the line a user must edit and the key path there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import sim.plans
from sim.errors import InputError
from sim.plans.schema import INDICATORS, UNIT_FACTORS

MINIMAL = """\
format: seisim-plan/1
region: demo
name: 示例区
name_en: Demo District
versions:
  "2022":
    document: demo.txt
    title: Demo plan
industries:
  - id: materials
    name: 材料
    name_en: Materials
    sector: industry
    sei: true
    source: {"2022": "s1"}
  - id: services
    name: 服务
    name_en: Services
    sector: services
    sei: true
    source: {"2022": "s1"}
parks:
  - id: park_a
    name: 甲园
    name_en: Park A
    industries: [materials]
    source: {"2022": "s2"}
figures:
  - id: output_2020
    indicator: sei_output
    year: 2020
    value: 100
    unit: 亿元
    role: baseline
    source: {"2022": "s3"}
  - id: output_2025
    indicator: sei_output
    year: 2025
    value: 200
    unit: 亿元
    role: target
    source: {"2022": "s3"}
  - id: share_2020
    indicator: sei_output_share
    year: 2020
    value: 20
    unit: "%"
    role: baseline
    source: {"2022": "s3"}
"""

# The target figure's block, used to edit one of its keys.
TARGET = """\
  - id: output_2025
    indicator: sei_output
    year: 2025
    value: 200
    unit: 亿元
    role: target
    source: {"2022": "s3"}
"""


def write_plan(directory: Path, text: str, name: str = "demo") -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, marker: str, occurrence: int = 0) -> int:
    """1-based line of the ``occurrence``-th line containing ``marker`` (-1: the last)."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if marker in line]
    return hits[occurrence]


def edit(old: str, new: str, text: str = MINIMAL) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def edit_target(old: str, new: str) -> str:
    return edit(TARGET, edit(old, new, TARGET))


def load_error(path: Path, version: str | None = None) -> InputError:
    with pytest.raises(InputError) as info:
        sim.plans.load(path, version)
    return info.value


# Shipped regions -------------------------------------------------------------------------------
def test_regions_available():
    assert {"fuling", "chongqing"} <= set(sim.plans.available_regions())


def test_load_fuling():
    plan = sim.plans.load("fuling")
    assert (plan.region, plan.version, plan.versions) == ("fuling", "2022", ("2022",))
    assert plan.document == "002_51c201e4551c2db9.txt"
    assert plan.file == str(Path("seeds", "fuling.yaml"))
    assert len(plan.industries) == 11 and len(plan.parks) == 3 and len(plan.funds) == 3
    assert plan.figure("sei_output_2026").value == 1400
    assert plan.value("sei_output_share", year=2026) == 40
    assert plan.value("firm_count_over", year=2026, threshold=100) == 10
    assert plan.baseline_years == [2020, 2021] and plan.target_years == [2026]
    # The producer-services line sits inside the industrial SEI total of the plan's table.
    assert plan.service_industries == []


def test_load_chongqing_both_versions():
    default = sim.plans.load("chongqing")
    assert default.version == "001" and default.versions == ("001", "000")
    plans = sim.plans.load_all_versions("chongqing")
    assert [p.version for p in plans] == ["001", "000"]
    v001, v000 = plans
    assert v000.document == "000_2440ad4a6fe4982f.txt"
    assert "quantum_information" in v000.industry_ids
    assert "quantum_information" not in v001.industry_ids
    assert v001.value("sei_value_added_share_gdp", year=2025) == 13
    # Version 000's 18% covers all SEI value added, not the above-scale part the model simulates:
    # kept and listed, never scored or computed with.
    assert v000.value("sei_value_added_share_gdp", year=2025) is None
    assert v000.figure("va_share_gdp_2025").value == 18
    assert "every size" in v000.figure("va_share_gdp_2025").unscored
    assert v001.figure("fund_invested_2020").value == 130
    assert v000.figure("fund_invested_2020").value == 260
    assert sim.plans.load("chongqing", "000") == v000


def test_loading_is_independent_of_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = sim.plans.load("fuling")
    assert plan.file == str(Path("seeds", "fuling.yaml"))  # relative to the repository


@pytest.mark.parametrize("plan", [p for r in ("fuling", "chongqing")
                                  for p in sim.plans.load_all_versions(r)],
                         ids=lambda p: f"{p.region}-{p.version}")
def test_every_item_has_a_source_in_its_version(plan):
    for item in (*plan.industries, *plan.parks, *plan.funds, *plan.figures):
        source = plan.source_of(item)
        document, _, section = source.partition(", ")
        assert document == plan.document and section.strip(), (item.id, source)


@pytest.mark.parametrize("plan", [p for r in ("fuling", "chongqing")
                                  for p in sim.plans.load_all_versions(r)],
                         ids=lambda p: f"{p.region}-{p.version}")
def test_figures_have_canonical_units(plan):
    for f in plan.figures:
        expected = INDICATORS[f.indicator].canonical_unit
        assert f.canonical_unit == expected, f.id
        if f.unit in ("%", "亿元", "firms", "count", "persons"):
            assert f.canonical_value == f.value


def test_unit_conversion_to_canonical():
    rd = sim.plans.load("chongqing").figure("rd_personnel_2020")
    assert (rd.unit, rd.canonical_unit) == ("万人", "persons")
    assert rd.canonical_value == pytest.approx(160_700)


def test_minimal_plan_loads(tmp_path):
    plan = sim.plans.load(write_plan(tmp_path, MINIMAL))
    assert (plan.region, plan.version, len(plan.figures)) == ("demo", "2022", 3)
    assert plan.source_of(plan.figure("output_2025")) == "demo.txt, s3"


# Validation errors: (bad text, marker of the line to report, key path, problem) -----------------
CASES = {
    "unknown unit": (edit_target("unit: 亿元", "unit: yuan"), "unit: yuan",
                     "figures[1].unit", "unknown unit 'yuan'"),
    "unit not allowed for indicator": (edit_target("unit: 亿元", "unit: firms"), "unit: firms",
                                       "figures[1].unit", "does not fit indicator 'sei_output'"),
    "missing source": (edit_target('    source: {"2022": "s3"}\n', ""), "- id: output_2025",
                       "figures[1].source", "needs exactly one of 'source'"),
    "empty source": (edit_target('source: {"2022": "s3"}', "source: {}"), "source: {}",
                     "figures[1].source", "source must name at least one version"),
    "negative amount": (edit_target("value: 200", "value: -5"), "value: -5",
                        "figures[1].value", "negative amount -5 for 'sei_output'"),
    "share above 100": (edit("value: 20\n", "value: 120\n"), "value: 120",
                        "figures[2].value", "share 120 is outside 0-100"),
    "negative share": (edit("value: 20\n", "value: -1\n"), "value: -1",
                       "figures[2].value", "share -1 is outside 0-100"),
    "target year not after baseline": (edit_target("year: 2025", "year: 2019"), "year: 2019",
                                       "figures[1].year",
                                       "target year 2019 is not after the latest baseline "
                                       "year 2020"),
    "duplicate id": (edit_target("id: output_2025", "id: output_2020"), "id: output_2020",
                     "figures[1].id", "duplicate id 'output_2020' in version '2022'"),
    "unknown industry in park": (edit("industries: [materials]",
                                      "industries: [materials, matrials]"),
                                 "industries: [materials, matrials]", "parks[0].industries[1]",
                                 "unknown industry 'matrials' in park 'park_a' "
                                 "(did you mean 'materials'?)"),
    "unknown key with suggestion": (edit_target("unit: 亿元", "units: 亿元"), "units: 亿元",
                                    "figures[1].units",
                                    "unknown key 'units' (did you mean 'unit'?)"),
    "unknown top-level key": (edit("name_en: Demo District\n",
                                   "name_en: Demo District\nindustrys: []\n"),
                              "industrys:", "industrys",
                              "unknown key 'industrys' (did you mean 'industries'?)"),
    "unknown indicator": (edit_target("indicator: sei_output", "indicator: sei_outptu"),
                          "sei_outptu", "figures[1].indicator",
                          "unknown indicator 'sei_outptu' (did you mean 'sei_output'?)"),
    "unknown scope": (edit_target("    year: 2025", "    scope: industry:metals\n    year: 2025"),
                      "scope: industry:metals", "figures[1].scope",
                      "unknown industry 'metals' in version '2022'"),
    "unknown version in a source": (edit('source: {"2022": "s2"}', 'source: {"2023": "s2"}'),
                                    '"2023": "s2"', "parks[0].source.2023",
                                    "unknown version '2023' (did you mean '2022'?)"),
    "unknown default version": (edit("versions:\n", 'default_version: "2032"\nversions:\n'),
                                "default_version", "default_version",
                                "default_version '2032' is not one of the versions"),
    "kind on a baseline": (edit('    role: baseline\n', "    role: baseline\n    kind: binding\n"),
                           "kind: binding", "figures[0].kind", "applies to targets only"),
    "region differs from file name": (edit("region: demo", "region: other"), "region: other",
                                      "region", "must match the file name 'demo'"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_validation_error_names_file_line_and_key(tmp_path, case):
    text, marker, key, problem = CASES[case]
    path = write_plan(tmp_path, text)
    exc = load_error(path)
    line = line_of(text, marker, -1 if case == "duplicate id" else 0)
    message = str(exc)
    assert "\n" not in message
    assert exc.file == str(path) and (exc.line, exc.key) == (line, key), message
    assert message.startswith(f"{path}:{line}: {key}: "), message
    assert problem in message


@pytest.mark.parametrize("bad, marker, problem", [
    ("    name_en: Park A\n   oops: [\n", "oops: [", "invalid YAML"),
    ("    value: 200\n", "duplicate key 'value'", "duplicate key 'value'"),
    ("region: demo\n", "region: demo", "invalid YAML"),
], ids=["unbalanced", "duplicate key", "tab"])
def test_invalid_yaml_names_line(tmp_path, bad, marker, problem):
    if problem == "duplicate key 'value'":
        text = edit_target(bad, bad + "    value: 300\n")
        marker = "value: 300"
    elif bad.startswith("region"):
        text = edit(bad, "region:\tdemo\n")
        marker = "region:\tdemo"
    else:
        text = edit("    name_en: Park A\n", bad)
    path = write_plan(tmp_path, text)
    exc = load_error(path)
    assert exc.file == str(path) and exc.line == line_of(text, marker), str(exc)
    assert str(exc).startswith(f"{path}:{exc.line}: invalid YAML") and problem in str(exc)
    assert "\n" not in str(exc)


def test_top_level_must_be_a_mapping(tmp_path):
    path = write_plan(tmp_path, "- just\n- a list\n")
    assert str(load_error(path)) == f"{path}: a plan file must be a mapping at the top level"


def test_unknown_version_argument_names_file_and_versions(tmp_path):
    path = write_plan(tmp_path, MINIMAL)
    exc = load_error(path, "2023")
    assert exc.file == str(path)
    assert str(exc) == (f"{path}: unknown version '2023' of demo (did you mean '2022'?); "
                        "versions: 2022")


def test_unknown_version_of_shipped_region():
    with pytest.raises(InputError) as info:
        sim.plans.load("chongqing", "002")
    message = str(info.value)
    expected = f"{Path('seeds', 'chongqing.yaml')}: unknown version '002' of chongqing"
    assert message.startswith(expected)
    assert "did you mean" in message and message.endswith("; versions: 001, 000")


def test_unknown_region_with_suggestion():
    with pytest.raises(InputError) as info:
        sim.plans.load("fulin")
    message = str(info.value)
    assert message.startswith("unknown region 'fulin' (did you mean 'fuling'?); available: ")
    assert "chongqing" in message


def test_region_found_through_seisim_seeds(tmp_path, monkeypatch):
    write_plan(tmp_path, MINIMAL)
    monkeypatch.setenv("SEISIM_SEEDS", str(tmp_path))
    assert "demo" in sim.plans.available_regions()
    assert sim.plans.load("demo").region == "demo"
    with pytest.raises(InputError, match=r"unknown region 'demi' \(did you mean 'demo'\?\)"):
        sim.plans.load("demi")


def test_missing_plan_file(tmp_path):
    with pytest.raises(InputError, match="plan file not found"):
        sim.plans.load(tmp_path / "nowhere.yaml")


def test_first_problem_in_file_order_is_reported(tmp_path):
    # Two reference problems: the park's (earlier in the file) is reported, not the figure's.
    text = edit("industries: [materials]", "industries: [metals]",
                edit_target("    year: 2025", "    scope: industry:metals\n    year: 2025"))
    exc = load_error(write_plan(tmp_path, text))
    assert exc.key == "parks[0].industries[0]" and exc.line == line_of(text, "[metals]")


def test_item_only_in_one_version(tmp_path):
    text = edit('    title: Demo plan\n',
                '    title: Demo plan\n  "2023":\n    document: other.txt\n    title: Other\n'
                'default_version: "2022"\n')
    text = edit('source: {"2022": "s2"}', 'source: {"2023": "s2"}', text)
    text = edit('sector: industry\n    sei: true\n    source: {"2022": "s1"}',
                'sector: industry\n    sei: true\n    source: {"2022": "s1", "2023": "s1b"}', text)
    path = write_plan(tmp_path, text)
    assert sim.plans.load(path).parks == ()
    assert [p.id for p in sim.plans.load(path, "2023").parks] == ["park_a"]
    assert sim.plans.load(path, "2023").figures == ()


def test_a_plan_with_drawn_figures_finds_what_a_fresh_index_finds():
    """``with_factors`` derives the copy's figure index from the original's: every look-up must
    return the drawn figures, in plan order, as an index built from scratch would."""
    import sim.plans.schema as schema

    plan = sim.plans.load("chongqing", "001")
    factors = {f.id: 1.05 for f in plan.figures if f.role == "baseline"}
    drawn = plan.with_factors(dict(list(factors.items())[::3]))
    derived = drawn._by_indicator()
    schema._FIGURE_INDEX.clear()
    rebuilt = drawn._by_indicator()
    assert derived is not rebuilt and derived.keys() == rebuilt.keys()
    for key in rebuilt:
        assert [id(f) for f in derived[key]] == [id(f) for f in rebuilt[key]]
    for f in (f for f in drawn.figures if f.role == "baseline"):
        assert drawn.find(f.indicator, scope=f.scope, year=f.year, role=f.role)[0].value == (
            [g for g in drawn.figures if (g.indicator, g.scope, g.year, g.role)
             == (f.indicator, f.scope, f.year, f.role)][0].value)

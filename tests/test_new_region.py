"""A region written only from docs/plan-format.md, the way a new user would add one: its targets are
on industrial value added, it prints no SEI output, and the SEI part of its industry is an assumption.
It must check, audit and run end to end from the data file alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli import main
from sim.plans.indicators import markdown_table

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plan-format.md"

NEW_REGION = """\
format: seisim-plan/1
region: riverton
name: 河屯市
name_en: Riverton
versions:
  "2024":
    document: riverton-plan.txt
    title: 河屯市制造业发展规划（2024—2030年）
industries:
  - {id: machinery, name: 机械, name_en: Machinery, sector: industry, sei: false,
     group: pillar, source: {"2024": "一、（一）"}}
  - {id: batteries, name: 新型电池, name_en: New batteries, sector: industry, sei: true,
     group: emerging, source: {"2024": "三、（二）"}}
  - {id: drones, name: 无人机, name_en: Drones, sector: industry, sei: true,
     group: emerging, source: {"2024": "三、（二）"}}
funds:
  - {id: city_fund, name: 市产业基金, name_en: City industry fund, source: {"2024": "五、（一）"}}
figures:
  - {id: iva_2023, indicator: industrial_value_added, year: 2023, value: 1200, unit: 亿元,
     role: baseline, source: {"2024": "一、（一）"}}
  - {id: iva_share_2023, indicator: industrial_value_added_share_gdp, year: 2023, value: 30,
     unit: "%", role: baseline, source: {"2024": "一、（一）"}}
  - {id: sei_share_2023, indicator: sei_share_of_industrial_value_added, year: 2023,
     value: [10, 20], unit: "%", role: baseline,
     assumption: {by: "city economics office", why: "the plan names its emerging industries without sizing them"}}
  - {id: iva_2027, indicator: industrial_value_added, year: 2027, value: 1500, unit: 亿元,
     qualifier: more_than, role: target, source: {"2024": "二、（二）"}}
  - {id: iva_2030, indicator: industrial_value_added, year: 2030, value: 2000, unit: 亿元,
     qualifier: about, role: target, source: {"2024": "二、（二）"}}
  - {id: clusters_2030, indicator: ranked_cluster_count, rank: national, year: 2030,
     qualifier: batch, unit: count, role: target, source: {"2024": "二、（二）"}}
  - {id: chains_undated, indicator: industry_chain_count, value: 3, unit: count,
     role: target, source: {"2024": "三、（一）"}}
"""

SCENARIO = """\
name: riverton-baseline
region: {plan}
parameters: builtin
horizon: {{start: 2023, end: 2030}}
monte_carlo: {{replications: 30, seed: 7}}
"""


@pytest.fixture()
def region(tmp_path):
    plan = tmp_path / "riverton.yaml"
    plan.write_text(NEW_REGION, encoding="utf-8")
    scenario = tmp_path / "riverton-baseline.yaml"
    scenario.write_text(SCENARIO.format(plan=plan), encoding="utf-8")
    return plan, scenario


def test_docs_indicator_table_is_the_registry():
    assert markdown_table() in DOCS.read_text(encoding="utf-8")


def test_new_region_checks(region, capsys):
    plan, _ = region
    assert main(["plan", "check", str(plan)]) == 0
    out = capsys.readouterr().out
    assert "can be simulated from base year 2023" in out
    assert "sei_share_2023 = 10-20 %" in out and "city economics office" in out
    assert "named but not SEI (part of the rest of industry): machinery" in out
    assert "iva_2030 (2030): scored on `industrial_value_added` at 1900" in out
    assert "chains_undated (undated): listed, not scored" in out


def test_new_region_audits(region, capsys):
    plan, _ = region
    assert main(["plan", "audit", str(plan), "--json"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    stages = [f for f in findings if f["check"] == "stage_pace"]
    assert stages and stages[0]["indicator"] == "industrial_value_added"
    listed = {fid for f in findings if f["check"] == "coverage" for fid in f["figures"]}
    assert {"sei_share_2023", "clusters_2030", "chains_undated"} <= listed


def test_new_region_runs_end_to_end(region, tmp_path, capsys):
    _, scenario = region
    out_dir = tmp_path / "run"
    assert main(["mc", str(scenario), "--out", str(out_dir)]) == 0
    capsys.readouterr()
    import pandas as pd

    targets = pd.read_csv(out_dir / "targets.csv").set_index("target")
    for target in ("iva_2027", "iva_2030"):
        assert 0.0 <= targets.loc[target, "p_met"] <= 1.0
        assert targets.loc[target, "replications"] == 30
    assert pd.isna(targets.loc["chains_undated", "p_met"])
    assert "about 2000" in targets.loc["iva_2030", "rule"]
    report = (out_dir / "report.md").read_text(encoding="utf-8")
    assert "sei_share_2023" in report  # the assumption the result rests on is listed
    annual = pd.concat(pd.read_parquet(p) for p in sorted((out_dir / "annual").rglob("*.parquet")))
    base = annual[annual.year == 2023]
    assert base["industrial_value_added"].to_numpy() == pytest.approx(1200, rel=1e-9)
    share = base["sei_share_of_industrial_value_added"].to_numpy()
    assert share.min() >= 10 - 1e-9 and share.max() <= 20 + 1e-9 and share.std() > 0


def test_audit_reports_a_plan_that_cannot_be_simulated(region, tmp_path, capsys):
    # Without its assumed SEI share the region has no complete sizing form: the audit says so
    # instead of reporting a clean plan, and run refuses with the same one-line message.
    plan, scenario = region
    text = plan.read_text(encoding="utf-8")
    start = text.index("  - {id: sei_share_2023")
    end = text.index("  - {id: iva_2027")
    plan.write_text(text[:start] + text[end:], encoding="utf-8")
    assert main(["plan", "audit", str(plan), "--json"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    blocked = [f for f in findings if f["check"] == "coverage" and f["severity"] == "warning"]
    assert blocked and "cannot be simulated" in blocked[0]["title"]
    assert "industrial_value_added + sei_share_of_industrial_value_added" in blocked[0]["arithmetic"]
    assert main(["run", str(scenario)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "years a run can start from: none" in err


def test_no_silent_fallback_to_builtin_parameters(region, capsys):
    # A new region has no fitted set: "default" must not quietly mean uncalibrated defaults.
    plan, scenario = region
    scenario.write_text(scenario.read_text(encoding="utf-8").replace("parameters: builtin\n", ""),
                        encoding="utf-8")
    assert main(["run", str(scenario)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no fitted parameter set for riverton" in err
    assert "parameters: builtin" in err

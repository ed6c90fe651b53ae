"""The ``seisim plan`` subcommands, run in-process through ``sim.cli.main``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sim.cli import main

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_list(capsys):
    code, out, err = run(capsys, "plan", "list")
    assert code == 0 and err == ""
    rows = [line.split() for line in out.splitlines()[2:]]
    versions = {(r[0], r[1]) for r in rows}
    assert {("chongqing", "001"), ("chongqing", "000"), ("fuling", "2022")} <= versions
    assert any(r[:3] == ["chongqing", "001", "*"] for r in rows)  # the default version is marked


def test_plan_show(capsys):
    code, out, err = run(capsys, "plan", "show", "fuling")
    assert code == 0 and err == ""
    assert "version 2022" in out and "Document: 002_51c201e4551c2db9.txt" in out
    assert "Industries (11)" in out and "Parks (3)" in out and "Funds (3)" in out
    assert "Figures (59)" in out
    row = next(line for line in out.splitlines() if line.startswith("sei_output_2021_text "))
    assert row.split()[1:7] == ["sei_output", "region", "2021", "666.2", "亿元", "exact"]
    assert "一、（一）发展基础" in row


def test_plan_show_other_version(capsys):
    code, out, _ = run(capsys, "plan", "show", "chongqing", "--version", "000")
    assert code == 0
    assert "version 000" in out and "quantum_information" in out
    fund = next(line for line in out.splitlines() if line.startswith("fund_invested_2020 "))
    assert " 260 " in fund and "more_than" in fund


def test_plan_audit_text(capsys):
    code, out, err = run(capsys, "plan", "audit", "fuling")
    assert code == 0 and err == ""
    assert out.startswith("Plan audit: fuling, version 2022")
    assert "300 + 50 + 120 + 110 + 30 + 45 + 10 = 665 vs total 666.2" in out
    assert "== Definitional problems (definition) ==" in out


def test_plan_audit_json(capsys):
    code, out, _ = run(capsys, "plan", "audit", "chongqing", "--version", "000", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["region"], data["version"], data["compared_with"]) == ("chongqing", "000", ["001"])
    va = [f for f in data["findings"] if f["check"] == "version_difference"
          and f["indicator"] == "sei_value_added_share_gdp" and f["year"] == 2025
          and "other_value" in f["numbers"]]
    assert [(f["numbers"]["value"], f["numbers"]["other_value"]) for f in va] == [(18, 13)]


def test_plan_audit_of_a_file_path(capsys):
    code, out, _ = run(capsys, "plan", "audit", str(SEEDS / "fuling.yaml"))
    assert code == 0 and "Plan audit: fuling" in out


def test_demo_runs_every_baseline_and_writes_reports(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "-n", "12", "--out", str(tmp_path / "demo"),
                       "--backend", "serial", "--no-progress", "--brief", "zh")
    assert code == 0
    assert "chongqing-baseline: 12 replications" in out
    assert "fuling-baseline: 12 replications" in out
    assert "chengdu-baseline: 12 replications" in out
    assert "sei_output_share_2025" in out and "sei_output_share_2026" in out
    assert "industrial_value_added_2035" in out
    for name in ("chongqing-baseline", "fuling-baseline", "chengdu-baseline"):
        assert (tmp_path / "demo" / name / "report.md").is_file()
        assert (tmp_path / "demo" / name / "targets.csv").is_file()
        # --brief: every shipped plan gets a briefing that opens with its headline probability
        page = (tmp_path / "demo" / name / "briefing.html").read_text(encoding="utf-8")
        assert re.search(r'id="headline">[^<]*的概率为 \d+%', page), name
        assert (tmp_path / "demo" / name / "briefing.xlsx").is_file()


@pytest.mark.parametrize("argv, message", [
    (["plan", "audit", "fulin"], "seisim: error: unknown region 'fulin' (did you mean 'fuling'?)"),
    (["plan", "show", "fuling", "--version", "2021"],
     f"seisim: error: {Path('seeds', 'fuling.yaml')}: unknown version '2021' of fuling"),
])
def test_input_error_is_one_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(message)
    assert "Traceback" not in err


def test_bad_plan_file_error_names_line(capsys, tmp_path):
    text = (SEEDS / "fuling.yaml").read_text(encoding="utf-8")
    bad = text.replace("    unit: firms\n", "    unit: firm\n", 1)
    line = next(i + 1 for i, s in enumerate(bad.splitlines()) if s == "    unit: firm")
    path = tmp_path / "fuling.yaml"
    path.write_text(bad, encoding="utf-8")
    code, out, err = run(capsys, "plan", "audit", str(path))
    assert code == 2 and out == ""
    assert err.startswith(f"seisim: error: {path}:{line}: figures[")
    assert ".unit: unknown unit 'firm'" in err and err.count("\n") == 1


def test_usage_errors_return_2(capsys):
    assert main([]) == 2
    assert main(["plan"]) == 2
    assert main(["plan", "frobnicate"]) == 2
    capsys.readouterr()


def test_help_returns_0(capsys):
    assert main(["plan", "--help"]) == 0
    assert "audit" in capsys.readouterr().out

"""``seisim run / mc / compare / sweep / report`` end to end, small (20 replications, serial).

Most commands run in-process through ``sim.cli.main``; the first Monte Carlo run goes through the
installed console script, and its outputs must equal those of the in-process run.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.analysis.targets import TARGET_COLUMNS
from sim.cli import main
from sim.reporting.results import copy_run

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "fuling-baseline.yaml")
DOUBLE = str(ROOT / "scenarios" / "fuling-fund-double.yaml")
SWEEP = str(ROOT / "scenarios" / "fuling-fund-sweep.yaml")
FAST = ["--backend", "serial", "--no-progress"]
MC_ARGS = ["mc", BASELINE, "-n", "20", "--seed", "3", *FAST]


def console_script() -> list[str]:
    script = Path(sys.executable).with_name("seisim")
    if script.exists():
        return [str(script)]
    found = shutil.which("seisim")
    return [found] if found else [sys.executable, "-m", "sim.cli"]


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def report_links(run_dir: Path) -> list[str]:
    text = (run_dir / "report.md").read_text(encoding="utf-8")
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same Monte Carlo twice: console script into ``first``, in-process into ``second``."""
    base = tmp_path_factory.mktemp("mc")
    first, second = base / "first", base / "second"
    proc = subprocess.run(console_script() + MC_ARGS + ["--out", str(first)], cwd=base,
                          capture_output=True, text=True, timeout=300)
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(MC_ARGS + ["--out", str(second)])
    return {"first": first, "second": second, "proc": proc, "code": code,
            "stdout": stdout.getvalue()}


# seisim mc ----------------------------------------------------------------------------------------
def test_mc_console_script(runs):
    proc = runs["proc"]
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "error" not in proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "fuling-baseline: 20 replications, seed 3 (structural variants pooled)"
    assert lines[-2] == f"run directory: {runs['first']}"
    assert lines[-1] == f"report: {runs['first'] / 'report.md'}"
    assert re.search(r"sei_output_share_2026 +2026  P\(met\) = +\d+\.\d% \[ *\d+\.\d%, +\d+\.\d%\]"
                     r"  median [\d.,]+ vs 40 %", proc.stdout)
    assert "listed_firm_count_2026" in proc.stdout and "not evaluated (" in proc.stdout


def test_mc_writes_the_run_directory(runs):
    d = runs["first"]
    for name in ("scenario.yaml", "manifest.json", "targets.csv", "first_met.csv", "summary.txt",
                 "report.md", "share_fan.png", "probabilities.png"):
        assert (d / name).is_file(), name
    for png in ("share_fan.png", "probabilities.png"):
        assert (d / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (d / "failures").exists()

    manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "complete" and manifest["failures"] == 0
    assert manifest["settings"] == {"replications": 20, "seed": 3, "engine": "numba",
                                    "chunk_size": 100, "labels": [""]}
    assert manifest["backend"] == "serial"

    annual_files = sorted((d / "annual" / "main").glob("chunk-*.parquet"))
    outcome_files = sorted((d / "outcomes" / "main").glob("chunk-*.parquet"))
    assert [p.name for p in annual_files] == ["chunk-00000.parquet"]
    assert [p.name for p in outcome_files] == ["chunk-00000.parquet"]
    assert (d / "done" / "main" / "chunk-00000.json").is_file()
    annual = pd.read_parquet(annual_files[0])
    assert len(annual) == 20 * 6  # replications x years 2021..2026 (base year included)
    assert sorted(annual["replication"].unique()) == list(range(20))
    assert sorted(annual["year"].unique()) == list(range(2021, 2027))
    assert {"sei_output_share", "sei_output_share_incl_services", "sei_industrial_output",
            "sei_output.industry.new_materials", "sei_output.park.lingang"} <= set(annual.columns)

    targets = pd.read_csv(d / "targets.csv")
    assert list(targets.columns) == TARGET_COLUMNS
    evaluable = targets[targets["p_met"].notna()]
    skipped = targets[targets["p_met"].isna()]
    assert len(evaluable) and len(skipped)
    assert (evaluable["replications"] == 20).all()
    assert (skipped["replications"] == 0).all() and skipped["note"].str.len().gt(0).all()
    assert (evaluable["ci_low"] <= evaluable["p_met"]).all()
    assert (evaluable["p_met"] <= evaluable["ci_high"]).all()
    share = targets.set_index("target").loc["sei_output_share_2026"]
    assert (share["year"], share["threshold"], share["unit"]) == (2026, 40.0, "%")
    assert share["column"] == "sei_output_share"
    assert share["shortfall_median"] == pytest.approx(40.0 - share["median"])

    outcomes = pd.read_parquet(outcome_files[0])
    assert list(outcomes.columns) == ["replication", "target", "value", "first_met_year",
                                      "structure"]
    assert len(outcomes) == 20 * len(evaluable)
    # P(met) in targets.csv is the share of replications at or above the threshold
    v = outcomes.loc[outcomes["target"] == "sei_output_share_2026", "value"]
    assert share["p_met"] == pytest.approx((v >= 40.0).mean())
    # ... and the value is the annual table's sei_output_share in 2026
    in_2026 = annual[annual["year"] == 2026].set_index("replication")["sei_output_share"]
    np.testing.assert_allclose(
        outcomes[outcomes["target"] == "sei_output_share_2026"].set_index("replication")["value"]
        .sort_index(), in_2026.sort_index())

    first_met = pd.read_csv(d / "first_met.csv")
    assert list(first_met.columns) == ["target", "year", "p_first_met", "p_met_by_year"]
    assert sorted(first_met["year"].unique()) == list(range(2022, 2027))

    summary = (d / "summary.txt").read_text(encoding="utf-8")
    assert summary.startswith("fuling-baseline: 20 replications, seed 3 (structural variants "
                              "pooled)\n")
    assert summary in runs["proc"].stdout + "\n"

    resolved = (d / "scenario.yaml").read_text(encoding="utf-8")
    assert "name: fuling-baseline" in resolved and "extends" not in resolved


def test_report_links_files_that_exist(runs):
    d = runs["first"]
    links = report_links(d)
    assert {"targets.csv", "first_met.csv", "share_fan.png", "probabilities.png"} <= set(links)
    for link in links:
        assert (d / link).is_file(), link
    text = (d / "report.md").read_text(encoding="utf-8")
    assert "seed 3" in text and "status: complete" in text
    # targets in the plan's words, the headline SEI-share target first, its key last
    rows = [line for line in text.splitlines() if line.endswith("` |")]
    assert rows[0].startswith("| SEI share of above-scale industrial output | 2026 | 40.0% | ")
    assert rows[0].endswith("| `sei_output_share_2026` |")
    assert "| New materials: output | 2026 | 750 亿元 | " in text
    # not evaluated: in their own group after every evaluated target, with the reason
    group = text.index("**Targets not evaluated (with the reason)**")
    listed = next(line for line in rows if line.endswith("`listed_firm_count_2026` |"))
    assert text.index(listed) > group > max(text.index(r) for r in rows if "%–" in r)
    assert "| listed companies | 2026 | 10 firms | firm status (listing) is not modelled" in listed


def test_same_scenario_and_seed_give_identical_outputs(runs):
    first, second = runs["first"], runs["second"]
    assert runs["code"] == 0
    for name in ("targets.csv", "first_met.csv", "summary.txt", "scenario.yaml"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    for kind in ("annual", "outcomes"):
        a = pd.read_parquet(first / kind / "main" / "chunk-00000.parquet")
        b = pd.read_parquet(second / kind / "main" / "chunk-00000.parquet")
        pd.testing.assert_frame_equal(a, b)
    # console script and in-process print the same answer (up to the directory names)
    strip = lambda text: "\n".join(line for line in text.splitlines()  # noqa: E731
                                   if not line.startswith(("run directory:", "report:")))
    assert strip(runs["stdout"]) == strip(runs["proc"].stdout)


def test_another_seed_gives_other_numbers(runs, tmp_path, capsys):
    code, _, _ = cli(capsys, "mc", BASELINE, "-n", "20", "--seed", "4", *FAST, "--no-plots",
                     "--out", tmp_path / "seed4")
    assert code == 0
    a = pd.read_parquet(runs["first"] / "annual" / "main" / "chunk-00000.parquet")
    b = pd.read_parquet(tmp_path / "seed4" / "annual" / "main" / "chunk-00000.parquet")
    assert not np.allclose(a["sei_industrial_output"], b["sei_industrial_output"])
    # every replication starts from the plan's baseline
    base = a.loc[a["year"] == 2021, "sei_industrial_output"]
    np.testing.assert_allclose(base, base.iloc[0], rtol=1e-9)


def test_mc_into_an_existing_run_dir_needs_resume(runs, tmp_path, capsys):
    run_dir = copy_run(runs["first"], tmp_path / "copy")
    before = (run_dir / "manifest.json").read_text(encoding="utf-8")
    code, out, err = cli(capsys, *MC_ARGS, "--out", run_dir)
    assert code == 2 and out == ""
    assert err == (f"seisim: error: {run_dir}: run directory already holds a run; use --resume to "
                   "continue it or choose another --out\n")
    assert (run_dir / "manifest.json").read_text(encoding="utf-8") == before

    # --resume with other settings is refused too
    code, _, err = cli(capsys, "mc", BASELINE, "-n", "20", "--seed", "5", *FAST, "--resume",
                       "--out", run_dir)
    assert code == 2 and "--resume: the scenario or settings differ" in err
    assert err.count("\n") == 1

    # --resume with the same settings finds every chunk done and recomputes nothing
    chunk = run_dir / "annual" / "main" / "chunk-00000.parquet"
    stamp = chunk.stat().st_mtime_ns
    code, out, _ = cli(capsys, *MC_ARGS, "--resume", "--no-plots", "--out", run_dir)
    assert code == 0 and out.startswith("fuling-baseline: 20 replications, seed 3")
    assert chunk.stat().st_mtime_ns == stamp
    assert (run_dir / "targets.csv").read_bytes() == (runs["first"] / "targets.csv").read_bytes()


def test_mc_into_a_foreign_directory_fails(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    code, _, err = cli(capsys, *MC_ARGS, "--out", tmp_path)
    assert code == 2
    assert err == (f"seisim: error: {tmp_path}: directory exists and is not a seisim run "
                   "directory\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_resume_needs_out(capsys):
    code, _, err = cli(capsys, *MC_ARGS, "--resume")
    assert code == 2 and err == "seisim: error: --resume needs --out DIR (the run directory to " \
                                "continue)\n"


# seisim report ------------------------------------------------------------------------------------
def test_report_regenerates_report_and_tables(runs, tmp_path, capsys):
    run_dir = copy_run(runs["first"], tmp_path / "copy")
    for name in ("report.md", "targets.csv", "first_met.csv", "summary.txt", "share_fan.png",
                 "probabilities.png"):
        (run_dir / name).unlink()
    code, out, err = cli(capsys, "report", run_dir)
    assert code == 0 and err == ""
    assert out.splitlines()[-1] == f"report: {run_dir / 'report.md'}"
    for name in ("targets.csv", "first_met.csv", "summary.txt", "share_fan.png",
                 "probabilities.png"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "report.md").read_text(encoding="utf-8") == \
        (runs["first"] / "report.md").read_text(encoding="utf-8")
    assert (run_dir / "targets.csv").read_bytes() == (runs["first"] / "targets.csv").read_bytes()
    for link in report_links(run_dir):
        assert (run_dir / link).is_file(), link


def test_report_on_a_directory_without_a_run(tmp_path, capsys):
    code, _, err = cli(capsys, "report", tmp_path)
    assert code == 2
    assert err == f"seisim: error: {tmp_path}: not a seisim run directory (no manifest.json)\n"


# seisim run ---------------------------------------------------------------------------------------
def test_run_prints_one_run_and_writes_csv(tmp_path, capsys):
    csv = tmp_path / "run.csv"
    code, out, err = cli(capsys, "run", BASELINE, "--seed", "1", "--csv", csv)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "fuling-baseline: one run, seed 1, engine numba"
    assert lines[1].split() == ["year", "sei_industrial_output", "nonsei_output",
                                "sei_output_share", "industrial_value_added",
                                "sei_value_added_share_gdp",
                                "above_scale_firms", "firms_over_10", "talent_shortage",
                                "fund_invested"]
    assert [line.split()[0] for line in lines[3:9]] == [str(y) for y in range(2021, 2027)]
    assert lines[9].startswith(f"all {pd.read_csv(csv).shape[1]} columns written to ")
    written = pd.read_csv(csv)
    expected = sim.run(sim.load_scenario(BASELINE), seed=1).annual
    assert list(written.columns) == list(expected.columns)
    np.testing.assert_allclose(written["sei_output_share"], expected["sei_output_share"])


def test_run_region_name(capsys):
    code, out, _ = cli(capsys, "run", "chongqing", "--seed", "2")
    assert code == 0
    assert out.splitlines()[0] == "chongqing-baseline: one run, seed 2, engine numba"
    assert [line.split()[0] for line in out.splitlines()[3:]] == [str(y)
                                                                  for y in range(2020, 2026)]


# seisim compare -----------------------------------------------------------------------------------
def test_compare_prints_paired_differences(tmp_path, capsys):
    out_dir = tmp_path / "cmp"
    code, out, err = cli(capsys, "compare", BASELINE, DOUBLE, "-n", "20", *FAST, "--out", out_dir)
    assert code == 0, err
    assert "Differences vs fuling-baseline (paired, common random numbers):" in out
    row = next(line for line in out.splitlines()
               if line.startswith("fuling-fund-double") and " sei_output_share_2026 " in line
               and " pp" in line)
    assert re.search(r"[+-]\d+\.\d pp +[+-]\d+\.\d to [+-]\d+\.\d +[-\d.,]+$", row), row
    assert out.splitlines()[-1] == f"report: {out_dir / 'report.md'}"

    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["labels"] == ["fuling-baseline", "fuling-fund-double"]
    assert manifest["settings"]["seed"] == 20250101  # the first scenario's seed
    for label in manifest["settings"]["labels"]:
        assert (out_dir / label / "targets.csv").is_file()
        assert (out_dir / "annual" / label / "chunk-00000.parquet").is_file()
    diffs = pd.read_csv(out_dir / "differences.csv")
    assert set(diffs["scenario"]) == {"fuling-fund-double"}
    assert set(diffs["reference"]) == {"fuling-baseline"}
    total = diffs.set_index("target").loc["sei_output_2026"]
    assert total["replications"] == 20
    assert total["mean_diff"] > 0  # more fund money, more output, replication by replication
    assert "## Differences (paired by replication: common random numbers)" in \
        (out_dir / "report.md").read_text(encoding="utf-8")
    for link in report_links(out_dir):
        assert (out_dir / link).is_file(), link
    # the scenarios are charted together, one chart of each kind, not one per scenario
    links = report_links(out_dir)
    assert "comparison_fans.png" in links and "comparison_probabilities.png" in links
    assert not list(out_dir.glob("*/*.png"))


def test_common_random_numbers_shrink_the_standard_error(tmp_path):
    n, target = 40, "sei_output_share_2026"
    paired = sim.compare([BASELINE, DOUBLE], n, seed=11, backend="serial", progress=False,
                         out=tmp_path / "paired")
    row = paired.differences().set_index("target").loc[target]
    assert row["replications"] == n

    a = sim.monte_carlo(BASELINE, n, seed=11, backend="serial", progress=False,
                        out=tmp_path / "a")
    b = sim.monte_carlo(DOUBLE, n, seed=12, backend="serial", progress=False, out=tmp_path / "b")
    va = a.outcomes.loc[a.outcomes["target"] == target, "value"].to_numpy()
    vb = b.outcomes.loc[b.outcomes["target"] == target, "value"].to_numpy()
    se_independent = math.sqrt(va.var(ddof=1) / n + vb.var(ddof=1) / n)
    assert row["mean_diff_se"] < 0.5 * se_independent

    # the comparison's baseline is exactly the baseline run alone with the same seed
    pd.testing.assert_frame_equal(paired["fuling-baseline"].outcomes, a.outcomes)


def test_results_do_not_depend_on_chunking(tmp_path):
    scenario = sim.load_scenario(BASELINE)
    small_chunks = scenario.with_overrides({"monte_carlo.chunk_size": 7})
    one = sim.monte_carlo(scenario, 15, seed=8, backend="serial", progress=False,
                          out=tmp_path / "one")
    three = sim.monte_carlo(small_chunks, 15, seed=8, backend="serial", progress=False,
                            out=tmp_path / "three")
    assert len(list((tmp_path / "three" / "annual" / "main").glob("chunk-*.parquet"))) == 3
    pd.testing.assert_frame_equal(one.annual, three.annual)
    pd.testing.assert_frame_equal(one.targets(), three.targets())


# seisim sweep -------------------------------------------------------------------------------------
def test_sweep(tmp_path, capsys):
    out_dir = tmp_path / "sweep"
    code, out, err = cli(capsys, "sweep", SWEEP, "-n", "10", *FAST, "--out", out_dir)
    assert code == 0, err
    values = (0.5, 1.0, 2.0, 4.0, 8.0)
    labels = [f"fuling-fund-sweep[scale={v}]" for v in values]
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    # the scenario's own fund scale (1) is on the grid: no extra status quo point
    assert manifest["settings"]["labels"] == labels
    assert manifest["settings"]["replications"] == 10 and manifest["status"] == "complete"
    for label in labels:
        t = pd.read_csv(out_dir / label / "targets.csv")
        assert t.loc[t["p_met"].notna(), "replications"].eq(10).all()
    assert "vs the status quo (levers.fund.scale=1)" in out
    diffs = pd.read_csv(out_dir / "differences.csv")
    assert set(diffs["reference"]) == {labels[1]}
    assert list(diffs["scenario"].unique()) == [labels[0], *labels[2:]]
    total = diffs[diffs["target"] == "sei_output_2026"].set_index("scenario")["mean_diff"]
    assert total[labels[-1]] > 0  # 8 times the fund of the status quo

    curve = pd.read_csv(out_dir / "sweep.csv")
    share = curve[curve["target"] == "sei_output_share_2026"]
    assert list(share["levers.fund.scale"]) == list(values)
    assert share.set_index("label").loc[labels[1], "p_met_diff"] == 0
    # one curve chart and one table instead of plots and sections per point
    assert sorted(p.name for p in out_dir.rglob("*.png")) == ["sweep.png"]
    report = (out_dir / "report.md").read_text(encoding="utf-8")
    assert "| target | year | scale=0.5 | scale=1 (status quo) | scale=2 | scale=4 | scale=8 |" \
        in report
    row = next(line for line in report.splitlines() if line.startswith("| sei_output_share_2026 |"))
    cells = row.strip("| ").split(" | ")[2:]
    assert [float(c.split("%")[0]) / 100 for c in cells] == pytest.approx(list(share["p_met"]))
    targets = curve["target"].nunique()
    assert sum(line.startswith("| ") for line in report.splitlines()) == targets + 1  # + header
    assert len(report.splitlines()) < targets + 20  # not a section per point
    for link in report_links(out_dir):
        assert (out_dir / link).is_file(), link

    # `seisim report` rewrites the same sweep report, not a comparison's
    (out_dir / "report.md").unlink()
    code, again, err = cli(capsys, "report", out_dir)
    assert code == 0, err
    assert (out_dir / "report.md").read_text(encoding="utf-8") == report
    assert again.splitlines()[:-1] == out.splitlines()[:-2]  # the same summary


def test_sweep_needs_a_grid(tmp_path, capsys):
    code, _, err = cli(capsys, "sweep", BASELINE, "-n", "2", *FAST, "--out", tmp_path / "s")
    assert code == 2
    assert err.startswith("seisim: error: ") and "the scenario has no 'sweep:' grid" in err
    assert not (tmp_path / "s").exists()


# Reproducing a run, report formatting, the `outputs` section ------------------------------------
def test_stored_scenario_reproduces_the_run(runs, tmp_path, capsys):
    import yaml

    first = runs["first"]
    resolved = yaml.safe_load((first / "scenario.yaml").read_text(encoding="utf-8"))
    # the settings the run used (-n 20 --seed 3), not the scenario's own (1000, 20250101)
    assert resolved["monte_carlo"] == {"replications": 20, "seed": 3, "engine": "numba",
                                       "chunk_size": 100}
    assert "`seisim mc scenario.yaml --out NEW_DIR` reproduces these numbers" in \
        (first / "report.md").read_text(encoding="utf-8")
    # ... and following that advice (no -n or --seed) gives the same numbers
    again = tmp_path / "again"
    code, _, err = cli(capsys, "mc", first / "scenario.yaml", *FAST, "--no-plots", "--out", again)
    assert code == 0, err
    for name in ("targets.csv", "first_met.csv", "summary.txt", "scenario.yaml"):
        assert (again / name).read_bytes() == (first / name).read_bytes(), name
    for kind in ("annual", "outcomes"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(again / kind / "main" / "chunk-00000.parquet"),
            pd.read_parquet(first / kind / "main" / "chunk-00000.parquet"))


def test_report_prints_first_met_year_as_a_year():
    from sim.analysis.targets import summarize_targets
    from sim.outcomes import TargetSpec
    from sim.reporting.report import targets_markdown

    spec = TargetSpec(id="t", indicator="sei_output", scope="region", year=2026, threshold=1.0,
                      unit="亿元", qualifier="exact", kind="expected", source="doc", column="x")
    outcomes = pd.DataFrame({"replication": [0, 1, 2], "target": "t", "value": [2.0, 2.0, 2.0],
                             "first_met_year": [2022.0, 2022.0, 2023.0]})
    row = next(line for line in targets_markdown(summarize_targets(outcomes, [spec])).splitlines()
               if line.endswith("| `t` |"))
    assert "| 2022 |" in row and "2,022" not in row


def test_outputs_section_is_honoured(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(
        f"extends: {BASELINE}\nname: small\nmonte_carlo: {{replications: 3}}\n"
        "outputs: {dir: here, plots: false}\n", encoding="utf-8")
    code, _, err = cli(capsys, "mc", "s.yaml", *FAST)
    assert code == 0, err
    assert (tmp_path / "here" / "manifest.json").is_file()
    assert (tmp_path / "here" / "report.md").is_file()
    assert not list((tmp_path / "here").glob("*.png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here", "s.yaml"]  # no runs/
    # --out still wins over outputs.dir
    code, _, err = cli(capsys, "mc", "s.yaml", *FAST, "--out", tmp_path / "there")
    assert code == 0, err
    assert (tmp_path / "there" / "manifest.json").is_file()
    assert not list((tmp_path / "there").glob("*.png"))


@pytest.mark.parametrize("n", ["0", "-5"])
def test_replications_below_one_are_refused(tmp_path, capsys, n):
    from sim.cli import main

    out = tmp_path / "run"
    assert main(["mc", "fuling", "-n", n, "--out", str(out), "--no-progress"]) == 2
    assert f"replications must be between 1 and 10,000,000 (got {n})" in capsys.readouterr().err
    assert not out.exists()

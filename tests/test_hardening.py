"""Regression tests for results that must never be stale, foreign or silently short: damaged chunks,
foreign run or analysis directories, corrupt markers and manifests. Each starts from a reproducer
of a failure found by trying the tool as a hostile user would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "fuling-baseline.yaml")
FUND = str(ROOT / "scenarios" / "fuling-district-fund.yaml")
FAST = ["--backend", "serial"]
CHUNKED = Path(__file__).resolve().parent / "data" / "fuling-chunked.yaml"
MC = ["mc", CHUNKED, "-n", "20", "--seed", "3", *FAST, "--no-progress", "--no-plots"]


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run = tmp_path_factory.mktemp("hardening") / "run"
    assert main([str(a) for a in MC + ["--out", run]]) == 0
    return run


def fresh_copy(finished, tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(finished, run, ignore=shutil.ignore_patterns(".lock", ".lock-holder"))
    return run


def replications_counted(run: Path) -> set[int]:
    targets = pd.read_csv(run / "targets.csv")
    return set(targets.loc[targets["p_met"].notna(), "replications"].astype(int))


@pytest.mark.parametrize("damage", ["delete chunk", "truncate chunk", "truncate marker",
                                    "empty marker"])
def test_resume_recomputes_damaged_chunks(finished, tmp_path, capsys, damage):
    run = fresh_copy(finished, tmp_path)
    chunk = run / "annual" / "main" / "chunk-00002.parquet"
    marker = run / "done" / "main" / "chunk-00002.json"
    if damage == "delete chunk":
        chunk.unlink()
    elif damage == "truncate chunk":
        chunk.write_bytes(chunk.read_bytes()[:100])
    elif damage == "truncate marker":
        marker.write_text(marker.read_text()[:10])
    else:
        marker.write_text("")
    code, out, err = cli(capsys, *MC, "--resume", "--out", run)
    assert code == 0, err
    assert "recomputing 1 damaged or incomplete chunk(s)" in err and "[2]" in err
    assert replications_counted(run) == {20}  # every replication counted, none twice
    assert (run / "targets.csv").read_bytes() == (finished / "targets.csv").read_bytes()


def test_damaged_chunk_is_not_counted_by_readers(finished, tmp_path):
    from sim.experiments.store import RunStore

    run = fresh_copy(finished, tmp_path)
    (run / "outcomes" / "main" / "chunk-00001.parquet").unlink()
    store = RunStore(run)
    assert store.completed_chunks("") == {0, 2, 3}
    assert store.replications_done("") == 15
    assert sorted(store.read_outcomes("")["replication"].unique()) == [
        *range(0, 5), *range(10, 20)]


def test_resume_refuses_a_corrupt_or_foreign_manifest(finished, tmp_path, capsys):
    run = fresh_copy(finished, tmp_path)
    (run / "manifest.json").write_text("{not json", encoding="utf-8")
    code, out, err = cli(capsys, *MC, "--resume", "--out", run)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "manifest.json is damaged" in err
    (run / "manifest.json").write_text(json.dumps({"hello": 1}), encoding="utf-8")
    code, _, err = cli(capsys, *MC, "--resume", "--out", run)
    assert code == 2 and "not a seisim run manifest" in err and err.count("\n") == 1


def test_resume_refuses_other_library_versions(finished, tmp_path, capsys):
    run = fresh_copy(finished, tmp_path)
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["versions"]) >= {"seisim", "python", "numpy", "numba"}
    assert manifest["command"]  # how the run was started
    assert manifest["parameter_sets"]  # name and content hash of every set used
    manifest["versions"]["numba"] = "0.0.1"
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    code, _, err = cli(capsys, *MC, "--resume", "--out", run)
    assert code == 2 and "versions differ" in err and "numba" in err


SOLVE = ["solve", FUND, "--target", "sei_output_share_2026", "--replications", "4", "--low", "1",
         "--high", "2", *FAST]


def test_analysis_never_writes_into_a_user_directory(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.md").write_text("my own notes", encoding="utf-8")
    for command in (SOLVE, ["sensitivity", BASELINE, "--samples", "2", "--replications", "1",
                            "--factor", "levers.talent.supply=0.8:1.2", *FAST]):
        code, out, err = cli(capsys, *command, "--out", mine)
        assert code == 2 and err.count("\n") == 1 and "was not made by this" in err, err
    assert [p.name for p in mine.iterdir()] == ["report.md"]
    assert (mine / "report.md").read_text(encoding="utf-8") == "my own notes"


def test_analysis_refuses_a_directory_of_another_lever(tmp_path, capsys):
    out = tmp_path / "solve"
    code, first, err = cli(capsys, *SOLVE, "--lever", "fund.scale", "--out", out)
    assert code == 0, err
    curve = (out / "curve.csv").read_bytes()
    # The same question again reuses the finished evaluations and gives the same answer.
    code, again, err = cli(capsys, *SOLVE, "--lever", "fund.scale", "--out", out)
    assert code == 0, err
    assert (out / "curve.csv").read_bytes() == curve
    # Another lever into the same directory would report the first lever's chunks: refused.
    code, _, err = cli(capsys, *SOLVE, "--lever", "talent.supply", "--out", out)
    assert code == 2 and err.count("\n") == 1
    assert "different solve" in err and "lever" in err
    assert (out / "curve.csv").read_bytes() == curve


def test_out_naming_a_file_is_one_line(tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("x", encoding="utf-8")
    code, _, err = cli(capsys, *SOLVE, "--out", target)
    assert code == 2 and err.count("\n") == 1 and "names a file" in err


@pytest.mark.parametrize("name", ["{victim}", "../escape", "a/b", ".hidden", "x" * 101])
def test_scenario_names_cannot_become_paths(tmp_path, capsys, name):
    victim = tmp_path / "victim"
    victim.mkdir()
    scenario = tmp_path / "evil.yaml"
    scenario.write_text(f"extends: {BASELINE}\nname: '{name.format(victim=victim)}'\n",
                        encoding="utf-8")
    code, out, err = cli(capsys, "compare", BASELINE, scenario, "-n", "2", *FAST, "--no-progress",
                         "--out", tmp_path / "run")
    assert code == 2 and err.count("\n") == 1, err
    assert "evil.yaml:2: name:" in err and "folder name" in err
    assert list(victim.iterdir()) == [] and not (tmp_path / "run").exists()


BOMB = """\
name: bomb
region: fuling
a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


@pytest.mark.parametrize("text, problem", [
    (BOMB, "aliases expanding without bound"),
    ("name: x\nregion: fuling\nx: &a [*a]\n", "recursive alias"),
    ("name: x\nregion: fuling\nx: " + "[" * 900 + "]" * 900 + "\n", "nested"),
    ("name: x\x00y\nregion: fuling\n", "not allowed"),
    ("name: x\x07y\nregion: fuling\n", "not allowed"),
])
def test_hostile_yaml_is_one_line(tmp_path, capsys, text, problem):
    scenario = tmp_path / "hostile.yaml"
    scenario.write_text(text, encoding="utf-8")
    code, out, err = cli(capsys, "run", scenario)
    assert code == 2 and err.count("\n") == 1, err
    assert "hostile.yaml" in err and problem in err


def test_extends_chain_is_bounded(tmp_path, capsys):
    (tmp_path / "s0.yaml").write_text(f"extends: {BASELINE}\nname: s0\n", encoding="utf-8")
    for k in range(1, 30):
        (tmp_path / f"s{k}.yaml").write_text(f"extends: s{k - 1}.yaml\n", encoding="utf-8")
    code, _, err = cli(capsys, "run", tmp_path / "s29.yaml")
    assert code == 2 and err.count("\n") == 1 and "extend each other" in err


@pytest.mark.parametrize("body, problem", [
    ("levers: {fund: {allocation: {new_materials: 0}}}", "weights must not all be zero"),
    ("levers: {parks: {expansion: {all: -2}}}", "cannot lose more than all its land"),
    ("sweep: {levers.fund.scale: []}", "lists no values"),
    ("params: {funds: {deployment_lag: .inf}}", "finite number"),
])
def test_invalid_levers_are_one_line(tmp_path, capsys, body, problem):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"extends: {BASELINE}\nname: s\n{body}\n", encoding="utf-8")
    code, _, err = cli(capsys, "run", scenario)
    assert code == 2 and err.count("\n") == 1 and "s.yaml:3:" in err and problem in err, err


@pytest.mark.parametrize("args, problem", [
    (["-n", "100000000000"], "between 1 and 10,000,000"),
    (["--workers", "-1"], "--workers must be at least 1"),
])
def test_bad_run_options_leave_nothing_behind(tmp_path, capsys, args, problem):
    out = tmp_path / "run"
    code, _, err = cli(capsys, "mc", BASELINE, *args, *FAST, "--no-progress", "--out", out)
    assert code == 2 and err.count("\n") == 1 and problem in err
    assert not out.exists()


def test_mc_out_naming_a_file_is_one_line(tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("x", encoding="utf-8")
    code, _, err = cli(capsys, "mc", BASELINE, "-n", "2", *FAST, "--out", target)
    assert code == 2 and err.count("\n") == 1 and "names a file" in err
    assert target.read_text(encoding="utf-8") == "x"


def test_plan_share_of_zero_is_one_line(tmp_path, capsys):
    text = (ROOT / "seeds" / "fuling.yaml").read_text(encoding="utf-8")
    marker = "    indicator: sei_output_share\n"
    start = text.index(marker)
    value_at = text.index("    value: ", start)
    end = text.index("\n", value_at)
    (tmp_path / "fuling.yaml").write_text(text[:value_at] + "    value: 0" + text[end:],
                                          encoding="utf-8")
    code, out, _ = cli(capsys, "plan", "check", tmp_path / "fuling.yaml")
    assert code == 1 and "cannot size an industry" in out
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"name: s\nregion: {tmp_path / 'fuling.yaml'}\n", encoding="utf-8")
    code, _, err = cli(capsys, "run", scenario)
    assert code == 2 and err.count("\n") == 1 and "cannot size an industry" in err, err


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_workers_exit_when_the_driver_is_killed(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    driver = subprocess.Popen(
        [sys.executable, "-c", "import sys; from sim.cli import main; sys.exit(main(sys.argv[1:]))",
         "mc", BASELINE, "-n", "100000", "--workers", "2", "--no-progress", "--no-plots",
         "--out", str(run)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not list((run / "done").rglob("chunk-*.json")):
            time.sleep(0.5)
        workers = [p for p in _children(driver.pid)]
        assert workers, "the driver started no worker processes"
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    deadline = time.time() + 20
    alive = workers
    while alive and time.time() < deadline:
        time.sleep(0.5)
        alive = [p for p in workers if Path(f"/proc/{p}").exists()
                 and "Z" not in Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]]
    for p in alive:  # do not leave them behind even if the test fails
        os.kill(p, signal.SIGKILL)
    assert not alive, f"workers {alive} outlived the driver"


def test_ctrl_c_keeps_finished_chunks_and_prints_the_resume_command(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    args = ["mc", str(CHUNKED), "-n", "4000", "--backend", "serial", "--no-progress",
            "--no-plots", "--out", str(run)]
    # As in a terminal: a job started in the background (as CI may start this suite) inherits an
    # ignored SIGINT, so the driver restores Python's handler first.
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from sim.cli import main; sys.exit(main(sys.argv[1:]))")
    driver = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list((run / "done").rglob("chunk-*.json")):
        time.sleep(0.2)
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=60)
    assert driver.returncode == 130, err
    assert "Traceback" not in err and err.count("\n") == 1
    assert f"finished chunks are kept in {run}" in err
    assert err.strip().endswith(f"--resume --out {run}")
    assert "seisim mc " in err and "--out " + str(run) + " --resume" not in err
    assert list((run / "done").rglob("chunk-*.json"))  # finished work is still there


def test_ctrl_c_in_an_analysis_names_the_command_that_continues_it(tmp_path):
    """An interrupted sensitivity analysis keeps its finished chunks; rerunning the same command
    into the same directory reuses them, and the message says exactly that command."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "sens"
    args = ["sensitivity", str(ROOT / "scenarios" / "chongqing-baseline.yaml"), "--samples", "64",
            "--replications", "16", "--backend", "serial", "--out", str(out)]
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from sim.cli import main; sys.exit(main(sys.argv[1:]))")
    driver = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while time.time() < deadline and not list((out / "replications" / "done").rglob("*.json")):
        time.sleep(0.2)
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=60)
    assert driver.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err
    assert last.startswith(f"seisim: interrupted; finished work is kept in {out}; continue "
                           "with: seisim sensitivity ")
    assert last.endswith(f"--out {out}") and "--resume" not in last
    assert list((out / "replications" / "done").rglob("chunk-*.json"))


@pytest.mark.parametrize("key", ["steps_per_year", "funds.recycle"])
def test_discrete_parameters_take_no_distribution(tmp_path, capsys, key):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"extends: {BASELINE}\nname: s\nuncertainties:\n  {key}: "
                        "{dist: uniform, low: 1, high: 8}\n", encoding="utf-8")
    code, _, err = cli(capsys, "run", scenario)
    assert code == 2 and err.count("\n") == 1 and "s.yaml:4:" in err
    assert "no distribution to draw from" in err


@pytest.mark.parametrize("command", ["mc", "run"])
def test_negative_seed_is_one_line(tmp_path, capsys, command):
    out = tmp_path / "run"
    extra = ["-n", "2", "--out", out, *FAST, "--no-progress"] if command == "mc" else []
    code, _, err = cli(capsys, command, BASELINE, "--seed", "-3", *extra)
    assert code == 2 and err.count("\n") == 1 and "seed must be a whole number >= 0" in err
    assert not out.exists()


def test_report_names_and_hashes_the_parameter_sets_used(finished):
    manifest = json.loads((finished / "manifest.json").read_text(encoding="utf-8"))
    report = (finished / "report.md").read_text(encoding="utf-8")
    for entry in manifest["parameter_sets"].values():
        assert f"set `{entry['name']}`" in report
        assert f"content hash {entry['sha256'][:12]}" in report


def test_a_rate_written_as_a_percent_is_refused(tmp_path, capsys):
    # 5 meaning 5%: refused by the parameter's range instead of overflowing the run.
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"extends: {BASELINE}\nname: s\nparams: {{economy: {{nonsei_growth: 5}}}}\n",
                        encoding="utf-8")
    code, _, err = cli(capsys, "run", scenario)
    assert code == 2 and err.count("\n") == 1 and "less than or equal to 1" in err


def test_non_finite_results_fail_the_replication():
    import numpy as np

    from sim.engines.state import FirmState, finish_run

    inputs = sim_inputs()
    n_years = len(inputs.years)
    arrays = [np.ones((n_years, 3)) for _ in range(4)] + [np.zeros((0, 0))]
    arrays[0][2, 1] = np.inf
    with pytest.raises(InputError, match=f"not finite from {inputs.years[2]} on"):
        finish_run(inputs, FirmState.empty(4), arrays)


def sim_inputs():
    from sim.api import as_inputs

    return as_inputs("fuling", end_year=2023)


def test_unreachable_dask_scheduler_is_one_line(tmp_path, capsys):
    pytest.importorskip("distributed")
    out = tmp_path / "run"
    code, _, err = cli(capsys, "mc", BASELINE, "-n", "2", "--backend", "dask", "--address",
                       "tcp://127.0.0.1:9", "--no-progress", "--out", out)
    assert code == 2 and err.count("\n") == 1 and "cannot reach the Dask scheduler" in err
    assert not out.exists()

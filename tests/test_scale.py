"""Monte Carlo at scale (``sim.experiments``): identical results on every backend and chunk size,
streamed Parquet chunks, resume after SIGKILL, the run-directory lock, settings checks on resume,
and failing replications reported with their seeds.

Small scenarios (Fuling baseline, tens to a few hundred replications, small chunks) keep the whole
module to about a minute on two cores; the real ``seisim`` command runs in subprocesses where the
behaviour under test is about processes (kill, lock, exit codes).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.errors import InputError
from sim.experiments.seeding import parameter_rng
from sim.experiments.store import RunStore, file_digest
from sim.reporting.results import load_result
from sim.scenarios import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "scenarios" / "fuling-baseline.yaml"
SEISIM = Path(sys.executable).parent / "seisim"
SEED = 424242

# two Dask clusters at once (ours and one a backend starts) both try the default HTTP port
pytestmark = pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning")


def scenario_file(directory: Path, name: str, *, chunk_size: int, replications: int = 60,
                  seed: int = SEED, extra: str = "") -> Path:
    """A scenario extending the repository's Fuling baseline by absolute path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(
        f"extends: {BASE}\n"
        f"name: {name}\n"
        f"monte_carlo: {{replications: {replications}, seed: {seed}, chunk_size: {chunk_size}}}\n"
        + extra, encoding="utf-8")
    return path


#: a harmless uncertain parameter, so the per-replication parameter stream is exercised too
UNCERTAIN = "uncertainties:\n  firms.sigma: {dist: uniform, low: 0.15, high: 0.30}\n"
#: base-year GDP drawn between 100 and 400 亿元: a valid parameter value each time (gt=0), so the
#: scenario loads, but about a third of the draws fall below Fuling's SEI value added (204 亿元),
#: which compiling the model inputs rejects, so those replications fail one by one.
FAILING = "uncertainties:\n  economy.gdp: {dist: uniform, low: 400, high: 800}\n"


def sorted_annual(result) -> pd.DataFrame:
    return result.annual.sort_values(["replication", "year"]).reset_index(drop=True)


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """The installed ``seisim`` console script, as a user runs it."""
    return subprocess.run([str(SEISIM), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


def tree_state(directory: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every file under ``directory``, by relative path."""
    out = {}
    for root, _, files in os.walk(directory):
        for name in files:
            p = Path(root) / name
            st = p.stat()
            out[str(p.relative_to(directory))] = (st.st_ino, st.st_mtime_ns)
    return out


def temp_files(directory: Path) -> list[str]:
    return [os.path.join(root, f) for root, _, files in os.walk(directory)
            for f in files if f.endswith(".tmp")]


# -- identical results on every backend ----------------------------------------------------------
@pytest.fixture(scope="module")
def scale_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("scale")


@pytest.fixture(scope="module")
def uncertain_scenario(scale_dir) -> Path:
    # 60 replications in chunks of 7: 9 chunks, the last one short
    return scenario_file(scale_dir / "sc", "fuling-scale", chunk_size=7, extra=UNCERTAIN)


@pytest.fixture(scope="module")
def serial_result(uncertain_scenario, scale_dir):
    return sim.monte_carlo(str(uncertain_scenario), backend="serial",
                           out=scale_dir / "serial", progress=False)


def assert_same_results(result, reference) -> None:
    pd.testing.assert_frame_equal(sorted_annual(result), sorted_annual(reference))
    pd.testing.assert_frame_equal(result.targets(), reference.targets())
    assert result.replications == reference.replications


def test_serial_reference_is_complete(serial_result):
    annual = serial_result.annual
    assert serial_result.replications == 60
    assert sorted(annual["replication"].unique()) == list(range(60))
    assert serial_result.failures == []
    assert serial_result.store.manifest()["status"] == "complete"
    assert serial_result.targets()["p_met"].notna().any()


def test_processes_two_workers_identical_to_serial(uncertain_scenario, scale_dir, serial_result):
    result = sim.monte_carlo(str(uncertain_scenario), backend="processes", workers=2,
                             out=scale_dir / "processes", progress=False)
    assert result.store.manifest()["backend"] == "processes"
    assert_same_results(result, serial_result)


def test_workers_start_before_the_first_chunk_only_when_a_pool_runs_it():
    from sim.experiments import backends

    backends.close_worker_pools(wait=True)
    # a Dask scheduler of the user's (address) is left alone: not even connected to here
    for backend, workers, chunks, address in (("serial", 2, 5, None), ("processes", 1, 5, None),
                                              ("processes", 2, 1, None),
                                              ("dask", 2, 5, "tcp://192.0.2.1:8786")):
        backends.start_workers(backend, workers, chunks, address)
        assert not backends._POOLS, (backend, workers, chunks)
    backends.start_workers("processes", 3, 5)
    ((pool, _),) = backends._POOLS.values()
    # the driver is one of the 3 workers: two warm-up tasks were handed out, one process each
    # (spawned on demand)
    assert len(pool._processes) == 2
    backends.close_worker_pools(wait=True)


def computed_where(task: tuple[int, float]) -> tuple[int, int]:
    """A task for the processes backend: (its index, the id of the process that ran it)."""
    index, seconds = task
    time.sleep(seconds)
    return index, os.getpid()


def test_the_driver_is_one_of_the_processes_workers():
    from sim.experiments import backends

    backends.close_worker_pools(wait=True)
    try:
        # a new pool: its process takes seconds to start, so the driver computes short tasks
        # itself rather than hand them to a process that is not running yet
        ran = list(backends.execute([(0, 0.01), (1, 0.01)], "processes", 2, func=computed_where))
        assert sorted(ran) == [(0, os.getpid()), (1, os.getpid())]
        # once the pool runs, the tasks are shared: each computed once, some by the driver and
        # some by the pool's one process
        ((pool, _),) = backends._POOLS.values()
        pool.submit(backends.import_chunk_modules).result()
        ran = list(backends.execute([(i, 0.1) for i in range(16)], "processes", 2,
                                    func=computed_where))
        assert sorted(index for index, _ in ran) == list(range(16))
        (worker,) = pool._processes
        assert {pid for _, pid in ran} == {os.getpid(), worker}
    finally:
        backends.close_worker_pools(wait=True)


def test_the_driver_is_one_of_the_workers_of_the_local_dask_cluster():
    from sim.experiments import backends

    def where(task):  # pickled by value for the Dask worker
        import os
        import time

        time.sleep(task[1])
        return task[0], os.getpid()

    backends.close_worker_pools(wait=True)
    try:
        client = backends.local_cluster(1)  # kept and warm, as a session's second run finds it
        client.submit(backends.import_chunk_modules, pure=False).result()
        ran = list(backends.execute([(i, 0.1) for i in range(12)], "dask", 2, func=where))
        assert sorted(index for index, _ in ran) == list(range(12))
        (worker,) = client.run(os.getpid).values()
        assert {pid for _, pid in ran} == {os.getpid(), worker}
        assert backends.local_cluster(1) is client  # 2 workers: the driver and this cluster's one
    finally:
        backends.close_worker_pools(wait=True)


def test_the_pool_gets_two_tasks_per_process_until_fewer_are_left_than_workers():
    from concurrent.futures import Future

    from sim.experiments import backends

    class Pool:  # hands out futures the test completes, as a pool process would
        def __init__(self):
            self.handed = []

        def submit(self, task):
            future = Future()
            future.set_running_or_notify_cancel()
            self.handed.append((task, future))
            return future

    pool, started = Pool(), Future()
    feeder = backends._PoolFeeder(pool.submit, list(range(6)), [started], workers=2)
    assert pool.handed == [] and feeder.next_step() == (None, 0)  # not started: driver computes
    started.set_result(None)  # the pool's process has started: the one it runs and the next
    assert [task for task, _ in pool.handed] == [1, 2]
    pool.handed[0][1].set_result("one")  # topped up as it finishes, whatever the driver does
    assert [task for task, _ in pool.handed] == [1, 2, 3]
    finished, task = feeder.next_step()
    assert (finished.result(), task) == ("one", None)  # results are passed on first
    assert feeder.next_step() == (None, 4)
    # one task left, fewer than the 2 workers: it goes to whichever is free first, not to the
    # pool's queue behind task 3
    pool.handed[1][1].set_result("two")
    assert [task for task, _ in pool.handed] == [1, 2, 3]
    assert feeder.next_step()[0].result() == "two"
    assert feeder.next_step() == (None, 5)
    pool.handed[2][1].set_result("three")
    assert feeder.next_step()[0].result() == "three"
    assert feeder.next_step() is None

    def broken(task):
        raise RuntimeError("cannot schedule new futures after shutdown")

    done = Future()
    done.set_result(None)
    feeder = backends._PoolFeeder(broken, [0, 1, 2], [done], workers=2)
    with pytest.raises(RuntimeError, match="after shutdown"):
        feeder.next_step()


def test_a_task_failing_in_the_driver_stops_the_run_and_its_pool():
    import math

    from sim.experiments import backends

    backends.close_worker_pools(wait=True)
    with pytest.raises(ValueError, match="math domain error"):
        list(backends.execute([4.0, -1.0, 9.0], "processes", 2, func=math.sqrt))
    assert not backends._POOLS


def test_start_workers_starts_the_local_dask_cluster_and_its_imports():
    from sim.experiments import backends

    backends.close_worker_pools(wait=True)
    try:
        # Dask runs even one chunk on its cluster; with 3 workers, the driver and 2 processes
        backends.start_workers("dask", 3, 1)
        # it starts in the background, and the run's call takes that cluster over
        assert [t.name for t in backends._STARTING] == ["seisim-dask-start"]
        client = backends.local_cluster(2)
        assert not backends._STARTING
        ((key, (kept, _)),) = backends._POOLS.items()
        assert key[:2] == ("dask", 2) and kept is client
        assert len(client.scheduler_info()["workers"]) == 2
        # every worker imports what a chunk needs, without a chunk having been handed out
        deadline = time.monotonic() + 60
        while not all(client.run(lambda: "pyarrow.parquet" in sys.modules).values()):
            assert time.monotonic() < deadline, "the workers never imported the chunk modules"
            time.sleep(0.1)
        # the workers and the scheduler run with the cluster's settings (no profiler, slower
        # monitors), and this process's own Dask settings are left as they were
        import dask

        settings = backends.LOCAL_CLUSTER_CONFIG
        seen = client.run(lambda: {key: dask.config.get(key) for key in settings})
        assert list(seen.values()) == [settings, settings]
        assert client.run_on_scheduler(lambda dask_scheduler: dask_scheduler._tick_interval) == 1.0
        assert {n.memory_manager.memory_monitor_interval for n in client.cluster.workers.values()
                } == {1.0}
        assert dask.config.get("distributed.worker.profile.enabled") is True
        # a kept cluster is not started again
        backends.start_workers("dask", 3, 1)
        assert not backends._STARTING and backends.local_cluster(2) is client
    finally:
        backends.close_worker_pools(wait=True)


def test_a_failed_background_start_is_reported_by_the_run(monkeypatch):
    from sim.experiments import backends

    def unavailable():
        raise InputError("no cluster here")

    backends.close_worker_pools(wait=True)
    monkeypatch.setattr(backends, "_distributed", unavailable)
    backends.start_workers("dask", 2, 1)  # returns; the error waits for the run
    with pytest.raises(InputError, match="no cluster here"):
        backends.local_cluster(2)
    assert not backends._POOLS and not backends._STARTING


@pytest.fixture(scope="module")
def cluster():
    """A real two-worker Dask cluster, one thread per worker, as ``dask worker`` would start."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        yield cluster


def test_dask_on_existing_local_cluster_identical_to_serial(uncertain_scenario, scale_dir,
                                                             serial_result, cluster):
    from distributed import Client

    with Client(cluster.scheduler_address) as client:
        client.get_task_stream()  # start recording every task the scheduler runs
        result = sim.monte_carlo(str(uncertain_scenario), backend="dask",
                                 address=cluster.scheduler_address, out=scale_dir / "dask-addr",
                                 progress=False)
        stream = [t for t in client.get_task_stream() if t["key"].startswith("run_chunk")]
    assert result.store.manifest()["backend"] == "dask"
    assert_same_results(result, serial_result)
    # every one of the 9 chunks ran as a task on the cluster's workers, not in this process
    assert len(stream) == 9
    assert {t["worker"] for t in stream} <= set(cluster.scheduler_info["workers"])


def test_cli_dask_address_identical_to_serial(uncertain_scenario, scale_dir, serial_result,
                                              cluster):
    run = scale_dir / "dask-cli"
    proc = cli("mc", str(uncertain_scenario), "--out", str(run), "--backend", "dask",
               "--address", cluster.scheduler_address, "--no-progress", "--no-plots")
    assert proc.returncode == 0, proc.stderr
    assert_same_results(load_result(run), serial_result)


def test_relative_run_dir_with_workers_in_another_directory(tmp_path, monkeypatch):
    from distributed import LocalCluster

    sc = scenario_file(tmp_path / "sc", "fuling-rel", chunk_size=3, replications=6)
    (tmp_path / "workers").mkdir()
    (tmp_path / "driver").mkdir()
    monkeypatch.chdir(tmp_path / "workers")  # where the workers start, as a remote `dask worker`
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        monkeypatch.chdir(tmp_path / "driver")
        result = sim.monte_carlo(str(sc), backend="dask", address=cluster.scheduler_address,
                                 out="relative-run", progress=False)
        status = result.store.manifest()["status"]
        replications = result.replications
    assert not (tmp_path / "workers" / "relative-run").exists()
    assert (replications, status) == (6, "complete")


def test_dask_runs_of_a_session_share_one_local_cluster(uncertain_scenario, scale_dir,
                                                        serial_result):
    from sim.experiments import backends

    backends.close_worker_pools(wait=True)
    try:
        clusters = []
        for run in ("dask-local-1", "dask-local-2"):
            # 3 workers: the driver and a cluster of 2
            result = sim.monte_carlo(str(uncertain_scenario), backend="dask", workers=3,
                                     out=scale_dir / run, progress=False)
            assert_same_results(result, serial_result)
            # the driver computes while the cluster starts in the background (a run this short
            # may finish first); the next call takes the cluster the run started
            client = backends.local_cluster(2)
            assert len(backends._POOLS) == 1
            clusters.append((client, client.scheduler.address,
                             sorted(client.scheduler_info()["workers"])))
        # the second run found the first run's cluster, scheduler and worker processes running
        assert clusters[1][0] is clusters[0][0] and clusters[1][0].status == "running"
        assert clusters[1][1:] == clusters[0][1:]
        assert len(clusters[0][2]) == 2
    finally:
        backends.close_worker_pools(wait=True)


def test_local_dask_cluster_is_replaced_when_what_workers_inherit_changes(monkeypatch):
    from sim.experiments import backends

    backends.close_worker_pools(wait=True)
    try:
        first = backends.local_cluster(1)
        assert backends.local_cluster(1) is first
        monkeypatch.setenv("SEISIM_TEST_CLUSTER_KEY", "changed")
        second = backends.local_cluster(1)
        assert second is not first and first.status == "closed"
        assert first.cluster.status.name == "closed"
        third = backends.local_cluster(2)
        assert second.status == "closed" and len(third.scheduler_info()["workers"]) == 2
        # one set of kept workers at a time: a process pool replaces the cluster
        backends.worker_pool(2)
        assert third.status == "closed" and third.cluster.status.name == "closed"
        assert [key[0] for key in backends._POOLS] == ["processes"]
    finally:
        backends.close_worker_pools(wait=True)


def test_closing_the_worker_pools_closes_the_local_dask_cluster():
    from sim.experiments import backends

    backends.close_worker_pools(wait=True)
    client = backends.local_cluster(1)
    workers = list(client.cluster.workers.values())
    backends.close_worker_pools()
    assert not backends._POOLS
    assert client.status == "closed" and client.cluster.status.name == "closed"
    assert all(w.status.name == "closed" for w in workers)


def test_a_failed_dask_run_closes_the_local_cluster():
    import math

    from sim.experiments import backends

    backends.close_worker_pools(wait=True)
    client = backends.local_cluster(1)
    with pytest.raises(ValueError, match="math domain error"):
        list(backends.execute([4.0, -1.0, 9.0], "dask", 1, func=math.sqrt))
    assert not backends._POOLS
    assert client.status == "closed" and client.cluster.status.name == "closed"


def test_python_exits_cleanly_with_a_kept_local_dask_cluster(tmp_path):
    code = ("import sim; sim.monte_carlo(sim.load_scenario(%r), 20, 1, backend='dask', "
            "workers=1, progress=False, out=%r)" % (str(BASE), str(tmp_path / "run")))
    start = time.monotonic()
    # the warning when another cluster (this module's) holds the default HTTP port is not at issue
    proc = subprocess.run([sys.executable, "-W", "ignore:Port 8787 is already in use:UserWarning",
                           "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert time.monotonic() - start < 60


def test_results_do_not_depend_on_chunk_size(scale_dir, serial_result):
    big = scenario_file(scale_dir / "sc50", "fuling-scale", chunk_size=50, extra=UNCERTAIN)
    result = sim.monte_carlo(str(big), backend="serial", out=scale_dir / "chunk50",
                             progress=False)
    assert len(list((scale_dir / "chunk50" / "annual" / "main").glob("chunk-*.parquet"))) == 2
    assert len(list((scale_dir / "serial" / "annual" / "main").glob("chunk-*.parquet"))) == 9
    pd.testing.assert_frame_equal(sorted_annual(result), sorted_annual(serial_result))
    pd.testing.assert_frame_equal(result.outcomes.sort_values(["replication", "target"])
                                  .reset_index(drop=True),
                                  serial_result.outcomes.sort_values(["replication", "target"])
                                  .reset_index(drop=True))


def test_annual_rows_stream_to_one_parquet_file_per_chunk(serial_result):
    run = serial_result.run_dir
    chunks = [(k, tuple(range(s, min(s + 7, 60)))) for k, s in enumerate(range(0, 60, 7))]
    for kind in ("annual", "outcomes"):
        files = sorted((run / kind / "main").glob("chunk-*.parquet"))
        assert [f.name for f in files] == [f"chunk-{k:05d}.parquet" for k, _ in chunks]
    for k, reps in chunks:
        part = pd.read_parquet(run / "annual" / "main" / f"chunk-{k:05d}.parquet")
        assert tuple(sorted(part["replication"].unique())) == reps
        done = json.loads((run / "done" / "main" / f"chunk-{k:05d}.json").read_text())
        assert (done["replications"], done["failures"]) == (len(reps), 0)
        # the marker carries each file's checksum, which --resume verifies
        assert done["files"] == {
            f"{kind}/main/chunk-{k:05d}.parquet": file_digest(run / kind / "main" /
                                                             f"chunk-{k:05d}.parquet")
            for kind in ("annual", "outcomes")}
    # every file was written under a temporary name and renamed: nothing half-written is left
    assert temp_files(run) == []
    assert (run / "scenario.yaml").is_file()


def test_result_is_a_lazy_view_of_the_run_directory(serial_result):
    reopened = load_result(serial_result.run_dir)
    assert "annual" not in vars(reopened)  # nothing read until asked
    pd.testing.assert_frame_equal(reopened.annual, serial_result.annual)


# -- refusing to mix runs -------------------------------------------------------------------------
def test_existing_run_dir_needs_resume_and_same_settings(uncertain_scenario, serial_result,
                                                         capsys):
    run = str(serial_result.run_dir)
    before = tree_state(serial_result.run_dir)
    base = ["mc", str(uncertain_scenario), "--out", run, "--backend", "serial", "--no-progress",
            "--no-plots"]

    assert main(base) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "already holds a run" in err and "--resume" in err

    assert main(base + ["--resume", "--seed", str(SEED + 1)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "differ" in err and run in err

    assert main(base + ["--resume", "-n", "61"]) == 2
    assert "differ" in capsys.readouterr().err

    with pytest.raises(sim.errors.InputError, match="differ"):
        sim.monte_carlo(str(uncertain_scenario), backend="serial", out=run, resume=True,
                        progress=False, seed=SEED + 1)
    # a refused command touched nothing
    assert tree_state(serial_result.run_dir) == before


def test_resume_of_a_complete_run_recomputes_nothing(uncertain_scenario, scale_dir,
                                                     serial_result):
    from sim.reporting.results import copy_run

    run = copy_run(serial_result.run_dir, scale_dir / "complete-copy")
    chunks = {k: v for k, v in tree_state(run).items() if k.startswith(("annual", "outcomes",
                                                                         "done"))}
    result = sim.monte_carlo(str(uncertain_scenario), backend="serial", out=run, resume=True,
                             progress=False)
    after = tree_state(run)
    assert {k: after[k] for k in chunks} == chunks
    assert_same_results(result, serial_result)


def test_resume_lists_the_done_chunks_once(uncertain_scenario, scale_dir, serial_result,
                                           monkeypatch):
    from sim.reporting.results import copy_run

    run = copy_run(serial_result.run_dir, scale_dir / "complete-copy-2")
    calls = []
    original = RunStore.completed_chunks

    def counted(self, label):
        calls.append(label)
        return original(self, label)

    monkeypatch.setattr(RunStore, "completed_chunks", counted)
    sim.monte_carlo(str(uncertain_scenario), backend="serial", out=run, resume=True,
                    progress=False)
    assert len(calls) <= 2, f"done/ listed {len(calls)} times for 9 chunks"


def test_lock_held_by_another_process_stops_a_second_run(uncertain_scenario, serial_result):
    run = serial_result.run_dir
    holder = RunStore(run)
    holder.lock()
    try:
        proc = cli("mc", str(uncertain_scenario), "--out", str(run), "--resume", "--backend",
                   "serial", "--no-progress", "--no-plots")
    finally:
        holder.unlock()
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("seisim: error:") and str(run) in err and "in use" in err
    assert f"pid {os.getpid()}" in err
    assert "Traceback" not in proc.stderr


def test_a_second_run_into_a_directory_in_use_is_refused(scale_dir):
    # Long enough that the first run is still going when the second one asks, even on a loaded
    # machine; it is killed at the end.
    sc = scenario_file(scale_dir / "busy", "fuling-busy", chunk_size=20, replications=100_000)
    run = scale_dir / "busy-run"
    args = ["mc", str(sc), "--out", str(run), "--backend", "serial", "--no-progress",
            "--no-plots"]
    first = subprocess.Popen([str(SEISIM), *args], cwd=ROOT, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (run / "manifest.json").is_file():
            assert first.poll() is None, first.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        second = cli(*args, "--resume")
        assert first.poll() is None, "the first run ended before the second one was refused"
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert second.returncode == 2, second.stderr
    err = second.stderr.strip()
    assert err.count("\n") == 0 and "in use" in err and f"pid {first.pid}" in err


# -- kill the driver, then resume ----------------------------------------------------------------
@pytest.fixture(scope="module")
def kill_scenario(scale_dir) -> Path:
    return scenario_file(scale_dir / "kill", "fuling-kill", chunk_size=10, replications=300)


@pytest.fixture(scope="module")
def uninterrupted(kill_scenario, scale_dir) -> Path:
    run = scale_dir / "uninterrupted"
    assert main(["mc", str(kill_scenario), "--out", str(run), "--backend", "serial",
                 "--no-progress", "--no-plots"]) == 0
    return run


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_resume_after_sigkill_computes_only_missing_chunks(backend, kill_scenario, uninterrupted,
                                                           scale_dir):
    run = scale_dir / f"killed-{backend}"
    done_dir = run / "done" / "main"
    n_chunks = 30
    args = ["mc", str(kill_scenario), "--out", str(run), "--no-progress", "--no-plots"]
    proc = subprocess.Popen([str(SEISIM), *args, "--backend", backend, "--workers", "2"],
                            cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"run ended before it could be killed: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no chunk finished in time"
            done = len(list(done_dir.glob("chunk-*.json"))) if done_dir.is_dir() else 0
            if done >= 2:
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its spawned workers
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    time.sleep(0.2)  # let the OS reap the killed workers before taking stock

    finished = sorted(p.name for p in done_dir.glob("chunk-*.json"))
    assert 2 <= len(finished) < n_chunks, "the kill must land mid-run"
    assert json.loads((run / "manifest.json").read_text())["status"] == "running"
    kept = {k: v for k, v in tree_state(run).items()
            if k.startswith(("annual", "outcomes", "done")) and Path(k).name.replace(
                ".parquet", ".json") in finished and not k.endswith(".tmp")}
    assert len(kept) == 3 * len(finished)

    # resume on the other backend: seeds are fixed per replication, so it makes no difference
    other = "serial" if backend == "processes" else "processes"
    resumed = cli(*args, "--resume", "--backend", other, "--workers", "2")
    assert resumed.returncode == 0, resumed.stderr

    after = tree_state(run)
    assert {k: after[k] for k in kept} == kept, "chunks finished before the kill were recomputed"
    assert len(list(done_dir.glob("chunk-*.json"))) == n_chunks
    assert json.loads((run / "manifest.json").read_text())["status"] == "complete"

    pd.testing.assert_frame_equal(sorted_annual(load_result(run)),
                                  sorted_annual(load_result(uninterrupted)))
    assert (run / "targets.csv").read_bytes() == (uninterrupted / "targets.csv").read_bytes()
    assert (run / "first_met.csv").read_bytes() == (uninterrupted / "first_met.csv").read_bytes()


# -- failing replications -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def failing_scenario(scale_dir) -> Path:
    return scenario_file(scale_dir / "fail", "fuling-fail", chunk_size=10, replications=40,
                         extra=FAILING)


def expected_failures(path: Path, n: int) -> set[int]:
    """Replications whose parameter draw is invalid, found from their seeds alone."""
    scenario = load_scenario(path)
    bad = set()
    for r in range(n):
        try:
            scenario.model_inputs(parameter_rng(SEED, r))
        except Exception:  # noqa: BLE001 - GDP below industrial value added
            bad.add(r)
    return bad


@pytest.fixture(scope="module")
def failing_run(failing_scenario, scale_dir):
    """``seisim mc`` of the failing scenario on two worker processes: (process, run directory)."""
    run = scale_dir / "fail-run"
    proc = cli("mc", str(failing_scenario), "--out", str(run), "--backend", "processes",
               "--workers", "2", "--no-progress", "--no-plots")
    return proc, run


def test_failing_replications_are_reported_with_seed_and_error(failing_scenario, failing_run):
    bad = expected_failures(failing_scenario, 40)
    assert 0 < len(bad) < 40

    proc, run = failing_run
    assert proc.returncode == 1, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if line.startswith("seisim: warning:")]
    assert len(warning) == 1
    assert f"{len(bad)} replication(s) failed" in warning[0]
    assert str(run / "failures") in warning[0]

    # on disk: failures/main/chunk-*.json, one record per failed replication
    records = []
    for f in sorted((run / "failures" / "main").glob("chunk-*.json")):
        records.extend(json.loads(f.read_text()))
    assert {r["replication"] for r in records} == bad
    for r in records:
        assert r["seed"] == SEED and r["spawn_key"] == [r["replication"]]
        assert r["error"].startswith("InputError: GDP ") and "below industrial value added" in r["error"]
        assert "Traceback" in r["traceback"]

    # in the result, in the manifest and in the summary
    result = load_result(run)
    assert sorted(f["replication"] for f in result.failures) == sorted(bad)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete_with_failures" and manifest["failures"] == len(bad)
    assert f"{len(bad)} replication(s) failed" in (run / "summary.txt").read_text()

    # the other replications are all there, and only they
    assert set(result.annual["replication"].unique()) == set(range(40)) - bad
    assert set(result.outcomes["replication"].unique()) == set(range(40)) - bad
    assert result.replications == 40 - len(bad)
    assert result.targets()["replications"].max() == 40 - len(bad)
    done = [json.loads(p.read_text()) for p in (run / "done" / "main").glob("chunk-*.json")]
    assert sum(d["failures"] for d in done) == len(bad)
    assert sum(d["replications"] for d in done) == 40 - len(bad)


def test_failures_are_the_same_on_the_serial_backend(failing_scenario, failing_run, scale_dir):
    result = sim.monte_carlo(str(failing_scenario), backend="serial",
                             out=scale_dir / "fail-serial", progress=False)
    assert result.failures
    processes = load_result(failing_run[1])
    assert [f["replication"] for f in result.failures] == \
        [f["replication"] for f in processes.failures]
    assert [f["error"] for f in result.failures] == [f["error"] for f in processes.failures]
    pd.testing.assert_frame_equal(sorted_annual(result), sorted_annual(processes))


# -- designed experiments run through the same driver ---------------------------------------------
DESIGN_FACTORS = {"levers.attraction": (0.5, 3.0), "levers.talent.supply": (0.8, 1.2)}


def run_design_with(uncertain_scenario, out: Path, **options) -> pd.DataFrame:
    from sim.analysis.discovery import latin_hypercube
    from sim.experiments.design import run_design

    points = latin_hypercube(DESIGN_FACTORS, 12, 5)
    return run_design(load_scenario(uncertain_scenario), points, out, replications=3, crn=False,
                      seed=SEED, targets=["sei_output_share_2026"], progress=False, **options)


@pytest.fixture(scope="module")
def serial_design(uncertain_scenario, scale_dir):
    return run_design_with(uncertain_scenario, scale_dir / "design-serial", backend="serial")


def test_design_identical_on_every_backend_and_chunking(uncertain_scenario, scale_dir,
                                                        serial_design, cluster):
    """A design's values do not depend on how its points are chunked, on the worker count or on
    the backend (a real two-worker Dask cluster included)."""
    assert len(serial_design) == 12 * 3 and serial_design["value"].notna().all()
    assert serial_design["value"].nunique() > 12  # points and replications really differ
    runs = {
        "one point per chunk": dict(backend="serial", points_per_chunk=1),
        "processes, 2 workers": dict(backend="processes", workers=2, points_per_chunk=5),
        "dask cluster": dict(backend="dask", address=cluster.scheduler_address,
                             points_per_chunk=2),
    }
    for name, options in runs.items():
        rows = run_design_with(uncertain_scenario, scale_dir / f"design-{name}", **options)
        pd.testing.assert_frame_equal(rows, serial_design, obj=name)


def test_design_resumes_only_its_missing_chunks(uncertain_scenario, tmp_path, serial_design):
    out = tmp_path / "design"
    run_design_with(uncertain_scenario, out, backend="serial", points_per_chunk=4)
    store = RunStore(out / "replications")
    assert store.completed_chunks("") == {0, 1, 2}
    (out / "replications" / "outcomes" / "main" / "chunk-00001.parquet").unlink()
    stamps = {k: (out / "replications" / "done" / "main" / f"chunk-{k:05d}.json").stat()
              .st_mtime_ns for k in (0, 2)}
    rows = run_design_with(uncertain_scenario, out, backend="serial", points_per_chunk=4)
    pd.testing.assert_frame_equal(rows, serial_design)
    for k, stamp in stamps.items():  # finished chunks were kept, not recomputed
        assert (out / "replications" / "done" / "main" / f"chunk-{k:05d}.json").stat() \
            .st_mtime_ns == stamp


def test_solve_spreads_one_evaluation_over_several_chunks(uncertain_scenario, tmp_path):
    """The required-lever search evaluates one lever value with many replications: they are
    split into chunks, so the evaluation runs in parallel instead of as one serial task."""
    from sim.experiments.design import run_design

    points = pd.DataFrame({"levers.attraction": [2.0]})
    rows = run_design(load_scenario(uncertain_scenario), points, tmp_path / "eval",
                      replications=250, seed=SEED, targets=["sei_output_share_2026"],
                      backend="serial", progress=False)
    assert sorted(rows["replication"]) == list(range(250))
    assert RunStore(tmp_path / "eval" / "replications").completed_chunks("") == {0, 1, 2}


def test_a_design_the_model_cannot_build_fails_before_running(uncertain_scenario, tmp_path):
    from sim.experiments.design import run_design

    points = pd.DataFrame({"levers.fund.scale": [2.0, 3.0]})  # Fuling's plan declares no fund
    with pytest.raises(sim.errors.InputError, match="no fund to change"):
        run_design(load_scenario(uncertain_scenario), points, tmp_path / "d", replications=2,
                   seed=SEED, backend="serial", progress=False)
    assert not (tmp_path / "d").exists()


# -- the same bits on any processor ----------------------------------------------------------------
DISPATCH_CHILD = """
import hashlib, sys, tempfile
import sim
from sim.scenarios import scenario_from_dict
lognormal = scenario_from_dict({"name": "lognormal", "region": "fuling", "parameters": "builtin",
    "uncertainties": {"funds.output_per_investment": {"dist": "lognormal", "median": 1.0,
                                                      "sigma": 0.3},
                      "firms.drift": {"dist": "uniform", "low": 0.05, "high": 0.1}}})
for scenario in (sim.load_scenario(sys.argv[1]), lognormal):
    with tempfile.TemporaryDirectory() as out:
        annual = sim.monte_carlo(scenario, 30, 5, backend="serial", progress=False,
                                 out=out + "/run").annual
        print(hashlib.sha256(annual.to_numpy(dtype=float).tobytes()).hexdigest(), len(annual))
"""


def _vector_features() -> list[str]:
    """numpy's dispatched AVX-512 loop groups this processor can run."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    return [f for f in __cpu_dispatch__
            if ("AVX512" in f or f == "X86_V4") and __cpu_features__.get(f)]


def test_results_do_not_depend_on_numpys_loops_for_this_processor():
    """On AVX-512 processors numpy's exp, log and power are its own vectorised loops, which differ
    from the C library's in the last bit for some inputs; a run computed there must give the
    numbers a processor without them gives. Compared here by switching numpy's AVX-512 loops off
    (``NPY_DISABLE_CPU_FEATURES``) in one of two otherwise identical runs: the pooled Chongqing
    baseline (the converging variant's fade, the coverage drift) and lognormal draws."""
    features = _vector_features()
    if not features:
        pytest.skip("this processor runs none of numpy's AVX-512 loops: nothing to switch off")
    digests = []
    for disabled in ("", " ".join(features)):
        env = {k: v for k, v in os.environ.items() if k != "NPY_DISABLE_CPU_FEATURES"}
        if disabled:
            env["NPY_DISABLE_CPU_FEATURES"] = disabled
        proc = subprocess.run([sys.executable, "-c", DISPATCH_CHILD,
                               str(ROOT / "scenarios" / "chongqing-baseline.yaml")],
                              capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr
        digests.append(proc.stdout.split("\n"))
    assert digests[0] == digests[1]
    assert len(digests[0][0].split()[0]) == 64 and digests[0][0] != digests[0][1]

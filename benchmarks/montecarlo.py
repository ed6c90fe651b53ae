"""Monte Carlo at scale: parallel efficiency, Dask overhead, driver memory, replications per second.

    python benchmarks/montecarlo.py [--replications 1000] [--large 100000] [--repeats 3]
                                    [--large-scenario scenarios/fuling-baseline.yaml]

Run it on quiet cores (no calibration or test run alongside); it warns if ``seisim calibrate``
is running. Every measured run is a fresh Python subprocess (``--child``) that imports ``sim``,
loads the numba kernel from its cache with one warm-up run, and then times
``sim.monte_carlo(...)`` alone into a temporary run directory (deleted afterwards). The driver
never reads ``result.annual`` (that would load every row): ``sim.monte_carlo`` returns a lazy view
of the run directory, so the peak RSS the child reports
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is the driver's memory for the run itself. Worker
processes are separate; the largest of them is reported from ``RUSAGE_CHILDREN`` (processes
backend).

Figures
  (a) parallel efficiency on 2 cores: replications/s of ``processes`` with 2 workers over
      ``serial``, divided by 2, for ``--replications`` of the Chongqing baseline
      (scenarios/chongqing-baseline.yaml, its own chunk size of 100). Wall time is the whole
      ``sim.monte_carlo`` call and excludes nothing (validation, the driver's warm-up run, pool
      start-up with the spawn start method, every chunk's Parquet writes, the manifest). The
      figure "excluding the pool start-up" subtracts the time from handing out the chunks until
      the workers began computing (mean over the 2 workers of the start of their first chunk =
      its completion time seen by the driver minus the chunk's own duration): for the driver,
      which is one of the 2 workers, almost nothing; for the pool's process, spawning it,
      ``import sim`` and loading the numba cache.
  (b) Dask overhead: wall time of ``backend="dask"`` with a LocalCluster started for the run
      (``workers=2``, no ``address``: the driver and a cluster of 1 worker, as ``processes`` is
      the driver and a pool of 1) over ``processes`` with 2 workers, same replications; target <= 1.15 (15 % overhead). Also without either start-up (for Dask it
      includes starting the LocalCluster).
  (a, b) again with the workers already running and warm, as they are for the second run of a
      session (the local pool is kept between runs) or on a cluster started beforehand: before
      the clock, the child runs 2 chunks per worker on other seeds with the same backend (for
      Dask on a LocalCluster it started itself with the settings of the run's own cluster,
      ``sim.experiments.backends.LOCAL_CLUSTER_CONFIG``, passed as ``address``). The serial run
      it is compared with is warm too (its warm-up replication), so this pair is like for like; the
      pair above charges the workers' start-up to the processes and Dask runs only.
  (c) driver peak RSS at ``--replications`` and ``--large`` replications of ``--large-scenario``
      (default Fuling baseline, chunk size 100), processes backend with 2 workers.
  (d) replications/s of the Chongqing baseline, processes backend with 2 workers (from (a)).

(a), (b) and (d) use ``--repeats`` runs of each backend (all printed) and report the median and
the best run. The runs alternate, round by round (serial, processes, Dask, warm processes,
warm Dask, then again), because the speed of a shared VM drifts over minutes: measured one
backend after the other, a ratio would compare different machines. Each run also reports CPU time
used by *other* processes on the machine meanwhile (from /proc/stat, minus this benchmark's own
processes), so a figure disturbed by other load is visible; the timings of a 2-core VM vary by
10-20 % from run to run even when it is quiet.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import machine  # noqa: E402  (benchmarks/machine.py, beside this script)

ROOT = Path(__file__).resolve().parents[1]
CHONGQING = ROOT / "scenarios" / "chongqing-baseline.yaml"
FULING = ROOT / "scenarios" / "fuling-baseline.yaml"
SEED = 20250101
DASK_TARGET = 1.15
FOREIGN: list[float] = []  # CPU seconds used by other processes during each measured run
SHUTDOWN: list[float] = []  # in a child: seconds from the last chunk to the pool/cluster closed


# -- the measured run, in a fresh process ----------------------------------------------------------
def child(spec: dict) -> dict:
    import resource

    sys.path.insert(0, str(ROOT))
    import sim
    from sim.experiments.backends import close_worker_pools
    from sim.experiments.driver import Experiment, warm_up

    scenario = sim.load_scenario(spec["scenario"])
    if spec.get("chunk_size"):
        scenario = scenario.with_overrides({"monte_carlo.chunk_size": spec["chunk_size"]})
    # numba kernel loaded before the clock starts
    warm_up(Experiment({"": scenario}, 1, SEED, scenario.spec.monte_carlo.engine))
    out = Path(tempfile.mkdtemp(prefix="seisim-bench-")) / "run"
    cluster, address = None, None
    if spec.get("warm_workers"):
        # Workers already running and warm, as for the second run of a session (the local
        # pool is kept between runs) or on a cluster started beforehand: a short run on other
        # seeds, 2 chunks per worker, before the clock.
        if spec["backend"] == "dask":
            import logging

            import dask
            from distributed import LocalCluster

            from sim.experiments.backends import LOCAL_CLUSTER_CONFIG

            with dask.config.set(LOCAL_CLUSTER_CONFIG):  # set up as the run's own cluster is
                cluster = LocalCluster(n_workers=spec["workers"], threads_per_worker=1,
                                       processes=True, dashboard_address=None,
                                       silence_logs=logging.ERROR)
            address = cluster.scheduler_address
        size = scenario.spec.monte_carlo.chunk_size
        sim.monte_carlo(scenario, 2 * spec["workers"] * size, SEED + 1, backend=spec["backend"],
                        workers=spec["workers"], address=address, out=out.parent / "warm",
                        progress=False)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    chunk_starts = instrument_execute()
    try:
        start = time.perf_counter()
        result = sim.monte_carlo(scenario, spec["replications"], SEED, backend=spec["backend"],
                                 workers=spec["workers"], address=address, out=out,
                                 progress=False)
        wall = time.perf_counter() - start
        # Workers are kept for the session; stop them so their peak memory is on record.
        close_worker_pools(wait=True)
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        done = result.replications  # from the done markers; reads no rows
        disk = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        chunks = len(list((out / "done" / "main").glob("chunk-*.json")))
        failures = len(result.failures)
    finally:
        if cluster is not None:
            cluster.close()
        shutil.rmtree(out.parent, ignore_errors=True)
    # when each worker began its first chunk, counted from the moment chunks were handed out
    workers = 1 if spec["backend"] == "serial" else spec["workers"]
    startup = statistics.fmean(sorted(chunk_starts)[:workers]) if chunk_starts else 0.0
    return {"wall": wall, "startup": startup, "shutdown": SHUTDOWN[0] if SHUTDOWN else 0.0,
            "replications": done, "failures": failures,
            "chunks": chunks,
            "rss_before_mib": rss_before / 1024, "rss_peak_mib": rss_peak / 1024,
            "workers_peak_mib": workers_peak / 1024, "disk_mib": disk / 2**20}


def instrument_execute() -> list[float]:
    """Record, for every chunk, when it started computing: its completion time (seen by the
    driver, counted from the call of ``execute``) minus the seconds the chunk itself reports.
    The smallest start per worker is that worker's start-up: for ``processes`` the pool's spawn,
    ``import sim`` and numba cache load; for ``dask`` also starting the LocalCluster."""
    import sim.experiments.driver as driver

    starts: list[float] = []
    original = driver.execute

    def timed(tasks, *args, **kwargs):
        t0 = time.perf_counter()
        last = t0
        for status in original(tasks, *args, **kwargs):
            last = time.perf_counter()
            starts.append(last - t0 - status.seconds)
            yield status
        SHUTDOWN.append(time.perf_counter() - last)  # closing the pool or cluster

    driver.execute = timed
    return starts


def measure(scenario: Path, replications: int, backend: str, workers: int | None = 2,
            chunk_size: int | None = None, warm_workers: bool = False) -> dict:
    spec = {"scenario": str(scenario), "replications": replications, "backend": backend,
            "workers": workers, "chunk_size": chunk_size, "warm_workers": warm_workers}
    busy0, own0 = machine.busy_cpu_seconds(), machine.own_cpu_seconds()
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], cwd=ROOT,
                          capture_output=True, text=True)
    busy1, own1 = machine.busy_cpu_seconds(), machine.own_cpu_seconds()
    if proc.returncode != 0:
        raise SystemExit(f"benchmark run failed ({spec}):\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # CPU time the machine spent on anything but this benchmark while the run lasted
    result["foreign_cpu"] = (busy1 - busy0) - (own1 - own0) if busy0 is not None else 0.0
    FOREIGN.append(result["foreign_cpu"])
    if result["failures"] or result["replications"] != replications:
        raise SystemExit(f"benchmark run incomplete ({spec}): {result}")
    return result


def interleaved(repeats: int, configs: dict[str, tuple[tuple, dict]]) -> dict[str, dict]:
    """``repeats`` rounds, each measuring every configuration once (label -> ``measure``
    arguments), so a slow drift of the machine's speed touches every configuration alike rather
    than the ones measured last; per configuration the median and best (minimum) wall time and
    start-up."""
    runs: dict[str, list[dict]] = {label: [] for label in configs}
    for _ in range(repeats):
        for label, (args, kwargs) in configs.items():
            runs[label].append(measure(*args, **kwargs))
    out = {}
    for label, rs in runs.items():
        walls = [r["wall"] for r in rs]
        listed = {key: ", ".join(f"{r[key]:.2f}" for r in rs) for key in ("startup", "shutdown")}
        foreign = max(r["foreign_cpu"] for r in rs)
        print(f"  {label}\n    wall s: {', '.join(f'{w:.2f}' for w in walls)}"
              f"; start-up s: {listed['startup']}; shut-down s: {listed['shutdown']}"
              + (f"  [other processes: up to {foreign:.1f} CPU-s]" if foreign > 0.5 else ""),
              flush=True)
        best = min(rs, key=lambda r: r["wall"])
        out[label] = {"median": statistics.median(walls), "best": best["wall"],
                      "startup_median": statistics.median(r["startup"] for r in rs),
                      "startup_best": best["startup"]}
    return out


def calibration_running() -> bool:
    try:
        out = subprocess.run(["pgrep", "-f", "seisim calibrate"], capture_output=True, text=True)
    except FileNotFoundError:
        return False
    return bool(out.stdout.strip())


def environment() -> str:
    import dask
    import distributed
    import numba
    import numpy

    return machine.environment(dask, distributed, numba, numpy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replications", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000,
                        help="replications of the driver-memory run (c)")
    parser.add_argument("--large-scenario", default=str(FULING))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-large", action="store_true", help="skip the large run of (c)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return

    n = args.replications
    print("seisim Monte Carlo benchmark")
    print(f"machine: {environment()}")
    print(f"seed {SEED}; each run a fresh subprocess, numba kernel loaded before timing; "
          f"{args.repeats} runs each")
    if calibration_running():
        print("WARNING: 'seisim calibrate' is running: cores are not quiet, figures are low")

    print(f"\n(a)+(d) {CHONGQING.relative_to(ROOT)}, {n} replications, chunk size 100 "
          f"({-(-n // 100)} chunks)")
    print("  (the runs alternate: each round runs every configuration once)")
    measured = interleaved(args.repeats, {
        "serial": ((CHONGQING, n, "serial", None), {}),
        "processes, 2 workers": ((CHONGQING, n, "processes", 2), {}),
        "dask, LocalCluster started for run (the driver and 1 worker)": (
            (CHONGQING, n, "dask", 2), {}),
        "processes, 2 workers kept warm from an earlier run": (
            (CHONGQING, n, "processes", 2), {"warm_workers": True}),
        "dask, LocalCluster of 2 started and warmed beforehand (--address)": (
            (CHONGQING, n, "dask", 2), {"warm_workers": True}),
    })
    serial, procs, dask, procs_warm, dask_warm = measured.values()
    fig = {}
    for stat in ("median", "best"):
        rs, rp = n / serial[stat], n / procs[stat]
        rp_net = n / (procs[stat] - procs[f"startup_{stat}"])
        rd_ratio = dask[stat] / procs[stat]
        rd_ratio_net = ((dask[stat] - dask[f"startup_{stat}"])
                        / (procs[stat] - procs[f"startup_{stat}"]))
        fig[stat] = {"rate_serial": rs, "rate_procs": rp, "rate_procs_net": rp_net,
                     "eff": rp / rs / 2, "eff_net": rp_net / rs / 2, "dask": rd_ratio,
                     "dask_net": rd_ratio_net, "startup": procs[f"startup_{stat}"],
                     "dask_startup": dask[f"startup_{stat}"],
                     "rate_procs_warm": n / procs_warm[stat],
                     "eff_warm": n / procs_warm[stat] / rs / 2,
                     "dask_warm": dask_warm[stat] / procs_warm[stat]}
    for stat in ("median", "best"):
        f = fig[stat]
        print(f"  {stat} of {args.repeats}:")
        print(f"    serial                 {f['rate_serial']:7.1f} replications/s")
        print(f"    processes, 2 workers   {f['rate_procs']:7.1f} replications/s "
              f"({f['rate_procs_net']:.1f}/s excluding the {f['startup']:.2f} s pool start-up)")
        print(f"    (a) parallel efficiency {f['eff']:6.1%} ({f['eff_net']:.1%} excluding the pool "
              f"start-up)")
        print(f"    (b) wall dask / processes {f['dask']:.3f} ({f['dask'] - 1:+.1%} overhead; "
              f"target <= +{DASK_TARGET - 1:.0%}: "
              f"{'met' if f['dask'] <= DASK_TARGET else 'NOT met'}); excluding start-ups "
              f"({f['dask_startup']:.2f} s vs {f['startup']:.2f} s) {f['dask_net']:.3f} "
              f"({f['dask_net'] - 1:+.1%})")
        print(f"    workers kept warm from an earlier run: processes {f['rate_procs_warm']:.1f} "
              f"replications/s, (a) efficiency {f['eff_warm']:.1%}; (b) dask / processes "
              f"{f['dask_warm']:.3f} ({f['dask_warm'] - 1:+.1%})")

    large = Path(args.large_scenario)
    large_name = large.relative_to(ROOT) if large.is_relative_to(ROOT) else large
    print(f"\n(c) driver peak RSS, {large_name}, processes backend, 2 workers, chunk size 100")
    sizes = [n] if args.skip_large else [n, args.large]
    memory = {}
    for size in sizes:
        r = measure(large, size, "processes", 2)
        memory[size] = r
        print(f"  {size:>9,} replications: driver peak {r['rss_peak_mib']:7.1f} MiB "
              f"(after warm-up {r['rss_before_mib']:.1f} MiB), largest worker "
              f"{r['workers_peak_mib']:.1f} MiB; {r['chunks']} chunks, {r['disk_mib']:.1f} MiB on "
              f"disk, {r['wall']:.1f} s ({size / r['wall']:.0f} replications/s)"
              + (f" [other processes used {r['foreign_cpu']:.1f} CPU-s]"
                 if r["foreign_cpu"] > 0.5 else ""), flush=True)

    med, best = fig["median"], fig["best"]
    print(f"\nSummary (median of {args.repeats} runs; best run in brackets)")
    print(f"  (a) parallel efficiency, processes with 2 workers vs serial, {n} x "
          f"chongqing-baseline: {med['eff']:.1%} [{best['eff']:.1%}]; excluding the pool "
          f"start-up ({med['startup']:.1f} s) {med['eff_net']:.1%} [{best['eff_net']:.1%}]")
    print(f"  (b) dask (LocalCluster started for the run) / processes wall time at {n}: "
          f"{med['dask']:.3f} [{best['dask']:.3f}] ({med['dask'] - 1:+.1%}; target <= "
          f"+{DASK_TARGET - 1:.0%}); excluding start-ups {med['dask_net']:.3f} "
          f"[{best['dask_net']:.3f}]")
    print(f"  (a, b) workers kept warm from an earlier run (a session's second run; a cluster "
          f"started beforehand): efficiency {med['eff_warm']:.1%} [{best['eff_warm']:.1%}]; "
          f"dask / processes {med['dask_warm']:.3f} [{best['dask_warm']:.3f}]")
    if len(memory) == 2:
        small, big = memory[n], memory[args.large]
        print(f"  (c) driver peak RSS {small['rss_peak_mib']:.0f} MiB at {n:,} vs "
              f"{big['rss_peak_mib']:.0f} MiB at {args.large:,} replications of {large_name} "
              f"({big['rss_peak_mib'] - small['rss_peak_mib']:+.0f} MiB for "
              f"{args.large / n:.0f}x the replications)")
    else:
        print(f"  (c) driver peak RSS {memory[n]['rss_peak_mib']:.0f} MiB at {n:,} replications "
              "(large run skipped)")
    print(f"  (d) chongqing-baseline, processes, 2 workers: {med['rate_procs']:.1f} "
          f"[{best['rate_procs']:.1f}] replications/s including start-up, "
          f"{med['rate_procs_net']:.1f} [{best['rate_procs_net']:.1f}] excluding it (serial "
          f"{med['rate_serial']:.1f} [{best['rate_serial']:.1f}])")
    if calibration_running():
        print("WARNING: 'seisim calibrate' was running at the end: figures may be low")
    print(f"  other processes used at most {max(FOREIGN):.1f} CPU-s during any measured run "
          f"(total {sum(FOREIGN):.1f} CPU-s; 0 = quiet machine)")


if __name__ == "__main__":
    main()

"""The experiment driver's own cost: end-to-end Monte Carlo against the bare kernel, and the wall
time of ``seisim solve`` and ``seisim sensitivity`` before and after designs ran on the driver.

    python benchmarks/driver.py [--replications 1000] [--repeats 3] [--before dfc7339]
                                [--skip-before] [--skip-analyses] [--solve-replications 200]

Run it on quiet cores (no calibration, test run or other benchmark alongside). Every measured run
is a fresh Python subprocess (``--child``) that imports ``sim`` and loads the numba kernel from its
cache with one warm-up replication before any clock starts. Each run also reports the CPU time
used by *other* processes on the machine meanwhile (from /proc/stat, minus this benchmark's own
processes), so a figure disturbed by other load is visible.

Figures
  (1) End-to-end vs kernel-only, serial, ``--replications`` N of scenarios/chongqing-baseline.yaml
      and scenarios/fuling-baseline.yaml (both draw their parameters per replication), seed
      20250101, ``--repeats`` runs of each figure (all printed; median and best reported).
      * end-to-end, fresh process: replications/s of the whole call
        ``sim.monte_carlo(scenario, N, seed, backend="serial", progress=False, out=<tmp>)``:
        validation, the driver's warm-up replication, every chunk (inputs, population, kernel,
        tables, outcomes, Parquet writes and checksums), the manifest, the result object, and
        the modules the call imports on first use (writing Parquet imports pyarrow): what a
        script that runs one Monte Carlo pays.
      * end-to-end, second call: the same call after a 1-replication ``sim.monte_carlo`` in the
        same process (its time is printed): the steady cost of a run once those imports are
        done, as in a notebook or a long-lived worker.
      * kernel-only: the same N replications (same seeds, same parameter draws) with only the
        compiled kernel call (``sim.engines.numba_engine.simulate_firms``) on the clock. The
        inputs (``scenario.model_inputs(parameter_rng(seed, r))`` per replication when the
        scenario varies, else once), the random streams and their PCG64 states, the firm
        population (``FirmState.initial``) and the annual arrays are built outside it; their
        unclocked seconds are printed alongside.
      * compiled code as the driver runs it: the seconds of every call from Python into a
        compiled ``sim.engines`` function while the driver's ``run_replications`` runs the same
        replications in the same process, in the driver's chunks (one batch per chunk of the
        experiment's chunk size, 100): each replication's population, run and price levels, and
        the seeding of its streams. It follows the engine's code wherever its kernel call goes.
        Everything else of an end-to-end run is Python: inputs, tables, outcomes, files.
      * the fractions end-to-end / kernel-only replications/s (= kernel seconds / end-to-end
        seconds; target >= 0.85), from the median runs and from the best runs; and the share of
        the end-to-end second call spent in compiled code (compiled seconds / its seconds).
        The first counts the initial population (drawn per replication, in compiled code) as
        overhead, the second as simulation.
      * where the rest goes: one further second call, under cProfile: cumulative seconds of the
        functions that make up the driver, a chunk and a replication (``BREAKDOWN``), each as a
        share of the call. In that call the driver's warm-up replication is timed on its own,
        unprofiled, just before (so no line counts it twice). The profiler slows Python code
        (many small calls) far more than the compiled kernel, so the Python shares are inflated;
        the profiled and the unprofiled wall times are both printed to show by how much.
  (2) Wall time of ``seisim sensitivity scenarios/fuling-district-fund.yaml --samples 16
      --replications 4`` and ``seisim solve scenarios/fuling-district-fund.yaml --replications
      <--solve-replications>`` with 4 grid points and 2 bisections, both ``--backend processes
      --workers 2``, in the current tree and in the tree of ``--before`` (default dfc7339, when
      designs ran as their own task type and a solve evaluation, a single design point, as one
      task). Fuling's baseline names no fund (the default factors of sensitivity and the default
      lever of solve are fund levers), so both use the scenario that declares one. The reference
      tree is checked out with ``git worktree add --detach`` into a temporary directory (removed
      afterwards) and run with ``PYTHONPATH=<that tree>`` by the same Python; each child reports
      the ``sim`` it imported, which is checked to be the tree's own. Each tree's numba cache is
      warmed by a 2-replication run before timing. ``seisim solve`` has no options for the grid
      and the bisections, so the child calls ``sim.cli.main`` with ``sim.solve`` wrapped to pass
      ``grid=4, bisections=2`` (the same in both trees; the command is otherwise unchanged,
      including its CSV, plot and report). The time is the ``main(...)`` call, from argument
      parsing to the report written (interpreter start and ``import sim`` outside it). Also
      printed: the CPU seconds (user + system) of the whole subprocess and its workers, imports
      included, less disturbed by other load than the wall time. The runs of the two trees
      alternate, so slow drift of the machine affects both alike. A solve evaluation of 100
      replications or fewer is one chunk in both trees, so only a larger
      ``--solve-replications`` can use both workers.
  The last line is the Chongqing end-to-end / kernel-only fraction of (1), measured in this run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import machine  # noqa: E402  (benchmarks/machine.py, beside this script)

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("scenarios/chongqing-baseline.yaml", "scenarios/fuling-baseline.yaml")
#: Fuling's plan names no fund, so the analyses (whose default factors and lever include the fund)
#: use the scenario that declares one.
ANALYSIS_SCENARIO = "scenarios/fuling-district-fund.yaml"
SEED = 20250101
TARGET_FRACTION = 0.85
BEFORE = "dfc7339"
SOLVE_GRID, SOLVE_BISECTIONS = 4, 2
SENSITIVITY_SAMPLES, SENSITIVITY_REPLICATIONS = 16, 4
WORKERS = 2
FOREIGN: list[float] = []  # CPU seconds used by other processes during each measured run

#: The profiled run's breakdown: (depth, label, module file, function, only calls from this
#: caller or None). Cumulative seconds; a line is part of the nearest line above it with a smaller
#: depth, and each line with sub-lines is followed by what they leave out ("rest of ...").
BREAKDOWN = (
    (0, "driver (run_experiment)", "sim/experiments/driver.py", "run_experiment", None),
    (1, "validate scenario (Experiment.specs)", "sim/experiments/driver.py", "specs", None),
    (1, "chunks (run_chunk)", "sim/experiments/runner.py", "run_chunk", None),
    (2, "compile inputs, one per parameter draw (monte_carlo_inputs)",
     "sim/experiments/runner.py", "monte_carlo_inputs", None),
    (3, "parameter draws (Scenario.draw_params)", "sim/scenarios.py", "draw_params", None),
    (3, "baseline (build_baseline)", "sim/model/baseline.py", "build_baseline", None),
    (2, "batched engine call (run_batch: streams, population, kernel, prices)",
     "sim/engines/__init__.py", "run_batch", None),
    (3, "compiled batch (simulate_batch)", "sim/engines/kernel.py", "simulate_batch", None),
    (3, "run results (finish_run)", "sim/engines/state.py", "finish_run", None),
    (2, "yearly table (annual_table)", "sim/engines/state.py", "annual_table", None),
    (2, "target outcomes (replication_outcomes)", "sim/outcomes.py", "replication_outcomes",
     None),
    (2, "chunk files (RunStore.write_chunk)", "sim/experiments/store.py", "write_chunk", None),
    (3, "Parquet writes (atomic_write_parquet)", "sim/experiments/store.py",
     "atomic_write_parquet", None),
    (3, "checksums (file_digest)", "sim/experiments/store.py", "file_digest", "write_chunk"),
)


# -- the measured runs, each in a fresh process ----------------------------------------------------
def child(spec: dict) -> dict:
    if spec["kind"] in ("solve", "sensitivity", "warm"):
        return analysis_child(spec)
    import sim
    from sim.experiments.driver import Experiment, warm_up

    scenario = sim.load_scenario(spec["scenario"])
    # numba kernel loaded before the clock starts
    warm_up(Experiment({"": scenario}, 1, SEED, scenario.spec.monte_carlo.engine))
    n = spec["replications"]
    if spec["kind"] == "kernel":
        return kernel_only(scenario, n) | {"varies": scenario.varies,
                                           "in_driver": kernel_in_driver(scenario, n)}
    out = Path(tempfile.mkdtemp(prefix="seisim-bench-"))
    try:
        first = None
        if spec.get("second"):  # a first call pays the imports a Monte Carlo run makes lazily
            t0 = time.perf_counter()
            sim.monte_carlo(scenario, 1, SEED, backend="serial", progress=False,
                            out=out / "first")
            first = time.perf_counter() - t0
        if spec["kind"] == "profile":
            return profiled(scenario, n, out / "run") | {"first": first}
        start = time.perf_counter()
        result = sim.monte_carlo(scenario, n, SEED, backend="serial", progress=False,
                                 out=out / "run")
        wall = time.perf_counter() - start
        done, failures = result.replications, len(result.failures)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"wall": wall, "first": first, "replications": done, "failures": failures}


def kernel_only(scenario, n: int) -> dict:
    """The N replications of ``sim.monte_carlo`` (same seeds, same parameter draws, as
    :func:`sim.experiments.runner.run_replications` makes them) with only the kernel call
    timed; the unclocked preparation is timed separately for reference."""
    from sim.engines.kernel import stream_state
    from sim.engines.numba_engine import RUN_STREAMS, simulate_firms
    from sim.engines.state import FirmState, new_annual_arrays
    from sim.experiments.seeding import parameter_rng, replication_seed
    from sim.model.inputs import random_streams

    kernel = compile_s = prepare = 0.0
    fixed = None
    for r in range(n):
        t0 = time.perf_counter()
        if scenario.varies:
            inputs = scenario.model_inputs(parameter_rng(SEED, r))
        else:
            fixed = fixed or scenario.model_inputs()
            inputs = fixed
        t1 = time.perf_counter()
        streams = random_streams(replication_seed(SEED, r))
        firms = FirmState.initial(inputs, streams["population"])
        arrays = new_annual_arrays(inputs, 0)
        states = {name: stream_state(streams[name]) for name in RUN_STREAMS}
        t2 = time.perf_counter()
        simulate_firms(inputs, firms, states, arrays)
        t3 = time.perf_counter()
        compile_s, prepare, kernel = compile_s + t1 - t0, prepare + t2 - t1, kernel + t3 - t2
    return {"wall": kernel, "compile": compile_s, "prepare": prepare, "replications": n,
            "failures": 0}


def kernel_in_driver(scenario, n: int) -> float:
    """Cross-check of :func:`kernel_only` that follows the engine's code wherever it goes: the
    seconds spent in calls from Python of any compiled (numba) function of ``sim.engines``
    while the driver's own replication code (``run_replications``) runs the same N
    replications. If the engine changes how it calls its kernel (a batch kernel, say), this
    figure still counts it while ``kernel_only`` would need updating."""
    from numba.core.dispatcher import Dispatcher

    from sim.experiments.driver import Experiment
    from sim.experiments.runner import run_replications

    spent = [0.0]

    def timed(dispatcher):
        def call(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return dispatcher(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - t0
        return call

    patched = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("sim.engines") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, Dispatcher) and value.py_func.__module__.startswith("sim."):
                patched.append((module, attr, value))
                setattr(module, attr, timed(value))
    size = Experiment({"": scenario}, n, SEED).chunk_size
    try:
        for first in range(0, n, size):  # the driver's chunks: one batch each
            run_replications(scenario, range(first, min(first + size, n)), SEED,
                             scenario.spec.monte_carlo.engine)
    finally:
        for module, attr, value in patched:
            setattr(module, attr, value)
    return spent[0]


def profiled(scenario, n: int, out: Path) -> dict:
    """One ``sim.monte_carlo`` call under cProfile; cumulative seconds of ``BREAKDOWN``. The
    driver's warm-up replication is skipped in that call (the kernel is already loaded) and timed
    on its own, unprofiled, just before it: stopping the profiler inside the call would lose the
    frames it was in."""
    import cProfile
    import pstats

    import sim
    import sim.experiments.driver as driver
    from sim.experiments.driver import Experiment

    experiment = Experiment({"": scenario}, n, SEED, scenario.spec.monte_carlo.engine)
    t0 = time.perf_counter()
    driver.warm_up(experiment)
    warm = time.perf_counter() - t0
    original, driver.warm_up = driver.warm_up, lambda experiment: None
    profile = cProfile.Profile()
    try:
        start = time.perf_counter()
        profile.enable()
        sim.monte_carlo(scenario, n, SEED, backend="serial", progress=False, out=out)
        profile.disable()
        wall = time.perf_counter() - start
    finally:
        driver.warm_up = original
    stats = pstats.Stats(profile).stats
    parts = {}
    for _, label, module, func, caller in BREAKDOWN:
        parts[label] = sum(cumulative(entry, caller) for key, entry in stats.items()
                           if key[2] == func and Path(key[0]).as_posix().endswith(module))
    return {"wall": wall, "warm_up": warm, "parts": parts}


def cumulative(entry, caller: str | None) -> float:
    """A pstats entry's cumulative seconds, or only those of calls from ``caller``."""
    _, _, _, ct, callers = entry
    if caller is None:
        return ct
    return sum(c[3] for key, c in callers.items() if key[2] == caller)


def analysis_child(spec: dict) -> dict:
    """A command in the tree on PYTHONPATH: ``warm`` (2 replications, to fill that tree's numba
    cache), or ``seisim solve`` / ``seisim sensitivity`` through ``sim.cli.main``."""
    import functools

    import sim

    info = {"sim": str(Path(sim.__file__).resolve())}
    out = Path(tempfile.mkdtemp(prefix="seisim-bench-")) / "out"
    try:
        if spec["kind"] == "warm":
            start = time.perf_counter()
            sim.monte_carlo(ANALYSIS_SCENARIO, 2, SEED, backend="serial", progress=False,
                            out=out)
            return info | {"wall": time.perf_counter() - start, "code": 0}
        from sim.cli import main

        if spec["kind"] == "solve":
            sim.solve = functools.partial(sim.solve, grid=SOLVE_GRID,
                                          bisections=SOLVE_BISECTIONS)
        argv = [spec["kind"], ANALYSIS_SCENARIO, *spec["args"], "--backend", "processes",
                "--workers", str(WORKERS), "--out", str(out)]
        start = time.perf_counter()
        code = main(argv)
        return info | {"wall": time.perf_counter() - start, "code": code, "argv": argv}
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


# -- the parent ----------------------------------------------------------------------------------
def measure(spec: dict, tree: Path = ROOT) -> dict:
    """Run one child in ``tree`` (its ``sim`` first on the path) and return its figures, with the
    CPU seconds other processes used meanwhile."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    busy0, own0 = machine.busy_cpu_seconds(), machine.own_cpu_seconds()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child",
                           json.dumps(spec)], cwd=tree, env=env, capture_output=True, text=True)
    busy1, own1 = machine.busy_cpu_seconds(), machine.own_cpu_seconds()
    if proc.returncode != 0:
        raise SystemExit(f"benchmark run failed ({spec}):\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["cpu"] = own1 - own0  # the child and its workers (a pool's are joined before exit)
    result["foreign_cpu"] = (busy1 - busy0) - (own1 - own0) if busy0 is not None else 0.0
    FOREIGN.append(result["foreign_cpu"])
    if result.get("failures") or result.get("code"):
        raise SystemExit(f"benchmark run failed ({spec}): {result}\n{proc.stderr[-2000:]}")
    if "sim" in result and not Path(result["sim"]).is_relative_to(tree.resolve()):
        raise SystemExit(f"the child imported {result['sim']}, not the sim of {tree}")
    return result


def note(runs: list[dict]) -> str:
    foreign = max(r["foreign_cpu"] for r in runs)
    return f"  [other processes: up to {foreign:.1f} CPU-s]" if foreign > 0.5 else ""


def end_to_end_vs_kernel(scenario: str, n: int, repeats: int) -> dict:
    def runs(kind: str, **extra) -> list[dict]:
        return [measure({"kind": kind, "scenario": scenario, "replications": n, **extra})
                for _ in range(repeats)]

    kernel, cold, second = runs("kernel"), runs("e2e"), runs("e2e", second=True)
    prof = measure({"kind": "profile", "scenario": scenario, "replications": n, "second": True})
    k = figures(kernel, n)
    print(f"  {scenario} (parameters drawn per replication: "
          f"{'yes' if kernel[0]['varies'] else 'no'})")
    print(f"    kernel-only                  {k['text']}" + note(kernel))
    print(f"      outside the clock, median s: compile inputs "
          f"{statistics.median(r['compile'] for r in kernel):.2f}, streams + population + arrays "
          f"{statistics.median(r['prepare'] for r in kernel):.2f}")
    compiled = figures([{"wall": r["in_driver"]} for r in kernel], n)
    print(f"    compiled code in the driver's chunks (population, run, prices, seeding) "
          f"{compiled['text']}")
    fractions = {}
    for label, group in (("end-to-end, fresh process", cold),
                         ("end-to-end, second call", second)):
        e = figures(group, n)
        fractions[label] = (k["median"] / e["median"], k["best"] / e["best"])
        print(f"    {label:<28} {e['text']}" + note(group))
    first = statistics.median(r["first"] for r in second)
    print(f"      (the second call follows a 1-replication call in the same process, {first:.2f} s "
          "median, which pays the imports a run makes on first use)")
    for label, (med, best) in fractions.items():
        print(f"    fraction {label} / kernel-only: {med:.3f} (median runs; best runs {best:.3f}); "
              f"target >= {TARGET_FRACTION}: {'met' if med >= TARGET_FRACTION else 'NOT met'}")
    share = compiled["median"] / figures(second, n)["median"]
    print(f"    share of the end-to-end second call spent in compiled code: {share:.3f} (medians; "
          f"the rest is Python)")
    total = prof["wall"] + prof["warm_up"]
    print(f"    where the time goes: the second call under cProfile, {total:.2f} s with the "
          f"warm-up (unprofiled median {figures(second, n)['median']:.2f} s); cumulative s and "
          f"share" + note([prof]))
    print(f"      {'warm-up replication (warm_up, unprofiled)':<48} {prof['warm_up']:7.3f} "
          f"{prof['warm_up'] / total:6.1%}")
    rest = prof["wall"] - prof["parts"]["driver (run_experiment)"]
    for label, seconds in breakdown_lines(prof["parts"]) + [
            ("scenario check, result object (monte_carlo)", rest)]:
        print(f"      {label:<48} {seconds:7.3f} {seconds / total:6.1%}")
    cold_med, cold_best = fractions["end-to-end, fresh process"]
    return {"fraction": cold_med, "fraction_best": cold_best,
            "fraction_second": fractions["end-to-end, second call"][0], "compiled_share": share,
            "rate_kernel": n / k["median"], "rate_e2e": n / figures(cold, n)["median"]}


def figures(runs: list[dict], n: int) -> dict:
    """Median and best wall time of runs of n replications, and a line showing them."""
    walls = [r["wall"] for r in runs]
    med, best = statistics.median(walls), min(walls)
    text = (f"s: {', '.join(f'{w:.2f}' for w in walls)} -> {n / med:7.1f} replications/s "
            f"(median; best {n / best:.1f})")
    return {"median": med, "best": best, "text": text}


def breakdown_lines(parts: dict) -> list[tuple[str, float]]:
    """``BREAKDOWN`` as indented lines, each line with sub-lines followed by its remainder."""
    lines = []
    open_lines: list[tuple[int, str, float, float]] = []  # depth, label, seconds, sub-lines' sum

    def close(depth: int) -> None:
        while open_lines and open_lines[-1][0] >= depth:
            d, label, seconds, children = open_lines.pop()
            if children:
                rest = f"rest of {label.split(' (')[0]}"
                lines.append(("  " * (d + 1) + rest, seconds - children))

    for depth, label, *_ in BREAKDOWN:
        close(depth)
        if open_lines:
            d, parent, seconds, children = open_lines[-1]
            open_lines[-1] = (d, parent, seconds, children + parts[label])
        lines.append(("  " * depth + label, parts[label]))
        open_lines.append((depth, label, parts[label], 0.0))
    close(0)
    return lines


def reference_tree(ref: str) -> Path:
    """A temporary detached checkout of ``ref`` (the caller removes it)."""
    path = Path(tempfile.mkdtemp(prefix="seisim-before-")) / "tree"
    proc = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), ref],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"git worktree add {ref} failed:\n{proc.stderr}")
    return path


def remove_tree(path: Path) -> None:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
                   capture_output=True, text=True)
    shutil.rmtree(path.parent, ignore_errors=True)


def analyses(trees: dict[str, Path], repeats: int, solve_replications: int) -> dict:
    commands = {
        "sensitivity": ["--samples", str(SENSITIVITY_SAMPLES), "--replications",
                        str(SENSITIVITY_REPLICATIONS)],
        "solve": ["--replications", str(solve_replications)],
    }
    for name, tree in trees.items():
        w = measure({"kind": "warm"}, tree)
        print(f"  {name}: imports {w['sim']}; numba cache warmed in {w['wall']:.1f} s")
    walls: dict = {}
    for command, args in commands.items():
        extra = (f" (grid {SOLVE_GRID}, bisections {SOLVE_BISECTIONS})"
                 if command == "solve" else "")
        print(f"  seisim {command} {ANALYSIS_SCENARIO} {' '.join(args)} --backend processes "
              f"--workers {WORKERS}{extra}")
        runs: dict = {name: [] for name in trees}
        for _ in range(repeats):  # interleaved, so slow drift of the machine hits both trees
            for name, tree in trees.items():
                runs[name].append(measure({"kind": command, "args": args}, tree))
        for name in trees:
            ws = [r["wall"] for r in runs[name]]
            walls[command, name] = statistics.median(ws)
            cpu = statistics.median(r["cpu"] for r in runs[name])
            print(f"    {name:<22} s: {', '.join(f'{w:.2f}' for w in ws)} (median "
                  f"{walls[command, name]:.2f}; CPU of the command and its workers, median "
                  f"{cpu:.1f} s)" + note(runs[name]))
        if len(trees) == 2:
            before, after = (walls[command, name] for name in trees)
            print(f"    ratio before / current: {before / after:.2f} "
                  f"({'faster' if after < before else 'slower'} now)")
    return walls


def environment() -> str:
    import numba
    import numpy

    return machine.environment(numba, numpy)


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--replications", type=int, default=1000,
                        help="replications of each run of (1)")
    parser.add_argument("--repeats", type=int, default=3, help="measured runs of each figure")
    parser.add_argument("--before", default=BEFORE, metavar="REF",
                        help=f"reference commit of (2) (default {BEFORE})")
    parser.add_argument("--skip-before", action="store_true",
                        help="(2) in the current tree only")
    parser.add_argument("--skip-analyses", action="store_true",
                        help="(1) only: no analysis commands")
    parser.add_argument("--solve-replications", type=int, default=200,
                        help="replications per lever value of the solve run in (2)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return

    n = args.replications
    print("seisim experiment-driver benchmark")
    print(f"machine: {environment()}")
    print(f"seed {SEED}; each run a fresh subprocess, numba kernel loaded before timing; "
          f"{args.repeats} runs each")

    print(f"\n(1) end-to-end sim.monte_carlo(..., backend='serial') vs kernel-only, {n} "
          "replications")
    fig = {sc: end_to_end_vs_kernel(sc, n, args.repeats) for sc in SCENARIOS}

    if not args.skip_analyses:
        print(f"\n(2) analysis commands, {'current tree only' if args.skip_before else ''}"
              f"{'' if args.skip_before else f'before ({args.before}) and current tree'}, "
              f"backend processes, {WORKERS} workers")
        trees = {}
        before = None
        try:
            if not args.skip_before:
                before = reference_tree(args.before)
                trees[f"before ({args.before})"] = before
            trees["current"] = ROOT
            analyses(trees, args.repeats, args.solve_replications)
        finally:
            if before is not None:
                remove_tree(before)

    print(f"\nother processes used at most {max(FOREIGN):.1f} CPU-s during any measured run "
          f"(total {sum(FOREIGN):.1f} CPU-s; 0 = quiet machine)")
    cq = fig[SCENARIOS[0]]
    print(f"chongqing-baseline end-to-end (fresh process) / kernel-only, serial, {n} "
          f"replications: {cq['fraction']:.3f} ({cq['rate_e2e']:.1f} vs {cq['rate_kernel']:.1f} "
          f"replications/s; second call in a process {cq['fraction_second']:.3f}; target >= "
          f"{TARGET_FRACTION}; compiled share of the second call {cq['compiled_share']:.3f})")

if __name__ == "__main__":
    main()

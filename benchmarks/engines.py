"""Throughput of the two engines on one 10,000-firm scenario (firm-steps per second), and of the
batched call against a loop of single runs (replications per second).

    python benchmarks/engines.py [--firms 10000] [--years 5] [--seeds 5] [--mesa-runs 1]
                                 [--replications 40]

Scenario. Chongqing's plan (version 001, base year 2020: 7,600 亿元 of SEI industrial output) says
"more than 1,000" above-scale SEI firms. To reach ``--firms`` initial firms honestly (every firm a
full agent that grows, may exit, may take a fund stake) we override that one plan figure to
``firms / 2`` above-scale firms (mean size 7600/5000 = 1.5 亿元) and keep the default
``firms.subscale_ratio = 1`` (one sub-threshold firm per above-scale firm), so the initial population
is exactly ``--firms`` firms. Everything else is the plan and the default parameters (4 steps a
year, entries, exits, funds, talent all on).

Firm-steps. The annual table records alive firms at each year end only, so firm-steps are
approximated as  steps_per_year x sum over years of (alive at year start + alive at year end) / 2,
i.e. the trapezoid rule on the alive-firm count (the exact count needs per-step data the engines do
not keep; the population changes by a few per cent a year, so the error is well below 1 %). The same
count is used for both engines (they simulate the same trajectories for the same seed).

Timing. numba is compiled (or loaded from its cache) by a warm-up run first. Two figures per engine:
"run" is the whole replication (synthetic population + simulation), "kernel" is the simulation
alone (numba: the kernel call ``simulate_firms`` on prepared populations with one reused
workspace; mesa: ``RegionModel.run()``). numba runs single-threaded, so the per-core figure equals
the single-process figure; it is given in wall time and in the thread's CPU time (the same on a
quiet machine; on a shared one the CPU time is the fairer per-core figure), as the mean over the
runs and for the best run. The kernel ratio
numba/mesa follows.

Batching. On the default Chongqing scenario (``scenarios/chongqing-baseline.yaml`` with its fixed
parameters, ``scenario.model_inputs()``), ``--replications`` replications as one ``run_batch`` call
against a Python loop of ``run_engine``, alternated three times, best of each; the last line is
their ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

# One thread per process: BLAS worker threads that spin after a numpy call would take the second
# core from the measured thread (and count in the process's CPU time).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sim  # noqa: E402
from sim.engines import kernel, run_batch, run_engine  # noqa: E402
from sim.engines.numba_engine import RUN_STREAMS, simulate_firms  # noqa: E402
from sim.engines.mesa_engine import RegionModel  # noqa: E402
from sim.engines.state import FirmState, finish_run, new_annual_arrays  # noqa: E402
from sim.model.inputs import ModelInputs, compile_inputs, random_streams  # noqa: E402
from sim.model.params import ModelParams  # noqa: E402
from sim.plans import load  # noqa: E402

TARGET_NUMBA = 40e6      # kernel firm-steps/s on one core
TARGET_RATIO = 150.0     # numba kernel / mesa kernel, firm-steps/s


def scenario(firms: int, years: int) -> ModelInputs:
    plan = load("chongqing", "001")
    above = firms // 2
    figures = tuple(f.model_copy(update={"value": float(above)})
                    if f.indicator == "sei_firm_count" and f.role == "baseline" else f
                    for f in plan.figures)
    plan = plan.model_copy(update={"figures": figures})
    params = ModelParams().updated({"firms": {"subscale_ratio": (firms - above) / above}})
    return compile_inputs(plan, params, start_year=2020, end_year=2020 + years)


def firm_steps(inputs: ModelInputs, raw: np.ndarray) -> float:
    alive = raw[:, kernel.A_INDEX["alive_firms"]]
    return inputs.steps_per_year * float(np.sum((alive[:-1] + alive[1:]) / 2))


def numba_kernel_runs(inputs: ModelInputs, seeds) -> list[tuple[float, float, float, np.ndarray]]:
    """The kernel call alone, per seed: (firm-steps, wall s, CPU s, annual array). Populations
    are drawn first, one workspace serves every run (as in a batch)."""
    prepared = []
    for seed in seeds:
        streams = random_streams(seed)
        firms = FirmState.initial(inputs, streams["population"])
        states = {name: kernel.stream_state(streams[name]) for name in RUN_STREAMS}
        prepared.append((firms, states, new_annual_arrays(inputs, 0)))
    workspace = kernel.new_workspace(max(f.capacity for f, _, _ in prepared))
    out = []
    for firms, streams, arrays in prepared:
        w, c = time.perf_counter(), time.thread_time()
        simulate_firms(inputs, firms, streams, arrays, workspace)
        cpu, wall = time.thread_time() - c, time.perf_counter() - w
        out.append((firm_steps(inputs, arrays[0]), wall, cpu, arrays[0]))
    return out


def numba_whole_runs(inputs: ModelInputs, seeds) -> float:
    """Whole replications (population, run, price levels, result) as one batch: seconds."""
    t = time.perf_counter()
    run_batch(inputs, list(seeds))
    return time.perf_counter() - t


def mesa_runs(inputs: ModelInputs, seeds):
    out = []
    for seed in seeds:
        t0 = time.perf_counter()
        model = RegionModel(inputs, seed)
        t1, c1 = time.perf_counter(), time.thread_time()
        model.run()
        t2, c2 = time.perf_counter(), time.thread_time()
        result = finish_run(inputs, model.firm_state(), model.arrays)
        out.append((firm_steps(inputs, result.raw), t2 - t1, c2 - c1, result.raw,
                    time.perf_counter() - t0))
    return out


def batch_versus_loop(replications: int, rounds: int = 3):
    """Replications/s (wall, CPU) of one run_batch call and of a loop of run_engine, same seeds,
    alternated ``rounds`` times, best of each."""
    scenario = sim.load_scenario("chongqing-baseline")
    inputs = scenario.model_inputs()
    seeds = np.random.SeedSequence(scenario.spec.monte_carlo.seed).spawn(replications)
    run_batch(inputs, seeds[:2])  # warm
    run_engine(inputs, seeds[0])
    best = {"batch": [np.inf, np.inf], "loop": [np.inf, np.inf]}

    def timed(key, work):
        w, c = time.perf_counter(), time.thread_time()
        work()
        best[key][0] = min(best[key][0], time.perf_counter() - w)
        best[key][1] = min(best[key][1], time.thread_time() - c)

    for _ in range(rounds):
        timed("batch", lambda: run_batch(inputs, seeds))
        timed("loop", lambda: [run_engine(inputs, seed) for seed in seeds])
    return inputs, [replications / t for t in best["batch"]], [replications / t
                                                               for t in best["loop"]]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--firms", type=int, default=10_000, help="initial firms (half above-scale)")
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=5, help="timed numba replications")
    ap.add_argument("--mesa-runs", type=int, default=1, help="timed mesa replications (>= 1)")
    ap.add_argument("--replications", type=int, default=40,
                    help="replications per round of the batch-versus-loop comparison")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    inputs = scenario(args.firms, args.years)
    print(f"scenario: chongqing 001, {inputs.start_year}-{inputs.end_year}, "
          f"{inputs.steps_per_year} steps/yr, {inputs.baseline.above_scale_firms} above-scale "
          f"firms x (1 + subscale_ratio {inputs.params.firms.subscale_ratio:g}) "
          f"(compiled inputs in {time.perf_counter() - t:.2f} s)")
    load_avg = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, "
          f"python {platform.python_version()}, load average {load_avg[0]:.2f} at start")

    t = time.perf_counter()
    run_batch(inputs, [10_000])
    numba_kernel_runs(inputs, [10_001])
    print(f"numba warm-up (compile or cache load + one run): {time.perf_counter() - t:.2f} s")

    fast = numba_kernel_runs(inputs, range(args.seeds))
    steps = sum(r[0] for r in fast)
    wall, cpu = sum(r[1] for r in fast), sum(r[2] for r in fast)
    per_run = [r[0] / r[1] for r in fast]
    whole = numba_whole_runs(inputs, range(args.seeds))
    print(f"numba: {len(fast)} run(s), {steps / len(fast):,.0f} firm-steps/run; kernel "
          f"{wall / len(fast):.4f} s/run -> {steps / wall / 1e6:.2f} M firm-steps/s wall "
          f"(runs {min(per_run) / 1e6:.2f}-{max(per_run) / 1e6:.2f}), {steps / cpu / 1e6:.2f} M "
          f"CPU; whole runs (one batch) {whole / len(fast):.4f} s/run -> "
          f"{steps / whole / 1e6:.2f} M firm-steps/s")
    numba_rate = steps / wall
    numba_cpu_rate = steps / cpu
    best_cpu = max(r[0] / r[2] for r in fast)
    print(f"numba kernel per core (single-threaded): {numba_rate / 1e6:.2f} M firm-steps/s wall, "
          f"{numba_cpu_rate / 1e6:.2f} M CPU, best run {max(per_run) / 1e6:.2f} M wall, "
          f"{best_cpu / 1e6:.2f} M CPU (target >= {TARGET_NUMBA / 1e6:.0f} M: "
          f"{'met' if numba_rate >= TARGET_NUMBA else 'NOT met'} on wall time, "
          f"{'met' if numba_cpu_rate >= TARGET_NUMBA else 'NOT met'} on CPU time)")

    ref = mesa_runs(inputs, range(args.mesa_runs))
    if not ref:
        ref = mesa_runs(inputs, [0])  # the ratio needs one Mesa run
    m_steps = sum(r[0] for r in ref)
    m_wall, m_cpu = sum(r[1] for r in ref), sum(r[2] for r in ref)
    print(f"mesa: {len(ref)} run(s), {m_steps / len(ref):,.0f} firm-steps/run; kernel "
          f"{m_wall / len(ref):.3f} s/run -> {m_steps / m_wall / 1e6:.4f} M firm-steps/s wall, "
          f"{m_steps / m_cpu / 1e6:.4f} M CPU; whole run {sum(r[4] for r in ref) / len(ref):.3f} s")
    # Checked, not assumed: both engines simulated the same trajectory for the same seed.
    common = list(range(min(args.seeds, args.mesa_runs)))
    agree = all(np.allclose(fast[s][3][:, :-2], ref[s][3][:, :-2], rtol=1e-9, atol=0)
                for s in common)
    print(f"engines agree on seeds {common}: {agree}")
    ratio, ratio_cpu = numba_rate / (m_steps / m_wall), numba_cpu_rate / (m_steps / m_cpu)
    print(f"numba/mesa kernel speed ratio: {ratio:.0f}x wall, {ratio_cpu:.0f}x CPU (target >= "
          f"{TARGET_RATIO:.0f}x: {'met' if min(ratio, ratio_cpu) >= TARGET_RATIO else 'NOT met'})")

    binputs, batched, looped = batch_versus_loop(args.replications)
    print(f"chongqing-baseline ({binputs.baseline.above_scale_firms} above-scale firms, "
          f"{binputs.start_year}-{binputs.end_year}), {args.replications} replications, best of 3: "
          f"run_batch {batched[0]:.1f} replications/s wall ({batched[1]:.1f} CPU), loop of "
          f"run_engine {looped[0]:.1f} wall ({looped[1]:.1f} CPU)")
    print(f"replications/s, batched run_batch / loop of run_engine: {batched[0] / looped[0]:.2f}x "
          f"wall, {batched[1] / looped[1]:.2f}x CPU")


if __name__ == "__main__":
    main()

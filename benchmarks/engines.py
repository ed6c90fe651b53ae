"""Throughput of the two engines on one 10,000-firm scenario: firm-steps per second.

    python benchmarks/engines.py [--firms 10000] [--years 5] [--seeds 5] [--mesa-runs 1]

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
count is used for both engines (they simulate identical trajectories for the same seed).

Timing. numba is compiled (or loaded from its cache) by a warm-up run first. Two figures per engine:
"run" is the whole replication (synthetic population + simulation), "kernel" is the simulation
alone (numba: the kernel call, ``simulate_firms``; mesa: ``RegionModel.run()``). numba runs single-threaded, so the
per-core figure equals the single-process figure. The last line is the ratio of kernel throughputs.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.engines.numba_engine import simulate_firms  # noqa: E402
from sim.engines.mesa_engine import RegionModel  # noqa: E402
from sim.engines.state import FirmState, finish_run, new_annual_arrays  # noqa: E402
from sim.model.inputs import ModelInputs, compile_inputs, random_streams  # noqa: E402
from sim.model.params import ModelParams  # noqa: E402
from sim.plans import load  # noqa: E402

TARGET_NUMBA = 30e6      # firm-steps/s on one core (issue)
TARGET_RATIO = 100.0     # numba / mesa (issue)


def scenario(firms: int, years: int) -> ModelInputs:
    plan = load("chongqing", "001")
    above = firms // 2
    figures = tuple(f.model_copy(update={"value": float(above)})
                    if f.indicator == "sei_firm_count" and f.role == "baseline" else f
                    for f in plan.figures)
    plan = plan.model_copy(update={"figures": figures})
    params = ModelParams().updated({"firms": {"subscale_ratio": (firms - above) / above}})
    return compile_inputs(plan, params, start_year=2020, end_year=2020 + years)


def firm_steps(inputs: ModelInputs, annual) -> float:
    alive = annual["alive_firms"].to_numpy()
    return inputs.steps_per_year * float(np.sum((alive[:-1] + alive[1:]) / 2))


def run_numba_timed(inputs: ModelInputs, seed: int):
    """sim.engines.numba_engine.run_numba with the kernel call timed on its own."""
    t0 = time.perf_counter()
    streams = random_streams(seed)
    firms = FirmState.initial(inputs, streams["population"])
    arrays = new_annual_arrays(inputs, 0)
    t1 = time.perf_counter()
    simulate_firms(inputs, firms, streams, arrays)
    t2 = time.perf_counter()
    result = finish_run(inputs, firms, arrays)
    return result, t2 - t1, time.perf_counter() - t0


def run_mesa_timed(inputs: ModelInputs, seed: int):
    t0 = time.perf_counter()
    model = RegionModel(inputs, seed)
    t1 = time.perf_counter()
    model.run()
    t2 = time.perf_counter()
    result = finish_run(inputs, model.firm_state(), model.arrays)
    return result, t2 - t1, time.perf_counter() - t0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--firms", type=int, default=10_000, help="initial firms (half above-scale)")
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=5, help="timed numba replications")
    ap.add_argument("--mesa-runs", type=int, default=1, help="timed mesa replications")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    inputs = scenario(args.firms, args.years)
    print(f"scenario: chongqing 001, {inputs.start_year}-{inputs.end_year}, "
          f"{inputs.steps_per_year} steps/yr, {inputs.baseline.above_scale_firms} above-scale "
          f"firms x (1 + subscale_ratio {inputs.params.firms.subscale_ratio:g}) "
          f"(compiled inputs in {time.perf_counter() - t:.2f} s)")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, "
          f"python {platform.python_version()}")

    t = time.perf_counter()
    warm, _, _ = run_numba_timed(inputs, 10_000)
    print(f"numba warm-up (compile or cache load + one run): {time.perf_counter() - t:.2f} s; "
          f"initial firms {int(warm.annual['alive_firms'].iloc[0])}")

    rows, results = {}, {}
    for engine, runner, seeds in (("numba", run_numba_timed, range(args.seeds)),
                                  ("mesa", run_mesa_timed, range(args.mesa_runs))):
        steps = kernel = total = 0.0
        per_run = []
        for seed in seeds:
            result, t_kernel, t_total = runner(inputs, seed)
            results[engine, seed] = result.raw
            fs = firm_steps(inputs, result.annual)
            steps, kernel, total = steps + fs, kernel + t_kernel, total + t_total
            per_run.append(fs / t_kernel)
        rows[engine] = steps / kernel
        spread = (f", runs {min(per_run) / 1e6:.2f}-{max(per_run) / 1e6:.2f} M/s"
                  if len(per_run) > 1 else "")
        print(f"{engine}: {len(per_run)} run(s), {steps / len(per_run):,.0f} firm-steps/run; "
              f"kernel {kernel / len(per_run):.4f} s/run -> {steps / kernel / 1e6:.3f} M "
              f"firm-steps/s{spread}; whole run {total / len(per_run):.4f} s/run -> "
              f"{steps / total / 1e6:.3f} M firm-steps/s (kernel share "
              f"{100 * kernel / total:.0f} %)")
        if engine == "numba":
            print(f"numba per core (single-threaded kernel): {rows['numba'] / 1e6:.3f} M "
                  f"firm-steps/s/core (target >= {TARGET_NUMBA / 1e6:.0f} M: "
                  f"{'met' if rows['numba'] >= TARGET_NUMBA else 'NOT met'})")
    # Checked, not assumed: both engines simulated the same trajectory (same seed -> same count).
    common = [seed for seed in range(min(args.seeds, args.mesa_runs))]
    agree = all(np.allclose(results["numba", s], results["mesa", s], rtol=1e-9, atol=0)
                for s in common)
    print(f"engines agree on seeds {common}: {agree}")
    ratio = rows["numba"] / rows["mesa"]
    print(f"target ratio >= {TARGET_RATIO:.0f}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'}")
    print(f"numba/mesa speed ratio: {ratio:.1f}x")


if __name__ == "__main__":
    main()

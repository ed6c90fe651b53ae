"""Where the kernel's time goes: processor cycles per firm-step in each submodel of a run.

    python benchmarks/kernel_phases.py [--firms 10000] [--years 5] [--seeds 5]

The scenario and the firm-step count are those of ``benchmarks/engines.py`` (Chongqing, 10,000
initial firms, half above-scale, 4 steps a year). The script compiles a timed copy of the kernel's
``simulate`` and ``step_firms``: their source, with every statement that calls one of the
submodels in ``PHASES`` wrapped between two reads of the processor's cycle counter
(``llvm.readcyclecounter``), the elapsed cycles added to that submodel's total. Everything else
(the submodels themselves, the random streams) is the kernel's own compiled code, so the copy
simulates the same trajectories; this is checked against ``kernel.simulate`` for every seed. A
counter read costs some tens of cycles and the copy reads it a few thousand times a run, so the
overhead is well under 1 %; the timed copy's and the kernel's seconds per run are printed side by
side.

The last line compares the cost of a firm-step with the budget of the kernel target (40 M
firm-steps/s on one core = 25 ns) and with what the growth normals alone cost (one draw per live
firm and step, numpy's ziggurat on PCG64).
"""

from __future__ import annotations

import argparse
import ast
import functools
import inspect
import os
import sys
import textwrap
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba import njit, types  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

import engines  # noqa: E402  (benchmarks/engines.py, beside this script: its scenario)
import machine  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.engines import kernel  # noqa: E402
from sim.engines.numba_engine import RUN_STREAMS, simulate_firms  # noqa: E402
from sim.engines.state import FirmState, new_annual_arrays  # noqa: E402
from sim.model.inputs import random_streams  # noqa: E402

TARGET_NUMBA = engines.TARGET_NUMBA

#: The timed submodels: the function a statement calls -> the line it is reported under. The
#: statements of ``simulate`` come first; those of ``step_firms`` are parts of its "firm step".
PHASES = {
    "record_row0": "initial row (record_row0)",
    "update_shocks": "macro and industry shocks",
    "cell_drift": "cell drifts",
    "step_firms": "firm step (step_firms)",
    "update_agglomeration": "agglomeration",
    "raise_capital": "funds: capital, eligible firms, deals",
    "spawn_startups": "start-ups",
    "attract_projects": "attracted projects",
    "update_talent": "talent",
    "step_rest_of_economy": "rest of the economy",
    "accumulate": "yearly sums",
    "close_year": "year end",
    "growth_normals": "  growth normals (growth_normals)",
    "grow_firms": "  growth, output, hazard (grow_firms)",
    "settle_firms": "  projects, exits, tallies (settle_firms)",
}


@intrinsic
def _cycles(typingctx):
    """The processor's cycle counter (rdtsc on x86)."""
    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.readcyclecounter",
                                              fnty=ir.FunctionType(ir.IntType(64), []))
        return builder.call(fn, [])
    return types.int64(), codegen


@njit
def cycles():
    return _cycles()


class _Timer(ast.NodeTransformer):
    """Wraps each statement that calls a ``PHASES`` function in counter reads."""

    def __init__(self, slots: dict[str, int]):
        self.slots = slots
        self.found: set[str] = set()

    def _called(self, node) -> str | None:
        # a loop or branch counts by its header; statements in its body are timed one by one
        head = (node.test if isinstance(node, (ast.If, ast.While))
                else node.iter if isinstance(node, ast.For) else node)
        for sub in ast.walk(head):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) \
                    and sub.func.id in self.slots:
                return sub.func.id
        return None

    def generic_visit(self, node):
        super().generic_visit(node)
        for field in ("body", "orelse"):
            stmts = getattr(node, field, None)
            if not isinstance(stmts, list) or not stmts or not isinstance(stmts[0], ast.stmt):
                continue
            out = []
            for stmt in stmts:
                name = (None if isinstance(stmt, (ast.Return, ast.FunctionDef))
                        else self._called(stmt))
                if name is None:
                    out.append(stmt)
                    continue
                self.found.add(name)
                out += ast.parse("_t0 = _cycles()").body + [stmt] + ast.parse(
                    f"_acc[{self.slots[name]}] += _cycles() - _t0").body
            setattr(node, field, out)
        return node


def timed_copy(func, slots: dict[str, int], namespace: dict, rename: dict[str, str]):
    """A compiled copy of the kernel function ``func`` taking the cycle totals ``_acc`` first."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(func.py_func)))
    fdef = tree.body[0]
    fdef.decorator_list = []
    fdef.name += "_timed"
    fdef.args.args.insert(0, ast.arg("_acc"))
    timer = _Timer(slots)
    tree = timer.visit(tree)
    if set(slots) - timer.found:  # the kernel changed: say so rather than print a zero
        raise SystemExit(f"{func.py_func.__name__} no longer calls "
                         f"{', '.join(sorted(set(slots) - timer.found))}; update PHASES")
    for call in ast.walk(tree):  # calls of other timed copies pass the totals on
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) \
                and call.func.id in rename:
            call.func.id = rename[call.func.id]
            call.args.insert(0, ast.Name("_acc", ast.Load()))
    ast.fix_missing_locations(tree)
    exec(compile(tree, f"<timed {func.py_func.__name__}>", "exec"), namespace)
    return njit(error_model="numpy")(namespace[fdef.name])


def build_timed():
    names = list(PHASES)
    slots = {name: k for k, name in enumerate(names)}
    namespace = dict(vars(kernel), _cycles=_cycles)
    step_slots = {n: slots[n] for n in ("growth_normals", "grow_firms", "settle_firms")}
    namespace["step_firms_timed"] = timed_copy(kernel.step_firms, step_slots, namespace, {})
    sim_slots = {n: k for n, k in slots.items() if n not in step_slots}
    simulate = timed_copy(kernel.simulate, sim_slots, namespace,
                          {"step_firms": "step_firms_timed"})
    return simulate, names


def run(fn, prefix, inputs, seed):
    """One run of ``fn`` (the kernel's ``simulate`` or its timed copy, called with ``prefix``
    first): seconds, cycles, annual array. The run goes through the engine's own
    ``simulate_firms``, with ``kernel.simulate`` stood in for by ``fn`` during the call, so the
    arguments are always the ones the engine passes."""
    streams = random_streams(seed)
    firms = FirmState.initial(inputs, streams["population"])
    states = {name: kernel.stream_state(streams[name]) for name in RUN_STREAMS}
    arrays = new_annual_arrays(inputs, 0)
    workspace = kernel.new_workspace(firms.capacity)
    original = kernel.simulate
    kernel.simulate = functools.partial(fn, *prefix)
    try:
        t, c = time.perf_counter(), cycles()
        simulate_firms(inputs, firms, states, arrays, workspace)
        t, c = time.perf_counter() - t, cycles() - c
    finally:
        kernel.simulate = original
    return t, c, arrays[0]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--firms", type=int, default=10_000, help="initial firms (half above-scale)")
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=5, help="timed replications")
    args = ap.parse_args(argv)

    import numba

    print(f"machine: {machine.environment(np, numba)}")
    inputs = engines.scenario(args.firms, args.years)
    timed, names = build_timed()
    acc = np.zeros(len(names), np.int64)
    for fn, prefix in ((kernel.simulate, ()), (timed, (acc,))):  # compile or load, warm
        run(fn, prefix, inputs, 10_000)
    acc[:] = 0
    seconds = {"kernel": 0.0, "timed": 0.0}
    total_cycles, steps = 0, 0.0
    for seed in range(args.seeds):
        s_plain, _, plain = run(kernel.simulate, (), inputs, seed)
        s_timed, c_timed, ann = run(timed, (acc,), inputs, seed)
        if not np.array_equal(plain, ann):
            raise SystemExit(f"seed {seed}: the timed copy simulated another trajectory")
        seconds["kernel"] += s_plain
        seconds["timed"] += s_timed
        total_cycles += c_timed
        steps += engines.firm_steps(inputs, ann)
    ghz = total_cycles / seconds["timed"] / 1e9
    ns_per_step = seconds["timed"] / steps * 1e9
    print(f"scenario: chongqing 001, {args.firms:,} initial firms, {inputs.start_year}-"
          f"{inputs.end_year}, {inputs.steps_per_year} steps/yr; {args.seeds} runs, "
          f"{steps / args.seeds:,.0f} firm-steps each; cycle counter at {ghz:.2f} GHz")
    print(f"seconds per run: kernel {seconds['kernel'] / args.seeds:.4f}, timed copy "
          f"{seconds['timed'] / args.seeds:.4f} (same trajectories: checked)")
    print(f"{'submodel':44s} {'share':>7s} {'ns per firm-step':>17s}")
    for name, total in zip(names, acc):
        ns = total / ghz / steps
        print(f"{PHASES[name]:44s} {total / total_cycles:7.1%} {ns:17.2f}")
    timed_sum = sum(int(a) for n, a in zip(names, acc) if not PHASES[n].startswith("  "))
    print(f"{'rest (loop, set-up)':44s} {1 - timed_sum / total_cycles:7.1%} "
          f"{(total_cycles - timed_sum) / ghz / steps:17.2f}")
    budget = 1e9 / TARGET_NUMBA
    normals = acc[names.index("growth_normals")] / ghz / steps
    print(f"firm-step {ns_per_step:.1f} ns against the {budget:.0f} ns of "
          f"{TARGET_NUMBA / 1e6:.0f} M firm-steps/s: {ns_per_step / budget:.2f}x the budget; "
          f"the growth normals alone take {normals:.1f} ns ({normals / budget:.0%} of it)")


if __name__ == "__main__":
    main()

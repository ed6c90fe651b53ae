"""The fast engine: the whole model as one numba-compiled loop over struct-of-arrays firm state.

It computes exactly what :mod:`sim.engines.mesa_engine` computes (same equations, same order of
random draws from the same streams, same summation order), so the two agree to rounding; the Mesa
engine is the readable reference, this one is the one to use for Monte Carlo. The kernel is compiled
with ``cache=True``: the first call in a fresh environment compiles it (several seconds), later
processes load the cached machine code.
"""

from __future__ import annotations

from sim.engines.kernel import pack_scalars, simulate
from sim.engines.state import FirmState, RunResult, finish_run, new_annual_arrays
from sim.model.inputs import ModelInputs


def run_numba(inputs: ModelInputs, streams: dict, record_firms: bool = False) -> RunResult:
    """Run one replication on the compiled kernel."""
    firms = FirmState.initial(inputs, streams["population"])
    arrays = new_annual_arrays(inputs, firms.capacity if record_firms else 0)
    simulate_firms(inputs, firms, streams, arrays)
    return finish_run(inputs, firms, arrays)


def simulate_firms(inputs: ModelInputs, firms: FirmState, streams: dict, arrays) -> None:
    """The kernel call alone: steps ``firms`` through the run, filling ``arrays`` (the annual
    arrays of :func:`sim.engines.state.new_annual_arrays`)."""
    ann, ann_ind, ann_park, ann_serv, history = arrays
    n_used = simulate(
        pack_scalars(inputs.scalars), inputs.mu, inputs.cell_allowed, inputs.land,
        inputs.attraction_cum, inputs.fund_inflow, inputs.fund_leverage, inputs.fund_alloc_cum,
        inputs.fund_max_deals, inputs.services0, inputs.drift_shift, inputs.steps_per_year,
        inputs.n_years, firms.logy, firms.industry, firms.park, firms.rd, firms.age, firms.alive,
        firms.pipeline, firms.pipeline_step, firms.stake, firms.stake_step, firms.stake_fund,
        firms.n_used, streams["macro"], streams["growth"], streams["exit"], streams["fund"],
        streams["entry"], ann, ann_ind, ann_park, ann_serv, history)
    firms.n_used = int(n_used)

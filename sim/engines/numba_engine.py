"""The fast engine: the whole model as compiled loops over struct-of-arrays firm state.

It computes what :mod:`sim.engines.mesa_engine` computes (same equations, same random draws from the
same streams in the same order), so the two agree to rounding; the Mesa engine is the readable
reference, this one is the one to use for Monte Carlo.

:func:`run_numba_batch` runs any number of replications in one compiled call
(``kernel.simulate_batch``): per replication the initial population, the run and the price levels,
each replication with its own random streams and its own slices of the result arrays. Its firms
have slots of their own, or, when the caller keeps no final firm table (a Monte Carlo chunk), the
slots every replication of the batch uses in turn, cleared in between. What stays in Python is
per batch (stacking the configurations' arrays, allocating, building the result objects); each
replication's streams are seeded in compiled code too (:mod:`sim.engines.streams`). One
replication is a batch of one, so a replication's result does not depend on the batch it ran in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.engines import kernel
from sim.engines.state import FirmState, RunResult, finish_run, new_annual_arrays
from sim.engines.streams import seeded_states
from sim.model.inputs import ModelInputs
from sim.engines.population import PopulationLayout, population_layout


def price_vector(inputs: ModelInputs) -> np.ndarray:
    ec = inputs.params.economy
    return kernel.pack_prices({
        "industrial_inflation": ec.industrial_inflation, "gdp_inflation": ec.gdp_inflation,
        "industrial_inflation_sigma": ec.industrial_inflation_sigma,
        "gdp_inflation_sigma": ec.gdp_inflation_sigma})


def draw_price_levels(inputs: ModelInputs, rng: np.random.Generator, raw: np.ndarray) -> None:
    """ODD 7.15 (compiled, the function the batched kernel calls): the price-level columns of
    ``raw``, drawn from the replication's prices stream (``rng`` advances by the draws).

    The model's amounts are nominal while bulletins publish growth at comparable prices, so each
    replication carries an industrial producer price level and a GDP deflator (base year 1),
    geometric random walks in yearly steps. No process of the model reads them, so they come from
    their own stream, after the run, and every engine and connector draws them here."""
    state = kernel.stream_state(rng)
    kernel.price_levels(price_vector(inputs), inputs.n_years, state, raw)
    kernel.set_stream_state(rng, state)


@dataclass
class _Config:
    """One distinct configuration of a batch, prepared once."""

    inputs: ModelInputs
    layout: PopulationLayout
    capacity: int


def _shape(inputs: ModelInputs) -> tuple:
    """Configurations with the same shape can share one compiled call (stacked arrays)."""
    return (inputs.mu.shape[1], inputs.land.size, inputs.fund_inflow.size,
            inputs.services0.size, inputs.n_years, inputs.steps_per_year)


def run_numba_batch(inputs: list[ModelInputs], seeds: list, record_firms: bool = False,
                    keep_firms: bool = True) -> list[RunResult | Exception]:
    """Replication ``r`` runs ``inputs[r]`` with ``seeds[r]``. A replication whose values stop
    being finite gets its :class:`~sim.errors.InputError` in its place in the list (the caller
    decides whether to raise). Without ``keep_firms`` (and without ``record_firms``, whose firm
    table needs them) the results carry no final firm table and the replications share one
    replication's firm slots: a Monte Carlo chunk's memory does not grow with its size."""
    if len(inputs) != len(seeds):
        raise ValueError(f"{len(inputs)} inputs for {len(seeds)} seeds")
    configs: list[_Config] = []
    config_of: list[int] = []
    known: dict[int, int] = {}
    for inp in inputs:
        u = known.get(id(inp))
        if u is None:
            layout = population_layout(inp.baseline, inp.params)
            u = known[id(inp)] = len(configs)
            configs.append(_Config(inp, layout, inp.capacity(layout.n_firms)))
        config_of.append(u)
    groups: dict[tuple, list[int]] = {}
    for r, u in enumerate(config_of):
        groups.setdefault(_shape(configs[u].inputs), []).append(r)
    results: list = [None] * len(seeds)
    for reps in groups.values():
        for r, result in zip(reps, _run_group([configs[config_of[r]] for r in reps],
                                              [seeds[r] for r in reps], record_firms,
                                              keep_firms or record_firms)):
            results[r] = result
    return results


def _run_group(configs: list[_Config], seeds: list, record_firms: bool,
               keep_firms: bool) -> list:
    """Replications whose configurations share one shape: one compiled call."""
    distinct: dict[int, int] = {}
    order: list[_Config] = []
    config = np.empty(len(configs), np.int64)
    for r, c in enumerate(configs):
        u = distinct.get(id(c))
        if u is None:
            u = distinct[id(c)] = len(order)
            order.append(c)
        config[r] = u
    ins = [c.inputs for c in order]
    J, P, NS = ins[0].mu.shape[1], ins[0].land.size, ins[0].services0.size
    spy, n_years = int(ins[0].steps_per_year), int(ins[0].n_years)
    rows = n_years + 1

    def stack(get, dtype=float):
        return np.ascontiguousarray(np.stack([np.asarray(get(i), dtype=dtype) for i in ins]))

    S = stack(lambda i: kernel.pack_scalars(i.scalars))
    MU, ALLOWED = stack(lambda i: i.mu), stack(lambda i: i.cell_allowed, np.uint8)
    LAND, ATTRACT = stack(lambda i: i.land), stack(lambda i: i.attraction_cum)
    F_INFLOW, F_LEV = stack(lambda i: i.fund_inflow), stack(lambda i: i.fund_leverage)
    F_ALLOC = stack(lambda i: i.fund_alloc_cum)
    F_MAX_DEALS = stack(lambda i: i.fund_max_deals, np.int64)
    SERV0, SHIFT = stack(lambda i: i.services0), stack(lambda i: i.drift_shift)
    POP = np.stack([c.layout.vector for c in order])
    CELL = np.stack([c.layout.cell_output for c in order])
    COUNTS = np.stack([c.layout.counts for c in order]).astype(np.int64)
    BIGS = np.stack([c.layout.bigs for c in order]).astype(np.int64)
    PRICES = np.stack([price_vector(i) for i in ins])

    R = len(configs)
    caps = np.array([c.capacity for c in configs], np.int64)
    first = np.zeros(R, np.int64)  # shared slots: every replication starts at slot 0
    if keep_firms:  # each replication's own slots, kept for its result
        np.cumsum(caps[:-1], out=first[1:])
    firms = FirmState.empty(int(first[-1] + caps[-1]) if keep_firms else int(caps.max()))
    n_used = np.zeros(R, np.int64)
    ann = np.zeros((R, rows, len(kernel.ANNUAL)))
    ann_ind, ann_park, ann_serv = np.zeros((R, rows, J)), np.zeros((R, rows, P)), \
        np.zeros((R, rows, NS))
    hist_at = np.zeros(R + 1, np.int64)
    if record_firms:
        np.cumsum(caps * rows, out=hist_at[1:])
    hist = np.zeros(int(hist_at[-1]))
    states = seeded_states(seeds, kernel.KERNEL_STREAMS)

    kernel.simulate_batch(
        config, S, MU, ALLOWED, LAND, ATTRACT, F_INFLOW, F_LEV, F_ALLOC, F_MAX_DEALS, SERV0, SHIFT,
        POP, CELL, COUNTS, BIGS, PRICES, spy, n_years, states, first, caps, firms.logy,
        firms.industry, firms.park, firms.rd, firms.age, firms.alive, firms.pipeline,
        firms.pipeline_step, firms.stake, firms.stake_step, firms.stake_fund, n_used, ann,
        ann_ind, ann_park, ann_serv, hist_at, hist)

    out = []
    for r, c in enumerate(configs):
        a, b = int(first[r]), int(first[r] + caps[r])
        state = None if not keep_firms else FirmState(
            logy=firms.logy[a:b], industry=firms.industry[a:b], park=firms.park[a:b],
            rd=firms.rd[a:b], age=firms.age[a:b], alive=firms.alive[a:b],
            pipeline=firms.pipeline[a:b], pipeline_step=firms.pipeline_step[a:b],
            stake=firms.stake[a:b], stake_step=firms.stake_step[a:b],
            stake_fund=firms.stake_fund[a:b], n_used=int(n_used[r]))
        history = (hist[hist_at[r]:hist_at[r + 1]].reshape(rows, b - a) if record_firms
                   else np.zeros((0, 0)))
        try:
            out.append(finish_run(c.inputs, state,
                                  (ann[r], ann_ind[r], ann_park[r], ann_serv[r], history)))
        except Exception as exc:  # noqa: BLE001 - handed to the caller in the replication's place
            out.append(exc)
    return out


#: The streams a run draws from after its population (``kernel.simulate``'s order).
RUN_STREAMS = ("macro", "growth", "exit", "fund", "entry")


def run_numba(inputs: ModelInputs, streams: dict, record_firms: bool = False) -> RunResult:
    """One replication on the compiled kernel, with streams already made (``random_streams``):
    the replication's population, run and price levels, as in a batch. The streams advance by
    their draws, as numpy's would."""
    firms = FirmState.initial(inputs, streams["population"])
    arrays = new_annual_arrays(inputs, firms.capacity if record_firms else 0)
    states = {name: kernel.stream_state(streams[name]) for name in RUN_STREAMS}
    simulate_firms(inputs, firms, states, arrays)
    for name in RUN_STREAMS:
        kernel.set_stream_state(streams[name], states[name])
    draw_price_levels(inputs, streams["prices"], arrays[0])
    return finish_run(inputs, firms, arrays)


def simulate_firms(inputs: ModelInputs, firms: FirmState, states: dict, arrays,
                   workspace=None) -> None:
    """The kernel's run alone (``kernel.simulate``): steps ``firms`` through the run, filling
    ``arrays`` (the annual arrays of :func:`sim.engines.state.new_annual_arrays`). ``states``
    maps each of :data:`RUN_STREAMS` to its PCG64 state (``kernel.stream_state``), advanced as
    the run draws. ``workspace`` (``kernel.new_workspace``) may be reused."""
    ann, ann_ind, ann_park, ann_serv, history = arrays
    if workspace is None or workspace[2].size < firms.capacity:
        workspace = kernel.new_workspace(firms.capacity)
    n_used = kernel.simulate(
        kernel.pack_scalars(inputs.scalars), inputs.mu, inputs.cell_allowed, inputs.land,
        inputs.attraction_cum, inputs.fund_inflow, inputs.fund_leverage, inputs.fund_alloc_cum,
        inputs.fund_max_deals, inputs.services0, inputs.drift_shift, inputs.steps_per_year,
        inputs.n_years, firms.logy, firms.industry, firms.park, firms.rd, firms.age, firms.alive,
        firms.pipeline, firms.pipeline_step, firms.stake, firms.stake_step, firms.stake_fund,
        firms.n_used, *(states[name] for name in RUN_STREAMS), ann, ann_ind, ann_park,
        ann_serv, history, *workspace)
    firms.n_used = int(n_used)

"""The compiled kernel's building blocks and the batched call.

``run_batch`` must give, replication for replication, exactly what ``run_engine`` gives (bit for
bit), whatever else is in the batch; the compiled population must meet the constraints of ODD 5.3;
the kernel's own exp and its growth-stream normals must be math.exp to rounding and numpy's normals
bit for bit (the Mesa engine uses those).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.api import as_inputs
from sim.engines import kernel, run_batch, run_engine, streams
from sim.engines.population import build_population, population_layout
from sim.errors import InputError
from sim.experiments.seeding import replication_seed
from sim.model.inputs import STREAMS, random_streams
from sim.model.levers import Levers


def _seeds(n, entropy=2024):
    return np.random.SeedSequence(entropy).spawn(n)


@pytest.fixture(scope="module")
def fuling():
    return as_inputs("fuling", params={"funds": {"annual_investment": 4.8, "source": "test fund",
                                                 "holding_period": 1.0}},
                     end_year=2024)


@pytest.fixture(scope="module")
def fuling_variants(fuling):
    """Different configurations of one shape (a list of inputs, one per seed)."""
    return [as_inputs("fuling", params={"funds": {"annual_investment": a, "source": "test fund"}},
                      levers=Levers(attraction=m), end_year=2024)
            for a, m in ((4.8, 1.0), (9.6, 2.0), (2.0, 0.5))]


def _same(a, b):
    assert np.array_equal(a.raw, b.raw)
    assert np.array_equal(a.by_industry, b.by_industry)
    assert np.array_equal(a.by_park, b.by_park)
    assert np.array_equal(a.by_services, b.by_services)
    assert a.firms.n_used == b.firms.n_used
    n = a.firms.n_used
    for field in ("logy", "industry", "park", "rd", "age", "alive", "pipeline", "stake"):
        assert np.array_equal(getattr(a.firms, field)[:n], getattr(b.firms, field)[:n]), field
    if a.firm_history is None:
        assert b.firm_history is None
    else:
        assert np.array_equal(a.firm_history, b.firm_history)


@pytest.mark.parametrize("record_firms", [False, True])
def test_run_batch_equals_the_loop_bit_for_bit(fuling, record_firms):
    seeds = _seeds(5)
    batch = run_batch(fuling, seeds, record_firms=record_firms)
    assert len(batch) == 5
    for seed, result in zip(seeds, batch):
        _same(result, run_engine(fuling, seed, record_firms=record_firms))
    # The replications differ from each other (each has its own streams).
    assert not np.array_equal(batch[0].raw, batch[1].raw)


@pytest.mark.parametrize("record_firms", [False, True])
def test_run_batch_with_one_inputs_per_seed(fuling_variants, record_firms):
    seeds = _seeds(6, entropy=7)
    inputs = fuling_variants + fuling_variants[::-1]
    batch = run_batch(inputs, seeds, record_firms=record_firms)
    for inp, seed, result in zip(inputs, seeds, batch):
        assert result.inputs is inp
        _same(result, run_engine(inp, seed, record_firms=record_firms))


def test_results_do_not_depend_on_how_replications_are_batched(fuling, fuling_variants):
    seeds = _seeds(7, entropy=99)
    inputs = [fuling_variants[r % 3] for r in range(7)]
    whole = run_batch(inputs, seeds)
    parts = run_batch(inputs[:3], seeds[:3]) + run_batch(inputs[3:], seeds[3:])
    for a, b in zip(whole, parts):
        _same(a, b)
    # Mixed shapes (a different horizon) in one batch are run in groups, results in seed order.
    longer = as_inputs("fuling", params={"funds": {"annual_investment": 4.8,
                                                   "source": "test fund"}}, end_year=2026)
    mixed = run_batch([fuling, longer, fuling], seeds[:3])
    assert [r.raw.shape[0] for r in mixed] == [4, 6, 4]
    _same(mixed[1], run_engine(longer, seeds[1]))


@pytest.mark.parametrize("engine", ["numba", "mesa"])
def test_a_batch_that_keeps_no_firm_tables_gives_the_same_results(fuling, fuling_variants,
                                                                   engine):
    """Without firm tables, the replications of a numba batch share one replication's slots: each
    must still start from clean slots (the variants enter and invest differently, so an earlier
    replication leaves more used slots, stakes and pipelines behind than the next one uses)."""
    n = 7 if engine == "numba" else 2
    seeds = _seeds(n, entropy=5)
    inputs = [fuling_variants[r % 3] for r in range(n)]
    kept = run_batch(inputs, seeds, engine=engine)
    assert len({r.firms.n_used for r in kept}) > 1 or engine == "mesa"
    assert any(r.firms.stake.any() for r in kept)
    for a, b in zip(kept, run_batch(inputs, seeds, engine=engine, keep_firms=False)):
        assert b.firms is None
        for field in ("raw", "by_industry", "by_park", "by_services"):
            assert np.array_equal(getattr(a, field), getattr(b, field)), field
    # Per-firm history needs the firm tables: asking for it keeps them.
    recorded = run_batch(inputs[:2], seeds[:2], engine=engine, record_firms=True,
                         keep_firms=False)
    for a, b in zip(kept, recorded):
        assert b.firms is not None and len(b.firm_table())
        assert np.array_equal(a.raw, b.raw)


def test_run_batch_is_deterministic_and_integer_seeds_work(fuling):
    a = run_batch(fuling, [3, 4])
    b = run_batch(fuling, [np.random.SeedSequence(3), np.random.SeedSequence(4)])
    for x, y in zip(a, b):
        _same(x, y)


def test_run_batch_refuses_bad_arguments(fuling):
    with pytest.raises(InputError, match="2 model inputs for 3 seeds"):
        run_batch([fuling, fuling], _seeds(3))
    with pytest.raises(InputError, match="unknown engine"):
        run_batch(fuling, _seeds(1), engine="fortran")
    assert run_batch(fuling, []) == []


def test_run_batch_reports_a_failing_replication_in_its_place(fuling):
    import copy

    bad = copy.copy(fuling)
    bad.scalars = dict(fuling.scalars, nonsei_g=1e6)  # past validation: values overflow
    seeds = _seeds(3)
    with pytest.raises(InputError, match="not finite"):
        run_batch([fuling, bad, fuling], seeds)
    results = run_batch([fuling, bad, fuling], seeds, errors="return")
    assert isinstance(results[1], InputError)
    _same(results[0], run_engine(fuling, seeds[0]))
    _same(results[2], run_engine(fuling, seeds[2]))


def test_mesa_batch_is_the_mesa_loop():
    inputs = as_inputs("fuling", end_year=2022)
    seeds = _seeds(2)
    batch = run_batch(inputs, seeds, engine="mesa")
    for seed, result in zip(seeds, batch):
        assert np.array_equal(result.raw, run_engine(inputs, seed, engine="mesa").raw)
    fast = run_batch(inputs, seeds)
    for a, b in zip(batch, fast):
        np.testing.assert_allclose(a.raw, b.raw, rtol=1e-9, atol=0)


# -- the compiled population (ODD 5.3) ------------------------------------------------------------

@pytest.mark.parametrize("region, version", [("fuling", None), ("chongqing", "001"),
                                             ("chongqing", "000")])
def test_compiled_population_meets_its_constraints(region, version):
    inputs = as_inputs(region, version=version)
    b, fp = inputs.baseline, inputs.params.firms
    thr = fp.above_scale_threshold
    layout = population_layout(b, inputs.params)
    for seed in range(4):
        pop = build_population(b, inputs.params, np.random.default_rng(seed))
        assert len(pop) == layout.n_firms == layout.n_above + layout.n_sub
        above = np.arange(len(pop)) < layout.n_above
        # Every cell's fitted firms add up to the cell's baseline output ...
        for p in range(len(b.parks)):
            for j in range(len(b.industries)):
                cell = above & (pop.park == p) & (pop.industry == j)
                assert cell.sum() == (layout.counts[p, j] if b.cell_output[p, j] > 0 else 0)
                if cell.any():
                    assert pop.output[cell].sum() == pytest.approx(b.cell_output[p, j],
                                                                   rel=1e-12)
                    # ... each at or above the threshold (or the cell's output per firm).
                    floor = min(thr, b.cell_output[p, j] / cell.sum())
                    assert (pop.output[cell] >= floor * (1 - 1e-12)).all()
        # Hence industry totals are the baseline's.
        np.testing.assert_allclose(np.bincount(pop.industry[above], pop.output[above],
                                               minlength=len(b.industries)),
                                   b.industry_output, rtol=1e-12)
        # Sub-threshold firms are below it; very large firms exactly as placed.
        assert (pop.output[~above] < thr).all()
        if b.big_firm_threshold is not None and not layout.notes:
            assert (pop.output >= b.big_firm_threshold).sum() == layout.bigs.sum()
        assert (pop.rd > 0).all() and (pop.age >= 0).all()
    # Deterministic per generator, different across generators.
    one = build_population(b, inputs.params, np.random.default_rng(1))
    assert np.array_equal(one.output, build_population(b, inputs.params,
                                                       np.random.default_rng(1)).output)
    assert not np.array_equal(one.output, build_population(b, inputs.params,
                                                           np.random.default_rng(2)).output)


def test_fit_sizes_hits_the_total_within_bounds():
    rng = np.random.default_rng(5)
    for _ in range(50):
        n = int(rng.integers(1, 60))
        raw = np.sort(rng.pareto(1.2, n) + 1.0)[::-1].copy()
        lower = np.full(n, 0.2)
        upper = np.full(n, np.inf)
        b = int(rng.integers(0, n + 1))
        big = 10.0
        lower[:b] = big
        upper[b:] = np.nextafter(big, 0)
        total = float(lower.sum() + rng.uniform(0, 1) * (upper[b:].sum() - lower[b:].sum()))
        sizes = kernel.fit_sizes(raw, total, lower, upper)
        assert sizes.sum() == pytest.approx(total, rel=1e-12)
        assert (sizes >= lower * (1 - 1e-12)).all() and (sizes <= upper).all()
        # Sizes keep the order of the raw draws (one common scale factor).
        assert (np.diff(sizes) <= 1e-9 * sizes[:-1]).all()


# -- the kernel's exp and growth stream -----------------------------------------------------------

def test_exp_fast_is_exp_to_one_ulp():
    x = np.concatenate([np.random.default_rng(0).uniform(-745, 709.7, 200_000),
                        np.random.default_rng(1).uniform(-30, 30, 200_000)])
    got = np.array([kernel.exp_fast(v) for v in x[:2000]])  # the scalar path, from Python
    ref = np.array([math.exp(v) for v in x[:2000]])
    normal = ref > 2.3e-308
    assert np.all(np.abs(got - ref)[normal] <= 1.0 * np.spacing(ref[normal]))
    for v, expected in ((0.0, 1.0), (710.0, math.inf), (-746.0, 0.0), (math.inf, math.inf),
                        (-math.inf, 0.0)):
        assert kernel.exp_fast(v) == expected
    assert math.isnan(kernel.exp_fast(math.nan))


def test_growth_normals_are_numpys_draw_for_draw():
    for seed in range(3):
        n = 5000
        alive = (np.random.default_rng(seed).random(n) < 0.8).astype(np.int8)
        rng = np.random.default_rng(seed + 10)
        state = kernel.stream_state(rng)
        eps = np.full(n, np.nan)
        at = np.array([0, 0, int(alive.sum())])
        raw = np.empty(64, np.uint64)  # small buffer: refills and blocks are exercised
        for lo in range(0, n, 700):
            kernel.growth_normals(state, raw, at, alive, lo, min(lo + 700, n), eps[lo:lo + 700])
        ref = np.random.default_rng(seed + 10)
        assert np.array_equal(eps[alive == 1], ref.standard_normal(int(alive.sum())))
        kernel.set_stream_state(rng, state)
        assert rng.standard_normal() == ref.standard_normal()  # the stream is where numpy's is


def test_eligible_firms_are_grouped_by_industry_with_cumulative_weights():
    rng = np.random.default_rng(3)
    J = 7
    # firms laid out by industry, then entrants in no order, and industries left empty
    ind = np.concatenate([np.sort(rng.choice([0, 2, 3, 5], 900)), rng.choice([0, 2, 3, 5, 6], 300)])
    for n_elig in (0, 1, 40, 650):
        elig = np.sort(rng.choice(ind.size, n_elig, replace=False)).astype(np.int64)
        weights = rng.random(ind.size)[:n_elig]
        idx, cum = np.full(ind.size, -1), np.full(ind.size, np.nan)
        count, start = np.full(J, -1), np.full(J + 1, -1)
        kernel.eligible_by_industry(ind, elig, weights, n_elig, idx, cum, count, start)
        for j in range(J):
            mine = ind[elig] == j  # the industry's firms in slot order, sums in that order
            expected = np.cumsum(weights[mine]) if mine.any() else np.zeros(0)
            assert count[j] == mine.sum() and start[j + 1] - start[j] == count[j]
            assert np.array_equal(idx[start[j]:start[j + 1]], elig[mine])
            assert np.array_equal(cum[start[j]:start[j + 1]], expected)  # exact, not close


# -- streams seeded in compiled code ------------------------------------------------------------
def _numpy_states(seed, names):
    named = random_streams(seed, names)
    return np.array([kernel.stream_state(named[n]) for n in names])


def test_streams_are_seeded_as_numpy_seeds_them():
    """Every stream's PCG64 state equals the one numpy's SeedSequence and PCG64 give, for run
    entropy of one, two and three 32-bit words, replication numbers beyond 32 bits, plain integer
    seeds, and the forms numpy seeds itself (entropy as a sequence, another pool size)."""
    seeds = [replication_seed(s, r) for s in (0, 1, 20250101, 2**32 - 1, 2**32, 2**70 + 5)
             for r in (0, 1, 999, 2**32 + 3)]
    seeds += [0, 7, 2**40, np.random.SeedSequence([1, 2, 3]),
              np.random.SeedSequence(5, spawn_key=(1, 2, 3)),
              np.random.SeedSequence(5, pool_size=8, spawn_key=(4,))]
    used = np.random.SeedSequence(9, spawn_key=(2,))
    used.spawn(3)  # a sequence that has spawned before: streams still start from its first child
    seeds.append(used)
    got = streams.seeded_states(seeds, STREAMS)
    for r, seed in enumerate(seeds):
        assert np.array_equal(got[r], _numpy_states(seed, STREAMS)), seed
    assert streams.assembled_entropy(np.random.SeedSequence([1, 2])) is None  # left to numpy
    assert streams.assembled_entropy(replication_seed(3, 4)) == [3, 0, 0, 0, 4]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_draws_are_numpys_draw_for_draw(seed):
    """Each distribution the kernel draws, on a PCG64 state, returns what numpy's Generator
    returns and leaves the stream where numpy leaves it: enough draws to pass through the rare
    branches (the ziggurats' tails and wedges, Poisson's rejection steps)."""
    n = 20_000
    rng = np.random.default_rng(seed)
    state = kernel.stream_state(rng)
    ref = np.random.default_rng(seed)
    assert np.array_equal([kernel.draw_uniform(state) for _ in range(n)], ref.random(n))
    assert np.array_equal(kernel.draw_normals(state, n), ref.standard_normal(n))
    assert np.array_equal([kernel.draw_exponential(state) for _ in range(n)],
                          ref.standard_exponential(n))
    for a in (1.1, 2.5):
        assert np.array_equal([kernel.draw_pareto(state, a) for _ in range(n)], ref.pareto(a, n))
    for lam in (0.0, 0.05, 3.0, 9.99, 10.0, 37.5, 1e4):
        assert np.array_equal([kernel.draw_poisson(state, lam) for _ in range(n // 4)],
                              ref.poisson(lam, n // 4)), lam
    kernel.set_stream_state(rng, state)
    assert rng.random() == ref.random()

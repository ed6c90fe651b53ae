"""Engines: two implementations of one model.

``numba`` is the fast struct-of-arrays kernel for Monte Carlo; ``mesa`` is the readable reference in
which every firm, park and fund is a ``mesa.Agent``. Given the same inputs and seed they produce the
same trajectories (to rounding), which the test-suite checks.

:func:`run_batch` runs many replications at once (on ``numba``: one compiled call for all of them);
:func:`run_engine` is one replication, a batch of one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.errors import InputError
from sim.engines.kernel import A_INDEX  # noqa: F401 - re-exported
from sim.model.inputs import ModelInputs, random_streams

ENGINES = ("numba", "mesa")


def run_batch(inputs: ModelInputs | Sequence[ModelInputs],
              seeds: Sequence[np.random.SeedSequence | int], engine: str = "numba",
              record_firms: bool = False, *, errors: str = "raise",
              keep_firms: bool = True) -> list:
    """Replications of ``inputs`` (one :class:`ModelInputs` for all, or one per seed), one per seed;
    a list of RunResult in seed order.

    Each replication uses its own streams (``random_streams(seed)``), so its result is the one
    ``run_engine(inputs_i, seed_i)`` gives, bit for bit, whatever else is in the batch. On the
    numba engine the whole batch is one compiled call (population, run and price levels of every
    replication); on Mesa it is a loop.

    A replication whose values stop being finite raises its :class:`InputError` (``errors="raise"``,
    the first such replication in seed order) or, with ``errors="return"``, stands in the list as
    that exception, the other results intact.

    ``keep_firms=False`` (a Monte Carlo chunk, which keeps only the yearly arrays): the results
    carry no final firm table (``firms`` is None), so on numba the replications share one
    replication's firm slots, whatever the batch size. ``record_firms`` keeps them.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown engine '{engine}' (choose one of {', '.join(ENGINES)})")
    if errors not in ("raise", "return"):
        raise ValueError(f"errors must be 'raise' or 'return', not {errors!r}")
    seeds = list(seeds)
    if isinstance(inputs, ModelInputs):
        configs = [inputs] * len(seeds)
    else:
        configs = list(inputs)
        if len(configs) != len(seeds):
            raise InputError(f"{len(configs)} model inputs for {len(seeds)} seeds: give one inputs "
                             "for all seeds or one per seed")
    if engine == "numba":
        from sim.engines.numba_engine import run_numba_batch

        results = run_numba_batch(configs, seeds, record_firms, keep_firms)
    else:
        results = [_run_mesa(i, seed, record_firms) for i, seed in zip(configs, seeds)]
        if not (keep_firms or record_firms):
            for result in results:
                if not isinstance(result, Exception):
                    result.firms = None
    if errors == "raise":
        for result in results:
            if isinstance(result, Exception):
                raise result
    return results


def _run_mesa(inputs: ModelInputs, seed, record_firms: bool):
    from sim.engines.mesa_engine import run_mesa
    from sim.engines.numba_engine import draw_price_levels

    try:
        result = run_mesa(inputs, seed, record_firms)
    except InputError as exc:
        return exc
    # Prices after the run, from their own stream, with the kernel's function (ODD 7.15).
    draw_price_levels(inputs, random_streams(seed, ("prices",))["prices"], result.raw)
    return result


def run_engine(inputs: ModelInputs, seed: np.random.SeedSequence | int, engine: str = "numba",
               record_firms: bool = False):
    """Run one replication of ``inputs`` with ``seed`` on ``engine``; returns a RunResult."""
    return run_batch(inputs, [seed], engine, record_firms)[0]

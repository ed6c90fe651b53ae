"""Engines: two implementations of one model.

``numba`` is the fast struct-of-arrays kernel for Monte Carlo; ``mesa`` is the readable reference in
which every firm, park and fund is a ``mesa.Agent``. Given the same inputs and seed they produce the
same trajectories (to rounding), which the test-suite checks.
"""

from __future__ import annotations

import numpy as np

from sim.errors import InputError
from sim.engines.kernel import A_INDEX
from sim.model.inputs import ModelInputs, random_streams
from sim.model.prices import price_levels

ENGINES = ("numba", "mesa")


def run_engine(inputs: ModelInputs, seed: np.random.SeedSequence | int, engine: str = "numba",
               record_firms: bool = False):
    """Run one replication of ``inputs`` with ``seed`` on ``engine``; returns a RunResult."""
    if engine not in ENGINES:
        raise InputError(f"unknown engine '{engine}' (choose one of {', '.join(ENGINES)})")
    streams = random_streams(seed)
    if engine == "numba":
        from sim.engines.numba_engine import run_numba

        result = run_numba(inputs, streams, record_firms)
    else:
        from sim.engines.mesa_engine import run_mesa

        result = run_mesa(inputs, seed, record_firms)
    levels = price_levels(inputs.params, inputs.n_years, streams["prices"])
    result.raw[:, A_INDEX["industrial_price_level"]] = levels[:, 0]
    result.raw[:, A_INDEX["gdp_price_level"]] = levels[:, 1]
    return result

"""Engines: two implementations of one model.

``numba`` is the fast struct-of-arrays kernel for Monte Carlo; ``mesa`` is the readable reference in
which every firm, park and fund is a ``mesa.Agent``. Given the same inputs and seed they produce the
same trajectories (to rounding), which the test-suite checks.
"""

from __future__ import annotations

import numpy as np

from sim.errors import InputError
from sim.model.inputs import ModelInputs, random_streams

ENGINES = ("numba", "mesa")


def run_engine(inputs: ModelInputs, seed: np.random.SeedSequence | int, engine: str = "numba",
               record_firms: bool = False):
    """Run one replication of ``inputs`` with ``seed`` on ``engine``; returns a RunResult."""
    if engine == "numba":
        from sim.engines.numba_engine import run_numba

        return run_numba(inputs, random_streams(seed), record_firms)
    if engine == "mesa":
        from sim.engines.mesa_engine import run_mesa

        return run_mesa(inputs, seed, record_firms)
    raise InputError(f"unknown engine '{engine}' (choose one of {', '.join(ENGINES)})")

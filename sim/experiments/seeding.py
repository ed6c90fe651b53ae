"""Seeds: one ``SeedSequence`` per experiment, one child per replication.

Replication ``r`` of an experiment with seed ``s`` always uses ``SeedSequence(s, spawn_key=(r,))``
(identical to ``SeedSequence(s).spawn(n)[r]``), whichever worker runs it and however the
replications are chunked, so results do not depend on the backend or the number of workers.
Scenarios compared with the same seed therefore share their random numbers replication by
replication (common random numbers).
"""

from __future__ import annotations

import numpy as np

#: spawn-key suffix of the stream that samples a replication's uncertain parameters; far from the
#: model's own streams, which are children 0..7 of the replication's sequence.
PARAMETER_STREAM = 1_000_003


def check_seed(seed) -> int:
    """A seed as an int, or a one-line error: seeds are whole numbers from 0 (numpy's
    ``SeedSequence`` rejects negative ones, and only when a replication starts)."""
    from sim.errors import InputError

    if isinstance(seed, bool) or not float(seed).is_integer() or int(seed) < 0:
        raise InputError(f"seed must be a whole number >= 0 (got {seed})")
    return int(seed)


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(int(seed), spawn_key=(int(replication),))


def parameter_rng(seed: int, replication: int) -> np.random.Generator:
    return np.random.default_rng(
        np.random.SeedSequence(int(seed), spawn_key=(int(replication), PARAMETER_STREAM)))

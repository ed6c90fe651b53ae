"""A batch's random streams for the compiled kernel, seeded in compiled code.

Every replication draws from its own named streams: PCG64 generators seeded from the children of
the replication's ``SeedSequence`` (:func:`sim.model.inputs.random_streams`, the definition). The
kernel steps the streams itself, on their states (see "the random streams" in
:mod:`sim.engines.kernel`), so a batch needs only each stream's starting state. Made one by one in
Python (a child ``SeedSequence``, its hashing, a ``PCG64``) those cost about 0.25 ms per
replication, a good part of a small region's whole run. Here every child seed of a batch is
hashed in one compiled call (:func:`child_seed_words`: numpy's ``SeedSequence`` algorithm, the
entropy pool mixed from the entropy and spawn key, then ``generate_state(4, uint64)``) and PCG64
is seeded from those words as numpy seeds it (:func:`pcg64_state`).

The states are numpy's own, bit for bit (the tests compare them for many seeds, including entropy
over 32 bits and large replication numbers); a seed in a form this module does not hash (entropy
given as a sequence, a pool size other than 4) is seeded by numpy itself.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.engines.kernel import PCG64_MULTIPLIER, state_words, stream_state
from sim.model.inputs import STREAMS, random_streams

#: numpy's SeedSequence constants (numpy/random/bit_generator.pyx).
_INIT_A, _MULT_A = np.uint32(0x43b0d7e5), np.uint32(0x931e8875)
_INIT_B, _MULT_B = np.uint32(0x8b51f9dd), np.uint32(0x58f38ded)
_MIX_L, _MIX_R = np.uint32(0xca01f9dd), np.uint32(0x4973f715)
_XSHIFT = np.uint32(16)
POOL_SIZE = 4

_MASK32, _MASK128 = (1 << 32) - 1, (1 << 128) - 1


@njit(cache=True)
def _hashmix(value, hash_const):
    """numpy's ``hashmix``: returns the mixed value and the advanced hash constant."""
    value = np.uint32(value ^ hash_const)
    hash_const = np.uint32(hash_const * _MULT_A)
    value = np.uint32(value * hash_const)
    return np.uint32(value ^ (value >> _XSHIFT)), hash_const


@njit(cache=True)
def _mix(x, y):
    result = np.uint32(np.uint32(_MIX_L * x) - np.uint32(_MIX_R * y))
    return np.uint32(result ^ (result >> _XSHIFT))


@njit(cache=True)
def child_seed_words(words, offsets, children, out):
    """For replication ``r`` (assembled entropy ``words[offsets[r]:offsets[r + 1]]``: its run
    entropy padded to the pool size, then its spawn key) and each child index ``children[k]``,
    the four 64-bit words ``SeedSequence(..., spawn_key=key + (child,)).generate_state(4,
    np.uint64)`` returns, into ``out[r, k]``. Child indices are below 2**32 (one word)."""
    pool = np.zeros(POOL_SIZE, np.uint32)
    state = np.zeros(8, np.uint32)
    for r in range(offsets.size - 1):
        a, b = offsets[r], offsets[r + 1]
        n = b - a + 1  # the child's index is the spawn key's last word
        for k in range(children.size):
            child = np.uint32(children[k])
            # mix_entropy: the entropy up to the pool size, then every pool word into every
            # other, then any further entropy word into each pool word.
            h = _INIT_A
            for i in range(POOL_SIZE):
                if i < n:
                    value = words[a + i] if a + i < b else child
                else:
                    value = np.uint32(0)
                pool[i], h = _hashmix(value, h)
            for i_src in range(POOL_SIZE):
                for i_dst in range(POOL_SIZE):
                    if i_src != i_dst:
                        mixed, h = _hashmix(pool[i_src], h)
                        pool[i_dst] = _mix(pool[i_dst], mixed)
            for i_src in range(POOL_SIZE, n):
                value = words[a + i_src] if a + i_src < b else child
                for i_dst in range(POOL_SIZE):
                    mixed, h = _hashmix(value, h)
                    pool[i_dst] = _mix(pool[i_dst], mixed)
            # generate_state: eight 32-bit words cycling over the pool, paired little-endian.
            h = _INIT_B
            for i in range(8):
                value = np.uint32(pool[i % POOL_SIZE] ^ h)
                h = np.uint32(h * _MULT_B)
                value = np.uint32(value * h)
                state[i] = np.uint32(value ^ (value >> _XSHIFT))
            for i in range(4):
                out[r, k, i] = np.uint64(state[2 * i]) | (np.uint64(state[2 * i + 1])
                                                          << np.uint64(32))


def _uint32_words(value: int) -> list[int]:
    """numpy's coercion of a non-negative integer to 32-bit words, least significant first."""
    value = int(value)
    if value == 0:
        return [0]
    out = []
    while value > 0:
        out.append(value & _MASK32)
        value >>= 32
    return out


def assembled_entropy(seed: np.random.SeedSequence | int) -> list[int] | None:
    """The words ``SeedSequence`` mixes for ``seed``'s children, less the child's own index (its
    run entropy, padded with zeros to the pool size, then its spawn key), or None for a form this
    module leaves to numpy (entropy given as a sequence, another pool size)."""
    if isinstance(seed, np.random.SeedSequence):
        entropy, key, pool_size = seed.entropy, seed.spawn_key, seed.pool_size
    else:
        entropy, key, pool_size = seed, (), POOL_SIZE
    if pool_size != POOL_SIZE or not isinstance(entropy, (int, np.integer)) or int(entropy) < 0 \
            or not all(isinstance(k, (int, np.integer)) and int(k) >= 0 for k in key):
        return None
    words = _uint32_words(entropy)
    words += [0] * (POOL_SIZE - len(words))  # children always have a spawn key: numpy pads
    for k in key:
        words += _uint32_words(k)
    return words


def pcg64_state(words) -> tuple[int, int]:
    """PCG64's (state, inc) seeded from ``generate_state(4, uint64)`` words, as numpy seeds it
    (``pcg64_set_seed``: the increment is the odd number made from the last two words, the state
    one step after adding the first two)."""
    initstate = (int(words[0]) << 64) | int(words[1])
    inc = ((((int(words[2]) << 64) | int(words[3])) << 1) | 1) & _MASK128
    return ((inc + initstate) * PCG64_MULTIPLIER + inc) & _MASK128, inc


def seeded_states(seeds: list, names: tuple[str, ...]) -> np.ndarray:
    """PCG64 (state, inc) of every replication's streams ``names``, as words: array
    ``(len(seeds), len(names), 4)``, the same states :func:`random_streams` gives."""
    children = np.array([STREAMS.index(name) for name in names], np.int64)
    states = np.zeros((len(seeds), len(names), 4), np.uint64)
    hashed, words, offsets = [], [], [0]
    for r, seed in enumerate(seeds):
        entropy = assembled_entropy(seed)
        if entropy is None:  # numpy seeds it
            named = random_streams(seed, names)
            for k, name in enumerate(names):
                states[r, k] = stream_state(named[name])
            continue
        hashed.append(r)
        words += entropy
        offsets.append(len(words))
    if hashed:
        seed_words = np.zeros((len(hashed), len(names), 4), np.uint64)
        child_seed_words(np.array(words, np.uint32), np.array(offsets, np.int64), children,
                         seed_words)
        for i, r in enumerate(hashed):
            for k in range(len(names)):
                states[r, k] = state_words(*pcg64_state(seed_words[i, k]))
    return states

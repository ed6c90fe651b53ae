"""A batch's random streams for the compiled kernel, seeded in compiled code.

Every replication draws from its own named streams: PCG64 generators seeded from the children of
the replication's ``SeedSequence`` (:func:`sim.model.inputs.random_streams`, the definition). Made
one by one in Python, the six streams the kernel takes and the growth stream cost about 0.45 ms
per replication (hashing each child ``SeedSequence``, building a ``PCG64`` and a ``Generator``,
handing it to numba), as much as a small region's whole run. A batch instead:

* hashes every child seed in one compiled call (:func:`child_seed_words`, numpy's
  ``SeedSequence`` algorithm: the entropy pool mixed from the entropy and spawn key, then
  ``generate_state(4, uint64)``), seeds PCG64 from those words as numpy does
  (:func:`pcg64_state`), and
* loads the states into generators kept for the thread (:class:`KernelStreams`), already in the
  typed list the kernel reads, so no generator is created or converted per replication.

The states are numpy's own, bit for bit (the tests compare them for many seeds, including
entropy over 32 bits and large replication numbers); a seed in a form this module does not
hash (entropy given as a sequence, a pool size other than 4) is seeded by numpy itself.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit, typed

from sim.model.inputs import STREAMS

#: numpy's SeedSequence constants (numpy/random/bit_generator.pyx).
_INIT_A, _MULT_A = np.uint32(0x43b0d7e5), np.uint32(0x931e8875)
_INIT_B, _MULT_B = np.uint32(0x8b51f9dd), np.uint32(0x58f38ded)
_MIX_L, _MIX_R = np.uint32(0xca01f9dd), np.uint32(0x4973f715)
_XSHIFT = np.uint32(16)
POOL_SIZE = 4

#: PCG64's 128-bit multiplier (the LCG step is ``state * multiplier + inc``).
PCG64_MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341
_MASK32, _MASK64, _MASK128 = (1 << 32) - 1, (1 << 64) - 1, (1 << 128) - 1


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


def state_words(state: int, inc: int) -> np.ndarray:
    """(state, inc) as the kernel's four words (state high, state low, inc high, inc low)."""
    return np.array([state >> 64, state & _MASK64, inc >> 64, inc & _MASK64], np.uint64)


def seeded_states(seeds: list, names: tuple[str, ...]) -> np.ndarray:
    """PCG64 (state, inc) of every replication's streams ``names``, as words: array
    ``(len(seeds), len(names), 4)``, the same states :func:`random_streams` gives."""
    children = np.array([STREAMS.index(name) for name in names], np.int64)
    states = np.zeros((len(seeds), len(names), 4), np.uint64)
    hashed, words, offsets = [], [], [0]
    for r, seed in enumerate(seeds):
        entropy = assembled_entropy(seed)
        if entropy is None:  # numpy seeds it
            from sim.model.inputs import random_streams

            named = random_streams(seed, names)
            for k, name in enumerate(names):
                st = named[name].bit_generator.state["state"]
                states[r, k] = state_words(st["state"], st["inc"])
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


class KernelStreams(threading.local):
    """Generators the kernel draws from, kept for the thread and reloaded for each batch.

    Handing a numpy ``Generator`` to numba the first time costs tens of microseconds; these are
    handed over once, in the typed list the kernel takes, and only their PCG64 states change from
    batch to batch. Per thread, because a batch advances its generators while it runs."""

    def __init__(self):
        self.generators: list[np.random.Generator] = []
        self.typed = None  # made on first use: a typed list costs a compilation

    def load(self, states: np.ndarray):
        """The typed list whose first ``states.shape[0] * states.shape[1]`` generators are at the
        given (state, inc) words, in order; the list may hold more (unused) generators."""
        flat = states.reshape(-1, 4)
        while len(self.generators) < len(flat):
            rng = np.random.Generator(np.random.PCG64(0))
            if self.typed is None:
                self.typed = typed.List()
            self.typed.append(rng)
            self.generators.append(rng)
        for rng, w in zip(self.generators, flat):
            rng.bit_generator.state = {
                "bit_generator": "PCG64",
                "state": {"state": (int(w[0]) << 64) | int(w[1]),
                          "inc": (int(w[2]) << 64) | int(w[3])},
                "has_uint32": 0, "uinteger": 0}
        return self.typed


#: The current thread's kernel generators.
KERNEL_GENERATORS = KernelStreams()

"""Results computed from immutable objects, kept by those objects' identity.

A Monte Carlo run compiles a replication's inputs from the same plan, parameter set and statistics
thousands of times, and most of what it derives from them does not change between draws (a plan's
figure index, its qualified figures, the base year's structure). Those objects are immutable, so
their identity (``id``) is a cheap and exact key. An ``id`` is unique only while its object lives,
so each entry holds the objects it was computed from: a key cannot be reused by a new object while
its entry exists.
"""

from __future__ import annotations

import threading

#: What :meth:`IdentityCache.get` returns for an entry it does not hold (a kept value may be None).
MISSING = object()


class IdentityCache:
    """Values keyed by the identity of the objects they were computed from (``objects``, held)
    and by a hashable ``key`` of plain values; at most ``size`` entries, the oldest dropped
    first. Safe to share between threads."""

    def __init__(self, size: int):
        self.size = size
        self._entries: dict[tuple, tuple] = {}
        self._lock = threading.Lock()

    def get(self, objects: tuple, key=()):
        """The value kept for ``objects`` (the same objects, not equal ones) and ``key``, or
        :data:`MISSING`."""
        entry = self._entries.get((tuple([id(o) for o in objects]), key))
        if entry is None:
            return MISSING
        for held, given in zip(entry[0], objects):  # a loop: asked many times per draw
            if held is not given:
                return MISSING
        return entry[1]

    def put(self, objects: tuple, key, value):
        """Keep ``value`` for ``objects`` and ``key``; returns it."""
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.pop(next(iter(self._entries)))
            self._entries[(tuple(map(id, objects)), key)] = (objects, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

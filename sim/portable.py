"""Exponentials, logarithms and powers that give the same bits on every machine.

numpy picks its loops for ``exp``, ``log`` and ``power`` by the CPU it runs on: on processors with
AVX-512 they are numpy's own vectorised versions, which differ from the C library's functions in
the last bit for a few per cent of inputs. A result computed with them would depend on the machine:
a run resumed on another node, or the chunks of one run spread over a cluster of mixed processors,
would not give the numbers the same seed gives elsewhere. Everything that feeds a simulated value
(compiled inputs, parameter draws, the yearly tables) uses the C library's functions instead, one
element at a time, as the compiled kernel does (``math.exp`` compiles to the same call). The arrays
involved have a few hundred elements at most, so the loop costs microseconds.
"""

from __future__ import annotations

import math

import numpy as np


def exp(values) -> np.ndarray:
    """``math.exp`` of each element, as a float array of the same shape."""
    x = np.asarray(values, dtype=float)
    return np.array([math.exp(v) for v in x.ravel().tolist()]).reshape(x.shape)


def power(base: float, exponents) -> np.ndarray:
    """``base ** e`` (the C library's ``pow``) for each element of ``exponents``."""
    x = np.asarray(exponents, dtype=float)
    return np.array([base ** v for v in x.ravel().tolist()]).reshape(x.shape)

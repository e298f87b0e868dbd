"""Counters: the running integral of a non-negative rate (DESIGN invariant 3).

A negative rate is treated as zero, so nothing built on :func:`integrate` can go backwards.
"""

from __future__ import annotations

import numpy as np

from otelmock.types import FloatArray


def integrate(rate: FloatArray, dt_s: float, initial: float = 0.0) -> FloatArray:
    """Counter value at the end of each tick: ``initial + cumsum(max(rate, 0) * dt_s)`` along axis 0."""
    return initial + np.cumsum(np.maximum(np.asarray(rate, dtype=np.float64), 0.0) * dt_s, axis=0)


def ema(x: FloatArray, dt_s: float, tau_s: float, initial: FloatArray | float) -> FloatArray:
    """First-order lag along axis 0 (exact discretisation ``alpha = 1 - exp(-dt/tau)``).

    Used for load averages and temperatures: physical state with inertia (DESIGN invariant 5).
    """
    x = np.asarray(x, dtype=np.float64)
    alpha = 1.0 - np.exp(-dt_s / tau_s)
    out = np.empty_like(x)
    state = np.asarray(initial, dtype=np.float64) * np.ones(x.shape[1:])
    for i in range(x.shape[0]):
        state = state + alpha * (x[i] - state)
        out[i] = state
    return out

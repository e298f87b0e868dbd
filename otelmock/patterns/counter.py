"""Counters: the running integral of a non-negative rate (DESIGN invariant 3).

A negative rate is treated as zero, so nothing built on :func:`integrate` can go backwards.
"""

from __future__ import annotations

import numpy as np

from otelmock.types import FloatArray


def integrate(rate: FloatArray, dt_s: float, initial: float = 0.0) -> FloatArray:
    """Counter value at the end of each tick: ``initial + cumsum(max(rate, 0) * dt_s)`` along axis 0."""
    return initial + np.cumsum(np.maximum(np.asarray(rate, dtype=np.float64), 0.0) * dt_s, axis=0)


def ema(x: FloatArray, dt_s: float, tau_s: FloatArray | float, initial: FloatArray | float) -> FloatArray:
    """First-order lag along axis 0 (exact discretisation ``alpha = 1 - exp(-dt/tau)``).

    Used for load averages and temperatures: physical state with inertia (DESIGN invariant 5).
    Vectorised in closed form over chunks short enough that ``exp(k * dt / tau)`` stays finite:
    ``y[k] = b**(k+1) * y0 + a * sum_j b**(k-j) * x[j]`` with ``b = 1 - a``.
    """
    x = np.asarray(x, dtype=np.float64)
    tau = np.asarray(tau_s, dtype=np.float64)
    b = np.exp(-dt_s / tau)
    a = 1.0 - b
    chunk = max(1, int(30.0 * float(np.min(tau)) / dt_s))
    out = np.empty_like(x)
    state = np.broadcast_to(np.asarray(initial, dtype=np.float64), x.shape[1:]).copy()
    for start in range(0, x.shape[0], chunk):
        seg = x[start : start + chunk]
        k = np.arange(seg.shape[0], dtype=np.float64).reshape((-1,) + (1,) * (x.ndim - 1))
        grow = b ** (-k)  # b**-k, at most e**30
        acc = np.cumsum(seg * grow, axis=0)
        decay = b ** (k + 1)
        out[start : start + seg.shape[0]] = decay * state + a * (b**k) * acc
        state = out[start + seg.shape[0] - 1]
    return out

"""Fan-out: many counters from one integral, each with its own weight and bounded jitter.

One integral ``I(n)`` (say, user-mode CPU seconds of the average core) becomes per-instance
counters ``c_i(n) = w_i * I(n) + J_i(n) - J_i(n_boot)``. ``J_i`` is piecewise linear between random
knots every ``knot_ticks`` ticks (keyed by series and knot index, so random access is O(1)), with an
amplitude chosen so that its slope never exceeds ``SAFETY`` times the smallest rate the base
integral can have: ``c_i`` then never decreases (DESIGN invariant 3) and starts at 0 at boot.
"""

from __future__ import annotations

import numpy as np

from otelmock.rng import hash_uniform
from otelmock.types import FloatArray

KNOT_TICKS = 30
SAFETY = 0.8


def jitter_amplitude(weights: FloatArray, floor_rate_per_tick: float) -> FloatArray:
    """Largest knot amplitude that keeps ``w_i * I + J_i`` monotonic when ``I`` grows at least this fast."""
    return SAFETY * KNOT_TICKS / 2.0 * np.asarray(weights) * floor_rate_per_tick


def jitter(keys: np.ndarray, amplitude: FloatArray, n: int | np.ndarray) -> FloatArray:
    """``J_i(n)``: piecewise-linear interpolation of knots ``u in [-1, 1]`` scaled by ``amplitude`` (ticks ``n`` as
    a last axis when ``n`` is an array)."""
    if isinstance(n, np.ndarray):
        keys, amplitude = keys[..., None], np.asarray(amplitude)[..., None]
    j, r = divmod(n, KNOT_TICKS)
    frac = r / KNOT_TICKS
    u0 = 2.0 * hash_uniform(keys, j) - 1.0
    u1 = 2.0 * hash_uniform(keys, j + 1) - 1.0
    return np.asarray(amplitude) * (u0 * (1.0 - frac) + u1 * frac)


def fan_out(
    integral: float | FloatArray, weights: FloatArray, keys: np.ndarray, amplitude: FloatArray, n: int | np.ndarray,
    n_boot: int,
) -> FloatArray:
    """Per-instance counters at tick ``n`` (0 at ``n_boot``). For an array ``n`` the ticks are the last axis, of
    ``integral`` too."""
    if isinstance(n, np.ndarray):
        return (np.asarray(weights)[..., None] * integral + jitter(keys, amplitude, n)
                - jitter(keys, amplitude, n_boot)[..., None])
    return np.asarray(weights) * integral + jitter(keys, amplitude, n) - jitter(keys, amplitude, n_boot)

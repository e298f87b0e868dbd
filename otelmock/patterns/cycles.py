"""Periodic patterns: the daily and hourly rhythm of a serving fleet.

Both are sines over Unix time ``t`` (seconds, UTC), so the same ``t`` always gives the same value
and a simulated week shows seven identical days before noise is added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from otelmock.types import FloatArray

DAY_S = 86_400.0
HOUR_S = 3_600.0


@dataclass(frozen=True, slots=True)
class Daily:
    """``amplitude * cos(2*pi*(t - peak_hour)/day)``: +amplitude at ``peak_hour`` UTC, -amplitude 12 h later."""

    amplitude: float = 1.0
    peak_hour: float = 15.0

    def __call__(self, t: FloatArray, rng: np.random.Generator | None = None) -> FloatArray:
        return self.amplitude * np.cos(2 * np.pi * (np.asarray(t) - self.peak_hour * HOUR_S) / DAY_S)


@dataclass(frozen=True, slots=True)
class Hourly:
    """A smaller within-hour wave (batch jobs, cron, cache refreshes): period ``period_s``, phase ``phase_s``."""

    amplitude: float = 1.0
    period_s: float = HOUR_S
    phase_s: float = 0.0

    def __call__(self, t: FloatArray, rng: np.random.Generator | None = None) -> FloatArray:
        return self.amplitude * np.sin(2 * np.pi * (np.asarray(t) - self.phase_s) / self.period_s)

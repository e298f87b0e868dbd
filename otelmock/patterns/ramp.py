"""Ramps: a linear move from ``start`` to ``end`` over [t0, t0 + duration_s], flat outside."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from otelmock.types import FloatArray


@dataclass(frozen=True, slots=True)
class Ramp:
    start: float
    end: float
    t0: float
    duration_s: float

    def __call__(self, t: FloatArray, rng: np.random.Generator | None = None) -> FloatArray:
        if self.duration_s <= 0:
            return np.where(np.asarray(t) < self.t0, self.start, self.end).astype(np.float64)
        frac = np.clip((np.asarray(t) - self.t0) / self.duration_s, 0.0, 1.0)
        return self.start + (self.end - self.start) * frac

"""Random patterns: Gaussian noise and rare spikes, drawn from an explicit generator.

Both draw exactly ``len(t)`` numbers per call, so a block of ticks drawn from a keyed generator
(:func:`otelmock.rng.block_rng`) is the same whichever other signals exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from otelmock.types import FloatArray


@dataclass(frozen=True, slots=True)
class Noise:
    """Zero-mean Gaussian noise with standard deviation ``sigma``."""

    sigma: float = 1.0

    def __call__(self, t: FloatArray, rng: np.random.Generator) -> FloatArray:
        return rng.normal(0.0, self.sigma, np.shape(t))


@dataclass(frozen=True, slots=True)
class Spikes:
    """Each tick spikes with ``probability`` (default 2 %) to ``magnitude`` times a U(0.5, 1) factor, else 0."""

    probability: float = 0.02
    magnitude: float = 1.0

    def __call__(self, t: FloatArray, rng: np.random.Generator) -> FloatArray:
        u = rng.random((2, *np.shape(t)))
        return np.where(u[0] < self.probability, self.magnitude * (0.5 + 0.5 * u[1]), 0.0)

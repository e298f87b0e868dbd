"""Pure numpy patterns: ``(t, rng) -> values``. They know nothing of GPUs or metric names.

Scenario files name them by the registry key, e.g. ``{pattern: daily, amplitude: 0.3, peak_hour: 15}``.
"""

from otelmock.patterns.counter import ema, integrate
from otelmock.patterns.cycles import Daily, Hourly
from otelmock.patterns.noise import Noise, Spikes
from otelmock.patterns.ramp import Ramp

REGISTRY = {"daily": Daily, "hourly": Hourly, "noise": Noise, "spikes": Spikes, "ramp": Ramp}

__all__ = ["REGISTRY", "Daily", "Hourly", "Noise", "Ramp", "Spikes", "ema", "integrate"]

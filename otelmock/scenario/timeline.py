"""Timeline: which parameter values hold at which time, with linear ramps between scenarios.

A timeline is an immutable, ordered tuple of segments. Each segment is a complete scenario (any
parameter it does not set takes its default) that starts at ``start_t`` and is reached after a
linear ramp of ``ramp_s`` from whatever value held at its start. Switching appends a segment that
starts at a future tick, so values already served never change (DESIGN invariants 2 and 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from otelmock.types import FloatArray
from otelmock.world.params import DEFAULTS


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    start_t: float
    params: Mapping[str, float]
    ramp_s: float = 0.0

    def target(self, key: str) -> float:
        return self.params.get(key, DEFAULTS[key])


@dataclass(frozen=True, slots=True)
class Timeline:
    segments: tuple[Segment, ...]
    _start_values: dict[tuple[int, str], float] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def constant(cls, name: str, params: Mapping[str, float]) -> Timeline:
        return cls((Segment(name, float("-inf"), dict(params)),))

    def then(self, segment: Segment) -> Timeline:
        """A new timeline that switches to ``segment`` (which must not start before the last switch)."""
        if segment.start_t < self.segments[-1].start_t:
            raise ValueError("a timeline only grows forwards")
        return Timeline((*self.segments, segment))

    def _start_value(self, i: int, key: str) -> float:
        cached = self._start_values.get((i, key))
        if cached is None:
            seg = self.segments[i]
            cached = float(self._values(key, np.array([seg.start_t]), i)[0])
            self._start_values[(i, key)] = cached
        return cached

    def _values(self, key: str, t: FloatArray, upto: int) -> FloatArray:
        out = np.full(np.shape(t), self.segments[0].target(key), dtype=np.float64)
        for i in range(1, upto):
            seg = self.segments[i]
            after = t >= seg.start_t
            if not after.any():
                continue
            start, end = self._start_value(i, key), seg.target(key)
            if seg.ramp_s > 0:
                frac = np.clip((t - seg.start_t) / seg.ramp_s, 0.0, 1.0)
                out = np.where(after, start + (end - start) * frac, out)
            else:
                out = np.where(after, end, out)
        return out

    def values(self, key: str, t: FloatArray) -> FloatArray:
        """Value of parameter ``key`` at each time in ``t``."""
        return self._values(key, np.asarray(t, dtype=np.float64), len(self.segments))

    def active(self, t: float) -> Segment:
        """The segment in force (or ramping in) at time ``t``."""
        current = self.segments[0]
        for seg in self.segments[1:]:
            if seg.start_t <= t:
                current = seg
        return current

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

from otelmock.scenario.anomaly import Anomaly
from otelmock.types import FloatArray
from otelmock.world.params import default


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    start_t: float
    params: Mapping[str, float]
    ramp_s: float = 0.0

    def target(self, key: str) -> float:
        return self.params.get(key, default(key))


@dataclass(frozen=True, slots=True)
class Timeline:
    segments: tuple[Segment, ...]
    anomalies: tuple[Anomaly, ...] = ()
    _start_values: dict[tuple[int, str], float] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def constant(cls, name: str, params: Mapping[str, float]) -> Timeline:
        return cls((Segment(name, float("-inf"), dict(params)),))

    def then(self, segment: Segment) -> Timeline:
        """A new timeline that switches to ``segment`` (which must not start before the last switch)."""
        if segment.start_t < self.segments[-1].start_t:
            raise ValueError("a timeline only grows forwards")
        return Timeline((*self.segments, segment), self.anomalies)

    def with_anomaly(self, anomaly: Anomaly) -> Timeline:
        return Timeline(self.segments, (*self.anomalies, anomaly))

    def stop_anomaly(self, anomaly_id: str, now: float) -> Timeline:
        """End an anomaly at ``now`` (the past stays as it was)."""
        out = []
        for a in self.anomalies:
            if a.id == anomaly_id and a.end_t > now:
                a = Anomaly(a.id, a.kind, a.target, a.magnitude, a.start_t, max(now - a.start_t, 0.0), a.ramp_s)
            out.append(a)
        return Timeline(self.segments, tuple(out))

    def events(self, container: str, t: float) -> float:
        """Time of the last restart or OOM kill of ``container`` at or before ``t`` (-inf: none)."""
        times = [a.start_t for a in self.anomalies if a.target == container and a.start_t <= t
                 and a.kind in ("container_restart", "container_oom_kill")]
        return max(times, default=float("-inf"))

    def event_times(self, container: str, kind: str) -> list[float]:
        return sorted(a.start_t for a in self.anomalies if a.target == container and a.kind == kind)

    def crash_epochs(self, container: str, t: FloatArray) -> FloatArray:
        """Latest crash-loop restart at or before each ``t`` (-inf where the container never crash-looped)."""
        key = f"container.{container}.crashloop_s"
        out = np.full(np.shape(t), -np.inf)
        intervals = [(a.start_t, a.end_t, a.magnitude) for a in self.anomalies if a.key == key]
        for i, seg in enumerate(self.segments):
            period = seg.params.get(key, 0.0)
            if period > 0:
                end = self.segments[i + 1].start_t if i + 1 < len(self.segments) else np.inf
                intervals.append((seg.start_t, end, period))
        for start, end, period in intervals:
            upto = np.minimum(t, end)
            # crash-loop restarts sit on a grid from the loop's start (from the Unix epoch for a scenario
            # that held since the beginning of time)
            origin = start if np.isfinite(start) else 0.0
            epoch = origin + np.floor((upto - origin) / period) * period
            out = np.where(t >= start, np.maximum(out, epoch), out)
        return out

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
        """Value of parameter ``key`` at each time in ``t``: the scenario's, then the anomalies'."""
        t = np.asarray(t, dtype=np.float64)
        out = self._values(key, t, len(self.segments))
        for a in self.anomalies:
            if a.key == key:
                out = a.apply(out, t)
        return out

    def active_anomalies(self, t: float) -> tuple[Anomaly, ...]:
        return tuple(a for a in self.anomalies
                     if a.active(t) or (a.duration_s == 0 and a.start_t <= t < a.start_t + 60))

    def active(self, t: float) -> Segment:
        """The segment in force (or ramping in) at time ``t``."""
        current = self.segments[0]
        for seg in self.segments[1:]:
            if seg.start_t <= t:
                current = seg
        return current

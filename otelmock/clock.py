"""Clocks: simulated time is an input (DESIGN invariant 2), so the same world runs instantly or paced.

``SimClock`` is for tests and batch work (SimPy's ``Environment``): time moves only when told.
``WallClock`` is for serving (SimPy's ``RealtimeEnvironment``): simulated time follows the wall clock,
optionally faster (``speed``), anchored so that at ``speed == 1`` simulated time *is* wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Simulated Unix time, seconds."""
        ...


@dataclass
class SimClock:
    """A clock that only moves when :meth:`advance` or :meth:`set` is called."""

    t: float = 0.0

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"SimClock cannot go backwards (advance by {seconds})")
        self.t += seconds
        return self.t

    def set(self, t: float) -> None:
        self.t = t


@dataclass
class WallClock:
    """Wall time, ``speed`` times faster from ``anchor`` on (simulated == wall at speed 1).

    The clock never returns a smaller value than before, so an NTP step backwards on the host
    holds simulated time still instead of running counters backwards.
    """

    speed: float = 1.0
    wall: Callable[[], float] = time.time
    anchor: float = field(default=-1.0)
    _last: float = field(default=float("-inf"), repr=False)

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")
        if self.anchor < 0:
            self.anchor = self.wall()

    def now(self) -> float:
        w = self.wall()
        t = self.anchor + (w - self.anchor) * self.speed
        if t < self._last:
            return self._last
        self._last = t
        return t

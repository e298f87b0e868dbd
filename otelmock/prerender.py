"""Predictive pre-rendering: render a tick's text before a regular scraper asks for it.

Prometheus scrapes each target on a fixed period at a fixed offset, so the ticks a target is scraped in repeat:
a tick is expected to be scraped when the ticks one, two and three periods before it were (three scrapes, two
equal gaps, for any period from two ticks to :data:`MAX_PERIOD_S`), and when the three ticks before the one
before it were (several scrapers at once, before their own periods are learnt). The world thread renders an
expected tick a tick early, so the scrape reads a rendered body; rendering happens once per scraped tick, as it
would on demand: the CPU cost is the same, the latency is not.

Slots of whole ticks rather than exact times: any number of scrapers is remembered in a fixed space (a set of
recent tick numbers), a burst of many scrapers within a tick counts once, and the test is a few hundred set
lookups per exporter and tick.
"""

from __future__ import annotations

import math
import threading

MAX_PERIOD_S = 300.0


class ScrapePredictor:
    def __init__(self, slot_s: float) -> None:
        self.slot_s = slot_s
        self.max_period = max(2, int(MAX_PERIOD_S / slot_s))
        self._seen: set[int] = set()
        self._lock = threading.Lock()

    def slot(self, t: float) -> int:
        return math.floor(t / self.slot_s + 1e-9)

    def observe(self, t: float) -> None:
        """Record a scrape at wall time ``t``."""
        s = self.slot(t)
        with self._lock:
            if s in self._seen:
                return
            self._seen.add(s)
            if len(self._seen) > 4 * self.max_period:  # keep three periods of the longest period back
                self._seen = {x for x in self._seen if x >= s - 3 * self.max_period}

    def expects(self, s: int) -> bool:
        """Whether slot ``s`` is expected to be scraped: a period of two slots or more seen twice before it, or
        scrapes in each of the three slots before the one before it (asked during that one, which is not over)."""
        seen = self._seen
        if s - 2 in seen and s - 3 in seen and s - 4 in seen:  # scraped every tick: the one before s is under way
            return True
        return any(s - p in seen and s - 2 * p in seen and s - 3 * p in seen for p in range(2, self.max_period + 1))

    def due(self, start: float, end: float) -> bool:
        """Whether a scrape is expected in the wall-time window [start, end)."""
        with self._lock:
            return any(self.expects(s) for s in range(self.slot(start), self.slot(end - 1e-6) + 1))

"""Predictive pre-rendering: render a tick's text just before a regular scraper asks for it.

Prometheus scrapes each target on a fixed period at a fixed offset. Once two equal gaps are seen
(within 250 ms), the next scrape is expected one gap later; the world thread then renders that exporter
at the start of the tick the scrape will fall in, so the scrape reads cached text. Rendering happens
once per expected scrape, as it would on demand: the CPU cost is the same, the latency is not.
Several scrapers at different offsets are each predicted on their own, and an exporter scraped in each of the
last two ticks is taken to be scraped in the next one too (many scrapers, before their periods are learnt).
"""

from __future__ import annotations

import threading
from collections import deque

HISTORY = 64
MAX_PERIOD_S = 300.0
TOLERANCE_S = 0.25  # Prometheus keeps its period to a few milliseconds


class ScrapePredictor:
    def __init__(self, min_period_s: float) -> None:
        self.min_period_s = min_period_s
        self._times: deque[float] = deque(maxlen=HISTORY)
        self._expected: set[float] = set()
        self._lock = threading.Lock()

    def observe(self, t: float) -> None:
        """Record a scrape at wall time ``t`` and predict the next one of the same scraper."""
        with self._lock:
            self._expected = {e for e in self._expected if e > t + TOLERANCE_S}
            times = list(self._times)
            self._times.append(t)
            for s1 in reversed(times):
                gap = t - s1
                if gap > MAX_PERIOD_S:
                    break
                if gap >= self.min_period_s and any(abs((s1 - s0) - gap) <= TOLERANCE_S for s0 in times if s0 < s1):
                    self._expected.add(t + gap)

    def due(self, start: float, end: float) -> bool:
        """Whether a scrape is expected in the wall-time window [start, end)."""
        with self._lock:
            return any(start <= e < end for e in self._expected)

    def busy(self, tick_start: float, period: float) -> bool:
        """Whether scrapes came in each of the two ticks before ``tick_start``: several scrapers at once, likely
        to ask in the next tick too, before their own periods are learnt (a single scraper never is)."""
        with self._lock:
            times = list(self._times)
        return (any(tick_start - period <= t < tick_start for t in times)
                and any(tick_start - 2 * period <= t < tick_start - period for t in times))

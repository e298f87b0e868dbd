"""Counters that integrate per-tick rates, split into buckets that change once a window.

A *stream* is ``rate[c, window] * active[c, tick] * share[c, bucket, window]`` for containers ``c``: rates
change once a window (a minute), like the distributions; a plain counter has one
bucket of share 1; a histogram has its cumulative bucket probabilities (``le``), evaluated once per
window (a minute) from the window's latency or size distribution. Its running integral over a block::

    V(i)[c, b] = Cw[c, b, w - 1] + share[c, b, w] * rcum[c, w, r]     (i = w * window + r)

where ``rcum`` is the within-window cumulative sum of the rate and ``Cw`` the cumulative sum over
windows of ``share * window total``. ``V`` never decreases in ``i`` and, for cumulative shares,
never decreases in ``b`` (floating-point rounding is monotonic), so floors of it are valid
Prometheus counters and histogram buckets. The block total is ``V`` at the last tick, computed the
same way, so block prefixes join without a seam (DESIGN invariant 3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from otelmock.types import FloatArray

Shares = Callable[[int | np.ndarray], FloatArray]  # window(s) -> cumulative bucket shares (C, nb[, len(w)])


@dataclass(frozen=True, slots=True)
class Stream:
    cw: FloatArray       # (C, nb, W) cumulative at window ends
    scaled: FloatArray   # (C, W) rate * dt
    acum: np.ndarray     # (C, W, wt) cumulative count of active ticks within each window (shared)
    shares: Shares | None = None  # a histogram's bucket shares, computed for the windows asked (None: one bucket)

    @property
    def total(self) -> FloatArray:
        return self.cw[:, :, -1]

    def at(self, i: int | np.ndarray) -> FloatArray:
        """(C, nb) integral from the block start to the end of tick ``i`` of the block; (C, nb, T) for T ticks."""
        w, r = divmod(i, self.acum.shape[2])
        if isinstance(i, np.ndarray):
            before = np.where(w > 0, self.cw[:, :, w - 1], 0.0)
        else:
            before = self.cw[:, :, w - 1] if w else 0.0
        share = 1.0 if self.shares is None else self.shares(w)
        return before + share * (self.scaled[:, w] * self.acum[:, w, r])[:, None]


def active_cumsum(active: np.ndarray) -> np.ndarray:
    """(C, W, wt) 0/1 activity per tick -> its running count within each window (exact small integers, kept
    as uint16: a quarter of the memory, and the same float64 products wherever they are used)."""
    cum = np.cumsum(active, axis=2)
    small = cum.astype(np.uint16)
    return small if np.array_equal(small, cum) else cum


def stream(rate_w: FloatArray, acum: np.ndarray, dt_s: float, shares: Shares | None = None) -> Stream:
    """Integrate a rate that is constant within each window while active.

    ``rate_w`` (C, W) per second; ``acum`` from :func:`active_cumsum`; ``shares`` gives the cumulative bucket
    shares of windows (C, nb, len(w)) and defaults to one bucket of 1. The tick value is ``(rate * dt) * acum``,
    the window total ``(rate * dt) * acum[..., -1]``: the same expression whether a block is served tick by tick
    or only summed for the history before it, so both agree to the last bit. Nothing per tick is stored, nor the
    shares of every window (a histogram's would be most of a block's memory): they are computed again for the
    window a tick asks for, elementwise, so to the same bits.
    """
    c, w = rate_w.shape
    scaled = np.maximum(rate_w, 0.0) * dt_s
    share = np.ones((c, 1, w)) if shares is None else shares(np.arange(w))
    cw = np.cumsum(share * (scaled * acum[:, :, -1])[:, None, :], axis=2)
    return Stream(cw, scaled, acum, shares)


def normal_cdf(z: FloatArray) -> FloatArray:
    """Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7), vectorised."""
    x = np.abs(z) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-x * x)
    return 0.5 * (1.0 + np.sign(z) * erf)


def lognormal_shares(bounds: FloatArray, median: FloatArray, sigma: float) -> FloatArray:
    """Cumulative bucket shares (C, nb, W) for ``bounds`` (nb,) incl. +Inf, medians (C, W)."""
    med = np.maximum(median, 1e-12)[:, None, :]
    finite = np.isfinite(bounds)
    le = np.where(finite, bounds, 1.0)[None, :, None]
    p = normal_cdf((np.log(le) - np.log(med)) / sigma)
    p = np.where(finite[None, :, None], p, 1.0)
    return np.maximum.accumulate(p, axis=1)

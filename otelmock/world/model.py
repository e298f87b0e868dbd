"""The world: one object that turns (settings, timeline, tick) into an immutable :class:`Snapshot`.

Ticks sit on a grid aligned to the Unix epoch (``t = tick * tick_s``). Work is done per block of
``BLOCK_TICKS`` ticks (vectorised); counters are integrals since boot, kept as a prefix sum over
whole blocks plus the within-block cumulative sum, so the value at a tick is the same whether it
was served live, dumped with ``--at``, or backfilled (DESIGN invariant 2).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from otelmock.config import Settings
from otelmock.scenario.timeline import Timeline
from otelmock.world.host import INTEGRATED, HostBlock, host_block, load_averages
from otelmock.world.host_state import CoreLayout, core_layout, host_snapshot
from otelmock.world.identity import HostIdentity, derive_host
from otelmock.world.snapshot import Snapshot

BLOCK_S = 3600.0
_CACHE_BLOCKS = 4


@dataclass(frozen=True, slots=True)
class _Prefix:
    block: int
    n_boot: int
    values: dict[str, float]


class World:
    """The single source of truth for one simulated host."""

    def __init__(self, settings: Settings, timeline: Timeline) -> None:
        self.settings = settings
        self.dt = settings.tick_s
        self.block_ticks = max(1, int(round(BLOCK_S / self.dt)))
        self.ident: HostIdentity = derive_host(settings)
        self.layout: CoreLayout = core_layout(self.ident, settings.host.cpus, self.dt)
        self._timeline = timeline
        self._lock = threading.RLock()
        self._blocks: OrderedDict[tuple[int, int], HostBlock] = OrderedDict()
        self._loads: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._prefix: _Prefix | None = None

    @property
    def timeline(self) -> Timeline:
        return self._timeline

    def set_timeline(self, timeline: Timeline, from_tick: int) -> None:
        """Replace the timeline; it must agree with the old one before ``from_tick``."""
        with self._lock:
            self._timeline = timeline
            first = from_tick // self.block_ticks
            for cache in (self._blocks, self._loads):
                for key in [k for k in cache if k[0] >= first]:
                    del cache[key]
            if self._prefix is not None and self._prefix.block > first:
                self._prefix = None

    def tick_at(self, t: float) -> int:
        return int(np.floor(t / self.dt + 1e-9))

    def n_boot(self, n: int) -> int:
        return self.tick_at(self.ident.boot_time(n * self.dt))

    def _block(self, k: int, n_boot: int) -> HostBlock:
        key = (k, n_boot)
        blk = self._blocks.get(key)
        if blk is None:
            s = self.settings
            blk = host_block(self.ident, self._timeline, s.host.cpus, self.dt, k, self.block_ticks, n_boot)
            self._blocks[key] = blk
            while len(self._blocks) > _CACHE_BLOCKS:
                self._blocks.popitem(last=False)
        else:
            self._blocks.move_to_end(key)
        return blk

    def _prefix_at(self, k: int, n_boot: int) -> dict[str, float]:
        """Integrals from boot to the start of block ``k``: sums of whole-block totals, in block order."""
        first = n_boot // self.block_ticks
        p = self._prefix
        if p is None or p.n_boot != n_boot or p.block > k:
            p = _Prefix(first, n_boot, dict.fromkeys(INTEGRATED, 0.0))
        values = dict(p.values)
        for j in range(p.block, k):
            total = self._block_total(j, n_boot)
            for name in INTEGRATED:
                values[name] += total[name]
        self._prefix = _Prefix(k, n_boot, values)
        return values

    def _block_total(self, j: int, n_boot: int) -> dict[str, float]:
        if (j, n_boot) in self._blocks:
            return self._blocks[(j, n_boot)].total
        s = self.settings
        return host_block(self.ident, self._timeline, s.host.cpus, self.dt, j, self.block_ticks, n_boot).total

    def _load_block(self, k: int, n_boot: int) -> np.ndarray:
        key = (k, n_boot)
        loads = self._loads.get(key)
        if loads is None:
            prev = self._block(k - 1, n_boot) if k - 1 >= n_boot // self.block_ticks else None
            loads = load_averages(prev, self._block(k, n_boot), self.settings.host.cpus, self.dt)
            self._loads[key] = loads
            while len(self._loads) > _CACHE_BLOCKS:
                self._loads.popitem(last=False)
        return loads

    def snapshot(self, n: int) -> Snapshot:
        """The whole simulated host at tick ``n`` (a pure function of settings, timeline and ``n``)."""
        with self._lock:
            n_boot = self.n_boot(n)
            k = n // self.block_ticks
            prefix = self._prefix_at(k, n_boot)
            loads = self._load_block(k, n_boot)
            blk = self._block(k, n_boot)
            h = self.settings.host
            host = host_snapshot(
                self.ident, (h.kernel, h.os_id, h.os_version, h.cpus, float(h.memory_bytes)), self.layout,
                (blk, n_boot * self.dt, prefix), loads, n, n_boot, self.dt,
            )
            t = n * self.dt
            return Snapshot(n, t, self._timeline.active(t).name, host, {})

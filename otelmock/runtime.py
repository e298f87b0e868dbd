"""The running mock: a world, a clock, the latest snapshot, and the exporters reading it.

A background thread advances the world on the tick grid and publishes each snapshot by swapping
one reference (DESIGN invariant 8): scrapes read the latest snapshot and never wait for a tick.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from otelmock.bridge.otel import ExporterMeters
from otelmock.bridge.prometheus import PrometheusBridge
from otelmock.clock import Clock
from otelmock.config import Settings
from otelmock.exporters import EXPORTERS
from otelmock.exporters.base import Process
from otelmock.prerender import ScrapePredictor
from otelmock.world.model import World
from otelmock.world.snapshot import Snapshot

log = logging.getLogger(__name__)


@dataclass
class MockExporter:
    name: str
    port: int
    process: Process
    meters: ExporterMeters
    bridge: PrometheusBridge
    predictor: ScrapePredictor


class Runtime:
    def __init__(self, settings: Settings, world: World, clock: Clock) -> None:
        self.settings = settings
        self.world = world
        self.clock = clock
        self._latest: Snapshot = world.snapshot(world.tick_at(clock.now()))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.exporters: dict[str, MockExporter] = {}
        for name in settings.exporters:
            self.exporters[name] = self._build(name)

    def _build(self, name: str) -> MockExporter:
        spec = EXPORTERS[name]
        process = Process(start_time=self.clock.now())
        reader = InMemoryMetricReader()
        resource = Resource.create({
            "service.name": spec.service_name, "service.instance.id": f"{self.world.ident.hostname}:{name}",
            "host.name": self.world.ident.hostname, "host.id": self.world.ident.machine_id,
        })
        meters = ExporterMeters(name, spec.families(self.settings), resource, lambda: (self._latest, process), [reader])
        return MockExporter(name, getattr(self.settings.ports, name), process, meters,
                            PrometheusBridge(meters, reader, spec.dialect),
                            ScrapePredictor(2 * self.settings.tick_s / self.settings.speed))

    @property
    def latest(self) -> Snapshot:
        return self._latest

    def step(self) -> Snapshot:
        """Advance to the clock's current tick (no-op within a tick)."""
        n = self.world.tick_at(self.clock.now())
        if n != self._latest.tick:
            self._latest = self.world.snapshot(n)
        return self._latest

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="otelmock-world", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        period = self.settings.tick_s / self.settings.speed
        while not self._stop.is_set():
            try:
                self.step()
                self._prerender(time.time(), period)
            except Exception:  # the tick path never dies; the last snapshot keeps being served
                log.exception("world tick failed; serving the previous snapshot")
            now = time.time()
            self._stop.wait(period - (now % period) + 0.001 if self.settings.speed == 1 else period)

    def _prerender(self, now: float, period: float) -> None:
        """Render, for this tick, each exporter a regular scraper is expected to ask before the next tick."""
        tick_end = now - now % period + period
        for exp in self.exporters.values():
            if exp.predictor.due(now - 0.5 * period, tick_end):
                exp.bridge.render()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for exp in self.exporters.values():
            exp.meters.shutdown()

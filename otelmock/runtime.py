"""The running mock: a world, a clock, the latest snapshot, and the exporters reading it.

A background thread advances the world on the tick grid and publishes each snapshot by swapping
one reference (DESIGN invariant 8): scrapes read the latest snapshot and never wait for a tick.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from otelmock import state
from otelmock.bridge.otel import ExporterMeters
from otelmock.bridge.otlp import OtlpConfig, otlp_readers
from otelmock.bridge.prometheus import PrometheusBridge
from otelmock.clock import Clock
from otelmock.config import Settings
from otelmock.errors import ScenarioError, StartupError
from otelmock.exporters import EXPORTERS, vllm
from otelmock.exporters.base import Family, Process
from otelmock.exporters.pyclient import extra_suffixes
from otelmock.prerender import ScrapePredictor
from otelmock.scenario.anomaly import KINDS, Anomaly
from otelmock.scenario.loader import Scenario
from otelmock.scenario.timeline import Segment, Timeline
from otelmock.world.deployment import MODELS
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
    tick_now: Callable[[], int]   # the clock's tick, without computing it


def world_phase(host_index: int) -> float:
    """When in each tick a host's world thread works, as a fraction of the tick (0 for host 0): the hosts of a
    fleet spread over the first 80% (golden-ratio steps), so their threads do not all hold the interpreter at the
    tick's start, when the scrapes of a new tick arrive. A tick's bodies are rendered a tick ahead, so the
    offset costs no freshness."""
    return (host_index * 0.6180339887) % 1.0 * 0.8


MAX_ANOMALIES = 200
MAX_DURATION_S = 7 * 86_400.0
RESTART_ONLY = ("seed", "tick_s", "bind", "ports", "host", "gpu", "exporters", "otlp", "render", "state_file")


class Runtime:
    def __init__(self, settings: Settings, world: World, clock: Clock,
                 scenarios: dict[str, Scenario] | None = None, otlp: OtlpConfig | None = None) -> None:
        self.settings = settings
        self.otlp = otlp  # None: no push (dump, tests)
        self.world = world
        self.clock = clock
        self.scenarios = scenarios or {}
        self._control = threading.Lock()
        self._step_lock = threading.Lock()
        self.on_tick: list[Callable[[Snapshot], None]] = []  # e.g. the log writer; called from the world thread
        self.listen_every = 1  # ticks between calls of the listeners (each tick costs a world snapshot)
        self._listened = -(2**62)
        self._next_id = 0
        if settings.state_file:
            self._restore()
        self._latest: Snapshot = world.snapshot(world.tick_at(clock.now()))
        self._ahead: Snapshot | None = None  # the next tick's snapshot, computed ahead for the scrapes expected in it
        self._gen = 0                        # timeline changes so far: what was computed ahead is of one generation
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.exporters: dict[str, MockExporter] = {}
        for name in settings.exporters:
            spec = EXPORTERS[name]
            self.exporters[name] = self._build(name, spec.service_name, spec.dialect, spec.families(settings),
                                               getattr(settings.ports, name))
        base = settings.vllm.per_container_base_port
        if "vllm" in settings.exporters and base > 0:
            for i, m in enumerate(MODELS):  # each vLLM server alone, as a single real instance serves it
                self.exporters[f"vllm/{m.container}"] = self._build(
                    f"vllm/{m.container}", "vllm", "python", vllm.container_families(settings, m.container), base + i)

    def _build(self, name: str, service: str, dialect: str, families: Sequence[Family], port: int) -> MockExporter:
        process = Process(start_time=self.clock.now())
        reader = InMemoryMetricReader()
        resource = Resource.create({
            "service.name": service, "service.instance.id": f"{self.world.ident.hostname}:{name}",
            "host.name": self.world.ident.hostname, "host.id": self.world.ident.machine_id,
        })
        # per-container vLLM endpoints repeat the combined endpoint's series: only the exporters themselves push
        push = otlp_readers(self.otlp, name, lambda: self.latest, families) if self.otlp and "/" not in name else []
        readers = [reader] if self.settings.render == "otel" else []  # the direct render reads no provider
        meters = ExporterMeters(name, families, resource, lambda: (self.latest, process), [*readers, *push],
                                extra_suffixes=extra_suffixes(families) if dialect == "python" else None)
        bridge = PrometheusBridge(meters, reader, dialect, self.settings.render)
        return MockExporter(name, port, process, meters, bridge,
                            ScrapePredictor(self.settings.tick_s / self.settings.speed),
                            lambda: self.world.tick_at(self.clock.now()))

    @property
    def latest(self) -> Snapshot:
        """The snapshot of the clock's current tick (computed at most once per tick, by whoever asks first)."""
        return self.step()

    def step(self) -> Snapshot:
        """Advance to the clock's current tick (no-op within a tick)."""
        n = self.world.tick_at(self.clock.now())
        latest = self._latest
        if n != latest.tick:
            with self._step_lock:
                if n != self._latest.tick:
                    ahead = self._ahead
                    self._latest = ahead if ahead is not None and ahead.tick == n else self.world.snapshot(n)
                latest = self._latest
        return latest

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="otelmock-world", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """The world thread: pre-renders for expected scrapes and feeds tick listeners.

        Nothing reads a tick nobody asks for: an idle mock costs (almost) nothing, and a scrape nobody
        predicted computes its tick itself (:attr:`latest`).
        """
        period = self.settings.tick_s / self.settings.speed
        offset = 0.001 + world_phase(self.settings.host.index) * period
        while not self._stop.is_set():
            try:
                now = time.time()
                self._prerender(now, period)
                if self.on_tick and self.world.tick_at(self.clock.now()) - self._listened >= self.listen_every:
                    self._listen()
                self._render_ahead(now, period)
            except Exception:  # the tick path never dies; the last snapshot keeps being served
                log.exception("world tick failed; serving the previous snapshot")
            now = time.time()
            self._stop.wait(((offset - now % period) % period or period) if self.settings.speed == 1 else period)

    def _listen(self) -> None:
        snap = self.step()
        for listener in self.on_tick:
            listener(snap)
        self._listened = snap.tick

    def _prerender(self, now: float, period: float) -> None:
        """Render, for this tick, each exporter a regular scraper is expected to ask before the next tick (what
        :meth:`_render_ahead` did not already render)."""
        tick_start = now - now % period
        for exp in self.exporters.values():
            if exp.predictor.due(tick_start, tick_start + period):
                exp.bridge.render_gzip()

    def _render_ahead(self, now: float, period: float) -> None:
        """Render the next tick, a tick early, for each exporter a scraper is expected to ask during it.

        The expected scrape then finds its tick rendered and is answered at once, however many hosts render in
        this process. A timeline change (which starts at the next tick at the earliest) discards what was
        computed ahead: :meth:`_set_timeline` moves the generation on.
        """
        tick_end = now - now % period + period
        due = [exp for exp in self.exporters.values() if exp.predictor.due(tick_end, tick_end + period)]
        if not due:
            return
        n = self.world.tick_at(self.clock.now()) + 1
        if n % self.world.block_ticks == 0:
            # the first tick of the world's next block (once an hour): computing it ahead would move the world's
            # one cached block and its ledger forward while this tick may still be asked for
            return
        gen = self._gen
        snap = self.world.snapshot(n)
        with self._step_lock:
            if gen != self._gen:
                return
            self._ahead = snap
        for exp in due:
            exp.bridge.render_ahead(snap, exp.process, lambda: self._gen == gen)

    # --- control: scenarios and anomalies (every change starts at the next tick) -------------------
    def _next_tick_t(self) -> float:
        """When a change may start: the next window boundary (rates and distributions hold for a window,
        so a change inside one would rewrite ticks already served; at most a minute's wait)."""
        wt = self.world.window_ticks
        n = self.world.tick_at(self.clock.now()) + 1
        return -(-n // wt) * wt * self.world.dt

    def switch_scenario(self, name: str, ramp_s: float = 30.0) -> Segment:
        if name not in self.scenarios:
            raise ScenarioError(f"unknown scenario {name!r} (available: {', '.join(sorted(self.scenarios))})")
        if not 0 <= ramp_s <= 3600:
            raise ScenarioError(f"ramp_s: {ramp_s} is outside [0, 3600]")
        with self._control:
            start = self._next_tick_t()
            seg = Segment(name, start, {**self.scenarios[name].params, **self.settings.params}, ramp_s)
            self._set_timeline(self.world.timeline.then(seg), start)
            return seg

    def start_anomaly(self, kind: str, target: str = "", magnitude: float | None = None,
                      duration_s: float = 300.0, ramp_s: float = 0.0) -> Anomaly:
        target, mode, magnitude = self.check_anomaly(kind, target, magnitude, duration_s, ramp_s)
        with self._control:
            if len(self.active_anomalies()) >= MAX_ANOMALIES:
                raise ScenarioError(f"too many active anomalies (at most {MAX_ANOMALIES})")
            self._next_id += 1
            start = self._next_tick_t()
            a = Anomaly(f"a{self._next_id}", kind, target, magnitude, start,
                        0.0 if mode == "event" else float(duration_s), float(ramp_s))
            self._set_timeline(self.world.timeline.with_anomaly(a), start)
            return a

    def check_anomaly(self, kind: str, target: str, magnitude: float | None, duration_s: float, ramp_s: float,
                      *, saved: bool = False) -> tuple[str, str, float]:
        """(the target as stored, the kind's mode, the magnitude or the kind's default), or ScenarioError saying
        what is wrong. ``saved``: an anomaly read back from the state file, which may have been stopped early (a
        shorter duration than its ramp)."""
        spec = KINDS.get(kind)
        if spec is None:
            raise ScenarioError(f"unknown anomaly kind {kind!r} (available: {', '.join(sorted(KINDS))})")
        _, mode, (lo, hi), default, target_kind = spec
        target = self._check_target(target_kind, target)
        magnitude = default if magnitude is None else magnitude
        if not lo <= magnitude <= hi:
            raise ScenarioError(f"magnitude: {magnitude} is outside [{lo:g}, {hi:g}] for {kind}")
        if mode != "event" and not (0 if saved else 1) <= duration_s <= MAX_DURATION_S:
            raise ScenarioError(f"duration_s: {duration_s} is outside [1, {MAX_DURATION_S:g}]")
        if not 0 <= ramp_s <= (MAX_DURATION_S if saved else max(duration_s, 0)):
            raise ScenarioError(f"ramp_s: {ramp_s} is outside [0, duration_s]")
        return target, mode, float(magnitude)

    def _set_timeline(self, timeline: Timeline, from_t: float) -> None:
        """Apply a change from ``from_t`` on (caller holds ``_control``) and save it when a state file is set."""
        with self._step_lock:
            self._gen += 1
            self._ahead = None
        self.world.set_timeline(timeline, self.world.tick_at(from_t))
        for exp in self.exporters.values():
            exp.bridge.forget_ahead()
        self._save()

    def _state_ident(self) -> dict[str, object]:
        return state.identity(self.settings.seed, self.world.ident.hostname, self.settings.tick_s)

    def _restore(self) -> None:
        """Take the timeline of the state file (if there is one), then write the file: an unwritable path fails
        here, at start, rather than at the first change."""
        path = Path(self.settings.state_file)

        def check(kind: str, target: str, magnitude: float, duration_s: float, ramp_s: float) -> None:
            self.check_anomaly(kind, target, magnitude, duration_s, ramp_s, saved=True)

        saved = state.read(path, self._state_ident(), check)
        if saved is not None:
            self.world.set_timeline(saved, 0)
            self._next_id = max((int(a.id[1:]) for a in saved.anomalies), default=0)
            log.info("state file %s: resuming %d scenario segments and %d anomalies", path, len(saved.segments),
                     len(saved.anomalies))
        try:
            self._write_state()
        except OSError as exc:
            raise StartupError(f"state_file {path}: cannot write ({exc.strerror or exc})") from None

    def _write_state(self) -> None:
        state.write(Path(self.settings.state_file), state.to_doc(self.world.timeline, self._state_ident()))

    def _save(self) -> None:
        if not self.settings.state_file:
            return
        try:
            self._write_state()
        except OSError as exc:  # the change stands; a restart would not see it
            log.error("state file %s not written (%s): a restart would not resume this change",
                      self.settings.state_file, exc.strerror or exc)

    def _check_target(self, target_kind: str, target: str) -> str:
        if target_kind == "none":
            if target:
                raise ScenarioError(f"this anomaly takes no target (got {target!r})")
            return ""
        if target_kind == "gpu":
            if not target.isdigit() or int(target) >= self.settings.gpu.count:
                raise ScenarioError(f"target: {target!r} is not a GPU index (0..{self.settings.gpu.count - 1})")
            return str(int(target))
        names = [c.name for c in self.world.cids]
        if target not in names:
            raise ScenarioError(f"target: {target!r} is not a container (available: {', '.join(names)})")
        return target

    def reload(self, settings: Settings, scenarios: dict[str, Scenario]) -> list[str]:
        """Take new scenario files and parameter overrides without restarting anything.

        The active scenario is re-applied (at the next tick, no ramp) with its new definition. Settings
        that only a restart can change (ports, seed, host identity) are reported, not applied.
        """
        with self._control:
            needs_restart = [f for f in RESTART_ONLY if getattr(settings, f) != getattr(self.settings, f)]
            active = self.world.timeline.active(self.clock.now()).name
            self.scenarios = scenarios
            self.settings = settings.__class__(**{**{f: getattr(settings, f) for f in settings.__slots__},
                                                  **{f: getattr(self.settings, f) for f in needs_restart}})
        if active in scenarios:
            self.switch_scenario(active, ramp_s=0.0)
        return needs_restart

    def stop_anomaly(self, anomaly_id: str) -> Anomaly:
        with self._control:
            now = self._next_tick_t()
            found = [a for a in self.world.timeline.anomalies if a.id == anomaly_id]
            if not found:
                raise ScenarioError(f"no anomaly {anomaly_id!r}")
            self._set_timeline(self.world.timeline.stop_anomaly(anomaly_id, now), now)
            return next(a for a in self.world.timeline.anomalies if a.id == anomaly_id)

    def active_anomalies(self) -> tuple[Anomaly, ...]:
        return self.world.timeline.active_anomalies(self.clock.now())

    def summary(self) -> dict[str, object]:
        """The current world state in a few numbers (for the control API)."""
        s = self.latest
        return {
            "time": s.t, "tick": s.tick, "scenario": s.scenario, "hostname": s.host.hostname,
            "load1": s.host.load[0],
            "gpus": [{"index": g.index, "present": g.present, "util_pct": g.values.get("util_pct"),
                      "power_w": g.values.get("power_w"), "temp_c": g.values.get("gpu_temp_c"),
                      "containers": list(g.containers)} for g in s.gpus],
            "vllm": [{"container": v.container, "model": v.model_name, "serving": v.serving, **v.gauges}
                     for v in s.vllm],
            "anomalies": [a.id for a in self.active_anomalies()],
        }

    def attach_logs(self) -> None:
        """Write the containers' Docker json-file logs from every tick the world thread publishes."""
        from pathlib import Path

        from otelmock.logs.generator import LogGenerator, LogRates
        from otelmock.logs.rotate import RotationPolicy
        from otelmock.logs.sink import DockerLogSink

        cfg = self.settings.logs
        self.listen_every = max(1, round(cfg.write_interval_s / self.settings.tick_s))
        gen = LogGenerator(self.settings.seed, LogRates(access_sample=cfg.access_sample,
                                                        stats_interval_s=cfg.stats_interval_s))
        policy = RotationPolicy.from_log_opts({"max-size": cfg.max_size, "max-file": str(cfg.max_file),
                                               "compress": str(cfg.compress).lower()})
        self._sink = DockerLogSink(Path(cfg.dir), policy, logpath_root=cfg.logpath_root)
        prev: list[Snapshot | None] = [None]

        def write(cur: Snapshot) -> None:
            last = prev[0]
            if last is not None and cur.tick == last.tick:
                return
            if last is not None and not 0 < cur.t - last.t <= 3600:
                last = None  # a gap (pause, clock step): start afresh rather than replay it
            self._sink.sync(cur)
            self._sink.write(gen.records(last, cur))
            prev[0] = cur

        self.on_tick.append(write)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            if self.on_tick and not self._thread.is_alive():
                try:  # the lines since the last batch, so a stop loses none
                    self._listen()
                except Exception:
                    log.exception("last log batch not written")
        # in parallel: one after another, a Collector that does not answer would cost 5 x its timeout
        threads = [threading.Thread(target=e.meters.shutdown, daemon=True) for e in self.exporters.values()]
        for th in threads:
            th.start()
        deadline = time.monotonic() + 8.0
        for th in threads:
            th.join(max(0.0, deadline - time.monotonic()))
        sink = getattr(self, "_sink", None)
        if sink is not None:
            sink.close()

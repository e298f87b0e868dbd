"""OTLP push against a local OTLP/gRPC receiver: names, values, identity, batching and faults.

Providers are wired as the runtime wires them (an in-memory reader for the Prometheus bridge plus the
OTLP reader) on a SimClock runtime, so the Prometheus text and the OTLP points come from one snapshot.
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    Metric,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otelmock import config
from otelmock.bridge.otel import ExporterMeters, sample_labels
from otelmock.bridge.otlp import (
    FINAL_EXPORT_S,
    GRPC_LIMIT,
    HARD_LIMIT,
    OtlpConfig,
    OtlpLogExporter,
    OtlpLogProcessor,
    OtlpMetricExporter,
    OtlpMetricReader,
    _Encoder,
    _Identity,
    container_attributes,
    otlp_enabled,
    otlp_log_processor,
    otlp_readers,
)
from otelmock.bridge.prometheus import PrometheusBridge
from otelmock.clock import SimClock
from otelmock.exporters import EXPORTERS
from otelmock.exporters.base import Process
from otelmock.exporters.pyclient import extra_suffixes
from otelmock.runtime import Runtime
from otelmock.scenario.timeline import Timeline
from otelmock.world.model import World
from tests.bridge.otlp_receiver import Receiver, attrs, free_port, wait_for
from tests.conftest import T0

DOCS = Path(__file__).resolve().parents[2] / "docs" / "otlp.md"
FAST = {"interval_s": 0.2, "timeout_s": 0.5}
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Wired:
    """One exporter as the runtime builds it, plus the OTLP reader."""

    def __init__(self, rt: Runtime, name: str, cfg: OtlpConfig) -> None:
        spec = EXPORTERS[name]
        fams = spec.families(rt.settings)
        self.process = Process(start_time=rt.clock.now())
        self.reader = InMemoryMetricReader()
        self.otlp = otlp_readers(cfg, name, lambda: rt.latest, fams)
        self.resource = {"service.name": spec.service_name, "service.instance.id": f"{rt.world.ident.hostname}:{name}",
                         "host.name": rt.world.ident.hostname, "host.id": rt.world.ident.machine_id}
        self.meters = ExporterMeters(name, fams, Resource.create(self.resource), lambda: (rt.latest, self.process),
                                     [self.reader, *self.otlp],
                                     extra_suffixes=extra_suffixes(fams) if spec.dialect == "python" else None)
        self.bridge = PrometheusBridge(self.meters, self.reader, spec.dialect)

    @property
    def stats(self) -> dict[str, Any]:
        reader = self.otlp[0]
        assert isinstance(reader, OtlpMetricReader)
        return reader.stats()


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    """One SimClock runtime for the module (building the world's history is the slow part of a test)."""
    settings = config.load(seed=7, host__hostname="gpu-test-01", exporters=["node"], host__reboot_every_days=3)
    rt = Runtime(settings, World(settings, Timeline.constant("normal", {})), SimClock(T0))
    yield rt
    rt.stop()


@pytest.fixture
def wire(runtime: Runtime) -> Iterator[Any]:
    made: list[Wired] = []

    def make(name: str, cfg: OtlpConfig) -> Wired:
        made.append(Wired(runtime, name, cfg))
        return made[-1]

    yield make
    for w in made:
        w.meters.shutdown()


@pytest.fixture
def rx() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def cfg(endpoint: str, **kw: Any) -> OtlpConfig:
    return OtlpConfig(enabled=True, endpoint=endpoint, **{"interval_s": 3600.0, "timeout_s": 2.0, **kw})


def prom_samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = _LINE.match(line)
            assert m, line
            labels = {k: v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
                      for k, v in _LABEL.findall(m.group(2) or "") if v}
            out[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
    return out


def otlp_samples(rx: Receiver, w: Wired) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for _, name, p in rx.metric_points():
        fam, sfx = w.meters.instruments[name]
        a = attrs(p.attributes)
        labels = {n: a[n] for n in sample_labels(fam, sfx) if a.get(n, "") != ""}
        out[(fam.name + sfx, frozenset(labels.items()))] = p.as_double if p.HasField("as_double") else float(p.as_int)
    return out


# --- names, values, resource, identity, timestamps ---------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_points_match_the_prometheus_text_of_the_same_snapshot(rx: Receiver, wire: Any, runtime: Runtime,
                                                               name: str) -> None:
    w = wire(name, cfg(rx.endpoint))
    text = w.bridge.render().decode()
    t0 = time.time_ns()
    assert w.otlp[0].force_flush()
    t1 = time.time_ns()
    prom, pushed = prom_samples(text), otlp_samples(rx, w)
    assert pushed.keys() == prom.keys()
    for key, v in prom.items():
        assert math.isclose(pushed[key], v, rel_tol=1e-9, abs_tol=1e-6), (key, pushed[key], v)
    assert w.stats["dropped"] == 0 and w.stats["sent"] == len(pushed)
    for res, _, p in rx.metric_points():
        assert w.resource.items() <= res.items()
        assert t0 <= p.time_unix_nano <= t1
        assert p.start_time_unix_nano <= p.time_unix_nano


def test_gpu_and_container_identity_on_points(rx: Receiver, wire: Any, runtime: Runtime) -> None:
    snap = runtime.latest
    by_name = {c.name: c for c in snap.containers}
    gpus = {g.index: g for g in snap.gpus}
    services = {spec.service_name: name for name, spec in EXPORTERS.items()}
    for name in ("dcgm", "cadvisor", "vllm", "litellm"):
        wire(name, cfg(rx.endpoint)).otlp[0].force_flush()
    seen = {"gpu": 0, "dcgm-container": 0, "cadvisor": 0, "vllm": 0, "litellm": 0}
    for res, _, p in rx.metric_points():
        a, service = attrs(p.attributes), services[res["service.name"]]
        if service == "dcgm":
            g = gpus[int(a["gpu"])]
            assert (a["gpu.index"], a["hw.id"], a["gpu.pci_bus_id"], a["hw.model"], a["hw.type"]) == (
                g.index, a["UUID"], a["pci_bus_id"], a["modelName"], "gpu") and a["hw.id"] == g.uuid
            seen["gpu"] += 1
            if a.get("container"):
                assert a["container.id"] == by_name[a["container"]].id
                seen["dcgm-container"] += 1
        elif service == "cadvisor" and a.get("name"):
            assert a["container.id"] in a["id"] and a["container.name"] == a["name"]
            assert f'{a["container.image.name"]}:{a["container.image.tags"][0]}' == a["image"]
            seen["cadvisor"] += 1
        elif service == "vllm" and "container" in a:
            assert a["container.id"] == by_name[a["container"]].id
            seen["vllm"] += 1
        elif service == "litellm":
            assert a["container.name"] == "litellm"
            seen["litellm"] += 1
    assert all(seen.values()), seen


def test_our_encoder_writes_what_the_sdk_encoder_writes(runtime: Runtime) -> None:
    for name in ("node", "dcgm", "cadvisor"):
        reader = InMemoryMetricReader()
        fams = EXPORTERS[name].families(runtime.settings)
        meters = ExporterMeters(name, fams, Resource.create({"service.name": name}),
                                lambda: (runtime.latest, Process(0.0)), [reader])
        data = reader.get_metrics_data()
        assert data is not None
        ident = _Identity(name, lambda: runtime.latest)
        ident.refresh()
        enc = _Encoder(ident)
        sdk = MetricsData([_map_points(rm, enc._enriched) for rm in data.resource_metrics])
        assert enc.encode(data) == encode_metrics(sdk)
        assert enc.encode(data) == encode_metrics(sdk)  # from the cache
        meters.shutdown()


def _map_points(rm: Any, f: Any) -> Any:
    from dataclasses import replace
    return replace(rm, scope_metrics=[replace(sm, metrics=[
        replace(m, data=replace(m.data, data_points=[f(p) for p in m.data.data_points])) for m in sm.metrics])
        for sm in rm.scope_metrics])


# --- batch sizes ---------------------------------------------------------------------------------------------------
def _data(n_metrics: int, n_points: int, label_width: int) -> MetricsData:
    """Counters as the SDK collects them: ``n_metrics`` x ``n_points`` points with three labels."""
    now = time.time_ns()
    rows = [{"instance": f"{i:06d}", "zone": f"zone-{i % 7}-" + "x" * label_width, "path": f"/srv/{i % 13}"}
            for i in range(n_points)]
    metrics = [Metric(f"synthetic_metric_{f}_total", "Synthetic.", "", Sum(
        [NumberDataPoint(rows[i], now - 10**9, now, float(f * 1000 + i)) for i in range(n_points)],
        AggregationTemporality.CUMULATIVE, True)) for f in range(n_metrics)]
    return MetricsData([ResourceMetrics(Resource.create({"service.name": "synthetic"}), [
        ScopeMetrics(InstrumentationScope("otelmock.exporters.synthetic"), metrics, "")], "")])


def test_100k_points_arrive_in_requests_under_4_mib(rx: Receiver) -> None:
    # the SDK itself takes ~5 s to collect 100k observations; the export path is what is under test here
    exporter = OtlpMetricExporter(cfg(rx.endpoint, timeout_s=10.0))
    data = _data(50, 2000, 8)  # ~90 B a point: ~9 MB as one request
    assert exporter.export(data) is MetricExportResult.SUCCESS
    assert rx.points == 100_000 and exporter.stats()["sent"] == 100_000
    assert sum(rx.sizes) > 2 * GRPC_LIMIT and max(rx.sizes) < GRPC_LIMIT and len(rx.sizes) >= 50
    got = {(m, attrs(p.attributes)["instance"]): p.as_double for _, m, p in rx.metric_points()}
    assert len(got) == 100_000 and got[("synthetic_metric_49_total", "001999")] == 49 * 1000 + 1999
    exporter.shutdown()


def test_an_oversized_batch_setting_is_split_by_bytes(rx: Receiver) -> None:
    exporter = OtlpMetricExporter(cfg(rx.endpoint, timeout_s=10.0, max_batch_points=1_000_000))
    assert exporter.export(_data(2, 2500, 2000)) is MetricExportResult.SUCCESS  # ~10 MB in one batch
    assert rx.points == 5000 and max(rx.sizes) <= HARD_LIMIT and exporter.stats()["dropped"] == 0
    assert exporter.stats()["batch"] < 2500  # learned from the bytes per point
    exporter.shutdown()


# --- faults --------------------------------------------------------------------------------------------------------
def _render_ms(bridge: PrometheusBridge) -> float:
    t = time.perf_counter()
    bridge.render()
    return (time.perf_counter() - t) * 1000.0


def test_receiver_absent_at_start(wire: Any, runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    w = wire("dcgm", cfg(f"http://127.0.0.1:{free_port()}", **FAST))
    assert wait_for(lambda: w.stats["exports"] >= 4, 10)
    s = w.stats
    assert s["dropped"] > 0 and s["sent"] == 0 and s["last_error"] == "UNAVAILABLE"
    ours = [r for r in caplog.records if r.name == "otelmock.bridge.otlp"]
    assert 1 <= len(ours) <= w.stats["exports"]  # one line per failing interval
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry") and r.levelno >= logging.WARNING]


def test_a_slow_collector_never_slows_a_scrape(rx: Receiver, wire: Any, runtime: Runtime) -> None:
    rx.mode, rx.delay_s = "slow", 3.0  # accepts the request, answers after the exporter's timeout
    w = wire("dcgm", cfg(rx.endpoint, **FAST))
    plain = Wired(runtime, "dcgm", OtlpConfig())  # the same exporter without OTLP
    base, pushed = [], []
    for _ in range(12):
        runtime.clock.advance(1.0)  # type: ignore[attr-defined]
        base.append(_render_ms(plain.bridge))  # uncached: a new tick
        pushed.append(_render_ms(w.bridge))
        time.sleep(0.05)
    plain.meters.shutdown()
    assert wait_for(lambda: w.stats["exports"] >= 2, 5) and w.stats["last_error"] == "DEADLINE_EXCEEDED"
    assert max(pushed) < 1000.0 * FAST["timeout_s"]  # no scrape waited for the network
    assert statistics.median(pushed) < 2 * statistics.median(base) + 50.0, (base, pushed)


def test_killed_mid_run_then_restarted_on_the_same_port(rx: Receiver, wire: Any) -> None:
    w = wire("dcgm", cfg(rx.endpoint, **FAST))
    assert wait_for(lambda: rx.points > 0, 10)
    rx.stop()
    assert wait_for(lambda: w.stats["failing_intervals"] >= 2, 10)
    rx.clear()
    rx.start()
    assert wait_for(lambda: rx.points > 0, 10), w.stats
    assert wait_for(lambda: w.stats["failing_intervals"] == 0, 5)


def test_a_stop_never_waits_for_a_collector_that_is_away(runtime: Runtime) -> None:
    with socket.socket() as hole:  # accepts connections (the kernel's backlog), never answers
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        w = Wired(runtime, "dcgm", cfg(f"http://127.0.0.1:{hole.getsockname()[1]}", interval_s=0.2, timeout_s=30.0))
        time.sleep(0.5)  # the first export is now waiting for an answer
        t = time.monotonic()
        w.meters.shutdown()
        assert time.monotonic() - t < FINAL_EXPORT_S + 1.5
        assert w.stats["sent"] == 0


def _rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


@pytest.mark.parametrize("mode", ["unavailable", "resource_exhausted"])
def test_refusing_collector_is_counted_bounded_and_recovers(rx: Receiver, wire: Any, mode: str) -> None:
    rx.mode = mode
    w = wire("dcgm", cfg(rx.endpoint, interval_s=0.1, timeout_s=0.5))
    assert wait_for(lambda: w.stats["exports"] >= 5, 10)
    rss, threads = _rss_mib(), threading.active_count()
    assert wait_for(lambda: w.stats["exports"] >= 25, 20)
    s = w.stats
    assert rx.refused >= 25 and s["sent"] == 0 and s["dropped"] >= 25 * 350 and s["last_error"] == mode.upper()
    assert _rss_mib() - rss < 30 and threading.active_count() <= threads + 2
    rx.mode = "ok"
    assert wait_for(lambda: rx.points > 0, 10)


# --- logs ----------------------------------------------------------------------------------------------------------
def test_log_records_arrive_with_their_event_time(rx: Receiver, runtime: Runtime) -> None:
    c = runtime.latest.containers[0]
    provider = LoggerProvider(resource=Resource.create({"service.name": c.service, "host.name": "gpu-test-01",
                                                        **container_attributes(c)}))
    proc = otlp_log_processor(cfg(rx.endpoint))
    assert proc is not None
    provider.add_log_record_processor(proc)
    event_ns = int((runtime.clock.now() - 3.5) * 1e9)
    for i in range(600):
        provider.get_logger("otelmock.logs").emit(timestamp=event_ns + i, body=f"line {i}", severity_text="INFO",
                                                  attributes={"log.iostream": "stdout"})
    assert proc.force_flush()
    records = list(rx.log_records())
    assert len(records) == 600 and proc.stats()["sent"] == 600 and proc.stats()["requests"] >= 3
    res, r = records[0]
    assert res["container.id"] == c.id and res["container.image.tags"] == (c.image.rsplit(":", 1)[1],)
    assert sorted(r.time_unix_nano - event_ns for _, r in records) == list(range(600))
    assert all(r.observed_time_unix_nano > r.time_unix_nano for _, r in records)
    provider.shutdown()


def test_log_queue_is_bounded_and_drops_counted_when_absent(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    proc = OtlpLogProcessor(OtlpLogExporter(cfg(f"http://127.0.0.1:{free_port()}", timeout_s=0.5)), max_queue_size=100)
    provider = LoggerProvider()
    provider.add_log_record_processor(proc)
    for i in range(2000):
        provider.get_logger("t").emit(body=f"line {i}")
    assert proc.queue_size() <= 100
    assert wait_for(lambda: proc.stats()["dropped"] >= 1900, 10), proc.stats()
    t = time.monotonic()
    provider.shutdown()
    assert time.monotonic() - t < 5
    # exact: each record is either evicted from the full queue or handed to the (refusing) exporter, never both
    assert proc.stats()["sent"] == 0 and proc.stats()["dropped"] == 2000
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry") and r.levelno >= logging.WARNING]
    assert len([r for r in caplog.records if r.name == "otelmock.bridge.otlp"]) <= 3


# --- settings and the environment ----------------------------------------------------------------------------------
def test_settings_and_standard_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_METRICS_EXPORTER",
              "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(k, raising=False)
    assert not otlp_enabled(OtlpConfig()) and otlp_readers(OtlpConfig()) == []
    assert otlp_log_processor(OtlpConfig()) is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-token=abc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "7")
    assert otlp_enabled(OtlpConfig())
    env = OtlpMetricExporter(OtlpConfig()).inner
    assert (env._endpoint, env._insecure, env._headers) == ("collector:4317", True, (("x-token", "abc"),))
    assert env._timeout == 7
    ours = OtlpMetricExporter(OtlpConfig(endpoint="https://otel:4317", headers="a=b", timeout_s=2)).inner
    assert (ours._endpoint, ours._insecure, ours._headers, ours._timeout) == ("otel:4317", False, (("a", "b"),), 2)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TIMEOUT")
    assert OtlpMetricExporter(OtlpConfig()).inner._timeout == 5
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    assert not otlp_enabled(OtlpConfig(enabled=True))
    section = SimpleNamespace(enabled=True, endpoint="x:1", insecure="", headers="", timeout_s=5.0, interval_s=15.0,
                              max_batch_points=2000, certificate_file="", compression="gzip", other="ignored")
    assert OtlpConfig.of(section).insecure is None
    assert OtlpConfig.of(SimpleNamespace(insecure=True)).insecure is True


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_tls_with_a_certificate_file(tmp_path: Path, runtime: Runtime, wire: Any) -> None:
    key, crt = tmp_path / "key.pem", tmp_path / "crt.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True)
    tls_rx = Receiver(tls=(key.read_bytes(), crt.read_bytes())).start()
    try:
        w = wire("dcgm", cfg(tls_rx.endpoint, certificate_file=str(crt)))
        assert w.otlp[0].force_flush() and tls_rx.points == 350 and w.stats["sent"] == 350
    finally:
        tls_rx.stop()


# --- docs ----------------------------------------------------------------------------------------------------------
def name_table() -> str:
    """Every exporter's instruments: OTel name, Prometheus sample name, OTLP data kind (default settings)."""
    settings = config.load()
    rows = ["| exporter | OTel instrument | Prometheus name | OTLP kind |", "|---|---|---|---|"]
    for name, spec in EXPORTERS.items():
        fams = spec.families(settings)
        meters = ExporterMeters(name, fams, Resource.get_empty(), lambda: None, [],  # type: ignore[arg-type, return-value]
                                extra_suffixes(fams) if spec.dialect == "python" else None)
        for iname, (fam, sfx) in meters.instruments.items():
            monotonic = fam.type == "counter" and sfx != "_created" or sfx in ("_total", "_count", "_bucket")
            rows.append(f"| {name} | `{iname}` | `{fam.name + sfx}` | {'Sum' if monotonic else 'Gauge'} |")
        meters.shutdown()
    return "\n".join(rows) + "\n"


def test_docs_name_table_is_current(update_golden: bool) -> None:
    text = DOCS.read_text()
    start, end = "<!-- name-table:start -->\n", "<!-- name-table:end -->"
    head, rest = text.split(start, 1)
    current = head + start + name_table() + end + rest.split(end, 1)[1]
    if update_golden:
        DOCS.write_text(text := current)
    assert text == current, "docs/otlp.md: run pytest tests/bridge/test_otlp.py --update-golden"

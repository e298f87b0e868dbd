"""OTLP push: the exporters' MeterProviders (and the log records) sent to an OpenTelemetry Collector over gRPC.

:func:`otlp_readers` gives one exporter's provider a ``PeriodicExportingMetricReader`` around the SDK's
``OTLPMetricExporter``, wrapped by :class:`OtlpMetricExporter`, which

* sends batches of at most ``max_batch_points`` points, fewer once it has seen how many bytes a point
  takes (``REQUEST_BUDGET`` per request), and never a request over gRPC's 4 MiB default limit: the SDK's
  request is measured before it is sent and split in half if it is too large (the SDK drops an oversized
  request and still reports success);
* adds per-point identity for GPU- and container-scoped series (:func:`gpu_attributes`,
  :func:`container_attributes`), looked up in the latest snapshot by the table's ``gpu``/container labels;
* when the Collector is down, slow or refusing: drops the rest of an interval's batches after the first
  failure (an export lasts at most about one SDK timeout), counts what it dropped (:meth:`stats`), logs
  one line per failing interval and one when export resumes; it never queues, so memory stays bounded.

The reader runs in its own thread; a scrape only shares the provider's collection lock with it (a
collection, never a network call). :func:`otlp_log_processor` is the same for log records (bounded queue).
Unset settings fall back to the standard ``OTEL_EXPORTER_OTLP_*`` environment variables, which the SDK reads.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.exporter.otlp.proto.common._internal import _encode_attributes, _encode_instrumentation_scope
from opentelemetry.exporter.otlp.proto.common._internal.metrics_encoder import _encode_metric
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import NumberDataPoint
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import (
    Gauge,
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
    Sum,
)

from otelmock.bridge.otel import otel_name
from otelmock.exporters.base import Family
from otelmock.world.snapshot import ContainerState, GpuState, Snapshot

log = logging.getLogger(__name__)
GRPC_LIMIT = 4 * 1024 * 1024             # grpc's default max_receive_message_length (the Collector's too)
HARD_LIMIT = GRPC_LIMIT - 64 * 1024      # a request above this is split before it is sent
REQUEST_BUDGET = 2 * 1024 * 1024         # bytes aimed at per request once bytes/point is known
DEFAULT_BATCH_POINTS = 2000              # widest: cAdvisor, 1.2 KB/point with identity -> 2.4 MB; node 66 B -> 132 KB
DEFAULT_TIMEOUT_S = 5.0
FINAL_EXPORT_S = 2.0                     # at shutdown, a request still unanswered after this is cancelled
LOG_QUEUE, LOG_BATCH, LOG_DELAY_MS = 8192, 256, 1000
GPU_LABEL = {"dcgm": "gpu", "vllm": "gpu"}                               # label holding a GPU index
CONTAINER_LABEL = {"dcgm": "container", "cadvisor": "name", "vllm": "container"}  # label holding a container name
_last_error = threading.local()          # the SDK logs the gRPC status of a failed request; kept per thread


@dataclass(frozen=True, slots=True)
class OtlpConfig:
    enabled: bool = False
    endpoint: str = ""                   # "": OTEL_EXPORTER_OTLP_[METRICS_|LOGS_]ENDPOINT, else http://localhost:4317
    insecure: bool | None = None         # None: OTEL_EXPORTER_OTLP_*INSECURE, else by scheme (http:// plaintext)
    certificate_file: str = ""           # "": OTEL_EXPORTER_OTLP_*CERTIFICATE, else the system roots (TLS only)
    headers: str = ""                    # "k1=v1,k2=v2"; "": OTEL_EXPORTER_OTLP_*HEADERS
    timeout_s: float = 0.0               # per request incl. retries; 0: OTEL_EXPORTER_OTLP_*TIMEOUT, else 5
    interval_s: float = 15.0
    max_batch_points: int = DEFAULT_BATCH_POINTS
    compression: str = ""                # "" (OTEL_EXPORTER_OTLP_*COMPRESSION, else none) or "gzip"

    @classmethod
    def of(cls, section: Any) -> OtlpConfig:
        """From a settings section with these attribute names (``insecure``: "", "auto", true or false)."""
        values = {f.name: getattr(section, f.name) for f in fields(cls) if hasattr(section, f.name)}
        ins = values.get("insecure")
        if isinstance(ins, str):
            values["insecure"] = None if ins.strip().lower() in ("", "auto") else ins.strip().lower() == "true"
        return cls(**values)


def otlp_enabled(config: OtlpConfig, signal: str = "metrics", environ: Mapping[str, str] = os.environ) -> bool:
    """On by the setting or by an OTLP endpoint in the environment; ``OTEL_<SIGNAL>_EXPORTER=none`` turns it off."""
    sig = signal.upper()
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true" or environ.get(f"OTEL_{sig}_EXPORTER") == "none":
        return False
    endpoint = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get(f"OTEL_EXPORTER_OTLP_{sig}_ENDPOINT")
    return config.enabled or bool(endpoint)


def _sdk_kwargs(config: OtlpConfig, signal: str) -> dict[str, Any]:
    env_timeout = os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_TIMEOUT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TIMEOUT")
    cert = Path(config.certificate_file).read_bytes() if config.certificate_file else None
    return {
        "endpoint": config.endpoint or None, "insecure": config.insecure, "headers": config.headers or None,
        "credentials": grpc.ssl_channel_credentials(root_certificates=cert) if cert else None,
        "timeout": config.timeout_s or (None if env_timeout else DEFAULT_TIMEOUT_S),
        "compression": grpc.Compression.Gzip if config.compression == "gzip" else None,
    }


class _TooLarge(Exception):
    pass


def _check(request: Any) -> int:
    size = int(request.ByteSize())
    if size > HARD_LIMIT:
        raise _TooLarge(size)
    return size


class _MetricSender(OTLPMetricExporter):
    """The SDK's exporter (channel, TLS, headers, retries) with our encoder and a size check before sending."""

    def __init__(self, encoder: _Encoder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder, self.last_bytes = encoder, 0

    def _translate_data(self, data: MetricsData) -> Any:
        request = self.encoder.encode(data)
        self.last_bytes = _check(request)
        return request


class _LogSender(OTLPLogExporter):
    last_bytes = 0

    def _translate_data(self, data: Any) -> Any:
        request = super()._translate_data(data)
        self.last_bytes = _check(request)
        return request


class _Quiet(logging.Filter):
    """Replaces the SDK's per-request failure lines by our per-interval summary; remembers the status code."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.msg)
        if msg.startswith(("Failed to export", "Transient error")):
            args = record.args if isinstance(record.args, tuple) else ()
            code = args[2] if msg.startswith("Failed") and len(args) > 2 else args[0] if args else None
            _last_error.code = getattr(code, "name", str(code))
            return False
        return not msg.startswith(("Queue full", "Exporter already shutdown"))


def _quiet_sdk() -> None:
    for name in ("opentelemetry.exporter.otlp.proto.grpc.exporter", "opentelemetry.sdk._shared_internal"):
        lg = logging.getLogger(name)
        if not any(isinstance(f, _Quiet) for f in lg.filters):
            lg.filters.insert(0, _Quiet())  # before the SDK's DuplicateFilter, which would hide repeats from us


def gpu_attributes(g: GpuState) -> dict[str, Any]:
    """Semantic-convention hardware attributes (``hw.*``) plus the index and PCI bus id DCGM labels carry."""
    return {"hw.type": "gpu", "hw.id": g.uuid, "hw.vendor": g.model.split()[0] if g.model else "",
            "hw.model": g.model, "gpu.index": g.index, "gpu.pci_bus_id": g.pci_bus_id}


def container_attributes(c: ContainerState) -> dict[str, Any]:
    """``container.*`` semantic-convention attributes of a Docker container."""
    ref = c.image.split("@", 1)[0]
    name, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    return {"container.id": c.id, "container.name": c.name, "container.image.name": name,
            "container.image.tags": (tag,)}


class _Identity:
    """Per-point identity attributes for one exporter, from the latest snapshot's GPUs and containers."""

    def __init__(self, exporter: str, snapshot: Callable[[], Snapshot] | None) -> None:
        self.gpu, self.ctr = GPU_LABEL.get(exporter, ""), CONTAINER_LABEL.get(exporter, "")
        # a whole endpoint that is one container's process: a single vLLM server, the LiteLLM proxy
        self.own = exporter.partition("/")[2] if exporter.startswith("vllm/") else "@proxy" * (exporter == "litellm")
        self._snapshot = snapshot if (self.gpu or self.ctr or self.own) else None
        self._maps: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]] = ({}, {})

    def refresh(self) -> bool:
        """Re-read the snapshot's GPUs and containers; whether anything changed."""
        if self._snapshot is None:
            return False
        snap = self._snapshot()
        ctrs = {c.name: container_attributes(c) for c in snap.containers}
        ctrs.update({"@" + c.kind: ctrs[c.name] for c in snap.containers})
        maps = ({str(g.index): gpu_attributes(g) for g in snap.gpus}, ctrs)
        changed, self._maps = maps != self._maps, maps
        return changed

    def extra(self, attrs: Mapping[str, Any]) -> dict[str, Any]:
        gpus, ctrs = self._maps
        return {**gpus.get(attrs.get(self.gpu, ""), {}), **ctrs.get(attrs.get(self.ctr, "") or self.own, {})}


class _Encoder:
    """``encode_metrics`` for our Sum and Gauge points, ~15x faster: each series' attributes (with its identity)
    are encoded once and reused. Anything else (exemplars, histograms) goes through the SDK's encoder."""

    def __init__(self, identity: _Identity, ints: Collection[str] = ()) -> None:
        self.identity, self.ints, self.cache = identity, frozenset(ints), {}  # type: dict[tuple[Any, ...], bytes]

    def encode(self, data: MetricsData) -> ExportMetricsServiceRequest:
        req = ExportMetricsServiceRequest()
        for rm in data.resource_metrics:
            prm = req.resource_metrics.add(schema_url=rm.resource.schema_url)
            prm.resource.attributes.extend(_encode_attributes(rm.resource.attributes))
            for sm in rm.scope_metrics:
                scope = _encode_instrumentation_scope(sm.scope)
                psm = prm.scope_metrics.add(scope=scope, schema_url=sm.scope.schema_url)
                for m in sm.metrics:
                    self._metric(m, psm.metrics.add(name=m.name, description=m.description or "", unit=m.unit or ""))
        return req

    def _metric(self, m: Any, pm: Any) -> None:
        points = m.data.data_points
        if not isinstance(m.data, Sum | Gauge) or any(p.exemplars for p in points):
            _encode_metric(replace(m, data=replace(m.data, data_points=[self._enriched(p) for p in points])), pm)
            return
        if isinstance(m.data, Sum):
            if points:
                pm.sum.aggregation_temporality = m.data.aggregation_temporality
                pm.sum.is_monotonic = m.data.is_monotonic
            out = pm.sum.data_points
        else:
            out = pm.gauge.data_points
        ints = m.name in self.ints  # DCGM's integer fields: the value its text shows (%d)
        for p in points:
            key = tuple(p.attributes.items())
            blob = self.cache.get(key)
            if blob is None:
                attrs = {**p.attributes, **self.identity.extra(p.attributes)}
                blob = self.cache[key] = NumberDataPoint(attributes=_encode_attributes(attrs)).SerializeToString()
            pt = out.add()
            pt.MergeFromString(blob)
            if p.start_time_unix_nano:
                pt.start_time_unix_nano = p.start_time_unix_nano
            pt.time_unix_nano = p.time_unix_nano
            if isinstance(p.value, int) or ints and math.isfinite(p.value):
                pt.as_int = int(p.value)
            else:
                pt.as_double = p.value

    def _enriched(self, p: Any) -> Any:
        extra = self.identity.extra(p.attributes)
        return replace(p, attributes={**p.attributes, **extra}) if extra else p


def _batches(data: MetricsData, size: int) -> Iterator[tuple[MetricsData, int]]:
    """``data`` cut into requests of at most ``size`` points, in order."""
    parts: list[tuple[Any, Any, Any]] = []
    count = 0
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                pts, i = m.data.data_points, 0
                while i < len(pts):
                    take = pts[i:i + size - count]
                    parts.append((rm, sm, replace(m, data=replace(m.data, data_points=take))))
                    count, i = count + len(take), i + len(take)
                    if count >= size:
                        yield _assemble(parts), count
                        parts, count = [], 0
    if count:
        yield _assemble(parts), count


def _assemble(parts: list[tuple[Any, Any, Any]]) -> MetricsData:
    tree: list[tuple[Any, list[tuple[Any, list[Any]]]]] = []
    for rm, sm, m in parts:
        if not tree or tree[-1][0] is not rm:
            tree.append((rm, []))
        if not tree[-1][1] or tree[-1][1][-1][0] is not sm:
            tree[-1][1].append((sm, []))
        tree[-1][1][-1][1].append(m)
    return MetricsData([replace(rm, scope_metrics=[replace(sm, metrics=ms) for sm, ms in sms]) for rm, sms in tree])


class _Counts:
    """Counters shared by the metric and log wrappers, and the one-line-per-interval report."""

    def __init__(self, what: str, endpoint: str) -> None:
        self.what, self.endpoint, self.lock = what, endpoint, threading.Lock()
        self.c = {"exports": 0, "requests": 0, "failed_requests": 0, "sent": 0, "dropped": 0, "bytes": 0,
                  "max_request_bytes": 0}
        self.last_error, self.failing, self.batch = "", 0, 0
        self.overflow: Callable[[], int] = lambda: 0  # records dropped before they reached the exporter

    def add(self, **kv: int) -> None:
        with self.lock:
            for k, v in kv.items():
                self.c[k] = max(self.c[k], v) if k.startswith("max_") else self.c[k] + v

    def report(self, sent: int, dropped: int) -> None:
        if dropped:
            self.failing += 1
            log.warning("OTLP %s to %s: %d of %d dropped this interval (%s); %d dropped since start", self.what,
                        self.endpoint, dropped, sent + dropped, self.last_error or "error", self.stats()["dropped"])
        elif self.failing and sent:
            log.info("OTLP %s to %s: export resumed after %d failed intervals", self.what, self.endpoint, self.failing)
            self.failing = 0

    def stats(self) -> dict[str, Any]:
        with self.lock:
            c = {**self.c, "dropped": self.c["dropped"] + self.overflow()}
        return {**c, "last_error": self.last_error, "failing_intervals": self.failing, "batch": self.batch}


class OtlpMetricExporter(MetricExporter):
    """Batches, identity, byte guard and drop accounting around the SDK's OTLP gRPC metric exporter."""

    def __init__(self, config: OtlpConfig, exporter: str = "", snapshot: Callable[[], Snapshot] | None = None,
                 families: Sequence[Family] = ()) -> None:
        _quiet_sdk()
        self.encoder = _Encoder(_Identity(exporter, snapshot), {otel_name(f.name) for f in families if f.int_format})
        self.inner = _MetricSender(self.encoder, **_sdk_kwargs(config, "metrics"))
        super().__init__(preferred_temporality=self.inner._preferred_temporality,
                         preferred_aggregation=self.inner._preferred_aggregation)
        self.counts = _Counts(f"metrics of {exporter or 'a provider'}", self.inner._endpoint)
        self.counts.batch = self.max_points = max(1, config.max_batch_points)
        self.interval_s, self._bpp, self._last_total = config.interval_s, 0.0, 0

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        deadline = time.monotonic() + max(self.interval_s, 1.0)
        sent = dropped = 0
        _last_error.code = ""
        cache = self.encoder.cache
        if self.encoder.identity.refresh() or len(cache) > 2 * self._last_total + 1024:  # series come and go
            cache.clear()
        for batch, n in _batches(metrics_data, self.counts.batch):
            if dropped or time.monotonic() > deadline:  # the Collector is away or slow: skip to the next interval
                dropped += n
                continue
            ok = self._send(batch, n)
            sent, dropped = sent + ok, dropped + n - ok
        if dropped:
            self.counts.last_error = _last_error.code or ("stopped" if self.inner._shutdown else "interval over")
        self.counts.add(exports=1, sent=sent, dropped=dropped)
        self.counts.report(sent, dropped)
        self._last_total = sent + dropped
        return MetricExportResult.FAILURE if dropped else MetricExportResult.SUCCESS

    def _send(self, batch: MetricsData, n: int) -> int:
        """Send one request (split in halves while too large); the number of points the receiver took."""
        try:
            ok = self.inner.export(batch) is MetricExportResult.SUCCESS
        except _TooLarge as exc:
            self._learn(exc.args[0], n)
            if n == 1:
                _last_error.code = "point over the gRPC limit"
                return 0
            return sum(self._send(half, k) for half, k in _batches(batch, (n + 1) // 2))
        self._learn(self.inner.last_bytes, n)
        self.counts.add(requests=1, failed_requests=0 if ok else 1, bytes=self.inner.last_bytes if ok else 0,
                        max_request_bytes=self.inner.last_bytes if ok else 0)
        return n if ok else 0

    def _learn(self, size: int, n: int) -> None:
        self._bpp = max(self._bpp, size / n)
        self.counts.batch = max(1, min(self.max_points, int(REQUEST_BUDGET / self._bpp)))

    def stats(self) -> dict[str, Any]:
        return {**self.counts.stats(), "bytes_per_point": round(self._bpp, 1)}

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        if not self.inner._shutdown:
            self.inner.shutdown(timeout_millis=timeout_millis)


class OtlpMetricReader(PeriodicExportingMetricReader):
    """The periodic reader with access to its exporter's :meth:`~OtlpMetricExporter.stats`."""

    def __init__(self, exporter: OtlpMetricExporter, interval_s: float) -> None:
        super().__init__(exporter, export_interval_millis=interval_s * 1000.0)
        self.exporter = exporter

    def stats(self) -> dict[str, Any]:
        return self.exporter.stats()

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """A last export, unless the Collector was failing; whatever is still sending after FINAL_EXPORT_S is
        cancelled (closing the channel), so a stop never waits for a Collector that is away."""
        if self.exporter.counts.failing:
            self.exporter.shutdown()
        timer = threading.Timer(FINAL_EXPORT_S, self.exporter.shutdown)
        timer.daemon = True
        timer.start()
        try:
            super().shutdown(timeout_millis=timeout_millis, **kwargs)
        finally:
            timer.cancel()


def otlp_readers(config: OtlpConfig, exporter: str = "", snapshot: Callable[[], Snapshot] | None = None,
                 families: Sequence[Family] = ()) -> list[MetricReader]:
    """The readers to add to one exporter's MeterProvider: one OTLP push reader, or none when disabled.

    ``exporter`` (its EXPORTERS name) and ``snapshot`` (the latest) give points their GPU/container identity;
    ``families`` (its table) marks DCGM's integer fields, sent as integers like its text shows them."""
    if not otlp_enabled(config, "metrics"):
        return []
    return [OtlpMetricReader(OtlpMetricExporter(config, exporter, snapshot, families), config.interval_s)]


class OtlpLogExporter(LogRecordExporter):
    """The SDK's OTLP log exporter with the byte guard, drop counts and a pause after a failure."""

    def __init__(self, config: OtlpConfig) -> None:
        _quiet_sdk()
        self.inner = _LogSender(**_sdk_kwargs(config, "logs"))
        self.counts = _Counts("logs", self.inner._endpoint)
        self.counts.batch = LOG_BATCH
        self.pause_s = min(config.interval_s, 5.0)
        self._retry_at = 0.0
        self._window = (0.0, 0, 0)  # start, sent, dropped of the current reporting interval

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        _last_error.code = ""
        ok = self._send(list(batch)) if time.monotonic() >= self._retry_at else 0
        if ok < len(batch):
            self._retry_at = time.monotonic() + self.pause_s
            self.counts.last_error = _last_error.code or self.counts.last_error or "paused"
        self.counts.add(sent=ok, dropped=len(batch) - ok)
        self.note(ok, len(batch) - ok)
        return LogRecordExportResult.SUCCESS if ok == len(batch) else LogRecordExportResult.FAILURE

    def note(self, sent: int, dropped: int) -> None:
        start, s, d = self._window
        s, d, now = s + sent, d + dropped, time.monotonic()
        if now - start >= self.pause_s or (not d and self.counts.failing):
            self.counts.report(s, d)
            start, s, d = now, 0, 0
        self._window = (start, s, d)

    def _send(self, records: list[Any]) -> int:
        try:
            ok = self.inner.export(records) is LogRecordExportResult.SUCCESS
        except _TooLarge:
            if len(records) == 1:
                return 0
            half = (len(records) + 1) // 2
            return self._send(records[:half]) + self._send(records[half:])
        self.counts.add(requests=1, failed_requests=0 if ok else 1, bytes=self.inner.last_bytes if ok else 0,
                        max_request_bytes=self.inner.last_bytes if ok else 0)
        return len(records) if ok else 0

    def stats(self) -> dict[str, Any]:
        return self.counts.stats()

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class _CountingDeque(collections.deque):  # type: ignore[type-arg]
    """The SDK's bounded queue, counting the oldest records it evicts when full (exactly: both ends locked)."""

    def __init__(self, maxlen: int) -> None:
        super().__init__((), maxlen)
        self.lock, self.evicted = threading.Lock(), 0

    def appendleft(self, x: Any) -> None:
        with self.lock:
            self.evicted += len(self) == self.maxlen
            super().appendleft(x)

    def pop(self) -> Any:
        with self.lock:
            return super().pop()


class OtlpLogProcessor(BatchLogRecordProcessor):
    """A batch processor with a bounded queue whose overflow (oldest records dropped) is counted."""

    def __init__(self, exporter: OtlpLogExporter, max_queue_size: int = LOG_QUEUE) -> None:
        super().__init__(exporter, schedule_delay_millis=LOG_DELAY_MS,
                         max_export_batch_size=min(LOG_BATCH, max_queue_size), max_queue_size=max_queue_size)
        self.exporter = exporter
        self._queue = _CountingDeque(max_queue_size)
        self._batch_processor._queue = self._queue  # the SDK's own worker pops from it, its emit appends to it
        exporter.counts.overflow = lambda: self._queue.evicted

    def queue_size(self) -> int:
        return len(self._queue)

    def stats(self) -> dict[str, Any]:
        return {**self.exporter.stats(), "queued": self.queue_size()}


def otlp_log_processor(config: OtlpConfig) -> OtlpLogProcessor | None:
    """The processor to add to a LoggerProvider (``add_log_record_processor``), or None when disabled."""
    return OtlpLogProcessor(OtlpLogExporter(config)) if otlp_enabled(config, "logs") else None

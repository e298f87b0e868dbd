"""A test OTLP/gRPC receiver from opentelemetry-proto's service definitions: records what it is sent.

``mode`` decides the answer: ``ok``, ``unavailable``, ``resource_exhausted`` (gRPC status, as a Collector
refusing data) or ``slow`` (answers ok after ``delay_s``). It listens on 127.0.0.1 and can be stopped and
started again on the same port. It keeps gRPC's default 4 MiB receive limit, like the Collector.

    python -m tests.bridge.otlp_receiver [--port N]   # serve until killed (benchmarks), counting points
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

CODES = {"unavailable": grpc.StatusCode.UNAVAILABLE, "resource_exhausted": grpc.StatusCode.RESOURCE_EXHAUSTED}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return tuple(value(x) for x in v.array_value.values)
    return getattr(v, kind) if kind else None


def attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in kvs}


class Receiver:
    def __init__(self, port: int = 0, keep: bool = True, tls: tuple[bytes, bytes] | None = None) -> None:
        self.port = port or free_port()
        self.tls = tls                         # (private key PEM, certificate PEM): serve TLS
        self.keep = keep                       # keep the requests (tests) or only count (benchmarks)
        self.mode = "ok"
        self.delay_s = 2.0
        self.metrics: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.logs: list[logs_service_pb2.ExportLogsServiceRequest] = []
        self.sizes: list[int] = []             # serialized bytes of every request answered ok
        self.refused = 0
        self.points = 0
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> Receiver:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(self), server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Logs(self), server)
        address = f"127.0.0.1:{self.port}"
        bound = (server.add_secure_port(address, grpc.ssl_server_credentials([self.tls])) if self.tls
                 else server.add_insecure_port(address))
        if bound != self.port:
            raise RuntimeError(f"cannot listen on 127.0.0.1:{self.port}")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=0).wait(5)
            self._server = None

    def _answer(self, request: Any, context: grpc.ServicerContext, into: list[Any], points: int) -> None:
        if self.mode in CODES:
            with self._lock:
                self.refused += 1
            context.abort(CODES[self.mode], f"test receiver: {self.mode}")
        if self.mode == "slow":
            time.sleep(self.delay_s)
        with self._lock:
            self.sizes.append(request.ByteSize())
            self.points += points
            if self.keep:
                into.append(request)

    # --- reading what arrived ------------------------------------------------------------------------------
    def metric_points(self) -> Iterator[tuple[dict[str, Any], str, Any]]:
        """(resource attributes, metric name, NumberDataPoint) of every point received."""
        with self._lock:
            requests = list(self.metrics)
        for req in requests:
            for rm in req.resource_metrics:
                res = attrs(rm.resource.attributes)
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        data = getattr(m, m.WhichOneof("data"))
                        for p in data.data_points:
                            yield res, m.name, p

    def log_records(self) -> Iterator[tuple[dict[str, Any], Any]]:
        with self._lock:
            requests = list(self.logs)
        for req in requests:
            for rl in req.resource_logs:
                res = attrs(rl.resource.attributes)
                for sl in rl.scope_logs:
                    for r in sl.log_records:
                        yield res, r

    def clear(self) -> None:
        with self._lock:
            self.metrics.clear()
            self.logs.clear()
            self.sizes.clear()
            self.points = 0


def wait_for(cond: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, rx: Receiver) -> None:
        self.rx = rx

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        n = sum(len(getattr(m, m.WhichOneof("data")).data_points)
                for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics)
        self.rx._answer(request, context, self.rx.metrics, n)
        return metrics_service_pb2.ExportMetricsServiceResponse()


class _Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, rx: Receiver) -> None:
        self.rx = rx

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        n = sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)
        self.rx._answer(request, context, self.rx.logs, n)
        return logs_service_pb2.ExportLogsServiceResponse()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=4317)
    rx = Receiver(ap.parse_args().port, keep=False).start()
    print(f"listening on {rx.endpoint}", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        rx.stop()

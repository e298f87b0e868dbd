"""OTLP push cost against the Prometheus render of the same providers, measured side by side in one run.

    python benchmarks/otlp.py [--rounds 10] [--exporters node,dcgm,cadvisor,litellm,vllm] [--synthetic 100000]

A test OTLP receiver runs in a child process (so its decoding is not counted). Each exporter's provider is
wired as the runtime wires it (in-memory reader for the Prometheus text plus the OTLP reader). Per round the
SimClock moves one tick, the tick's samples are computed once (shared by both sides, not counted), then
the Prometheus render (collection + text) and one OTLP export (collection + identity + encoding + gRPC)
are timed in wall and process CPU time. Also: the encoder alone against the SDK's ``encode_metrics``,
and a synthetic provider of ``--synthetic`` points.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import MetricsTimeoutError
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from otelmock import config
from otelmock.bridge.otel import ExporterMeters
from otelmock.bridge.otlp import OtlpConfig, OtlpMetricReader, _Encoder, _Identity, otlp_readers
from otelmock.bridge.prometheus import PrometheusBridge
from otelmock.clock import SimClock
from otelmock.exporters import EXPORTERS
from otelmock.exporters.base import Family, Process
from otelmock.exporters.pyclient import extra_suffixes
from otelmock.runtime import Runtime
from otelmock.scenario.timeline import Timeline
from otelmock.world.model import World


def timed(f: Callable[[], Any]) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - w, time.process_time() - c


def receiver(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.bridge.otlp_receiver", "--port", str(port)],
                            cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the test receiver did not start")


def wire(rt: Runtime, name: str, families: list[Family], cfg: OtlpConfig, dialect: str
         ) -> tuple[ExporterMeters, PrometheusBridge, OtlpMetricReader]:
    reader = InMemoryMetricReader()
    (otlp,) = otlp_readers(cfg, name, lambda: rt.latest, families)
    assert isinstance(otlp, OtlpMetricReader)
    process = Process(start_time=rt.clock.now())
    resource = Resource.create({"service.name": name, "host.name": rt.world.ident.hostname})
    meters = ExporterMeters(name, families, resource, lambda: (rt.latest, process), [reader, otlp],
                            extra_suffixes=extra_suffixes(families) if dialect == "python" else None)
    return meters, PrometheusBridge(meters, reader, dialect), otlp


def row(label: str, points: int, prom: list[tuple[float, float]], push: list[tuple[float, float]],
        send: list[tuple[float, float]], extra: str) -> None:
    def med(xs: list[tuple[float, float]], i: int) -> float:
        return statistics.median(t[i] for t in xs) if xs else float("nan")

    print(f"{label:10s} {points:7d} | {med(prom, 0) * 1e3:8.1f} {med(prom, 1) * 1e3:8.1f} | "
          f"{med(push, 0) * 1e3:8.1f} {med(push, 1) * 1e3:8.1f} | {med(send, 1) * 1e3:8.1f} "
          f"{points / med(send, 1):10.0f} | {extra}")


HEADER = (f"{'':18s} | {'Prometheus render':^17s} | {'OTLP collect+export':^17s} | {'OTLP export only':^19s} |\n"
          f"{'exporter':10s} {'points':>7s} | {'wall ms':>8s} {'CPU ms':>8s} | {'wall ms':>8s} {'CPU ms':>8s} | "
          f"{'CPU ms':>8s} {'pts/CPU s':>10s} | requests, bytes/point")


def synthetic(n: int) -> list[Family]:
    per = 2000
    rows = [(f"{i:06d}", f"zone-{i % 7}", f"/srv/{i % 13}") for i in range(per)]
    return [Family(f"synthetic_metric_{f}_total", "counter", "Synthetic.", ("instance", "zone", "path"),
                   lambda s, p, f=f: (("", lv, float(f * 1000 + i)) for i, lv in enumerate(rows)))
            for f in range(max(1, n // per))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--exporters", default=",".join(EXPORTERS))
    ap.add_argument("--synthetic", type=int, default=100_000, help="points of a synthetic provider (0: none)")
    args = ap.parse_args()
    port = 43000 + int(time.time()) % 2000
    rx = receiver(port)
    try:
        settings = config.load(exporters=["node"])
        clock = SimClock(time.time())
        rt = Runtime(settings, World(settings, Timeline.constant(settings.scenario, {})), clock)
        cfg = OtlpConfig(enabled=True, endpoint=f"http://127.0.0.1:{port}", interval_s=3600.0, timeout_s=30.0)
        print(HEADER)
        for name in args.exporters.split(","):
            spec = EXPORTERS[name]
            meters, bridge, otlp = wire(rt, name, list(spec.families(settings)), cfg, spec.dialect)
            prom, push, send = [], [], []
            for _ in range(args.rounds + 1):
                clock.advance(settings.tick_s)
                rt.step()
                meters.samples()  # the tick's samples, shared by both sides
                prom.append(timed(bridge.render))
                push.append(timed(otlp.force_flush))
                data = bridge.reader.get_metrics_data()  # the same points, collected by the other reader
                send.append(timed(lambda otlp=otlp, data=data: otlp.exporter.export(data)))  # type: ignore[misc]
            s = otlp.stats()
            points = s["sent"] // (2 * args.rounds + 2)
            row(name, points, prom[1:], push[1:], send[1:],
                f"{s['requests'] // (2 * args.rounds + 2)}, {s['bytes_per_point']:.0f}")
            ident = _Identity(name, lambda: rt.latest)
            ident.refresh()
            enc, data = _Encoder(ident), bridge.reader.get_metrics_data()
            enc.encode(data)  # the SDK's encoder below has no identity to add: a lower bound for its cost
            ours = min(timed(lambda enc=enc, data=data: enc.encode(data))[1] for _ in range(3))  # type: ignore[misc]
            theirs = min(timed(lambda data=data: encode_metrics(data))[1] for _ in range(3))  # type: ignore[misc]
            print(f"{'':10s} encoding alone: ours {ours * 1e3:.1f} ms CPU, SDK encode_metrics {theirs * 1e3:.1f} ms")
            meters.shutdown()
        if args.synthetic:
            meters, bridge, otlp = wire(rt, "synthetic", synthetic(args.synthetic), cfg, "go")
            clock.advance(settings.tick_s)
            rt.step()
            meters.samples()
            try:
                prom = [timed(bridge.render)]
            except MetricsTimeoutError:  # InMemoryMetricReader.get_metrics_data() collects with a 10 s timeout
                prom = []
                print("synthetic: the Prometheus render timed out (the SDK's 10 s collection timeout)")
            push = [timed(lambda: otlp.collect(timeout_millis=600_000))]
            s = otlp.stats()
            row("synthetic", s["sent"], prom, push, [],
                f"{s['requests']}, {s['bytes_per_point']:.0f}; max request {s['max_request_bytes'] / 2**20:.2f} MiB")
            meters.shutdown()
        rt.stop()
    finally:
        rx.terminate()
        rx.wait(10)


if __name__ == "__main__":
    main()

"""`otelmock run` with OTLP switched on by its settings pushes to a real OTLP gRPC receiver."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.bridge.otlp_receiver import Receiver
from tests.integration.conftest import free_port, wait_http


def test_run_pushes_metrics_over_otlp() -> None:
    rx = Receiver(free_port()).start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTELMOCK_", "OTEL_"))}
    env.update(OTELMOCK_BIND="127.0.0.1", OTELMOCK_EXPORTERS="node,dcgm", OTELMOCK_PORTS__CONTROL=str(free_port()),
               OTELMOCK_PORTS__NODE=str(port),
               OTELMOCK_PORTS__DCGM=str(free_port()), OTELMOCK_OTLP__ENABLED="true",
               OTELMOCK_OTLP__ENDPOINT=rx.endpoint, OTELMOCK_OTLP__INTERVAL_S="1", OTELMOCK_LOGS__ENABLED="false")
    proc = subprocess.Popen([sys.executable, "-m", "otelmock", "run"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout_s=60, proc=proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(list(rx.metric_points())) < 2000:
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        rx.stop()
    points = list(rx.metric_points())
    assert len(points) >= 2000  # node's ~2600 and dcgm's ~350 points arrive within seconds
    assert proc.returncode == 0

"""`otelmock run` as a process: SIGHUP reloads (a bad file is rejected and the old one stays), SIGTERM stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.conftest import free_port, get, wait_http


def test_reload_and_graceful_stop(tmp_path: Path) -> None:
    scen = tmp_path / "scenarios"
    scen.mkdir()
    (scen / "custom.yaml").write_text("name: custom\nparams:\n  serving.error_rate: 0.01\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTELMOCK_")}
    env.update(OTELMOCK_BIND="127.0.0.1", OTELMOCK_PORTS__NODE=str(port), OTELMOCK_EXPORTERS="node",
               OTELMOCK_PORTS__CONTROL=str(free_port()), OTELMOCK_LOGS__ENABLED="false",
               OTELMOCK_SCENARIO="custom", OTELMOCK_SCENARIOS_DIR=str(scen))
    proc = subprocess.Popen([sys.executable, "-m", "otelmock", "run"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout_s=60, proc=proc)
        (scen / "custom.yaml").write_text("name: custom\nparams:\n  serving.error_rate: 7\n")  # out of bounds
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert get(f"http://127.0.0.1:{port}/metrics").startswith(b"# HELP go_gc_duration_seconds")
        (scen / "custom.yaml").write_text("name: custom\nparams:\n  serving.error_rate: 0.2\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
        assert time.monotonic() - started < 5 and proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "reload rejected, the previous configuration stays active" in out and "serving.error_rate: 7" in out
    assert "reloaded configuration and scenarios" in out

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


def test_live_logs_are_written_in_batches_and_the_last_batch_on_sigterm(tmp_path: Path) -> None:
    """`otelmock run` writes every container's json-file log as it runs; SIGTERM writes the lines since the last
    batch and closes the files, so the logs end at the stop, not at the last batch."""
    import json

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTELMOCK_")}
    env.update(OTELMOCK_BIND="127.0.0.1", OTELMOCK_PORTS__NODE=str(port), OTELMOCK_EXPORTERS="node",
               OTELMOCK_PORTS__CONTROL=str(free_port()), OTELMOCK_LOGS__DIR=str(tmp_path / "docker"),
               OTELMOCK_LOGS__WRITE_INTERVAL_S="30")
    proc = subprocess.Popen([sys.executable, "-m", "otelmock", "run"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout_s=60, proc=proc)
        first = time.time()
        deadline = time.monotonic() + 40
        while not list((tmp_path / "docker" / "containers").glob("*/*-json.log")) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)
        stop_t = time.time()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    files = list((tmp_path / "docker" / "containers").glob("*/*-json.log"))
    assert len(files) >= 10
    last = 0.0
    for f in files:
        text = f.read_text()
        assert text.endswith("\n") or not text  # whole lines only (a quiet container may have none yet)
        if not text:
            continue
        times = [json.loads(line)["time"] for line in text.splitlines()]
        assert times == sorted(times)
        last = max(last, max(_unix(t) for t in times))
    assert first - 120 < last and stop_t - 2 <= last <= stop_t + 1  # the final batch reached the stop


def _unix(rfc3339: str) -> float:
    from datetime import datetime

    head, _, frac = rfc3339.rstrip("Z").partition(".")
    return datetime.fromisoformat(head + "+00:00").timestamp() + float(f"0.{frac or 0}")

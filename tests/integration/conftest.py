"""Real programs on 127.0.0.1: the mock itself (as a user starts it), node_exporter, Prometheus, promtool.

The binaries come from Debian's packages (``.ci/run`` installs them). Where one is missing the test is
skipped, unless ``REQUIRE_REAL_TOOLS=1`` (set by CI), where it fails: CI must not pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRE = os.environ.get("REQUIRE_REAL_TOOLS") == "1"
NODE_EXPORTER_FLAGS = ("--collector.systemd", "--collector.processes", "--collector.tcpstat", "--collector.interrupts")


def tool(name: str, *alternatives: str) -> str:
    for candidate in (name, *alternatives):
        found = shutil.which(candidate)
        if found:
            return found
    if REQUIRE:
        pytest.fail(f"{name} is not installed (apt-get install -y prometheus prometheus-node-exporter)")
    pytest.skip(f"{name} is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout_s: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> bytes:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return bytes(r.read())
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{proc.args} exited with {proc.returncode}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        return bytes(r.read())


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


EXPORTERS = ("node", "dcgm", "cadvisor", "litellm", "vllm")


@pytest.fixture(scope="session")
def mock() -> Iterator[dict[str, str]]:
    """``otelmock run`` as a user starts it (every exporter), with only the ports and bind address changed."""
    ports = {name: free_port() for name in EXPORTERS}
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTELMOCK_")}
    env.update(OTELMOCK_BIND="127.0.0.1", OTELMOCK_PORTS__CONTROL=str(free_port()), OTELMOCK_LOGS__ENABLED="false",
               **{f"OTELMOCK_PORTS__{n.upper()}": str(p) for n, p in ports.items()})
    proc = subprocess.Popen([sys.executable, "-m", "otelmock", "run"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for p in ports.values():
            wait_http(f"http://127.0.0.1:{p}/health", timeout_s=60, proc=proc)
        yield {n: f"127.0.0.1:{p}" for n, p in ports.items()}
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def mock_node(mock: dict[str, str]) -> str:
    return mock["node"]


@pytest.fixture(scope="session")
def real_node() -> Iterator[str]:
    binary = tool("prometheus-node-exporter", "node_exporter")
    port = free_port()
    proc = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}", *NODE_EXPORTER_FLAGS],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/metrics", proc=proc)
        yield f"127.0.0.1:{port}"
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory, mock: dict[str, str]) -> Iterator[str]:
    """A real Prometheus scraping every mock exporter every second, one job per exporter (``job="node"`` ...)."""
    binary = tool("prometheus")
    work = tmp_path_factory.mktemp("prometheus")
    cfg = work / "prometheus.yml"
    jobs = "".join(f"  - job_name: {n}\n    static_configs:\n      - targets: ['{addr}']\n" for n, addr in mock.items())
    cfg.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                   "scrape_configs:\n" + jobs)
    port = free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={cfg}", f"--storage.tsdb.path={work / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", timeout_s=30, proc=proc)
        yield f"127.0.0.1:{port}"
    finally:
        _stop(proc)


def promtool_check(text: bytes, tmp: Path) -> set[str]:
    binary = tool("promtool")
    res = subprocess.run([binary, "check", "metrics"], input=text, capture_output=True, check=False)
    return {line.strip() for line in (res.stdout + res.stderr).decode().splitlines() if line.strip()}

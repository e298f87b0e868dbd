"""Scrape time of the mock exporters against the real node_exporter, measured side by side in one run.

    python benchmarks/scrape.py [--scrapes 60] [--exporters node]

Starts ``otelmock run`` and Debian's ``prometheus-node-exporter`` on 127.0.0.1 and, in 2 s cycles,
scrapes like Prometheus (every 2 s at a fixed offset: the mock and the real node_exporter, back to
back), then once at a random moment (cold: that scrape renders the tick's text) and right after it again
(warm: the cached text). Interleaved, so machine noise hits all alike. Prints medians, p90s, the
ratios mock/real and the mock's resident memory.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.conftest import NODE_EXPORTER_FLAGS, free_port, wait_http

PORT_KEYS = {"node": "NODE", "dcgm": "DCGM", "cadvisor": "CADVISOR", "litellm": "LITELLM", "vllm": "VLLM"}


def scrape_ms(url: str) -> tuple[float, int]:
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as r:
        size = len(r.read())
    return (time.perf_counter() - t) * 1000.0, size


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def machine() -> str:
    """The machine a benchmark ran on, for its first line of output."""
    import platform

    cpu = next((x.split(":", 1)[1].strip() for x in Path("/proc/cpuinfo").read_text().splitlines()
                if x.startswith("model name")), platform.processor())
    return f"{cpu}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}"


def summary(xs: list[float]) -> str:
    return f"median {statistics.median(xs):7.2f} ms  p90 {sorted(xs)[int(0.9 * len(xs))]:7.2f} ms"


def render_ms(name: str, count: int) -> list[float]:
    """What a scrape that nobody predicted pays: world tick plus OTel collection plus text, in-process."""
    from otelmock import config
    from otelmock.clock import SimClock
    from otelmock.runtime import Runtime
    from otelmock.scenario.timeline import Timeline
    from otelmock.world.model import World

    settings = config.load(exporters=[name])
    clock = SimClock(time.time())
    rt = Runtime(settings, World(settings, Timeline.constant(settings.scenario, {})), clock)
    out = []
    for _ in range(count):
        clock.advance(settings.tick_s)
        t = time.perf_counter()
        rt.step()
        rt.exporters[name].bridge.render()
        out.append((time.perf_counter() - t) * 1000.0)
    rt.stop()
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scrapes", type=int, default=60)
    ap.add_argument("--exporters", default="node")
    args = ap.parse_args()
    names = args.exporters.split(",")
    binary = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if binary is None:
        sys.exit("needs Debian's prometheus-node-exporter (apt-get install -y prometheus-node-exporter)")
    ports = {n: free_port() for n in names}
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTELMOCK_")}
    env.update(OTELMOCK_BIND="127.0.0.1", OTELMOCK_EXPORTERS=",".join(names), OTELMOCK_PORTS__CONTROL=str(free_port()),
               OTELMOCK_LOGS__ENABLED="false")
    env.update({f"OTELMOCK_PORTS__{PORT_KEYS[n]}": str(p) for n, p in ports.items()})
    mock = subprocess.Popen([sys.executable, "-m", "otelmock", "run"], env=env, stderr=subprocess.DEVNULL)
    real_port = free_port()
    real = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{real_port}", *NODE_EXPORTER_FLAGS],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for p in ports.values():
            wait_http(f"http://127.0.0.1:{p}/health", proc=mock)
        wait_http(f"http://127.0.0.1:{real_port}/metrics", proc=real)
        rss_before = rss_mib(mock.pid)
        kinds = ("regular", "cold", "warm")
        ms: dict[tuple[str, str], list[float]] = {(n, k): [] for n in names for k in kinds}
        real_ms: list[float] = []
        sizes: dict[str, int] = {}
        rng = random.Random(0)
        for _ in range(args.scrapes):
            time.sleep(2.0 - time.time() % 2.0 + 0.37)  # Prometheus-like: every 2 s at a fixed offset
            for n in names:
                took, sizes[n] = scrape_ms(f"http://127.0.0.1:{ports[n]}/metrics")
                ms[(n, "regular")].append(took)
            took, sizes["real"] = scrape_ms(f"http://127.0.0.1:{real_port}/metrics")
            real_ms.append(took)
            time.sleep(1.0 - time.time() % 1.0 + rng.uniform(0.05, 0.6))  # at a random moment of the next tick
            for n in names:
                ms[(n, "cold")].append(scrape_ms(f"http://127.0.0.1:{ports[n]}/metrics")[0])
                ms[(n, "warm")].append(scrape_ms(f"http://127.0.0.1:{ports[n]}/metrics")[0])
        print(f"{args.scrapes} scrapes of each kind, gzip, {os.cpu_count()} cores")
        print(f"real node_exporter          {summary(real_ms)}  ({sizes['real']} bytes gzip)")
        real_median = statistics.median(real_ms)
        for n in names:
            for k in kinds:
                xs = ms[(n, k)]
                print(f"mock {n:9s} {k:8s}      {summary(xs)}  ratio {statistics.median(xs) / real_median:5.2f}")
            print(f"mock {n:9s} size: {sizes[n]} bytes gzip")
        print(f"mock RSS: {rss_before:.1f} MiB after start, {rss_mib(mock.pid):.1f} MiB after the run")
        for n in names:
            print(f"render of one fresh tick in-process ({n}): {summary(render_ms(n, args.scrapes))}")
    finally:
        for proc in (mock, real):
            proc.terminate()
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

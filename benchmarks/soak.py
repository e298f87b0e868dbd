"""Soak: 50 concurrent scrapers on every exporter port for a bounded time, against ``otelmock run``.

    python benchmarks/soak.py [--seconds 60] [--clients 50] [--hosts 1]

Reports per exporter: requests/s, p50/p99 latency, errors; the mock's RSS before and after; and whether
every counter of every scrape of every client stayed monotonic (per client, per series). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.scrape import PORT_KEYS, rss_mib  # noqa: E402
from tests.integration.conftest import free_port, wait_http  # noqa: E402


def counters(text: str) -> dict[str, float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        if fam.type in ("counter", "histogram"):
            for s in fam.samples:
                if s.name.endswith(("_total", "_bucket", "_count")) or fam.type == "counter":
                    out[s.name + repr(sorted(s.labels.items()))] = s.value
    return out


async def client(url: str, until: float, lat: list[float], errors: list[str], check: bool, bad: list[str]) -> None:
    last: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=10) as c:
        while time.monotonic() < until:
            t = time.perf_counter()
            try:
                r = await c.get(url)
                lat.append((time.perf_counter() - t) * 1000)
                if r.status_code != 200:
                    errors.append(str(r.status_code))
                elif check:
                    now = counters(r.text)
                    bad.extend(k for k, v in now.items() if v < last.get(k, 0) and "start" not in k)
                    last = now
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)
            await asyncio.sleep(0.05)


async def soak(ports: dict[str, int], seconds: float, clients: int) -> dict[str, tuple[list[float], list[str], list[str]]]:
    until = time.monotonic() + seconds
    results = {n: ([], [], []) for n in ports}
    tasks = [client(f"http://127.0.0.1:{p}/metrics", until, *results[n][:2], i == 0, results[n][2])
             for n, p in ports.items() for i in range(clients)]
    await asyncio.gather(*tasks)
    return results


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=50)
    args = ap.parse_args()
    ports = {n: free_port() for n in PORT_KEYS}
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTELMOCK_")}
    env.update(OTELMOCK_BIND="127.0.0.1", OTELMOCK_PORTS__CONTROL=str(free_port()), OTELMOCK_LOGS__ENABLED="false", **{f"OTELMOCK_PORTS__{PORT_KEYS[n]}": str(p) for n, p in ports.items()})
    mock = subprocess.Popen([sys.executable, "-m", "otelmock", "run"], env=env, stderr=subprocess.DEVNULL)
    try:
        for p in ports.values():
            wait_http(f"http://127.0.0.1:{p}/health", timeout_s=60, proc=mock)
        for p in ports.values():  # unloaded medians first
            wait_http(f"http://127.0.0.1:{p}/metrics")
        unloaded = {}
        for n, p in ports.items():
            xs = []
            for _ in range(20):
                t = time.perf_counter()
                wait_http(f"http://127.0.0.1:{p}/metrics")
                xs.append((time.perf_counter() - t) * 1000)
            unloaded[n] = statistics.median(xs)
        rss0 = rss_mib(mock.pid)
        res = asyncio.run(soak(ports, args.seconds, args.clients))
        rss1 = rss_mib(mock.pid)
        print(f"{args.clients} clients per port for {args.seconds:.0f} s, {os.cpu_count()} cores")
        for n, (lat, errors, bad) in res.items():
            lat.sort()
            print(f"{n:9s} {len(lat) / args.seconds:7.1f} req/s  p50 {lat[len(lat) // 2]:7.1f} ms  "
                  f"p99 {lat[int(len(lat) * 0.99)]:7.1f} ms  unloaded median {unloaded[n]:6.1f} ms  "
                  f"errors {len(errors)}  counter decreases {len(bad)}")
        print(f"RSS {rss0:.1f} MiB before, {rss1:.1f} MiB after")
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Steady state: CPU (share of one core) and RSS of ``otelmock run`` while Prometheus-like scrapers read every
exporter every 15 s, against the same for the real node_exporter scraped on the same schedule in the same run.

    .venv/bin/python benchmarks/steady.py                      # one host, 5 min measured after 1 min warm-up
    .venv/bin/python benchmarks/steady.py --hosts 10 --minutes 3

Not a test: it prints figures. Container logs are written as `otelmock run` does by default (into a temporary
folder); the CPU figure is the process's user + system time over the measured window divided by its length.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.loadgen import Mock, pct, scrape, start_mock
from benchmarks.scrape import machine
from tests.integration.conftest import NODE_EXPORTER_FLAGS, free_port, wait_http


def real_node() -> Mock | None:
    exe = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if exe is None:
        return None
    port = free_port()
    proc = subprocess.Popen([exe, f"--web.listen-address=127.0.0.1:{port}", *NODE_EXPORTER_FLAGS],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/metrics", proc=proc)
    return Mock(proc, {"real/node": f"127.0.0.1:{port}"})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds scraped before measuring (default 60)")
    ap.add_argument("--interval", type=float, default=15.0)
    ap.add_argument("--processes", type=int, help="otelmock run --processes (default: its own)")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    procs = () if args.processes is None else ("--processes", str(args.processes))
    mock, real = start_mock(args.hosts, args=procs), real_node()
    try:
        targets = {**mock.targets, **(real.targets if real else {})}
        scrape(targets, 1, args.interval, args.warmup)
        cpu0, real0, t0, rss0 = mock.cpu_s(), real.cpu_s() if real else 0.0, time.monotonic(), mock.rss_mib()
        scrapers, _, _ = scrape(targets, 1, args.interval, args.minutes * 60)
        span = time.monotonic() - t0
        cpu, real_cpu = (mock.cpu_s() - cpu0) / span, ((real.cpu_s() - real0) / span if real else float("nan"))
        ours = [x for s in scrapers if not s.target.startswith("real/") for x in s.lat_ms]
        theirs = [x for s in scrapers if s.target.startswith("real/") for x in s.lat_ms]
        errors = sum(len(s.errors) for s in scrapers)
        print(f"otelmock run ({args.hosts} host{'s' * (args.hosts > 1)}, {len(mock.targets)} targets, logs on), "
              f"every target scraped every {args.interval:g} s for {span:.0f} s:")
        print(f"  CPU {100 * cpu:.2f}% of one core; RSS {rss0:.0f} -> {mock.rss_mib():.0f} MiB (PSS "
              f"{mock.pss_mib():.0f} MiB, {len(mock.pids())} process{'es' * (len(mock.pids()) > 1)}); "
              f"scrape p50 {pct(ours, .5):.1f} ms, p99 {pct(ours, .99):.1f} ms; errors {errors}")
        if real:
            print(f"  real node_exporter on the same schedule: CPU {100 * real_cpu:.2f}% of one core, RSS "
                  f"{real.rss_mib():.0f} MiB, scrape p50 {pct(theirs, .5):.1f} ms -> otelmock/node_exporter CPU "
                  f"{cpu / max(real_cpu, 1e-9):.1f}x for {len(mock.targets)} exporters against one")
    finally:
        mock.stop()
        if real:
            real.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

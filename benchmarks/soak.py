"""Soak: 50 concurrent scrapers on every exporter port of ``otelmock run`` for a bounded time.

    .venv/bin/python benchmarks/soak.py                                # 1 host, 50 scrapers per port, each every 1 s
    .venv/bin/python benchmarks/soak.py --hosts 10 --interval 15       # the 10-host fleet, 2,500 scrapers
    .venv/bin/python benchmarks/soak.py --wrk 20                       # also wrk -c50 on every port at once, 20 s

Scrapers behave like Prometheus servers (benchmarks/loadgen.py): keep-alive, gzip, each on its own schedule, open
loop, so latency is what a scraper sees and not the length of a queue the load tool builds itself. Reports per
exporter: requests/s, p50/p99 latency against the unloaded median (the same client, one scraper per port, first),
errors; the mock's RSS before and after; and counter decreases over every scrape of every scraper.
``--wrk`` adds Debian's wrk (closed loop: 50 connections per port, as fast as they go) for the capacity ceiling.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.loadgen import counter_decreases, pct, scrape, start_mock
from benchmarks.scrape import machine


def wrk(targets: dict[str, str], seconds: float) -> dict[str, str]:
    """wrk -t1 -c50 on every target at once; its requests/s and latency percentiles per target."""
    exe = shutil.which("wrk")
    if exe is None:
        return {t: "wrk not installed (apt-get install -y wrk)" for t in targets}
    procs = {t: subprocess.Popen([exe, "-t1", "-c50", f"-d{seconds:.0f}s", "--latency", "-H", "Accept-Encoding: gzip",
                                  f"http://{a}/metrics"], stdout=subprocess.PIPE, text=True)
             for t, a in targets.items()}
    out = {}
    for t, p in procs.items():
        text = p.communicate()[0]
        rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
        p50, p99 = (re.search(rf"\s{q}%\s+(\S+)", text) for q in ("50", "99"))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", text)
        out[t] = (f"{float(rps.group(1)) if rps else 0:7.1f} req/s  p50 {p50.group(1) if p50 else '?':>8}  "
                  f"p99 {p99.group(1) if p99 else '?':>8}  {errors.group(0) if errors else 'no errors'}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=1)
    ap.add_argument("--clients", type=int, default=50, help="scrapers per exporter port (default 50)")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between a scraper's scrapes (default 1)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--wrk", type=float, default=0.0, help="then wrk on every port at once for this long")
    ap.add_argument("--warmup", type=float, help="seconds of the soak before its steady state (default: three "
                    "intervals and two ticks, in which the mock learns the scrapers' schedule and starts rendering "
                    "ahead)")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    mock = start_mock(args.hosts, logs=True)
    try:
        # unloaded: one scraper per port on the soak's schedule (a fleet scraped every second would be a load)
        base, _, _ = scrape(mock.targets, 1, args.interval, max(10.0, 2 * args.interval))
        rss0, t0, cpu0, own0 = mock.rss_mib(), time.monotonic(), mock.cpu_s(), time.process_time()
        scrapers, bodies, rss = scrape(mock.targets, args.clients, args.interval, args.seconds, mock.rss_mib)
        span, rss1 = time.monotonic() - t0, mock.rss_mib()
        cpu, own = (mock.cpu_s() - cpu0) / span, (time.process_time() - own0) / span
        n = len(scrapers)
        print(f"{args.hosts} host(s), {len(mock.targets)} ports x {args.clients} scrapers = {n}, each every "
              f"{args.interval:g} s for {span:.0f} s ({n / args.interval:.0f} scrapes/s offered); CPU: the mock "
              f"{100 * cpu:.0f}%, the scrapers {100 * own:.0f}% of one core (of {os.cpu_count()})")
        exporters = sorted({t.split("/", 1)[1] for t in mock.targets})
        steady = t0 + (3 * args.interval + 2 if args.warmup is None else args.warmup)
        print(f"  latency over the whole soak, then (steady) after the first {steady - t0:.0f} s:")
        for e in exporters:
            mine = [s for s in scrapers if s.target.endswith("/" + e)]
            lat = [x for s in mine for x in s.lat_ms]
            late = [x for s in mine for x, at in zip(s.lat_ms, s.at, strict=True) if at >= steady]
            unloaded = [x for s in base if s.target.endswith("/" + e) for x in s.lat_ms]
            errors = sum(len(s.errors) for s in mine)
            med = pct(unloaded, 0.5)
            print(f"  {e:9s} {len(lat) / span:7.1f} req/s  p50 {pct(lat, .5):6.1f} ms  p99 {pct(lat, .99):6.1f} ms "
                  f"({pct(lat, .99) / med:5.1f}x)  steady p99 {pct(late, .99):6.1f} ms ({pct(late, .99) / med:5.1f}x)  "
                  f"unloaded p50 {med:5.1f} ms  errors {errors}")
        decreases, examples = counter_decreases(scrapers, bodies)
        scrapes = sum(len(s.lat_ms) for s in scrapers)
        print(f"  counters: {decreases} decreases over {scrapes} scrapes ({len(bodies)} distinct bodies)"
              + "".join(f"\n    {x}" for x in examples))
        print(f"  RSS {rss0:.0f} MiB before, {rss1:.0f} MiB after; during: {' '.join(f'{x:.0f}' for x in rss)}"
              f"; PSS after {mock.pss_mib():.0f} MiB ({len(mock.pids())} processes)")
        if args.wrk:
            targets = mock.targets if args.hosts == 1 else {t: a for t, a in mock.targets.items() if t[0] == "0"}
            print(f"wrk -t1 -c50 -d{args.wrk:.0f}s on {len(targets)} ports at once (closed loop: the ceiling):")
            for t, line in wrk(targets, args.wrk).items():
                print(f"  {t.split('/', 1)[1]:9s} {line}")
            print(f"  RSS after wrk {mock.rss_mib():.0f} MiB")
    finally:
        mock.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fleet benchmark: series served per second of scrape time, each host's scrape time and the process RSS at
1, 10 and 50 hosts (every exporter of every host rendered in-process, through the OTel SDK as `run` serves it).

    .venv/bin/python benchmarks/fleet.py                 # 1, 10, 50 hosts
    .venv/bin/python benchmarks/fleet.py --sizes 1,5 --scrapes 3

Not a test: it prints figures. Each round advances the simulated clock by one 15 s scrape interval, so every scrape
reads a tick that has not been computed yet (the world step is part of the first exporter's scrape of a host, as in
serving). Hosts are added to one fleet as it grows, so RSS is the whole process at that size. Building a host
computes its history since its last boot (reported apart: it is the start-up cost of `otelmock run --hosts N`).
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scrape import machine
from otelmock import config, fleet
from otelmock.clock import SimClock
from otelmock.runtime import Runtime
from otelmock.scenario.loader import discover
from otelmock.scenario.timeline import Timeline
from otelmock.world.model import World


def status(key: str) -> float:
    """A /proc/self/status field in MB (VmRSS: resident now, VmHWM: peak resident)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,10,50")
    ap.add_argument("--scrapes", type=int, default=3, help="scrape rounds per size (default 3)")
    args = ap.parse_args()
    sizes = sorted(int(x) for x in args.sizes.split(","))
    print(f"machine: {machine()}")
    settings = config.load()
    scenarios = discover()
    params = {**scenarios[settings.scenario].params, **settings.params}
    clock = SimClock(time.time() // 15 * 15)
    hosts: list[Runtime] = []
    build: list[float] = []
    print(f"{'hosts':>5} {'series':>9} {'scrape/host ms':>15} {'max ms':>7} {'series/s':>10} {'RSS MB':>7} "
          f"{'peak MB':>8} {'build s/host':>12}")
    for n in sizes:
        while len(hosts) < n:  # the same construction as fleet.build_fleet, one host at a time
            s = fleet.host_settings(settings, len(hosts))
            c = time.perf_counter()
            hosts.append(Runtime(s, World(s, Timeline.constant(s.scenario, params)), clock, scenarios))
            build.append(time.perf_counter() - c)
        per_host: list[float] = []
        series = 0
        for _ in range(args.scrapes):
            clock.advance(15.0)
            for rt in hosts:
                c = time.perf_counter()
                bodies = [exp.bridge.render_gzip() for exp in rt.exporters.values()]  # what a scrape gets
                per_host.append(time.perf_counter() - c)
                if len(per_host) <= len(hosts):  # count once per size
                    series += sum(1 for b in bodies for line in gzip.decompress(b).split(b"\n")
                                  if line and not line.startswith(b"#"))
        total = sum(per_host)
        rate = series * args.scrapes / total
        print(f"{n:>5} {series:>9,} {1000 * statistics.mean(per_host):>15.0f} {1000 * max(per_host):>7.0f} "
              f"{rate:>10,.0f} {status('VmRSS'):>7.0f} {status('VmHWM'):>8.0f} {statistics.mean(build):>12.1f}")
    for rt in hosts:
        rt.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Backfill benchmark: samples per second written, the week it projects to, and promtool's own import time.

    .venv/bin/python benchmarks/backfill.py                       # 2 h of every exporter at 15 s, then promtool
    .venv/bin/python benchmarks/backfill.py --hours 24 --exporters node --workers 2
    .venv/bin/python benchmarks/backfill.py --breakdown           # CPU per step: one at a time beside runs of steps
    .venv/bin/python benchmarks/backfill.py --hours 168 --workers 2 --tsdb-only   # a real week, blocks only
    .venv/bin/python benchmarks/backfill.py --scenario degraded --breakdown --hours 1   # runs in a crash loop

Not a test: it prints figures (and the machine they ran on). A week of one host at 15 s is 40,321 steps; the
projection multiplies the measured steady rate (the first step, which computes the host's history since its last
boot, is reported apart).
"""

from __future__ import annotations

import argparse
import io
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scrape import machine
from otelmock import backfill as bf
from otelmock import config
from otelmock.exporters import EXPORTERS
from otelmock.exporters.base import Process
from otelmock.scenario.loader import discover
from otelmock.world.model import World

WEEK_STEPS = 7 * 86_400 // 15 + 1


def breakdown(settings: config.Settings, exporters: list[str], t0: float, steps: int) -> None:
    """CPU milliseconds per step: one step at a time (the world snapshot and each exporter's family table, as a live
    scrape computes them) beside runs of steps computed at once (what ``backfill`` does), measured in one process."""
    timeline = bf.schedule(settings.scenario, discover(), t0, settings.params)
    world = World(settings, timeline)
    c = time.process_time()
    world.snapshot(world.tick_at(t0))
    print(f"  first step (history since boot): {time.process_time() - c:.1f} s CPU")
    tables = {e: EXPORTERS[e].families(settings) for e in exporters}
    cost = dict.fromkeys(["world snapshot", *exporters], 0.0)
    proc = Process(start_time=t0)
    for i in range(1, steps + 1):
        c = time.process_time()
        snap = world.snapshot(world.tick_at(t0 + 15 * i))
        cost["world snapshot"] += time.process_time() - c
        for e, fams in tables.items():
            c = time.process_time()
            for f in fams:
                list(f.points(snap, proc))
            cost[e] += time.process_time() - c
    print("  one step at a time:")
    for k, v in cost.items():
        print(f"    {k:15s} {1000 * v / steps:7.2f} ms CPU per step")
    single = sum(cost.values()) / steps
    print(f"    {'total':15s} {1000 * single:7.2f} ms CPU per step")
    sources = bf._plan(settings, tuple(exporters), bf.target_labels(settings, exporters))
    worker = bf._Worker(settings, timeline, sources, t0, 15.0)
    chunks = bf._chunks(4 * 240 + 1, t0, 15.0, settings.tick_s)[1:]  # whole world blocks after the first
    worker.chunk(chunks[0])  # warm: the ledger up to the block
    worker.fallbacks = 0
    c = time.process_time()
    done = sum(worker.chunk(b)[3].shape[1] for b in chunks[1:])
    runs = (time.process_time() - c) / done
    print(f"  runs of steps ({done} steps in {len(chunks) - 1} runs, {worker.fallbacks} family-steps one at a time): "
          f"{1000 * runs:.2f} ms CPU per step, {single / runs:.0f}x less than one at a time")
    print(f"  -> {runs * WEEK_STEPS / 60:.1f} min CPU for a week at 15 s (one at a time: "
          f"{single * WEEK_STEPS / 60:.1f} min)")


def tsdb_only(settings: config.Settings, exporters: list[str], t0: float, t_end: float, step: float, workers: int,
              where: str | None) -> None:
    """The whole range with ``--tsdb-dir`` only, as ``otelmock backfill --tsdb-dir`` runs it (a week: --hours 168)."""
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        c = time.perf_counter()
        st = bf.backfill(settings, discover(), t0, t_end, step, None, exporters, workers=workers,
                         tsdb_dir=str(Path(tmp) / "blocks"))
        wall = time.perf_counter() - c
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(f"--tsdb-dir: {st.samples:,} samples of {st.series:,} series over {st.steps:,} steps in {wall:.1f} s wall "
          f"({st.samples / wall:,.0f} samples/s); blocks written in {st.writing_s:.1f} s, all but "
          f"{st.write_s:.1f} s of it while computing; {size / 1e6:,.0f} MB on disk; peak RSS of one process "
          f"{peak / 1024:,.0f} MiB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--step", type=float, default=15.0)
    ap.add_argument("--exporters", default="all")
    ap.add_argument("--scenario", default=None, help="held throughout (default: the 'scenario' setting)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--dir", default=None, help="where to write the file and blocks (default: a temporary folder)")
    ap.add_argument("--no-promtool", action="store_true")
    ap.add_argument("--breakdown", action="store_true", help="CPU per step of the world and of each exporter")
    ap.add_argument("--tsdb-only", action="store_true", help="only the --tsdb-dir path, over the whole range")
    args = ap.parse_args()
    exporters = list(EXPORTERS) if args.exporters == "all" else args.exporters.split(",")
    settings = config.load(None, None, **({"scenario": args.scenario} if args.scenario else {}))
    print(f"machine: {machine()}")
    print(f"exporters: {', '.join(exporters)}; {args.hours:g} h at {args.step:g} s; workers {args.workers}; "
          f"scenario {settings.scenario}")
    t_end = time.time() // args.step * args.step
    t0 = t_end - args.hours * 3600
    if args.breakdown:
        breakdown(settings, exporters, t0, 40)
    if args.tsdb_only:
        tsdb_only(settings, exporters, t0, t_end, args.step, args.workers, args.dir)
        return 0
    warm = io.StringIO()
    c = time.perf_counter()
    bf.backfill(settings, discover(), t0, t0, args.step, warm, exporters)
    first = time.perf_counter() - c
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "backfill.om"
        with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
            c = time.perf_counter()
            st = bf.backfill(settings, discover(), t0, t_end, args.step, out, exporters, workers=args.workers)
            wall = time.perf_counter() - c
        size = path.stat().st_size
        steady = max(wall - first, 1e-9)  # each run computes the history since boot once (per worker)
        print(f"backfill: {st.steps} steps x {st.series} series = {st.samples:,} samples, {size / 1e6:,.0f} MB "
              f"({size / st.samples:.0f} B/sample)")
        print(f"  first step alone (history since boot): {first:.1f} s")
        print(f"  compute {st.compute_s:.1f} s + write {st.write_s:.1f} s = {wall:.1f} s wall; "
              f"{st.samples / wall:,.0f} samples/s ({st.samples / steady:,.0f} samples/s without the first step)")
        week = st.samples / st.steps * WEEK_STEPS
        print(f"  a week at 15 s: {week / 1e6:,.0f} M samples, ~{week * size / st.samples / 1e9:,.0f} GB of text, "
              f"~{(first + week / (st.samples / steady)) / 60:,.1f} min at this rate")
        took = None
        if not args.no_promtool and shutil.which("promtool"):
            took = bf.run_promtool(str(path), str(Path(tmp) / "blocks"), t_end - t0)
            print(f"promtool tsdb create-blocks-from openmetrics: {took:.1f} s ({st.samples / took:,.0f} samples/s)")
        path.unlink()
        c = time.perf_counter()
        direct = bf.backfill(settings, discover(), t0, t_end, args.step, None, exporters, workers=args.workers,
                             tsdb_dir=str(Path(tmp) / "direct"))
        wall_d = time.perf_counter() - c
        print(f"--tsdb-dir (each block written while later steps are computed): {wall_d:.1f} s wall; blocks "
              f"written in {direct.writing_s:.1f} s ({direct.samples / direct.writing_s:,.0f} samples/s"
              + (f", {took / direct.writing_s:.0f}x promtool's import" if took else "") + ")")
        w_direct = first + (wall_d - first) / max(direct.steps - 1, 1) * WEEK_STEPS
        print(f"  a week at 15 s, projected: ~{w_direct / 60:,.1f} min (measure it: --hours 168 --workers 2 "
              f"--tsdb-only), against ~{(first + week / (st.samples / steady)) / 60:,.1f} min of text"
              + (f" + ~{week / (st.samples / took) / 60:,.0f} min of promtool" if took else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

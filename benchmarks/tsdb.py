"""TSDB block writer benchmark: samples per second of ``otelmock.tsdb.write_blocks`` against promtool.

    .venv/bin/python benchmarks/tsdb.py                        # 2,000 series x 40,321 steps (a week at 15 s)
    .venv/bin/python benchmarks/tsdb.py --series 9700          # one host's week: 391 M samples, writer only
    .venv/bin/python benchmarks/tsdb.py --promtool-steps 5760  # promtool on the first day only (quicker)
    .venv/bin/python benchmarks/tsdb.py --no-promtool

Not a test: it prints figures (and the machine they ran on). The data imitates a host's exporters: constant
series (info metrics, limits), integer counters, noisy gauges at full and at rounded precision, float counters
(CPU seconds), histogram buckets, and a few series absent for stretches (containers restarting). promtool gets
the same samples as OpenMetrics text and runs as ``otelmock backfill`` runs it (``backfill.run_promtool``);
writing that text is not timed. The ratio is promtool's wall time over the writer's for the same steps (the
writer uses one core, promtool all of them).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scrape import machine, rss_mib
from otelmock import backfill as bf
from otelmock.tsdb import write_blocks

ABSENT = 0x7FF0_0000_DEAD_0001  # a NaN payload no exporter produces
STEP_MS = 15_000


def realistic(series: int, steps: int, seed: int = 1) -> tuple[list[dict[str, str]], np.ndarray, np.ndarray]:
    """Labels, times and values of ``series`` series over ``steps`` steps of 15 s (absent samples: ABSENT)."""
    rng = np.random.default_rng(seed)
    t0 = 1_767_225_600_000  # 2026-01-01, a block boundary
    times = t0 + STEP_MS * np.arange(steps, dtype=np.int64)
    values = np.empty((series, steps))
    labels: list[dict[str, str]] = []
    kinds = rng.choice(6, size=series, p=[0.2, 0.2, 0.15, 0.15, 0.1, 0.2])
    s = 0
    while s < series:
        kind = int(kinds[s])
        base = {"instance": "gpu-01:9100", "job": ["node", "dcgm", "cadvisor", "vllm"][s % 4]}
        if kind == 5:  # a histogram: 12 cumulative buckets of one observation stream
            n = min(12, series - s)
            obs = rng.poisson(rng.uniform(0.1, 20), size=steps)
            share = np.sort(rng.uniform(size=n))
            share[-1] = 1.0
            total = np.cumsum(obs)
            for b in range(n):
                values[s + b] = np.floor(total * share[b])
                labels.append({**base, "__name__": "request_duration_seconds_bucket", "le": f"{0.005 * 2**b:g}",
                               "handler": f"/h{s}"})
            s += n
            continue
        if kind == 0:  # constant, now and then a new value
            v = np.full(steps, float(rng.integers(0, 1 << 40)))
            for at in rng.integers(0, steps, size=rng.integers(0, 3)):
                v[at:] = float(rng.integers(0, 1 << 20))
            name = "node_info_limit"
        elif kind == 1:  # integer counter
            v = np.cumsum(rng.poisson(rng.uniform(0.01, 500), size=steps)).astype(np.float64)
            name = "node_network_receive_packets_total"
        elif kind == 2:  # noisy gauge, full precision
            v = rng.normal(rng.uniform(10, 1e4), rng.uniform(0.1, 50), size=steps)
            name = "dcgm_gpu_power_watts"
        elif kind == 3:  # gauge at a fixed resolution
            v = np.round(rng.normal(60, 5, size=steps), 1)
            name = "dcgm_gpu_temp_celsius"
        else:  # float counter at 0.01 s resolution
            v = np.round(np.cumsum(rng.uniform(0, 15, size=steps)), 2)
            name = "node_cpu_seconds_total"
        values[s] = v
        labels.append({**base, "__name__": name, "series": str(s)})
        s += 1
    bits = values.view(np.uint64)
    for row in rng.choice(series, size=max(1, series // 50), replace=False):  # restarts: absent a few minutes
        for at in rng.integers(0, steps, size=rng.integers(1, 4)):
            bits[row, at : at + rng.integers(4, 40)] = ABSENT
    return labels, times, values


def _text(v: float) -> str:
    if v != v:
        return "NaN"
    return repr(v) if abs(v) != float("inf") else ("+Inf" if v > 0 else "-Inf")


def openmetrics(path: Path, labels: list[dict[str, str]], times: np.ndarray, values: np.ndarray) -> int:
    """The samples as OpenMetrics text for promtool; returns the number of samples."""
    secs = [f"{t // 1000}.{t % 1000:03d}" for t in times.tolist()]
    count = 0
    with open(path, "w") as f:
        for lset, row in zip(labels, values, strict=True):
            rest = ",".join(f'{k}="{v}"' for k, v in sorted(lset.items()) if k != "__name__")
            head = f"{lset['__name__']}{{{rest}}} "
            present = row.view(np.uint64) != ABSENT
            f.writelines(f"{head}{_text(v)} {secs[i]}\n" for i, v in zip(np.flatnonzero(present).tolist(),
                                                                         row[present].tolist(), strict=True))
            count += int(present.sum())
        f.write("# EOF\n")
    return count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=7 * 86_400 // 15 + 1)
    ap.add_argument("--promtool-steps", type=int, default=None, help="give promtool only the first N steps")
    ap.add_argument("--no-promtool", action="store_true")
    ap.add_argument("--dir", default=None, help="where to write (default: a temporary folder)")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    labels, times, values = realistic(args.series, args.steps)
    samples = int((values.view(np.uint64) != ABSENT).sum())
    print(f"data: {args.series} series x {args.steps} steps at 15 s, {samples / 1e6:.1f} M samples")
    work = Path(args.dir or tempfile.mkdtemp(prefix="otelmock-tsdb-"))
    try:
        before = rss_mib(os.getpid())
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS to the current size
        t = time.perf_counter()
        blocks = write_blocks(work / "ours", labels, times, values, absent_bits=ABSENT)
        took = time.perf_counter() - t
        size = sum(f.stat().st_size for b in blocks for f in b.rglob("*") if f.is_file())
        print(f"write_blocks: {took:.1f} s, {samples / took / 1e6:.1f} M samples/s, {len(blocks)} blocks, "
              f"{size / samples:.2f} bytes/sample; memory: {before:.0f} MiB before (the input), "
              f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        print(f"  a host's week (391 M samples) at this rate: {391e6 / (samples / took):.0f} s")
        if args.no_promtool or shutil.which("promtool") is None:
            return 0
        steps = min(args.promtool_steps or args.steps, args.steps)
        if steps < args.steps:  # the writer again, on exactly what promtool gets
            t = time.perf_counter()
            write_blocks(work / "ours-part", labels, times[:steps], values[:, :steps], absent_bits=ABSENT)
            took = time.perf_counter() - t
        om = work / "samples.om"
        n = openmetrics(om, labels, times[:steps], values[:, :steps])
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = bf.run_promtool(str(om), str(work / "promtool"), steps * STEP_MS / 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
        print(f"promtool tsdb create-blocks-from openmetrics ({om.stat().st_size / 2**30:.1f} GiB of text): "
              f"{p:.1f} s ({cpu_s:.0f} s CPU on {os.cpu_count()} CPUs) for {n / 1e6:.1f} M samples, "
              f"{n / p / 1e6:.2f} M samples/s")
        print(f"write_blocks on the same: {took:.1f} s; promtool / write_blocks = {p / took:.0f}x")
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

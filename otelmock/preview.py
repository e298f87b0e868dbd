"""Preview: a PNG of a simulated day or week of the key signals, sampled straight from the world.

``otelmock preview --scenario high_load --days 1 --out day.png`` draws, per 5-minute step (``--step``): GPU
utilisation, power and temperature per GPU; requests per second, mean latency and error rate per model; host CPU and
memory; vLLM KV-cache usage. Rates and means are what PromQL's ``rate()`` over the step would show (counter resets
read as gaps). Drawing uses Pillow only (the optional ``preview`` extra), at twice the size and then downsampled so
lines are smooth.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from otelmock.config import Settings
from otelmock.errors import ConfigError
from otelmock.scenario.timeline import Timeline
from otelmock.world.host import CPU_MODES
from otelmock.world.model import World
from otelmock.world.snapshot import Snapshot

if TYPE_CHECKING:
    from PIL import ImageDraw

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
S = 2  # drawing scale (downsampled at the end)


@dataclass
class Panel:
    title: str
    unit: str
    series: dict[str, np.ndarray]   # legend name -> values per step (NaN: gap)
    legend: str                     # "gpu" | "model" | "own"
    zero: bool = True               # the y axis starts at 0


def _rate(a: np.ndarray, dt: float) -> np.ndarray:
    d = np.diff(a, axis=0, prepend=np.nan)
    return np.where(d >= 0, d / dt, np.nan)  # a counter reset (restart, reboot) is a gap, as rate() would skip it


def sample(world: World, start_t: float, days: float, step_s: float) -> tuple[np.ndarray, list[Panel], list[str]]:
    """Times, the panels and the model names of a simulated range (one snapshot per step)."""
    times = start_t + step_s * np.arange(int(days * 86_400 / step_s) + 1)
    snaps: list[Snapshot] = [world.snapshot(world.tick_at(t)) for t in times]
    gpus = [g.index for g in snaps[0].gpus]
    servers = [v.container for v in snaps[0].vllm]
    groups = [m.model_group for m in snaps[0].litellm]

    vllm = [{v.container: v for v in s.vllm} for s in snaps]
    lite = [{m.model_group: m for m in s.litellm} for s in snaps]

    def gpu(key: str) -> dict[str, np.ndarray]:
        by = [{g.index: g.values.get(key, np.nan) for g in s.gpus if g.present} for s in snaps]
        return {f"GPU {i}": np.array([b.get(i, np.nan) for b in by]) for i in gpus}

    def counter(prefix: str) -> np.ndarray:  # LiteLLM counters per model group, summed over keys with this prefix
        return np.array([[sum(v for k, v in m[g].counters.items() if k.startswith(prefix)) for g in groups]
                         for m in lite])

    def hist(what: str) -> np.ndarray:
        e2e = [[getattr(v[c].histograms["e2e_request_latency_seconds"], what) for c in servers] for v in vllm]
        return np.array(e2e, dtype=float)

    reqs = counter("requests")
    fails = {"all": counter("failures:"), "5xx": counter("failures:5"), "429": counter("failures:429")}
    kv = np.array([[v[c].gauges.get("kv_cache_usage_perc", np.nan) for c in servers] for v in vllm])
    lat_sum, lat_n = hist("sum"), hist("count")
    cpu = np.array([s.host.cpu_seconds.sum(axis=0) for s in snaps])
    busy = 1 - _rate(cpu[:, CPU_MODES.index("idle")], 1) / _rate(cpu.sum(axis=1), 1)
    iowait = _rate(cpu[:, CPU_MODES.index("iowait")], 1) / _rate(cpu.sum(axis=1), 1)
    mem = {k: np.array([s.host.memory[k] for s in snaps]) for k in ("MemTotal", "MemAvailable", "Cached", "Buffers")}
    req_rate = _rate(reqs, step_s)
    with np.errstate(invalid="ignore", divide="ignore"):
        latency = _rate(lat_sum, 1) / _rate(lat_n, 1)
        err_pct = {k: 100 * _rate(v.sum(axis=1), 1) / _rate(reqs.sum(axis=1), 1) for k, v in fails.items()}
    short = [c.removeprefix("vllm-") for c in servers]
    by_server = {g: short[servers.index(c)] for m in snaps[0].litellm for g in (m.model_group,) for c in m.containers
                 if c in servers}
    model_names = short
    col = {g: by_server.get(g, g) for g in groups}  # LiteLLM model groups named like the vLLM server behind them
    panels = [
        Panel("GPU utilisation", "%", gpu("util_pct"), "gpu"),
        Panel("GPU power", "W", gpu("power_w"), "gpu"),
        Panel("GPU temperature", "°C", gpu("gpu_temp_c"), "gpu", zero=False),
        Panel("Requests per second (LiteLLM)", "req/s", {col[g]: req_rate[:, j] for j, g in enumerate(groups)},
              "model"),
        Panel("Mean request latency (vLLM e2e)", "s", {n: latency[:, j] for j, n in enumerate(short)}, "model"),
        Panel("Errors (LiteLLM, all models)", "%", err_pct, "own"),
        Panel("Host CPU", "%", {"busy": 100 * busy, "iowait": 100 * iowait}, "own"),
        Panel("Host memory", "GiB", {"used": (mem["MemTotal"] - mem["MemAvailable"]) / 2**30,
                                     "page cache": (mem["Cached"] + mem["Buffers"]) / 2**30}, "own"),
        Panel("vLLM KV-cache usage", "%", {n: 100 * kv[:, j] for j, n in enumerate(short)}, "model"),
    ]
    return times, panels, model_names


# --- drawing ---------------------------------------------------------------------------------------------------------
def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi):
        lo, hi = 0.0, 1.0
    if hi - lo < 1e-9:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [step * k for k in range(math.floor(lo / step), math.ceil(hi / step) + 1)]


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 or v == int(v) else f"{v:.2g}" if abs(v) < 1 else f"{v:.1f}"


def _time_ticks(t0: float, t1: float) -> list[tuple[float, str]]:
    span = t1 - t0
    step = 3 * 3600 if span <= 1.5 * 86_400 else 86_400 if span <= 10 * 86_400 else 7 * 86_400
    first = math.ceil(t0 / step) * step
    fmt = "%H:%M" if step < 86_400 else "%a %d"
    return [(t, datetime.fromtimestamp(t, UTC).strftime(fmt)) for t in np.arange(first, t1 + 1, step)]


def _panel(d: ImageDraw.ImageDraw, box: tuple[int, int, int, int], p: Panel, times: np.ndarray,
           fonts: Mapping[str, Any], colors: Mapping[str, str]) -> None:
    x0, y0, x1, y1 = box
    d.text((x0, y0), f"{p.title} ({p.unit})", fill="#222", font=fonts["title"])
    top, left, bottom = y0 + 44 * S, x0 + 56 * S, y1 - 24 * S
    vals = np.concatenate([v[np.isfinite(v)] for v in p.series.values()] or [np.zeros(1)])
    lo = 0.0 if vals.size == 0 or p.zero and vals.min() >= 0 else float(vals.min())
    ticks = _nice_ticks(lo, float(vals.max()) if vals.size else 1.0)
    lo, hi = ticks[0], ticks[-1]

    def ypos(v: np.ndarray) -> np.ndarray:
        return bottom - (v - lo) / (hi - lo) * (bottom - top)

    def xpos(t: np.ndarray) -> np.ndarray:
        return left + (t - times[0]) / max(times[-1] - times[0], 1) * (x1 - left)

    for tick in ticks:
        y = float(ypos(np.array(tick)))
        d.line([(left, y), (x1, y)], fill="#e3e3e3", width=S)
        d.text((left - 8, y), _fmt(tick), fill="#555", font=fonts["tick"], anchor="rm")
    for t, label in _time_ticks(times[0], times[-1]):
        x = float(xpos(np.array(t)))
        d.line([(x, top), (x, bottom)], fill="#eeeeee", width=S)
        d.text((x, bottom + 6), label, fill="#555", font=fonts["tick"], anchor="mt")
    d.rectangle((left, top, x1, bottom), outline="#999", width=S)
    xs = xpos(times).tolist()
    for name, series in p.series.items():
        ys = ypos(series)
        runs: list[list[tuple[float, float]]] = [[]]
        for x, y, good in zip(xs, ys.tolist(), np.isfinite(ys).tolist(), strict=True):
            if good:
                runs[-1].append((x, y))
            elif runs[-1]:
                runs.append([])  # a gap: no sample (absent series, counter reset)
        for run in runs:
            if len(run) > 1:
                d.line(run, fill=colors[name], width=2 * S, joint="curve")
    if p.legend == "own":  # right-aligned in the title row
        x = x1
        for name in reversed(list(p.series)):
            x -= int(d.textlength(name, font=fonts["tick"])) + 22 * S
            d.rectangle((x, y0 + 6 * S, x + 14 * S, y0 + 20 * S), fill=colors[name])
            d.text((x + 18 * S, y0 + 13 * S), name, fill="#222", font=fonts["tick"], anchor="lm")
            x -= 12 * S


def render(times: np.ndarray, panels: Sequence[Panel], title: str, path: str, width: int = 1800) -> None:
    """Draw the panels in a 3-column grid with a title and shared legends; write a PNG."""
    from PIL import Image, ImageDraw, ImageFont

    cols, rows = 3, math.ceil(len(panels) / 3)
    w, panel_h, head = width * S, 380 * S, 150 * S
    img = Image.new("RGB", (w, head + rows * panel_h), "white")
    d = ImageDraw.Draw(img)
    fonts = {"head": ImageFont.load_default(size=30 * S), "title": ImageFont.load_default(size=20 * S),
             "tick": ImageFont.load_default(size=15 * S)}
    d.text((30 * S, 20 * S), title, fill="#111", font=fonts["head"])
    colors: dict[str, str] = {}
    y = 75 * S
    for kind, label in (("gpu", "GPUs"), ("model", "Models")):
        names = list(dict.fromkeys(n for p in panels if p.legend == kind for n in p.series))
        colors.update({n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)})
        x = 30 * S
        d.text((x, y), label, fill="#333", font=fonts["title"], anchor="lm")
        x += 90 * S
        for n in names:
            d.rectangle([x, y - 8 * S, x + 16 * S, y + 8 * S], fill=colors[n])
            d.text((x + 22 * S, y), n, fill="#222", font=fonts["tick"], anchor="lm")
            x += 40 * S + int(d.textlength(n, font=fonts["tick"]))
        y += 34 * S
    for p in panels:
        if p.legend == "own":
            colors.update({n: PALETTE[i] for i, n in enumerate(p.series)})
    pw = (w - 40 * S) // cols
    for k, p in enumerate(panels):
        r, c = divmod(k, cols)
        box = (20 * S + c * pw + 10 * S, head + r * panel_h + 10 * S, 20 * S + (c + 1) * pw - 20 * S,
               head + (r + 1) * panel_h - 20 * S)
        _panel(d, box, p, times, fonts, colors)
    small = img.resize((w // S, img.height // S), Image.Resampling.LANCZOS)
    small.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(path, optimize=True)


def preview(settings: Settings, timeline: Timeline, start_t: float, days: float, path: str,
            step_s: float = 300.0) -> None:
    world = World(settings, timeline)
    times, panels, _ = sample(world, start_t, days, step_s)
    when = datetime.fromtimestamp(start_t, UTC).strftime("%Y-%m-%d %H:%M UTC")
    span = f"{days:g} day" + ("s" if days != 1 else "")
    names = " -> ".join(dict.fromkeys(s.name for s in timeline.segments))
    render(times, panels, f"otelmock {names}: {span} from {when}, host {world.ident.hostname}, seed {settings.seed}",
           path)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p = sub.add_parser("preview", parents=[common], help="draw a PNG of a simulated day or week of the key signals")
    p.add_argument("--days", type=float, default=1.0, help="length of the range (default 1)")
    p.add_argument("--start", help="start: Unix seconds or ISO 8601 (default: --days before now)")
    p.add_argument("--step", default="5m", help="sampling step (default 5m)")
    p.add_argument("--out", default="preview.png", help="PNG file to write (default preview.png)")
    return p


def cmd(args: argparse.Namespace) -> int:
    from otelmock.backfill import parse_duration, schedule, settings_for
    from otelmock.cli import parse_time
    from otelmock.scenario.loader import discover

    spec = args.scenario or ""
    settings = settings_for(args)
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise ConfigError("preview needs Pillow: pip install 'otelmock[preview]' (or pillow)") from None
    try:
        step = parse_duration(args.step)
        start = parse_time(args.start) if args.start else time.time() - args.days * 86_400
        start -= start % step
        timeline = schedule(spec or settings.scenario, discover(settings.scenarios_dir), start, settings.params)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise ConfigError(str(exc)) from None
    preview(settings, timeline, start, args.days, args.out, step)
    print(f"preview: wrote {args.out}", file=sys.stderr)
    return 0

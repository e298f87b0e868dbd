"""Serving: requests arrive, queue, run on the GPUs, produce tokens; containers start, load, restart.

Per vLLM container ``c`` and tick (vectorised over a block), with ``a`` the server's activity::

    rate      = base_rpm / 60 * a * serving.rate_scale * (1 + 0.12 noise)        [requests/s, when serving]
    u         = gen_tok/s / gen_capacity + prompt_tok/s / prefill_capacity      [load, 1 = saturated]
    tpot      = tpot_0 * (1 + 2 u^2) * serving.latency_scale                    [s per output token]
    queue     = 0.004 + 30 max(u - 0.7, 0)^2 ; prefill = 0.02 + prompt / prefill_capacity * (1 + 3 u^2)
    e2e       = queue + prefill + gen * tpot ; running = rate * (prefill + decode)  (Little's law)

Latency and size histograms are lognormal around these medians, evaluated once a minute
(:mod:`otelmock.world.ledger`). A container restarts on its own period (phase from the seed): its
counters start again from zero, then it loads its model for ``load_s`` (no traffic, memory rising).
The host's reboots restart every container. GPUs take their load from the containers holding them
and go through the calibrated H200 model (:mod:`otelmock.world.gpu`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from otelmock.scenario.timeline import Timeline
from otelmock.types import FloatArray
from otelmock.world import gpu as h200
from otelmock.world.deployment import INFRA, MODELS, ContainerIdentity, ModelSpec
from otelmock.world.host import activity
from otelmock.world.identity import HostIdentity
from otelmock.world.ledger import Shares, Stream, active_cumsum, lognormal_shares, stream

WINDOW_S = 60.0
MAX_NUM_SEQS = 256
BLOCK_SIZE = 16
REQUEST_LATENCY = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
                   480.0, 960.0, 1920.0, 7680.0)
TTFT = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
        160.0, 640.0, 2560.0)
ITL = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
ITERATION = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
PARAMS_N = (1, 2, 5, 10, 20)
# LiteLLM's LATENCY_BUCKETS (litellm/types/integrations/prometheus.py, 1.110.2)
LITELLM_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 420.0,
                   600.0)
COUNTERS = ("requests", "stop", "length", "abort", "errors", "rate_limited", "prompt_tokens", "generation_tokens",
            "preemptions", "prefix_queries", "prefix_hits", "cpu_user_s", "cpu_system_s", "net_rx_bytes",
            "net_tx_bytes", "net_rx_packets", "net_tx_packets", "fs_read_bytes", "fs_write_bytes", "fs_reads",
            "fs_writes")


LITELLM_COUNTERS = ("stop", "length", "abort", "errors", "rate_limited", "prompt_tokens", "generation_tokens")
LITELLM_ORIGIN = "litellm"  # the container whose start is the origin of LiteLLM's counters ("L:" streams)


def tokens_buckets(max_len: int) -> tuple[float, ...]:
    """vLLM's build_1_2_5_buckets capped at max_model_len."""
    out, mag = [], 1
    while True:
        for m in (1, 2, 5):
            if m * mag > max_len:
                return tuple(float(x) for x in out)
            out.append(m * mag)
        mag *= 10


# histogram: (bounds per model (function), what it counts, median source, sigma)
HISTOGRAMS: dict[str, tuple[object, str, str, float]] = {
    "e2e_request_latency_seconds": (REQUEST_LATENCY, "requests", "e2e", 0.6),
    "time_to_first_token_seconds": (TTFT, "requests", "ttft", 0.5),
    "inter_token_latency_seconds": (ITL, "generation_tokens", "tpot", 0.25),
    "time_per_output_token_seconds": (ITL, "generation_tokens", "tpot", 0.25),
    "request_time_per_output_token_seconds": (ITL, "gen_requests", "tpot", 0.2),
    "request_queue_time_seconds": (REQUEST_LATENCY, "requests", "queue", 0.8),
    "request_inference_time_seconds": (REQUEST_LATENCY, "requests", "inference", 0.6),
    "request_prefill_time_seconds": (REQUEST_LATENCY, "requests", "prefill", 0.5),
    "request_decode_time_seconds": (REQUEST_LATENCY, "requests", "decode", 0.6),
    "request_prompt_tokens": ("tokens", "requests", "prompt", 0.8),
    "request_generation_tokens": ("tokens", "requests", "gen", 0.7),
    "request_params_max_tokens": ("tokens", "requests", "max_tokens", 0.4),
    "request_max_num_generation_tokens": ("tokens", "requests", "max_tokens", 0.4),
    "request_params_n": (PARAMS_N, "requests", "one", 0.01),
    "iteration_tokens_total": (ITERATION, "steps", "step_tokens", 0.6),
    "litellm_request_total_latency_metric": (LITELLM_LATENCY, "requests", "proxy_e2e", 0.6),
    "litellm_llm_api_latency_metric": (LITELLM_LATENCY, "requests", "e2e", 0.6),
    "litellm_llm_api_time_to_first_token_metric": (LITELLM_LATENCY, "requests", "ttft", 0.5),
    "litellm_overhead_latency_metric": (LITELLM_LATENCY, "requests", "overhead", 0.4),
}


_BY_MAX_LEN = {L: [i for i, m in enumerate(MODELS) if m.max_model_len == L] for L in {m.max_model_len for m in MODELS}}


def _shares(name: str, medians: FloatArray, sigma: float, n_all: int) -> Shares:
    """A histogram's cumulative bucket shares for given windows: (n_all, width[, len(w)]), 1 past a model's own
    buckets and for the containers that are not models."""
    width = max(len(hist_bounds(name, m.max_model_len)) for m in MODELS) + 1
    groups = [(np.array([*hist_bounds(name, max_len), np.inf]), rows) for max_len, rows in _BY_MAX_LEN.items()]

    def of(w: int | np.ndarray) -> FloatArray:
        out = np.ones((n_all, width, *np.shape(w)))
        for bounds, rows in groups:
            med = medians[rows][:, w]
            shares = lognormal_shares(bounds, med if np.ndim(w) else med[:, None], sigma)
            out[rows, : len(bounds)] = shares if np.ndim(w) else shares[:, :, 0]
        return out

    return _last_window(of)


def _last_window(of: Shares, keep: int = 4) -> Shares:
    """``of``, remembering the last few single windows asked: a live server asks the current window's shares at
    every tick, and those of the windows where containers started in this block; a backfill's short runs (split
    where containers change) ask the same one or two windows again and again."""
    last: dict[int, FloatArray] = {}

    def cached(w: int | np.ndarray) -> FloatArray:
        if np.ndim(w):  # a run of ticks: its few windows from the cache (elementwise, so the same bits)
            seen, inv = np.unique(w, return_inverse=True)
            if len(seen) > keep:
                return of(w)
            return np.stack([cached(int(x)) for x in seen], axis=-1)[..., inv.reshape(np.shape(w))]
        key = int(w)
        got = last.get(key)
        if got is None:
            if len(last) >= keep:
                del last[next(iter(last))]
            got = last[key] = of(w)
        return got

    return cached


@lru_cache(maxsize=512)
def hist_bounds(name: str, max_len: int) -> tuple[float, ...]:
    spec = HISTOGRAMS[name][0]
    return tokens_buckets(max_len) if spec == "tokens" else tuple(float(b) for b in spec)  # type: ignore[union-attr]


@dataclass(frozen=True, slots=True)
class ServingBlock:
    n0: int
    starts: np.ndarray              # (C_all, B) start tick of each container's current run
    win: dict[str, FloatArray]      # per window: running, waiting, kv, gen_tps, prompt_tps (C_vllm, W);
    #                                 cores, mem (C_all, W)
    host_load: tuple[FloatArray, FloatArray]  # (B,) CPU cores and resident bytes of all containers
    streams: dict[str, Stream]      # counters and histograms over all containers (infra rows zero where unused)
    gpu_energy: Stream              # (G, 1): energy, mJ
    gpu_nvlink: Stream              # (G, 1): NVLink bytes

    @property
    def window_ticks(self) -> int:
        """Ticks per window: tick ``i`` of the block is in window ``i // window_ticks``."""
        return self.starts.shape[1] // self.win["running"].shape[1]


def container_starts(
    cids: tuple[ContainerIdentity, ...], ident: HostIdentity, n: np.ndarray, dt: float, timeline: Timeline | None = None
) -> np.ndarray:
    """(C, len(n)) tick at which each container's current run started: its own restart period, the host's
    reboots, and the timeline's restarts, OOM kills and crash loops, whichever came last."""
    t = n * dt
    boot = np.floor((t - (t - ident.boot_phase_s) % ident.boot_period_s) / dt + 1e-9)
    period = np.array([c.restart_period_s for c in cids])[:, None]
    phase = np.array([c.restart_phase_s for c in cids])[:, None]
    epoch = np.floor((t[None, :] - (t[None, :] - phase) % period) / dt + 1e-9)
    out = np.maximum(epoch, boot[None, :])
    if timeline is not None:
        for i, c in enumerate(cids):
            crash = timeline.crash_epochs(c.name, t)
            for ev in (timeline.event_times(c.name, "container_restart")
                       + timeline.event_times(c.name, "container_oom_kill")):
                crash = np.where(t >= ev, np.maximum(crash, ev), crash)
            out[i] = np.maximum(out[i], np.where(np.isfinite(crash), np.ceil(crash / dt - 1e-9), -np.inf))
    return out.astype(np.int64)


def _col(attr: str) -> FloatArray:
    return np.array([getattr(m, attr) for m in MODELS], dtype=np.float64)[:, None]


def serving_block(
    ident: HostIdentity, timeline: Timeline, cids: tuple[ContainerIdentity, ...], dt: float, block: int,
    block_ticks: int, n_gpus: int, tier: str = "all",
) -> ServingBlock:
    """One block. Rates and distributions are per window (per-tick readings: :mod:`serving_state`).

    ``tier`` limits the work for history blocks: ``host`` (host load and GPU energy only, before any
    container's current run), ``resources`` (plus plain counters, before any vLLM run), ``all``.
    """
    wt = max(1, int(round(WINDOW_S / dt)))
    n = np.arange(block * block_ticks, (block + 1) * block_ticks)
    n_w = len(n) // wt
    t_w = (n[::wt] + 0.5 * wt) * dt
    nm, n_all = len(MODELS), len(cids)
    p = lambda key: timeline.values(key, t_w)[None, :]  # noqa: E731
    act = activity(ident, timeline, t_w, block)
    starts = container_starts(cids, ident, n, dt, timeline)
    age = ((n[None, :] - starts) * dt).reshape(n_all, n_w, wt)
    load_s = _col("load_s")[:, :, None]
    serving = (age[:nm] > load_s).astype(np.float64)
    loading = ((age[:nm] > 0) & (age[:nm] <= load_s)).astype(np.float64)
    started = (age > 0).astype(np.float64)
    alive_w = serving.mean(axis=2)
    progress_w = np.clip(age[:nm].mean(axis=2) / _col("load_s"), 0.0, 1.0)

    offline = np.stack([timeline.values(f"gpu.{g}.offline", t_w) for g in range(n_gpus)]) if n_gpus else None
    broken = np.zeros((nm, n_w))
    for i, m in enumerate(MODELS):
        broken[i] = np.max(offline[[g for g in m.gpus if g < n_gpus]], axis=0) if offline is not None else 0.0
    rate = _col("base_rpm") / 60.0 * act[None, :] * p("serving.rate_scale")
    prompt_mean = _col("prompt_tokens") * np.exp(0.32) * p("serving.prompt_scale")
    gen_mean = _col("gen_tokens") * np.exp(0.245)
    prompt_tps, gen_tps = rate * prompt_mean, rate * gen_mean
    u = gen_tps / _col("gen_capacity") + prompt_tps / _col("prefill_capacity")
    lat = p("serving.latency_scale")
    tpot = _col("tpot_s") * (1.0 + 2.0 * u**2) * lat
    queue = (0.004 + 30.0 * np.maximum(u - 0.7, 0.0) ** 2) * lat
    prefill = (0.02 + prompt_mean / _col("prefill_capacity") * (1.0 + 3.0 * u**2)) * lat
    decode = gen_mean * tpot
    in_flight = rate * (prefill + decode) * (1.0 - broken)
    running = np.minimum(in_flight, MAX_NUM_SEQS)
    waiting = rate * queue + np.maximum(in_flight - MAX_NUM_SEQS, 0.0)
    kv_tokens = np.array([_kv_tokens(m) for m in MODELS], dtype=np.float64)[:, None]
    kv = np.clip(running * (prompt_mean + gen_mean / 2.0) / kv_tokens, 0.0, 0.99)

    err = np.clip(p("serving.error_rate") + np.stack([timeline.values(f"container.{m.container}.error_rate", t_w)
                                                      for m in MODELS]) + broken, 0.0, 1.0)
    is_llm = (_col("gen_tokens") > 0).astype(np.float64)
    rates = {
        "requests": rate, "errors": rate * err, "abort": rate * 0.004 * (1 - err),
        "length": rate * 0.07 * is_llm * (1 - err),
        "rate_limited": rate * 0.001, "prompt_tokens": prompt_tps * (1 - err), "generation_tokens": gen_tps * (1 - err),
        "preemptions": rate * np.maximum(kv - 0.92, 0.0) * 10.0, "prefix_queries": prompt_tps,
        "prefix_hits": prompt_tps * 0.35, "gen_requests": rate * is_llm,
        "steps": np.where(running > 0.05, 1.0 / np.maximum(tpot, 0.004), 0.0) * is_llm,
    }
    rates["stop"] = rates["requests"] - rates["errors"] - rates["abort"] - rates["length"]

    infra = lambda attr: np.array([getattr(s, attr) for s in INFRA], dtype=np.float64)[:, None]  # noqa: E731
    total_rate = (rate * alive_w).sum(axis=0)
    cores_vllm = _col("tp") * (0.12 + 0.85 * np.minimum(running, 1.0)) + 0.02 * rate
    infra_scale = np.repeat(act[None, :], len(INFRA), axis=0)
    infra_scale[0] = 0.2 + total_rate * 0.25  # the LiteLLM proxy works per request
    cores = np.vstack([cores_vllm * alive_w + 1.6 * loading.mean(axis=2), infra("cpu_cores") * infra_scale])
    leak = np.stack([timeline.values(f"container.{c.name}.mem_leak_bytes", t_w) for c in cids])
    mem = np.vstack([1.1e9 + 1.5e9 * progress_w + 1e7 * running, infra("mem_bytes") * (0.9 + 0.1 * np.minimum(act, 2))])
    mem = mem + leak
    net = np.vstack([rate * alive_w * (prompt_mean + gen_mean) * 6.0 + 200.0, infra("net_bps") * infra_scale])
    net[nm] += total_rate * 9000.0  # LiteLLM relays every request and response
    load_frac = loading.mean(axis=2)
    disk_w = np.vstack([2e4 + 4e8 * load_frac, infra("net_bps") * 0.3 * infra_scale])
    disk_r = np.vstack([1.2e9 * load_frac, infra("net_bps") * 0.05 * infra_scale])

    active = active_cumsum(np.vstack([serving, np.zeros((n_all - nm, n_w, wt))]))
    pad = lambda a: np.vstack([a, np.zeros((n_all - nm, n_w))])  # noqa: E731
    streams = {k: stream(pad(v), active, dt) for k, v in rates.items() if k in COUNTERS and tier != "host"}
    started_cum = active_cumsum(started)
    resources = {"cpu_user_s": cores * 0.8, "cpu_system_s": cores * 0.2, "net_rx_bytes": net * 0.45,
                 "net_tx_bytes": net * 0.55, "net_rx_packets": net * 0.45 / 900.0,
                 "net_tx_packets": net * 0.55 / 1100.0,
                 "fs_read_bytes": disk_r, "fs_write_bytes": disk_w, "fs_reads": disk_r / 131072.0,
                 "fs_writes": disk_w / 16384.0}
    if tier != "host":
        streams.update({k: stream(v, started_cum, dt) for k, v in resources.items()})

    medians = {
        "e2e": queue + prefill + decode, "ttft": queue + prefill, "tpot": np.maximum(tpot, 1e-4), "queue": queue,
        "inference": prefill + decode, "prefill": prefill, "decode": np.maximum(decode, 1e-4),
        "prompt": _col("prompt_tokens") * p("serving.prompt_scale") + 0 * rate,
        "gen": np.maximum(_col("gen_tokens"), 0.5) + 0 * rate,
        "max_tokens": np.full_like(rate, 1024.0), "one": np.ones_like(rate),
        "step_tokens": np.maximum(running, 1.0) + prompt_tps * tpot, "proxy_e2e": queue + prefill + decode + 0.012,
        "overhead": np.full_like(rate, 0.004),
    }
    for name, (_, counts, source, sigma) in HISTOGRAMS.items() if tier == "all" else ():
        streams[f"h:{name}"] = stream(pad(rates[counts]), active, dt, _shares(name, medians[source], sigma, n_all))
        streams[f"s:{name}"] = stream(pad(rates[counts] * medians[source] * np.exp(sigma**2 / 2.0)), active, dt)
    if tier != "host":
        # LiteLLM counts the same requests, but since the proxy started: prefix "L:" (origin: the litellm container)
        for name in [k for k in streams if k in LITELLM_COUNTERS or k[2:].startswith("litellm_")]:
            streams[f"L:{name}"] = streams[name]

    # GPUs: energy from window-mean power
    throttle = np.stack([timeline.values(f"gpu.{g}.throttle", t_w) for g in range(n_gpus)]).T if n_gpus else None
    gpu_w = gpu_readings(n_gpus, running * alive_w, gen_tps * alive_w, prompt_tps * alive_w, progress_w,
                         age[:nm].mean(axis=2), dt, throttle=throttle)
    ones = active_cumsum(np.ones((n_gpus, n_w, wt)))
    energy = stream((gpu_w["power_w"].T * 1000.0), ones, dt)
    nvlink = stream(gpu_w["nvlink_bytes_s"].T, ones, dt)
    host_cores = np.repeat(cores.sum(axis=0), wt)
    host_mem = np.repeat((mem * started.mean(axis=2)).sum(axis=0), wt)
    win = {"running": running, "waiting": waiting, "kv": kv, "gen_tps": gen_tps * (1 - broken),
           "prompt_tps": prompt_tps * (1 - broken), "cores": cores, "mem": mem, "broken": broken}
    if n_gpus:
        win.update({"gpu_throttle": throttle.T, "gpu_offline": offline,
                    "gpu_xid": np.stack([timeline.values(f"gpu.{g}.xid", t_w) for g in range(n_gpus)])})
    return ServingBlock(int(n[0]), starts, win, (host_cores, host_mem), streams, energy, nvlink)


def _kv_tokens(m: ModelSpec) -> float:
    free_gib = max(m.mem_util * m.tp * h200.FB_TOTAL_MIB / 1024.0 - m.weights_gib - 2.0 * m.tp, 1.0)
    return free_gib * 2**30 / m.kv_bytes_per_token


def num_gpu_blocks(m: ModelSpec) -> int:
    return int(_kv_tokens(m) // BLOCK_SIZE)


def gpu_readings(
    g: int, running: FloatArray, gen_tps: FloatArray, prompt_tps: FloatArray, progress: FloatArray, age: FloatArray,
    dt: float, lag: bool = False, throttle: FloatArray | None = None,
) -> dict[str, FloatArray]:
    """GPU readings (T, G) from the containers holding each GPU; inputs are (models, T)."""
    steps = running.shape[1]
    load, infl, gen, prompt, fb, tp = (np.zeros((steps, g)) for _ in range(6))
    ctx = np.zeros((steps, g), dtype=bool)
    for i, m in enumerate(MODELS):
        for gi in (x for x in m.gpus if x < g):
            load[:, gi] += gen_tps[i] / m.gen_capacity + 0.3 * prompt_tps[i] / m.prefill_capacity
            infl[:, gi] += running[i]
            gen[:, gi] += gen_tps[i]
            prompt[:, gi] += prompt_tps[i]
            ctx[:, gi] |= age[i] > 15.0
            fb[:, gi] += m.mem_util * h200.FB_TOTAL_MIB * np.clip(progress[i] * 1.25, 0, 1) * (age[i] > 15.0)
            tp[:, gi] = np.maximum(tp[:, gi], m.tp)
    fb = np.minimum(fb, h200.FB_TOTAL_MIB - h200.FB_RESERVED_MIB - h200.CUDA_CONTEXT_MIB)
    inputs = h200.GpuInputs(np.clip(load, 0, 1), h200.mem_bound_share(prompt, gen, infl), infl, ctx, fb,
                            np.maximum(tp, 1))
    steady = h200.steady_state(inputs, throttle)
    out = {f: np.asarray(getattr(steady, f), dtype=np.float64) for f in steady.__dataclass_fields__}
    if lag:
        out["gpu_temp_c"] = h200.thermal_lag(out["gpu_temp_c"], dt, h200.THERMAL_TAU_S)
        out["mem_temp_c"] = h200.thermal_lag(out["mem_temp_c"], dt, h200.THERMAL_TAU_S)
    return out

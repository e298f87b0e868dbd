"""One tick of the serving side: GPUs, containers, vLLM servers and LiteLLM models as exporters see them.

Counters are ``floor(base + V(i))`` of the ledger streams (:mod:`otelmock.world.ledger`), so every
exporter reads the same integers: LiteLLM's successes for a model are exactly the vLLM
``request_success`` of the container serving it, at every tick.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from otelmock.rng import hash_uniform, key_of
from otelmock.types import FloatArray
from otelmock.vec import NotUniform, changes, first_change, ticks, uniform, vfloat, vmax, vwhere
from otelmock.world import gpu as h200
from otelmock.world.deployment import MODELS
from otelmock.world.serving import BLOCK_SIZE, HISTOGRAMS, ServingBlock, gpu_readings, hist_bounds, num_gpu_blocks
from otelmock.world.snapshot import ContainerState, GpuState, Histogram, LitellmModel, VllmState

if TYPE_CHECKING:
    from otelmock.world.model import World

COMPOSE_PROJECT = "llm-stack"
PRICE_PER_MTOK = {"llm": (0.15, 0.60), "embedding": (0.02, 0.0), "reranker": (0.02, 0.0)}  # $ per 1M in / out
VLLM_HISTOGRAMS = tuple(k for k in HISTOGRAMS if not k.startswith("litellm_"))
LITELLM_HISTOGRAMS = tuple(k for k in HISTOGRAMS if k.startswith("litellm_"))


_LOAD_S = np.array([m.load_s for m in MODELS])[:, None]  # (models, 1) seconds each model takes to load
LAG_TICKS = 30  # the GPU thermal lag (tau 1.4 s) forgets its start after ~20 tau


def _wobble(world: World, n: np.ndarray) -> FloatArray:
    """(models, len(n)) per-tick fluctuation around the window's mean, mean 1 (Irwin-Hall normal approx)."""
    keys = _wobble_keys(world.ident.seed, world.ident.index)
    u = sum(hash_uniform(keys[:, j : j + 1], n[None, :]) for j in range(3))
    return np.maximum(1.0 + 0.15 * 2.0 * (u - 1.5), 0.0)


@lru_cache(maxsize=64)
def _wobble_keys(seed: int, index: int) -> np.ndarray:
    return np.array([[key_of(seed, index, "wobble", m.container, j) for j in range(3)] for m in MODELS],
                    dtype=np.uint64)


def tick_levels(world: World, srv: ServingBlock, n: np.ndarray) -> dict[str, FloatArray]:
    """Per-tick gauges (models, len(n)) for ticks ``n`` of block ``srv`` (earlier ticks clamp to its start)."""
    idx = np.clip(n - srv.n0, 0, srv.starts.shape[1] - 1)
    wt = srv.window_ticks
    nm = len(MODELS)
    age = (n[None, :] - srv.starts[:nm, idx]) * world.dt
    alive = (age > _LOAD_S).astype(np.float64)
    wob = _wobble(world, n) * alive
    w = idx // wt
    out = {k: srv.win[k][:, w] * wob for k in ("running", "waiting", "gen_tps", "prompt_tps")}
    out["kv"] = np.clip(srv.win["kv"][:, w] * (0.7 + 0.3 * wob), 0.0, 0.99) * alive
    out.update(alive=alive, progress=np.clip(age / _LOAD_S, 0.0, 1.0), age=age)
    return out


def gpu_tick(world: World, srv: ServingBlock, n: int | np.ndarray) -> dict[str, FloatArray]:
    """Readings of every GPU at tick ``n``, (G,) each (or (G, T) for the ticks of a run): the calibrated model over
    the last ticks, with its thermal lag. A run's readings are computed once for all its ticks; the lag still
    starts ``LAG_TICKS`` before each tick, so every tick's value is the one it has on its own."""
    last_n = np.atleast_1d(n)
    ticks = np.arange(last_n[0] - LAG_TICKS + 1, last_n[-1] + 1)
    lv = tick_levels(world, srv, ticks)
    idx = np.clip(ticks - srv.n0, 0, srv.starts.shape[1] - 1) // srv.window_ticks
    throttle = srv.win["gpu_throttle"][:, idx].T if "gpu_throttle" in srv.win else None
    out = gpu_readings(world.settings.gpu.count, lv["running"], lv["gen_tps"], lv["prompt_tps"], lv["progress"],
                       lv["age"], world.dt, lag=False, throttle=throttle)
    ends = last_n - ticks[0]  # row of each asked tick
    last = {k: v[ends].T for k, v in out.items()}
    for key in ("gpu_temp_c", "mem_temp_c"):
        last[key] = np.array([h200.thermal_lag(out[key][e - LAG_TICKS + 1: e + 1], world.dt, h200.THERMAL_TAU_S)[-1]
                              for e in ends]).T
    w = idx[ends]
    if "gpu_xid" in srv.win:
        last.update(xid=srv.win["gpu_xid"][:, w], offline=srv.win["gpu_offline"][:, w])
    if isinstance(n, np.ndarray):
        return last
    return {k: v[:, 0] for k, v in last.items()}


def structure_changes(world: World, srv: ServingBlock, i: np.ndarray, n: np.ndarray) -> list[int]:
    """The ticks of a run (``n``, ``i`` within block ``srv``) at which :func:`build_states` sees another structure
    than at the tick before: a container starts, a model holds its GPUs (from the tick after its start), finishes
    loading, breaks or mends with its GPUs; a GPU goes offline or back. Splitting a run there first spares the
    attempts that would find them one :class:`NotUniform` at a time (a change not listed here is still found so)."""
    wt = srv.window_ticks
    nm = len(MODELS)
    starts = srv.starts[:, i]
    age = (n[None, :] - starts[:nm]) * world.dt
    keys = [starts, age > 0, age <= _LOAD_S, srv.win["broken"][:, i // wt] < 0.5]
    if "gpu_offline" in srv.win:
        keys.append(srv.win["gpu_offline"][:, i // wt] < 0.5)
    return changes(np.vstack(keys))


def build_states(
    world: World, srv: ServingBlock, bases: dict[str, FloatArray], i: int | np.ndarray, n: int | np.ndarray
) -> tuple[tuple[GpuState, ...], tuple[ContainerState, ...], tuple[VllmState, ...], tuple[LitellmModel, ...]]:
    """The serving side at tick ``n`` (``i`` within block ``srv``); with arrays ``i``, ``n`` the ticks of a run in
    one pass, every number a :class:`~otelmock.vec.Ticks` (:class:`NotUniform` if a container starts in it)."""
    dt = world.dt
    run = isinstance(n, np.ndarray)
    lv = tick_levels(world, srv, n if run else np.array([n]))
    if not run:
        lv = {k: v[:, 0] for k, v in lv.items()}
    wt = srv.window_ticks
    value = {name: (bases[name][..., None] if run else bases[name]) + st.at(i) for name, st in srv.streams.items()}
    ints = {name: np.floor(v) for name, v in value.items() if not name.startswith(("s:", "L:s:"))}
    # plain counters once, (C,) each: Python floats for a tick, Ticks for a run
    flat = {name: _rows(v[:, 0]) for name, v in ints.items() if v.shape[1] == 1}
    nm = len(MODELS)
    starts = srv.starts[:, i]
    if run:
        at = first_change(starts)
        if at is not None:
            raise NotUniform("a container starts within the run", at)
        starts = starts[:, 0]
        age = (n[None, :] - starts[:, None]) * dt
    else:
        age = (n - starts) * dt

    containers = []
    for c, cid in enumerate(world.cids):
        model = MODELS[c] if c < nm else None
        gpus = model.gpus if model else ()
        tag = cid.image.rsplit(":", 1)[1]
        labels = {"com.docker.compose.project": COMPOSE_PROJECT, "com.docker.compose.service": cid.service,
                  "com.docker.compose.container-number": "1", "com.docker.compose.oneoff": "False",
                  "org.opencontainers.image.version": tag.lstrip("v")}
        env = {"NVIDIA_VISIBLE_DEVICES": ",".join(map(str, gpus))} if gpus else {}
        loading = model is not None and uniform(age[c] <= model.load_s)
        mem = vwhere(age[c] > 0, vfloat(srv.win["mem"][c, i // wt]), 0.0)
        cpu_user, cpu_sys = vfloat(value["cpu_user_s"][c, 0]), vfloat(value["cpu_system_s"][c, 0])
        oom = world.timeline.event_times(cid.name, "container_oom_kill")
        containers.append(ContainerState(
            cid.id, cid.name, cid.image, cid.kind, cid.service, labels, env, gpus, cid.created, starts[c] * dt,
            max(0, math.floor((starts[c] * dt - cid.created) / cid.restart_period_s)),
            "loading" if loading else "running",
            {"user_s": cpu_user, "system_s": cpu_sys, "usage_s": cpu_user + cpu_sys, "periods": 0.0,
             "throttled_periods": 0.0, "throttled_s": 0.0},
            {"usage": mem * 1.15, "working_set": mem, "rss": mem * 0.92, "cache": mem * 0.15, "swap": 0.0,
             "mapped_file": mem * 0.05, "max_usage": mem * 1.25, "limit": 0.0, "failcnt": 0.0,
             "kernel_usage": mem * 0.02, "failures_pgfault": _floor(cpu_user * 40), "failures_pgmajfault": 0.0,
             "oom_events": _count_within(oom, starts[c] * dt - 1, n * dt)},
            {k: flat[f"net_{k}"][c] for k in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets")}
            | {"rx_errors": 0.0, "tx_errors": 0.0, "rx_dropped": 0.0, "tx_dropped": 0.0},
            {"reads_bytes": flat["fs_read_bytes"][c], "writes_bytes": flat["fs_write_bytes"][c],
             "reads": flat["fs_reads"][c], "writes": flat["fs_writes"][c],
             "usage_bytes": 52_428_800.0 + 4096.0 * c, "limit_bytes": 1_888_753_451_008.0},
            {"processes": float(3 + (model.tp if model else 0)), "threads": float(80 + 20 * (model.tp if model else 1)),
             "fds": 150.0, "sockets": 24.0},
        ))

    vllm, litellm = [], []
    for c, m in enumerate(MODELS):
        serving = bool(uniform(lv["alive"][c])) and bool(uniform(srv.win["broken"][c, i // wt] < 0.5))
        hists = {name: _histogram(value, ints, name, c, hist_bounds(name, m.max_model_len)) for name in VLLM_HISTOGRAMS}
        counters = {k: flat[k][c] for k in ("prompt_tokens", "generation_tokens", "prefix_queries",
                                            "prefix_hits", "errors", "rate_limited")}
        counters.update({"num_preemptions": flat["preemptions"][c],
                         "prefix_cache_queries": counters.pop("prefix_queries"),
                         "prefix_cache_hits": counters.pop("prefix_hits")})
        for reason in ("stop", "length", "abort"):
            counters[f"request_success:{reason}"] = flat[reason][c]
        gauges = {"num_requests_running": vfloat(np.round(lv["running"][c])),
                  "num_requests_waiting": vfloat(np.round(lv["waiting"][c])),
                  "kv_cache_usage_perc": vfloat(lv["kv"][c])}
        created = float(starts[c] * dt + 2.0)
        vllm.append(VllmState(m.container, m.model, m.kind, "0", m.vllm_version, 8000, m.max_model_len, m.gpus, m.tp,
                              m.mem_util, num_gpu_blocks(m), BLOCK_SIZE, created, serving, gauges, counters, hists))
        # LiteLLM counts the same requests since the proxy's own start ("L:" streams)
        lite = {k: flat[f"L:{k}"][c] for k in ("stop", "length", "abort", "errors", "rate_limited", "prompt_tokens",
                                                "generation_tokens")}
        ok = lite["stop"] + lite["length"] + lite["abort"]
        failed = {"failures:500:InternalServerError": lite["errors"],
                  "failures:429:RateLimitError": lite["rate_limited"]}
        price_in, price_out = PRICE_PER_MTOK[m.kind]
        lcounters = {"requests": ok + sum(failed.values()), "successes": ok, **failed,
                     "input_tokens": lite["prompt_tokens"], "output_tokens": lite["generation_tokens"],
                     "spend": (lite["prompt_tokens"] * price_in + lite["generation_tokens"] * price_out) / 1e6}
        rpm_limit, tpm_limit = m.base_rpm * 20, m.base_rpm * 20 * (m.prompt_tokens + m.gen_tokens) * 2
        asked = _round(m.base_rpm * (1 + vfloat(lv["running"][c])))
        lgauges = {"deployment_state": 0.0 if serving else 2.0,
                   "remaining_requests": vfloat(vmax(rpm_limit - asked, 0)),
                   "remaining_tokens": vfloat(vmax(tpm_limit - asked * 1000, 0))}
        lh = {name.removeprefix("litellm_"): _histogram(value, ints, name, c, hist_bounds(name, m.max_model_len), "L:")
              for name in LITELLM_HISTOGRAMS}
        litellm.append(LitellmModel(m.alias, f"hosted_vllm/{m.model}", _model_id(world, m.container),
                                    f"http://{m.container}:8000/v1", "hosted_vllm", m.kind, (m.container,),
                                    lcounters, lgauges, lh))

    gpus = []
    energy = (bases["gpu:energy"][..., None] if run else bases["gpu:energy"]) + srv.gpu_energy.at(i)
    nvlink = (bases["gpu:nvlink"][..., None] if run else bases["gpu:nvlink"]) + srv.gpu_nvlink.at(i)
    readings = gpu_tick(world, srv, n)
    for g, gid in enumerate(world.gpu_ids):
        holders = tuple(m.container for c, m in enumerate(MODELS) if g in m.gpus and uniform(age[c] > 0))
        v = {key: vfloat(arr[g]) for key, arr in readings.items()}
        xid, offline = v.pop("xid", 0.0), v.pop("offline", 0.0)
        v.update(energy_mj=vfloat(np.floor(energy[g, 0])), nvlink_bytes_total=vfloat(np.floor(nvlink[g, 0])),
                 nvlink_tx_bytes_s=v.get("nvlink_bytes_s", 0.0) / 2, nvlink_rx_bytes_s=v.get("nvlink_bytes_s", 0.0) / 2,
                 power_limit_w=h200.POWER_LIMIT_W, fb_total_mib=float(h200.FB_TOTAL_MIB), enc_util_pct=0.0,
                 dec_util_pct=0.0, pcie_replay=0.0, xid=vfloat(xid), ecc_sbe_volatile=0.0, ecc_dbe_volatile=0.0,
                 ecc_sbe_aggregate=0.0, ecc_dbe_aggregate=0.0, retired_sbe=0.0, retired_dbe=0.0,
                 correctable_remapped_rows=0.0, uncorrectable_remapped_rows=0.0, row_remap_failure=0.0,
                 power_violation_us=0.0, thermal_violation_us=0.0)
        for key in ("util_pct", "mem_copy_util_pct", "gpu_temp_c", "mem_temp_c"):
            v[key] = vfloat(np.round(v.get(key, 0.0)))
        gpus.append(GpuState(gid.index, gid.index, gid.uuid, gid.pci_bus_id, gid.serial, "NVIDIA H200",
                             world.settings.gpu.driver_version, bool(uniform(offline < 0.5)), holders, v))
    return tuple(gpus), tuple(containers), tuple(vllm), tuple(litellm)


def _rows(v: np.ndarray) -> list:
    """(C,) -> C Python floats; (C, T) -> C Ticks."""
    return [ticks(row) for row in v] if v.ndim > 1 else v.tolist()


def _floor(x: float | np.ndarray) -> int | np.ndarray:
    """``math.floor`` (an int, as a tick has always served it), or per tick."""
    return np.floor(x) if isinstance(x, np.ndarray) else math.floor(x)


def _round(x: float | np.ndarray) -> int | np.ndarray:
    """``round`` (an int), or per tick (halves to even, as ``round``)."""
    return np.round(x) if isinstance(x, np.ndarray) else round(x)


def _count_within(times: Sequence[float], lo: float, hi: float | np.ndarray) -> float | np.ndarray:
    """How many of ``times`` fall in [lo, hi] (per tick for an array ``hi``)."""
    if isinstance(hi, np.ndarray):
        t = np.asarray(times, dtype=np.float64)[:, None]
        return ticks(((lo <= t) & (t <= hi[None, :])).sum(axis=0))
    return float(sum(1 for e in times if lo <= e <= hi))


def _histogram(value: dict[str, FloatArray], ints: dict[str, FloatArray], name: str, c: int,
               bounds: tuple[float, ...], origin: str = "") -> Histogram:
    buckets = tuple(_rows(ints[f"{origin}h:{name}"][c, : len(bounds) + 1]))
    return Histogram(bounds, buckets, vfloat(value[f"{origin}s:{name}"][c, 0]))


def _model_id(world: World, container: str) -> str:
    from otelmock.rng import identity_hex

    h = identity_hex(world.ident.seed, world.ident.index, "litellm-model", container, length=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

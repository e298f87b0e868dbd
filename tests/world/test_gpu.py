"""The H200 model against the real NVML traces in tests/data (phase medians, serving replay, lag, invariants)."""

from __future__ import annotations

import csv
import functools
from dataclasses import fields
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from otelmock.world import gpu

DATA = Path(__file__).resolve().parents[1] / "data"
TOLERANCE = 0.10                  # relative, model vs trace median
SERVING_CAPACITY_GEN_TOK_S = 15000.0  # ~8B model on one H200: the heavy phase (14.3k) is at saturation
PROBE_TENSORS_MIB = 10240.0       # h200_probe.py: a, b, x, 4 weights, src, dst (bf16/fp32 tensors)
KV_80GB_MIB = 81920.0             # h200_probe.py: torch.empty(80 * 2**30, uint8)


Trace = tuple[np.ndarray, dict[str, np.ndarray]]


@functools.cache
def read_trace(name: str) -> Trace:
    """(phase per sample, numeric columns) of a CSV in tests/data."""
    with open(DATA / name, newline="") as f:
        rows = list(csv.DictReader(f))
    phase = np.array([r["phase"] for r in rows])
    cols = {k: np.array([float(r[k]) for r in rows]) for k in rows[0] if k != "phase"}
    return phase, cols


def one(value: float, n: int = 1) -> np.ndarray:
    return np.full(n, float(value))


def inputs(load: float, mem_bound: float, in_flight: float, fb_alloc_mib: float, context: bool = True) -> gpu.GpuInputs:
    return gpu.GpuInputs(one(load), one(mem_bound), one(in_flight), np.array([context]), one(fb_alloc_mib))


def close(model: float, trace: float, tol: float = TOLERANCE) -> bool:
    return abs(model - trace) <= tol * abs(trace)


# --- 1. steady state against every phase of h200_trace.csv -------------------------------------------


class Phase(NamedTuple):
    load: float
    mem_bound: float      # GEMM 8192^3 bf16 is compute-bound; batch-32 GEMV and copy are memory-bound
    in_flight: float      # duty-cycled loops: a kernel is running `duty` of the time
    fb_alloc_mib: float
    window: tuple[float, float]  # seconds from the phase start used for the median (skips transients)


PROBE = {
    "idle_baseline": Phase(0.0, 0.0, 0.0, PROBE_TENSORS_MIB, (5, 99)),
    "alloc_80gb": Phase(0.0, 0.0, 0.0, PROBE_TENSORS_MIB + KV_80GB_MIB, (3, 99)),
    "compute_25": Phase(0.25, 0.1, 0.25, PROBE_TENSORS_MIB + KV_80GB_MIB, (5, 99)),
    "compute_50": Phase(0.50, 0.1, 0.50, PROBE_TENSORS_MIB + KV_80GB_MIB, (5, 99)),
    "compute_75": Phase(0.75, 0.1, 0.75, PROBE_TENSORS_MIB + KV_80GB_MIB, (5, 99)),
    "compute_100": Phase(1.0, 0.1, 1.0, PROBE_TENSORS_MIB + KV_80GB_MIB, (5, 99)),
    "decode_gemv_100": Phase(1.0, 0.9, 1.0, PROBE_TENSORS_MIB + KV_80GB_MIB, (5, 99)),
    "copy_100": Phase(1.0, 1.0, 1.0, PROBE_TENSORS_MIB + KV_80GB_MIB, (5, 99)),
    "cooldown": Phase(0.0, 0.0, 0.0, PROBE_TENSORS_MIB, (35, 99)),  # the end of the cool-down
}


@pytest.mark.parametrize("name", list(PROBE))
def test_steady_state_matches_probe_phase_medians(name: str) -> None:
    phase, c = read_trace("h200_trace.csv")
    p = PROBE[name]
    in_phase = phase == name
    t = c["t"][in_phase] - c["t"][in_phase][0]
    sel = (t >= p.window[0]) & (t < p.window[1])

    def median(col: str) -> float:
        return float(np.median(c[col][in_phase][sel]))

    s = gpu.steady_state(inputs(p.load, p.mem_bound, p.in_flight, p.fb_alloc_mib))
    for model, col in ((s.power_w, "power_w"), (s.gpu_temp_c, "temp_gpu_c"), (s.mem_temp_c, "temp_mem_c"),
                       (s.sm_clock_mhz, "sm_clock_mhz")):
        assert close(model[0], median(col)), f"{name} {col}: model {model[0]:.1f} vs trace {median(col):.1f}"
    # NVML's v1 "used" (the probe's column) counts the reserved memory too
    assert close(s.fb_used_mib[0] + s.fb_reserved_mib[0], median("mem_used_mib"), 0.02)
    assert s.mem_clock_mhz[0] == median("mem_clock_mhz") and s.pstate[0] == median("pstate")
    if name.startswith("compute_"):
        assert s.clock_event_reasons[0] == gpu.REASON_SW_POWER_CAP == median("clock_event_reasons")
    if name in ("idle_baseline", "alloc_80gb", "copy_100", "cooldown"):
        assert s.clock_event_reasons[0] == 0 == median("clock_event_reasons")


def test_idle_without_a_process_matches_first_sample() -> None:
    phase, c = read_trace("h200_trace.csv")
    first = {k: v[0] for k, v in c.items()}  # before the probe opened its CUDA context
    s = gpu.steady_state(inputs(0.0, 0.0, 0.0, 0.0, context=False))
    assert close(s.power_w[0], first["power_w"]) and s.sm_clock_mhz[0] == first["sm_clock_mhz"] == 345
    assert close(s.gpu_temp_c[0], first["temp_gpu_c"]) and close(s.mem_temp_c[0], first["temp_mem_c"])
    assert s.clock_event_reasons[0] == gpu.REASON_GPU_IDLE == first["clock_event_reasons"]
    assert s.fb_used_mib[0] == 0 and s.fb_free_mib[0] + s.fb_reserved_mib[0] == first["mem_total_mib"]
    assert s.util_pct[0] == 0.0


# --- 2. replay of h200_serving_trace.csv ------------------------------------------------------------


@functools.cache
def serving_replay() -> tuple[np.ndarray, gpu.GpuSteady, np.ndarray, np.ndarray]:
    """Per-second ticks built from the engine's own counters, as the world model would build them."""
    phase, c = read_trace("h200_serving_trace.csv")
    t = c["t"]
    edges = np.arange(0.0, t[-1] + 1.0, 1.0)
    ticks = len(edges) - 1
    gen_tok_s = np.diff(np.interp(edges, t, c["gen_tokens"]))
    prompt_tok_s = np.diff(np.interp(edges, t, c["prompt_tokens"]))
    tick_of = np.minimum(np.digitize(t, edges) - 1, ticks - 1)
    samples = np.maximum(np.bincount(tick_of, minlength=ticks), 1)
    running = np.bincount(tick_of, c["running"], ticks) / samples
    tick_phase = np.array([phase[np.argmax(tick_of == i)] for i in range(ticks)])
    inp = gpu.GpuInputs(
        load=gpu.load_from_tokens(gen_tok_s, np.full(ticks, SERVING_CAPACITY_GEN_TOK_S)),
        mem_bound=gpu.mem_bound_share(prompt_tok_s, gen_tok_s, running),
        in_flight=running,
        has_context=np.ones(ticks, dtype=bool),
        fb_alloc_mib=np.full(ticks, 78848.0),  # 7 GiB weights + 70 GiB KV cache
    )
    s = gpu.steady_state(inp)
    temp = gpu.thermal_lag(s.gpu_temp_c, 1.0, gpu.THERMAL_TAU_S, initial=c["temp_gpu_c"][0])
    return tick_phase, s, temp, running


@pytest.mark.parametrize("name", ["idle", "light_1rps", "medium_10rps", "heavy_50rps"])
def test_serving_replay_matches_phase_medians(name: str) -> None:
    phase, c = read_trace("h200_serving_trace.csv")
    tick_phase, s, temp, _ = serving_replay()
    ticks = tick_phase == name
    for model, col in ((s.power_w, "power_w"), (temp, "temp_gpu_c"), (s.sm_clock_mhz, "sm_clock_mhz")):
        want = float(np.median(c[col][phase == name]))
        got = float(np.median(model[ticks]))
        assert close(got, want), f"{name} {col}: model {got:.1f} vs trace {want:.1f}"


def test_serving_replay_util_is_busy_share() -> None:
    tick_phase, s, _, running = serving_replay()
    assert np.all(s.util_pct[running >= 1] >= 90.0)
    assert np.all(s.util_pct[running == 0] == 0.0)
    heavy = tick_phase == "heavy_50rps"
    assert np.median(s.clock_event_reasons[heavy]) == gpu.REASON_SW_POWER_CAP


# --- 3. thermal lag ---------------------------------------------------------------------------------


def test_step_response_reaches_63_percent_at_tau() -> None:
    dt, tau = 0.1, 1.4
    y = gpu.thermal_lag(np.ones(100), dt, tau, initial=0.0)
    assert y[round(tau / dt) - 1] == pytest.approx(1 - np.exp(-1), abs=1e-12)
    assert y[0] == pytest.approx(1 - np.exp(-dt / tau)) and y[-1] == pytest.approx(1.0, abs=1e-3)
    assert np.all(gpu.thermal_lag(np.full(10, 50.0), 1.0, 2.0) == 50.0)  # default: start settled


def test_thermal_lag_equals_recursion() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(30.0, 80.0, (3600, 8))
    start = rng.uniform(30.0, 80.0, 8)
    alpha = 1 - np.exp(-1.0 / gpu.THERMAL_TAU_S)
    want, prev = np.empty_like(x), start.copy()
    for n in range(len(x)):
        prev = prev + alpha * (x[n] - prev)
        want[n] = prev
    got = gpu.thermal_lag(x, 1.0, gpu.THERMAL_TAU_S, initial=start)  # speed: benchmarks, not a timed test
    np.testing.assert_allclose(got, want, atol=1e-9)
    assert gpu.thermal_lag(x[:, 0], 1.0, 0.0).tolist() == x[:, 0].tolist()
    with pytest.raises(ValueError):
        gpu.thermal_lag(x, 0.0, 1.0)


def _first_seconds(name: str, seconds: int) -> np.ndarray:
    """1-s means of the GPU temperature from the start of a phase (the die reading swings with the duty)."""
    phase, c = read_trace("h200_trace.csv")
    t0 = c["t"][np.argmax(phase == name)]
    return np.array([c["temp_gpu_c"][(c["t"] >= t0 + k) & (c["t"] < t0 + k + 1)].mean() for k in range(seconds)])


def _last_second(name: str) -> float:
    phase, c = read_trace("h200_trace.csv")
    t = c["t"][phase == name]
    return float(c["temp_gpu_c"][phase == name][t >= t[-1] - 1].mean())


def _lag_errors(tau: float, seconds: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Model minus trace, 1-s means, for the 25 % duty step and the cool-down (lag run at 10 Hz)."""
    hot = gpu.steady_state(inputs(*PROBE["compute_25"][:4])).gpu_temp_c[0]
    cold = gpu.steady_state(inputs(*PROBE["cooldown"][:4])).gpu_temp_c[0]
    out = []
    for target, before, name in ((hot, "alloc_80gb", "compute_25"), (cold, "copy_100", "cooldown")):
        y = gpu.thermal_lag(np.full(seconds * 10, target), 0.1, tau, initial=_last_second(before))
        out.append(y.reshape(seconds, 10).mean(axis=1) - _first_seconds(name, seconds))
    return out[0], out[1]


def test_fitted_tau_reproduces_duty_step_and_cooldown() -> None:
    taus = np.arange(0.2, 6.0, 0.05)
    rms = [np.sqrt(np.mean(np.concatenate(_lag_errors(tau)) ** 2)) for tau in taus]
    assert taus[int(np.argmin(rms))] == pytest.approx(gpu.THERMAL_TAU_S, abs=0.25)
    step, cool = _lag_errors(gpu.THERMAL_TAU_S)
    assert np.sqrt(np.mean(step**2)) < 1.0 and np.abs(step).max() < 2.5  # C
    # the cool-down keeps a slow ~2 C heatsink tail a single time constant does not follow
    assert np.sqrt(np.mean(cool**2)) < 2.5 and np.abs(cool).max() < 3.0


# --- 4. invariants and couplings ---------------------------------------------------------------------


def random_inputs(n: int, rng: np.random.Generator) -> tuple[gpu.GpuInputs, np.ndarray]:
    in_flight = np.where(rng.random(n) < 0.3, 0.0, rng.exponential(20.0, n))
    in_flight[rng.random(n) < 0.2] = rng.uniform(0.0, 1.0)
    load = rng.uniform(-0.2, 1.2, n)
    load[::997] = np.nan
    throttle = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(-0.1, 1.2, n))
    inp = gpu.GpuInputs(
        load=load,
        mem_bound=rng.uniform(-0.1, 1.1, n),
        in_flight=in_flight,
        has_context=rng.random(n) < 0.85,
        fb_alloc_mib=rng.uniform(-1000.0, 160000.0, n),
        tp_size=rng.choice([1.0, 2.0, 4.0, 8.0], n),
    )
    return inp, throttle


def test_invariants_hold_over_random_inputs() -> None:
    rng = np.random.default_rng(0)
    inp, throttle = random_inputs(10_000, rng)
    s = gpu.steady_state(inp, throttle)
    for f in fields(s):
        v = getattr(s, f.name)
        assert v.shape == (10_000,) and np.all(np.isfinite(v)), f.name
    assert np.all((s.util_pct >= 0) & (s.util_pct <= 100))
    assert np.all((s.mem_copy_util_pct >= 0) & (s.mem_copy_util_pct <= 100))
    assert np.all((s.power_w > 0) & (s.power_w <= gpu.POWER_LIMIT_W))
    assert np.all((s.sm_clock_mhz >= 345) & (s.sm_clock_mhz <= 1980))
    assert np.all(s.sm_clock_mhz % gpu.SM_CLOCK_STEP_MHZ == 0) and np.all(s.mem_clock_mhz == 3201)
    assert np.all(s.gpu_temp_c > gpu.T_AMBIENT_C) and np.all(s.mem_temp_c > gpu.T_AMBIENT_C)
    for name in ("sm_active", "sm_occupancy", "tensor_active", "dram_active", "gr_engine_active",
                 "fp16_active", "fp32_active", "fp64_active"):
        v = getattr(s, name)
        assert np.all((v >= 0) & (v <= 1)), name
    for v in (s.fb_used_mib, s.fb_free_mib, s.fb_reserved_mib, s.clock_event_reasons, s.pstate):
        assert v.dtype.kind == "i"
    assert np.all(s.fb_used_mib + s.fb_free_mib + s.fb_reserved_mib == gpu.FB_TOTAL_MIB)
    assert np.all((s.fb_used_mib >= 0) & (s.fb_free_mib >= 0))
    assert np.all((s.clock_event_reasons & ~0x7D) == 0) and np.all(s.pstate == 0)
    assert np.all(s.pcie_tx_bytes_s > 0) and np.all(s.pcie_rx_bytes_s > 0) and np.all(s.nvlink_bytes_s >= 0)
    lagged = gpu.thermal_lag(s.gpu_temp_c.reshape(1250, 8), 1.0, gpu.THERMAL_TAU_S, initial=30.0)
    assert np.all(lagged > gpu.T_AMBIENT_C)
    grid = gpu.steady_state(gpu.GpuInputs(*(np.reshape(getattr(inp, f.name), (1250, 8)) for f in fields(inp))))
    assert grid.power_w.shape == (1250, 8)


def test_more_load_means_more_power_less_clock_hotter() -> None:
    load = np.linspace(0.0, 1.0, 101)
    for mb in (0.1, 0.5, 0.9):
        s = gpu.steady_state(gpu.GpuInputs(load, np.full(101, mb), np.ones(101), np.ones(101, bool), np.zeros(101)))
        assert np.all(np.diff(s.power_w) >= -1e-9) and np.all(np.diff(s.sm_clock_mhz) <= 0)
        assert np.all(np.diff(s.gpu_temp_c) >= -1e-9) and np.all(np.diff(s.tensor_active) >= 0)
    n = np.linspace(0.0, 300.0, 3001)
    util = gpu.util_from_in_flight(n)
    assert np.all(np.diff(util) >= 0) and util[0] == 0
    assert util[n == 1][0] == pytest.approx(94.0) and 96.5 <= util[n == 8][0] <= 98.5 and util[-1] <= 100


def test_memory_bound_heats_hbm_and_throttle_slows_and_heats() -> None:
    dec = gpu.steady_state(inputs(1.0, 0.9, 1.0, 0.0))
    gemm = gpu.steady_state(inputs(1.0, 0.1, 1.0, 0.0))
    assert dec.mem_temp_c[0] > gemm.mem_temp_c[0] + 10 and dec.gpu_temp_c[0] < gemm.gpu_temp_c[0]
    assert dec.dram_active[0] > gemm.dram_active[0] and dec.tensor_active[0] < gemm.tensor_active[0]
    th = np.array([0.0, 0.3, 0.8])
    s = gpu.steady_state(gpu.GpuInputs(np.full(3, 0.6), np.full(3, 0.5), np.full(3, 20.0), np.ones(3, bool),
                                       np.zeros(3)), throttle=th)
    assert np.all(np.diff(s.sm_clock_mhz) < 0) and np.all(np.diff(s.power_w) < 0) and np.all(np.diff(s.gpu_temp_c) > 0)
    assert s.clock_event_reasons[1] & gpu.REASON_SW_THERMAL and not s.clock_event_reasons[1] & gpu.REASON_HW_SLOWDOWN
    assert s.clock_event_reasons[2] & (gpu.REASON_HW_SLOWDOWN | gpu.REASON_HW_THERMAL) == 0x48


def test_token_helpers() -> None:
    assert gpu.load_from_tokens(np.array([7500.0, 30000.0, 5.0]), np.array([15000.0, 15000.0, 0.0])).tolist() == [
        0.5, 1.0, 0.0]
    mb = gpu.mem_bound_share(np.array([888.0, 11145.0, 55841.0, 0.0, 5000.0]),
                             np.array([358.0, 3056.0, 14291.0, 0.0, 0.0]), np.array([1.0, 8.0, 98.0, 0.0, 4.0]))
    assert mb[0] > 0.95 and 0.8 < mb[1] < 0.9 and 0.2 < mb[2] < 0.35 and mb[3] == 0 and mb[4] == 0

"""NVIDIA H200 SXM physics: busy fraction, power, clocks, temperatures, framebuffer, DCGM profiling ratios.

Pure functions of numpy arrays, calibrated on two real NVML traces of one H200 (driver 580.159.04,
``tests/data/h200_trace.csv`` and ``tests/data/h200_serving_trace.csv``; derivation and phase table
in ``docs/gpu-model.md``). Arrays are ``(ticks,)`` or ``(ticks, gpus)``; time runs along axis 0.

NVML *utilisation* is kept apart from how hard the GPU works (DESIGN invariant 5):

* ``busy`` -- share of the tick in which a kernel runs: one request in flight already keeps an
  H200 94 % busy (:func:`util_from_in_flight`), and producing tokens at ``load`` needs at least
  ``load`` of the tick.
* ``intensity = min(load / busy, 1)`` -- how hard the busy time works the chip.
* burst demand at the maximum SM clock, W above the idle-with-context draw::

      demand = mb * (P_STREAM + (P_MEM_FULL - P_STREAM) * intensity)
               + (1 - mb) * P_COMPUTE_FULL * intensity ** COMPUTE_INTENSITY_EXP

  Memory-bound work (decode) streams every weight once per step whatever the batch, so it draws
  ``P_STREAM`` even at batch 1; compute-bound work (prefill, GEMMs) rises concavely with intensity.
* SW power cap: over its averaging window the cap lets through
  ``allowance = (POWER_CAP_SETPOINT - P_IDLE_CONTEXT) * (1 - (1 - busy) ** CAP_WINDOW_EXP)`` W, so
  short bursts may run above the cap. When ``busy * demand`` exceeds it, the SM clock falls during
  the bursts until ``demand * (f / f_max) ** CLOCK_POWER_EXP = allowance / busy``. Power is
  ``P_IDLE_CONTEXT + busy * burst``; the clock is the busy-weighted mean of burst and idle clocks.
* temperatures are linear in power above idle; the die sensor misses part of the HBM heat, the
  HBM sensor sees it. The world lags them with :func:`thermal_lag` and ``THERMAL_TAU_S``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# --- identity and limits (nvidia-smi -q on the traced H200) ---
FB_TOTAL_MIB = 143771            # MiB, "FB Memory Usage / Total"
FB_RESERVED_MIB = 616            # MiB, "Reserved" (driver and firmware), constant
CUDA_CONTEXT_MIB = 528           # MiB, one process's CUDA context (idle_baseline used minus its tensors)
POWER_LIMIT_W = 700.0            # W, enforced = default = max power limit
POWER_CAP_SETPOINT_W = 692.0     # W, what the SW power cap holds (compute_100: 691 W, heavy serving: 692 W)
SM_CLOCK_MAX_MHZ = 1980.0        # MHz, max SM clock; also held idle while a context is open
SM_CLOCK_IDLE_MHZ = 345.0        # MHz, SM clock with no process on the GPU
SM_CLOCK_STEP_MHZ = 15.0         # MHz, grid of every SM clock NVML reported
MEM_CLOCK_MHZ = 3201.0           # MHz, HBM3e clock, constant in every phase
PSTATE = 0                       # P0 in every phase, idle included (persistence mode on)
T_AMBIENT_C = 25.0               # C, inlet air: no temperature goes below it
GPU_TEMP_TLIMIT_C = 87.0         # C, max operating temperature (idle 35 C + "T.Limit Temp" margin 52 C)

# --- idle (h200_trace: first samples, idle_baseline, alloc_80gb) ---
P_IDLE_NO_CONTEXT_W = 77.0       # W, no process (77.2 W)
P_IDLE_CONTEXT_W = 120.0         # W, a process holds a CUDA context (120.2 W, with or without 80 GB allocated)
GPU_TEMP_IDLE_C = 37.0           # C, idle with a context
MEM_TEMP_IDLE_C = 38.0           # C, idle with a context

# --- busy fraction (serving trace: NVML util 94 / 97 / 98 % at running 1 / 8 / 98) ---
UTIL_ONE_REQUEST = 0.94          # busy share with one request in flight
UTIL_SATURATED = 0.985           # busy share approached with many requests in flight

# --- power (fitted jointly on all compute/decode/copy phases and the three serving phases) ---
P_STREAM_W = 380.0               # W at f_max, memory-bound at batch ~1 (light serving: 410 W median)
P_MEM_FULL_W = 540.0             # W at f_max, memory-bound at full bandwidth (copy_100: 656 W)
P_COMPUTE_FULL_W = 1780.0        # W at f_max, compute-bound at saturation, before the cap
COMPUTE_INTENSITY_EXP = 0.36     # concavity of compute power (medium serving: 602 W at load 0.21)
CLOCK_POWER_EXP = 3.1            # burst power ~ f**3.1 (compute_100 holds 692 W at 1455 MHz)
CAP_WINDOW_EXP = 1.55            # cap allowance vs busy share (compute duty 25/50/75 %: 324/489/624 W)
MEM_BOUND_RIDGE_TOKENS = 200.0   # decode batch at which a step turns compute-bound (~989 TFLOP/s / 4.8 TB/s)

# --- temperatures (steady state, above idle with a context) ---
GPU_TEMP_C_PER_W = 0.0379        # C/W, die: compute_100 +21 C for +571 W
HBM_HEAT_SHARE = 0.29            # share of memory-bound heat the die misses (decode 53 C, copy 51 C at ~560 W)
MEM_TEMP_C_PER_W = 0.0218        # C/W, HBM from any dynamic power (compute_100: 52 C)
MEM_TEMP_C_PER_W_BOUND = 0.0267  # C/W, extra HBM when memory-bound (decode 65 C, copy 64 C)
THERMAL_TAU_S = 1.4              # s, first-order lag fitted on the 25 % duty step and the cool-down

# --- DCGM profiling ratios, NVML memory utilisation, interconnect (shape, not measured on the probe) ---
SM_ACTIVE_MIN, SM_ACTIVE_MAX = 0.60, 0.95        # SM activity while busy, at low / full intensity
OCCUPANCY_MEM, OCCUPANCY_COMPUTE = 0.15, 0.40    # resident warps per slot, memory / compute-bound
TENSOR_COMPUTE, TENSOR_DECODE = 0.85, 0.10       # tensor-pipe activity at full intensity
DRAM_STREAM, DRAM_FULL, DRAM_COMPUTE = 0.45, 0.92, 0.25  # DRAM activity: batch-1 decode, copy, GEMM
FP16_ACTIVE, FP32_ACTIVE = 0.04, 0.06            # non-tensor half / single pipes per unit SM activity
MEM_UTIL_COMPUTE = 0.20          # NVML memory util of compute-bound busy time (compute_100: 24 %)
PCIE_TX_IDLE_B_S, PCIE_RX_IDLE_B_S = 1.04e6, 0.59e6    # B/s, nvidia-smi idle dump
PCIE_TX_BUSY_B_S, PCIE_RX_BUSY_B_S = 7.48e6, 14.07e6   # B/s, nvidia-smi dump under compute_100
NVLINK_ALLREDUCE_B_S = 40e9      # B/s per GPU at capacity, scaled by 2 (tp - 1) / tp (ring all-reduce)

# NVML clocksEventReasons bits (nvml.h: nvmlClocksEventReason*)
REASON_GPU_IDLE = 0x1
REASON_SW_POWER_CAP = 0x4
REASON_HW_SLOWDOWN = 0x8
REASON_SW_THERMAL = 0x20
REASON_HW_THERMAL = 0x40


@dataclass(frozen=True, slots=True)
class GpuInputs:
    """What the world knows about each GPU for each tick; all arrays share one shape.

    *load*: compute demand in [0, 1], generated tokens/s of the container holding the GPU over its
    capacity (:func:`load_from_tokens`). *mem_bound*: memory-bandwidth-bound share of the work
    (:func:`mem_bound_share`). *in_flight*: requests in flight (a tick mean may be fractional).
    *has_context*: a process holds a CUDA context. *fb_alloc_mib*: what that process allocated
    besides its context, flat once loaded. *tp_size*: tensor-parallel degree (NVLink), ``None`` = 1.
    """

    load: FloatArray
    mem_bound: FloatArray
    in_flight: FloatArray
    has_context: BoolArray
    fb_alloc_mib: FloatArray
    tp_size: FloatArray | None = None


@dataclass(frozen=True, slots=True)
class GpuSteady:
    """Steady-state readings per tick (temperatures before :func:`thermal_lag`), in NVML/DCGM units."""

    util_pct: FloatArray            # NVML GPU utilisation, 0..100
    mem_copy_util_pct: FloatArray   # NVML memory utilisation, 0..100
    power_w: FloatArray
    sm_clock_mhz: FloatArray
    mem_clock_mhz: FloatArray
    gpu_temp_c: FloatArray
    mem_temp_c: FloatArray
    sm_active: FloatArray           # DCGM_FI_PROF_* ratios, 0..1
    sm_occupancy: FloatArray
    tensor_active: FloatArray
    dram_active: FloatArray
    gr_engine_active: FloatArray
    fp16_active: FloatArray
    fp32_active: FloatArray
    fp64_active: FloatArray
    pcie_tx_bytes_s: FloatArray
    pcie_rx_bytes_s: FloatArray
    nvlink_bytes_s: FloatArray
    pstate: IntArray
    clock_event_reasons: IntArray   # NVML clocksEventReasons bitmask
    fb_used_mib: IntArray
    fb_free_mib: IntArray
    fb_reserved_mib: IntArray


def util_from_in_flight(in_flight: FloatArray) -> FloatArray:
    """NVML GPU utilisation in % (0..100): the share of the interval in which a kernel was running.

    ``100 * min(n, 1) * (UTIL_SATURATED - (UTIL_SATURATED - UTIL_ONE_REQUEST) / sqrt(max(n, 1)))``
    for *n* requests in flight: a tick mean below 1 is the share of the tick with any request; one
    request keeps the GPU 94 % busy (host gaps between decode steps), 8 give 97 %, 98 give 98 %.
    """
    n = np.maximum(np.nan_to_num(np.asarray(in_flight, dtype=np.float64)), 0.0)
    duty = UTIL_SATURATED - (UTIL_SATURATED - UTIL_ONE_REQUEST) / np.sqrt(np.maximum(n, 1.0))
    return np.clip(100.0 * np.minimum(n, 1.0) * duty, 0.0, 100.0)


def load_from_tokens(tokens_per_s: FloatArray, capacity_tokens_per_s: FloatArray) -> FloatArray:
    """Compute demand in [0, 1]: generated tokens/s over capacity (generated tokens/s at saturation).

    The serving trace's heavy phase (8B model, 14.3k gen tok/s, power-capped at 1485 MHz) is
    saturation, so a 15k gen tok/s capacity maps light / medium / heavy to 0.024 / 0.20 / 0.95.
    A non-positive capacity gives 0.
    """
    tok = np.asarray(tokens_per_s, dtype=np.float64)
    cap = np.asarray(capacity_tokens_per_s, dtype=np.float64)
    ratio = np.divide(tok, cap, out=np.zeros(np.broadcast(tok, cap).shape), where=cap > 0)
    return np.clip(np.nan_to_num(ratio), 0.0, 1.0)


def mem_bound_share(prompt_tokens_per_s: FloatArray, gen_tokens_per_s: FloatArray, batch: FloatArray) -> FloatArray:
    """Memory-bound share of GPU time of a continuous-batching LLM server (roofline estimate).

    A decode step streams every weight once (``gen / batch`` steps/s); every token, prompt or
    generated, costs ~2 FLOP per weight byte. With ``R = MEM_BOUND_RIDGE_TOKENS``:
    ``mb = R g / (R g + max(batch, 1) (p + g))``. Serving trace: light 0.98, medium 0.84, heavy 0.29.
    No tokens gives 0.
    """
    g = np.maximum(np.asarray(gen_tokens_per_s, dtype=np.float64), 0.0)
    p = np.maximum(np.asarray(prompt_tokens_per_s, dtype=np.float64), 0.0)
    stream = MEM_BOUND_RIDGE_TOKENS * g
    total = stream + np.maximum(np.asarray(batch, dtype=np.float64), 1.0) * (p + g)
    return np.clip(np.divide(stream, total, out=np.zeros(np.broadcast(stream, total).shape), where=total > 0), 0, 1)


def thermal_lag(
    target: FloatArray, dt_s: float, tau_s: float, initial: float | FloatArray | None = None
) -> FloatArray:
    """First-order lag along axis 0: ``y[n] = y[n-1] + alpha (x[n] - y[n-1])``, ``alpha = 1 - exp(-dt/tau)``.

    Exact for a target held over each tick. The state before the first tick is *initial* (a scalar
    or one value per GPU; default ``target[0]``, i.e. settled). Vectorised in blocks of up to 256
    ticks: ``y = y_prev + W @ (x - y_prev)`` with ``W[i, k] = alpha beta ** (i - k)`` (k <= i) and
    ``beta = 1 - alpha``: no power exceeds 1 and a settled input stays exact. The lag forgets: after
    ``20 tau`` the initial state weighs < 1e-8, so a window of recent ticks reproduces tick n.
    """
    if dt_s <= 0 or tau_s < 0:
        raise ValueError(f"thermal_lag needs dt_s > 0 and tau_s >= 0, got dt_s={dt_s}, tau_s={tau_s}")
    x = np.asarray(target, dtype=np.float64)
    if x.shape[0] == 0 or tau_s == 0:
        return x.copy()
    flat = x.reshape(x.shape[0], -1)
    beta = float(np.exp(-dt_s / tau_s))
    size = min(flat.shape[0], 256)
    i = np.arange(size)
    lag = i[:, None] - i[None, :]
    weights = np.where(lag >= 0, (1.0 - beta) * beta ** np.maximum(lag, 0), 0.0)
    prev = flat[0].copy() if initial is None else np.broadcast_to(np.asarray(initial, float), x.shape[1:]).ravel()
    out = np.empty_like(flat)
    for start in range(0, flat.shape[0], size):
        m = min(size, flat.shape[0] - start)
        out[start : start + m] = prev + weights[:m, :m] @ (flat[start : start + m] - prev)
        prev = out[start + m - 1]
    return out.reshape(x.shape)


def steady_state(inp: GpuInputs, throttle: FloatArray | None = None) -> GpuSteady:
    """Steady-state NVML/DCGM readings of each GPU for each tick (formulas in the module docstring).

    *throttle* in [0, 1] is an anomaly such as failing cooling: the SM clock ceiling falls linearly
    from ``SM_CLOCK_MAX_MHZ`` to ``SM_CLOCK_IDLE_MHZ``, the die heads for ``GPU_TEMP_TLIMIT_C`` (the
    HBM half-way), SW thermal slowdown is raised and, above 0.5, HW (thermal) slowdown. Clipped here:
    util 0..100, power <= ``POWER_LIMIT_W``, SM clock in [345, 1980] MHz, temperatures above
    ``T_AMBIENT_C``, ratios in [0, 1], ``fb_used + fb_free + fb_reserved == FB_TOTAL_MIB`` exactly.
    """
    parts = (inp.has_context, inp.load, inp.mem_bound, inp.in_flight, inp.fb_alloc_mib)
    shape = np.broadcast_shapes(*(np.shape(a) for a in parts))
    ctx = np.broadcast_to(np.asarray(inp.has_context, dtype=bool), shape)

    def clean(a: FloatArray | None, lo: float, hi: float) -> FloatArray:
        v = np.zeros(shape) if a is None else np.broadcast_to(np.asarray(a, dtype=np.float64), shape)
        return np.clip(np.nan_to_num(v, posinf=hi, neginf=lo), lo, hi)

    load = clean(inp.load, 0.0, 1.0) * ctx
    mb = clean(inp.mem_bound, 0.0, 1.0) * ctx
    th = clean(throttle, 0.0, 1.0)
    busy = np.maximum(util_from_in_flight(clean(inp.in_flight, 0.0, 1e9)) / 100.0, load * UTIL_SATURATED) * ctx
    intensity = np.minimum(np.divide(load, busy, out=np.zeros(shape), where=busy > 0), 1.0)

    # burst demand at f_max, the SW power cap over its window, the anomaly's clock ceiling
    demand = mb * (P_STREAM_W + (P_MEM_FULL_W - P_STREAM_W) * intensity)
    demand += (1.0 - mb) * P_COMPUTE_FULL_W * intensity**COMPUTE_INTENSITY_EXP
    headroom = POWER_CAP_SETPOINT_W - P_IDLE_CONTEXT_W
    allowance = headroom * (1.0 - (1.0 - busy) ** CAP_WINDOW_EXP)
    capped = busy * demand > allowance
    burst_cap = np.divide(allowance, busy, out=np.full(shape, headroom), where=busy > 0)
    f_rel = np.where(capped, burst_cap / np.maximum(demand, 1e-9), 1.0) ** (1.0 / CLOCK_POWER_EXP)
    ceiling = SM_CLOCK_MAX_MHZ - th * (SM_CLOCK_MAX_MHZ - SM_CLOCK_IDLE_MHZ)
    f_burst = np.minimum(SM_CLOCK_MAX_MHZ * f_rel, ceiling)
    burst_w = demand * (f_burst / SM_CLOCK_MAX_MHZ) ** CLOCK_POWER_EXP
    power = np.clip(np.where(ctx, P_IDLE_CONTEXT_W + busy * burst_w, P_IDLE_NO_CONTEXT_W), 0.0, POWER_LIMIT_W)
    sm_clock = np.where(ctx, ceiling - busy * (ceiling - f_burst), np.minimum(SM_CLOCK_IDLE_MHZ, ceiling))
    sm_clock = np.clip(np.round(sm_clock / SM_CLOCK_STEP_MHZ) * SM_CLOCK_STEP_MHZ, SM_CLOCK_IDLE_MHZ, SM_CLOCK_MAX_MHZ)

    dyn_w = power - P_IDLE_CONTEXT_W   # negative without a context: 77 W gives 35.4 / 37.1 C
    gpu_temp = GPU_TEMP_IDLE_C + GPU_TEMP_C_PER_W * dyn_w * (1.0 - HBM_HEAT_SHARE * mb)
    mem_temp = MEM_TEMP_IDLE_C + dyn_w * (MEM_TEMP_C_PER_W + MEM_TEMP_C_PER_W_BOUND * mb)
    gpu_temp += th * np.maximum(GPU_TEMP_TLIMIT_C - gpu_temp, 0.0)
    mem_temp += 0.5 * th * np.maximum(GPU_TEMP_TLIMIT_C - mem_temp, 0.0)

    sm_active = busy * (SM_ACTIVE_MIN + (SM_ACTIVE_MAX - SM_ACTIVE_MIN) * intensity)
    dram = busy * (mb * (DRAM_STREAM + (DRAM_FULL - DRAM_STREAM) * intensity) + (1 - mb) * DRAM_COMPUTE * intensity)
    tp = clean(inp.tp_size, 1.0, 1e6)
    reasons = np.where(ctx, 0, REASON_GPU_IDLE) | np.where(ctx & capped, REASON_SW_POWER_CAP, 0)
    reasons |= np.where(th > 0, REASON_SW_THERMAL, 0) | np.where(th > 0.5, REASON_HW_SLOWDOWN | REASON_HW_THERMAL, 0)
    fb_used = np.where(ctx, np.round(clean(inp.fb_alloc_mib, 0.0, FB_TOTAL_MIB)) + CUDA_CONTEXT_MIB, 0)
    fb_used = np.minimum(fb_used, FB_TOTAL_MIB - FB_RESERVED_MIB).astype(np.int64)

    def ratio(a: FloatArray) -> FloatArray:
        return np.clip(a, 0.0, 1.0)

    return GpuSteady(
        util_pct=np.clip(100.0 * busy, 0.0, 100.0),
        mem_copy_util_pct=np.clip(100.0 * busy * (mb + (1 - mb) * MEM_UTIL_COMPUTE * intensity), 0.0, 100.0),
        power_w=power,
        sm_clock_mhz=sm_clock,
        mem_clock_mhz=np.full(shape, MEM_CLOCK_MHZ),
        gpu_temp_c=np.maximum(gpu_temp, T_AMBIENT_C + 1.0),
        mem_temp_c=np.maximum(mem_temp, T_AMBIENT_C + 1.0),
        sm_active=ratio(sm_active),
        sm_occupancy=ratio(sm_active * (OCCUPANCY_MEM * mb + OCCUPANCY_COMPUTE * (1 - mb))),
        tensor_active=ratio(busy * intensity * (TENSOR_COMPUTE * (1 - mb) + TENSOR_DECODE * mb)),
        dram_active=ratio(dram),
        gr_engine_active=ratio(busy),
        fp16_active=ratio(FP16_ACTIVE * sm_active),
        fp32_active=ratio(FP32_ACTIVE * sm_active),
        fp64_active=np.zeros(shape),
        pcie_tx_bytes_s=PCIE_TX_IDLE_B_S + busy * (PCIE_TX_BUSY_B_S - PCIE_TX_IDLE_B_S),
        pcie_rx_bytes_s=PCIE_RX_IDLE_B_S + busy * (PCIE_RX_BUSY_B_S - PCIE_RX_IDLE_B_S),
        nvlink_bytes_s=load * NVLINK_ALLREDUCE_B_S * 2.0 * (tp - 1.0) / tp,
        pstate=np.full(shape, PSTATE, dtype=np.int64),
        clock_event_reasons=reasons.astype(np.int64),
        fb_used_mib=fb_used,
        fb_free_mib=(FB_TOTAL_MIB - FB_RESERVED_MIB - fb_used).astype(np.int64),
        fb_reserved_mib=np.full(shape, FB_RESERVED_MIB, dtype=np.int64),
    )

"""The host: CPU, memory, disks, filesystems and network of one simulated GPU server.

Per block of ticks the model computes *driver* arrays (vectorised over the block):

* ``activity``: relative demand, ``load.activity * (1 + daily + hourly) * (1 + spike)``.
* ``cpu_busy``: busy share of all CPUs, ``host.cpu_busy * activity + noise``, clipped to
  [``BUSY_MIN``, ``BUSY_MAX``]; split into modes by the ``host.cpu_*_share`` parameters.
* byte rates of disks and the uplink, which follow ``activity``.

Rates are integrated into counters since boot (DESIGN invariant 3); levels (memory, load averages)
are read at the tick, load averages through first-order lags with the kernel's 1/5/15-minute
constants. Per-core, per-disk and per-interface series fan out from these with fixed weights
(:mod:`otelmock.world.fanout`). Everything is a function of (seed, host, timeline, tick).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from otelmock.patterns import Daily, Hourly, Noise, Spikes, ema, integrate
from otelmock.rng import block_rng, hash_uniform
from otelmock.scenario.timeline import Timeline
from otelmock.types import FloatArray
from otelmock.world.identity import HostIdentity

CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
BUSY_MODES = tuple(m for m in CPU_MODES if m != "idle")
SHARE_FLOOR = {"user": 0.3, "nice": 0.0, "system": 0.1, "iowait": 0.01, "irq": 0.002, "softirq": 0.01, "steal": 0.0}
BUSY_MIN = 0.03          # an idle server still runs daemons
BUSY_MAX = 0.82          # leaves head-room for per-core weights up to 1.15 (< 100 % per core)
LOAD_TAU_S = (60.0, 300.0, 900.0)
PAGE = 4096

# rates integrated into counters (per host unless said otherwise)
INTEGRATED = (
    *(f"cpu_{m}" for m in BUSY_MODES),  # cpu-seconds per second of the average core
    "disk_read_bytes", "disk_written_bytes", "disk_reads", "disk_writes", "disk_busy",
    "net_rx_bytes", "net_tx_bytes", "net_rx_errs",
    "ctxt", "intr", "forks", "pgfault", "pgmajfault",
    "psi_cpu", "psi_io", "psi_io_full", "psi_mem", "psi_mem_full",
    "tcp_active_opens", "tcp_passive_opens", "udp_in", "udp_out", "fs_fill",
)


@dataclass(frozen=True, slots=True)
class HostBlock:
    """Driver arrays and within-block integrals for ticks ``n0 .. n0 + len - 1``."""

    n0: int
    levels: dict[str, FloatArray]
    cum: dict[str, FloatArray]       # integral from the block start (or boot) to the end of each tick
    total: dict[str, float]          # cum[-1]


def _param(timeline: Timeline, t: FloatArray, key: str) -> FloatArray:
    return timeline.values(key, t)


def activity(ident: HostIdentity, timeline: Timeline, t: FloatArray, block: int) -> FloatArray:
    """Relative demand on the whole server: the daily and hourly cycles, spikes, the scenario's scale."""
    p = lambda key: _param(timeline, t, key)  # noqa: E731
    cycles = 1.0 + Daily(1.0, 0.0)(t - p("load.peak_hour") * 3600.0) * p("load.daily_amplitude")
    cycles = cycles + Hourly(1.0, phase_s=ident.boot_phase_s % 3600)(t) * p("load.hourly_amplitude")
    spikes = Spikes(p("load.spike_probability"), p("load.spike_magnitude"))(t, block_rng(ident.key("spikes"), block))
    return np.maximum(p("load.activity") * cycles * (1.0 + spikes), 0.0)


def host_block(
    ident: HostIdentity, timeline: Timeline, cpus: int, dt_s: float, block: int, block_ticks: int, n_boot: int,
    containers: tuple[FloatArray, FloatArray] | None = None, mem_total: float = 64 * 2**30,
) -> HostBlock:
    """``containers`` = (CPU cores, resident bytes) of all containers per tick: they add to the host's own."""
    n = np.arange(block * block_ticks, (block + 1) * block_ticks)
    t = n * dt_s
    p = lambda key: _param(timeline, t, key)  # noqa: E731
    act = activity(ident, timeline, t, block)
    rng = block_rng(ident.key("host"), block)
    cores, resident = containers if containers is not None else (np.zeros_like(t), np.zeros_like(t))
    busy = p("host.cpu_busy") * act + Noise(1.0)(t, rng) * p("host.cpu_noise") + cores / cpus
    busy = np.clip(busy, BUSY_MIN, BUSY_MAX)
    shares = {m: np.maximum(p(f"host.cpu_{m}_share"), SHARE_FLOOR[m]) for m in BUSY_MODES}
    norm = sum(shares.values())
    rates: dict[str, FloatArray] = {f"cpu_{m}": busy * s / norm for m, s in shares.items()}
    wobble = lambda sigma: np.maximum(1.0 + Noise(sigma)(t, rng), 0.0)  # noqa: E731
    rates["disk_read_bytes"] = p("host.disk_read_bps") * act * wobble(0.3)
    rates["disk_written_bytes"] = (p("host.disk_write_bps") * act + p("host.disk_fill_bps")) * wobble(0.3)
    rates["disk_reads"] = rates["disk_read_bytes"] / 65536.0 + 2.0
    rates["disk_writes"] = rates["disk_written_bytes"] / 32768.0 + 5.0
    rates["disk_busy"] = np.minimum((rates["disk_reads"] + rates["disk_writes"]) * 4e-5, 1.0)
    rates["net_rx_bytes"] = p("host.net_rx_bps") * act * wobble(0.15)
    rates["net_tx_bytes"] = p("host.net_tx_bps") * act * wobble(0.15)
    rates["net_rx_errs"] = rates["net_rx_bytes"] / 1200.0 * p("host.net_error_rate")
    rates["ctxt"] = cpus * (900.0 + 9000.0 * busy)
    rates["intr"] = cpus * (600.0 + 5000.0 * busy)
    rates["forks"] = 8.0 + 60.0 * busy
    rates["pgfault"] = 2000.0 + 20000.0 * busy
    rates["pgmajfault"] = 0.05 + rates["disk_reads"] * 0.01
    rates["psi_cpu"] = 0.6 * busy**4
    rates["psi_io"] = rates["disk_busy"] * 0.2
    rates["psi_io_full"] = rates["psi_io"] * 0.6
    mem_used = np.clip(
        p("host.mem_used") + Daily(1.0, 0.0)(t - p("load.peak_hour") * 3600.0) * p("host.mem_daily_amplitude")
        + Noise(0.002)(t, rng) + resident / mem_total, 0.05, 0.97,
    )
    rates["psi_mem"] = 0.002 * np.maximum(mem_used - 0.85, 0.0) * 50
    rates["psi_mem_full"] = rates["psi_mem"] * 0.5
    rates["tcp_active_opens"] = 2.0 + 3.0 * act
    rates["tcp_passive_opens"] = 5.0 + 25.0 * act
    rates["udp_in"] = 20.0 + 5.0 * act
    rates["udp_out"] = 20.0 + 5.0 * act
    rates["fs_fill"] = p("host.disk_fill_bps") + 0.0 * t
    alive = (n > n_boot).astype(np.float64)
    cum = {k: integrate(rates[k] * alive, dt_s) for k in INTEGRATED}
    levels = {"activity": act, "busy": busy, "mem_used": mem_used}
    return HostBlock(int(n[0]), levels, cum, {k: float(v[-1]) for k, v in cum.items()})


def load_averages(prev: HostBlock | None, cur: HostBlock, cpus: int, dt_s: float) -> FloatArray:
    """(ticks, 3) load averages for ``cur``: runnable tasks through 1/5/15-minute lags.

    The lag starts at the previous block's mean and runs over it first, so the value at a tick
    depends only on the two blocks (random access, no history from boot).
    """
    def runnable(b: HostBlock) -> FloatArray:
        return b.levels["busy"] * cpus * 1.05 + b.levels["busy"] * 0.5

    tau = np.array(LOAD_TAU_S)
    series = runnable(cur)
    if prev is None:
        init: FloatArray | float = float(series[0])
    else:
        warm = ema(np.repeat(runnable(prev)[:, None], 3, axis=1), dt_s, tau, float(runnable(prev).mean()))
        init = warm[-1]
    return ema(np.repeat(series[:, None], 3, axis=1), dt_s, tau, init)


@lru_cache(maxsize=4096)
def _keys(ident: HostIdentity, name: str, size: int) -> np.ndarray:
    return np.array([ident.key(name, i) for i in range(size)], dtype=np.uint64)


def point_noise(ident: HostIdentity, name: str, n: int | np.ndarray, size: int = 1) -> FloatArray:
    """``size`` uniforms in [0, 1) for one tick of one gauge: O(1) random access ((size, T) for ticks ``n``)."""
    keys = _keys(ident, name, size)
    return hash_uniform(keys[:, None], n) if isinstance(n, np.ndarray) else hash_uniform(keys, n)

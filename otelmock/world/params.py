"""World parameters: the knobs a scenario turns (DESIGN invariant 4), with their defaults and bounds.

A scenario file sets some of them; the timeline ramps between values; the same model code runs in
every scenario. Keys are dotted (``host.cpu_busy``). Bounds are enforced when a scenario loads.
"""

from __future__ import annotations

# name: (default, low, high, meaning)
PARAMS: dict[str, tuple[float, float, float, str]] = {
    "load.activity": (1.0, 0.0, 5.0, "overall load multiplier applied to every demand signal"),
    "load.daily_amplitude": (0.25, 0.0, 0.9, "relative swing of the daily cycle (peak at load.peak_hour UTC)"),
    "load.peak_hour": (15.0, 0.0, 24.0, "hour of the daily peak, UTC"),
    "load.hourly_amplitude": (0.05, 0.0, 0.5, "relative swing of the within-hour wave"),
    "load.spike_probability": (0.02, 0.0, 0.5, "probability that a tick carries a load spike"),
    "load.spike_magnitude": (0.5, 0.0, 5.0, "relative size of a spike"),
    "host.cpu_busy": (0.10, 0.0, 0.95, "busy share of all CPUs outside the containers at activity 1"),
    "host.cpu_noise": (0.02, 0.0, 0.3, "standard deviation of per-tick CPU noise (share of CPU)"),
    "host.cpu_user_share": (0.62, 0.3, 0.9, "share of busy time in user mode"),
    "host.cpu_system_share": (0.20, 0.1, 0.5, "share of busy time in system mode"),
    "host.cpu_iowait_share": (0.06, 0.01, 0.5, "share of busy time in iowait"),
    "host.cpu_softirq_share": (0.04, 0.01, 0.2, "share of busy time in softirq"),
    "host.cpu_irq_share": (0.01, 0.002, 0.1, "share of busy time in irq"),
    "host.cpu_nice_share": (0.01, 0.0, 0.2, "share of busy time in nice"),
    "host.cpu_steal_share": (0.0, 0.0, 0.2, "share of busy time stolen by a hypervisor (0 on bare metal)"),
    "host.mem_used": (0.08, 0.02, 0.9, "share of RAM used by processes outside the containers"),
    "host.mem_daily_amplitude": (0.04, 0.0, 0.3, "swing of RAM use with the daily cycle (share of RAM)"),
    "host.disk_read_bps": (40e6, 0.0, 5e9, "mean bytes/s read over all disks at activity 1"),
    "host.disk_write_bps": (25e6, 0.0, 5e9, "mean bytes/s written over all disks at activity 1"),
    "host.disk_fill_bps": (0.0, 0.0, 1e9, "bytes/s by which the data filesystem fills (disk fill)"),
    "host.net_rx_bps": (30e6, 0.0, 3e9, "mean bytes/s received on the uplink at activity 1"),
    "host.net_tx_bps": (45e6, 0.0, 3e9, "mean bytes/s sent on the uplink at activity 1"),
    "host.net_error_rate": (0.0, 0.0, 0.1, "share of packets received with errors"),
    "serving.rate_scale": (1.0, 0.0, 100.0, "multiplier of every model's request rate"),
    "serving.latency_scale": (1.0, 0.1, 50.0, "multiplier of every latency (slow GPUs, network)"),
    "serving.error_rate": (0.002, 0.0, 1.0, "share of requests that fail (5xx in LiteLLM, aborted in vLLM)"),
    "serving.prompt_scale": (1.0, 0.1, 20.0, "multiplier of prompt lengths (RAG and long-context workloads)"),
}

DEFAULTS: dict[str, float] = {k: v[0] for k, v in PARAMS.items()}

# per-target parameters: "<kind>.<target>.<name>", e.g. "gpu.3.throttle", "container.vllm-qwen-7b.error_rate"
TARGET_PARAMS: dict[str, tuple[float, float, float, str]] = {
    "gpu.throttle": (0.0, 0.0, 1.0, "forced thermal throttling of one GPU (failing cooling), 0..1"),
    "gpu.xid": (0.0, 0.0, 255.0, "last XID error code of one GPU (0: none)"),
    "gpu.offline": (0.0, 0.0, 1.0, "1: the GPU fell off the bus; its series disappear, its containers fail"),
    "container.error_rate": (0.0, 0.0, 1.0, "extra share of one container's requests that fail"),
    "container.mem_leak_bytes": (0.0, 0.0, 64e9, "extra resident memory of one container"),
    "container.crashloop_s": (0.0, 0.0, 86_400.0, "one container restarts every this many seconds (0: off)"),
}


def spec(key: str) -> tuple[float, float, float, str] | None:
    """Default, bounds and meaning of a parameter key (global or per target); ``None`` if unknown."""
    if key in PARAMS:
        return PARAMS[key]
    kind, _, rest = key.partition(".")
    target, _, name = rest.rpartition(".")
    return TARGET_PARAMS.get(f"{kind}.{name}") if target else None


def default(key: str) -> float:
    s = spec(key)
    if s is None:
        raise KeyError(key)
    return s[0]

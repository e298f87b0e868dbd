"""Anomalies: a parameter change with a start, a duration and a ramp, on top of the scenario.

Each kind names the parameter it moves and how (DESIGN invariant 4): ``mul`` multiplies the scenario's
value by the magnitude, ``add`` adds it, ``set`` replaces it, ``grow`` rises linearly from 0 to the
magnitude over the duration (a leak). ``event`` kinds (restart, OOM kill) happen once, at the start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from otelmock.types import FloatArray

# kind: (parameter key template, mode, magnitude bounds, default magnitude, target: none | gpu | container)
KINDS: dict[str, tuple[str, str, tuple[float, float], float, str]] = {
    "load_spike": ("load.activity", "mul", (0.0, 20.0), 3.0, "none"),
    "latency_spike": ("serving.latency_scale", "mul", (1.0, 50.0), 5.0, "none"),
    "error_burst": ("serving.error_rate", "add", (0.0, 1.0), 0.2, "none"),
    "container_error_burst": ("container.{target}.error_rate", "add", (0.0, 1.0), 0.3, "container"),
    "gpu_xid": ("gpu.{target}.xid", "set", (1.0, 255.0), 79.0, "gpu"),
    "gpu_thermal_throttle": ("gpu.{target}.throttle", "set", (0.0, 1.0), 0.6, "gpu"),
    "gpu_off_bus": ("gpu.{target}.offline", "set", (1.0, 1.0), 1.0, "gpu"),
    "container_restart": ("", "event", (0.0, 0.0), 0.0, "container"),
    "container_oom_kill": ("", "event", (0.0, 0.0), 0.0, "container"),
    "container_crash_loop": ("container.{target}.crashloop_s", "set", (10.0, 86_400.0), 120.0, "container"),
    "memory_leak": ("container.{target}.mem_leak_bytes", "grow", (1e6, 64e9), 8e9, "container"),
    "disk_fill": ("host.disk_fill_bps", "add", (1e3, 1e9), 50e6, "none"),
    "network_errors": ("host.net_error_rate", "add", (1e-5, 0.1), 0.01, "none"),
}


@dataclass(frozen=True, slots=True)
class Anomaly:
    id: str
    kind: str
    target: str
    magnitude: float
    start_t: float
    duration_s: float
    ramp_s: float = 0.0

    @property
    def end_t(self) -> float:
        return self.start_t + self.duration_s

    @property
    def key(self) -> str:
        return KINDS[self.kind][0].format(target=self.target)

    def active(self, t: float) -> bool:
        return self.start_t <= t < self.end_t

    def apply(self, values: FloatArray, t: FloatArray) -> FloatArray:
        """The parameter's values with this anomaly applied at times ``t``."""
        mode = KINDS[self.kind][1]
        inside = (t >= self.start_t) & (t < self.end_t)
        if mode == "grow":
            env = np.clip((t - self.start_t) / max(self.duration_s, 1e-9), 0.0, 1.0)
            return np.where(inside, values + self.magnitude * env, values)
        env = np.clip((t - self.start_t) / self.ramp_s, 0.0, 1.0) if self.ramp_s > 0 else np.ones_like(t)
        if mode == "mul":
            return np.where(inside, values * (1.0 + (self.magnitude - 1.0) * env), values)
        if mode == "add":
            return np.where(inside, values + self.magnitude * env, values)
        return np.where(inside, values + (self.magnitude - values) * env, values)

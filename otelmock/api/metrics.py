"""Ground truth for alert tests, served on the control port only (DESIGN invariant 4).

The mock exporters' ports never carry these families: their output must stay identical to the real
exporters'. Values follow the latest snapshot, so they agree with what the exporters serve::

    otelmock_scenario_info{scenario="high_load"} 1.0
    otelmock_anomaly_active{id="a3",kind="gpu_xid",target="7"} 1.0
    otelmock_world_tick 1.795000123e+09
    otelmock_world_time_seconds 1.795000123e+09
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from otelmock.api.models import anomaly_state
from otelmock.runtime import Runtime

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class GroundTruth:
    """A prometheus_client custom collector over the runtime's latest snapshot and timeline."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterable[Metric]:
        snap = self.runtime.latest
        scenario = GaugeMetricFamily("otelmock_scenario_info", "Scenario in force (or ramping in) at the latest tick.",
                                     labels=["scenario"])
        scenario.add_metric([snap.scenario], 1.0)
        yield scenario
        active = GaugeMetricFamily("otelmock_anomaly_active", "Anomalies in force at the latest tick.",
                                   labels=["id", "kind", "target"])
        for a in self.runtime.world.timeline.anomalies:
            if anomaly_state(a, snap.t) == "active":
                active.add_metric([a.id, a.kind, a.target], 1.0)
        yield active
        yield GaugeMetricFamily("otelmock_world_tick", "Index of the latest tick of the simulated world.",
                                value=float(snap.tick))
        yield GaugeMetricFamily("otelmock_world_time_seconds", "Simulated Unix time of the latest tick.",
                                value=float(snap.t))


def registry(runtime: Runtime) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(GroundTruth(runtime))
    return reg


def render(reg: CollectorRegistry) -> bytes:
    return generate_latest(reg)

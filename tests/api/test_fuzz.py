"""Property and fuzz tests of the control API (seeded, bounded).

* Random sequences of scenario switches, anomaly starts and stops and world rebuilds, driven through the
  API over simulated time: no counter in the snapshots ever decreases, except where its origin moved
  (a container restart moves its start_time; a host reboot moves boot_time).
* schemathesis over /openapi.json against the in-process app: no 5xx, and no state change on any 4xx.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from otelmock.api import create_app
from otelmock.clock import SimClock
from otelmock.runtime import Runtime
from otelmock.scenario.anomaly import KINDS
from otelmock.scenario.timeline import Timeline
from otelmock.world.model import World
from otelmock.world.serving import WINDOW_S
from otelmock.world.snapshot import Snapshot
from tests.api import T0, api_settings, client, make_runtime

Key = tuple[Any, ...]
FloatArray = np.ndarray


def counters(s: Snapshot) -> dict[Key, FloatArray]:
    """Every counter of a snapshot in groups, keyed with their origin (boot time or container start time)."""
    h = s.host

    def group(values: dict[str, float]) -> tuple[tuple[str, ...], FloatArray]:
        return tuple(values), np.fromiter(values.values(), float, len(values))

    boot = h.boot_time
    out: dict[Key, FloatArray] = {("cpu", boot): h.cpu_seconds.ravel()}
    for key, values in [(("host", boot), h.counters), *((("disk", boot, d.name), d.counters) for d in h.disks),
                        *((("net", boot, n.name), n.counters) for n in h.netdevs)]:
        names, arr = group(values)
        out[(*key, names)] = arr
    out.update({("gpu", boot, g.index): np.array([g.values["energy_mj"], g.values["nvlink_bytes_total"]])
                for g in s.gpus if g.present})
    start = {c.name: c.start_time for c in s.containers}
    for c in s.containers:
        for part, values in (("cpu", c.cpu), ("net", c.network)):
            names, arr = group(values)
            out[("ctr", c.name, c.start_time, part, names)] = arr
    for v in s.vllm:
        origin = ("vllm", v.container, start[v.container])
        names, arr = group(v.counters)
        out[(*origin, names)] = arr
        for name, hist in v.histograms.items():
            out[(*origin, name)] = np.array([*hist.buckets, hist.sum])
    for m in s.litellm:  # keyed by the backends' starts too: see test_litellm_counters_survive_a_backend_restart
        names, arr = group(m.counters)
        out[("litellm", start.get("litellm"), m.model_group, *(start[b] for b in m.containers), names)] = arr
    return out


def assert_same(a: dict[Key, FloatArray], b: dict[Key, FloatArray], what: str) -> None:
    assert a.keys() == b.keys(), what
    diff = [k for k in a if not np.allclose(a[k], b[k], rtol=1e-9, atol=1e-6)]
    assert not diff, f"{what}: {diff[:3]}"


def assert_monotonic(prev: Snapshot, cur: Snapshot, what: str) -> None:
    a, b = counters(prev), counters(cur)
    back = [(k, a[k], b[k]) for k in a.keys() & b.keys() if np.any(b[k] < a[k] - 1e-9 * np.abs(a[k]))]
    assert not back, f"{what}: counters went backwards from tick {prev.tick} to {cur.tick}: {back[:3]}"
    assert [c.name for c in cur.containers] == [c.name for c in prev.containers], f"{what}: a container vanished"
    assert [v.container for v in cur.vllm] == [v.container for v in prev.vllm], f"{what}: a vLLM server vanished"


def window_edge(clock: SimClock) -> None:
    """Move the clock so that the next tick, where a change starts, opens a new serving window."""
    clock.set(max(clock.now(), (math.floor((clock.now() + 1) / WINDOW_S) + 1) * WINDOW_S - 1))


SCENARIOS = ("normal", "high_load", "degraded")
Op = tuple[Any, ...]
ops = st.one_of(
    st.tuples(st.just("switch"), st.sampled_from(SCENARIOS), st.sampled_from([0.0, 20.0, 300.0])),
    st.tuples(st.just("start"), st.sampled_from(sorted(KINDS)), st.integers(0, 17),
              st.sampled_from([5.0, 90.0, 900.0])),
    st.tuples(st.just("stop"), st.integers(1, 5)),
    st.tuples(st.just("rebuild")),
)
# 25 minutes after the simulated host's boot (every model loaded), so a fresh world has little history to integrate
NEAR_BOOT = World(api_settings(), Timeline.constant("normal", {})).ident.boot_time(T0) + 1500.0


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(ops, st.integers(1, 600)), min_size=1, max_size=4))
def test_counters_never_go_backwards(steps: list[tuple[Op, int]]) -> None:
    runtime, clock = make_runtime(t0=NEAR_BOOT)
    names = [x.name for x in runtime.world.cids]
    prev = runtime.step()
    with client(create_app(runtime)) as c:
        for op, wait_s in steps:
            prev = check_step(runtime, prev, "before the change")
            if op[0] == "switch":
                assert c.put("/scenario", json={"name": op[1], "ramp_s": op[2]}).status_code == 200
            elif op[0] == "start":
                target = {"none": "", "gpu": str(op[2] % 8), "container": names[op[2] % len(names)]}[KINDS[op[1]][4]]
                r = c.post("/anomalies", json={"kind": op[1], "target": target, "duration_s": op[3]})
                assert r.status_code == 201, r.text
            elif op[0] == "stop":
                assert c.delete(f"/anomalies/a{op[1]}").status_code in (200, 404, 409)
            else:  # rebuild the world from its timeline: the same ticks must come out (DESIGN invariant 2)
                runtime.world = World(runtime.settings, runtime.world.timeline)
            assert_same(counters(runtime.world.snapshot(prev.tick)), counters(prev), f"{op} changed a served tick")
            for dt in (1.0, float(wait_s)):
                clock.advance(dt)
                prev = check_step(runtime, prev, f"after {op}")
    runtime.stop()


def check_step(runtime: Runtime, prev: Snapshot, what: str) -> Snapshot:
    cur = runtime.step()
    if cur.tick != prev.tick:
        assert_monotonic(prev, cur, what)
    return cur


def test_a_change_mid_window_keeps_the_served_past() -> None:
    runtime, clock = make_runtime(t0=(NEAR_BOOT // WINDOW_S) * WINDOW_S + 29)
    prev = runtime.step()
    assert client(create_app(runtime)).put("/scenario", json={"name": "degraded", "ramp_s": 0}).status_code == 200
    served = counters(runtime.world.snapshot(prev.tick))
    runtime.stop()
    assert_same(served, counters(prev), "the switch changed a served tick")


def test_litellm_counters_survive_a_backend_restart() -> None:
    runtime, clock = make_runtime(t0=NEAR_BOOT)
    window_edge(clock)
    prev = runtime.step()
    r = client(create_app(runtime)).post("/anomalies", json={"kind": "container_restart", "target": "vllm-mistral-7b"})
    assert r.status_code == 201
    clock.advance(WINDOW_S + 1)  # changes start at the next window boundary
    cur = runtime.step()
    assert next(c for c in cur.containers if c.name == "vllm-mistral-7b").start_time > prev.t
    runtime.stop()
    before, after = ({m.model_group: m.counters["requests"] for m in s.litellm} for s in (prev, cur))
    assert after["mistral-7b"] >= before["mistral-7b"]


# --- schemathesis ---------------------------------------------------------------------------------------
RUNTIME, CLOCK = make_runtime()
APP = create_app(RUNTIME)
# about 100 generated requests in all: up to 20 per operation, valid and invalid; no coverage or stateful phase
FUZZ = schemathesis.Config.from_dict({
    "seed": 42,
    "generation": {"max-examples": 20, "deterministic": True, "database": "none"},
    "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
})
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=FUZZ)


@pytest.fixture(scope="module", autouse=True)
def _stop_runtime() -> Iterator[None]:
    yield
    RUNTIME.stop()


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_fuzz_no_5xx_and_no_change_on_rejection(case: schemathesis.Case[Any]) -> None:
    before = RUNTIME.world.timeline
    response = case.call()
    case.validate_response(response, checks=CHECKS)
    if response.status_code >= 400:
        assert RUNTIME.world.timeline == before
        if response.headers.get("content-type", [""])[0].startswith("application/json"):
            assert isinstance(response.json()["detail"], str)
    CLOCK.advance(1.0)

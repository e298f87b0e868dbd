"""The control API in process: every endpoint, scenario switches over simulated time, rejections, auth, mounting."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from otelmock.api import create_app, exporter_mount
from otelmock.clock import SimClock
from otelmock.runtime import Runtime
from otelmock.scenario.anomaly import KINDS
from otelmock.world.snapshot import Snapshot
from tests.api import T0, TestClient, client, make_runtime

TOKEN = "s3cret-t0ken-value"
JSON = {"content-type": "application/json"}


@pytest.fixture
def rt() -> Iterator[tuple[Runtime, SimClock, TestClient]]:
    runtime, clock = make_runtime()
    yield runtime, clock, client(create_app(runtime))
    runtime.stop()


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[Runtime, TestClient]]:
    runtime, _ = make_runtime()
    yield runtime, client(create_app(runtime))
    runtime.stop()


def advance(runtime: Runtime, clock: SimClock, seconds: float, every: float = 10.0) -> list[Snapshot]:
    out = []
    for _ in range(int(seconds / every)):
        clock.advance(every)
        out.append(runtime.step())
    return out


def mean_power(snaps: list[Snapshot]) -> float:
    return float(np.mean([g.values["power_w"] for s in snaps for g in s.gpus]))


def waiting(snaps: list[Snapshot]) -> float:
    return float(np.mean([sum(v.gauges["num_requests_waiting"] for v in s.vllm) for s in snaps]))


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


# --- reads -------------------------------------------------------------------------------------------
def test_health_docs_and_openapi(shared: tuple[Runtime, TestClient]) -> None:
    _, c = shared
    assert c.get("/health").json() == {"status": "ok"}
    assert c.get("/docs").status_code == 200
    spec = c.get("/openapi.json").json()
    assert set(spec["paths"]) == {"/health", "/scenarios", "/scenario", "/state", "/anomalies",
                                  "/anomalies/{anomaly_id}", "/anomaly-kinds", "/metrics"}
    xid = spec["components"]["schemas"]["StartGpuXid"]["properties"]
    assert xid["magnitude"]["anyOf"][0] == {"type": "number", "minimum": 1.0, "maximum": 255.0}
    assert spec["components"]["schemas"]["ScenarioSwitch"]["properties"]["ramp_s"]["default"] == 30.0


def test_scenarios_and_kinds(shared: tuple[Runtime, TestClient]) -> None:
    _, c = shared
    scenarios = {s["name"]: s for s in c.get("/scenarios").json()}
    assert {"normal", "high_load", "degraded"} <= set(scenarios)
    assert scenarios["degraded"]["params"]["gpu.7.xid"] == 13
    kinds = {k["kind"]: k for k in c.get("/anomaly-kinds").json()}
    assert set(kinds) == set(KINDS)
    assert kinds["gpu_xid"]["targets"] == [str(i) for i in range(8)]
    assert "vllm-mistral-7b" in kinds["container_restart"]["targets"]
    assert kinds["gpu_xid"]["magnitude"] == {"min": 1.0, "max": 255.0, "default": 79.0}
    assert kinds["container_restart"]["duration_s"] is None


def test_state_survives_a_gpu_off_the_bus(rt: tuple[Runtime, SimClock, TestClient]) -> None:
    runtime, clock, c = rt
    state = c.get("/state").json()
    assert state["scenario"] == "normal" and len(state["gpus"]) == 8 and state["vllm"][0]["serving"] is True
    assert c.post("/anomalies", json={"kind": "gpu_off_bus", "target": "3", "duration_s": 600}).status_code == 201
    advance(runtime, clock, 30)
    state = c.get("/state").json()
    assert state["gpus"][3]["present"] is False and state["anomalies"] == ["a1"]


# --- scenarios over simulated time -------------------------------------------------------------------
def test_switch_takes_effect_at_the_next_tick_and_ramps(rt: tuple[Runtime, SimClock, TestClient]) -> None:
    runtime, clock, c = rt
    base = advance(runtime, clock, 120)
    r = c.put("/scenario", json={"name": "high_load", "ramp_s": 30})
    assert r.status_code == 200 and r.json() == {"name": "high_load", "since": T0 + 121, "ramp_s": 30.0}
    assert c.get("/scenario").json()["pending"]["name"] == "high_load"
    assert runtime.step().scenario == "normal"
    clock.advance(1)
    assert runtime.step().scenario == "high_load"
    assert c.get("/scenario").json() == {"name": "high_load", "since": T0 + 121, "ramp_s": 30.0, "pending": None,
                                         "description": runtime.scenarios["high_load"].description}
    mid = runtime.world.timeline.values("serving.rate_scale", np.array([T0 + 121 + 15]))[0]
    assert 1.0 < mid < runtime.scenarios["high_load"].params["serving.rate_scale"]   # a ramp, not a jump
    high = advance(runtime, clock, 180)[-12:]
    assert mean_power(high) > 650 > mean_power(base)
    assert waiting(high) > waiting(base) + 10
    assert c.put("/scenario", json={"name": "normal"}).status_code == 200
    back = advance(runtime, clock, 300)[-10:]
    assert mean_power(back) == pytest.approx(mean_power(base), rel=0.1)
    assert waiting(back) < waiting(high) / 4


def test_degraded_shows_in_every_exporter_concerned() -> None:
    runtime, clock = make_runtime(("dcgm", "litellm", "cadvisor"))
    c = client(create_app(runtime))

    def scrape() -> dict[str, dict[str, Any]]:
        return {n: families(e.bridge.render().decode()) for n, e in runtime.exporters.items()}

    def failures_500(s: dict[str, dict[str, Any]]) -> float:
        return float(sum(x.value for x in s["litellm"]["litellm_proxy_failed_requests_metric"].samples
                   if x.labels.get("exception_status") == "500" and x.name.endswith("_total")))

    def start_time(s: dict[str, dict[str, Any]], name: str) -> float:
        return float(next(x.value for x in s["cadvisor"]["container_start_time_seconds"].samples
                          if x.labels["name"] == name))

    s0 = scrape()
    advance(runtime, clock, 600, every=30)
    s1 = scrape()
    assert c.put("/scenario", json={"name": "degraded", "ramp_s": 0}).status_code == 200
    advance(runtime, clock, 600, every=30)
    s2 = scrape()
    assert failures_500(s2) - failures_500(s1) > 5 * max(failures_500(s1) - failures_500(s0), 1.0)
    xid7 = [x.value for x in s2["dcgm"]["DCGM_FI_DEV_XID_ERRORS"].samples if x.labels["gpu"] == "7"]
    assert xid7 and all(v == 13 for v in xid7)
    assert all(x.value == 0 for x in s1["dcgm"]["DCGM_FI_DEV_XID_ERRORS"].samples)
    assert start_time(s2, "vllm-mistral-7b") > start_time(s1, "vllm-mistral-7b") == start_time(s0, "vllm-mistral-7b")
    runtime.stop()


# --- anomalies ---------------------------------------------------------------------------------------
GOOD_TARGET = {"none": "", "gpu": "7", "container": "vllm-qwen-7b"}
BAD_TARGET = {"none": ("gpu-7", "takes no target"), "gpu": ("8", "0..7"), "container": ("vllm-nope", "vllm-qwen-7b")}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_with_a_valid_target_and_a_bad_one(shared: tuple[Runtime, TestClient], kind: str) -> None:
    runtime, c = shared
    target_kind = KINDS[kind][4]
    r = c.post("/anomalies", json={"kind": kind, "target": GOOD_TARGET[target_kind]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["kind"], body["target"], body["state"]) == (kind, GOOD_TARGET[target_kind], "scheduled")
    assert c.get(f"/anomalies/{body['id']}").json() == body
    assert body["id"] in [a["id"] for a in c.get("/anomalies").json()]
    before = runtime.world.timeline
    bad, allowed = BAD_TARGET[target_kind]
    r = c.post("/anomalies", json={"kind": kind, "target": bad})
    assert r.status_code == 400 and allowed in r.json()["detail"]
    lo, hi = KINDS[kind][2]
    r = c.post("/anomalies", json={"kind": kind, "target": GOOD_TARGET[target_kind], "magnitude": hi * 2 + 1})
    assert r.status_code == 422 and r.json()["detail"].startswith(f"{kind}.magnitude: ")
    assert runtime.world.timeline == before


def test_stop_list_and_history(rt: tuple[Runtime, SimClock, TestClient]) -> None:
    runtime, clock, c = rt
    a = c.post("/anomalies", json={"kind": "load_spike", "magnitude": 2, "duration_s": 600}).json()
    ev = c.post("/anomalies", json={"kind": "container_restart", "target": "redis"}).json()
    advance(runtime, clock, 10, every=5)
    assert [x["state"] for x in c.get("/anomalies").json()] == ["active", "active"]
    assert runtime.world.timeline.values("load.activity", np.array([clock.now()]))[0] == pytest.approx(2.0)
    r = c.delete(f"/anomalies/{a['id']}")
    # it ends where a change can start: the next serving window boundary
    assert r.status_code == 200 and r.json()["end_t"] == -(-(clock.now() + 1) // 60) * 60
    assert c.delete(f"/anomalies/{ev['id']}").status_code == 409
    r = c.delete("/anomalies/a99")
    assert r.status_code == 404 and "a1, a2" in r.json()["detail"]
    advance(runtime, clock, 120)
    assert c.get("/anomalies").json() == []
    history = c.get("/anomalies", params={"all": "true"}).json()
    assert [(x["id"], x["state"]) for x in history] == [(a["id"], "ended"), (ev["id"], "ended")]
    assert c.delete(f"/anomalies/{a['id']}").status_code == 409
    assert runtime.world.timeline.values("load.activity", np.array([clock.now()]))[0] == pytest.approx(1.0)


# --- rejections change nothing -----------------------------------------------------------------------
REJECTED: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("PUT", "/scenario", {"json": {"name": "nope"}}, 400, "available: degraded, high_load, normal"),
    ("PUT", "/scenario", {"json": {"name": "normal", "ramp_s": -1}}, 422, "ramp_s: Input should be greater than"),
    ("PUT", "/scenario", {"json": {"name": "normal", "ramp_s": 4000}}, 422, "3600"),
    ("PUT", "/scenario", {"json": {"name": "normal", "ramp_s": "30"}}, 422, "ramp_s: Input should be a valid number"),
    ("PUT", "/scenario", {"json": {"name": 3}}, 422, "name: Input should be a valid string"),
    ("PUT", "/scenario", {"json": {"name": "normal", "rampp": 3}}, 422, "rampp: unknown field (allowed: name, ramp_s)"),
    ("PUT", "/scenario", {"json": ["normal"]}, 422, "body: expected a JSON object"),
    ("PUT", "/scenario", {"content": b'{"name": "normal"}'}, 422, "Content-Type: application/json"),
    ("PUT", "/scenario", {"content": b'{"name": ', "headers": JSON}, 422, "invalid JSON at position"),
    ("PUT", "/scenario", {"content": b'{"name": "\xff\xfe"}', "headers": JSON}, 400, "not valid UTF-8"),
    ("POST", "/anomalies", {"content": b"[" * 20000 + b"]" * 20000, "headers": JSON}, 400, "nested too deeply"),
    ("POST", "/anomalies", {"content": b'{"kind": ' * 200 + b"1" + b"}" * 200, "headers": JSON}, 422, "kind"),
    ("POST", "/anomalies", {"json": {"kind": "nope"}}, 422, "expected tags: 'load_spike'"),
    ("POST", "/anomalies", {"json": {"target": "7"}}, 422, "missing 'kind' (allowed: load_spike"),
    ("POST", "/anomalies", {"json": {"kind": "gpu_xid", "target": 7}}, 422, "gpu_xid.target: Input should be a valid"),
    ("POST", "/anomalies", {"json": {"kind": "gpu_xid", "target": "7", "magnitude": "x"}}, 422, "magnitude"),
    ("POST", "/anomalies", {"content": b'{"kind": "load_spike", "magnitude": NaN}', "headers": JSON}, 422, "finite"),
    ("POST", "/anomalies", {"json": {"kind": "load_spike", "duration_s": 0}}, 422, "duration_s"),
    ("POST", "/anomalies", {"json": {"kind": "load_spike", "duration_s": 1e9}}, 422, "duration_s"),
    ("POST", "/anomalies", {"json": {"kind": "load_spike", "duration_s": 10, "ramp_s": 20}}, 400, "ramp_s: 20"),
    ("POST", "/anomalies", {"json": {"kind": "load_spike", "colour": "red"}}, 422, "allowed: kind, target, magnitude"),
    ("POST", "/anomalies", {"content": b" " * (64 * 1024 + 1), "headers": JSON}, 413, "65536 bytes"),
    ("POST", "/anomalies", {"content": iter([b" " * 40000, b" " * 40000]), "headers": JSON}, 413, "65536 bytes"),
    ("DELETE", "/anomalies/a404", {}, 404, "no anomaly 'a404'"),
    ("DELETE", "/anomalies/" + "x" * 200, {}, 422, "anomaly_id"),
    ("GET", "/anomalies?all=maybe", {}, 422, "query.all"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "says"), REJECTED,
                         ids=[f"{m} {p[:20]} {s}" for m, p, _, s, _ in REJECTED])
def test_rejections_say_why_and_change_nothing(shared: tuple[Runtime, TestClient], method: str, path: str,
                                               kwargs: dict[str, Any], status: int, says: str) -> None:
    runtime, c = shared
    before = runtime.world.timeline
    r = c.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    assert says in r.json()["detail"]
    assert runtime.world.timeline == before


# --- auth ----------------------------------------------------------------------------------------------
def test_token_guards_writes_only(caplog: pytest.LogCaptureFixture) -> None:
    runtime, _ = make_runtime()
    c = client(create_app(runtime, token=TOKEN))
    caplog.set_level(logging.DEBUG)
    before = runtime.world.timeline
    writes: list[tuple[str, str, dict[str, Any]]] = [("PUT", "/scenario", {"json": {"name": "high_load"}}),
              ("POST", "/anomalies", {"json": {"kind": "load_spike"}}), ("DELETE", "/anomalies/a1", {}),
              ("POST", "/anomalies", {"content": b"{oops", "headers": JSON})]
    for auth in (None, "Bearer wrong", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x", "Bearer "):
        for method, path, kwargs in writes:
            headers = {**kwargs.get("headers", {}), **({"Authorization": auth} if auth else {})}
            r = c.request(method, path, **{**kwargs, "headers": headers})
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
            assert TOKEN not in r.text and "Authorization: Bearer <token>" in r.json()["detail"]
    assert runtime.world.timeline == before
    assert c.get("/scenario").status_code == c.get("/anomalies").status_code == c.get("/metrics").status_code == 200
    ok = {"Authorization": f"Bearer {TOKEN}"}
    assert c.put("/scenario", json={"name": "high_load"}, headers=ok).status_code == 200
    assert c.post("/anomalies", json={"kind": "load_spike"}, headers=ok).status_code == 201
    assert c.delete("/anomalies/a1", headers=ok).status_code == 200
    assert TOKEN not in caplog.text
    assert c.get("/openapi.json").json()["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    runtime.stop()


# --- ground truth and mounting ----------------------------------------------------------------------------
def test_ground_truth_metrics(rt: tuple[Runtime, SimClock, TestClient]) -> None:
    runtime, clock, c = rt
    r = c.get("/metrics")
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    fams = families(r.text)
    assert [(s.labels, s.value) for s in fams["otelmock_scenario_info"].samples] == [({"scenario": "normal"}, 1.0)]
    assert fams["otelmock_anomaly_active"].samples == []
    c.put("/scenario", json={"name": "degraded"})
    c.post("/anomalies", json={"kind": "gpu_xid", "target": "7", "duration_s": 60})
    snap = advance(runtime, clock, 10)[-1]
    fams = families(c.get("/metrics").text)
    assert [s.labels for s in fams["otelmock_scenario_info"].samples] == [{"scenario": "degraded"}]
    assert [(s.labels, s.value) for s in fams["otelmock_anomaly_active"].samples] == [
        ({"id": "a1", "kind": "gpu_xid", "target": "7"}, 1.0)]
    assert fams["otelmock_world_tick"].samples[0].value == snap.tick
    advance(runtime, clock, 60)
    assert families(c.get("/metrics").text)["otelmock_anomaly_active"].samples == []


def test_mounted_on_an_exporter_port_without_ground_truth() -> None:
    from otelmock.serve import exporter_app

    runtime, _ = make_runtime(("node",))
    control = client(create_app(runtime))
    port = client(Starlette(routes=[*exporter_app(runtime.exporters["node"], "Node Exporter").routes,
                                    exporter_mount(runtime)]))
    assert port.get("/otelmock/health").json() == {"status": "ok"}
    assert port.get("/otelmock/metrics").status_code == 404
    assert "otelmock_" not in port.get("/metrics").text
    assert "/otelmock/openapi.json" in port.get("/otelmock/docs").text
    assert "/metrics" not in port.get("/otelmock/openapi.json").json()["paths"]
    assert port.put("/otelmock/scenario", json={"name": "high_load"}).status_code == 200
    assert control.get("/scenario").json()["pending"]["name"] == "high_load"     # one world
    assert port.put("/otelmock/scenario", json={"name": "x"}).json()["detail"].startswith("unknown scenario")
    runtime.stop()

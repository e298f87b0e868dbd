"""The serving side of the world: one request flow that every exporter reads the same way."""

from __future__ import annotations

import pytest

from otelmock import config
from otelmock.scenario.loader import discover
from otelmock.scenario.timeline import Timeline
from otelmock.world.gpu import FB_TOTAL_MIB, POWER_LIMIT_W
from otelmock.world.host import CPU_MODES
from otelmock.world.model import World
from otelmock.world.snapshot import Snapshot

T0 = 1_795_000_000


SCENARIOS = discover()


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def day(request: pytest.FixtureRequest) -> list[Snapshot]:
    """A simulated day of the whole server in each scenario, read every 10 minutes (computed once per scenario)."""
    sc = SCENARIOS[request.param]
    w = World(config.load(seed=7, host__reboot_every_days=3), Timeline.constant(sc.name, sc.params))
    return [w.snapshot(n) for n in range(T0, T0 + 86_400, 600)]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_gpu_invariants_over_a_week(name: str) -> None:
    sc = SCENARIOS[name]
    w = World(config.load(seed=11, host__reboot_every_days=3), Timeline.constant(sc.name, sc.params))
    energy: dict[int, float] = {}
    boot = None
    for n in range(T0, T0 + 7 * 86_400, 4 * 3600):
        s = w.snapshot(n)
        if s.host.boot_time != boot:
            energy, boot = {}, s.host.boot_time
        for g in s.gpus:
            v = g.values
            assert 0 <= v["util_pct"] <= 100 and 0 < v["power_w"] <= POWER_LIMIT_W
            assert 345 <= v["sm_clock_mhz"] <= 1980 and v["gpu_temp_c"] > 25 and v["mem_temp_c"] > 25
            assert v["fb_used_mib"] + v["fb_free_mib"] + v["fb_reserved_mib"] == FB_TOTAL_MIB
            assert v["energy_mj"] >= energy.get(g.index, 0.0)
            energy[g.index] = v["energy_mj"]


def _served(s: Snapshot, containers: tuple[str, ...]) -> tuple[float, float]:
    vllm = {v.container: v for v in s.vllm}
    ok = sum(vllm[c].counters[f"request_success:{r}"] for c in containers for r in ("stop", "length", "abort"))
    return ok, sum(vllm[c].counters["generation_tokens"] for c in containers)


def test_litellm_counts_the_requests_its_vllm_containers_served(day: list[Snapshot]) -> None:
    """Over any interval, LiteLLM's successes and tokens for a model grow exactly as the vLLM counters of the
    containers behind it (the proxy counts since its own start, vLLM since each container's: compare deltas)."""
    compared = 0
    for a, b in zip(day, day[1:], strict=False):
        starts = lambda s: {c.name: c.start_time for c in s.containers}  # noqa: E731
        moved = {n for n, t in starts(a).items() if starts(b)[n] != t}
        for ma, mb in zip(a.litellm, b.litellm, strict=True):
            failures = sum(v for k, v in mb.counters.items() if k.startswith("failures:"))
            assert mb.counters["requests"] == mb.counters["successes"] + failures
            if moved & {*ma.containers, "litellm"}:
                continue
            (ok_a, tok_a), (ok_b, tok_b) = _served(a, ma.containers), _served(b, mb.containers)
            assert abs((mb.counters["successes"] - ma.counters["successes"]) - (ok_b - ok_a)) <= 3  # three floors
            assert abs((mb.counters["output_tokens"] - ma.counters["output_tokens"]) - (tok_b - tok_a)) <= 1
            compared += 1
    assert compared > 500


def test_litellm_counters_survive_a_backend_restart(day: list[Snapshot]) -> None:
    for a, b in zip(day, day[1:], strict=False):
        lite = next(c for c in b.containers if c.name == "litellm")
        if lite.start_time > a.t:
            continue  # the proxy itself restarted: its counters start again
        for ma, mb in zip(a.litellm, b.litellm, strict=True):
            assert all(mb.counters[k] >= v for k, v in ma.counters.items() if k != "spend")


def test_histograms_are_cumulative_and_count_is_the_inf_bucket(day: list[Snapshot]) -> None:
    for s in day[::12]:
        for v in s.vllm:
            for name, h in v.histograms.items():
                assert len(h.buckets) == len(h.bounds) + 1, name
                assert all(a <= b for a, b in zip(h.buckets, h.buckets[1:], strict=False)), name
                assert h.count == h.buckets[-1] and h.sum >= 0
            e2e = v.histograms["e2e_request_latency_seconds"]
            finished = sum(v.counters[f"request_success:{r}"] for r in ("stop", "length", "abort"))
            assert abs(e2e.count - finished - v.counters["errors"]) <= 4  # floors of four integrals
            if e2e.count > 100 and v.kind == "llm":
                assert 0.2 < e2e.sum / e2e.count < 300  # seconds per request: chat models, queues when overloaded


def test_counters_only_restart_with_their_container(day: list[Snapshot]) -> None:
    restarts = 0
    for a, b in zip(day, day[1:], strict=False):
        for va, vb in zip(a.vllm, b.vllm, strict=True):
            ca = next(c for c in a.containers if c.name == va.container)
            cb = next(c for c in b.containers if c.name == vb.container)
            if cb.start_time != ca.start_time:
                restarts += 1
                assert cb.start_time > ca.start_time and cb.restarts >= ca.restarts
                # the counters hold only the new run: at most what the fastest model makes since its start
                assert vb.counters["generation_tokens"] <= 20_000 * (b.t - cb.start_time)
                continue
            assert all(vb.counters[k] >= x for k, x in va.counters.items())
            assert cb.cpu["usage_s"] >= ca.cpu["usage_s"] and cb.network["rx_bytes"] >= ca.network["rx_bytes"]
            for name, h in va.histograms.items():
                assert all(y >= x for x, y in zip(h.buckets, vb.histograms[name].buckets, strict=True))
        for ga, gb in zip(a.gpus, b.gpus, strict=True):
            if b.host.boot_time == a.host.boot_time:
                assert gb.values["energy_mj"] > ga.values["energy_mj"]
    assert restarts >= 1  # containers restart every few days (and crash-loop in degraded)


def test_gpu_readings_are_physical_and_follow_their_containers(day: list[Snapshot]) -> None:
    busy_seen = idle_seen = 0
    for s in day:
        vllm = {v.container: v for v in s.vllm}
        for g in s.gpus:
            v = g.values
            assert 0 <= v["util_pct"] <= 100 and v["power_w"] <= POWER_LIMIT_W
            assert 345 <= v["sm_clock_mhz"] <= 1980 and v["gpu_temp_c"] > 25
            assert v["fb_used_mib"] + v["fb_free_mib"] + v["fb_reserved_mib"] == FB_TOTAL_MIB
            serving = [vllm[c] for c in g.containers if vllm[c].serving]
            if any(x.gauges["num_requests_running"] >= 2 for x in serving):  # >= 1.5 in flight over the tick
                assert v["util_pct"] >= 90  # NVML: busy as soon as one request is in flight
                busy_seen += 1
            if not g.containers:
                assert v["util_pct"] == 0 and v["power_w"] < 100
                idle_seen += 1
    assert busy_seen > 50


def test_containers_add_up_to_no_more_than_the_node(day: list[Snapshot]) -> None:
    idle = CPU_MODES.index("idle")
    for a, b in zip(day, day[1:], strict=False):
        if a.host.boot_time != b.host.boot_time:
            continue
        node_busy = (b.host.cpu_seconds.sum() - b.host.cpu_seconds[:, idle].sum()) - (
            a.host.cpu_seconds.sum() - a.host.cpu_seconds[:, idle].sum())
        same = [(ca, cb) for ca, cb in zip(a.containers, b.containers, strict=True) if ca.start_time == cb.start_time]
        containers = sum(cb.cpu["usage_s"] - ca.cpu["usage_s"] for ca, cb in same)
        assert 0 < containers <= node_busy
        m = b.host.memory
        used = m["MemTotal"] - m["MemFree"] - m["Cached"] - m["Buffers"] - m["SReclaimable"]
        assert sum(c.memory["working_set"] for c in b.containers) <= used


def test_deployment_uses_all_gpus_with_stable_identities(day: list[Snapshot]) -> None:
    s = day[0]
    assert len(s.gpus) == 8 and all(g.containers for g in s.gpus)
    assert len({g.uuid for g in s.gpus}) == 8 and all(g.uuid.startswith("GPU-") for g in s.gpus)
    assert len(s.vllm) == 10 and {v.kind for v in s.vllm} == {"llm", "embedding", "reranker"}
    assert {v.tp for v in s.vllm} == {1, 2, 4}
    assert len({c.id for c in s.containers}) == len(s.containers) and all(len(c.id) == 64 for c in s.containers)
    images = {c.image for c in s.containers if c.kind == "vllm"}
    assert len(images) >= 3 and all(i.startswith("vllm/vllm-openai:v") for i in images)
    served = {v.container for v in s.vllm if v.serving}
    assert all(m.counters["requests"] > 0 for m in s.litellm if set(m.containers) <= served)

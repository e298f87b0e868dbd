"""The log generator: records between two snapshots, consistent with the counters the exporters serve."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from otelmock import config
from otelmock.logs.generator import LogGenerator, LogRates, LogRecord
from otelmock.scenario.timeline import Timeline
from otelmock.world.model import World
from otelmock.world.snapshot import Snapshot

T0 = 1_795_000_000
STEP = 300
# a day's worth of counter-driven lines (errors, 5xx) with fewer periodic ones, to keep the test quick
DAY_RATES = LogRates(access_sample=0, stats_interval_s=60.0, scrape_interval_s=60.0, health_interval_s=120.0)
VLLM_ERROR = re.compile(r"^(\(\S+ pid=\d+\) )?ERROR \d\d-\d\d \d\d:\d\d:\d\d \[")


def _world(params: dict[str, float]) -> World:
    return World(config.load(seed=7, host__reboot_every_days=3), Timeline.constant("x", params))


@pytest.fixture(scope="module")
def day() -> list[Snapshot]:
    """A simulated day with a raised error rate, read every five minutes."""
    w = _world({"serving.error_rate": 0.05})
    return [w.snapshot(n) for n in range(T0, T0 + 86_400 + 1, STEP)]


@pytest.fixture(scope="module")
def windows(day: list[Snapshot]) -> list[list[LogRecord]]:
    gen = LogGenerator(7, DAY_RATES)
    return [gen.records(a, b) for a, b in zip(day, day[1:], strict=False)]


def _lines(records: list[LogRecord]) -> list[tuple[LogRecord, str]]:
    """(record, line) for every line Docker would write (it splits a record at each newline)."""
    return [(r, line) for r in records for line in r.message.split("\n")]


def _vllm_errors(records: list[LogRecord]) -> Counter[str]:
    return Counter(r.container_name for r, line in _lines(records) if VLLM_ERROR.match(line))


def test_records_fall_inside_the_window_and_are_sorted_per_container(
    day: list[Snapshot], windows: list[list[LogRecord]]
) -> None:
    for (a, b), records in zip(zip(day, day[1:], strict=False), windows, strict=True):
        assert records, "every container kind writes something every five minutes"
        last: dict[str, int] = {}
        for r in records:
            assert a.t * 1e9 < r.time_ns <= b.t * 1e9
            assert r.stream in ("stdout", "stderr") and not r.message.endswith("\n")
            assert r.time_ns >= last.get(r.container_id, 0)
            last[r.container_id] = r.time_ns


def test_error_lines_per_container_equal_the_errors_counter_delta(
    day: list[Snapshot], windows: list[list[LogRecord]]
) -> None:
    """Over each hour without a restart, ERROR lines of a vLLM container == its errors counter delta."""
    hour = 3600 // STEP
    checked = 0
    for h in range(0, len(windows), hour):
        a, b = day[h], day[min(h + hour, len(day) - 1)]
        got = _vllm_errors([r for w in windows[h : h + hour] for r in w])
        for va, vb in zip(a.vllm, b.vllm, strict=True):
            ca = next(c for c in a.containers if c.name == va.container)
            cb = next(c for c in b.containers if c.name == vb.container)
            if ca.start_time != cb.start_time:
                continue
            assert got[va.container] == vb.counters["errors"] - va.counters["errors"], (va.container, h)
            checked += vb.counters["errors"] - va.counters["errors"]
    assert checked > 100


def test_every_window_matches_its_counter_deltas_even_across_restarts(
    day: list[Snapshot], windows: list[list[LogRecord]]
) -> None:
    for (a, b), records in zip(zip(day, day[1:], strict=False), windows, strict=True):
        got = _vllm_errors(records)
        starts = {c.name: c.start_time for c in a.containers}
        for va, vb in zip(a.vllm, b.vllm, strict=True):
            restarted = starts[vb.container] != next(c.start_time for c in b.containers if c.name == vb.container)
            expected = vb.counters["errors"] - (0 if restarted else va.counters["errors"])
            assert got[vb.container] == expected
            access_500 = sum(1 for r in records if r.container_name == vb.container and '" 500 ' in r.message)
            assert access_500 == expected


def test_litellm_5xx_and_429_lines_equal_the_failure_counters(
    day: list[Snapshot], windows: list[list[LogRecord]]
) -> None:
    totals: Counter[tuple[str, str]] = Counter()
    for (a, b), records in zip(zip(day, day[1:], strict=False), windows, strict=True):
        got: Counter[tuple[str, str]] = Counter()
        for r in records:
            if r.container_name != "litellm":
                continue
            doc = json.loads(r.message)
            assert list(doc)[:3] == ["message", "level", "timestamp"]
            if doc["level"] == "ERROR":
                group = re.search(r"Received Model Group=(\S+)", doc["message"])
                assert group is not None and "stacktrace" in doc
                kind = "500" if "InternalServerError" in doc["message"] else "429"
                got[(group.group(1), kind)] += 1
        before = {m.model_group: m for m in a.litellm}
        for m in b.litellm:
            for kind, key in (("500", "failures:500:InternalServerError"), ("429", "failures:429:RateLimitError")):
                now, was = m.counters[key], before[m.model_group].counters[key]
                assert got[(m.model_group, kind)] == (now - was if now >= was else now), (m.model_group, kind)
                totals[kind] += got[(m.model_group, kind)]
    assert totals["500"] > 100 and totals["429"] > 0


def test_startup_sequence_follows_a_restart(day: list[Snapshot], windows: list[list[LogRecord]]) -> None:
    seen = 0
    for i, (a, b) in enumerate(zip(day, day[1:], strict=False)):
        for ca, cb in zip(a.containers, b.containers, strict=True):
            if cb.kind != "vllm" or ca.start_time == cb.start_time or i + 4 > len(windows):
                continue
            v = next(x for x in b.vllm if x.container == cb.name)
            text = "\n".join(r.message for w in windows[i : i + 4] for r in w
                             if r.container_name == cb.name and r.time_ns > cb.start_time * 1e9)
            steps = [f"vLLM API server version {v.version}", "Loading weights took", "Model loading took",
                     "GPU KV cache size", f"num_gpu_blocks is: {v.num_gpu_blocks}",
                     "Starting vLLM API server", "Application startup complete.", "Engine 000: Avg prompt"]
            positions = [text.find(s) for s in steps]
            assert all(p >= 0 for p in positions) and positions == sorted(positions), (cb.name, positions)
            before = "\n".join(r.message for r in windows[i] if r.container_name == cb.name
                               and r.time_ns <= cb.start_time * 1e9)
            assert "Shutting down" in before or "EngineDeadError" in before or cb.memory["oom_events"] > 0
            seen += 1
    assert seen >= 1


def test_records_are_a_pure_function_of_seed_and_snapshots(day: list[Snapshot]) -> None:
    pairs = list(zip(day[100:110], day[101:111], strict=True))
    first = [LogGenerator(7).records(a, b) for a, b in pairs]
    again = LogGenerator(7)
    assert [again.records(a, b) for a, b in reversed(pairs)][::-1] == first
    assert LogGenerator(8).records(*pairs[0]) != first[0]


def test_engine_statistics_carry_the_gauges_of_the_snapshot() -> None:
    w = _world({})
    gen = LogGenerator(7)
    prev = w.snapshot(T0)
    found = 0
    for n in range(T0 + 1, T0 + 31):
        cur = w.snapshot(n)
        for r in gen.records(prev, cur):
            m = re.search(r"Running: (\d+) reqs, Waiting: (\d+) reqs, GPU KV cache usage: ([\d.]+)%", r.message)
            if m is None:
                continue
            g = next(v for v in cur.vllm if v.container == r.container_name).gauges
            assert (int(m[1]), int(m[2])) == (g["num_requests_running"], g["num_requests_waiting"])
            assert m[3] == f"{g['kv_cache_usage_perc'] * 100:.1f}"
            found += 1
        prev = cur
    assert found >= 10  # ten engines, each every 10 s


def test_access_lines_are_sampled_but_errors_are_not() -> None:
    w = _world({"serving.rate_scale": 40.0, "serving.error_rate": 0.1})
    a, b = w.snapshot(T0), w.snapshot(T0 + 10)
    records = LogGenerator(7, LogRates(access_sample=2, scrape_interval_s=0, health_interval_s=0)).records(a, b)
    for va, vb in zip(a.vllm, b.vllm, strict=True):
        ok = sum(1 for r in records if r.container_name == va.container and '" 200 OK' in r.message)
        done = sum(vb.counters[k] - va.counters[k] for k in vb.counters if k.startswith("request_success:"))
        assert ok == min(done, 2 * 10)
        assert _vllm_errors(records)[va.container] == vb.counters["errors"] - va.counters["errors"]


def test_xid_shows_in_the_containers_of_the_gpu() -> None:
    w = _world({"gpu.7.xid": 13.0, "serving.error_rate": 0.2})
    a, b = w.snapshot(T0), w.snapshot(T0 + 60)
    gen = LogGenerator(7)
    records = gen.records(None, a) + gen.records(a, b)
    holders = set(a.gpus[7].containers)
    warned = {r.container_name for r in records if "Xid 13 (Graphics Engine Exception) on GPU 7" in r.message}
    assert warned == holders and holders
    errors = [r for r in records if r.severity == "ERROR" and r.container_name in holders]
    assert errors and all("CUDA error: unspecified launch failure" in r.message for r in errors)
    assert not any("NVML reported Xid" in r.message for r in gen.records(a, b))  # once, at the onset


def test_infra_services_write_their_housekeeping(windows: list[list[LogRecord]]) -> None:
    by = Counter(r.container_name for w in windows for r in w)
    for name in ("litellm-db", "redis", "prometheus", "grafana", "loki"):
        assert by[name] >= 10, name
    text = [r.message for w in windows for r in w if r.container_name == "litellm-db"]
    assert any("LOG:  checkpoint complete: wrote" in t for t in text)

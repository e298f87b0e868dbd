"""The state file: run-time scenario switches and anomalies survive a restart, so counters continue."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from otelmock import config
from otelmock.clock import SimClock
from otelmock.errors import ConfigError, StartupError
from otelmock.runtime import Runtime
from otelmock.scenario.timeline import Timeline
from otelmock.world.model import World
from tests.api import T0, scenarios


def runtime(clock: SimClock, state_file: Path | None) -> Runtime:
    s = config.load(environ={}, seed=7, host__hostname="gpu-test-01", exporters=["vllm"],
                    state_file=str(state_file or ""))
    world = World(s, Timeline.constant("normal", scenarios()["normal"].params))
    return Runtime(s, world, clock, dict(scenarios()))


def vllm_counters(rt: Runtime) -> dict[str, float]:
    out = {}
    for line in rt.exporters["vllm"].bridge.render().decode().splitlines():
        if line.startswith("vllm:") and ("_total{" in line or "_count{" in line):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def test_a_restart_with_the_state_file_serves_the_same_series(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    clock = SimClock(T0)
    before = runtime(clock, path)
    before.switch_scenario("high_load", ramp_s=0)
    spike = before.start_anomaly("load_spike", magnitude=4.0, duration_s=600)
    clock.advance(900)
    served = vllm_counters(before)
    assert served

    restarted = runtime(clock, path)  # a new process: world and runtime built again from settings + state file
    assert vllm_counters(restarted) == served
    assert restarted.world.timeline.active(clock.now()).name == "high_load"
    assert restarted.start_anomaly("load_spike").id != spike.id  # ids go on

    forgotten = runtime(clock, None)  # without it the past is recomputed from the configured scenario alone
    now = vllm_counters(forgotten)
    assert sum(now[k] < v for k, v in served.items()) > len(served) // 2  # counters would fall back


def test_stopped_and_event_anomalies_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    clock = SimClock(T0)
    rt = runtime(clock, path)
    leak = rt.start_anomaly("latency_spike", duration_s=3600, ramp_s=600)
    rt.start_anomaly("container_restart", target=rt.world.cids[0].name)
    clock.advance(120)
    rt.stop_anomaly(leak.id)  # a duration now shorter than its ramp: still a valid saved anomaly
    again = runtime(clock, path)
    assert again.world.timeline.anomalies == rt.world.timeline.anomalies
    assert again.world.timeline.segments == rt.world.timeline.segments


def write(path: Path, **changes: object) -> str:
    clock = SimClock(T0)
    rt = runtime(clock, path)
    rt.switch_scenario("degraded", ramp_s=10)
    rt.start_anomaly("gpu_xid", target="3")
    doc = json.loads(path.read_text())
    for key, value in changes.items():
        where, _, field = key.partition("__")
        if field:
            i, _, name = field.partition("__")
            doc[where][int(i)][name] = value
        else:
            doc[where] = value
    text = json.dumps(doc)
    path.write_text(text)
    return text


@pytest.mark.parametrize(("changes", "message"), [
    ({"seed": 8}, "seed: 8 was written by another mock"),
    ({"host": "other"}, "host: 'other' was written by another mock"),
    ({"segments": []}, "at least one segment"),
    ({"segments__1__params": {"load.activity": 1e9}}, "segments[1]: params.load.activity: 1000000000.0 is outside"),
    ({"segments__1__params": {"nope": 1}}, "segments[1]: params.nope: unknown parameter"),
    ({"segments__1__start_t": None}, "segments[1].start_t: None is not a time"),
    ({"segments__0__start_t": T0 + 1e6}, "segments[1].start_t: 1795000020.0 is before the previous segment's"),
    ({"segments__1__ramp_s": "x"}, "segments[1].ramp_s: 'x' is not a ramp"),
    ({"anomalies__0__kind": "meteor"}, "anomalies[0]: unknown anomaly kind 'meteor'"),
    ({"anomalies__0__target": "../../etc"}, "anomalies[0]: target: '../../etc' is not a GPU index"),
    ({"anomalies__0__magnitude": 1e9}, "anomalies[0]: magnitude: 1000000000.0 is outside"),
    ({"anomalies__0__id": "x1"}, "anomalies[0].id: 'x1' is not an id"),
])
def test_a_bad_state_file_stops_the_start_naming_file_key_and_value(tmp_path: Path, changes: dict[str, object],
                                                                    message: str) -> None:
    path = tmp_path / "state.json"
    text = write(path, **changes)
    with pytest.raises(ConfigError) as err:
        runtime(SimClock(T0 + 60), path)
    assert str(path) in str(err.value) and message in str(err.value)
    assert path.read_text() == text  # never overwritten by a start that failed


def test_unreadable_and_oversized_files(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read the state file"):
        runtime(SimClock(T0), path)
    path.write_text(" " * (2 << 20))
    with pytest.raises(ConfigError, match="larger than"):
        runtime(SimClock(T0), path)


def test_unwritable_path_fails_at_start(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file where the folder should be")
    with pytest.raises(ConfigError, match="file/state.json: cannot read the state file .*Not a directory"):
        runtime(SimClock(T0), tmp_path / "file" / "state.json")
    with pytest.raises(StartupError, match="state_file /proc/otelmock/state.json: cannot write"):
        runtime(SimClock(T0), Path("/proc/otelmock/state.json"))  # absent, and not creatable even by root


def test_a_failed_write_keeps_the_change_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "sub" / "state.json"
    rt = runtime(SimClock(T0), path)
    path.unlink()  # the folder becomes a file: unwritable even for root
    path.parent.rmdir()
    path.parent.write_text("not a folder")
    with caplog.at_level(logging.ERROR):
        seg = rt.switch_scenario("high_load")
    assert rt.world.timeline.segments[-1] == seg
    assert "not written" in caplog.text and "restart would not resume" in caplog.text

"""The log sink: Docker's json-file layout on disk, rotation, bad directories, OpenTelemetry log records."""

from __future__ import annotations

import calendar
import json
import logging
import os
import re
from collections import Counter
from pathlib import Path

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from otelmock import config
from otelmock.logs.dockerjson import encode_entries, marshal_attrs
from otelmock.logs.generator import LogGenerator, LogRates
from otelmock.logs.rotate import RotationPolicy
from otelmock.logs.sink import DockerLogSink, policy_log_opts, record_entries
from otelmock.scenario.timeline import Timeline
from otelmock.world.model import World
from otelmock.world.snapshot import Snapshot

T0 = 1_795_000_000
QUICK = LogRates(access_sample=0, stats_interval_s=60.0, scrape_interval_s=60.0, health_interval_s=120.0)
TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")
VLLM_ERROR = re.compile(r"^(\(\S+ pid=\d+\) )?ERROR \d\d-\d\d ")


def _world(params: dict[str, float]) -> World:
    return World(config.load(seed=7, host__reboot_every_days=3), Timeline.constant("x", params))


@pytest.fixture(scope="module")
def day() -> list[Snapshot]:
    w = _world({"serving.error_rate": 0.05})
    return [w.snapshot(n) for n in range(T0, T0 + 86_400 + 1, 600)]


def _run(root: Path, snaps: list[Snapshot], policy: RotationPolicy, rates: LogRates = QUICK,
         otel: LoggerProvider | None = None) -> DockerLogSink:
    gen, sink = LogGenerator(7, rates), DockerLogSink(root, policy, otel, logpath_root="/var/lib/docker")
    sink.sync(snaps[0])
    for a, b in zip(snaps, snaps[1:], strict=False):
        sink.sync(b)
        sink.write(gen.records(a, b))
    sink.close()
    return sink


def _ns(text: str) -> int:
    m = TIME.fullmatch(text)
    assert m is not None, text
    seconds = calendar.timegm(tuple(int(x) for x in m.groups()[:6]))  # type: ignore[arg-type]
    return seconds * 10**9 + int((m[7] or "0").ljust(9, "0"))


def _files_oldest_first(directory: Path, cid: str) -> list[Path]:
    rotated = sorted(directory.glob(f"{cid}-json.log.*"), key=lambda p: -int(p.name.split(".")[2]))
    return [*rotated, directory / f"{cid}-json.log"]


def test_a_day_of_logs_is_docker_json_in_key_order_and_time_order(tmp_path: Path, day: list[Snapshot]) -> None:
    _run(tmp_path, day, RotationPolicy(max_size=300_000, max_file=3))
    dirs = sorted((tmp_path / "containers").iterdir())
    assert {d.name for d in dirs} == {c.id for c in day[-1].containers}
    names = {c.id: c for c in day[-1].containers}
    lines, writers = 0, 0
    for d in dirs:
        c = names[d.name]
        cfg = json.loads((d / "config.v2.json").read_text())
        assert cfg["Name"] == "/" + c.name and cfg["Config"]["Image"] == c.image
        assert cfg["Config"]["Labels"]["com.docker.compose.service"] == c.service
        assert cfg["LogPath"] == f"/var/lib/docker/containers/{c.id}/{c.id}-json.log"
        opts = json.loads((d / "hostconfig.json").read_text())["LogConfig"]["Config"]
        assert opts["max-size"] == "300k" and opts["max-file"] == "3" and opts["tag"] == "{{.Name}}"
        last = 0
        for path in _files_oldest_first(d, c.id):
            for raw in path.read_bytes().splitlines():
                entry = json.loads(raw, object_pairs_hook=list)
                assert [k for k, _ in entry] == ["log", "stream", "attrs", "time"]
                doc = dict(entry)
                assert doc["stream"] in ("stdout", "stderr") and doc["log"].endswith("\n")
                assert dict(doc["attrs"]) == {"com.docker.compose.project": "llm-stack",
                                              "com.docker.compose.service": c.service, "tag": c.name}
                t = _ns(doc["time"])
                assert t >= last
                last = t
                lines += 1
        writers += last > 0
    assert writers >= len(dirs) - 2  # promtail and dcgm-exporter only speak when they start
    assert lines > 20_000  # what rotation kept


def test_same_seed_and_snapshots_give_the_same_bytes(tmp_path: Path, day: list[Snapshot]) -> None:
    for run in ("a", "b"):
        _run(tmp_path / run, day[:7], RotationPolicy(max_size=50_000, max_file=2), LogRates())
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) > 40
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_rotation_bounds_the_directory_over_a_long_run(tmp_path: Path) -> None:
    """A day at three times the request rate: 100 kB files, three kept, gzipped."""
    w = _world({"serving.rate_scale": 3.0, "serving.error_rate": 0.01})
    snaps = [w.snapshot(n) for n in range(T0, T0 + 86_400 + 1, 2 * 3600)]
    policy = RotationPolicy(max_size=100_000, max_file=3, compress=True)
    gen = LogGenerator(7, QUICK)
    longest = written = 0
    sink = DockerLogSink(tmp_path, policy)
    for a, b in zip(snaps, snaps[1:], strict=False):
        records = gen.records(a, b)
        sink.sync(b)
        sink.write(records)
        written += sum(len(r.message) for r in records)
        longest = max([longest, *(len(line) for r in records for line in r.message.split("\n"))])
    sink.close()
    per_container = policy.max_file * (policy.max_size + 2 * longest + 200)  # an entry may overshoot max-size
    total = sum(p.stat().st_size for p in tmp_path.rglob("*-json.log*"))
    containers = len(snaps[-1].containers)
    assert total <= containers * per_container
    assert written > 4 * total  # rotation did throw most of it away
    assert list(tmp_path.rglob("*-json.log.2.gz")) and not list(tmp_path.rglob("*-json.log.3*"))


@pytest.mark.parametrize("message", [
    "plain", "", 'say "hi" \\ <b> & co', "a\nb\n\nc", "tab\there", "é ü 中 \u2028", "\x1b[32m 200 OK\x1b[0m",
    "x" * 20_000, "y" * 16_384, "\udcff raw byte", '{"message": "litellm \\u001b[31m", "level": "ERROR"}',
])  # fmt: skip
def test_record_entries_are_dockerjson_entries(message: str) -> None:
    for attrs in ({}, {"tag": "vllm-llama-8b", "com.docker.compose.service": "vllm"}):
        assert record_entries(message, "stderr", T0 * 10**9 + 120, marshal_attrs(attrs)) == \
            encode_entries(message + "\n", "stderr", T0 * 10**9 + 120, attrs)


def test_policy_becomes_log_opts() -> None:
    opts = {"max-size": "10m", "max-file": "3", "compress": "true"}
    assert policy_log_opts(RotationPolicy(10_000_000, 3, True)) == opts
    assert policy_log_opts(RotationPolicy(1234, 1)) == {"max-size": "1234"}
    assert policy_log_opts(RotationPolicy()) == {}


def test_unwritable_directory_logs_one_error_and_never_raises(
    tmp_path: Path, day: list[Snapshot], caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "not-a-directory"
    root.write_text("")
    sink = DockerLogSink(root, RotationPolicy(max_size=10_000, max_file=2))
    gen = LogGenerator(7)
    with caplog.at_level(logging.ERROR, logger="otelmock.logs.sink"):
        for a, b in zip(day[:4], day[1:4], strict=False):
            sink.sync(b)
            sink.write(gen.records(a, b))
        sink.close()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert str(root) in errors[0].getMessage() and "dropped" in errors[0].getMessage()


def test_a_full_disk_drops_that_containers_lines_only(
    tmp_path: Path, day: list[Snapshot], caplog: pytest.LogCaptureFixture
) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    victim = day[0].containers[0]
    directory = tmp_path / "containers" / victim.id
    directory.mkdir(parents=True)
    (directory / f"{victim.id}-json.log").symlink_to("/dev/full")
    sink = DockerLogSink(tmp_path, RotationPolicy())
    gen = LogGenerator(7)
    with caplog.at_level(logging.ERROR, logger="otelmock.logs.sink"):
        for a, b in zip(day[:3], day[1:3], strict=False):
            sink.sync(b)
            sink.write(gen.records(a, b))
    assert [r.getMessage() for r in caplog.records if "No space left on device" in r.getMessage()] != []
    assert len(caplog.records) == 1
    other = day[0].containers[1]
    assert (tmp_path / "containers" / other.id / f"{other.id}-json.log").stat().st_size > 0


def test_otel_log_records_carry_the_container_resource_and_event_time(tmp_path: Path) -> None:
    w = _world({"serving.error_rate": 0.2})
    snaps = [w.snapshot(n) for n in range(T0, T0 + 301, 60)]
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "otelmock-logs"}), shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    gen, sink = LogGenerator(7), DockerLogSink(tmp_path, RotationPolicy(), provider)
    records = []
    for a, b in zip(snaps, snaps[1:], strict=False):
        sink.sync(b)
        batch = gen.records(a, b)
        sink.write(batch)
        records += batch
    sink.close()
    logs = exporter.get_finished_logs()
    assert len(logs) == len(records) > 100
    containers = {c.id: c for c in snaps[-1].containers}
    for r, out in zip(records, logs, strict=True):
        attrs, c = out.resource.attributes, containers[r.container_id]
        image, tag = c.image.rsplit(":", 1)
        assert attrs["container.id"] == r.container_id and attrs["container.name"] == c.name
        assert attrs["container.image.name"] == image and tuple(attrs["container.image.tags"]) == (tag,)
        assert attrs["host.name"] == snaps[-1].host.hostname and attrs["service.name"] == "otelmock-logs"
        assert out.log_record.timestamp == r.time_ns and out.log_record.body == r.message
        assert out.log_record.severity_text == r.severity
        assert out.log_record.attributes is not None and out.log_record.attributes["log.iostream"] == r.stream
    errors = Counter(containers[r.container_id].name for r in records if r.severity == "ERROR"
                     and VLLM_ERROR.match(r.message))
    for v0, v1 in zip(snaps[0].vllm, snaps[-1].vllm, strict=True):
        if next(c for c in snaps[0].containers if c.name == v0.container).start_time == \
                next(c for c in snaps[-1].containers if c.name == v0.container).start_time:
            assert errors[v0.container] == v1.counters["errors"] - v0.counters["errors"]

"""The mock cAdvisor against the real one's interface (golden files of google/cadvisor's lib/metrics/testdata)."""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Sequence

import numpy as np
import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from otelmock.bridge.otel import ExporterMeters
from otelmock.bridge.prometheus import PrometheusBridge
from otelmock.exporters import cadvisor
from otelmock.exporters.base import Family, Process
from otelmock.exporters.cadvisor_view import label_keys
from otelmock.world.host import CPU_MODES
from otelmock.world.snapshot import ContainerState, Disk, Filesystem, HostSnapshot, NetDev, Snapshot
from tests.conftest import DATA, GOLDEN, T0

GIB = float(1 << 30)
# label names of the reference files that come from the test's label function, not from cAdvisor's defaults
TEST_ONLY = {"zone_name"}
# families the reference container has no data for (no memory spec): HELP from lib/metrics/prometheus.go
FROM_SOURCE = {
    "container_spec_memory_limit_bytes": ("gauge", "Memory limit for the container."),
    "container_spec_memory_reservation_limit_bytes": ("gauge", "Memory reservation limit for the container."),
    "container_spec_memory_swap_limit_bytes": ("gauge", "Memory swap limit for the container."),
}


def _compose(service: str, number: int = 1) -> dict[str, str]:
    return {
        "com.docker.compose.config-hash": hashlib.sha256(service.encode()).hexdigest(),
        "com.docker.compose.container-number": str(number), "com.docker.compose.depends_on": "",
        "com.docker.compose.image": "sha256:" + "5e" * 32, "com.docker.compose.oneoff": "False",
        "com.docker.compose.project": "llm", "com.docker.compose.project.config_files": "/opt/llm/compose.yaml",
        "com.docker.compose.project.working_dir": "/opt/llm", "com.docker.compose.service": service,
        "com.docker.compose.version": "2.29.7",
    }


CUDA_IMAGE = {"maintainer": "NVIDIA CORPORATION <cudatools@nvidia.com>",
              "org.opencontainers.image.ref.name": "ubuntu", "org.opencontainers.image.version": "22.04"}


def _container(name: str, kind: str, *, n: int, state: str = "running", restarts: int = 0, started: float,
               gpus: tuple[int, ...] = (), scale: float = 1.0, limit_cores: float = 0.0, mem_limit: float = 0.0,
               host_network: bool = False) -> ContainerState:
    labels = _compose(name) | (CUDA_IMAGE if kind == "vllm" else {})
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HF_HOME": "/data/hf"}
    if gpus:
        env["NVIDIA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
        env["NVIDIA_DRIVER_CAPABILITIES"] = "compute,utility"
    image = {"vllm": "vllm/vllm-openai:v0.11.0", "proxy": "ghcr.io/berriai/litellm:main-v1.110.2"}.get(
        kind, "prom/prometheus:v2.55.1")
    cpu = {"user_s": 5210.37 * scale, "system_s": 841.12 * scale, "usage_s": 6051.49 * scale}
    if limit_cores:
        cpu |= {"limit_cores": limit_cores, "periods": 90_210 * scale, "throttled_periods": 312 * scale,
                "throttled_s": 18.5 * scale}
    usage = 6.4 * GIB * min(scale * 4, 1.0)
    memory = {"usage": usage, "working_set": 0.92 * usage, "rss": 0.8 * usage, "cache": 0.2 * usage,
              "mapped_file": 0.05 * usage, "max_usage": 1.02 * usage, "limit": mem_limit,
              "failures_pgfault": 2.1e7 * scale, "failures_pgmajfault": 812 * scale, "kernel_usage": 0.01 * usage}
    network = {} if host_network else {
        "rx_bytes": 8.1e9 * scale, "tx_bytes": 2.2e10 * scale, "rx_packets": 7.3e6 * scale,
        "tx_packets": 9.9e6 * scale, "rx_errors": 0.0, "tx_errors": 0.0, "rx_dropped": 0.0, "tx_dropped": 0.0}
    fs = {"reads_bytes": 1.4e11 * scale, "writes_bytes": 3.3e8 * scale, "reads": 1.1e6 * scale,
          "writes": 4.2e4 * scale, "usage_bytes": 48_271_360.0, "limit_bytes": 1_888_753_451_008.0}
    tasks = {"processes": 9.0, "threads": 412.0, "fds": 187.0, "sockets": 61.0}
    return ContainerState(f"{n:02x}" * 32, name, image, kind, name, labels, env, gpus, T0 - 40 * 86_400 + n,
                          started, restarts, state, cpu, memory, network, fs, tasks)


def _containers() -> tuple[ContainerState, ...]:
    return (
        _container("vllm-llama-70b", "vllm", n=1, started=T0 - 3 * 86_400 - 0.6, gpus=(0, 1, 2, 3)),
        _container("vllm-llama-8b", "vllm", n=2, state="loading", restarts=2, started=T0 - 41.3, gpus=(6,),
                   scale=0.002),
        _container("litellm", "proxy", n=3, started=T0 - 9 * 86_400, limit_cores=4.0, mem_limit=8 * GIB),
        _container("prometheus", "infra", n=4, started=T0 - 9 * 86_400, scale=0.3),
        _container("dcgm-exporter", "infra", n=5, started=T0 - 9 * 86_400, scale=0.01, host_network=True),
        _container("redis", "infra", n=6, state="exited", started=T0 - 20 * 86_400),
    )


@pytest.fixture(scope="module")
def host() -> HostSnapshot:
    """A 32-thread host up for 5 days, built by hand so that the golden file follows this exporter only."""
    up = 5 * 86_400.0
    shares = {"user": 0.21, "nice": 0.001, "system": 0.043, "idle": 0.71, "iowait": 0.006, "irq": 0.0, "softirq": 0.004,
              "steal": 0.0}
    cpu = np.array([[round(up * shares[m] * (1 + 0.01 * (c % 5)), 2) for m in CPU_MODES] for c in range(32)])
    disk = {"reads": 8_412_733.0, "writes": 21_377_016.0, "read_bytes": 5.6812e11, "written_bytes": 1.1041e12,
            "reads_merged": 673_018.0, "writes_merged": 6_413_104.0, "read_time_s": 925.442, "write_time_s": 470.294,
            "io_time_s": 1_532.108, "io_time_weighted_s": 2_144.951}
    memory = {"MemTotal": 540_806_864_896.0, "MemFree": 301_337_317_376.0, "Active_anon": 98_107_392_000.0,
              "Inactive_anon": 53_512_781_824.0, "Active_file": 41_234_432_000.0, "Inactive_file": 50_397_184_000.0,
              "Mapped": 7_515_717_632.0, "SwapTotal": 8 * GIB, "SwapFree": 8 * GIB - 67_108_864, "Dirty": 104_857_600.0,
              "Writeback": 0.0}
    net = {"receive_bytes": 1.317535293e12, "receive_packets": 1.19775935e9, "receive_errs": 0.0,
           "receive_drop": 1197.0, "transmit_bytes": 2.90412274e12, "transmit_packets": 2.52532412e9,
           "transmit_errs": 0.0, "transmit_drop": 0.0}
    return HostSnapshot(
        "gpu-test-01", "2e7aabc170bf5d9f7f493197c093d755", "6.1.0-28-amd64", "debian", "12", 32, T0 - up, cpu,
        np.full(32, 2.4e9), (3.1, 2.9, 2.7), memory,
        (Disk("nvme0n1", {k: 0.3 * v for k, v in disk.items()}, 0.0), Disk("nvme1n1", disk, 1.0)),
        (Filesystem("/dev/nvme0n1p2", "/", "ext4", 1_888_753_451_008, 1_736_282_112_000, 1_641_844_439_040,
                    115_280_362, 111_821_951, False),
         Filesystem("/dev/nvme0n1p1", "/boot/efi", "vfat", 535_805_952, 529_768_448, 529_768_448, 0, 0, False),
         Filesystem("/dev/nvme1n1", "/data", "xfs", 7_681_501_126_656, 5_201_157_509_120, 5_201_157_509_120,
                    468_841_621, 454_776_372, False),
         Filesystem("tmpfs", "/run", "tmpfs", 54_080_684_032, 54_076_484_608, 54_076_484_608, 1_650_411, 0, False)),
        (NetDev("eno1", True, 3_125_000_000, 1500, "7c:c2:55:3a:10:40", net),
         NetDev("eno2", False, -1, 1500, "7c:c2:55:3a:11:47", dict.fromkeys(net, 0.0)),
         NetDev("docker0", True, -1, 1500, "02:42:5e:9a:0c:11", {k: 0.06 * v for k, v in net.items()}),
         NetDev("lo", True, -1, 65536, "00:00:00:00:00:00", {k: 0.01 * v for k, v in net.items()})),
        {"pgfault": 361_964_938.0, "pgmajfault": 291_573.0, "oom_kill": 0.0, "psi_cpu_waiting": 1_402.551_318,
         "psi_mem_waiting": 3.210_442, "psi_mem_stalled": 1.900_171, "psi_io_waiting": 221.046_912,
         "psi_io_stalled": 180.332_007},
        {},
    )


def _snap(host: HostSnapshot, containers: Sequence[ContainerState], t: float = T0) -> Snapshot:
    return Snapshot(int(t), t, "normal", host, {}, containers=tuple(containers))


def render(snap: Snapshot, fams: Sequence[Family] | None = None) -> str:
    reader = InMemoryMetricReader()
    process = Process(start_time=T0 - 3_600.25, scrapes={"200": 240, "500": 0, "503": 0})
    meters = ExporterMeters("cadvisor", cadvisor.families(None) if fams is None else fams, Resource.create({}),
                            lambda: (snap, process), [reader])
    try:
        return PrometheusBridge(meters, reader, "go").render().decode()
    finally:
        meters.shutdown()


@functools.cache
def samples(text: str) -> tuple[Sample, ...]:
    return tuple(s for f in text_string_to_metric_families(text) for s in f.samples)


def interface(text: str) -> dict[str, tuple[str, str, frozenset[str]]]:
    """family name as exposed -> (TYPE, HELP, label names of its samples but le/quantile)."""
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    helps = dict(re.findall(r"^# HELP (\S+) (.*)$", text, re.M))
    keys: dict[str, set[str]] = {name: set() for name in types}
    for s in samples(text):
        # the parser names samples of a counter without _total as if it had one
        name = next(n for n in (s.name, s.name.removesuffix("_total"), re.sub(r"_(sum|count|bucket)$", "", s.name))
                    if n in types)
        keys[name] |= set(s.labels) - {"le", "quantile"}
    return {n: (types[n], helps[n], frozenset(keys[n])) for n in types}


def _generic(keys: frozenset[str]) -> frozenset[str]:
    return frozenset(k for k in keys if not k.startswith(("container_label_", "container_env_")) and k not in TEST_ONLY)


def test_golden(host: HostSnapshot, update_golden: bool) -> None:
    text = render(_snap(host, _containers()))
    path = GOLDEN / "cadvisor.prom"
    if update_golden:
        path.write_text(text)
    assert text == path.read_text()


def test_text_parses_and_families_are_sorted(host: HostSnapshot) -> None:
    text = render(_snap(host, _containers()))
    names = re.findall(r"^# TYPE (\S+)", text, re.M)
    assert names == sorted(names) and len(names) == len(set(names))
    assert len(list(text_string_to_metric_families(text))) == len(names)


def test_type_help_and_label_names_match_the_real_cadvisor(host: HostSnapshot) -> None:
    real = interface((DATA / "cadvisor_prometheus_metrics").read_text())
    real |= interface((DATA / "cadvisor_prometheus_machine_metrics").read_text())
    mock = interface(render(_snap(host, _containers())))
    common = sorted(set(real) & set(mock))
    assert len(common) >= 80
    for name in common:
        r_type, r_help, r_keys = real[name]
        m_type, m_help, m_keys = mock[name]
        assert (m_type, m_help) == (r_type, r_help), name
        assert _generic(m_keys) == _generic(r_keys), name
    for name in sorted(set(mock) - set(real)):
        if name.startswith(("go_", "process_")):
            continue
        assert name in FROM_SOURCE, f"{name}: no reference for this family"
        assert mock[name][:2] == FROM_SOURCE[name]


def test_every_series_carries_the_union_of_the_containers_label_names(host: HostSnapshot) -> None:
    containers = _containers()
    keys = label_keys(containers)
    assert "container_env_nvidia_visible_devices" in keys and "container_label_restartcount" in keys
    assert "container_label_com_docker_compose_project_working_dir" in keys
    text = render(_snap(host, containers), cadvisor.families(None, keys))
    fams = interface(text)
    expected = {"id", "image", "name", *keys}
    seen = 0
    for s in samples(text):
        if s.name.startswith("container_") and s.name != "container_scrape_error":
            base = {k for k in s.labels if k in expected}
            assert base == expected, s.name
            seen += 1
            if s.labels["id"] == "/":
                assert all(s.labels[k] == "" for k in expected - {"id"}), s.name
    assert seen > 500
    assert all(_generic(v[2]) == v[2] - set(keys) for n, v in fams.items() if n.startswith("container_"))


def test_default_label_names_are_the_same_on_every_series(host: HostSnapshot) -> None:
    text = render(_snap(host, _containers()))
    sets = {frozenset(k for k in s.labels if k.startswith(("container_label_", "container_env_")))
            for s in samples(text) if s.name.startswith("container_") and s.name != "container_scrape_error"}
    assert len(sets) == 1


def test_root_cgroup_and_running_containers_only(host: HostSnapshot) -> None:
    text = render(_snap(host, _containers()))
    ids = {s.labels["id"]: s.labels["name"] for s in samples(text) if s.name == "container_last_seen"}
    assert ids.pop("/") == ""
    assert sorted(ids.values()) == ["dcgm-exporter", "litellm", "prometheus", "vllm-llama-70b", "vllm-llama-8b"]
    assert all(re.fullmatch(r"/system\.slice/docker-[0-9a-f]{64}\.scope", i) for i in ids)
    assert 'name="redis"' not in text


def _value(text: str, metric: str, **labels: str) -> float:
    found = [s.value for s in samples(text)
             if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (metric, labels, found)
    return float(found[0])


def test_a_restarted_container_keeps_its_id_and_starts_its_counters_from_zero(host: HostSnapshot) -> None:
    before = _container("vllm-llama-8b", "vllm", n=2, started=T0 - 5 * 86_400, gpus=(6,))
    after = _container("vllm-llama-8b", "vllm", n=2, state="loading", restarts=1, started=T0 + 50, gpus=(6,), scale=0.0)
    a = render(_snap(host, [before], T0 + 40), cadvisor.families(None))
    b = render(_snap(host, [after], T0 + 60), cadvisor.families(None))
    sel = {"name": "vllm-llama-8b"}
    assert _value(a, "container_cpu_user_seconds_total", **sel) > 1000
    assert _value(b, "container_cpu_user_seconds_total", **sel) == 0
    assert _value(b, "container_network_transmit_bytes_total", **sel) == 0
    assert not [s for s in samples(b) if s.name == "container_cpu_usage_seconds_total" and s.labels["name"]]
    assert _value(b, "container_start_time_seconds", **sel) == T0 + 50
    assert _value(a, "container_creation_time_seconds", **sel) == _value(b, "container_creation_time_seconds", **sel)
    assert _value(b, "container_health_state", **sel) == 0 and _value(a, "container_health_state", **sel) == 1
    ids = {s.labels["id"] for t in (a, b) for s in samples(t) if s.name == "container_last_seen" and s.labels["name"]}
    assert len(ids) == 1
    assert _value(b, "container_last_seen", container_label_restartcount="1") == T0 + 60
    assert _value(a, "container_last_seen", container_label_restartcount="", **sel) == T0 + 40


def test_gpu_mapping_and_compose_labels(host: HostSnapshot) -> None:
    text = render(_snap(host, _containers()))
    labels = next(s.labels for s in samples(text)
                  if s.name == "container_memory_usage_bytes" and s.labels["name"] == "vllm-llama-70b")
    assert labels["container_env_nvidia_visible_devices"] == "0,1,2,3"
    assert labels["container_label_com_docker_compose_service"] == "vllm-llama-70b"
    assert labels["container_label_org_opencontainers_image_version"] == "22.04"
    assert labels["image"] == "vllm/vllm-openai:v0.11.0"
    assert "container_env_path" not in labels and "container_env_nvidia_driver_capabilities" not in labels


def test_cfs_and_memory_limits_follow_the_container_spec(host: HostSnapshot) -> None:
    text = render(_snap(host, _containers()))
    quota = {s.labels["name"]: s.value for s in samples(text) if s.name == "container_spec_cpu_quota"}
    assert quota == {"litellm": 400_000}
    throttled = {s.labels["name"] for s in samples(text) if s.name == "container_cpu_cfs_throttled_seconds_total"}
    assert throttled == {"litellm"}
    assert _value(text, "container_spec_memory_limit_bytes", name="litellm") == 8 * GIB
    assert _value(text, "container_spec_memory_limit_bytes", name="prometheus") == 0
    assert _value(text, "container_spec_cpu_shares", name="prometheus") == 2597  # cpu.weight 100 seen as shares
    assert not [s for s in samples(text) if s.name.startswith("container_spec_memory") and s.labels["id"] == "/"]


def test_values_come_from_the_snapshot(host: HostSnapshot) -> None:
    containers = _containers()
    text = render(_snap(host, containers))
    c = containers[0]
    assert _value(text, "container_cpu_usage_seconds_total", name=c.name, cpu="total") == c.cpu["usage_s"]
    # bytes and counts are whole numbers, as cAdvisor's uint64 fields
    assert _value(text, "container_memory_working_set_bytes", name=c.name) == math.floor(c.memory["working_set"])
    assert _value(text, "container_memory_total_inactive_file_bytes", name=c.name) == math.floor(
        c.memory["usage"] - c.memory["working_set"])
    assert _value(text, "container_network_receive_bytes_total", name=c.name, interface="eth0") == c.network["rx_bytes"]
    assert _value(text, "container_fs_reads_bytes_total", name=c.name, device="/dev/nvme1n1") == c.fs["reads_bytes"]
    assert _value(text, "container_fs_reads_total", name=c.name, device="/dev/nvme0n1p2") == 0
    assert _value(text, "container_blkio_device_usage_total", name=c.name, operation="Write", major="259",
                  minor="3") == c.fs["writes_bytes"]
    assert _value(text, "container_memory_failures_total", name=c.name, failure_type="pgmajfault",
                  scope="hierarchy") == c.memory["failures_pgmajfault"]
    assert _value(text, "container_threads", name=c.name) == c.tasks["threads"]
    assert _value(text, "container_last_seen", id="/") == math.floor(T0)
    assert _value(text, "container_start_time_seconds", name=c.name) == math.floor(c.start_time)
    host_network = [s for s in samples(text) if s.name.startswith("container_net") and
                    s.labels["name"] == "dcgm-exporter"]
    assert host_network == []
    assert _value(text, "machine_memory_bytes") == host.memory["MemTotal"]
    assert _value(text, "machine_cpu_cores") == host.cpus
    assert _value(text, "cadvisor_version_info", cadvisorVersion=cadvisor.VERSION) == 1
    busy = host.cpu_seconds.sum(axis=0)
    kernel_usage = sum(float(busy[CPU_MODES.index(m)]) for m in ("user", "nice", "system", "irq", "softirq", "steal"))
    assert _value(text, "container_cpu_usage_seconds_total", id="/") == pytest.approx(kernel_usage)

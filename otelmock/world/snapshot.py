"""The frozen snapshot of one tick: the only thing exporters and logs read (DESIGN invariant 1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class Disk:
    name: str
    counters: dict[str, float]   # reads, writes, read_bytes, written_bytes, io_time_s, ... (since boot)
    io_now: float


@dataclass(frozen=True, slots=True)
class Filesystem:
    device: str
    mountpoint: str
    fstype: str
    size_bytes: float
    free_bytes: float
    avail_bytes: float
    files: float
    files_free: float
    readonly: bool


@dataclass(frozen=True, slots=True)
class NetDev:
    name: str
    up: bool
    speed_bytes: float
    mtu: int
    address: str
    counters: dict[str, float]   # receive_bytes, receive_packets, transmit_bytes, ... (since boot)


@dataclass(frozen=True, slots=True)
class HostSnapshot:
    hostname: str
    machine_id: str
    kernel: str
    os_id: str
    os_version: str
    cpus: int
    boot_time: float
    cpu_seconds: np.ndarray          # (cpus, len(CPU_MODES)) seconds since boot, CPU_MODES order
    cpu_freq_hz: np.ndarray          # (cpus,)
    load: tuple[float, float, float]  # 1, 5, 15 minutes
    memory: dict[str, float]          # /proc/meminfo fields in bytes (HugePages_* as counts)
    disks: tuple[Disk, ...]
    filesystems: tuple[Filesystem, ...]
    netdevs: tuple[NetDev, ...]
    counters: dict[str, float]        # scalar counters since boot (ctxt, intr, forks, vmstat, netstat, psi...)
    gauges: dict[str, float]          # scalar gauges (procs, sockets, entropy, conntrack, filefd...)




@dataclass(frozen=True, slots=True)
class Histogram:
    """A Prometheus histogram since its owner started: cumulative bucket counts, +Inf last."""

    bounds: tuple[float, ...]         # upper bounds without +Inf
    buckets: tuple[float, ...]        # cumulative counts, len(bounds) + 1; the last is the count
    sum: float

    @property
    def count(self) -> float:
        return self.buckets[-1]


@dataclass(frozen=True, slots=True)
class GpuState:
    """One GPU as NVML/DCGM sees it. ``values`` keys are listed in ``otelmock.world.gpus.GPU_VALUES``."""

    index: int
    minor: int                        # /dev/nvidiaN
    uuid: str                         # GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
    pci_bus_id: str                   # 00000000:XX:00.0
    serial: str
    model: str                        # NVIDIA H200
    driver_version: str               # e.g. 580.159.04
    present: bool                     # False once it fell off the bus: its series disappear
    containers: tuple[str, ...]       # names of the containers holding it
    values: dict[str, float]


@dataclass(frozen=True, slots=True)
class ContainerState:
    """One Docker container as cAdvisor and the Docker daemon see it (counters since its start)."""

    id: str                           # 64 hex
    name: str                         # without the leading slash
    image: str                        # repository:tag
    kind: str                         # vllm | proxy | infra
    service: str                      # compose service name
    labels: dict[str, str]            # Docker labels (compose, image version)
    env: dict[str, str]               # environment (NVIDIA_VISIBLE_DEVICES, ...)
    gpus: tuple[int, ...]
    created: float                    # container creation time
    start_time: float                 # current run's start (moves on restart)
    restarts: int
    state: str                        # loading | running | exited
    cpu: dict[str, float]             # user_s, system_s, usage_s counters; throttled_periods ...
    memory: dict[str, float]          # usage, working_set, rss, cache, limit, failcnt ... bytes
    network: dict[str, float]         # rx_bytes, tx_bytes, rx_packets, ... counters
    fs: dict[str, float]              # reads_bytes, writes_bytes, reads, writes, usage_bytes, limit_bytes
    tasks: dict[str, float]           # processes, threads, fds, sockets


@dataclass(frozen=True, slots=True)
class VllmState:
    """One vLLM server (one container): engine gauges, counters and histograms since its start."""

    container: str
    model_name: str                   # --served-model-name
    kind: str                         # llm | embedding | reranker
    engine: str                       # "0"
    version: str                      # vLLM version of the image, e.g. 0.11.0
    port: int                         # the container's own API port
    max_model_len: int
    gpus: tuple[int, ...]
    tp: int
    gpu_memory_utilization: float
    num_gpu_blocks: int
    block_size: int
    created: float                    # process start (for _created and process_start_time_seconds)
    serving: bool                     # the model is loaded and the API answers
    gauges: dict[str, float]          # num_requests_running, num_requests_waiting, kv_cache_usage_perc
    counters: dict[str, float]        # prompt_tokens, generation_tokens, num_preemptions, prefix_cache_queries,
                                      # prefix_cache_hits, request_success:stop|length|abort|error, ...
    histograms: dict[str, Histogram]  # by vLLM family name without the "vllm:" prefix


@dataclass(frozen=True, slots=True)
class LitellmModel:
    """One model group of the LiteLLM proxy and the deployment (vLLM container(s)) behind it."""

    model_group: str                  # public model name clients ask for
    model: str                        # litellm model string, e.g. hosted_vllm/meta-llama/Llama-3.1-8B-Instruct
    model_id: str                     # deployment id
    api_base: str                     # http://<container>:8000/v1
    api_provider: str                 # hosted_vllm
    kind: str                         # llm | embedding | reranker
    containers: tuple[str, ...]
    counters: dict[str, float]        # requests, successes, failures:<status>:<exception_class>, input_tokens,
                                      # output_tokens, spend, cache_hits ...
    gauges: dict[str, float]          # deployment_state (0 healthy, 1 partial, 2 outage), remaining_requests, ...
    histograms: dict[str, Histogram]  # request_total_latency_metric, llm_api_latency_metric,
    #                                   llm_api_time_to_first_token_metric ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    tick: int
    t: float
    scenario: str
    host: HostSnapshot
    extra: dict[str, Any]             # free-form parts (tests, experiments)
    gpus: tuple[GpuState, ...] = ()
    containers: tuple[ContainerState, ...] = ()
    vllm: tuple[VllmState, ...] = ()
    litellm: tuple[LitellmModel, ...] = ()


class Withheld:
    """The serving side of a host-only snapshot (``World.snapshot_run(..., serving=False)``): reading it is a
    mistake (the run was not split where containers change), so every use raises."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the serving side (GPUs, containers, models) is withheld from a host-only snapshot")

    __iter__ = __len__ = __getitem__ = __bool__ = __contains__ = __eq__ = __hash__ = _refuse

    def __repr__(self) -> str:
        return "WITHHELD"


WITHHELD: Any = Withheld()

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
class Snapshot:
    tick: int
    t: float
    scenario: str
    host: HostSnapshot
    extra: dict[str, Any]             # parts added by later models (gpus, containers, serving)

"""What a standalone cAdvisor sees on the simulated Docker host: one :class:`Cgroup` per cgroup it reports.

The host is Debian 12 with Docker's ``systemd`` cgroup driver on the unified cgroup v2 hierarchy, and
cAdvisor runs as the usual standalone container with ``--docker_only=true``. It then reports two kinds
of cgroup (cgroup v1 with the ``cgroupfs`` driver would say ``/docker/<id>`` instead):

* ``/``, the root cgroup (raw handler): kernel-wide CPU time, memory from ``/proc/meminfo``, the
  physical NICs, every ext*/xfs filesystem with its diskstats; no ``image``, no ``name``, no health check;
* ``/system.slice/docker-<64 hex>.scope`` per running container (docker handler): cgroup counters since
  the current start of the container, ``eth0`` of its network namespace (nothing with host networking),
  usage of the overlay root's device, ``io.stat`` per block device for I/O.

cgroup v2 leaves several of cAdvisor's fields empty, and so does this view: usage only as
``cpu="total"``, no per-container I/O times, sectors or merges (those series exist only for the
filesystem device, at 0, on containers), no ``io_cost`` series without the iocost controller.

Labels are cAdvisor's ``DefaultContainerLabels``: ``id``, ``image``, ``name`` (first alias), one
``container_label_<k>`` per Docker label (plus ``restartcount`` once Docker restarted the container) and
one ``container_env_<k>`` per environment variable whose name starts with an ``--env_metadata_whitelist``
entry (lower-cased), all sanitised to ``[a-zA-Z0-9_]``. cAdvisor writes every series with the union of
these names over the cgroups of the scrape, empty where a cgroup lacks one: :func:`label_keys`.

The view is written for runs of ticks too (:mod:`otelmock.vec`): values may be per-tick arrays, while what decides
labels or which series exist (restart count, boot time, first I/O) must be the same over the run (``uniform``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from otelmock.rng import identity_hex
from otelmock.vec import uniform, vfloat, vfloor, vmax, vround_to, vwhere
from otelmock.world.host import CPU_MODES
from otelmock.world.snapshot import ContainerState, HostSnapshot, Snapshot

Values = dict[str, float]
ENV_WHITELIST = ("NVIDIA_VISIBLE_DEVICES",)   # --env_metadata_whitelist
HEALTHCHECKED = ("vllm", "proxy")              # kinds whose compose service defines a healthcheck
PERIOD_US = 100_000.0                          # CFS period Docker sets with --cpus
OVERLAY_DEVICE = "/dev/nvme0n1p2"              # /var/lib/docker lives on the root filesystem
# block devices as numbered by the kernel (NVMe major 259, namespaces and partitions in probe order)
BLOCK = {"/dev/nvme0n1": (259, 0), "/dev/nvme0n1p1": (259, 1), "/dev/nvme0n1p2": (259, 2), "/dev/nvme1n1": (259, 3)}
IO_DEVICE = {"vllm": "/dev/nvme1n1"}           # vLLM reads its weights from /data; the rest write to the root disk
NOFILE_SOFT = 1_048_576.0                      # containers inherit dockerd's LimitNOFILE=infinity
CPU_FIELDS = ("user_s", "system_s", "usage_s", "periods", "throttled_periods", "throttled_s")
MEMORY_FIELDS = ("failcnt", "kernel_usage", "mapped_file", "swap", "file_dirty", "file_writeback", "events_high",
                 "pgscan", "pgsteal", "workingset_refault_file", "workingset_refault_anon")
COMPOSE_LABELS = tuple(f"com.docker.compose.{k}" for k in (
    "config-hash", "container-number", "depends_on", "image", "oneoff", "project", "project.config_files",
    "project.working_dir", "replace", "service", "version"))
IMAGE_LABELS = ("maintainer", "org.opencontainers.image.ref.name", "org.opencontainers.image.version")
_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def sanitize(name: str) -> str:
    return _INVALID.sub("_", name)


def container_labels(c: ContainerState) -> dict[str, str]:
    """The container_label_*/container_env_* names and values cAdvisor attaches to one container."""
    out = {f"container_label_{sanitize(k)}": v for k, v in c.labels.items()}
    restarts = uniform(c.restarts)
    if restarts > 0:  # cAdvisor re-inspects the container when Docker restarts it in a new cgroup
        out["container_label_restartcount"] = str(restarts)
    for name, value in c.env.items():
        if any(name.startswith(w) for w in ENV_WHITELIST):
            out[f"container_env_{sanitize(name.lower())}"] = value
    return out


def label_keys(containers: Iterable[ContainerState]) -> tuple[str, ...]:
    """The union of label names cAdvisor writes on every series when these containers run."""
    keys: set[str] = set()
    for c in containers:
        if c.state != "exited":
            keys |= container_labels(c).keys()
    return tuple(sorted(keys))


DEFAULT_LABEL_KEYS = tuple(sorted(
    {f"container_label_{sanitize(k)}" for k in (*COMPOSE_LABELS, *IMAGE_LABELS, "restartcount")}
    | {f"container_env_{sanitize(w.lower())}" for w in ENV_WHITELIST}))


@dataclass(frozen=True, slots=True)
class FsStat:
    device: str
    values: Values          # usage, limit, inodes, inodes_free, reads, reads_merged, sectors_read, read_s, writes,
                            # writes_merged, sectors_written, write_s, io_now, io_s, io_weighted_s


@dataclass(frozen=True, slots=True)
class BlkioStat:
    device: str
    major: int
    minor: int
    bytes: Values           # Read, Write (io.stat rbytes/wbytes)
    ios: Values             # Read, Write (io.stat rios/wios)


@dataclass(frozen=True, slots=True)
class Cgroup:
    labels: tuple[str, ...]             # id, image, name, then one value per label key
    created: float
    started: float
    health: float                       # 1 healthy, 0 starting or unhealthy, -1 no health check
    cpu: Values                         # user_s, system_s, usage_s, periods, throttled_periods, throttled_s
    shares: float
    period_us: float
    quota_us: float
    memory: Values                      # cAdvisor MemoryStats, in bytes and counts
    memory_spec: tuple[float, float, float] | None   # limit, swap limit, reservation; 0 = unlimited
    pressure: Values                    # <cpu|memory|io>_<some|full> seconds
    interfaces: tuple[tuple[str, Values], ...]
    filesystems: tuple[FsStat, ...]
    blkio: tuple[BlkioStat, ...]
    processes: Values                   # processes, threads, fds, sockets, threads_max
    ulimits: tuple[tuple[str, float], ...]
    oom_events: float


def _g(d: dict[str, float], key: str, default: float = 0.0) -> float:
    return vfloat(d.get(key, default))


def _ints(values: Values) -> Values:
    """Bytes and counts are uint64 in cAdvisor: whole numbers whatever the world's resolution."""
    return {k: vfloor(vmax(v, 0.0)) for k, v in values.items()}


def _usec(values: Values) -> Values:
    """cgroup v2 reports CPU and PSI times in microseconds."""
    return {k: v if k in ("periods", "throttled_periods") else vround_to(v, 6) for k, v in values.items()}


def _memory(usage: float, working_set: float, rss: float, cache: float, m: dict[str, float]) -> Values:
    inactive_file = vmax(usage - working_set, 0.0)  # cAdvisor: working set = usage - inactive_file
    out = {k: _g(m, k) for k in MEMORY_FIELDS}
    out.update(usage=usage, working_set=working_set, rss=rss, cache=cache, max_usage=_g(m, "max_usage", usage),
               inactive_file=inactive_file, active_file=vmax(cache - inactive_file, 0.0),
               pgfault=_g(m, "failures_pgfault"), pgmajfault=_g(m, "failures_pgmajfault"),
               events_max=_g(m, "failcnt"))  # cgroup v2: failcnt and events_max both count memory.events max
    return _ints(out)


def _docker(c: ContainerState, keys: Sequence[str], overlay_size: float) -> Cgroup:
    extra = container_labels(c)
    cpu, mem, fs, tasks = c.cpu, c.memory, c.fs, c.tasks
    quota = _g(cpu, "limit_cores") * PERIOD_US
    usage = _g(mem, "usage")
    memory = _memory(usage, _g(mem, "working_set", usage), _g(mem, "rss"), _g(mem, "cache"), mem)
    limit = _g(mem, "limit")
    limit = vfloor(vwhere((limit <= 0) | (limit > 2.0**62), 0.0, limit))  # 0 = unlimited
    pressure = _usec({f"{res}_{kind}": _g(d, f"psi_{kind}_s") for res, d in (("cpu", cpu), ("memory", mem), ("io", fs))
                      for kind in ("some", "full")})
    io_dev = IO_DEVICE.get(c.kind, "/dev/nvme0n1")
    blkio: tuple[BlkioStat, ...] = ()
    if uniform(_g(fs, "reads_bytes") + _g(fs, "writes_bytes") > 0):  # io.stat lists a device once it saw I/O
        blkio = (BlkioStat(io_dev, *BLOCK[io_dev],
                           _ints({"Read": _g(fs, "reads_bytes"), "Write": _g(fs, "writes_bytes")}),
                           _ints({"Read": _g(fs, "reads"), "Write": _g(fs, "writes")})),)
    fs_usage = _g(fs, "usage_bytes")
    fs_values = dict.fromkeys(("inodes_free", "reads", "reads_merged", "sectors_read", "read_s", "writes",
                               "writes_merged", "sectors_written", "write_s", "io_now", "io_s", "io_weighted_s"), 0.0)
    # the docker handler sets only usage, limit (the filesystem's capacity) and inodes used of the rw layer
    fs_values.update(usage=fs_usage, limit=_g(fs, "limit_bytes", overlay_size),
                     inodes=_g(fs, "inodes", vfloor(fs_usage / 65536) + 24))
    interfaces = (("eth0", _ints(c.network)),) if c.network else ()
    health = (1.0 if c.state == "running" else 0.0) if c.kind in HEALTHCHECKED else -1.0
    return Cgroup(
        (f"/system.slice/docker-{c.id}.scope", c.image, c.name, *(extra.get(k, "") for k in keys)),
        vfloor(c.created), vfloor(c.start_time), health,
        _usec({k: _g(cpu, k) for k in CPU_FIELDS}),
        2.0 + (100 - 1) * 262142 // 9999, PERIOD_US, quota,  # cpu.weight 100 (unset) as cAdvisor converts it
        # Docker's --memory without --memory-swap allows as much swap as memory: memory.swap.max = limit
        memory, (limit, limit, 0.0), pressure, interfaces,
        (FsStat(OVERLAY_DEVICE, _ints(fs_values)),), blkio,
        _ints({"processes": _g(tasks, "processes"), "threads": _g(tasks, "threads"), "fds": _g(tasks, "fds"),
               "sockets": _g(tasks, "sockets"), "threads_max": _g(tasks, "threads_max")}),
        (("max_open_files", _g(tasks, "nofile_soft", NOFILE_SOFT)),), vfloor(_g(mem, "oom_events")),
    )


def _disk_for(h: HostSnapshot, device: str) -> dict[str, float]:
    base = device.rsplit("/", 1)[-1]
    for d in h.disks:
        if base.startswith(d.name):
            return {**d.counters, "io_now": d.io_now}
    return {}


def _root(h: HostSnapshot, n_keys: int) -> Cgroup:
    cpu = h.cpu_seconds.sum(axis=0) if h.cpu_seconds.size else np.zeros(len(CPU_MODES))
    mode = {m: vfloat(cpu[i]) for i, m in enumerate(CPU_MODES)}
    user = mode["user"] + mode["nice"]  # the kernel's root_cgroup_cputime()
    system = mode["system"] + mode["irq"] + mode["softirq"]
    m = h.memory
    rss, cache = m["Active_anon"] + m["Inactive_anon"], m["Active_file"] + m["Inactive_file"]
    memory = _memory(rss + cache, rss + cache - m["Inactive_file"], rss, cache, {
        "mapped_file": m.get("Mapped", 0.0), "swap": m.get("SwapTotal", 0.0) - m.get("SwapFree", 0.0),
        "file_dirty": m.get("Dirty", 0.0), "file_writeback": m.get("Writeback", 0.0), "max_usage": 0.0,
        "failures_pgfault": h.counters.get("pgfault", 0.0), "failures_pgmajfault": h.counters.get("pgmajfault", 0.0)})
    c = h.counters
    pressure = _usec({"cpu_some": c.get("psi_cpu_waiting", 0.0), "cpu_full": 0.0,
                      "memory_some": c.get("psi_mem_waiting", 0.0), "memory_full": c.get("psi_mem_stalled", 0.0),
                      "io_some": c.get("psi_io_waiting", 0.0), "io_full": c.get("psi_io_stalled", 0.0)})
    # the root cgroup reads /sys/class/net of the physical NICs only
    nics = tuple((n.name, _ints({f"{d[0]}x_{k}": n.counters[f"{d}_{src}"] for d in ("receive", "transmit")
                                 for k, src in (("bytes", "bytes"), ("packets", "packets"), ("errors", "errs"),
                                                ("dropped", "drop"))}))
                 for n in h.netdevs if n.name != "lo" and not n.name.startswith(("docker", "veth", "br-")))
    filesystems = []
    for f in h.filesystems:
        if not (f.fstype.startswith("ext") or f.fstype in ("xfs", "btrfs", "zfs")):
            continue
        d = _disk_for(h, f.device)
        times = {k: vround_to(d.get(k, 0.0), 3)
                 for k in ("read_time_s", "write_time_s", "io_time_s", "io_time_weighted_s")}
        filesystems.append(FsStat(f.device, {**_ints({
            "usage": f.size_bytes - f.free_bytes, "limit": f.size_bytes, "inodes": f.files, "inodes_free": f.files_free,
            "reads": d.get("reads", 0.0), "reads_merged": d.get("reads_merged", 0.0),
            "sectors_read": d.get("read_bytes", 0.0) / 512, "writes": d.get("writes", 0.0),
            "writes_merged": d.get("writes_merged", 0.0), "sectors_written": d.get("written_bytes", 0.0) / 512,
            "io_now": d.get("io_now", 0.0)}),  # diskstats times are milliseconds
            "read_s": times["read_time_s"], "write_s": times["write_time_s"], "io_s": times["io_time_s"],
            "io_weighted_s": times["io_time_weighted_s"]}))
    kthreads = float(6 * h.cpus + 170)  # only kernel threads stay in the root cgroup
    booted = vfloor(h.boot_time) + 1  # mtime of /sys/fs/cgroup, set while systemd builds its slices
    return Cgroup(
        ("/", "", "", *("" for _ in range(n_keys))), booted, booted, -1.0,
        _usec({"user_s": user, "system_s": system, "usage_s": user + system + mode["steal"]}),
        0.0, 0.0, 0.0,  # no cpu.weight or cpu.max in the root cgroup
        memory, None, pressure, nics, tuple(filesystems), (),
        {"processes": kthreads, "threads": kthreads, "fds": 0.0, "sockets": 0.0, "threads_max": 0.0},
        (), c.get("oom_kill", 0.0),
    )


class CgroupView:
    """The cgroups of a snapshot (a tick's, or a run's), computed once for all the families that read them."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(keys)
        self._cache: tuple[Snapshot, tuple[Cgroup, ...]] | None = None

    def __call__(self, snap: Snapshot) -> tuple[Cgroup, ...]:
        cached = self._cache
        if cached is not None and cached[0] is snap:
            return cached[1]
        overlay = next((f.size_bytes for f in snap.host.filesystems if f.device == OVERLAY_DEVICE), 0.0)
        groups = (_root(snap.host, len(self.keys)),
                  *(_docker(c, self.keys, overlay) for c in snap.containers if c.state != "exited"))
        self._cache = (snap, groups)
        return groups


def _uuid(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-4{hex32[13:16]}-{'89ab'[int(hex32[16], 16) % 4]}{hex32[17:20]}-{hex32[20:32]}"


def machine_labels(h: HostSnapshot) -> tuple[str, str, str]:
    """boot_id (/proc/sys/kernel/random/boot_id, new at every boot), machine_id, system_uuid (DMI)."""
    boot_id = _uuid(identity_hex(h.machine_id, "boot-id", int(uniform(h.boot_time)), length=32))
    system_uuid = _uuid(identity_hex(h.machine_id, "dmi-product-uuid", length=32))
    return boot_id, h.machine_id, system_uuid

"""cAdvisor (port 8080): standalone cAdvisor v0.60.5 running as a container on a Debian 12 Docker host
(cgroup v2, systemd cgroup driver), with the usual host mounts and::

    --docker_only=true --store_container_labels=true --env_metadata_whitelist=NVIDIA_VISIBLE_DEVICES
    --disable_metrics=advtcp,cpu_topology,cpuset,hugetlb,memory_numa,percpu,referenced_memory,resctrl,sched,tcp,udp

that is the default metric set plus ``process`` (processes, threads, file descriptors, sockets, ulimits).
``/`` and one ``/system.slice/docker-<id>.scope`` per running container are reported (see
:mod:`otelmock.exporters.cadvisor_view`); the GPUs a container holds show as
``container_env_nvidia_visible_devices``, next to the compose labels. Without ``--enable_load_reader`` the
load averages and ``container_tasks_state`` are 0, as on real hosts. Names, TYPE and HELP are those of
``lib/metrics/prometheus.go`` and ``prometheus_machine.go``; the registry adds client_golang's Go and
process collectors::

    # TYPE container_cpu_usage_seconds_total counter
    container_cpu_usage_seconds_total{container_env_nvidia_visible_devices="0,1,2,3",cpu="total",
        id="/system.slice/docker-3f….scope",image="vllm/vllm-openai:v0.11.0",name="vllm-llama-70b"} 81234.5 179500…

Real cAdvisor stamps most samples with the housekeeping time (the trailing milliseconds above); that is
up to the text writer. The tables compute a run of ticks at once too (:mod:`otelmock.vec`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from otelmock.config import Settings
from otelmock.exporters.base import Family, Process
from otelmock.exporters.cadvisor_view import DEFAULT_LABEL_KEYS, Cgroup, CgroupView, machine_labels
from otelmock.vec import uniform, vfloat, vfloor, vmax, vround_to, vwhere
from otelmock.world.snapshot import Snapshot

VERSION, REVISION, GO_VERSION = "v0.60.5", "8c4dcb1e", "go1.25.6"
DOCKER_VERSION = "28.5.2"
OS_VERSION = "Alpine Linux v3.22"  # cadvisorVersion's osVersion is the OS of cAdvisor's own image
Rows = Iterable[tuple[tuple[str, ...], float]]
MACHINE = ("boot_id", "machine_id", "system_uuid")


def families(settings: Settings | None = None, label_keys: Sequence[str] | None = None) -> tuple[Family, ...]:
    """cAdvisor's families; ``label_keys`` = the union of container_label_*/container_env_* names
    (:func:`~otelmock.exporters.cadvisor_view.label_keys` of the deployment; default: compose, OCI image,
    restartcount and the whitelisted env labels). Labels of a container outside that set are not written."""
    view = CgroupView(DEFAULT_LABEL_KEYS if label_keys is None else label_keys)
    base = ("id", "image", "name", *view.keys)

    def per(name: str, type_: str, help_: str, value: Callable[[Cgroup], float | None]) -> Family:
        def points(s: Snapshot, p: Process) -> Iterable[tuple[str, tuple[str, ...], float]]:
            for cg in view(s):
                v = value(cg)
                if v is not None:
                    yield "", cg.labels, v
        return Family(name, type_, help_, base, points)

    def each(name: str, type_: str, help_: str, extra: tuple[str, ...], rows: Callable[[Cgroup], Rows]) -> Family:
        return Family(name, type_, help_, base + extra,
                      lambda s, p: (("", cg.labels + lv, v) for cg in view(s) for lv, v in rows(cg)))

    def quota(name: str, help_: str, key: str) -> Family:
        return per(name, "counter", help_, lambda cg: cg.cpu.get(key, 0.0) if uniform(cg.quota_us) else None)

    def mem(name: str, type_: str, help_: str, key: str) -> Family:
        return per(name, type_, help_, lambda cg: cg.memory[key])

    def net(name: str, help_: str, key: str) -> Family:
        return each(name, "counter", help_, ("interface",), lambda cg: (((i,), v[key]) for i, v in cg.interfaces))

    def fs(name: str, type_: str, help_: str, key: str | None, io: tuple[str, str] | None = None) -> Family:
        # cAdvisor's ioValues: io.stat devices (cgroup v2 has bytes and ios only), then filesystem stats
        def rows(cg: Cgroup) -> Rows:
            if io is not None:
                op, field = io
                for b in cg.blkio:
                    yield (b.device,), (b.bytes if field == "bytes" else b.ios)[op]
            if key is not None:
                for f in cg.filesystems:
                    yield (f.device,), f.values[key]
        return each(name, type_, help_, ("device",), rows)

    def psi(resource: str, kind: str, help_: str) -> Family:
        verb = "stalled" if kind == "full" else "waiting"
        return per(f"container_pressure_{resource}_{verb}_seconds_total", "counter", help_,
                   lambda cg: cg.pressure[f"{resource}_{kind}"])

    def machine(name: str, help_: str, value: Callable[[Snapshot], float]) -> Family:
        return Family(name, "gauge", help_, MACHINE, lambda s, p: (("", machine_labels(s.host), value(s)),))

    def spec_memory(name: str, help_: str, i: int) -> Family:
        return per(name, "gauge", help_, lambda cg: cg.memory_spec[i] if cg.memory_spec else None)

    def process(name: str, help_: str, key: str) -> Family:
        return per(name, "gauge", help_, lambda cg: cg.processes[key])

    blkio = Family("container_blkio_device_usage_total", "counter", "Blkio Device bytes usage",
                   (*base, "device", "major", "minor", "operation"),
                   lambda s, p: (("", cg.labels + (b.device, str(b.major), str(b.minor), op), v)
                                 for cg in view(s) for b in cg.blkio for op, v in b.bytes.items()))
    tasks = ("iowaiting", "running", "sleeping", "stopped", "uninterruptible")
    return (
        Family("cadvisor_version_info", "gauge", "A metric with a constant '1' value labeled by kernel version, OS "
               "version, docker version, cadvisor version & cadvisor revision.",
               ("kernelVersion", "osVersion", "dockerVersion", "cadvisorVersion", "cadvisorRevision"),
               lambda s, p: (("", (s.host.kernel, OS_VERSION, DOCKER_VERSION, VERSION, REVISION), 1.0),)),
        blkio,
        quota("container_cpu_cfs_burst_periods_total", "Number of periods when burst occurs.", "burst_periods"),
        quota("container_cpu_cfs_burst_seconds_total", "Total time duration the container has been bursted.",
              "burst_s"),
        quota("container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", "periods"),
        quota("container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.",
              "throttled_periods"),
        quota("container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled.",
              "throttled_s"),
        per("container_cpu_load_average_10s", "gauge",
            "Value of container cpu load average over the last 10 seconds.", lambda cg: 0.0),
        per("container_cpu_load_d_average_10s", "gauge",
            "Value of container cpu load.d average over the last 10 seconds.", lambda cg: 0.0),
        per("container_cpu_system_seconds_total", "counter", "Cumulative system cpu time consumed in seconds.",
            lambda cg: cg.cpu["system_s"]),
        each("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.", ("cpu",),
             lambda cg: [(("total",), cg.cpu["usage_s"])] if uniform(cg.cpu["usage_s"] > 0) else []),
        per("container_cpu_user_seconds_total", "counter", "Cumulative user cpu time consumed in seconds.",
            lambda cg: cg.cpu["user_s"]),
        per("container_creation_time_seconds", "gauge", "Container creation time since unix epoch in seconds.",
            lambda cg: cg.created),
        process("container_file_descriptors", "Number of open file descriptors for the container.", "fds"),
        fs("container_fs_inodes_free", "gauge", "Number of available Inodes", "inodes_free"),
        fs("container_fs_inodes_total", "gauge", "Number of Inodes", "inodes"),
        fs("container_fs_io_current", "gauge", "Number of I/Os currently in progress", "io_now"),
        fs("container_fs_io_time_seconds_total", "counter", "Cumulative count of seconds spent doing I/Os", "io_s"),
        fs("container_fs_io_time_weighted_seconds_total", "counter", "Cumulative weighted I/O time in seconds",
           "io_weighted_s"),
        fs("container_fs_limit_bytes", "gauge",
           "Number of bytes that can be consumed by the container on this filesystem.", "limit"),
        fs("container_fs_read_seconds_total", "counter", "Cumulative count of seconds spent reading", "read_s"),
        fs("container_fs_reads_bytes_total", "counter", "Cumulative count of bytes read", None, ("Read", "bytes")),
        fs("container_fs_reads_merged_total", "counter", "Cumulative count of reads merged", "reads_merged"),
        fs("container_fs_reads_total", "counter", "Cumulative count of reads completed", "reads", ("Read", "ios")),
        fs("container_fs_sector_reads_total", "counter", "Cumulative count of sector reads completed", "sectors_read"),
        fs("container_fs_sector_writes_total", "counter", "Cumulative count of sector writes completed",
           "sectors_written"),
        fs("container_fs_usage_bytes", "gauge",
           "Number of bytes that are consumed by the container on this filesystem.", "usage"),
        fs("container_fs_write_seconds_total", "counter", "Cumulative count of seconds spent writing", "write_s"),
        fs("container_fs_writes_bytes_total", "counter", "Cumulative count of bytes written", None, ("Write", "bytes")),
        fs("container_fs_writes_merged_total", "counter", "Cumulative count of writes merged", "writes_merged"),
        fs("container_fs_writes_total", "counter", "Cumulative count of writes completed", "writes", ("Write", "ios")),
        per("container_health_state", "gauge", "The result of the container's health check", lambda cg: cg.health),
        Family("container_last_seen", "gauge", "Last time a container was seen by the exporter", base,
               lambda s, p: (("", cg.labels, vfloor(s.t)) for cg in view(s))),
        mem("container_memory_cache", "gauge", "Number of bytes of page cache memory.", "cache"),
        mem("container_memory_events_high_total", "counter",
            "Cumulative count of memory.high throttle events for the container", "events_high"),
        mem("container_memory_events_max_total", "counter",
            "Cumulative count of memory.max limit hit events for the container", "events_max"),
        mem("container_memory_failcnt", "counter", "Number of memory usage hits limits", "failcnt"),
        each("container_memory_failures_total", "counter", "Cumulative count of memory allocation failures.",
             ("failure_type", "scope"),
             lambda cg: (((t, sc), cg.memory[t]) for t in ("pgfault", "pgmajfault")
                         for sc in ("container", "hierarchy"))),
        mem("container_memory_file_dirty_bytes", "gauge",
            "Number of bytes of file cache that has been modified but not yet written back to disk.", "file_dirty"),
        mem("container_memory_file_writeback_bytes", "gauge",
            "Number of bytes of file cache that is currently being written back to disk.", "file_writeback"),
        mem("container_memory_kernel_usage", "gauge", "Size of kernel memory allocated in bytes.", "kernel_usage"),
        mem("container_memory_mapped_file", "gauge", "Size of memory mapped files in bytes.", "mapped_file"),
        mem("container_memory_max_usage_bytes", "gauge", "Maximum memory usage recorded in bytes", "max_usage"),
        mem("container_memory_pgscan_total", "counter",
            "Cumulative number of pages scanned by the page reclaim algorithm.", "pgscan"),
        mem("container_memory_pgsteal_total", "counter",
            "Cumulative number of pages reclaimed by the page reclaim algorithm.", "pgsteal"),
        mem("container_memory_rss", "gauge", "Size of RSS in bytes.", "rss"),
        mem("container_memory_swap", "gauge", "Container swap usage in bytes.", "swap"),
        mem("container_memory_total_active_file_bytes", "gauge", "Current total active file in bytes.", "active_file"),
        mem("container_memory_total_inactive_file_bytes", "gauge", "Current total inactive file in bytes.",
            "inactive_file"),
        mem("container_memory_usage_bytes", "gauge",
            "Current memory usage in bytes, including all memory regardless of when it was accessed", "usage"),
        mem("container_memory_working_set_bytes", "gauge", "Current working set in bytes.", "working_set"),
        mem("container_memory_workingset_refault_anon_total", "counter",
            "Cumulative number of refaults of previously evicted anonymous pages.", "workingset_refault_anon"),
        mem("container_memory_workingset_refault_file_total", "counter",
            "Cumulative number of refaults of previously evicted file pages.", "workingset_refault_file"),
        net("container_network_receive_bytes_total", "Cumulative count of bytes received", "rx_bytes"),
        net("container_network_receive_errors_total", "Cumulative count of errors encountered while receiving",
            "rx_errors"),
        net("container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving",
            "rx_dropped"),
        net("container_network_receive_packets_total", "Cumulative count of packets received", "rx_packets"),
        net("container_network_transmit_bytes_total", "Cumulative count of bytes transmitted", "tx_bytes"),
        net("container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting",
            "tx_errors"),
        net("container_network_transmit_packets_dropped_total",
            "Cumulative count of packets dropped while transmitting", "tx_dropped"),
        net("container_network_transmit_packets_total", "Cumulative count of packets transmitted", "tx_packets"),
        per("container_oom_events_total", "counter", "Count of out of memory events observed for the container",
            lambda cg: cg.oom_events),
        psi("cpu", "full", "Total time duration no tasks in the container could make progress due to CPU congestion."),
        psi("cpu", "some", "Total time duration tasks in the container have waited due to CPU congestion."),
        psi("io", "full", "Total time duration no tasks in the container could make progress due to IO congestion."),
        psi("io", "some", "Total time duration tasks in the container have waited due to IO congestion."),
        psi("memory", "full",
            "Total time duration no tasks in the container could make progress due to memory congestion."),
        psi("memory", "some", "Total time duration tasks in the container have waited due to memory congestion."),
        process("container_processes", "Number of processes running inside the container.", "processes"),
        Family("container_scrape_error", "gauge",
               "1 if there was an error while getting container metrics, 0 otherwise", (),
               lambda s, p: (("", (), 0.0),)),
        process("container_sockets", "Number of open sockets for the container.", "sockets"),
        per("container_spec_cpu_period", "gauge", "CPU period of the container.", lambda cg: cg.period_us),
        per("container_spec_cpu_quota", "gauge", "CPU quota of the container.",
            lambda cg: uniform(cg.quota_us) or None),
        per("container_spec_cpu_shares", "gauge", "CPU share of the container.", lambda cg: cg.shares),
        spec_memory("container_spec_memory_limit_bytes", "Memory limit for the container.", 0),
        spec_memory("container_spec_memory_reservation_limit_bytes", "Memory reservation limit for the container.", 2),
        spec_memory("container_spec_memory_swap_limit_bytes", "Memory swap limit for the container.", 1),
        per("container_start_time_seconds", "gauge", "Start time of the container since unix epoch in seconds.",
            lambda cg: cg.started),
        each("container_tasks_state", "gauge", "Number of tasks in given state", ("state",),
             lambda cg: (((st,), 0.0) for st in tasks)),
        process("container_threads", "Number of threads running inside the container", "threads"),
        process("container_threads_max",
                "Maximum number of threads allowed inside the container, infinity if value is zero", "threads_max"),
        each("container_ulimits_soft", "gauge",
             "Soft ulimit values for the container root process. Unlimited if -1, except priority and nice",
             ("ulimit",), lambda cg: (((u,), v) for u, v in cg.ulimits)),
        machine("machine_cpu_books", "Number of CPU books.", lambda s: 0.0),
        machine("machine_cpu_cores", "Number of logical CPU cores.", lambda s: float(s.host.cpus)),
        machine("machine_cpu_drawers", "Number of CPU drawers.", lambda s: 0.0),
        machine("machine_cpu_physical_cores", "Number of physical CPU cores.", lambda s: float(s.host.cpus // 2)),
        machine("machine_cpu_sockets", "Number of CPU sockets.", lambda s: 1.0 if s.host.cpus <= 64 else 2.0),
        machine("machine_memory_bytes", "Amount of memory installed on the machine.",
                lambda s: s.host.memory["MemTotal"]),
        machine("machine_nvm_avg_power_budget_watts", "NVM power budget.", lambda s: 0.0),
        Family("machine_nvm_capacity", "gauge",
               "NVM capacity value labeled by NVM mode (memory mode or app direct mode).", (*MACHINE, "mode"),
               lambda s, p: (("", (*machine_labels(s.host), m), 0.0) for m in ("app_direct_mode", "memory_mode"))),
        Family("machine_scrape_error", "gauge", "1 if there was an error while getting machine metrics, 0 otherwise.",
               (), lambda s, p: (("", (), 0.0),)),
        machine("machine_swap_bytes", "Amount of swap memory available on the machine.",
                lambda s: s.host.memory.get("SwapTotal", 0.0)),
        *_go_process(),
    )


# client_golang >= 1.20 Go collector (runtime/metrics based) and process collector, as cAdvisor registers them
GO_HELP = {
    "alloc_bytes": "Number of bytes allocated in heap and currently in use. Equals to "
                   "/memory/classes/heap/objects:bytes.",
    "alloc_bytes_total": "Total number of bytes allocated in heap until now, even if released already. Equals to "
                         "/gc/heap/allocs:bytes.",
    "buck_hash_sys_bytes": "Number of bytes used by the profiling bucket hash table. Equals to "
                           "/memory/classes/profiling/buckets:bytes.",
    "frees_total": "Total number of heap objects frees. Equals to /gc/heap/frees:objects + "
                   "/gc/heap/tiny/allocs:objects.",
    "gc_sys_bytes": "Number of bytes used for garbage collection system metadata. Equals to "
                    "/memory/classes/metadata/other:bytes.",
    "heap_alloc_bytes": "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals "
                        "to /memory/classes/heap/objects:bytes.",
    "heap_idle_bytes": "Number of heap bytes waiting to be used. Equals to /memory/classes/heap/released:bytes + "
                       "/memory/classes/heap/free:bytes.",
    "heap_inuse_bytes": "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + "
                        "/memory/classes/heap/unused:bytes",
    "heap_objects": "Number of currently allocated objects. Equals to /gc/heap/objects:objects.",
    "heap_released_bytes": "Number of heap bytes released to OS. Equals to /memory/classes/heap/released:bytes.",
    "heap_sys_bytes": "Number of heap bytes obtained from system. Equals to /memory/classes/heap/objects:bytes + "
                      "/memory/classes/heap/unused:bytes + /memory/classes/heap/released:bytes + "
                      "/memory/classes/heap/free:bytes.",
    "last_gc_time_seconds": "Number of seconds since 1970 of last garbage collection.",
    "mallocs_total": "Total number of heap objects allocated, both live and gc-ed. Semantically a counter version for "
                     "go_memstats_heap_objects gauge. Equals to /gc/heap/allocs:objects + "
                     "/gc/heap/tiny/allocs:objects.",
    "mcache_inuse_bytes": "Number of bytes in use by mcache structures. Equals to "
                          "/memory/classes/metadata/mcache/inuse:bytes.",
    "mcache_sys_bytes": "Number of bytes used for mcache structures obtained from system. Equals to "
                        "/memory/classes/metadata/mcache/inuse:bytes + /memory/classes/metadata/mcache/free:bytes.",
    "mspan_inuse_bytes": "Number of bytes in use by mspan structures. Equals to "
                         "/memory/classes/metadata/mspan/inuse:bytes.",
    "mspan_sys_bytes": "Number of bytes used for mspan structures obtained from system. Equals to "
                       "/memory/classes/metadata/mspan/inuse:bytes + /memory/classes/metadata/mspan/free:bytes.",
    "next_gc_bytes": "Number of heap bytes when next garbage collection will take place. Equals to "
                     "/gc/heap/goal:bytes.",
    "other_sys_bytes": "Number of bytes used for other system allocations. Equals to /memory/classes/other:bytes.",
    "stack_inuse_bytes": "Number of bytes obtained from system for stack allocator in non-CGO environments. Equals to "
                         "/memory/classes/heap/stacks:bytes.",
    "stack_sys_bytes": "Number of bytes obtained from system for stack allocator. Equals to "
                       "/memory/classes/heap/stacks:bytes + /memory/classes/os-stacks:bytes.",
    "sys_bytes": "Number of bytes obtained from system. Equals to /memory/classes/total:byte.",
}
GC_PERIOD_S = 14.0
# base value and growth per second of uptime of a cAdvisor watching ~20 cgroups every second
GO_MEMSTATS = {
    "alloc_bytes": (20_972_424, 0), "alloc_bytes_total": (0, 1_251_873), "buck_hash_sys_bytes": (1_621_513, 0),
    "frees_total": (0, 9_041), "gc_sys_bytes": (10_783_048, 0), "heap_alloc_bytes": (20_972_424, 0),
    "heap_idle_bytes": (30_973_952, 0), "heap_inuse_bytes": (29_794_304, 0), "heap_objects": (161_873, 0),
    "heap_released_bytes": (22_011_904, 0), "heap_sys_bytes": (60_768_256, 0), "last_gc_time_seconds": (0, 0),
    "mallocs_total": (161_873, 9_041), "mcache_inuse_bytes": (19_200, 0), "mcache_sys_bytes": (31_200, 0),
    "mspan_inuse_bytes": (541_440, 0), "mspan_sys_bytes": (652_800, 0), "next_gc_bytes": (41_208_936, 0),
    "other_sys_bytes": (2_611_081, 0), "stack_inuse_bytes": (2_949_120, 0), "stack_sys_bytes": (2_949_120, 0),
    "sys_bytes": (84_330_512, 0),
}


def _go_process() -> tuple[Family, ...]:
    def up(s: Snapshot, p: Process) -> float:
        return vmax(s.t - p.start_time, 0.0)

    def one(name: str, type_: str, help_: str, value: Callable[[Snapshot, Process], float]) -> Family:
        return Family(name, type_, help_, (), lambda s, p: (("", (), value(s, p)),))

    def memstat(key: str) -> Family:
        base, growth = GO_MEMSTATS[key]

        def value(s: Snapshot, p: Process) -> float:
            u = up(s, p)
            if key == "last_gc_time_seconds":
                return vwhere(u >= GC_PERIOD_S, s.t - u % GC_PERIOD_S, 0.0)
            live = key in ("alloc_bytes", "heap_alloc_bytes")  # the heap grows between collections
            sawtooth = 1.0 + 0.6 * (u % GC_PERIOD_S) / GC_PERIOD_S if live else 1.0
            return vfloor(base * sawtooth + growth * u)

        type_ = "counter" if key.endswith("_total") else "gauge"
        return one(f"go_memstats_{key}", type_, GO_HELP[key], value)

    def gc(s: Snapshot, p: Process) -> Iterable[tuple[str, tuple[str, ...], float]]:
        count = vfloor(up(s, p) / GC_PERIOD_S)
        for q, v in (("0", 3.1e-05), ("0.25", 5.2e-05), ("0.5", 7.4e-05), ("0.75", 0.000118), ("1", 0.00144)):
            yield "", (q,), vwhere(count, v, 0.0)
        yield "_sum", (), count * 9.3e-05
        yield "_count", (), count

    def cpu_s(s: Snapshot, p: Process) -> float:
        return vround_to(up(s, p) * (0.02 + 0.004 * len(s.containers)), 2)

    def scrapes(p: Process) -> float:
        return vfloat(sum(p.scrapes.values()))

    return (
        Family("go_gc_duration_seconds", "summary",
               "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.", (), gc),
        one("go_gc_gogc_percent", "gauge", "Heap size target percentage configured by the user, otherwise 100. This "
            "value is set by the GOGC environment variable, and the runtime/debug.SetGCPercent function. Sourced from "
            "/gc/gogc:percent.", lambda s, p: 100.0),
        one("go_gc_gomemlimit_bytes", "gauge", "Go runtime memory limit configured by the user, otherwise "
            "math.MaxInt64. This value is set by the GOMEMLIMIT environment variable, and the "
            "runtime/debug.SetMemoryLimit function. Sourced from /gc/gomemlimit:bytes.",
            lambda s, p: 9.223372036854776e18),
        one("go_goroutines", "gauge", "Number of goroutines that currently exist.",
            lambda s, p: float(38 + 4 * len(s.containers))),
        Family("go_info", "gauge", "Information about the Go environment.", ("version",),
               lambda s, p: (("", (GO_VERSION,), 1.0),)),
        *(memstat(k) for k in GO_MEMSTATS),
        one("go_sched_gomaxprocs_threads", "gauge", "The current runtime.GOMAXPROCS setting, or the number of "
            "operating system threads that can execute user-level Go code simultaneously. Sourced from "
            "/sched/gomaxprocs:threads.", lambda s, p: float(s.host.cpus)),
        one("go_threads", "gauge", "Number of OS threads created.", lambda s, p: float(min(14 + s.host.cpus // 4, 40))),
        one("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpu_s),
        one("process_max_fds", "gauge", "Maximum number of open file descriptors.", lambda s, p: 1_048_576.0),
        one("process_network_receive_bytes_total", "counter", "Number of bytes received by the process over the "
            "network.", lambda s, p: vfloor(scrapes(p) * 236 + up(s, p) * 31)),
        one("process_network_transmit_bytes_total", "counter", "Number of bytes sent by the process over the network.",
            lambda s, p: vfloor(scrapes(p) * (21_000 + 5_800 * len(s.containers)) + up(s, p) * 12)),
        one("process_open_fds", "gauge", "Number of open file descriptors.",
            lambda s, p: float(24 + 2 * len(s.containers) + p.in_flight)),
        one("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
            lambda s, p: 8.6786048e7 + 1_048_576.0 * len(s.containers)),
        one("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
            lambda s, p: round(p.start_time, 2)),
        one("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", lambda s, p: 2.62201344e9),
        one("process_virtual_memory_max_bytes", "gauge", "Maximum amount of virtual memory available in bytes.",
            lambda s, p: 1.8446744073709552e19),
    )

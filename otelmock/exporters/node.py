"""Prometheus node_exporter (port 9100): Debian 12's ``prometheus-node-exporter`` 1.5.0 on a GPU server,
run with ``--collector.systemd --collector.processes --collector.tcpstat --collector.interrupts``
(what dashboard 1860 recommends) and ``--collector.netstat.fields`` extended by ``Tcp_MaxConn``.

It also serves the few families that dashboard 1860 queries and that arrived in later releases
(``node_pressure_irq_stalled_seconds_total`` 1.9, ``node_softnet_{received_rps,flow_limit_count,
cpu_collision}_total`` and ``node_softnet_backlog_len`` 1.6, ``node_netstat_TcpExt_TCPOFOQueue`` /
``TCPRcvQDrop`` 1.8/1.9, ``node_kernel_hung_tasks_total`` 1.11), so that every panel fills.
(The dashboard's ``node_kernel_hung_tasks`` exists in no release; the real name ends in ``_total``.)

HELP and TYPE come from ``data/node_exporter.tsv`` (the real exporter's own output and source);
this module says which series exist and where their values come from::

    # TYPE node_cpu_seconds_total counter
    node_cpu_seconds_total{cpu="0",mode="idle"} 516627.24
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources

import numpy as np

from otelmock.config import Settings
from otelmock.exporters.base import Family, Process
from otelmock.vec import Vec, ticks, uniform, vfloat, vfloor, vmax, vround, vround_to, vwhere
from otelmock.world.host import CPU_MODES
from otelmock.world.snapshot import HostSnapshot, Snapshot

BUILD = {"branch": "debian/sid", "goarch": "amd64", "goos": "linux", "goversion": "go1.19.8",
         "revision": "1.5.0-1+b6", "version": "1.5.0"}
Rows = Iterable[tuple[tuple[str, ...], float]]
COLLECTORS = (
    "arp", "bcache", "bonding", "btrfs", "conntrack", "cpu", "cpufreq", "diskstats", "dmi", "edac", "entropy",
    "fibrechannel", "filefd", "filesystem", "hwmon", "infiniband", "interrupts", "ipvs", "loadavg", "mdadm",
    "meminfo", "netclass", "netdev", "netstat", "nfs", "nfsd", "nvme", "os", "powersupplyclass", "pressure",
    "processes", "rapl", "schedstat", "selinux", "sockstat", "softnet", "stat", "systemd", "tapestats", "tcpstat",
    "textfile", "thermal_zone", "time", "timex", "udp_queues", "uname", "vmstat", "xfs",
)
FAILING_COLLECTORS = {"bonding", "fibrechannel", "infiniband", "ipvs", "tapestats"}  # absent on this host


@cache
def _meta() -> dict[str, tuple[str, str]]:
    text = resources.files("otelmock").joinpath("data/node_exporter.tsv").read_text()
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {name: (type_, help_) for name, type_, help_ in rows}


def fam(name: str, labels: tuple[str, ...], rows: Callable[[HostSnapshot, Process, float], Rows]) -> Family:
    """A family whose TYPE and HELP are the real exporter's; ``rows(host, process, t)``."""
    type_, help_ = _meta()[name]
    if type_ in ("summary", "histogram"):
        raise ValueError(f"{name}: use a dedicated builder for {type_}")
    return Family(name, type_, help_, labels, lambda s, p: (("", lv, v) for lv, v in rows(s.host, p, s.t)))


def one(name: str, value: Callable[[HostSnapshot, Process, float], float]) -> Family:
    return fam(name, (), lambda h, p, t: (((), value(h, p, t)),))


def per_cpu(name: str, value: Callable[[HostSnapshot, int], float]) -> Family:
    return fam(name, ("cpu",), lambda h, p, t: (((str(c),), value(h, c)) for c in range(h.cpus)))


def _disk(name: str, key: str) -> Family:
    return fam(name, ("device",), lambda h, p, t: (((d.name,), d.counters[key]) for d in h.disks))


def _fs(name: str, attr: str) -> Family:
    return fam(name, ("device", "fstype", "mountpoint"),
               lambda h, p, t: (((f.device, f.fstype, f.mountpoint), vfloat(getattr(f, attr))) for f in h.filesystems))


def _net(name: str, key: str) -> Family:
    return fam(name, ("device",), lambda h, p, t: (((n.name,), n.counters[key]) for n in h.netdevs))


def _netattr(name: str, value: Callable[[int, bool], float], only_up: bool = False) -> Family:
    return fam(name, ("device",), lambda h, p, t: (((n.name,), value(i, n.up)) for i, n in enumerate(h.netdevs)
                                                   if n.up or not only_up))


def _mac(i: int, name: str) -> str:
    return "00:00:00:00:00:00" if name == "lo" else f"7c:c2:55:3a:{0x10 + i:02x}:{0x40 + 7 * i:02x}"


def _uptime(h: HostSnapshot, p: Process, t: float) -> float:
    return vmax(t - p.start_time, 0.0)


def _sum(x: np.ndarray, axes: int) -> Vec:
    """``x.sum()`` of one tick's array of ``axes`` dimensions. A run's array has the ticks as an extra last axis:
    then the sum at every tick, added in the order of one tick's (numpy's pairwise summation), so bit for bit."""
    if x.ndim == axes:
        return x.sum()
    return ticks(np.ascontiguousarray(x.reshape(-1, x.shape[-1]).T).sum(axis=1))


def _go_summary() -> Family:
    type_, help_ = _meta()["go_gc_duration_seconds"]

    def points(s: Snapshot, p: Process) -> Iterable[tuple[str, tuple[str, ...], float]]:
        up = _uptime(s.host, p, s.t)
        q = (("0", 2.1e-05), ("0.25", 3.4e-05), ("0.5", 4.6e-05), ("0.75", 7.2e-05), ("1", 0.000412))
        count = vfloor(up / 118.0)
        for label, v in q:
            yield "", (label,), vwhere(count, v, 0.0)
        yield "_sum", (), count * 6.1e-05
        yield "_count", (), count

    return Family("go_gc_duration_seconds", type_, help_, (), points)


GO_MEMSTATS = {  # name: (base, per-second growth since start) of a node_exporter process
    "alloc_bytes": (3.1e6, 0), "alloc_bytes_total": (0, 2.6e5), "buck_hash_sys_bytes": (1.47e6, 0),
    "frees_total": (0, 2900), "gc_sys_bytes": (8.9e6, 0), "heap_alloc_bytes": (3.1e6, 0),
    "heap_idle_bytes": (4.4e6, 0), "heap_inuse_bytes": (5.2e6, 0), "heap_objects": (21_000, 0),
    "heap_released_bytes": (2.9e6, 0), "heap_sys_bytes": (1.16e7, 0), "last_gc_time_seconds": (0, 0),
    "lookups_total": (0, 0), "mallocs_total": (0, 2950), "mcache_inuse_bytes": (4800, 0),
    "mcache_sys_bytes": (15_600, 0), "mspan_inuse_bytes": (98_000, 0), "mspan_sys_bytes": (130_000, 0),
    "next_gc_bytes": (6.2e6, 0), "other_sys_bytes": (1.2e6, 0), "stack_inuse_bytes": (720_896, 0),
    "stack_sys_bytes": (720_896, 0), "sys_bytes": (2.45e7, 0),
}


def _memstat(key: str) -> Family:
    base, growth = GO_MEMSTATS[key]

    def value(h: HostSnapshot, p: Process, t: float) -> float:
        up = _uptime(h, p, t)
        if key == "last_gc_time_seconds":
            return vwhere(up >= 118.0, t - up % 118.0, 0.0)
        sawtooth = 1.0 + 0.4 * ((t % 118.0) / 118.0) if key in ("alloc_bytes", "heap_alloc_bytes") else 1.0
        return vfloor(base * sawtooth + growth * up)

    return one(f"go_memstats_{key}", value)


MEMINFO_KEYS = (
    "Active", "Active_anon", "Active_file", "AnonHugePages", "AnonPages", "Bounce", "Buffers", "Cached",
    "CommitLimit", "Committed_AS", "DirectMap1G", "DirectMap2M", "DirectMap4k", "Dirty", "FileHugePages",
    "FilePmdMapped", "HardwareCorrupted", "Hugepagesize", "Hugetlb", "Inactive", "Inactive_anon", "Inactive_file",
    "KReclaimable", "KernelStack", "Mapped", "MemAvailable", "MemFree", "MemTotal", "Mlocked", "NFS_Unstable",
    "PageTables", "Percpu", "SReclaimable", "SUnreclaim", "SecPageTables", "Shmem", "ShmemHugePages",
    "ShmemPmdMapped", "Slab", "SwapCached", "SwapFree", "SwapTotal", "Unevictable", "VmallocChunk", "VmallocTotal",
    "VmallocUsed", "Writeback", "WritebackTmp", "Zswap", "Zswapped",
)
NETSTAT_KEYS = (
    "Icmp_InErrors", "Icmp_InMsgs", "Icmp_OutMsgs", "IpExt_InOctets", "IpExt_OutOctets", "TcpExt_ListenDrops",
    "TcpExt_ListenOverflows", "TcpExt_SyncookiesFailed", "TcpExt_SyncookiesRecv", "TcpExt_SyncookiesSent",
    "TcpExt_TCPSynRetrans", "TcpExt_TCPTimeouts", "TcpExt_TCPOFOQueue", "TcpExt_TCPRcvQDrop", "Tcp_ActiveOpens",
    "Tcp_InErrs", "Tcp_InSegs", "Tcp_OutRsts", "Tcp_OutSegs", "Tcp_PassiveOpens", "Tcp_RetransSegs",
    "Udp_InDatagrams", "Udp_InErrors", "Udp_NoPorts", "Udp_OutDatagrams", "Udp_RcvbufErrors", "Udp_SndbufErrors",
    "UdpLite_InErrors",
)
DISK_COUNTERS = {
    "discard_time_seconds_total": "discard_time_s", "discarded_sectors_total": "discarded_sectors",
    "discards_completed_total": "discards", "discards_merged_total": "discards_merged",
    "flush_requests_time_seconds_total": "flush_requests_time_s", "flush_requests_total": "flush_requests",
    "io_time_seconds_total": "io_time_s", "io_time_weighted_seconds_total": "io_time_weighted_s",
    "read_bytes_total": "read_bytes", "read_time_seconds_total": "read_time_s",
    "reads_completed_total": "reads", "reads_merged_total": "reads_merged", "write_time_seconds_total": "write_time_s",
    "writes_completed_total": "writes", "writes_merged_total": "writes_merged", "written_bytes_total": "written_bytes",
}
NET_COUNTERS = (
    "receive_bytes", "receive_compressed", "receive_drop", "receive_errs", "receive_fifo", "receive_frame",
    "receive_multicast", "receive_nohandler", "receive_packets", "transmit_bytes", "transmit_carrier",
    "transmit_colls", "transmit_compressed", "transmit_drop", "transmit_errs", "transmit_fifo", "transmit_packets",
)
# tcpstat leaves out states with no socket; on a server taking tens of new connections a second the
# transient ones are always populated. Per state: base count, extra per unit of activity.
TCP_STATES = {"close": (1, 1), "close_wait": (1, 2), "closing": (1, 0), "established": (0, 0), "fin_wait1": (2, 4),
              "fin_wait2": (2, 6), "last_ack": (1, 3), "listen": (24, 0), "syn_recv": (1, 5), "syn_sent": (1, 2),
              "time_wait": (0, 0)}
SYSTEMD_UNITS = {"activating": 0, "active": 187, "deactivating": 0, "failed": 0, "inactive": 71}
INTERRUPTS = (  # type, info, devices, rate per CPU per second
    ("LOC", "Local timer interrupts", "", 250.0), ("RES", "Rescheduling interrupts", "", 40.0),
    ("CAL", "Function call interrupts", "", 12.0), ("TLB", "TLB shootdowns", "", 3.0),
    ("NMI", "Non-maskable interrupts", "", 0.02), ("150", "IR-PCI-MSIX-0000:41:00.0", "0-edge nvme0q1", 20.0),
    ("190", "IR-PCI-MSIX-0000:c1:00.0", "0-edge mlx5_comp0@pci:0000:c1:00.0", 60.0),
)
HWMON_CHIPS = (("platform_coretemp_0", "coretemp"), ("platform_coretemp_1", "coretemp"),
               ("platform_nct6775_2592", "nct6798"), ("i2c_0_0018", "jc42"), ("i2c_0_0019", "jc42"))
HWMON_SENSORS = (("temp1", "Package id 0", 0.0), ("temp2", "Core 0", -2.0), ("temp3", "Core 1", -3.0))


def _hwmon_temp(h: HostSnapshot, offset: float, t: float) -> float:
    busy = 1.0 - _sum(h.cpu_seconds[:, CPU_MODES.index("idle")], 1) / vmax(_sum(h.cpu_seconds, 2), 1.0)
    return vround(36.0 + 40.0 * busy + offset)


def families(settings: Settings | None = None) -> tuple[Family, ...]:
    idle = CPU_MODES.index("idle")
    return (
        _go_summary(),
        one("go_goroutines", lambda h, p, t: 8.0),
        fam("go_info", ("version",), lambda h, p, t: (((BUILD["goversion"],), 1.0),)),
        *(_memstat(k) for k in GO_MEMSTATS),
        one("go_threads", lambda h, p, t: 9.0),
        fam("node_arp_entries", ("device",),
            lambda h, p, t: ((("eno1",), h.gauges["arp_entries"]), (("docker0",), 3.0))),
        one("node_boot_time_seconds", lambda h, p, t: h.boot_time),
        one("node_context_switches_total", lambda h, p, t: h.counters["ctxt"]),
        per_cpu("node_cpu_frequency_max_hertz", lambda h, c: 3.8e9),
        per_cpu("node_cpu_frequency_min_hertz", lambda h, c: 8e8),
        fam("node_cpu_guest_seconds_total", ("cpu", "mode"),
            lambda h, p, t: (((str(c), m), 0.0) for c in range(h.cpus) for m in ("nice", "user"))),
        per_cpu("node_cpu_scaling_frequency_hertz", lambda h, c: vfloat(h.cpu_freq_hz[c])),
        per_cpu("node_cpu_scaling_frequency_max_hertz", lambda h, c: 3.8e9),
        per_cpu("node_cpu_scaling_frequency_min_hertz", lambda h, c: 8e8),
        fam("node_cpu_seconds_total", ("cpu", "mode"),
            lambda h, p, t: (((str(c), m), vfloat(h.cpu_seconds[c, j])) for c in range(h.cpus)
                             for j, m in enumerate(CPU_MODES))),
        fam("node_cooling_device_cur_state", ("name", "type"),
            lambda h, p, t: (((str(i), "Processor"), 0.0) for i in range(4))),
        fam("node_cooling_device_max_state", ("name", "type"),
            lambda h, p, t: (((str(i), "Processor"), 3.0) for i in range(4))),
        *(_disk(f"node_disk_{k}", v) for k, v in DISK_COUNTERS.items()),
        fam("node_disk_info", ("device", "major", "minor", "model", "path", "revision", "serial", "wwn"),
            lambda h, p, t: (((d.name, "259", str(i * 2), "SAMSUNG MZQL23T8HCLS-00A07", f"pci-0000:4{i}:00.0-nvme-1",
                               "GDC5902Q", f"S64HNE0T70{i}512", f"eui.36344830547005{i}20025384100000001"), 1.0)
                             for i, d in enumerate(h.disks))),
        fam("node_disk_io_now", ("device",), lambda h, p, t: (((d.name,), d.io_now) for d in h.disks)),
        one("node_entropy_available_bits", lambda h, p, t: h.gauges["entropy_available_bits"]),
        one("node_entropy_pool_size_bits", lambda h, p, t: h.gauges["entropy_pool_size_bits"]),
        fam("node_exporter_build_info", tuple(BUILD), lambda h, p, t: ((tuple(BUILD.values()), 1.0),)),
        one("node_filefd_allocated", lambda h, p, t: h.gauges["filefd_allocated"]),
        one("node_filefd_maximum", lambda h, p, t: h.gauges["filefd_maximum"]),
        _fs("node_filesystem_avail_bytes", "avail_bytes"),
        fam("node_filesystem_device_error", ("device", "fstype", "mountpoint"),
            lambda h, p, t: (((f.device, f.fstype, f.mountpoint), 0.0) for f in h.filesystems)),
        _fs("node_filesystem_files", "files"),
        _fs("node_filesystem_files_free", "files_free"),
        _fs("node_filesystem_free_bytes", "free_bytes"),
        _fs("node_filesystem_readonly", "readonly"),
        _fs("node_filesystem_size_bytes", "size_bytes"),
        one("node_forks_total", lambda h, p, t: h.counters["forks"]),
        fam("node_hwmon_chip_names", ("chip", "chip_name"),
            lambda h, p, t: (((chip, name), 1.0) for chip, name in HWMON_CHIPS)),
        fam("node_hwmon_temp_celsius", ("chip", "sensor"),
            lambda h, p, t: (((f"platform_coretemp_{k}", s), _hwmon_temp(h, off - k, t))
                             for k in (0, 1) for s, _, off in HWMON_SENSORS)),
        fam("node_hwmon_fan_min_rpm", ("chip", "sensor"),
            lambda h, p, t: ((("platform_nct6775_2592", f"fan{i}"), 600.0) for i in (1, 2, 3, 4))),
        fam("node_hwmon_fan_rpm", ("chip", "sensor"),
            lambda h, p, t: ((("platform_nct6775_2592", f"fan{i}"), vround(5200 + 60 * _hwmon_temp(h, -i, t)))
                             for i in (1, 2, 3, 4))),
        fam("node_hwmon_temp_crit_alarm_celsius", ("chip", "sensor"),
            lambda h, p, t: (((f"platform_coretemp_{k}", s), 0.0) for k in (0, 1) for s, _, _ in HWMON_SENSORS)),
        fam("node_hwmon_temp_crit_celsius", ("chip", "sensor"),
            lambda h, p, t: (((f"platform_coretemp_{k}", s), 100.0) for k in (0, 1) for s, _, _ in HWMON_SENSORS)),
        fam("node_hwmon_temp_crit_hyst_celsius", ("chip", "sensor"),
            lambda h, p, t: ((("i2c_0_0018", "temp1"), 81.0), (("i2c_0_0019", "temp1"), 81.0))),
        fam("node_hwmon_temp_max_celsius", ("chip", "sensor"),
            lambda h, p, t: (((f"platform_coretemp_{k}", s), 90.0) for k in (0, 1) for s, _, _ in HWMON_SENSORS)),
        fam("node_interrupts_total", ("cpu", "devices", "info", "type"),
            lambda h, p, t: (((str(c), dev, info, typ), vfloor(rate * (t - h.boot_time) * (1.0 + 0.05 * (c % 7))))
                             for c in range(h.cpus) for typ, info, dev, rate in INTERRUPTS)),
        one("node_kernel_hung_tasks_total", lambda h, p, t: 0.0),
        one("node_intr_total", lambda h, p, t: h.counters["intr"]),
        one("node_load1", lambda h, p, t: vround_to(h.load[0], 2)),
        one("node_load15", lambda h, p, t: vround_to(h.load[2], 2)),
        one("node_load5", lambda h, p, t: vround_to(h.load[1], 2)),
        *(one(f"node_memory_{k}_bytes", lambda h, p, t, k=k: h.memory[k]) for k in MEMINFO_KEYS),
        *(one(f"node_memory_HugePages_{k}", lambda h, p, t, k=k: h.memory[f"HugePages_{k}"])
          for k in ("Free", "Rsvd", "Surp", "Total")),
        *(one(f"node_netstat_{k}", lambda h, p, t, k=k: h.counters[k]) for k in NETSTAT_KEYS),
        one("node_netstat_Tcp_CurrEstab", lambda h, p, t: h.gauges["Tcp_CurrEstab"]),
        one("node_netstat_Tcp_MaxConn", lambda h, p, t: -1.0),
        _netattr("node_network_address_assign_type", lambda i, up: 0.0),
        _netattr("node_network_carrier", lambda i, up: float(up), only_up=True),
        _netattr("node_network_carrier_changes_total", lambda i, up: 2.0 if up else 1.0),
        _netattr("node_network_carrier_down_changes_total", lambda i, up: 1.0 if up else 0.0),
        _netattr("node_network_carrier_up_changes_total", lambda i, up: 1.0 if up else 1.0),
        _netattr("node_network_device_id", lambda i, up: 0.0),
        _netattr("node_network_dormant", lambda i, up: 0.0, only_up=True),
        _netattr("node_network_flags", lambda i, up: 4099.0 if up else 4098.0),
        _netattr("node_network_iface_id", lambda i, up: float(i + 1)),
        _netattr("node_network_iface_link", lambda i, up: float(i + 1)),
        _netattr("node_network_iface_link_mode", lambda i, up: 0.0),
        fam("node_network_info", ("address", "broadcast", "device", "duplex", "ifalias", "operstate"),
            lambda h, p, t: (((_mac(i, n.name), "00:00:00:00:00:00" if n.name == "lo" else "ff:ff:ff:ff:ff:ff",
                               n.name, "full" if n.name.startswith("eno") and n.up else "",
                               "", ("unknown" if n.name == "lo" else "up") if n.up else "down"), 1.0)
                             for i, n in enumerate(h.netdevs))),
        fam("node_network_mtu_bytes", ("device",), lambda h, p, t: (((n.name,), float(n.mtu)) for n in h.netdevs)),
        _netattr("node_network_name_assign_type", lambda i, up: 4.0),
        _netattr("node_network_net_dev_group", lambda i, up: 0.0),
        _netattr("node_network_protocol_type", lambda i, up: 1.0),
        *(_net(f"node_network_{k}_total", k) for k in NET_COUNTERS),
        fam("node_network_speed_bytes", ("device",),
            lambda h, p, t: (((n.name,), n.speed_bytes) for n in h.netdevs if uniform(n.speed_bytes > 0))),
        _netattr("node_network_transmit_queue_length", lambda i, up: 1000.0),
        fam("node_network_up", ("device",),
            lambda h, p, t: (((n.name,), float(n.up and n.name != "lo")) for n in h.netdevs)),
        one("node_nf_conntrack_entries", lambda h, p, t: h.gauges["conntrack_entries"]),
        one("node_nf_conntrack_entries_limit", lambda h, p, t: h.gauges["conntrack_entries_limit"]),
        fam("node_os_info", ("build_id", "id", "id_like", "image_id", "image_version", "name", "pretty_name",
                             "variant", "variant_id", "version", "version_codename", "version_id"),
            lambda h, p, t: ((("", h.os_id, "", "", "", "Debian GNU/Linux",
                               f"Debian GNU/Linux {h.os_version} (bookworm)", "", "", f"{h.os_version} (bookworm)",
                               "bookworm", h.os_version), 1.0),)),
        fam("node_os_version", ("id", "id_like", "name"),
            lambda h, p, t: (((h.os_id, "", "Debian GNU/Linux"), float(h.os_version)),)),
        fam("node_power_supply_online", ("power_supply",), lambda h, p, t: ((("AC",), 1.0),)),
        one("node_pressure_cpu_waiting_seconds_total", lambda h, p, t: h.counters["psi_cpu_waiting"]),
        one("node_pressure_io_stalled_seconds_total", lambda h, p, t: h.counters["psi_io_stalled"]),
        one("node_pressure_io_waiting_seconds_total", lambda h, p, t: h.counters["psi_io_waiting"]),
        one("node_pressure_irq_stalled_seconds_total", lambda h, p, t: h.counters["psi_irq_stalled"]),
        one("node_pressure_memory_stalled_seconds_total", lambda h, p, t: h.counters["psi_mem_stalled"]),
        one("node_pressure_memory_waiting_seconds_total", lambda h, p, t: h.counters["psi_mem_waiting"]),
        one("node_processes_max_processes", lambda h, p, t: 4_194_304.0),
        one("node_processes_max_threads", lambda h, p, t: 1_030_710.0),
        one("node_processes_pids", lambda h, p, t: h.gauges["procs_total"]),
        fam("node_processes_state", ("state",),
            lambda h, p, t: ((("D",), h.gauges["procs_blocked"]), (("I",), 260.0), (("R",), h.gauges["procs_running"]),
                             (("S",), h.gauges["procs_total"] - 262 - h.gauges["procs_running"]), (("Z",), 2.0))),
        one("node_processes_threads", lambda h, p, t: h.gauges["threads_total"]),
        one("node_procs_blocked", lambda h, p, t: h.gauges["procs_blocked"]),
        one("node_procs_running", lambda h, p, t: h.gauges["procs_running"]),
        per_cpu("node_schedstat_running_seconds_total",
                lambda h, c: vfloat(_sum(h.cpu_seconds[c], 1) - h.cpu_seconds[c, idle])),
        per_cpu("node_schedstat_timeslices_total",
                lambda h, c: vfloor((_sum(h.cpu_seconds[c], 1) - h.cpu_seconds[c, idle]) * 310.0)),
        per_cpu("node_schedstat_waiting_seconds_total",
                lambda h, c: vfloat(_sum(h.cpu_seconds[c], 1) - h.cpu_seconds[c, idle]) * 0.04),
        fam("node_scrape_collector_duration_seconds", ("collector",),
            lambda h, p, t: (((c,), 0.0004 + 0.00003 * (i % 11)) for i, c in enumerate(COLLECTORS))),
        fam("node_scrape_collector_success", ("collector",),
            lambda h, p, t: (((c,), float(c not in FAILING_COLLECTORS)) for c in COLLECTORS)),
        one("node_selinux_enabled", lambda h, p, t: 0.0),
        one("node_sockstat_FRAG6_inuse", lambda h, p, t: 0.0),
        one("node_sockstat_FRAG6_memory", lambda h, p, t: 0.0),
        one("node_sockstat_FRAG_inuse", lambda h, p, t: 0.0),
        one("node_sockstat_FRAG_memory", lambda h, p, t: 0.0),
        one("node_sockstat_RAW6_inuse", lambda h, p, t: 1.0),
        one("node_sockstat_RAW_inuse", lambda h, p, t: 0.0),
        one("node_sockstat_TCP6_inuse", lambda h, p, t: 14.0),
        one("node_sockstat_TCP_alloc", lambda h, p, t: h.gauges["tcp_alloc"]),
        one("node_sockstat_TCP_inuse", lambda h, p, t: h.gauges["tcp_inuse"]),
        one("node_sockstat_TCP_mem", lambda h, p, t: h.gauges["tcp_mem_pages"]),
        one("node_sockstat_TCP_mem_bytes", lambda h, p, t: h.gauges["tcp_mem_pages"] * 4096),
        one("node_sockstat_TCP_orphan", lambda h, p, t: 0.0),
        one("node_sockstat_TCP_tw", lambda h, p, t: h.gauges["tcp_tw"]),
        one("node_sockstat_UDP6_inuse", lambda h, p, t: 2.0),
        one("node_sockstat_UDPLITE6_inuse", lambda h, p, t: 0.0),
        one("node_sockstat_UDPLITE_inuse", lambda h, p, t: 0.0),
        one("node_sockstat_UDP_inuse", lambda h, p, t: h.gauges["udp_inuse"]),
        one("node_sockstat_UDP_mem", lambda h, p, t: h.gauges["udp_mem_pages"]),
        one("node_sockstat_UDP_mem_bytes", lambda h, p, t: h.gauges["udp_mem_pages"] * 4096),
        one("node_sockstat_sockets_used", lambda h, p, t: h.gauges["sockets_used"]),
        per_cpu("node_softnet_backlog_len", lambda h, c: 0.0),
        per_cpu("node_softnet_cpu_collision_total", lambda h, c: 0.0),
        per_cpu("node_softnet_dropped_total", lambda h, c: 0.0),
        per_cpu("node_softnet_flow_limit_count_total", lambda h, c: 0.0),
        per_cpu("node_softnet_processed_total",
                lambda h, c: vfloor(sum(n.counters["receive_packets"] for n in h.netdevs) / h.cpus)),
        per_cpu("node_softnet_received_rps_total", lambda h, c: 0.0),
        per_cpu("node_softnet_times_squeezed_total",
                lambda h, c: vfloor(sum(n.counters["receive_packets"] for n in h.netdevs) / h.cpus * 1e-6)),
        fam("node_systemd_socket_accepted_connections_total", ("name",),
            lambda h, p, t: (((n,), vfloor((t - h.boot_time) * r)) for n, r in _SOCKETS)),
        fam("node_systemd_socket_current_connections", ("name",), lambda h, p, t: (((n,), 0.0) for n, _ in _SOCKETS)),
        fam("node_systemd_socket_refused_connections_total", ("name",),
            lambda h, p, t: (((n,), 0.0) for n, _ in _SOCKETS)),
        one("node_systemd_system_running", lambda h, p, t: 1.0),
        fam("node_systemd_units", ("state",), lambda h, p, t: (((s,), float(v)) for s, v in SYSTEMD_UNITS.items())),
        fam("node_systemd_version", ("version",), lambda h, p, t: ((("252.36-1~deb12u1",), 252.0),)),
        fam("node_tcp_connection_states", ("state",), lambda h, p, t: _tcp_states(h)),
        one("node_textfile_scrape_error", lambda h, p, t: 0.0),
        fam("node_thermal_zone_temp", ("type", "zone"),
            lambda h, p, t: ((("x86_pkg_temp", "0"), _hwmon_temp(h, 0.0, t)),)),
        fam("node_time_clocksource_available_info", ("clocksource", "device"),
            lambda h, p, t: ((("hpet", "0"), 1.0), (("acpi_pm", "0"), 1.0), (("tsc", "0"), 1.0))),
        fam("node_time_clocksource_current_info", ("clocksource", "device"), lambda h, p, t: ((("tsc", "0"), 1.0),)),
        one("node_time_seconds", lambda h, p, t: t),
        fam("node_time_zone_offset_seconds", ("time_zone",), lambda h, p, t: ((("UTC",), 0.0),)),
        one("node_timex_estimated_error_seconds", lambda h, p, t: 0.000_312),
        one("node_timex_frequency_adjustment_ratio", lambda h, p, t: 1.000_004_133),
        one("node_timex_loop_time_constant", lambda h, p, t: 7.0),
        one("node_timex_maxerror_seconds", lambda h, p, t: 0.0125),
        one("node_timex_offset_seconds", lambda h, p, t: 0.000_027_4),
        one("node_timex_pps_calibration_total", lambda h, p, t: 0.0),
        one("node_timex_pps_error_total", lambda h, p, t: 0.0),
        one("node_timex_pps_frequency_hertz", lambda h, p, t: 0.0),
        one("node_timex_pps_jitter_seconds", lambda h, p, t: 0.0),
        one("node_timex_pps_jitter_total", lambda h, p, t: 0.0),
        one("node_timex_pps_shift_seconds", lambda h, p, t: 0.0),
        one("node_timex_pps_stability_exceeded_total", lambda h, p, t: 0.0),
        one("node_timex_pps_stability_hertz", lambda h, p, t: 0.0),
        one("node_timex_status", lambda h, p, t: 8193.0),
        one("node_timex_sync_status", lambda h, p, t: 1.0),
        one("node_timex_tai_offset_seconds", lambda h, p, t: 37.0),
        one("node_timex_tick_seconds", lambda h, p, t: 0.01),
        fam("node_udp_queues", ("ip", "queue"),
            lambda h, p, t: (((ip, q), 0.0) for ip in ("v4", "v6") for q in ("rx", "tx"))),
        fam("node_uname_info", ("domainname", "machine", "nodename", "release", "sysname", "version"),
            lambda h, p, t: ((("(none)", "x86_64", h.hostname, h.kernel, "Linux",
                               "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)"), 1.0),)),
        *(one(f"node_vmstat_{k}", lambda h, p, t, k=k: h.counters[k])
          for k in ("oom_kill", "pgfault", "pgmajfault", "pgpgin", "pgpgout", "pswpin", "pswpout")),
        one("process_cpu_seconds_total", lambda h, p, t: vround_to(_uptime(h, p, t) * 0.0042, 2)),
        one("process_max_fds", lambda h, p, t: 1_048_576.0),
        one("process_open_fds", lambda h, p, t: 10.0),
        one("process_resident_memory_bytes", lambda h, p, t: 21_450_752.0),
        one("process_start_time_seconds", lambda h, p, t: round(p.start_time, 2)),
        one("process_virtual_memory_bytes", lambda h, p, t: 1_274_396_672.0),
        one("process_virtual_memory_max_bytes", lambda h, p, t: 1.8446744073709552e19),
        fam("promhttp_metric_handler_errors_total", ("cause",),
            lambda h, p, t: ((("encoding",), 0.0), (("gathering",), 0.0))),
        one("promhttp_metric_handler_requests_in_flight", lambda h, p, t: float(max(p.in_flight, 1))),
        fam("promhttp_metric_handler_requests_total", ("code",),
            lambda h, p, t: (((code,), vfloat(n)) for code, n in sorted(p.scrapes.items()))),
    )


_SOCKETS = (("dbus.socket", 0.002), ("docker.socket", 0.01), ("ssh.socket", 0.0005), ("systemd-journald.socket", 0.0))


def _tcp_states(h: HostSnapshot) -> Rows:
    estab = h.gauges["Tcp_CurrEstab"]
    act = estab / 230.0  # established connections follow activity (140 + 90 * activity)
    values = {s: base + vfloor(extra * act * (1 + (h.gauges["procs_running"] + i) % 3) / 2)
              for i, (s, (base, extra)) in enumerate(TCP_STATES.items())}
    values.update(established=estab, time_wait=h.gauges["tcp_tw"])
    values.update(rx_queued_bytes=0.0, tx_queued_bytes=vfloor(estab * 37))
    return (((s,), v) for s, v in values.items() if s.endswith("_bytes") or uniform(v > 0))

"""One tick of the host: the fan-out of block drivers into the per-device values node_exporter shows.

Devices are those of a typical 8-GPU server: two NVMe disks (system and model storage), an ext4 root,
an xfs data volume for weights, a 25 GbE uplink, a second unplugged port, docker0 and lo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from otelmock.rng import hash_uniform
from otelmock.vec import Ticks, Vec, vfloat, vmax, vmin
from otelmock.world.fanout import fan_out, jitter_amplitude
from otelmock.world.host import BUSY_MIN, BUSY_MODES, CPU_MODES, SHARE_FLOOR, HostBlock, point_noise
from otelmock.world.identity import HostIdentity
from otelmock.world.params import PARAMS
from otelmock.world.snapshot import Disk, Filesystem, HostSnapshot, NetDev

GIB = 1 << 30
# name, share of the host's disk traffic
DISKS = (("nvme0n1", 0.3), ("nvme1n1", 0.7))
# device, mountpoint, fstype, size bytes, base used bytes
FILESYSTEMS = (
    ("/dev/nvme0n1p2", "/", "ext4", 1_888_753_451_008, 142 * GIB),
    ("/dev/nvme0n1p1", "/boot/efi", "vfat", 535_805_952, 6_037_504),
    ("/dev/nvme1n1", "/data", "xfs", 7_681_501_126_656, 2_310 * GIB),
)
# name, up, speed bytes/s, mtu, share of rx/tx
NETDEVS = (("eno1", True, 3_125_000_000, 1500, 0.93), ("eno2", False, -1, 1500, 0.0),
           ("docker0", True, -1, 1500, 0.06), ("lo", True, -1, 65536, 0.01))


@dataclass(frozen=True, slots=True)
class CoreLayout:
    weights: np.ndarray      # (cpus,) share of the average core's busy time, mean 1
    keys: np.ndarray         # (cpus, busy modes) jitter keys
    amplitude: np.ndarray    # (cpus, busy modes) jitter amplitudes
    max_freq_hz: float


def core_layout(ident: HostIdentity, cpus: int, dt_s: float) -> CoreLayout:
    w = 0.85 + 0.3 * hash_uniform(np.uint64(ident.key("core-weight")), np.arange(cpus))
    w = np.clip(w / w.mean(), 0.85, 1.15)
    keys = np.array([[ident.key("core-jitter", c, m) for m in BUSY_MODES] for c in range(cpus)], dtype=np.uint64)
    # shares are normalised by their sum, at most the sum of their upper bounds
    max_norm = sum(PARAMS[f"host.cpu_{m}_share"][2] for m in BUSY_MODES)
    floor = np.array([SHARE_FLOOR[m] for m in BUSY_MODES]) / max_norm * BUSY_MIN * dt_s
    amp = jitter_amplitude(w[:, None], 1.0) * floor[None, :]
    return CoreLayout(w, keys, amp, 3.8e9)


def _kib(x: float | np.ndarray) -> float | np.ndarray:
    """Whole KiB, as /proc/meminfo counts (per tick for an array)."""
    if isinstance(x, np.ndarray):
        return np.floor(np.trunc(x) / 1024) * 1024
    return float(int(x) // 1024 * 1024)


def memory(total: float, used_share: Vec, write_bps: Vec) -> dict[str, Vec]:
    used = used_share * total
    buffers, srecl, sunrecl = 0.012 * total, 0.021 * total, 0.004 * total
    cached = 0.6 * vmax(total - used - buffers - srecl - sunrecl, 0.0)
    free = vmax(total - used - buffers - cached - srecl - sunrecl, 0.02 * total)
    swap_total, swap_free = 8.0 * GIB, 8.0 * GIB - 67_108_864
    m = {
        "MemTotal": total, "MemFree": free, "MemAvailable": vmin(free + 0.9 * cached + buffers + 0.8 * srecl, total),
        "Buffers": buffers, "Cached": cached, "SwapCached": 1_048_576.0, "SwapTotal": swap_total, "SwapFree": swap_free,
        "Active": 0.55 * used + 0.45 * cached, "Inactive": 0.3 * used + 0.55 * cached,
        "Active_anon": 0.55 * used, "Inactive_anon": 0.3 * used, "Active_file": 0.45 * cached,
        "Inactive_file": 0.55 * cached, "Unevictable": 8_388_608.0, "Mlocked": 8_388_608.0,
        "Dirty": vmin(write_bps * 5.0, 0.01 * total), "Writeback": 0.0, "AnonPages": 0.82 * used,
        "Mapped": 0.035 * total, "Shmem": 0.011 * total, "KReclaimable": srecl, "Slab": srecl + sunrecl,
        "SReclaimable": srecl, "SUnreclaim": sunrecl, "KernelStack": 41_943_040.0, "PageTables": 0.004 * used,
        "SecPageTables": 0.0, "NFS_Unstable": 0.0, "Bounce": 0.0, "WritebackTmp": 0.0,
        "CommitLimit": total / 2 + swap_total, "Committed_AS": 1.45 * used, "VmallocTotal": 35_184_372_087_808.0,
        "VmallocUsed": 0.0018 * total, "VmallocChunk": 0.0, "Percpu": 0.0006 * total, "HardwareCorrupted": 0.0,
        "AnonHugePages": 0.12 * used, "ShmemHugePages": 0.0, "ShmemPmdMapped": 0.0, "FileHugePages": 0.0,
        "FilePmdMapped": 0.0, "Hugetlb": 0.0, "Hugepagesize": 2_097_152.0, "DirectMap4k": 1_912_012_800.0,
        "DirectMap2M": 0.22 * total, "DirectMap1G": total - 0.22 * total - 1_912_012_800.0 + 2 * GIB,
        "Zswap": 0.0, "Zswapped": 0.0,
    }
    out = {k: _kib(v) for k, v in m.items()}
    out.update({"HugePages_Total": 0.0, "HugePages_Free": 0.0, "HugePages_Rsvd": 0.0, "HugePages_Surp": 0.0})
    return out


def host_snapshot(
    ident: HostIdentity, cfg: tuple[str, str, str, int, float], layout: CoreLayout,
    blocks: tuple[HostBlock, float, dict[str, float]], loads: np.ndarray, n: int, n_boot: int, dt_s: float,
) -> HostSnapshot:
    """Host values at tick ``n``. ``blocks`` = (current block, its boot time, integrals at its start). For an array
    ``n`` (ticks of one block) every number holds every tick (:class:`~otelmock.vec.Ticks`, arrays a last axis)."""
    kernel, os_id, os_version, cpus, mem_total = cfg
    block, boot_time, prefix = blocks
    run = isinstance(n, np.ndarray)
    i = n - block.n0
    integral = {k: prefix[k] + vfloat(v[i]) for k, v in block.cum.items()}
    level = {k: vfloat(v[i]) for k, v in block.levels.items()}
    elapsed = vfloat((n - n_boot) * dt_s)

    busy_cols = np.array([integral[f"cpu_{m}"] for m in BUSY_MODES])
    busy = fan_out(busy_cols[None, :], layout.weights[:, None], layout.keys, layout.amplitude, n, n_boot)
    busy = np.maximum(busy, 0.0)
    cpu = np.empty((cpus, len(CPU_MODES), *np.shape(n)))
    for j, m in enumerate(BUSY_MODES):
        cpu[:, CPU_MODES.index(m)] = busy[:, j]
    cpu[:, CPU_MODES.index("idle")] = np.maximum(elapsed - busy.sum(axis=1), 0.0)
    # USER_HZ: /proc/stat counts in 1/100 s
    cpu = np.floor(cpu * 100.0) / 100.0
    weights = layout.weights[:, None] if run else layout.weights
    freq = layout.max_freq_hz * (0.35 + 0.6 * np.clip(level["busy"] * weights, 0, 1)
                                 + 0.05 * point_noise(ident, "freq", n, cpus))
    freq = np.round(freq / 1e3) * 1e3

    disks = tuple(
        Disk(name, {
            "reads": vfloat(np.floor(share * integral["disk_reads"])),
            "writes": vfloat(np.floor(share * integral["disk_writes"])),
            "read_bytes": vfloat(np.floor(share * integral["disk_read_bytes"] / 512) * 512),
            "written_bytes": vfloat(np.floor(share * integral["disk_written_bytes"] / 512) * 512),
            "reads_merged": vfloat(np.floor(0.08 * share * integral["disk_reads"])),
            "writes_merged": vfloat(np.floor(0.3 * share * integral["disk_writes"])),
            "read_time_s": share * integral["disk_reads"] * 1.1e-4,
            "write_time_s": share * integral["disk_writes"] * 2.2e-5,
            "io_time_s": share * integral["disk_busy"],
            "io_time_weighted_s": share * integral["disk_busy"] * 1.4,
            "discards": vfloat(np.floor(share * integral["disk_writes"] * 0.001)),
            "discards_merged": 0.0, "discarded_sectors": vfloat(np.floor(share * integral["disk_writes"] * 0.3)),
            "discard_time_s": share * integral["disk_writes"] * 1e-7,
            "flush_requests": vfloat(np.floor(share * integral["disk_writes"] * 0.05)),
            "flush_requests_time_s": share * integral["disk_writes"] * 5e-7,
        }, vfloat(np.floor(level["activity"] * share * 2 * point_noise(ident, "ionow" + name, n)[0])))
        for name, share in DISKS
    )
    filesystems = []
    for dev, mnt, fstype, size, used0 in FILESYSTEMS:
        used = vmin(used0 + (integral["fs_fill"] if mnt == "/data" else 0.0), 0.999 * size)
        free = size - used
        reserved = 0.05 * size if fstype == "ext4" else 0.0
        files = size / 16384 if fstype != "vfat" else 0.0
        filesystems.append(Filesystem(dev, mnt, fstype, size, free, vmax(free - reserved, 0.0), files,
                                      files * 0.97 if files else 0.0, False))
    filesystems.append(Filesystem("tmpfs", "/run", "tmpfs", _kib(mem_total / 10), _kib(mem_total / 10 - 4_200_000),
                                  _kib(mem_total / 10 - 4_200_000), mem_total / 10 / 4096 / 8, 0, False))
    filesystems.append(Filesystem("tmpfs", "/run/lock", "tmpfs", 5_242_880, 5_238_784, 5_238_784, 4_096, 4_093, False))

    netdevs = []
    for name, up, speed, mtu, share in NETDEVS:
        rx, tx = share * integral["net_rx_bytes"], share * integral["net_tx_bytes"]
        packets_rx, packets_tx = np.floor(rx / 1100.0), np.floor(tx / 1150.0)
        netdevs.append(NetDev(name, up, speed, mtu, "", {
            "receive_bytes": vfloat(np.floor(rx)), "receive_packets": vfloat(packets_rx),
            "receive_errs": vfloat(np.floor(share * integral["net_rx_errs"])),
            "receive_drop": vfloat(np.floor(packets_rx * 1e-6)),
            "receive_fifo": 0.0, "receive_frame": 0.0, "receive_compressed": 0.0,
            "receive_multicast": vfloat(np.floor(elapsed * 0.4 * share)), "receive_nohandler": 0.0,
            "transmit_bytes": vfloat(np.floor(tx)), "transmit_packets": vfloat(packets_tx), "transmit_errs": 0.0,
            "transmit_drop": 0.0, "transmit_fifo": 0.0, "transmit_colls": 0.0, "transmit_carrier": 0.0,
            "transmit_compressed": 0.0,
        }))

    rx_total, tx_total = integral["net_rx_bytes"], integral["net_tx_bytes"]
    counters = {
        "ctxt": np.floor(integral["ctxt"]), "intr": np.floor(integral["intr"]), "forks": np.floor(integral["forks"]),
        "pgfault": np.floor(integral["pgfault"]), "pgmajfault": np.floor(integral["pgmajfault"]),
        "pgpgin": np.floor(integral["disk_read_bytes"] / 1024),
        "pgpgout": np.floor(integral["disk_written_bytes"] / 1024),
        "pswpin": 0.0, "pswpout": 0.0, "oom_kill": 0.0,
        "psi_cpu_waiting": integral["psi_cpu"], "psi_io_waiting": integral["psi_io"],
        "psi_io_stalled": integral["psi_io_full"], "psi_mem_waiting": integral["psi_mem"],
        "psi_mem_stalled": integral["psi_mem_full"], "psi_irq_stalled": integral["cpu_irq"] * cpus * 0.001,
        "Tcp_InSegs": np.floor(rx_total / 1100), "Tcp_OutSegs": np.floor(tx_total / 1150),
        "Tcp_RetransSegs": np.floor(tx_total / 1150 * 2e-4), "Tcp_ActiveOpens": np.floor(integral["tcp_active_opens"]),
        "Tcp_PassiveOpens": np.floor(integral["tcp_passive_opens"]), "Tcp_InErrs": 0.0,
        "Tcp_OutRsts": np.floor(integral["tcp_passive_opens"] * 0.02), "IpExt_InOctets": np.floor(rx_total * 1.02),
        "IpExt_OutOctets": np.floor(tx_total * 1.02), "Udp_InDatagrams": np.floor(integral["udp_in"]),
        "Udp_OutDatagrams": np.floor(integral["udp_out"]), "Udp_InErrors": 0.0, "Udp_NoPorts": np.floor(elapsed * 0.01),
        "Udp_RcvbufErrors": 0.0, "Udp_SndbufErrors": 0.0, "UdpLite_InErrors": 0.0,
        "Icmp_InMsgs": np.floor(elapsed * 0.05), "Icmp_OutMsgs": np.floor(elapsed * 0.05), "Icmp_InErrors": 0.0,
        "TcpExt_ListenDrops": 0.0, "TcpExt_ListenOverflows": 0.0, "TcpExt_SyncookiesFailed": 0.0,
        "TcpExt_SyncookiesRecv": 0.0, "TcpExt_SyncookiesSent": 0.0, "TcpExt_TCPSynRetrans": np.floor(elapsed * 0.002),
        "TcpExt_TCPTimeouts": np.floor(elapsed * 0.004), "TcpExt_TCPOFOQueue": np.floor(rx_total / 1100 * 1e-4),
        "TcpExt_TCPRcvQDrop": 0.0,
    }
    act = level["activity"]
    noise = point_noise(ident, "gauges", n, 8)
    estab = np.floor(140 + 90 * act + 10 * noise[0])
    gauges = {
        "procs_running": vfloat(np.floor(level["busy"] * cpus + 1 + noise[1] * 2)),
        "procs_blocked": vfloat(np.floor(noise[2] * 2 * level["busy"])),
        "entropy_available_bits": 256.0, "entropy_pool_size_bits": 256.0,
        "filefd_allocated": vfloat(np.floor(11_500 + 1_500 * act + 200 * noise[3])),
        "filefd_maximum": 9223372036854775807.0,
        "conntrack_entries": vfloat(np.floor(300 + 250 * act + 30 * noise[4])), "conntrack_entries_limit": 262144.0,
        "Tcp_CurrEstab": vfloat(estab), "tcp_tw": vfloat(np.floor(40 + 60 * act * noise[5])),
        "tcp_inuse": vfloat(estab + 35), "tcp_alloc": vfloat(estab + 60),
        "tcp_mem_pages": vfloat(np.floor(80 + 120 * act)),
        "udp_inuse": 9.0, "udp_mem_pages": 6.0, "sockets_used": vfloat(estab * 2 + 700), "arp_entries": 7.0,
        "procs_total": vfloat(np.floor(900 + 50 * act)), "threads_total": vfloat(np.floor(4_800 + 600 * act)),
    }
    written = block.cum["disk_written_bytes"]
    before = np.where(i > 0, written[i - 1], 0.0) if run else (written[i - 1] if i else 0.0)
    mem = memory(mem_total, level["mem_used"], vfloat(written[i] - before) / dt_s)
    if run:  # the per-CPU arrays too refuse to be taken for one tick's
        cpu, freq = cpu.view(Ticks), freq.view(Ticks)
    return HostSnapshot(ident.hostname, ident.machine_id, kernel, os_id, os_version, cpus, boot_time, cpu, freq,
                        (vfloat(loads[i, 0]), vfloat(loads[i, 1]), vfloat(loads[i, 2])), mem, tuple(disks),
                        tuple(filesystems), tuple(netdevs), {k: vfloat(v) for k, v in counters.items()}, gauges)

"""The DCGM fields an H200 answers, as a counters CSV may name them: id, DCGM type, where the value comes from.

Ids and types are DCGM's (``dcgm_fields.h``; ``DCGM_FT_INT64`` prints ``%d``, ``DCGM_FT_DOUBLE`` ``%f``,
``DCGM_FT_STRING`` only fits the CSV type ``label``). Values come from the tick's
:class:`~otelmock.world.snapshot.GpuState` (``values`` keys filled by the world, identity attributes) or are
constants read off ``nvidia-smi -q`` on the traced H200 (driver 580.159.04, CUDA 13.0). A field NVML answers
``N/A`` on an H200 is :data:`NA`: DCGM returns a blank and dcgm-exporter writes no series for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from otelmock.vec import uniform
from otelmock.world.gpu import FB_TOTAL_MIB, GPU_TEMP_TLIMIT_C, MEM_CLOCK_MHZ, POWER_LIMIT_W, SM_CLOCK_MAX_MHZ
from otelmock.world.snapshot import GpuState, Snapshot

INT, DOUBLE, STRING = "int64", "double", "string"
Value = float | str | None
Source = Callable[[GpuState, Snapshot], Value]

CUDA_VERSION = (13, 0)                    # nvidia-smi: "CUDA Version : 13.0"
VBIOS_VERSION = "96.00.A5.00.1A"
INFOROM_IMAGE_VERSION = "G520.0282.02.02"
OEM_INFOROM_VERSION = "2.1"
ECC_INFOROM_VERSION = "7.16"
BRAND = "NVIDIA"
PROCESS_NAME = "/usr/bin/dcgm-exporter"   # DCGM runs embedded in the exporter (Datadog dump)
POWER_LIMIT_MIN_W = 200.0                 # "Min Power Limit"
BAR1_TOTAL_MIB = 262144
NVLINK_LINKS = 18                         # H200 SXM: 18 NVLink 4 links
PCIE_GEN, PCIE_WIDTH = 5, 16
# thresholds from the "T.Limit" offsets around the 87 C max operating temperature
SLOWDOWN_TEMP_C = GPU_TEMP_TLIMIT_C + 2   # "GPU Slowdown T.Limit Temp : -2 C"
SHUTDOWN_TEMP_C = GPU_TEMP_TLIMIT_C + 8   # "GPU Shutdown T.Limit Temp : -8 C"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    id: int
    kind: str      # INT | DOUBLE | STRING
    value: Source

    @property
    def supported(self) -> bool:
        return self.value is not NA


def NA(g: GpuState, s: Snapshot) -> Value:
    return None


def val(key: str, scale: float = 1.0) -> Source:
    """``GpuState.values[key]`` (times ``scale``); a missing key is a blank, as DCGM's."""
    def read(g: GpuState, s: Snapshot) -> Value:
        v = g.values.get(key)
        return None if v is None else v * scale
    return read


def const(v: float | str) -> Source:
    return lambda g, s: v


def attr(name: str) -> Source:
    return lambda g, s: str(getattr(g, name))


def _fb_used_ratio(g: GpuState, s: Snapshot) -> Value:
    """``Used / (Total - Reserved)``, 0..1 (dcgm_fields.h)."""
    v = g.values
    if "fb_used_mib" not in v:
        return None
    usable = v.get("fb_total_mib", FB_TOTAL_MIB) - v.get("fb_reserved_mib", 0.0)
    return v["fb_used_mib"] / usable if uniform(usable > 0) else None


CATALOG = (
    Field("DCGM_FI_DRIVER_VERSION", 1, STRING, attr("driver_version")),
    Field("DCGM_FI_NVML_VERSION", 2, STRING, lambda g, s: f"{CUDA_VERSION[0]}.{g.driver_version}"),
    Field("DCGM_FI_PROCESS_NAME", 3, STRING, const(PROCESS_NAME)),
    Field("DCGM_FI_DEV_COUNT", 4, INT, lambda g, s: float(len(s.gpus))),
    Field("DCGM_FI_CUDA_DRIVER_VERSION", 5, INT, const(CUDA_VERSION[0] * 1000 + CUDA_VERSION[1] * 10)),
    Field("DCGM_FI_DEV_NAME", 50, STRING, attr("model")),
    Field("DCGM_FI_DEV_BRAND", 51, STRING, const(BRAND)),
    Field("DCGM_FI_DEV_NVML_INDEX", 52, INT, lambda g, s: float(g.index)),
    Field("DCGM_FI_DEV_SERIAL", 53, STRING, attr("serial")),
    Field("DCGM_FI_DEV_UUID", 54, STRING, attr("uuid")),
    Field("DCGM_FI_DEV_MINOR_NUMBER", 55, INT, lambda g, s: float(g.minor)),
    Field("DCGM_FI_DEV_OEM_INFOROM_VER", 56, STRING, const(OEM_INFOROM_VERSION)),
    Field("DCGM_FI_DEV_PCI_BUSID", 57, STRING, attr("pci_bus_id")),
    Field("DCGM_FI_DEV_COMPUTE_MODE", 65, INT, const(0)),            # Default
    Field("DCGM_FI_DEV_PERSISTENCE_MODE", 66, INT, const(1)),        # Enabled
    Field("DCGM_FI_DEV_MIG_MODE", 67, INT, const(0)),                # Disabled
    Field("DCGM_FI_DEV_ECC_INFOROM_VER", 80, STRING, const(ECC_INFOROM_VERSION)),
    Field("DCGM_FI_DEV_POWER_INFOROM_VER", 81, STRING, NA),         # "Power Management Object : N/A"
    Field("DCGM_FI_DEV_INFOROM_IMAGE_VER", 82, STRING, const(INFOROM_IMAGE_VERSION)),
    Field("DCGM_FI_DEV_VBIOS_VERSION", 85, STRING, const(VBIOS_VERSION)),
    Field("DCGM_FI_DEV_BAR1_TOTAL", 90, INT, const(BAR1_TOTAL_MIB)),
    Field("DCGM_FI_DEV_SM_CLOCK", 100, INT, val("sm_clock_mhz")),
    Field("DCGM_FI_DEV_MEM_CLOCK", 101, INT, val("mem_clock_mhz")),
    Field("DCGM_FI_DEV_APP_SM_CLOCK", 110, INT, const(SM_CLOCK_MAX_MHZ)),
    Field("DCGM_FI_DEV_APP_MEM_CLOCK", 111, INT, const(MEM_CLOCK_MHZ)),
    Field("DCGM_FI_DEV_CLOCKS_EVENT_REASONS", 112, INT, val("clock_event_reasons")),
    Field("DCGM_FI_DEV_MAX_SM_CLOCK", 113, INT, const(SM_CLOCK_MAX_MHZ)),
    Field("DCGM_FI_DEV_MAX_MEM_CLOCK", 114, INT, const(MEM_CLOCK_MHZ)),
    Field("DCGM_FI_DEV_MAX_VIDEO_CLOCK", 115, INT, const(1545)),
    Field("DCGM_FI_DEV_MEMORY_TEMP", 140, INT, val("mem_temp_c")),
    Field("DCGM_FI_DEV_GPU_TEMP", 150, INT, val("gpu_temp_c")),
    Field("DCGM_FI_DEV_GPU_MAX_OP_TEMP", 152, INT, const(GPU_TEMP_TLIMIT_C)),
    Field("DCGM_FI_DEV_POWER_USAGE", 155, DOUBLE, val("power_w")),
    Field("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", 156, INT, val("energy_mj")),
    Field("DCGM_FI_DEV_POWER_USAGE_INSTANT", 157, DOUBLE, val("power_w")),
    Field("DCGM_FI_DEV_SLOWDOWN_TEMP", 158, INT, const(SLOWDOWN_TEMP_C)),
    Field("DCGM_FI_DEV_SHUTDOWN_TEMP", 159, INT, const(SHUTDOWN_TEMP_C)),
    Field("DCGM_FI_DEV_POWER_MGMT_LIMIT", 160, DOUBLE, val("power_limit_w")),
    Field("DCGM_FI_DEV_POWER_MGMT_LIMIT_MIN", 161, DOUBLE, const(POWER_LIMIT_MIN_W)),
    Field("DCGM_FI_DEV_POWER_MGMT_LIMIT_MAX", 162, DOUBLE, const(POWER_LIMIT_W)),
    Field("DCGM_FI_DEV_POWER_MGMT_LIMIT_DEF", 163, DOUBLE, const(POWER_LIMIT_W)),
    Field("DCGM_FI_DEV_ENFORCED_POWER_LIMIT", 164, DOUBLE, val("power_limit_w")),
    Field("DCGM_FI_DEV_PSTATE", 190, INT, val("pstate")),
    Field("DCGM_FI_DEV_PCIE_TX_THROUGHPUT", 200, INT, val("pcie_tx_bytes_s", 1e-3)),  # KB/s
    Field("DCGM_FI_DEV_PCIE_RX_THROUGHPUT", 201, INT, val("pcie_rx_bytes_s", 1e-3)),
    Field("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", 202, INT, val("pcie_replay")),
    Field("DCGM_FI_DEV_GPU_UTIL", 203, INT, val("util_pct")),
    Field("DCGM_FI_DEV_MEM_COPY_UTIL", 204, INT, val("mem_copy_util_pct")),
    Field("DCGM_FI_DEV_ENC_UTIL", 206, INT, val("enc_util_pct")),
    Field("DCGM_FI_DEV_DEC_UTIL", 207, INT, val("dec_util_pct")),
    Field("DCGM_FI_DEV_XID_ERRORS", 230, INT, val("xid")),
    Field("DCGM_FI_DEV_PCIE_MAX_LINK_GEN", 235, INT, const(PCIE_GEN)),
    Field("DCGM_FI_DEV_PCIE_MAX_LINK_WIDTH", 236, INT, const(PCIE_WIDTH)),
    Field("DCGM_FI_DEV_PCIE_LINK_GEN", 237, INT, const(PCIE_GEN)),
    Field("DCGM_FI_DEV_PCIE_LINK_WIDTH", 238, INT, const(PCIE_WIDTH)),
    # violation counters are in microseconds (the CSV help's "ns" is a known error of the exporter)
    Field("DCGM_FI_DEV_POWER_VIOLATION", 240, INT, val("power_violation_us")),
    Field("DCGM_FI_DEV_THERMAL_VIOLATION", 241, INT, val("thermal_violation_us")),
    Field("DCGM_FI_DEV_SYNC_BOOST_VIOLATION", 242, INT, const(0)),
    Field("DCGM_FI_DEV_BOARD_LIMIT_VIOLATION", 243, INT, const(0)),
    Field("DCGM_FI_DEV_LOW_UTIL_VIOLATION", 244, INT, const(0)),
    Field("DCGM_FI_DEV_RELIABILITY_VIOLATION", 245, INT, const(0)),
    Field("DCGM_FI_DEV_FB_TOTAL", 250, INT, val("fb_total_mib")),
    Field("DCGM_FI_DEV_FB_FREE", 251, INT, val("fb_free_mib")),
    Field("DCGM_FI_DEV_FB_USED", 252, INT, val("fb_used_mib")),
    Field("DCGM_FI_DEV_FB_RESERVED", 253, INT, val("fb_reserved_mib")),
    Field("DCGM_FI_DEV_FB_USED_PERCENT", 254, DOUBLE, _fb_used_ratio),
    Field("DCGM_FI_DEV_ECC_CURRENT", 300, INT, const(1)),           # ECC Mode: Enabled
    Field("DCGM_FI_DEV_ECC_PENDING", 301, INT, const(1)),
    Field("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", 310, INT, val("ecc_sbe_volatile")),
    Field("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", 311, INT, val("ecc_dbe_volatile")),
    Field("DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", 312, INT, val("ecc_sbe_aggregate")),
    Field("DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", 313, INT, val("ecc_dbe_aggregate")),
    # Hopper remaps rows instead of retiring pages: "Retired Pages: Single/Double Bit ECC: N/A"
    Field("DCGM_FI_DEV_RETIRED_SBE", 390, INT, NA),
    Field("DCGM_FI_DEV_RETIRED_DBE", 391, INT, NA),
    Field("DCGM_FI_DEV_RETIRED_PENDING", 392, INT, NA),
    Field("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", 393, INT, val("uncorrectable_remapped_rows")),
    Field("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", 394, INT, val("correctable_remapped_rows")),
    Field("DCGM_FI_DEV_ROW_REMAP_FAILURE", 395, INT, val("row_remap_failure")),
    Field("DCGM_FI_DEV_ROW_REMAP_PENDING", 396, INT, const(0)),
    Field("DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL", 409, INT, const(0)),
    Field("DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL", 419, INT, const(0)),
    Field("DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL", 429, INT, const(0)),
    Field("DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL", 439, INT, const(0)),
    Field("DCGM_FI_DEV_NVLINK_BANDWIDTH_L0", 440, INT, val("nvlink_bytes_total", 1 / NVLINK_LINKS)),
    Field("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", 449, INT, val("nvlink_bytes_total")),
    Field("DCGM_FI_DEV_VGPU_LICENSE_STATUS", 526, INT, const(0)),   # bare metal / pass-through
    Field("DCGM_FI_PROF_GR_ENGINE_ACTIVE", 1001, DOUBLE, val("gr_engine_active")),
    Field("DCGM_FI_PROF_SM_ACTIVE", 1002, DOUBLE, val("sm_active")),
    Field("DCGM_FI_PROF_SM_OCCUPANCY", 1003, DOUBLE, val("sm_occupancy")),
    Field("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", 1004, DOUBLE, val("tensor_active")),
    Field("DCGM_FI_PROF_DRAM_ACTIVE", 1005, DOUBLE, val("dram_active")),
    Field("DCGM_FI_PROF_PIPE_FP64_ACTIVE", 1006, DOUBLE, val("fp64_active")),
    Field("DCGM_FI_PROF_PIPE_FP32_ACTIVE", 1007, DOUBLE, val("fp32_active")),
    Field("DCGM_FI_PROF_PIPE_FP16_ACTIVE", 1008, DOUBLE, val("fp16_active")),
    Field("DCGM_FI_PROF_PCIE_TX_BYTES", 1009, INT, val("pcie_tx_bytes_s")),
    Field("DCGM_FI_PROF_PCIE_RX_BYTES", 1010, INT, val("pcie_rx_bytes_s")),
    Field("DCGM_FI_PROF_NVLINK_TX_BYTES", 1011, INT, val("nvlink_tx_bytes_s")),
    Field("DCGM_FI_PROF_NVLINK_RX_BYTES", 1012, INT, val("nvlink_rx_bytes_s")),
)

# other names go-dcgm resolves to the same ids: the deprecated throttle name and the 1.x (legacy) names
ALIASES = {
    "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS": "DCGM_FI_DEV_CLOCKS_EVENT_REASONS",
    "dcgm_sm_clock": "DCGM_FI_DEV_SM_CLOCK", "dcgm_memory_clock": "DCGM_FI_DEV_MEM_CLOCK",
    "dcgm_memory_temp": "DCGM_FI_DEV_MEMORY_TEMP", "dcgm_gpu_temp": "DCGM_FI_DEV_GPU_TEMP",
    "dcgm_power_usage": "DCGM_FI_DEV_POWER_USAGE",
    "dcgm_total_energy_consumption": "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
    "dcgm_pcie_tx_throughput": "DCGM_FI_DEV_PCIE_TX_THROUGHPUT",
    "dcgm_pcie_rx_throughput": "DCGM_FI_DEV_PCIE_RX_THROUGHPUT",
    "dcgm_pcie_replay_counter": "DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "dcgm_gpu_utilization": "DCGM_FI_DEV_GPU_UTIL",
    "dcgm_mem_copy_utilization": "DCGM_FI_DEV_MEM_COPY_UTIL", "dcgm_enc_utilization": "DCGM_FI_DEV_ENC_UTIL",
    "dcgm_dec_utilization": "DCGM_FI_DEV_DEC_UTIL", "dcgm_xid_errors": "DCGM_FI_DEV_XID_ERRORS",
    "dcgm_power_violation": "DCGM_FI_DEV_POWER_VIOLATION", "dcgm_thermal_violation": "DCGM_FI_DEV_THERMAL_VIOLATION",
    "dcgm_sync_boost_violation": "DCGM_FI_DEV_SYNC_BOOST_VIOLATION",
    "dcgm_board_limit_violation": "DCGM_FI_DEV_BOARD_LIMIT_VIOLATION",
    "dcgm_low_util_violation": "DCGM_FI_DEV_LOW_UTIL_VIOLATION",
    "dcgm_reliability_violation": "DCGM_FI_DEV_RELIABILITY_VIOLATION",
    "dcgm_fb_free": "DCGM_FI_DEV_FB_FREE", "dcgm_fb_used": "DCGM_FI_DEV_FB_USED",
    "dcgm_ecc_sbe_volatile_total": "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
    "dcgm_ecc_dbe_volatile_total": "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
    "dcgm_ecc_sbe_aggregate_total": "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL",
    "dcgm_ecc_dbe_aggregate_total": "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL",
    "dcgm_retired_pages_sbe": "DCGM_FI_DEV_RETIRED_SBE", "dcgm_retired_pages_dbe": "DCGM_FI_DEV_RETIRED_DBE",
    "dcgm_retired_pages_pending": "DCGM_FI_DEV_RETIRED_PENDING",
    "dcgm_nvlink_flit_crc_error_count_total": "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL",
    "dcgm_nvlink_data_crc_error_count_total": "DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL",
    "dcgm_nvlink_replay_error_count_total": "DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL",
    "dcgm_nvlink_recovery_error_count_total": "DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL",
    "dcgm_nvlink_bandwidth_total": "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
    "dcgm_fi_prof_gr_engine_active": "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
    "dcgm_fi_prof_sm_active": "DCGM_FI_PROF_SM_ACTIVE",
    "dcgm_fi_prof_sm_occupancy": "DCGM_FI_PROF_SM_OCCUPANCY",
    "dcgm_fi_prof_pipe_tensor_active": "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
    "dcgm_fi_prof_dram_active": "DCGM_FI_PROF_DRAM_ACTIVE",
    "dcgm_fi_prof_pcie_tx_bytes": "DCGM_FI_PROF_PCIE_TX_BYTES",
    "dcgm_fi_prof_pcie_rx_bytes": "DCGM_FI_PROF_PCIE_RX_BYTES",
}
FIELDS: dict[str, Field] = {f.name: f for f in CATALOG}
# dcgm-exporter's own fields (separate collectors: XID and clock-event windows, health, P2P); not simulated
EXPORTER_FIELDS = ("DCGM_EXP_CLOCK_EVENTS_COUNT", "DCGM_EXP_XID_ERRORS_COUNT", "DCGM_EXP_GPU_HEALTH_STATUS",
                   "DCGM_EXP_P2P_STATUS")

# err_msg of DCGM_FI_DEV_XID_ERRORS (dcgm-exporter's xidErrCodeToText): the codes a datacenter GPU reports
XID_MESSAGES = {
    0: "No Error", 8: "GPU stopped processing", 13: "Graphics Engine Exception", 31: "GPU memory page fault",
    32: "Invalid or corrupted push buffer stream", 38: "Driver firmware error", 43: "GPU stopped processing",
    45: "Preemptive cleanup, due to previous errors -- Most likely to see when running multiple cuda",
    48: "Double Bit ECC Error", 61: "Internal micro-controller breakpoint/warning",
    62: "Internal micro-controller halt", 63: "ECC page retirement or row remapping recording event",
    64: "ECC page retirement or row remapper recording failure", 68: "NVDEC0 Exception",
    69: "Graphics Engine class error", 74: "NVLINK Error", 79: "GPU has fallen off the bus",
    92: "High single-bit ECC error rate", 94: "Contained ECC error", 95: "Uncontained ECC error",
    119: "GSP RPC Timeout", 120: "GSP Error", 121: "C2C Link Error", 140: "Unrecovered ECC Error",
    143: "GPU Initialization Failure",
}
XID_UNKNOWN = "Unknown Error"


def lookup(name: str) -> Field | None:
    """The catalog field a CSV name means (canonical, deprecated or 1.x name), ``None`` if unknown."""
    return FIELDS.get(ALIASES.get(name, name))

"""The mock dcgm-exporter against the real one's interface (4.5.x source, the Datadog dump, dashboard 12239)."""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from otelmock.bridge.otel import ExporterMeters
from otelmock.bridge.prometheus import PrometheusBridge
from otelmock.errors import ConfigError
from otelmock.exporters import dcgm
from otelmock.exporters.base import Family, Process
from otelmock.exporters.dcgm_fields import DOUBLE, lookup
from otelmock.world.snapshot import GpuState, Snapshot
from tests.conftest import DATA, GOLDEN, T0

BUS = ("18", "2A", "3A", "5D", "9A", "AB", "BA", "DB")  # an HGX board's eight GPUs
LLAMA, EMBED, RERANK, QWEN = "vllm-llama-3-1-70b", "vllm-bge-m3", "vllm-reranker", "vllm-qwen-7b"
HELD = {0: (LLAMA,), 1: (LLAMA,), 2: (LLAMA,), 3: (LLAMA,), 4: (EMBED,), 6: (RERANK, QWEN)}
# (util, mem util, power W, SM MHz, GPU C, HBM C, FB used MiB, sm_active, tensor, reasons) per load level
LOADS = {
    "heavy": (98.4, 45.2, 691.8, 1485, 58.0, 52.0, 129_394, 0.712, 0.483, 0x4),
    "medium": (97.1, 87.3, 602.3, 1965, 49.0, 47.0, 64_698, 0.655, 0.172, 0x0),
    "light": (94.0, 87.0, 410.5, 1980, 44.0, 43.0, 12_940, 0.571, 0.061, 0x0),
    "idle": (0.0, 0.0, 77.2, 345, 35.0, 37.0, 0, 0.0, 0.0, 0x1),
}
LEVEL = {0: "heavy", 1: "heavy", 2: "heavy", 3: "heavy", 4: "light", 5: "idle", 6: "medium", 7: "idle"}
DASHBOARD_12239 = ("DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_GPU_UTIL",
                   "DCGM_FI_DEV_FB_USED", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE")
NEWER_LABELS = {"pci_bus_id", "container", "namespace", "pod", "err_code", "err_msg"}  # absent from the 2.x dump


def _gpu(i: int) -> GpuState:
    util, mem, power, sm, temp, hbm, used, active, tensor, reasons = LOADS[LEVEL[i]]
    values = {
        "util_pct": util, "mem_copy_util_pct": mem, "enc_util_pct": 0.0, "dec_util_pct": 0.0, "power_w": power + i / 8,
        "power_limit_w": 700.0, "energy_mj": 9_876_543_210.0 + 1_234_567 * i, "sm_clock_mhz": sm, "mem_clock_mhz": 3201,
        "gpu_temp_c": temp + i % 2, "mem_temp_c": hbm, "fb_total_mib": 143_771, "fb_used_mib": used,
        "fb_free_mib": 143_771 - 616 - used, "fb_reserved_mib": 616, "sm_active": active, "sm_occupancy": active * 0.3,
        "tensor_active": tensor, "dram_active": 0.41 * active, "gr_engine_active": util / 100,
        "fp16_active": 0.04 * active, "fp32_active": 0.06 * active, "fp64_active": 0.0,
        "pcie_tx_bytes_s": 1.04e6 + 64e3 * util, "pcie_rx_bytes_s": 0.59e6 + 135e3 * util, "pcie_replay": 0.0,
        "nvlink_bytes_total": 8.125e14 * (i < 4), "nvlink_tx_bytes_s": 2.9e10 * (i < 4),
        "nvlink_rx_bytes_s": 2.9e10 * (i < 4), "xid": 13.0 if i == 2 else 79.0 if i == 5 else 0.0,
        "clock_event_reasons": reasons, "pstate": 0, "ecc_sbe_volatile": 2.0 * (i == 3), "ecc_dbe_volatile": 0.0,
        "ecc_sbe_aggregate": 7.0 * (i == 3), "ecc_dbe_aggregate": 0.0, "retired_sbe": 0.0, "retired_dbe": 0.0,
        "correctable_remapped_rows": 1.0 * (i == 3), "uncorrectable_remapped_rows": 0.0, "row_remap_failure": 0.0,
        "power_violation_us": 104_845_992.0 * (i < 4), "thermal_violation_us": 0.0,
    }
    return GpuState(
        index=i, minor=i, uuid=f"GPU-{0x3F2A9C10 + 0x1111 * i:08x}-8b7d-4e21-a5c6-0d9e8f7a6b{i:02x}",
        pci_bus_id=f"00000000:{BUS[i]}:00.0", serial=f"16550230{12345 + i}", model="NVIDIA H200",
        driver_version="580.159.04", present=i != 5, containers=HELD.get(i, ()), values=values,
    )


def _snapshot(gpus: tuple[GpuState, ...] | None = None) -> Snapshot:
    host = SimpleNamespace(hostname="gpu-7f3a21-00")
    gpus = tuple(_gpu(i) for i in range(8)) if gpus is None else gpus
    return Snapshot(1, T0, "normal", host, {}, gpus=gpus)  # type: ignore[arg-type]


def render(families: tuple[Family, ...], snap: Snapshot | None = None) -> str:
    reader = InMemoryMetricReader()
    s = snap or _snapshot()
    meters = ExporterMeters("dcgm", families, Resource.create({}), lambda: (s, Process(T0 - 3600)), [reader])
    return PrometheusBridge(meters, reader, "dcgm").render().decode()


@dataclass
class Fam:
    type: str = ""
    help: str | None = None
    series: list[tuple[tuple[str, ...], dict[str, str], str]] = field(default_factory=list)


SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)\{(?P<labels>.*)\} (?P<value>\S+)$")
PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict[str, Fam]:
    """name -> TYPE, HELP and series (label names in written order, labels, value text)."""
    out: dict[str, Fam] = {}
    for line in text.splitlines():
        if line.startswith(("# HELP ", "# TYPE ")):
            parts = line.split(" ", 3)
            fam = out.setdefault(parts[2], Fam())
            if parts[1] == "TYPE":
                fam.type = parts[3]
            else:
                fam.help = parts[3] if len(parts) > 3 else ""
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            pairs = PAIR.findall(m["labels"])
            out.setdefault(m["name"], Fam()).series.append((tuple(k for k, _ in pairs), dict(pairs), m["value"]))
    return out


def csv_rows(text: str) -> list[tuple[str, str, str]]:
    return [tuple(p.strip() for p in line.split(",", 2)) for line in text.splitlines()  # type: ignore[misc]
            if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def default_text() -> str:
    return render(dcgm.families(None))


def test_golden(default_text: str, update_golden: bool) -> None:
    path = GOLDEN / "dcgm.prom"
    if update_golden:
        path.write_text(default_text)
    assert default_text == path.read_text()


@pytest.mark.parametrize("name", dcgm.PACKAGED)
def test_every_family_of_the_packaged_csvs_with_its_type_and_help(name: str) -> None:
    text, _ = dcgm.packaged_csv(name)
    mock = parse(render(dcgm.families_from_csv(text)))
    rows = csv_rows(text)
    assert [r for r in rows if r[1] == "label"] == [("DCGM_FI_DRIVER_VERSION", "label", "Driver Version")]
    for field_name, type_, help_ in rows:
        if type_ == "label":
            assert field_name not in mock
            continue
        assert field_name in mock, f"{field_name} is missing"
        assert (mock[field_name].type, mock[field_name].help) == (type_, help_)
        assert len(mock[field_name].series) >= 7
    assert not [n for n in mock if n.startswith(("go_", "process_", "promhttp_")) or n.endswith("_total")]


def test_families_in_field_id_order_like_the_go_template() -> None:
    text, _ = dcgm.packaged_csv()
    names = [f.name for f in dcgm.families(None)]
    ids = [lookup(n).id for n in names]  # type: ignore[union-attr]
    assert ids == sorted(ids)
    assert names.index("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS") < names.index("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL")
    in_file = [f.name for f in dcgm.families_from_csv(text, dcgm.Options(order="csv"))]
    assert in_file == [r[0] for r in csv_rows(text) if r[1] != "label"]


def test_label_order_is_fixed_then_label_fields_then_sorted_attributes(default_text: str) -> None:
    fams = parse(default_text)
    names, labels, value = fams["DCGM_FI_DEV_GPU_TEMP"].series[0]
    assert names == ("gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION",
                     "container", "namespace", "pod")
    assert labels["modelName"] == "NVIDIA H200" and labels["Hostname"] == "gpu-7f3a21-00"
    assert labels["device"] == "nvidia0" and labels["pci_bus_id"] == "00000000:18:00.0"
    assert labels["DCGM_FI_DRIVER_VERSION"] == "580.159.04" and value == "58"
    xid_names = fams["DCGM_FI_DEV_XID_ERRORS"].series[0][0]
    assert xid_names[-5:] == ("container", "err_code", "err_msg", "namespace", "pod")


def test_fidelity_against_the_real_dump() -> None:
    """Every family of the Datadog dump: same TYPE, same label order (less newer labels), same number format."""
    real = parse((DATA / "dcgm-exporter.sample.prom").read_text())
    assert len(real) == 23
    for name, fam in real.items():
        label_rows = [n for n in fam.series[0][0] if n.startswith("DCGM_FI_")]
        text = f"{name}, {fam.type}, {fam.help}\n" + "".join(f"{n}, label, x\n" for n in label_rows)
        mock = parse(render(dcgm.families_from_csv(text)))
        assert mock[name].type == fam.type, name
        for names, labels, value in mock[name].series:
            assert tuple(n for n in names if n not in NEWER_LABELS) == fam.series[0][0], name
            assert bool(re.fullmatch(r"\d+", value)) == bool(re.fullmatch(r"\d+", fam.series[0][2])), name
            assert labels.get("DCGM_FI_DEV_BRAND", "NVIDIA") == "NVIDIA"


def test_number_formats_follow_the_dcgm_type(default_text: str) -> None:
    for name, fam in parse(default_text).items():
        pattern = r"\d+\.\d{6}" if lookup(name).kind == DOUBLE else r"\d+"  # type: ignore[union-attr]
        assert all(re.fullmatch(pattern, v) for _, _, v in fam.series), name
    fams = parse(default_text)
    assert fams["DCGM_FI_DEV_POWER_USAGE"].series[0][2] == "691.800000"
    assert fams["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"].series[1][2] == "9877777777"


def test_custom_csv_with_extra_fields_and_labels(tmp_path: Path) -> None:
    path = tmp_path / "custom.csv"
    path.write_text(
        "# Datadog's recommended extras\n"
        "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS, gauge, \nDCGM_FI_DEV_PSTATE, gauge, \n"
        "DCGM_FI_DEV_POWER_MGMT_LIMIT, gauge, \nDCGM_FI_DEV_FB_TOTAL, gauge, \nDCGM_FI_DEV_FB_USED_PERCENT, gauge, \n"
        "DCGM_FI_PROF_SM_ACTIVE, gauge, x\nDCGM_FI_PROF_SM_OCCUPANCY, gauge, x\n"
        "DCGM_FI_PROF_PIPE_FP64_ACTIVE, gauge, x\nDCGM_FI_PROF_PIPE_FP32_ACTIVE, gauge, x\n"
        "DCGM_FI_PROF_PIPE_FP16_ACTIVE, gauge, x\n"
        "DCGM_FI_DEV_SLOWDOWN_TEMP, gauge, \nDCGM_FI_DEV_COUNT, counter, Number of Devices on the node.\n"
        "DCGM_FI_DEV_POWER_VIOLATION, counter, y\n"
        "DCGM_FI_CUDA_DRIVER_VERSION, label, \nDCGM_FI_NVML_VERSION, label, \nDCGM_FI_DEV_BRAND, label, \n"
        "DCGM_FI_DEV_MINOR_NUMBER, label, \nDCGM_FI_DEV_NAME, label, \nDCGM_FI_DEV_SERIAL, label, \n"
        "DCGM_FI_DEV_VBIOS_VERSION, label, \nDCGM_FI_DRIVER_VERSION, label, \nDCGM_FI_PROCESS_NAME, label, \n"
        "DCGM_FI_DEV_POWER_INFOROM_VER, label, N/A on an H200\nDCGM_FI_DEV_RETIRED_SBE, counter, N/A on an H200\n"
    )
    text = render(dcgm.families(SimpleNamespace(dcgm=SimpleNamespace(collectors=str(path)))))  # type: ignore[arg-type]
    assert "# HELP DCGM_FI_DEV_PSTATE \n" in text
    fams = parse(text)
    assert "DCGM_FI_DEV_RETIRED_SBE" not in fams and "DCGM_FI_DEV_POWER_INFOROM_VER" not in text
    names, labels, _ = fams["DCGM_FI_DEV_PSTATE"].series[0]
    assert names[6:14] == ("DCGM_FI_CUDA_DRIVER_VERSION", "DCGM_FI_DEV_BRAND", "DCGM_FI_DEV_MINOR_NUMBER",
                           "DCGM_FI_DEV_NAME", "DCGM_FI_DEV_SERIAL", "DCGM_FI_DEV_VBIOS_VERSION",
                           "DCGM_FI_DRIVER_VERSION", "DCGM_FI_NVML_VERSION")
    assert labels["DCGM_FI_CUDA_DRIVER_VERSION"] == "13000" and labels["DCGM_FI_NVML_VERSION"] == "13.580.159.04"
    assert labels["DCGM_FI_DEV_NAME"] == "NVIDIA H200" and labels["DCGM_FI_DEV_VBIOS_VERSION"] == "96.00.A5.00.1A"
    assert labels["DCGM_FI_PROCESS_NAME"] == "/usr/bin/dcgm-exporter" and labels["DCGM_FI_DEV_MINOR_NUMBER"] == "0"

    def first(name: str) -> str:
        return fams[name].series[0][2]

    assert (first("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"), first("DCGM_FI_DEV_PSTATE")) == ("4", "0")
    assert (first("DCGM_FI_DEV_POWER_MGMT_LIMIT"), first("DCGM_FI_DEV_FB_TOTAL")) == ("700.000000", "143771")
    assert first("DCGM_FI_DEV_FB_USED_PERCENT") == f"{129_394 / (143_771 - 616):f}"
    assert (first("DCGM_FI_PROF_SM_OCCUPANCY"), first("DCGM_FI_PROF_PIPE_FP64_ACTIVE")) == ("0.213600", "0.000000")
    assert (first("DCGM_FI_PROF_PIPE_FP16_ACTIVE"), first("DCGM_FI_PROF_PIPE_FP32_ACTIVE")) == ("0.028480", "0.042720")
    assert (first("DCGM_FI_DEV_SLOWDOWN_TEMP"), first("DCGM_FI_DEV_COUNT")) == ("89", "8")
    assert (fams["DCGM_FI_DEV_COUNT"].type, first("DCGM_FI_DEV_POWER_VIOLATION")) == ("counter", "104845992")


@pytest.mark.parametrize(("line", "expected"), [
    ("DCGM_FI_DEV_FOO_BAR, gauge, nope", "unknown DCGM field 'DCGM_FI_DEV_FOO_BAR'"),
    ("DCGM_FI_DEV_GPU_TEMP, gaugee, typo", "unknown Prometheus type 'gaugee'"),
    ("DCGM_FI_DEV_GPU_TEMP, gauge", "expected 3 fields"),
    ("DCGM_FI_DRIVER_VERSION, gauge, Driver Version", "must be 'label'"),
])
def test_a_bad_row_is_a_config_error_naming_file_and_line(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "counters.csv"
    path.write_text(f"# Format\nDCGM_FI_DEV_SM_CLOCK, gauge, SM clock frequency (in MHz).\n\n{line}\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}:4: ") + ".*" + re.escape(expected)):
        dcgm.families_from_csv(path)


def test_missing_csv_and_bad_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing.csv: counters CSV not found"):
        dcgm.families(SimpleNamespace(dcgm={"collectors": str(tmp_path / "missing.csv")}))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="hostname_label"):
        dcgm.families(SimpleNamespace(dcgm={"hostname_label": "HOSTNAME"}))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="family_order"):
        dcgm.Options(order="alphabetical")


def test_dashboard_12239_finds_its_series(default_text: str) -> None:
    fams = parse(default_text)
    for name in DASHBOARD_12239:
        gpus = {labels["gpu"] for _, labels, _ in fams[name].series}
        assert gpus == {"0", "1", "2", "3", "4", "6", "7"}, name  # label_values(DCGM_FI_DEV_GPU_TEMP, gpu)
        # instance comes from the scrape target; an exporter-side one would turn into exported_instance
        assert not any({"instance", "job"} & set(labels) for _, labels, _ in fams[name].series)


def test_an_absent_gpu_disappears_and_returns() -> None:
    fams = dcgm.families(None)
    assert 'gpu="5"' not in render(fams)
    gpus = tuple(dataclasses.replace(_gpu(i), present=True) for i in range(8))
    back = parse(render(fams, _snapshot(gpus)))
    assert [labels["gpu"] for _, labels, _ in back["DCGM_FI_DEV_XID_ERRORS"].series if labels["gpu"] == "5"] == ["5"]


def test_containers_one_series_each_and_xid_messages(default_text: str) -> None:
    fams = parse(default_text)
    temp = [(labels["gpu"], labels.get("container", ""), labels.get("namespace", ""), labels.get("pod", ""))
            for _, labels, _ in fams["DCGM_FI_DEV_GPU_TEMP"].series]
    assert temp[0] == ("0", LLAMA, "default", LLAMA)
    assert [t for t in temp if t[0] == "6"] == [("6", RERANK, "default", RERANK), ("6", QWEN, "default", QWEN)]
    assert [t for t in temp if t[0] == "7"] == [("7", "", "", "")]  # a free GPU has no container labels
    xid = {labels["gpu"]: (labels["err_code"], labels["err_msg"], v)
           for _, labels, v in fams["DCGM_FI_DEV_XID_ERRORS"].series}
    assert xid["2"] == ("13", "Graphics Engine Exception", "13") and xid["7"] == ("0", "No Error", "0")


def test_a_free_gpu_has_no_container_labels(default_text: str) -> None:
    assert '=""' not in default_text


def test_options_from_settings_old_namespace_and_lowercase_hostname() -> None:
    settings = SimpleNamespace(dcgm=SimpleNamespace(
        hostname_label="hostname", use_old_namespace=True, hostname="node-a",
        collectors="/etc/dcgm-exporter/dcp-metrics-included.csv"))
    names, labels, _ = parse(render(dcgm.families(settings)))["DCGM_FI_DEV_GPU_UTIL"].series[0]  # type: ignore[arg-type]
    assert names == ("gpu", "uuid", "pci_bus_id", "device", "modelName", "hostname", "DCGM_FI_DRIVER_VERSION",
                     "container_name", "pod_name", "pod_namespace")
    assert labels["hostname"] == "node-a" and labels["pod_namespace"] == "default"
    plain = dcgm.families(SimpleNamespace(dcgm={"container_labels": False, "hostname_label": ""}))  # type: ignore[arg-type]
    assert plain[0].labels == ("gpu", "UUID", "pci_bus_id", "device", "modelName", "DCGM_FI_DRIVER_VERSION")


def test_legacy_names_duplicates_and_exporter_fields(caplog: pytest.LogCaptureFixture) -> None:
    text = ("dcgm_gpu_temp, gauge, GPU temperature (in C).\ndcgm_sm_clock, gauge, SM clock frequency (in MHz).\n"
            "dcgm_fi_prof_pcie_tx_bytes,  counter, Total number of bytes transmitted through PCIe TX via NVML.\n"
            "dcgm_fi_prof_pcie_tx_bytes,      counter, The number of bytes of active pcie tx data.\n"
            "DCGM_FI_PROF_PCIE_TX_BYTES, gauge, same field id: dropped\n"
            "DCGM_EXP_XID_ERRORS_COUNT, counter, reported XIDs during last window\n")
    with caplog.at_level(logging.WARNING):
        fams = dcgm.families_from_csv(text)
    assert [(f.name, f.help) for f in fams] == [
        ("dcgm_sm_clock", "SM clock frequency (in MHz)."), ("dcgm_gpu_temp", "GPU temperature (in C)."),
        ("dcgm_fi_prof_pcie_tx_bytes", "Total number of bytes transmitted through PCIe TX via NVML.")]
    assert "DCGM_EXP_XID_ERRORS_COUNT is not simulated" in caplog.text
    assert parse(render(fams))["dcgm_sm_clock"].series[-1][2] == "345"

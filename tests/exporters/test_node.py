"""The mock node_exporter against the real one's interface (families captured from node_exporter 1.5)."""

import csv
import re

from prometheus_client.parser import text_string_to_metric_families

from otelmock.clock import SimClock
from otelmock.runtime import Runtime
from tests.conftest import DATA, GOLDEN, T0

# Families dashboard 1860 queries that a node_exporter only shows with hardware or releases the
# reference capture (a VM, 1.5.0) lacks: TYPE and label keys from the node_exporter source.
FROM_SOURCE = {
    "node_cooling_device_cur_state": ("gauge", "name,type"), "node_cooling_device_max_state": ("gauge", "name,type"),
    "node_cpu_scaling_frequency_hertz": ("gauge", "cpu"), "node_cpu_scaling_frequency_max_hertz": ("gauge", "cpu"),
    "node_cpu_scaling_frequency_min_hertz": ("gauge", "cpu"), "node_hwmon_chip_names": ("gauge", "chip,chip_name"),
    "node_hwmon_fan_min_rpm": ("gauge", "chip,sensor"), "node_hwmon_fan_rpm": ("gauge", "chip,sensor"),
    "node_hwmon_temp_celsius": ("gauge", "chip,sensor"), "node_hwmon_temp_crit_alarm_celsius": ("gauge", "chip,sensor"),
    "node_hwmon_temp_crit_celsius": ("gauge", "chip,sensor"),
    "node_hwmon_temp_crit_hyst_celsius": ("gauge", "chip,sensor"),
    "node_hwmon_temp_max_celsius": ("gauge", "chip,sensor"),
    "node_interrupts_total": ("counter", "cpu,devices,info,type"),
    "node_memory_HardwareCorrupted_bytes": ("gauge", ""), "node_netstat_TcpExt_TCPOFOQueue": ("untyped", ""),
    "node_netstat_TcpExt_TCPRcvQDrop": ("untyped", ""), "node_netstat_Tcp_MaxConn": ("untyped", ""),
    "node_power_supply_online": ("gauge", "power_supply"), "node_pressure_irq_stalled_seconds_total": ("counter", ""),
    "node_processes_max_processes": ("gauge", ""), "node_processes_max_threads": ("gauge", ""),
    "node_processes_pids": ("gauge", ""), "node_processes_state": ("gauge", "state"),
    "node_processes_threads": ("gauge", ""), "node_schedstat_running_seconds_total": ("counter", "cpu"),
    "node_schedstat_timeslices_total": ("counter", "cpu"), "node_schedstat_waiting_seconds_total": ("counter", "cpu"),
    "node_softnet_flow_limit_count_total": ("counter", "cpu"), "node_softnet_received_rps_total": ("counter", "cpu"),
    "node_systemd_socket_accepted_connections_total": ("counter", "name"),
    "node_systemd_socket_current_connections": ("gauge", "name"),
    "node_systemd_socket_refused_connections_total": ("gauge", "name"), "node_systemd_units": ("gauge", "state"),
    "node_tcp_connection_states": ("gauge", "state"),
}
NOT_A_REAL_FAMILY = {"node_kernel_hung_tasks"}  # the real one is node_kernel_hung_tasks_total (1.11+)


def _scrape(runtime: Runtime) -> str:
    return runtime.exporters["node"].bridge.render().decode()


def families(text: str) -> dict[str, tuple[str, str]]:
    """name -> (TYPE, sorted label keys) from exposition text (label keys of every sample but le/quantile)."""
    out: dict[str, tuple[str, set[str]]] = {}
    for fam in text_string_to_metric_families(text):
        keys: set[str] = set()
        for s in fam.samples:
            keys |= set(s.labels) - {"le", "quantile"}
        name = fam.name + "_total" if fam.type == "counter" and not fam.name.endswith("_total") else fam.name
        if fam.type == "unknown":
            out[fam.name] = ("untyped", keys)
        else:
            out[name if name in text else fam.name] = (fam.type, keys)
    return {k: (t, ",".join(sorted(v))) for k, (t, v) in out.items()}


def dashboard_families() -> set[str]:
    text = (DATA / "dashboard-1860.queries.tsv").read_text()
    return set(re.findall(r"\bnode_[A-Za-z0-9_]+", text)) - NOT_A_REAL_FAMILY


def test_golden(runtime: Runtime, update_golden: bool) -> None:
    text = _scrape(runtime)
    path = GOLDEN / "node.prom"
    if update_golden:
        path.write_text(text)
    assert text == path.read_text()


def test_every_dashboard_family_has_the_real_type_and_label_keys(runtime: Runtime) -> None:
    mock = families(_scrape(runtime))
    with (DATA / "node_exporter_families.tsv").open() as f:
        real = {r["name"]: (r["type"], r["label_keys"].strip().replace(" (+quantile)", ""))
                for r in csv.DictReader(f, delimiter="\t")}
    for name in sorted(dashboard_families() | {"node_uname_info"}):
        expected = real.get(name) or FROM_SOURCE.get(name)
        assert expected is not None, f"{name}: no reference for this family"
        assert name in mock, f"{name} is missing"
        assert mock[name] == expected, f"{name}: mock {mock[name]} != real {expected}"


def test_every_family_of_the_real_capture_exists_with_the_same_type_and_labels(runtime: Runtime) -> None:
    mock = families(_scrape(runtime))
    with (DATA / "node_exporter_families.tsv").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    # VM-only or IPv6 details of the capture host that a bare-metal GPU server does not show
    skip = re.compile(r"node_netstat_(Icmp6|Ip6|Udp6|UdpLite6|Ip_Forwarding)|node_nf_conntrack_stat_|"
                      r"node_memory_Balloon|node_network_(carrier_(up|down)_changes|dormant)$|node_timex_pps")
    missing = [r["name"] for r in rows if r["name"] not in mock and not skip.match(r["name"])]
    assert missing == []
    for r in rows:
        if r["name"] in mock:
            assert mock[r["name"]][0] == r["type"], r["name"]


def test_counters_grow_between_scrapes_and_text_parses(settings) -> None:  # type: ignore[no-untyped-def]
    from otelmock.scenario.timeline import Timeline
    from otelmock.world.model import World

    clock = SimClock(T0)
    rt = Runtime(settings, World(settings, Timeline.constant("normal", {})), clock)
    a = {s.name + repr(sorted(s.labels.items())): s.value for f in text_string_to_metric_families(_scrape(rt))
         if f.type == "counter" for s in f.samples}
    clock.advance(60)
    rt.step()
    b = {s.name + repr(sorted(s.labels.items())): s.value for f in text_string_to_metric_families(_scrape(rt))
         if f.type == "counter" for s in f.samples}
    assert a.keys() == b.keys()
    assert all(b[k] >= a[k] for k in a)
    idle = "node_cpu_seconds_total[('cpu', '0'), ('mode', 'idle')]"
    assert b[idle] > a[idle]
    rt.stop()


def test_identity_labels(runtime: Runtime) -> None:
    text = _scrape(runtime)
    assert 'nodename="gpu-test-01"' in text
    assert text.count("node_cpu_seconds_total{") == 64 * 8
    assert "node_memory_MemTotal_bytes 6.8719476736e+10\n" in text


def test_direct_source_writes_the_same_bytes_as_the_otel_path(settings) -> None:  # type: ignore[no-untyped-def]
    """Every exporter: the SDK path and the direct path give identical text for the same tick."""
    from otelmock import config
    from otelmock.bridge.prometheus import PrometheusBridge
    from otelmock.scenario.timeline import Timeline
    from otelmock.world.model import World

    s = config.load(seed=7, host__reboot_every_days=3, exporters=["all"])
    names = ("node", "dcgm", "cadvisor", "litellm", "vllm")
    s = s.__class__(**{**{f: getattr(s, f) for f in s.__slots__}, "exporters": names})
    rt = Runtime(s, World(s, Timeline.constant("normal", {})), SimClock(T0))
    for name in names:
        exp = rt.exporters[name]
        direct = PrometheusBridge(exp.meters, exp.bridge.reader, exp.bridge.dialect, source="direct")
        assert direct.render() == exp.bridge.render(), name
    rt.stop()

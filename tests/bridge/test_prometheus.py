"""The bridge writes each dialect exactly, from OTel instruments, through an in-memory reader."""

from collections.abc import Iterable

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client.parser import text_string_to_metric_families

from otelmock.bridge.otel import ExporterMeters, otel_name
from otelmock.bridge.prometheus import PrometheusBridge
from otelmock.exporters.base import Family, Process
from otelmock.world.snapshot import Snapshot


def _snap(tick: int) -> Snapshot:
    return Snapshot(tick, float(tick), "normal", None, {"v": float(tick)})  # type: ignore[arg-type]


def _hist(s: Snapshot, p: Process) -> Iterable[tuple[str, tuple[str, ...], float]]:
    v = s.extra["v"]
    for m in ("b", "a"):
        for le, frac in (("0.1", 0.2), ("1.0", 0.7), ("+Inf", 1.0)):
            yield "_bucket", (m, le), frac * v
        yield "_sum", (m,), 0.4 * v
        yield "_count", (m,), v


FAMILIES = (
    Family("zeta_bytes", "gauge", "Last.", ("z", "a"), lambda s, p: (("", ("1", "x"), 1e6), ("", ("0", "y"), 2.5))),
    Family("alpha_total", "counter", "First\nline.", (), lambda s, p: (("", (), s.extra["v"]),)),
    Family("empty", "gauge", "No series.", ("x",), lambda s, p: ()),
    Family("lat_seconds", "histogram", "Latency.", ("model",), _hist),
)


def _bridge(dialect: str, snap: list[Snapshot]) -> PrometheusBridge:
    reader = InMemoryMetricReader()
    meters = ExporterMeters("t", FAMILIES, Resource.create({}), lambda: (snap[0], Process(0.0)), [reader])
    return PrometheusBridge(meters, reader, dialect)


def test_go_dialect_golden() -> None:
    text = _bridge("go", [_snap(3)]).render().decode()
    assert text == (
        "# HELP alpha_total First\\nline.\n# TYPE alpha_total counter\nalpha_total 3\n"
        "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n"
        'lat_seconds_bucket{model="a",le="0.1"} 0.6000000000000001\n'
        'lat_seconds_bucket{model="a",le="1.0"} 2.0999999999999996\n'
        'lat_seconds_bucket{model="a",le="+Inf"} 3\n'
        'lat_seconds_sum{model="a"} 1.2000000000000002\nlat_seconds_count{model="a"} 3\n'
        'lat_seconds_bucket{model="b",le="0.1"} 0.6000000000000001\n'
        'lat_seconds_bucket{model="b",le="1.0"} 2.0999999999999996\n'
        'lat_seconds_bucket{model="b",le="+Inf"} 3\n'
        'lat_seconds_sum{model="b"} 1.2000000000000002\nlat_seconds_count{model="b"} 3\n'
        '# HELP zeta_bytes Last.\n# TYPE zeta_bytes gauge\nzeta_bytes{a="x",z="1"} 1e+06\nzeta_bytes{a="y",z="0"} 2.5\n'
    )


def test_python_dialect_keeps_table_order_and_empty_families() -> None:
    text = _bridge("python", [_snap(2)]).render().decode()
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert names == ["zeta_bytes", "alpha_total", "empty", "lat_seconds"]
    assert 'zeta_bytes{a="x",z="1"} 1e+06\n' in text and "alpha_total 2.0\n" in text  # labels sorted by name
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    assert parsed["lat_seconds"].type == "histogram"


def test_render_is_cached_per_tick_and_series_vanish_when_not_observed() -> None:
    snap = [_snap(1)]
    b = _bridge("go", snap)
    first = b.render()
    assert b.render_gzip() is b.render_gzip() and b.render() == first  # rendered once per tick, kept compressed
    snap[0] = _snap(2)
    assert b.render() != first


def test_instrument_names_are_otel_safe() -> None:
    assert otel_name("vllm:num_requests_running") == "vllm.num_requests_running"
    assert otel_name("node_memory_MemTotal_bytes") == "node_memory_memtotal_bytes"


def test_a_failing_family_is_left_out_not_the_scrape() -> None:
    def boom(s: Snapshot, p: Process) -> Iterable[tuple[str, tuple[str, ...], float]]:
        raise RuntimeError("broken")

    fams = (*FAMILIES, Family("bad", "gauge", "Bad.", (), boom))
    reader = InMemoryMetricReader()
    meters = ExporterMeters("t", fams, Resource.create({}), lambda: (_snap(1), Process(0.0)), [reader])
    text = PrometheusBridge(meters, reader, "go").render().decode()
    assert "alpha_total 1\n" in text and "bad" not in text


def _churn(s: Snapshot, p: Process) -> Iterable[tuple[str, tuple[str, ...], float]]:
    t = int(s.extra["v"])
    for name in ("b", "a", "c")[: 1 + t % 3]:  # one, two, three series, then one again
        yield "", (name,), float(t)


def test_layout_follows_series_that_come_and_go_in_every_dialect_and_source() -> None:
    """The lines' order and prefixes are reused while the series stay; any change of series lays them out again."""
    for dialect in ("go", "python", "dcgm"):
        fams = (Family("churn", "gauge", "Churn.", ("m",), _churn),
                *(f for f in FAMILIES if dialect != "dcgm" or f.type != "histogram"))  # dcgm-exporter has none
        snap = [_snap(0)]
        bridges = []
        for source in ("otel", "direct"):
            reader = InMemoryMetricReader()
            meters = ExporterMeters("t", fams, Resource.create({}), lambda snap=snap: (snap[0], Process(0.0)), [reader])
            bridges.append(PrometheusBridge(meters, reader, dialect, source))
        for tick in (0, 1, 2, 3, 3, 5, 6):
            snap[0] = _snap(tick)
            texts = [b.render().decode() for b in bridges]
            assert texts[0] == texts[1]
            churn = [line for line in texts[0].splitlines() if line.startswith("churn{")]
            names = ("b", "a", "c")[: 1 + tick % 3]
            want = sorted(names) if dialect == "go" else list(names)
            assert [line.split('"')[1] for line in churn] == want, (dialect, tick, churn)
            assert all(line.rsplit(" ", 1)[1] in (str(tick), f"{tick}.0", f"{tick}.000000") for line in churn), churn


def test_every_exporter_writes_label_values_as_strings() -> None:
    """The bridge takes label values as they come (no conversion per sample): every family must give str."""
    import time

    from otelmock import config
    from otelmock.clock import SimClock
    from otelmock.exporters import EXPORTERS
    from otelmock.runtime import Runtime
    from otelmock.scenario.loader import discover
    from otelmock.scenario.timeline import Timeline
    from otelmock.world.model import World

    s = config.load(environ={}, exporters=list(EXPORTERS))
    rt = Runtime(s, World(s, Timeline.constant("degraded", discover()["degraded"].params)),
                 SimClock(time.time() // 1), dict(discover()))
    bad = [(e.name, fam, suffix, lv) for e in rt.exporters.values() for fam, per in e.meters.samples().items()
           for suffix, rows in per.items() for lv, _ in rows if not all(type(x) is str for x in lv)]
    assert bad == []
    assert sum(len(rows) for e in rt.exporters.values() for per in e.meters.samples().values()
               for rows in per.values()) > 5000

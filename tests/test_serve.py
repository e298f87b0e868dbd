"""The exporter app: /metrics plain and gzip (as Prometheus asks) carry the same tick's bytes, tick after tick."""

from __future__ import annotations

import gzip

from otelmock.bridge.prometheus import CONTENT_TYPE
from otelmock.runtime import Runtime
from otelmock.serve import exporter_app
from otelmock.world.model import BLOCK_S
from tests.api import T0, client, make_runtime


def test_gzip_scrape_is_the_plain_scrape_of_the_same_tick_every_tick() -> None:
    rt, clock = make_runtime(("node",))
    http = client(exporter_app(rt.exporters["node"], "Node Exporter"))
    seen = set()
    for _ in range(30):  # a new body every tick: the compressed copy must follow it
        zipped = http.get("/metrics", headers={"Accept-Encoding": "gzip"})
        plain = http.get("/metrics", headers={"Accept-Encoding": "identity"})
        assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
        assert zipped.headers["content-type"] == plain.headers["content-type"] == CONTENT_TYPE
        assert zipped.content == plain.content  # the client decompressed it
        seen.add(plain.content)
        clock.advance(1.0)
    assert len(seen) == 30


def test_gzip_body_is_compressed_on_the_wire() -> None:
    rt, _ = make_runtime(("node",))
    http = client(exporter_app(rt.exporters["node"], "Node Exporter"))
    with http.stream("GET", "/metrics", headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
    assert gzip.decompress(raw).startswith(b"# HELP ") and len(raw) * 5 < len(gzip.decompress(raw))


def test_a_rendered_tick_is_peeked_and_a_new_tick_is_not() -> None:
    rt, clock = make_runtime(("node",))
    exp = rt.exporters["node"]
    assert exp.bridge.peek_gzip(exp.tick_now()) is None  # nothing rendered yet
    body = exp.bridge.render_gzip()
    assert exp.bridge.peek_gzip(exp.tick_now()) is body
    clock.advance(1.0)
    assert exp.bridge.peek_gzip(exp.tick_now()) is None  # the next tick must be rendered, not the old one served
    http = client(exporter_app(exp, "Node Exporter"))
    served = http.get("/metrics", headers={"Accept-Encoding": "gzip"}).content
    assert served == gzip.decompress(exp.bridge.render_gzip())


def _busy(rt: Runtime, now: float) -> None:
    """Scrapes in each of the three ticks before ``now``: every exporter is expected in the next tick too."""
    for exp in rt.exporters.values():
        for t in (now - 2.5, now - 1.5, now - 0.5):
            exp.predictor.observe(t)


def test_the_next_tick_rendered_ahead_is_what_that_tick_serves() -> None:
    rt, clock = make_runtime(("node", "dcgm", "vllm"))
    ref, ref_clock = make_runtime(("node", "dcgm", "vllm"))  # the same world, rendered when scraped
    _busy(rt, T0)
    rt._render_ahead(T0 + 0.001, 1.0)
    n = rt.world.tick_at(T0)
    assert all(exp.bridge.peek_gzip(n + 1) is not None for exp in rt.exporters.values())
    clock.advance(1.0)
    ref_clock.advance(1.0)
    assert rt.latest is rt._ahead  # the snapshot computed ahead is the tick's snapshot, not computed twice
    for name, exp in rt.exporters.items():
        ahead = exp.bridge.peek_gzip(n + 1)
        served = client(exporter_app(exp, name)).get("/metrics", headers={"Accept-Encoding": "gzip"}).content
        assert ahead is not None and served == gzip.decompress(ahead) == ref.exporters[name].bridge.render()


def test_a_change_after_rendering_ahead_discards_what_was_rendered() -> None:
    rt, clock = make_runtime(("vllm",))
    ref, ref_clock = make_runtime(("vllm",))
    _busy(rt, T0)
    rt._render_ahead(T0 + 0.001, 1.0)
    n = rt.world.tick_at(T0)
    stale = rt.exporters["vllm"].bridge.peek_gzip(n + 1)
    for r in (rt, ref):  # both switch at the next tick (T0 + 1 opens a serving window)
        assert r.switch_scenario("degraded", ramp_s=0.0).start_t == T0 + 1
    assert rt.exporters["vllm"].bridge.peek_gzip(n + 1) is None and rt._ahead is None
    clock.advance(1.0)
    ref_clock.advance(1.0)
    served = rt.exporters["vllm"].bridge.render()
    assert stale is not None and served != gzip.decompress(stale)
    assert served == ref.exporters["vllm"].bridge.render()


def test_render_ahead_keeps_nothing_once_the_generation_moved_on() -> None:
    rt, _ = make_runtime(("node",))
    exp = rt.exporters["node"]
    snap = rt.world.snapshot(rt.world.tick_at(T0) + 1)
    exp.bridge.render_ahead(snap, exp.process, lambda: False)
    assert exp.bridge.peek_gzip(snap.tick) is None
    exp.bridge.render_ahead(snap, exp.process, lambda: True)
    assert exp.bridge.peek_gzip(snap.tick) is not None
    exp.bridge.forget_ahead()
    assert exp.bridge.peek_gzip(snap.tick) is None


def test_the_first_tick_of_the_next_world_block_is_not_computed_ahead() -> None:
    """The world caches one block: the tick before a block boundary must not evict the block still being served."""
    last = (T0 // BLOCK_S + 1) * BLOCK_S - 1.0  # the last tick of the block holding T0
    rt2, _ = make_runtime(("node",), t0=last)
    assert rt2.world.block_ticks * rt2.world.dt == BLOCK_S
    _busy(rt2, last)
    rt2._render_ahead(last + 0.001, 1.0)
    assert rt2._ahead is None and rt2.exporters["node"].bridge.peek_gzip(rt2.world.tick_at(last) + 1) is None

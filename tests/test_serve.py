"""The exporter app: /metrics plain and gzip (as Prometheus asks) carry the same tick's bytes, tick after tick."""

from __future__ import annotations

import gzip

from otelmock.bridge.prometheus import CONTENT_TYPE
from otelmock.serve import exporter_app
from tests.api import client, make_runtime


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

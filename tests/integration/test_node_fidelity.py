"""The mock node_exporter next to the real one (Debian's prometheus-node-exporter), both live on 127.0.0.1."""

from __future__ import annotations

import re
from pathlib import Path

from tests.exporters.test_node import FROM_SOURCE, dashboard_families, families
from tests.integration.conftest import get, promtool_check

# promtool findings the real exporter would also show on hardware the CI host lacks (node_exporter source):
# the systemd collector exports *_refused_connections_total as a gauge.
KNOWN_UPSTREAM = {'node_systemd_socket_refused_connections_total non-counter metrics should not have "_total" suffix'}


def test_dashboard_families_match_the_real_exporter(mock_node: str, real_node: str) -> None:
    mock = families(get(f"http://{mock_node}/metrics").decode())
    real = families(get(f"http://{real_node}/metrics").decode())
    checked = 0
    for name in sorted(dashboard_families()):
        assert name in mock, f"{name} missing from the mock"
        if name in real:
            assert mock[name] == real[name], f"{name}: mock {mock[name]} real {real[name]}"
            checked += 1
        else:
            assert mock[name] == FROM_SOURCE[name], name
    assert checked > 150  # most of the dashboard is checked against the live binary


def test_runtime_families_match(mock_node: str, real_node: str) -> None:
    mock = families(get(f"http://{mock_node}/metrics").decode())
    real = families(get(f"http://{real_node}/metrics").decode())
    for name, value in real.items():
        if re.match(r"(go|process|promhttp)_|node_(scrape|exporter_build)", name):
            assert mock.get(name) == value, name


def test_promtool_finds_nothing_it_does_not_find_on_the_real_exporter(
    mock_node: str, real_node: str, tmp_path: Path
) -> None:
    mock_text = get(f"http://{mock_node}/metrics")
    real_text = get(f"http://{real_node}/metrics")
    mock_problems = promtool_check(mock_text, tmp_path)
    real_problems = promtool_check(real_text, tmp_path)
    real_kinds = {p.split(" ", 1)[1] for p in real_problems if " " in p}
    real_names = families(real_text.decode())
    extra = set()
    for p in mock_problems - real_problems - KNOWN_UPSTREAM:
        name, _, kind = p.partition(" ")
        # a family the CI host cannot show (no sensors, old release) may carry the same kind of finding
        if name in real_names or kind not in real_kinds:
            extra.add(p)
    assert extra == set()
    assert len(mock_problems) > 10  # promtool really ran and read the text

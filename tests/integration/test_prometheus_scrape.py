"""A real Prometheus scrapes the mock; every query of dashboard 1860 returns data."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest

from tests.conftest import DATA
from tests.integration.conftest import get

# Queries that return nothing on a real node_exporter on such a host, each for a stated reason:
SKIP_EXPR = (
    "node_kernel_hung_tasks{",  # no node_exporter release has this name (the real one ends in _total, 1.11+)
    'node_network_up{operstate="up"',  # node_network_up has only a device label in every release
    "rate(node_cpu_guest_seconds_total",  # filtered by "> 0": a bare-metal GPU server runs no guest VMs
)


def query(prom: str, expr: str, at: float | None = None) -> list[dict[str, object]]:
    params = {"query": expr} | ({"time": f"{at:.3f}"} if at is not None else {})
    body = json.loads(get(f"http://{prom}/api/v1/query?" + urllib.parse.urlencode(params)))
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def wait_scraped(prom: str, jobs: tuple[str, ...], window_s: int, times: int, timeout_s: float) -> float:
    """Wait until Prometheus has scraped every one of ``jobs`` at least ``times`` times over the last ``window_s``;
    the evaluation time at which it had (fails the test after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = time.time()
        counts = query(prom, f'count_over_time(up{{job=~"{"|".join(jobs)}"}}[{window_s}s])', at=now)
        if len(counts) == len(jobs) and min(float(r["value"][1]) for r in counts) >= times:  # type: ignore[index]
            return now
        time.sleep(0.5)
    pytest.fail(f"Prometheus did not scrape {', '.join(jobs)} {times} times in {window_s} s within {timeout_s:g} s")


def dashboard_queries(instance: str) -> list[tuple[str, str]]:
    rows = []
    for line in (DATA / "dashboard-1860.queries.tsv").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        panel, expr = line.split("\t", 1)
        expr = expr.replace("$node", instance).replace("$job", "node").replace("$__rate_interval", "5s")
        rows.append((panel, expr))
    return rows


@pytest.fixture(scope="module")
def scraped(prometheus: str, mock_node: str) -> str:
    wait_scraped(prometheus, ("node",), 60, 7, timeout_s=60)
    return prometheus


def test_target_is_up(scraped: str, mock_node: str) -> None:
    r = query(scraped, f'up{{job="node",instance="{mock_node}"}}')
    assert [x["value"][1] for x in r] == ["1"]  # type: ignore[index]


def test_template_variables_resolve(scraped: str, mock_node: str) -> None:
    r = query(scraped, 'node_uname_info{job="node"}')
    assert r and r[0]["metric"]["nodename"]  # type: ignore[index]


def test_every_dashboard_query_returns_data(scraped: str, mock_node: str) -> None:
    empty = [f"{panel}: {expr}" for panel, expr in dashboard_queries(mock_node)
             if not any(s in expr for s in SKIP_EXPR) and not query(scraped, expr)]
    assert empty == [], "\n".join(empty)

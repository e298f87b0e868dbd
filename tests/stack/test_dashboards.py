"""Grafana provisioning and dashboards: valid JSON, and end to end, every query returns data.

The end-to-end test starts ``otelmock run`` (all exporters, free ports, 127.0.0.1) and a real Prometheus
with the project's prometheus.yml and rules (targets on 127.0.0.1, 1 s intervals). It checks the exporters
that ``otelmock run`` serves (each port's ``/health``): their targets are up, every rule is loaded and
evaluates, and every dashboard query that reads them returns data, template variables filled from
Prometheus as Grafana fills them (``label_values``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from otelmock.config import EXPORTER_NAMES
from tests.integration.conftest import free_port, get, tool, wait_http
from tests.integration.test_prometheus_scrape import query
from tests.stack import (
    GRAFANA,
    datasource_uids,
    exporters_of,
    load_yaml,
    local_prometheus_config,
    panels,
    queries,
    rules,
)
from tests.stack import dashboards as all_dashboards

DASHBOARDS = all_dashboards()
INTERVALS = {"__rate_interval": "15s", "__interval": "5s", "__range": "1m", "__auto": "15s"}
BUILTIN_UIDS = {"-- Grafana --", "-- Mixed --", "-- Dashboard --"}
# Queries a real deployment answers but the mock does not yet, each with its reason. Strict: once the mock
# answers one, the test fails until it is removed here.
KNOWN_EMPTY: dict[str, str] = {}


def test_provisioning_points_at_the_dashboards() -> None:
    providers = load_yaml(GRAFANA / "provisioning" / "dashboards" / "dashboards.yml")["providers"]
    assert [p["options"]["path"] for p in providers] == ["/etc/grafana/dashboards"]
    assert set(datasource_uids().values()) == {"prometheus", "loki"}


@pytest.mark.parametrize(("name", "dash"), DASHBOARDS, ids=[n for n, _ in DASHBOARDS])
def test_dashboard_is_valid(name: str, dash: dict[str, Any]) -> None:
    assert dash["schemaVersion"] == 39 and dash["uid"] and dash["title"]
    ids = [p["id"] for p in panels(dash)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    uids = datasource_uids()
    refs = [p.get("datasource") for p in panels(dash)] + [t.get("datasource") for p in panels(dash)
                                                          for t in p.get("targets", [])]
    refs += [v.get("datasource") for v in dash["templating"]["list"]]
    for ref in filter(None, refs):
        assert ref["uid"] in uids or ref["uid"] in BUILTIN_UIDS, f"{name}: unknown data source {ref}"
        assert ref.get("type", uids.get(ref["uid"])) == uids.get(ref["uid"], ref.get("type")), f"{name}: {ref}"
    for panel in panels(dash):
        if panel["type"] != "row":
            assert any(t.get("expr", "").strip() for t in panel.get("targets", [])), f"{name}: {panel['title']}"


def test_dashboard_uids_are_unique() -> None:
    uids = [d["uid"] for _, d in DASHBOARDS]
    assert len(uids) == len(set(uids)) and len(DASHBOARDS) >= 6


# ---------------------------------------------------------------------------------------------- end to end


def _served(ports: dict[str, int], timeout_s: float = 5.0) -> set[str]:
    """The exporters whose port answers /health (``otelmock run`` binds every port before serving any)."""
    served: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(served) < len(ports):
        for name, port in ports.items():
            try:
                if name not in served and json.loads(get(f"http://127.0.0.1:{port}/health"))["status"] == "ok":
                    served.add(name)
            except OSError:
                pass
        time.sleep(0.2)
    return served


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, set[str]]]:
    """``otelmock run`` on free ports and a real Prometheus scraping it with the project's configuration."""
    prometheus = tool("prometheus")
    ports = {name: free_port() for name in EXPORTER_NAMES}
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTELMOCK_")}
    env.update({f"OTELMOCK_PORTS__{n.upper()}": str(p) for n, p in ports.items()},
               OTELMOCK_BIND="127.0.0.1", OTELMOCK_PORTS__CONTROL=str(free_port()))
    mock = subprocess.Popen([sys.executable, "-m", "otelmock", "run"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [mock]
    try:
        wait_http(f"http://127.0.0.1:{ports['node']}/health", timeout_s=60, proc=mock)
        served = _served(ports)
        work = tmp_path_factory.mktemp("prometheus")
        cfg = work / "prometheus.yml"
        cfg.write_text(yaml.safe_dump(local_prometheus_config({n: ports[n] for n in served}, interval="1s")))
        port = free_port()
        procs.append(subprocess.Popen(
            [prometheus, f"--config.file={cfg}", f"--storage.tsdb.path={work / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        prom = f"127.0.0.1:{port}"
        wait_http(f"http://{prom}/-/ready", timeout_s=30, proc=procs[-1])
        deadline = time.monotonic() + 60
        # 8 scrapes of every target, the last 3 successful (the first scrapes of a cold mock may time out)
        while len(query(prom, "count_over_time(up[1m]) >= 8 and min_over_time(up[3s]) == 1")) < len(served):
            assert time.monotonic() < deadline, "Prometheus did not scrape every target 8 times within 60 s"
            time.sleep(0.5)
        yield prom, served
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=10)


def _label_values(prom: str, definition: str) -> list[str]:
    m = re.fullmatch(r"label_values\((?:(.+),\s*)?(\w+)\)", definition.strip())
    assert m, f"unsupported variable query {definition!r}"
    selector, label = m.groups()
    params = {"match[]": selector or "{" + f'{label}!=""' + "}"}
    body = json.loads(get(f"http://{prom}/api/v1/series?" + urllib.parse.urlencode(params)))
    return sorted({s[label] for s in body["data"] if s.get(label)})


def _fill(expr: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1), m.group(0)), expr)


def _variables(prom: str, dash: dict[str, Any], served: set[str]) -> dict[str, str]:
    """One concrete value per variable, as Grafana picks it: the saved one if it exists, else the first."""
    values = dict(INTERVALS)
    for var in dash["templating"]["list"]:
        if var["datasource"]["uid"] != "prometheus":
            continue
        definition = _fill(var["query"]["query"] if isinstance(var["query"], dict) else var["query"], values)
        if not exporters_of(definition) <= served:
            continue
        options = _label_values(prom, definition)
        assert options, f"{dash['title']}: variable {var['name']} ({definition}) has no values"
        saved = (var.get("current") or {}).get("value")
        values[var["name"]] = saved if saved in options else options[0]
    return values


@pytest.mark.integration
def test_every_target_up_and_every_rule_loaded(stack: tuple[str, set[str]]) -> None:
    prom, served = stack
    targets = json.loads(get(f"http://{prom}/api/v1/targets"))["data"]["activeTargets"]
    assert {t["labels"]["job"] for t in targets} == served
    assert [t["scrapeUrl"] for t in targets if t["health"] != "up"] == []
    loaded = [r for g in json.loads(get(f"http://{prom}/api/v1/rules"))["data"]["groups"] for r in g["rules"]]
    assert sorted(r["name"] for r in loaded) == sorted(r.get("record") or r["alert"] for r in rules())
    assert [(r["name"], r.get("lastError")) for r in loaded if r["health"] != "ok"] == []


@pytest.mark.integration
def test_every_dashboard_query_returns_data(stack: tuple[str, set[str]]) -> None:
    prom, served = stack
    checked, skipped, empty, known, answered = 0, [], [], set(), set()
    for name, dash in DASHBOARDS:
        values = _variables(prom, dash, served)
        for title, uid, expr in queries(dash):
            if uid != "prometheus":
                skipped.append(f"{name}: {title} ({uid})")
                continue
            filled = _fill(expr, values)
            if not exporters_of(filled) <= served or "$" in filled:
                skipped.append(f"{name}: {title} (not served: {sorted(exporters_of(filled) - served)}; {filled})")
                continue
            checked += 1
            gap = next((k for k in KNOWN_EMPTY if k in filled), None)
            has_data = bool(query(prom, filled))
            if gap:
                (answered if has_data else known).add(gap)
            elif not has_data:
                empty.append(f"{name}: {title}: {filled}")
    print(f"\nserved: {sorted(served)}; {checked} queries returned data checked; {len(skipped)} not checked:")
    print("\n".join(f"  {s}" for s in skipped))
    print("known gaps of the mock:", "; ".join(f"{k}: {KNOWN_EMPTY[k]}" for k in sorted(known)) or "none")
    assert empty == [], "\n".join(empty)
    assert answered == set(), f"the mock now answers {sorted(answered)}: remove them from KNOWN_EMPTY"
    assert checked > 0

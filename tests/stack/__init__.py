"""The monitoring stack as files (compose, collector, Prometheus, Loki, Grafana), checked without a Docker engine.

Shared helpers: where the files are, the project's prometheus.yml rewritten for 127.0.0.1, and the
queries of the provisioned dashboards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
COLLECTOR_CONFIG = ROOT / "collector-config" / "otel-collector.yaml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
RULE_FILES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
LOKI_CONFIG = ROOT / "deploy" / "loki" / "loki.yaml"

# scrape job -> the otelmock exporter it scrapes (the collector's jobs scrape no exporter)
JOB_EXPORTER = {"node": "node", "dcgm": "dcgm", "cadvisor": "cadvisor", "litellm": "litellm", "vllm": "vllm"}
# a PromQL expression needs an exporter when it names one of its metric families (or a rule built on them)
_FAMILY_OF = {"node": r"\bnode_", "dcgm": r"\bDCGM_", "cadvisor": r"\b(container|machine)_",
              "vllm": r"\bvllm[:_]", "litellm": r"\blitellm_"}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def exporters_of(expr: str) -> set[str]:
    return {name for name, pattern in _FAMILY_OF.items() if re.search(pattern, expr)}


def local_prometheus_config(ports: Mapping[str, int] | None = None, interval: str | None = None) -> dict[str, Any]:
    """prometheus.yml with its targets on 127.0.0.1, no DNS discovery and absolute rule files.

    Without ``ports`` every target keeps its port; with ``ports`` (exporter -> port) only the jobs of
    those exporters are kept, each on its port.
    """
    cfg = load_yaml(PROMETHEUS_CONFIG)
    jobs = []
    for job in cfg["scrape_configs"]:
        exporter = JOB_EXPORTER.get(job["job_name"])
        if ports is not None and exporter not in ports:
            continue
        job = {k: v for k, v in job.items() if k != "dns_sd_configs"}
        port = ports[exporter] if ports else int(job["static_configs"][0]["targets"][0].rsplit(":", 1)[1])
        job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
        if interval:
            job.update(scrape_interval=interval, scrape_timeout=interval)
        jobs.append(job)
    cfg["scrape_configs"] = jobs
    cfg["rule_files"] = [str(PROMETHEUS_CONFIG.parent / pattern) for pattern in cfg.get("rule_files", [])]
    if interval:
        cfg["global"].update(scrape_interval=interval, evaluation_interval=interval, scrape_timeout=interval)
    return cfg


def rules() -> list[dict[str, Any]]:
    return [rule for path in RULE_FILES for group in load_yaml(path)["groups"] for rule in group["rules"]]


def datasource_uids() -> dict[str, str]:
    """uid -> type of every provisioned data source."""
    out = {}
    for path in sorted((GRAFANA / "provisioning" / "datasources").glob("*.y*ml")):
        for ds in load_yaml(path).get("datasources", []):
            out[ds["uid"]] = ds["type"]
    return out


def dashboards() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, json.loads(path.read_text(encoding="utf-8"))) for path in DASHBOARDS]


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' collapsed children included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(panel title, data source uid, expr) of every target of every panel."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            ds = target.get("datasource") or panel.get("datasource") or {}
            yield panel["title"], ds.get("uid", ""), target.get("expr", "")

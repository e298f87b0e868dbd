"""The OTel Collector, Prometheus and Loki configurations, checked structurally and with the real promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import tool
from tests.stack import (
    COLLECTOR_CONFIG,
    JOB_EXPORTER,
    LOKI_CONFIG,
    PROMETHEUS_CONFIG,
    RULE_FILES,
    load_yaml,
    local_prometheus_config,
    rules,
)

KINDS = ("receivers", "processors", "exporters")
# component types that exist in otel/opentelemetry-collector-contrib 0.123 (the part before "/" in an id)
KNOWN = {"receivers": {"otlp"}, "processors": {"memory_limiter", "batch"},
         "exporters": {"prometheus", "prometheusremotewrite", "otlphttp", "otlp", "debug"},
         "extensions": {"health_check", "pprof", "zpages"}}


@pytest.fixture(scope="module")
def collector() -> dict[str, Any]:
    return dict(load_yaml(COLLECTOR_CONFIG))


def test_collector_pipelines_use_only_defined_components(collector: dict[str, Any]) -> None:
    pipelines = collector["service"]["pipelines"]
    assert {"metrics", "logs"} <= {name.split("/")[0] for name in pipelines}
    for name, pipeline in pipelines.items():
        for kind in KINDS:
            for component in pipeline.get(kind, []):
                assert component in (collector.get(kind) or {}), f"pipeline {name}: {kind[:-1]} {component} undefined"


def test_every_defined_component_is_used(collector: dict[str, Any]) -> None:
    pipelines = collector["service"]["pipelines"].values()
    for kind in KINDS:
        used = {c for p in pipelines for c in p.get(kind, [])}
        assert set(collector.get(kind) or {}) == used, f"{kind} defined but unused: {set(collector[kind]) - used}"
    assert set(collector.get("extensions") or {}) == set(collector["service"].get("extensions", []))


def test_component_types_exist_in_contrib(collector: dict[str, Any]) -> None:
    for kind, known in KNOWN.items():
        for component in collector.get(kind) or {}:
            assert component.split("/")[0] in known, f"{kind}: unknown component type {component}"


def test_memory_limiter_first_and_batch_last(collector: dict[str, Any]) -> None:
    for name, pipeline in collector["service"]["pipelines"].items():
        processors = pipeline["processors"]
        assert processors[0] == "memory_limiter" and processors[-1] == "batch", name


def test_metrics_reach_prometheus_and_logs_reach_loki(collector: dict[str, Any]) -> None:
    pipelines = collector["service"]["pipelines"]
    assert any(e.split("/")[0] in ("prometheus", "prometheusremotewrite") for e in pipelines["metrics"]["exporters"])
    logs_out = [collector["exporters"][e] for e in pipelines["logs"]["exporters"]]
    assert any("loki:3100" in str(cfg.get("endpoint", "")) for cfg in logs_out)
    exposed = collector["exporters"]["prometheus"]["endpoint"].rsplit(":", 1)[1]
    targets = {t for job in load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]
               for sc in job.get("static_configs", []) for t in sc["targets"]}
    assert f"otel-collector:{exposed}" in targets, "Prometheus does not scrape the collector's exporter"


def test_prometheus_jobs_are_named_like_a_real_deployment() -> None:
    jobs = [job["job_name"] for job in load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]]
    assert set(JOB_EXPORTER) | {"otel-collector"} <= set(jobs)
    assert len(jobs) == len(set(jobs))


def test_promtool_check_config(tmp_path: Path) -> None:
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(yaml.safe_dump(local_prometheus_config()))
    res = subprocess.run([tool("promtool"), "check", "config", str(cfg)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in res.stdout


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(path: Path) -> None:
    res = subprocess.run([tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_required_alerts_exist() -> None:
    alerts = {r["alert"]: r["expr"] for r in rules() if "alert" in r}
    assert {"GpuTemperatureHigh", "GpuTemperatureCritical", "GpuXidError", "VllmQueueGrowing", "LitellmErrorRateHigh",
            "NodeFilesystemFillingUp", "NodeDown"} <= set(alerts)
    assert "DCGM_FI_DEV_XID_ERRORS" in alerts["GpuXidError"] and "predict_linear" in str(rules())


GPU = 'instance="h:9445",Hostname="h",gpu="0",UUID="GPU-0"'
UNIT_TESTS = f"""
rule_files: [{{rule_files}}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - {{series: 'DCGM_FI_DEV_GPU_TEMP{{{GPU},container="a"}}', values: '60+0x2 80+0x5 90+0x5'}}
      - {{series: 'DCGM_FI_DEV_XID_ERRORS{{{GPU},err_code="79",err_msg="fell off the bus"}}', values: '0 0 79x10'}}
      - {{series: 'up{{job="node",instance="n:9100"}}', values: '1 1 0x10'}}
      - {{series: 'vllm:num_requests_waiting{{instance="v:9902",model_name="m",engine="0"}}', values: '0+3x12'}}
      - {{series: 'litellm_proxy_total_requests_metric_total{{instance="l:9901",requested_model="m"}}',
         values: '0+100x12'}}
      - {{series: 'litellm_proxy_failed_requests_metric_total{{instance="l:9901",requested_model="m"}}',
         values: '0+10x12'}}
    alert_rule_test:
      - {{eval_time: 5m, alertname: GpuTemperatureHigh, exp_alerts: [{{exp_labels: {{severity: warning,
         instance: "h:9445", Hostname: h, gpu: "0", UUID: GPU-0}}}}]}}
      - {{eval_time: 10m, alertname: GpuTemperatureHigh, exp_alerts: []}}
      - {{eval_time: 10m, alertname: GpuTemperatureCritical, exp_alerts: [{{exp_labels: {{severity: critical,
         instance: "h:9445", Hostname: h, gpu: "0", UUID: GPU-0}}}}]}}
      - {{eval_time: 3m, alertname: GpuXidError, exp_alerts: [{{exp_labels: {{severity: critical, instance: "h:9445",
         Hostname: h, gpu: "0", UUID: GPU-0, err_code: "79", err_msg: fell off the bus}}}}]}}
      - {{eval_time: 4m, alertname: NodeDown, exp_alerts: [{{exp_labels: {{severity: critical, job: node,
         instance: "n:9100"}}}}]}}
      - {{eval_time: 12m, alertname: VllmQueueGrowing, exp_alerts: [{{exp_labels: {{severity: warning,
         instance: "v:9902", model_name: m}}}}]}}
      - {{eval_time: 12m, alertname: LitellmErrorRateHigh, exp_alerts: [{{exp_labels: {{severity: warning,
         instance: "l:9901", requested_model: m}}}}]}}
    promql_expr_test:
      - expr: requested_model:litellm_proxy_failed_requests:ratio_rate5m
        eval_time: 10m
        exp_samples: [{{labels: 'requested_model:litellm_proxy_failed_requests:ratio_rate5m{{instance="l:9901",
          requested_model="m"}}', value: 0.1}}]
"""


def test_alerts_fire_where_they_should(tmp_path: Path) -> None:
    """promtool's rule unit tests: 75/85 C, an XID, a node down, a growing queue, a 10 % LiteLLM error rate."""
    copies = []
    for source in RULE_FILES:  # without annotations, which promtool would otherwise compare too
        doc = load_yaml(source)
        for rule in (r for g in doc["groups"] for r in g["rules"]):
            rule.pop("annotations", None)
        copies.append(tmp_path / source.name)
        copies[-1].write_text(yaml.safe_dump(doc))
    path = tmp_path / "rules.test.yml"
    path.write_text(UNIT_TESTS.replace("{rule_files}", ", ".join(map(str, copies))))
    res = subprocess.run([tool("promtool"), "test", "rules", str(path)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_loki_accepts_otlp_and_promtail() -> None:
    loki = load_yaml(LOKI_CONFIG)
    assert loki["server"]["http_listen_port"] == 3100
    assert loki["limits_config"]["allow_structured_metadata"] is True  # Loki's /otlp endpoint needs it
    assert all(c["store"] == "tsdb" and c["schema"] == "v13" for c in loki["schema_config"]["configs"])
    assert loki["auth_enabled"] is False  # single tenant: Promtail and the collector send no X-Scope-OrgID

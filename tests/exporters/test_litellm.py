"""The mock LiteLLM proxy /metrics against real LiteLLM 1.110.2 output (tests/data/litellm-1.110.2.*.prom)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client.parser import text_string_to_metric_families

from otelmock.bridge.otel import ExporterMeters
from otelmock.bridge.prometheus import PrometheusBridge
from otelmock.exporters import litellm
from otelmock.exporters.base import Family, Process
from otelmock.exporters.pyclient import extra_suffixes
from otelmock.world import snapshot as ws
from otelmock.world.snapshot import LitellmModel, Snapshot
from tests.conftest import DATA, GOLDEN, T0

STARTUP = (DATA / "litellm-1.110.2.families-at-startup.prom").read_text()
SDK_SAMPLE = (DATA / "litellm-1.110.2.sdk-mock.sample.prom").read_text()
# LATENCY_BUCKETS and prometheus_client's DEFAULT_BUCKETS, from litellm.md (copied: the test is the spec)
LATENCY = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 420.0, 600.0]
DEFAULT = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
HISTS = {"request_total_latency_metric": (LATENCY, 2.1), "llm_api_latency_metric": (LATENCY, 2.0),
         "llm_api_time_to_first_token_metric": (LATENCY, 0.12), "overhead_latency_metric": (LATENCY, 0.004),
         "overhead_with_guardrails_latency_metric": (LATENCY, 0.005), "request_queue_time_seconds": (LATENCY, 0.001),
         "deployment_latency_per_output_token": (DEFAULT, 0.02)}


def hist(bounds: Sequence[float], n: float, mean: float) -> ws.Histogram:
    cum = [float(round(n * min(1.0, (b / (2 * mean)) ** 0.8))) for b in bounds]
    return ws.Histogram(tuple(bounds), (*cum, float(n)), round(n * mean, 4))


def model(group: str = "llama-70b", container: str = "vllm-llama-70b", n: float = 1200.0,
          fails: bool = True) -> LitellmModel:
    failures = {"failures:500:Hosted_vllmException.InternalServerError": 2.0,
                "failures:429:RateLimitError": 1.0} if fails else {}
    return LitellmModel(
        group, f"hosted_vllm/meta-llama/{group}", hashlib.sha256(group.encode()).hexdigest(),
        f"http://{container}:8000/v1", "hosted_vllm", "llm", (container,),
        {"requests": n + sum(failures.values()), "successes": n, **failures, "input_tokens": 1769.5 * n,
         "output_tokens": 343.6 * n, "spend": 0.0, "service:postgres:total_requests": 3.0 * n,
         "service:auth:total_requests": n},
        {"deployment_state": 0.0},
        {**{k: hist(b, n, mean) for k, (b, mean) in HISTS.items()},
         "service:postgres:latency": hist(LATENCY, n, 0.003)})


def snap(*models: LitellmModel) -> Snapshot:
    return Snapshot(7, T0, "normal", None, {}, litellm=models)  # type: ignore[arg-type]


def render(families: Sequence[Family], s: Snapshot) -> str:
    reader = InMemoryMetricReader()
    meters = ExporterMeters("t", families, Resource.create({}), lambda: (s, Process(T0 - 3600)), [reader],
                            extra_suffixes=extra_suffixes(families))
    try:
        return PrometheusBridge(meters, reader, "python").render().decode()
    finally:
        meters.shutdown()


def two_models() -> Snapshot:
    return snap(model(), model("qwen-7b", "vllm-qwen-7b", 600.0, fails=False))


def heads(text: str) -> list[tuple[str, str]]:
    """(HELP line, TYPE line) of every family, in order."""
    lines = [ln for ln in text.splitlines() if ln.startswith("# ")]
    return list(zip(lines[::2], lines[1::2], strict=True))


def test_golden(update_golden: bool) -> None:
    text = render(litellm.families(None), two_models())
    path = GOLDEN / "litellm.prom"
    if update_golden:
        path.write_text(text)
    assert text == path.read_text()


def test_families_help_and_type_are_the_real_ones_in_the_real_order() -> None:
    for s in (snap(), two_models()):  # no traffic (the real capture's state), then traffic
        mine = [h for h in heads(render(litellm.families(None, service_metrics=False), s))
                if not h[1].endswith("_created gauge")]
        assert mine == heads(STARTUP)


def test_no_traffic_is_byte_for_byte_the_real_startup_registry() -> None:
    mine = render(litellm.families(None, service_metrics=False), snap())
    assert heads(mine) == heads(STARTUP)


def test_created_families_are_the_real_ones() -> None:
    real = [h for h in heads(SDK_SAMPLE) if h[1].endswith("_created gauge")]
    mine = [h for h in heads(render(litellm.families(None), two_models())) if h[1].endswith("_created gauge")]
    assert set(real) <= set(mine)


def label_names(text: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, set()).update(set(s.labels) - {"le"})
    return out


def test_label_names_of_every_series_match_the_real_ones() -> None:
    real, mine = label_names(SDK_SAMPLE), label_names(render(litellm.families(None), two_models()))
    shared = real.keys() & mine.keys()
    assert {n for n in real if n.startswith("litellm_")} - {"litellm_remaining_api_key_requests_for_model"} <= shared
    for name in shared:
        assert mine[name] == real[name], name


def test_proxy_label_values_and_counts() -> None:
    text = render(litellm.families(None), two_models())
    ok = re.search(r'litellm_proxy_total_requests_metric_total\{[^}]*model_id="[0-9a-f]{64}"[^}]*status_code="200"'
                   r'[^}]*\} 1200\.0', text)
    assert ok and 'hashed_api_key="litellm_proxy_master_key"' in ok.group(0) and 'user="default_user_id"' in ok.group(0)
    assert re.search(r'litellm_proxy_total_requests_metric_total\{[^}]*status_code="500"[^}]*\} 2\.0', text)
    assert re.search(r'litellm_proxy_failed_requests_metric_total\{[^}]*exception_class="RateLimitError",'
                     r'exception_status="429"[^}]*\} 1\.0', text)
    assert re.search(r'litellm_deployment_total_requests_total\{api_base="http://vllm-llama-70b:8000/v1",[^}]*\} '
                     r'1203\.0', text)
    assert re.search(r'litellm_total_tokens_metric_total\{[^}]*model="meta-llama/qwen-7b"[^}]*\} 1.26786e\+06', text)
    assert 'litellm_deployment_state{api_base="http://vllm-qwen-7b:8000/v1",api_provider="hosted_vllm",' \
           'litellm_model_name="meta-llama/qwen-7b",' in text
    assert "litellm_total_users 0.0\n" in text and 'team="None"' in text and 'org_id="None"' in text
    assert re.search(r'litellm_remaining_api_key_requests_for_model\{[^}]*model="qwen-7b"[^}]*\} '
                     r'9\.223372036854776e\+18', text)


def test_histograms_have_litellms_buckets_and_hold_together() -> None:
    text = render(litellm.families(None), two_models())
    for fam in text_string_to_metric_families(text):
        if fam.type != "histogram":
            continue
        children: dict[tuple[tuple[str, str], ...], list[tuple[str, str, float]]] = {}
        for s in fam.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            children.setdefault(key, []).append((s.name, s.labels.get("le", ""), s.value))
        for rows in children.values():
            les = [le for n, le, _ in rows if n.endswith("_bucket")]
            counts = [v for n, _, v in rows if n.endswith("_bucket")]
            want = DEFAULT if fam.name == "litellm_deployment_latency_per_output_token" else LATENCY
            assert les == [str(b) for b in want] + ["+Inf"], fam.name
            assert counts == sorted(counts) and counts[-1] == [v for n, _, v in rows if n.endswith("_count")][0]


def test_service_metrics_option_and_runtime() -> None:
    text = render(litellm.families(None), two_models())
    assert 'litellm_postgres_total_requests_total{postgres="postgres"} 5400.0\n' in text
    assert 'litellm_postgres_latency_bucket{le="+Inf",postgres="postgres"} 1800.0\n' in text
    assert 'litellm_redis_circuit_breaker_state{state="half_open"} 0.0\n' in text
    assert "# TYPE litellm_self_latency histogram\n" in text and "# HELP litellm_redis_latency Latency for redis " \
           "service\n" in text
    assert "litellm_redis_total_requests_created" not in text  # no Redis: no series, no _created family
    assert "litellm_postgres" not in render(litellm.families(None, service_metrics=False), two_models())
    assert 'python_info{implementation="CPython",' in text and "process_start_time_seconds 1.7949964e+09\n" in text


def test_wrong_world_buckets_leave_the_family_out_not_the_scrape() -> None:
    m = model()
    m.histograms["llm_api_latency_metric"] = ws.Histogram((1.0,), (1.0, 2.0), 3.0)
    text = render(litellm.families(None), snap(m))
    assert "litellm_llm_api_latency_metric_bucket" not in text and "litellm_spend_metric_total{" in text

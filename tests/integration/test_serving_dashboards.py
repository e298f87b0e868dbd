"""A real Prometheus scrapes every mock exporter; GPU (12239) and vLLM dashboard queries return data."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.integration.test_prometheus_scrape import query, wait_scraped

# NVIDIA DCGM Exporter Dashboard (grafana.com 12239), variables $instance and $gpu filled in
DCGM_12239 = (
    'DCGM_FI_DEV_GPU_TEMP{instance=~"$i", gpu=~"$g"}', 'avg(DCGM_FI_DEV_GPU_TEMP{instance=~"$i", gpu=~"$g"})',
    'DCGM_FI_DEV_POWER_USAGE{instance=~"$i", gpu=~"$g"}', 'sum(DCGM_FI_DEV_POWER_USAGE{instance=~"$i", gpu=~"$g"})',
    'DCGM_FI_DEV_SM_CLOCK{instance=~"$i", gpu=~"$g"} * 1000000', 'DCGM_FI_DEV_GPU_UTIL{instance=~"$i", gpu=~"$g"}',
    'DCGM_FI_DEV_FB_USED{instance=~"$i", gpu=~"$g"}', 'DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{instance=~"$i", gpu=~"$g"}',
    'rate(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{instance=~"$i"}[5s])',
)
# vLLM's example dashboard (examples/online_serving/prometheus_grafana/grafana.json), $model_name filled in
VLLM_EXAMPLE = (
    'histogram_quantile(0.99, sum by(le) (rate(vllm:e2e_request_latency_seconds_bucket{model_name="$m"}[1m])))',
    'rate(vllm:e2e_request_latency_seconds_sum{model_name="$m"}[1m]) / '
    'rate(vllm:e2e_request_latency_seconds_count{model_name="$m"}[1m])',
    'rate(vllm:prompt_tokens_total{model_name="$m"}[1m])', 'rate(vllm:generation_tokens_total{model_name="$m"}[1m])',
    'histogram_quantile(0.5, sum by(le) (rate(vllm:time_per_output_token_seconds_bucket{model_name="$m"}[1m])))',
    'histogram_quantile(0.9, sum by(le) (rate(vllm:time_to_first_token_seconds_bucket{model_name="$m"}[1m])))',
    'vllm:num_requests_running{model_name="$m"}', 'vllm:num_requests_waiting{model_name="$m"}',
    'vllm:gpu_cache_usage_perc{model_name="$m"}',
    'sum by(le) (increase(vllm:request_prompt_tokens_bucket{model_name="$m"}[1m]))',
    'sum by(le) (increase(vllm:request_generation_tokens_bucket{model_name="$m"}[1m]))',
    'sum by(finished_reason) (increase(vllm:request_success_total{model_name="$m"}[1m]))',
    'rate(vllm:request_queue_time_seconds_sum{model_name="$m"}[1m])',
    'rate(vllm:request_prefill_time_seconds_sum{model_name="$m"}[1m])',
    'rate(vllm:request_decode_time_seconds_sum{model_name="$m"}[1m])',
    'rate(vllm:request_max_num_generation_tokens_sum{model_name="$m"}[1m])',
)


@pytest.fixture(scope="module")
def scraped_all(prometheus: str, mock: dict[str, str]) -> str:
    wait_scraped(prometheus, tuple(mock), 120, 8, timeout_s=90)
    return prometheus


def test_every_exporter_is_up(scraped_all: str, mock: dict[str, str]) -> None:
    up = {r["metric"]["job"]: r["value"][1] for r in query(scraped_all, "up")}  # type: ignore[index]
    assert up == dict.fromkeys(mock, "1")


def test_gpu_dashboard_12239(scraped_all: str, mock: dict[str, str]) -> None:
    empty = [e for e in DCGM_12239 if not query(scraped_all, e.replace("$i", mock["dcgm"]).replace("$g", ".*"))]
    assert empty == []
    assert len(query(scraped_all, 'count by (gpu) (DCGM_FI_DEV_GPU_UTIL)')) == 8


def _serving_models(mock: dict[str, str]) -> tuple[set[str], set[str]]:
    """(every vLLM model of the host, the ones serving now) as the mock's world reports them."""
    state = httpx.get(f"http://{mock['vllm']}/otelmock/state", timeout=10).json()
    return {v["model"] for v in state["vllm"]}, {v["model"] for v in state["vllm"] if v["serving"]}


def test_vllm_example_dashboard(scraped_all: str, mock: dict[str, str]) -> None:
    """Every serving model has series (a container that is restarting or loading weights has none, as in vLLM)."""
    for _ in range(10):  # a container may start or stop serving between the two reads: read again
        _, serving = _serving_models(mock)
        models = {r["metric"]["model_name"] for r in query(scraped_all, "vllm:num_requests_running")}  # type: ignore[index]
        if models == serving:
            break
        time.sleep(1)
    everything, _ = _serving_models(mock)
    assert len(everything) == 10 and models == serving and len(serving) >= 8
    model = next(m for m in ("meta-llama/Llama-3.1-70B-Instruct", "meta-llama/Llama-3.1-8B-Instruct") if m in serving)
    empty = [e for e in VLLM_EXAMPLE if not query(scraped_all, e.replace("$m", model))]
    assert empty == []


def test_the_exporters_agree_at_the_same_moment(scraped_all: str) -> None:
    """LiteLLM's success rate = vLLM's request_success rate over the containers behind it (the proxy counts
    since its own start and vLLM since each container's, so rates are what agree), over 30 s both jobs fill.

    A rate over a window the samples only partly cover is scaled down by the gap (Prometheus extrapolates at most
    half an interval past the first sample), and targets start being scraped a few seconds apart: the rates of two
    jobs agree only over a window both fill (a scrape a second)."""
    at = wait_scraped(scraped_all, ("litellm", "vllm"), 30, 29, timeout_s=60)
    lite = query(scraped_all, 'sum(rate(litellm_proxy_total_requests_metric_total{status_code="200"}[30s]))', at=at)
    vllm = query(scraped_all, "sum(rate(vllm:request_success_total[30s]))", at=at)
    assert lite and vllm
    a, b = float(lite[0]["value"][1]), float(vllm[0]["value"][1])  # type: ignore[index]
    # the same requests counted in the same ticks: only the edges of the window (a tick each) can differ
    assert b > 1 and abs(a - b) <= 0.2 * b
    gpu_containers = query(scraped_all, 'count(count by (name) '
                                        '(container_cpu_usage_seconds_total{container_env_nvidia_visible_devices!=""}))')
    assert float(gpu_containers[0]["value"][1]) == 10  # type: ignore[index]

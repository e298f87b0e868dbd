"""The mock vLLM /metrics against vLLM's own definitions and what prometheus_client prints for them."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, Summary, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from otelmock.bridge.otel import ExporterMeters
from otelmock.bridge.prometheus import PrometheusBridge
from otelmock.exporters import vllm
from otelmock.exporters.base import Family, Process
from otelmock.exporters.pyclient import extra_suffixes
from otelmock.world import snapshot as ws
from otelmock.world.snapshot import Snapshot, VllmState
from tests.conftest import GOLDEN, T0

HISTOGRAMS = ("e2e_request_latency_seconds", "time_to_first_token_seconds", "inter_token_latency_seconds",
              "request_time_per_output_token_seconds", "request_queue_time_seconds", "request_inference_time_seconds",
              "request_prefill_time_seconds", "request_decode_time_seconds", "request_prompt_tokens",
              "request_generation_tokens", "iteration_tokens_total", "request_params_n", "request_params_max_tokens",
              "request_max_num_generation_tokens")
CHAT = "/v1/chat/completions"
# vllm.md, "Exact default buckets" (copied, not imported: the test is the spec)
LATENCY = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
           960.0, 1920.0, 7680.0]
TTFT = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
        160.0, 640.0, 2560.0]
ITL = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0]
ITERATION: list[float] = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
TOKENS_8K: list[float] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
TOKENS_128K = [*TOKENS_8K, 10000, 20000, 50000, 100000]
EXPECTED_BUCKETS: dict[str, list[float]] = {
    "vllm:e2e_request_latency_seconds": LATENCY, "vllm:request_queue_time_seconds": LATENCY,
    "vllm:request_inference_time_seconds": LATENCY, "vllm:request_prefill_time_seconds": LATENCY,
    "vllm:request_decode_time_seconds": LATENCY, "vllm:time_to_first_token_seconds": TTFT,
    "vllm:inter_token_latency_seconds": ITL, "vllm:request_time_per_output_token_seconds": ITL,
    "vllm:time_per_output_token_seconds": ITL, "vllm:iteration_tokens_total": ITERATION,
    "vllm:request_params_n": [1, 2, 5, 10, 20], "vllm:request_prompt_tokens": TOKENS_8K,
    "vllm:request_generation_tokens": TOKENS_8K, "vllm:request_params_max_tokens": TOKENS_8K,
    "vllm:request_max_num_generation_tokens": TOKENS_8K,
}
# Every metric name the example dashboard (grafana.json @ 004f771) queries, from vllm.md
DASHBOARD = ("vllm:e2e_request_latency_seconds_bucket", "vllm:e2e_request_latency_seconds_sum",
             "vllm:e2e_request_latency_seconds_count", "vllm:prompt_tokens_total", "vllm:generation_tokens_total",
             "vllm:time_per_output_token_seconds_bucket", "vllm:time_to_first_token_seconds_bucket",
             "vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:gpu_cache_usage_perc",
             "vllm:request_prompt_tokens_bucket", "vllm:request_generation_tokens_bucket", "vllm:request_success_total",
             "vllm:request_queue_time_seconds_sum", "vllm:request_prefill_time_seconds_sum",
             "vllm:request_decode_time_seconds_sum", "vllm:request_max_num_generation_tokens_sum")


def hist(name: str, max_model_len: int, n: float, mean: float) -> ws.Histogram:
    """A plausible cumulative histogram: n observations spread over the buckets around ``mean``."""
    bounds = vllm.buckets(name, max_model_len)
    cum = [float(round(n * min(1.0, (b / (2 * mean)) ** 0.8))) for b in bounds]
    return ws.Histogram(bounds, (*cum, float(n)), round(n * mean, 3))


def state(container: str = "vllm-llama-70b", model: str = "meta-llama/Llama-3.1-70B-Instruct",
          gpus: tuple[int, ...] = (0, 1, 2, 3), max_model_len: int = 8192, scale: float = 1.0,
          serving: bool = True) -> VllmState:
    n = round(1200 * scale)
    hists = {k: hist(k, max_model_len, n, 0.9) for k in HISTOGRAMS}
    hists["iteration_tokens_total"] = hist("iteration_tokens_total", max_model_len, 40 * n, 300.0)
    hists["http_request_duration_highr_seconds"] = hist("http_request_duration_highr_seconds", 0, n + 3, 3.0)
    hists[f"http_request_duration_seconds:POST:{CHAT}"] = hist("http_request_duration_seconds", 0, n, 3.0)
    hists["http_request_duration_seconds:GET:/v1/models"] = hist("http_request_duration_seconds", 0, 3, 0.002)
    hists[f"http_request_size_bytes:{CHAT}"] = ws.Histogram((), (float(n),), 1843.0 * n)
    hists["http_request_size_bytes:/v1/models"] = ws.Histogram((), (3.0,), 0.0)
    hists[f"http_response_size_bytes:{CHAT}"] = ws.Histogram((), (float(n),), 0.0)  # streamed: no Content-Length
    hists["http_response_size_bytes:/v1/models"] = ws.Histogram((), (3.0,), 1251.0)
    return VllmState(
        container, model, "llm", "0", "0.11.0", 8000, max_model_len, gpus, len(gpus), 0.9, 52_034, 16,
        T0 - 7200.25, serving,
        {"num_requests_running": 12.0 * scale, "num_requests_waiting": 2.0, "kv_cache_usage_perc": 0.4183},
        {"prompt_tokens": 2_123_456.0 * scale, "generation_tokens": 412_345.0 * scale, "num_preemptions": 3.0,
         "prefix_cache_queries": 2_200_000.0 * scale, "prefix_cache_hits": 880_000.0 * scale,
         "request_success:stop": n - 61.0, "request_success:length": 57.0, "request_success:abort": 4.0,
         f"http_requests:POST:2xx:{CHAT}": float(n), "http_requests:GET:2xx:/v1/models": 3.0},
        hists)


def snap(*states: VllmState) -> Snapshot:
    return Snapshot(7, T0, "normal", None, {}, vllm=states)  # type: ignore[arg-type]


def render(families: Sequence[Family], s: Snapshot) -> str:
    reader = InMemoryMetricReader()
    meters = ExporterMeters("t", families, Resource.create({}), lambda: (s, Process(T0 - 60)), [reader],
                            extra_suffixes=extra_suffixes(families))
    try:
        return PrometheusBridge(meters, reader, "python").render().decode()
    finally:
        meters.shutdown()


def two_containers() -> Snapshot:
    return snap(state(), state("vllm-qwen-7b", "Qwen/Qwen2.5-7B-Instruct", (4,), 131072, 0.5),
                state("vllm-loading", "mistralai/Mistral-7B-Instruct-v0.3", (5,), serving=False))


def test_golden(update_golden: bool) -> None:
    text = render(vllm.families(None), two_containers())
    path = GOLDEN / "vllm.prom"
    if update_golden:
        path.write_text(text)
    assert text == path.read_text()


def test_golden_single_container(update_golden: bool) -> None:
    text = render(vllm.container_families(None, "vllm-llama-70b"), two_containers())
    path = GOLDEN / "vllm-container.prom"
    if update_golden:
        path.write_text(text)
    assert text == path.read_text()


def samples(text: str) -> Iterator[tuple[str, str, dict[str, str], float]]:
    """(family, sample name, labels, value) of every sample, through prometheus_client's own parser."""
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            yield fam.name, s.name, s.labels, s.value


def test_combined_endpoint_labels_every_series_with_its_container_and_gpus() -> None:
    text = render(vllm.families(None), two_containers())
    seen: dict[str, set[str]] = {}
    for _, name, labels, _ in samples(text):
        assert {"container", "gpu"} <= set(labels), name
        seen.setdefault(name, set()).add(labels["container"])
        assert labels["container"] != "vllm-loading"  # not answering yet: no series
    assert seen["vllm:num_requests_running"] == {"vllm-llama-70b", "vllm-qwen-7b"}
    assert 'gpu="0,1,2,3"' in text and 'container="vllm-qwen-7b",engine="0",gpu="4",' in text


def test_single_container_endpoint_has_no_discovery_labels() -> None:
    text = render(vllm.container_families(None, "vllm-qwen-7b"), two_containers())
    names = [(n, lv) for _, n, lv, _ in samples(text)]
    assert names and all(not {"container", "gpu"} & set(lv) for _, lv in names)
    assert {lv.get("model_name") for n, lv in names if n.startswith("vllm:") and "cache_config" not in n} == {
        "Qwen/Qwen2.5-7B-Instruct"}
    assert render(vllm.container_families(None, "vllm-loading"), two_containers()).count("\n# TYPE") > 0
    assert not list(samples(render(vllm.container_families(None, "vllm-loading"), two_containers())))


def test_exact_bucket_lists_and_histogram_invariants() -> None:
    text = render(vllm.container_families(None, "vllm-llama-70b"), two_containers())
    qwen = render(vllm.container_families(None, "vllm-qwen-7b"), two_containers())
    for fam in text_string_to_metric_families(text):
        if fam.type != "histogram":
            continue
        children = {tuple(sorted((k, v) for k, v in s.labels.items() if k != "le")) for s in fam.samples}
        for child in children:
            mine = [s for s in fam.samples if tuple(sorted((k, v) for k, v in s.labels.items() if k != "le")) == child]
            les = [s.labels["le"] for s in mine if s.name.endswith("_bucket")]
            counts = [s.value for s in mine if s.name.endswith("_bucket")]
            (count,) = [s.value for s in mine if s.name.endswith("_count")]
            if fam.name in EXPECTED_BUCKETS:
                assert les == [f"{float(b)}" for b in EXPECTED_BUCKETS[fam.name]] + ["+Inf"], fam.name
            assert counts == sorted(counts) and counts[-1] == count, fam.name
    assert 'vllm:request_prompt_tokens_bucket{engine="0",le="100000.0",model_name="Qwen/Qwen2.5-7B-Instruct"}' in qwen
    assert vllm.request_tokens(131072) == tuple(map(float, TOKENS_128K))
    assert 'le="1.0"' in text and 'le="+Inf"' in text and 'le="1"' not in text


def test_dashboard_names_present_with_default_options() -> None:
    text = render(vllm.families(None), two_containers())
    names = {n for _, n, _, _ in samples(text)}
    assert set(DASHBOARD) <= names
    assert {lv["finished_reason"] for _, n, lv, _ in samples(text) if n == "vllm:request_success_total"} == {
        "stop", "length", "abort"}


def test_types_help_and_created_samples() -> None:
    text = render(vllm.container_families(None, "vllm-llama-70b"), two_containers())
    assert "# TYPE vllm:prompt_tokens_total counter\n" in text
    assert "# HELP vllm:prompt_tokens_created Number of prefill tokens processed.\n" in text
    assert "# TYPE vllm:prompt_tokens_created gauge\n" in text
    assert "# TYPE vllm:iteration_tokens_total histogram\n" in text
    assert 'vllm:iteration_tokens_total_created{engine="0",model_name="meta-llama/Llama-3.1-70B-Instruct"} ' \
           "1.79499279975e+09\n" in text
    assert "# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.DEPRECATED: " in text
    assert "vllm:iteration_tokens_total_total" not in text and "_total_total" not in text


def test_version_and_deprecated_options() -> None:
    s = two_containers()
    old = {f.name for f in vllm.container_families(None, "vllm-llama-70b", deprecated_names=False)}
    assert "vllm:gpu_cache_usage_perc" not in old and "vllm:time_per_output_token_seconds" in old
    new_fams = vllm.container_families(None, "vllm-llama-70b", version="0.33.0", deprecated_names=False)
    new = {f.name for f in new_fams}
    assert {"vllm:time_per_output_token_seconds", "vllm:gpu_cache_usage_perc", "vllm:gpu_prefix_cache_hits_total"
            }.isdisjoint(new)
    assert {"vllm:engine_sleep_state", "vllm:num_requests_waiting_by_reason", "vllm:admission_rejections_total",
            "vllm:estimated_flops_per_gpu_total", "vllm:request_num_preemptions"} <= new
    text = render(new_fams, s)
    assert {lv["finished_reason"] for _, n, lv, _ in samples(text) if n == "vllm:request_success_total"} == {
        "stop", "length", "abort", "error", "repetition"}
    assert 'vllm:admission_rejections_total{model_name="meta-llama/Llama-3.1-70B-Instruct",reason=' in text
    assert 'vllm:engine_sleep_state{engine="0",model_name="meta-llama/Llama-3.1-70B-Instruct",sleep_state="awake"} ' \
           "1.0\n" in text
    assert "_block_size_resolved=" in text
    with pytest.raises(ValueError, match="0.12.0"):
        vllm.families(None, version="0.12.0")


def test_wrong_world_buckets_leave_the_family_out_not_the_scrape() -> None:
    bad = state()
    bad.histograms["e2e_request_latency_seconds"] = ws.Histogram((1.0, 2.0), (1.0, 2.0, 3.0), 4.0)
    text = render(vllm.container_families(None, "vllm-llama-70b"), snap(bad))
    assert "vllm:e2e_request_latency_seconds_bucket" not in text and "vllm:prompt_tokens_total" in text


# --- against prometheus_client itself -------------------------------------------------------------------------


def _reference(v: VllmState, monkeypatch: pytest.MonkeyPatch) -> str:
    """What vLLM 0.11.0 (--show-hidden-metrics-for-version=0.10) + instrumentator print for ``v``: the real
    classes with vLLM's labelnames order, in vLLM's registration order."""
    monkeypatch.setattr(time, "time", lambda: v.created)
    r = CollectorRegistry()
    ln, lv = ["model_name", "engine"], [v.model_name, v.engine]

    def g(name: str, doc: str, value: float) -> None:
        Gauge(name, doc, ln, registry=r).labels(*lv).set(value)

    def c(name: str, doc: str, value: float) -> None:
        Counter(name, doc, ln, registry=r).labels(*lv).inc(value)

    def h(name: str, doc: str, key: str = "", names: Sequence[str] = ln) -> None:
        src = v.histograms[key or name.removeprefix("vllm:")]
        metric = Histogram(name, doc, names, registry=r, buckets=src.bounds)
        child = metric.labels(*lv) if names else metric
        prev = 0.0
        for i, cum in enumerate(src.buckets):
            child._buckets[i].set(cum - prev)
            prev = cum
        child._sum.set(src.sum)

    g("vllm:num_requests_running", "Number of requests in model execution batches.", v.gauges["num_requests_running"])
    g("vllm:num_requests_waiting", "Number of requests waiting to be processed.", v.gauges["num_requests_waiting"])
    g("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.DEPRECATED: Use "
      "vllm:kv_cache_usage_perc instead.", v.gauges["kv_cache_usage_perc"])
    c("vllm:gpu_prefix_cache_queries", "GPU prefix cache queries, in terms of number of queriedtokens. DEPRECATED: "
      "Use vllm:prefix_cache_queries instead.", v.counters["prefix_cache_queries"])
    c("vllm:gpu_prefix_cache_hits", "GPU prefix cache hits, in terms of number of cached tokens. DEPRECATED: Use "
      "vllm:prefix_cache_hits instead.", v.counters["prefix_cache_hits"])
    g("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", v.gauges["kv_cache_usage_perc"])
    c("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.",
      v.counters["prefix_cache_queries"])
    c("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.",
      v.counters["prefix_cache_hits"])
    c("vllm:num_preemptions", "Cumulative number of preemption from the engine.", v.counters["num_preemptions"])
    c("vllm:prompt_tokens", "Number of prefill tokens processed.", v.counters["prompt_tokens"])
    c("vllm:generation_tokens", "Number of generation tokens processed.", v.counters["generation_tokens"])
    success = Counter("vllm:request_success", "Count of successfully processed requests.", [*ln, "finished_reason"],
                      registry=r)
    for reason in ("stop", "length", "abort"):
        success.labels(*lv, reason).inc(v.counters[f"request_success:{reason}"])
    h("vllm:request_prompt_tokens", "Number of prefill tokens processed.")
    h("vllm:request_generation_tokens", "Number of generation tokens processed.")
    h("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.")
    h("vllm:request_max_num_generation_tokens", "Histogram of maximum number of requested generation tokens.")
    h("vllm:request_params_n", "Histogram of the n request parameter.")
    h("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.")
    h("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.")
    h("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.DEPRECATED: Use "
      "vllm:inter_token_latency_seconds instead.", "inter_token_latency_seconds")
    h("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.")
    h("vllm:request_time_per_output_token_seconds", "Histogram of time_per_output_token_seconds per request.")
    h("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.")
    h("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.")
    h("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.")
    h("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.")
    h("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.")
    info = {"block_size": "16", "gpu_memory_utilization": "0.9", "swap_space": "4.0", "cache_dtype": "auto",
            "is_attention_free": "False", "num_gpu_blocks_override": "None", "sliding_window": "None",
            "enable_prefix_caching": "True", "prefix_caching_hash_algo": "sha256", "cpu_offload_gb": "0.0",
            "calculate_kv_scales": "False", "cpu_kvcache_space_bytes": "None", "mamba_page_size_padded": "None",
            "mamba_cache_dtype": "auto", "mamba_ssm_cache_dtype": "auto", "num_gpu_blocks": str(v.num_gpu_blocks),
            "num_cpu_blocks": "None", "kv_sharing_fast_prefill": "False", "kv_cache_memory_bytes": "None",
            "swap_space_bytes": "4294967296.0", "engine": "0"}
    Gauge("vllm:cache_config_info", "Information of the LLMEngine CacheConfig", info.keys(), registry=r
          ).labels(**info).set(1)
    # prometheus_fastapi_instrumentator.metrics.default(): children appear with the first request to each handler
    total = Counter("http_requests_total", "Total number of requests by method, status and handler.",
                    ("method", "status", "handler"), registry=r)
    no_pct = "Only value of header is respected. Otherwise ignored. No percentile calculated. "
    in_size = Summary("http_request_size_bytes", "Content length of incoming requests by handler. " + no_pct,
                      ("handler",), registry=r)
    out_size = Summary("http_response_size_bytes", "Content length of outgoing responses by handler. " + no_pct,
                       ("handler",), registry=r)
    h("http_request_duration_highr_seconds", "Latency with many buckets but no API specific labels. Made for more "
      "accurate percentile calculations. ", names=())
    lowr = Histogram("http_request_duration_seconds", "Latency with only few buckets by handler. Made to be only "
                     "used if aggregation by handler is important. ", ("method", "handler"), registry=r,
                     buckets=(0.1, 0.5, 1))
    for method, handler in (("POST", CHAT), ("GET", "/v1/models")):
        total.labels(method, "2xx", handler).inc(v.counters[f"http_requests:{method}:2xx:{handler}"])
        for summ, kind in ((in_size, "request"), (out_size, "response")):
            src = v.histograms[f"http_{kind}_size_bytes:{handler}"]
            size = summ.labels(handler)
            size._count.set(src.count)
            size._sum.set(src.sum)
        src = v.histograms[f"http_request_duration_seconds:{method}:{handler}"]
        child = lowr.labels(method, handler)
        prev = 0.0
        for i, cum in enumerate(src.buckets):
            child._buckets[i].set(cum - prev)
            prev = cum
        child._sum.set(src.sum)
    return generate_latest(r).decode()


def _canonical(text: str) -> str:
    """What the bridge still does differently from prometheus_client, undone: label pairs sorted by name (``le``
    included), and the samples of a histogram/summary grouped per series (buckets, _count, _sum) rather than per
    suffix. Family order, names, HELP, TYPE, values and formatting are left as they are."""
    pair = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    out: list[str] = []
    block: list[tuple[tuple[tuple[str, str], ...], str]] = []

    def flush() -> None:
        firsts: dict[tuple[tuple[str, str], ...], int] = {}
        for child, _ in block:
            firsts.setdefault(child, len(firsts))
        out.extend(line for _, line in sorted(block, key=lambda cl: firsts[cl[0]]))  # stable: keeps suffix order
        block.clear()

    for line in text.splitlines(keepends=True):
        if line.startswith("#"):
            flush()
            out.append(line)
            continue
        labels = sorted(pair.findall(line[line.index("{") + 1:line.rindex("}")])) if "{" in line else []
        name, rest = (line[:line.index("{")], line[line.rindex("}") + 1:]) if "{" in line else line.split(" ", 1)
        rest = rest if "{" in line else " " + rest
        block.append((tuple(kv for kv in labels if kv[0] != "le"),
                      name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" if labels else "") + rest))
    flush()
    return "".join(out)


def _engine_part(text: str) -> str:
    return text[text.index("# HELP vllm:"):]


def test_single_container_matches_prometheus_client_but_label_and_sample_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    s = two_containers()
    mock = _engine_part(render(vllm.container_families(None, "vllm-llama-70b"), s))
    real = _reference(s.vllm[0], monkeypatch)
    assert _canonical(mock) == real


def test_single_container_is_byte_for_byte_prometheus_client(monkeypatch: pytest.MonkeyPatch) -> None:
    s = two_containers()
    assert _engine_part(render(vllm.container_families(None, "vllm-llama-70b"), s)) == _reference(
        s.vllm[0], monkeypatch)


def test_runtime_families_are_prometheus_clients_default_collectors() -> None:
    def heads(text: str) -> list[str]:
        return [ln for ln in text.splitlines() if re.match(r"# (HELP|TYPE) (python|process)_", ln)]

    mock = render(vllm.container_families(None, "vllm-llama-70b"), two_containers())
    assert heads(mock) == heads(generate_latest(REGISTRY).decode())
    assert 'python_info{implementation="CPython",major="3",minor="12",patchlevel="11",version="3.12.11"} 1.0' in mock
    assert "process_start_time_seconds 1.79499279975e+09\n" in mock  # centiseconds, like /proc/<pid>/stat


def test_counters_never_go_backwards_and_restart_with_the_process() -> None:
    fams = vllm.container_families(None, "vllm-llama-70b")
    a, b = render(fams, snap(state(scale=1.0))), render(fams, snap(state(scale=1.5)))
    va = {n + str(sorted(lv.items())): v for _, n, lv, v in samples(a) if n.endswith("_total")}
    vb = {n + str(sorted(lv.items())): v for _, n, lv, v in samples(b) if n.endswith("_total")}
    assert va.keys() == vb.keys() and all(vb[k] >= va[k] for k in va)

"""vLLM's OpenAI API server ``/metrics`` (V1 engine), as prometheus_client prints it.

Impersonates vLLM 0.11.0 (default) or 0.33.0: ``PrometheusStatLogger`` families in registration order,
then ``vllm:cache_config_info`` (``log_engine_initialized``), then prometheus-fastapi-instrumentator's
``http_*`` families (registered when the ASGI middleware stack is built at server start); the
process/gc/platform collectors come first, as in prometheus_client's global ``REGISTRY``::

    # HELP vllm:prompt_tokens_total Number of prefill tokens processed.
    # TYPE vllm:prompt_tokens_total counter
    vllm:prompt_tokens_total{engine="0",model_name="meta-llama/Llama-3.1-70B-Instruct"} 1.2e+07

``deprecated_names`` is 0.11's ``--show-hidden-metrics-for-version=0.10``: ``vllm:gpu_cache_usage_perc``
and ``vllm:gpu_prefix_cache_{queries,hits}`` (the example Grafana dashboard queries the first).
``vllm:time_per_output_token_seconds`` is always shown by 0.11; with 0.33 both appear only as this
compatibility option (no 0.33 release has them).

Two endpoints read the same snapshot: :func:`container_families` is one container's server, byte for
byte; :func:`families` carries every serving vLLM container of the host and adds two discovery labels
to every series so that they stay distinct and join other exporters: ``container`` (the Docker
container name, cAdvisor's ``name``) and ``gpu`` (its GPU indexes comma-joined, e.g. ``"0,1"``; DCGM's
``gpu`` for single-GPU containers, a regex match ``gpu=~"(.*,)?3(,.*)?"`` otherwise).

Values come from each serving :class:`~otelmock.world.snapshot.VllmState` (a container that is not
``serving`` has no series): gauges ``num_requests_running``, ``num_requests_waiting``,
``kv_cache_usage_perc``; counters ``prompt_tokens``, ``generation_tokens``, ``num_preemptions``,
``prefix_cache_queries``, ``prefix_cache_hits``, ``request_success:<reason>``; histograms keyed by the family
name without ``vllm:``, with exactly the bounds of :func:`buckets` (a missing one is an empty child, as at
startup); ``created`` for every ``_created`` and ``process_start_time_seconds``. 0.33.0 adds optional keys
(``estimated_flops_per_gpu``..., ``num_requests_waiting_by_reason:<reason>``, ``engine_sleep_state:<state>``,
``prompt_tokens_by_source:<source>``, ``admission_rejections:<reason>``, histograms
``request_num_preemptions``, ``request_prefill_kv_computed_tokens``), defaulting to what an idle feature shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from otelmock.config import Settings
from otelmock.exporters.base import Family
from otelmock.exporters.pyclient import (
    Labels,
    PythonProcess,
    counter,
    gauge,
    histogram,
    histogram_bounds,
    python_runtime,
    summary,
    zero_histogram,
)
from otelmock.exporters.vllm_table import (
    CACHED_BY_SOURCE_HELP,
    FINISHED_REASONS,
    NO_PERCENTILE,
    SLEEP_STATE_HELP,
    VERSIONS,
    WAITING_BY_REASON_HELP,
    buckets,
    cache_config_info,
    request_tokens,
)
from otelmock.vec import vmax
from otelmock.world.snapshot import Histogram, Snapshot, VllmState

# The API server process (AsyncLLM frontend: HTTP, tokenizer, detokenizer); engine core and workers are
# separate processes. Python patch level of the vllm/vllm-openai image: unverified.
API_SERVER = PythonProcess("3.12.11", resident_bytes=2_446_524_416.0, virtual_bytes=24_870_985_728.0,
                           cpu_per_s=0.22, open_fds=71.0)


Value = Callable[[VllmState, str], float]  # (state, the family's own label value or "") -> value


def _g(key: str) -> Value:
    return lambda v, x: v.gauges.get(key, 0.0)


def _c(key: str) -> Value:
    return lambda v, x: v.counters.get(key, 0.0)


def _by(prefix: str, default: Value | None = None) -> Value:
    return lambda v, x: v.counters.get(f"{prefix}:{x}", default(v, x) if default else 0.0)


def _hist(v: VllmState, key: str) -> Histogram:
    want = buckets(key.split(":")[0], v.max_model_len)
    h = v.histograms.get(key)
    if h is None:
        return zero_histogram(want)  # vLLM creates every child at startup
    if histogram_bounds(h) != want:
        raise ValueError(f"{v.container}: histogram {key} has bounds {h.bounds}, vLLM uses {want}")
    return h


@dataclass(frozen=True, slots=True)
class _Scope:
    """Which vLLM servers a table reads (one container, or all) and the labels every series carries."""

    container: str | None  # None: the combined endpoint

    @property
    def extra(self) -> tuple[str, ...]:
        return ("container", "gpu") if self.container is None else ()

    def states(self, s: Snapshot) -> Iterable[VllmState]:
        return (v for v in s.vllm if v.serving and self.container in (None, v.container))

    def base(self, v: VllmState) -> Labels:
        return {"container": v.container, "gpu": ",".join(map(str, v.gpus))} if self.container is None else {}

    def gauge(self, name: str, help_: str, value: Value, each: tuple[str, tuple[str, ...]] = ("", ("",))
              ) -> tuple[Family, ...]:
        key, xs = each
        names = (*self.extra, "model_name", "engine", *((key,) if key else ()))
        return gauge(name, help_, names, lambda s, p: (
            (self._labels(v, key, x), value(v, x)) for v in self.states(s) for x in xs))

    def counter(self, name: str, help_: str, value: Value, each: tuple[str, tuple[str, ...]] = ("", ("",)),
                engine: bool = True) -> tuple[Family, ...]:
        key, xs = each
        names = (*self.extra, "model_name", *(("engine",) if engine else ()), *((key,) if key else ()))
        return counter(name, help_, names, lambda s, p: (
            ({n: lv[n] for n in names}, value(v, x), v.created)
            for v in self.states(s) for x in xs for lv in (self._labels(v, key, x),)))

    def histogram(self, name: str, help_: str, key: str = "") -> tuple[Family, ...]:
        key = key or name.removeprefix("vllm:")
        return histogram(name, help_, (*self.extra, "model_name", "engine"), lambda s, p: (
            (self._labels(v, "", ""), _hist(v, key), v.created) for v in self.states(s)))

    def _labels(self, v: VllmState, key: str, x: str) -> Labels:
        lv = self.base(v) | {"model_name": v.model_name, "engine": v.engine}
        return lv | {key: x} if key else lv


def _engine_families(sc: _Scope, version: str, hidden: bool) -> list[Family]:
    """``PrometheusStatLogger.__init__`` (default config: no LoRA, spec decoding, KV connector, watermark)."""
    new = version == "0.33.0"
    out: list[Family] = []
    if new:  # PerfMetricsProm is built before the scheduler gauges
        out += sc.counter("vllm:estimated_flops_per_gpu_total", "Estimated number of floating point operations "
                          "per GPU (for Model Flops Utilization calculations).", _c("estimated_flops_per_gpu"))
        out += sc.counter("vllm:estimated_read_bytes_per_gpu_total", "Estimated number of bytes read from memory "
                          "per GPU (for Model Flops Utilization calculations).", _c("estimated_read_bytes_per_gpu"))
        out += sc.counter("vllm:estimated_write_bytes_per_gpu_total", "Estimated number of bytes written to memory "
                          "per GPU (for Model Flops Utilization calculations).", _c("estimated_write_bytes_per_gpu"))
    out += sc.gauge("vllm:num_requests_running", "Number of requests in model execution batches.",
                    _g("num_requests_running"))
    out += sc.gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
                    _g("num_requests_waiting"))
    if new:
        out += sc.gauge("vllm:num_requests_waiting_by_reason", WAITING_BY_REASON_HELP, lambda v, x: v.gauges.get(
            f"num_requests_waiting_by_reason:{x}", v.gauges.get("num_requests_waiting", 0.0) if x == "capacity"
            else 0.0), ("reason", ("capacity", "deferred")))
        out += sc.gauge("vllm:engine_sleep_state", SLEEP_STATE_HELP,
                        lambda v, x: v.gauges.get(f"engine_sleep_state:{x}", 1.0 if x == "awake" else 0.0),
                        ("sleep_state", ("awake", "weights_offloaded", "discard_all")))
    if hidden:
        out += sc.gauge("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage."
                        "DEPRECATED: Use vllm:kv_cache_usage_perc instead.", _g("kv_cache_usage_perc"))
        if not new:
            out += sc.counter("vllm:gpu_prefix_cache_queries", "GPU prefix cache queries, in terms of number of "
                              "queriedtokens. DEPRECATED: Use vllm:prefix_cache_queries instead.",
                              _c("prefix_cache_queries"))
            out += sc.counter("vllm:gpu_prefix_cache_hits", "GPU prefix cache hits, in terms of number of cached "
                              "tokens. DEPRECATED: Use vllm:prefix_cache_hits instead.", _c("prefix_cache_hits"))
    out += sc.gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.",
                    _g("kv_cache_usage_perc"))
    out += sc.counter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.",
                      _c("prefix_cache_queries"))
    out += sc.counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.",
                      _c("prefix_cache_hits"))
    if new:
        out += sc.counter("vllm:external_prefix_cache_queries", "External prefix cache queries from KV connector "
                          "cross-instance cache sharing, in terms of number of queried tokens.",
                          _c("external_prefix_cache_queries"))
        out += sc.counter("vllm:external_prefix_cache_hits", "External prefix cache hits from KV connector "
                          "cross-instance cache sharing, in terms of number of cached tokens.",
                          _c("external_prefix_cache_hits"))
        out += sc.counter("vllm:mm_cache_queries", "Multi-modal cache queries, in terms of number of queried items.",
                          _c("mm_cache_queries"))
        out += sc.counter("vllm:mm_cache_hits", "Multi-modal cache hits, in terms of number of cached items.",
                          _c("mm_cache_hits"))
    out += sc.counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.",
                      _c("num_preemptions"))
    out += sc.counter("vllm:prompt_tokens", "Number of prefill tokens processed.", _c("prompt_tokens"))
    if new:
        out += sc.counter("vllm:prompt_tokens_by_source", "Number of prompt tokens by source.",
                          _by("prompt_tokens_by_source", _prompt_source),
                          ("source", ("local_compute", "local_cache_hit", "external_kv_transfer")))
        out += sc.counter("vllm:prompt_tokens_cached", "Number of cached prompt tokens (local + external).",
                          lambda v, x: v.counters.get("prompt_tokens_cached", v.counters.get("prefix_cache_hits", 0.0)))
        out += sc.counter("vllm:prompt_tokens_cached_by_source", CACHED_BY_SOURCE_HELP, _by(
            "prompt_tokens_cached_by_source", lambda v, x: v.counters.get("prefix_cache_hits", 0.0) * (x == "device")),
            ("source", ("device", "host", "p2p", "disk", "external_unspecified")))
    out += sc.counter("vllm:generation_tokens", "Number of generation tokens processed.", _c("generation_tokens"))
    out += sc.counter("vllm:request_success", "Count of successfully processed requests.", _by("request_success"),
                      ("finished_reason", FINISHED_REASONS[version]))
    if new:
        out += sc.counter("vllm:admission_rejections", "Number of admission attempts rejected by a queue limit, "
                          "by reason.", _by("admission_rejections"),
                          ("reason", ("max_num_queued_reqs", "max_num_queued_tokens")), engine=False)
    out += sc.histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.")
    out += sc.histogram("vllm:request_generation_tokens", "Number of generation tokens processed.")
    out += sc.histogram("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.")
    out += sc.histogram("vllm:request_max_num_generation_tokens",
                        "Histogram of maximum number of requested generation tokens.")
    out += sc.histogram("vllm:request_params_n", "Histogram of the n request parameter.")
    out += sc.histogram("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.")
    out += sc.histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.")
    if not new or hidden:
        out += sc.histogram("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds."
                            "DEPRECATED: Use vllm:inter_token_latency_seconds instead.", "inter_token_latency_seconds")
    out += sc.histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.")
    out += sc.histogram("vllm:request_time_per_output_token_seconds",
                        "Histogram of time_per_output_token_seconds per request.")
    out += sc.histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.")
    for phase in ("queue", "inference", "prefill", "decode"):
        state = {"queue": "WAITING", "inference": "RUNNING"}.get(phase, phase.upper())
        out += sc.histogram(f"vllm:request_{phase}_time_seconds", f"Histogram of time spent in {state} phase for "
                            "request.")
    if new:
        out += sc.histogram("vllm:request_num_preemptions", "Histogram of the number of times a request was "
                            "preempted.")
        out += sc.histogram("vllm:request_prefill_kv_computed_tokens", "Histogram of new KV tokens computed during "
                            "prefill (excluding cached tokens).")
    return out


def _prompt_source(v: VllmState, x: str) -> float:
    hits = v.counters.get("prefix_cache_hits", 0.0)
    computed = vmax(v.counters.get("prompt_tokens", 0.0) - hits, 0.0)
    return {"local_compute": computed, "local_cache_hit": hits}.get(x, 0.0)


def _http_families(sc: _Scope) -> list[Family]:
    """prometheus_fastapi_instrumentator ``metrics.default()`` (7.x/8.x), grouped status codes, as vLLM mounts it.

    Series come from the world's keys ``http_requests:<method>:<status>:<handler>`` (counters),
    ``http_request_size_bytes:<handler>``, ``http_response_size_bytes:<handler>`` (summaries: a
    Histogram without bounds), ``http_request_duration_seconds:<method>:<handler>`` and
    ``http_request_duration_highr_seconds`` (histograms); children appear in the keys' order.
    """
    def keyed(table: Callable[[VllmState], Mapping[str, object]], prefix: str
              ) -> Callable[[Snapshot], Iterable[tuple[VllmState, list[str]]]]:
        return lambda s: ((v, k.split(":")[1:]) for v in sc.states(s) for k in table(v) if k.split(":")[0] == prefix)

    reqs = keyed(lambda v: v.counters, "http_requests")
    lowr = keyed(lambda v: v.histograms, "http_request_duration_seconds")

    def sizes(kind: str, what: str) -> tuple[Family, ...]:
        name = f"http_{kind}_size_bytes"
        rows = keyed(lambda v: v.histograms, name)
        return summary(name, f"Content length of {what} by handler. {NO_PERCENTILE}", (*sc.extra, "handler"),
                       lambda s, p: ((sc.base(v) | {"handler": h}, hist.count, hist.sum, v.created)
                                     for v, (h,) in rows(s) for hist in (v.histograms[f"{name}:{h}"],)))

    return [
        *counter("http_requests_total", "Total number of requests by method, status and handler.",
                 (*sc.extra, "method", "status", "handler"), lambda s, p: (
                     (sc.base(v) | {"method": m, "status": st, "handler": h},
                      v.counters[f"http_requests:{m}:{st}:{h}"], v.created) for v, (m, st, h) in reqs(s))),
        *sizes("request", "incoming requests"), *sizes("response", "outgoing responses"),
        *histogram("http_request_duration_highr_seconds", "Latency with many buckets but no API specific labels. "
                   "Made for more accurate percentile calculations. ", sc.extra, lambda s, p: (
                       (sc.base(v), _hist(v, "http_request_duration_highr_seconds"), v.created) for v in sc.states(s))),
        *histogram("http_request_duration_seconds", "Latency with only few buckets by handler. Made to be only used "
                   "if aggregation by handler is important. ", (*sc.extra, "method", "handler"), lambda s, p: (
                       (sc.base(v) | {"method": m, "handler": h}, _hist(v, f"http_request_duration_seconds:{m}:{h}"),
                        v.created) for v, (m, h) in lowr(s))),
    ]


def _table(sc: _Scope, version: str, deprecated_names: bool) -> tuple[Family, ...]:
    if version not in VERSIONS:
        raise ValueError(f"vLLM version {version!r} is not impersonated; choose one of {', '.join(VERSIONS)}")
    info_names = tuple(cache_config_info(version))
    return (
        *python_runtime(API_SERVER, sc.extra, lambda s, p: ((sc.base(v), v.created) for v in sc.states(s))),
        *_engine_families(sc, version, deprecated_names),
        *gauge("vllm:cache_config_info", "Information of the LLMEngine CacheConfig", (*sc.extra, *info_names),
               lambda s, p: ((sc.base(v) | cache_config_info(version, v), 1.0) for v in sc.states(s))),
        *_http_families(sc),
    )


def _options(settings: Settings | None, version: str | None, deprecated_names: bool | None) -> tuple[str, bool]:
    opts = getattr(settings, "vllm", None)
    v = version or str(getattr(opts, "version", "0.11.0"))
    d = deprecated_names if deprecated_names is not None else getattr(opts, "deprecated_names", True)
    return v, bool(d)


def families(settings: Settings | None = None, *, version: str | None = None,
             deprecated_names: bool | None = None) -> tuple[Family, ...]:
    """The combined endpoint (:9902): every serving vLLM container, with ``container`` and ``gpu`` labels."""
    return _table(_Scope(None), *_options(settings, version, deprecated_names))


def container_families(settings: Settings | None, container_name: str, *, version: str | None = None,
                       deprecated_names: bool | None = None) -> tuple[Family, ...]:
    """One container's own ``/metrics``, exactly as a single vLLM API server prints it (no extra labels)."""
    return _table(_Scope(container_name), *_options(settings, version, deprecated_names))


def serving(snapshot: Snapshot, container_name: str) -> bool:
    """Whether that container's API server answers (before, a real scrape gets connection refused)."""
    return any(v.serving and v.container == container_name for v in snapshot.vllm)


__all__ = ["VERSIONS", "buckets", "cache_config_info", "container_families", "families", "request_tokens",
           "serving"]

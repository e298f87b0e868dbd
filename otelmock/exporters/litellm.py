"""The LiteLLM proxy's ``/metrics`` (1.110.2, ``callbacks: ["prometheus"]``, optionally
``service_callback: ["prometheus_system"]``), as prometheus_client prints it::

    # HELP litellm_input_tokens_metric_total Total number of input tokens from LLM requests
    # TYPE litellm_input_tokens_metric_total counter
    litellm_input_tokens_metric_total{api_key_alias="None",api_provider="hosted_vllm",...} 1.2e+07

Families, HELP, label names and buckets are :mod:`otelmock.exporters.litellm_table`; this module says
which series exist and where their values come from. Like the real proxy, a labelled family gets
series only once traffic touched them (HELP/TYPE alone before), the unlabelled user/team/batch
gauges print ``0.0`` from the start, and a counter that never gets a series has no ``_created`` family.

Every request is one client using the master key (``hashed_api_key="litellm_proxy_master_key"``,
``user="default_user_id"``, unset context as the string ``"None"``): see :data:`CALLER`. Per model
group (:class:`~otelmock.world.snapshot.LitellmModel`) the exporter reads counters ``requests``,
``successes``, ``failures:<status>:<exception_class>``, ``input_tokens``, ``output_tokens``, ``spend``,
``cooled_down:<status>``, and for any other ``litellm_<key>_metric`` counter the key ``<key>``
(``cache_hits``, ``input_cached_tokens``...); gauges ``deployment_state``, ``remaining_requests``,
``remaining_tokens``, ``tpm_limit``, ``rpm_limit``; histograms named after the family without
``litellm_`` (``request_total_latency_metric``, ``llm_api_latency_metric``,
``llm_api_time_to_first_token_metric``, ``overhead_latency_metric``,
``overhead_with_guardrails_latency_metric``, ``request_queue_time_seconds``,
``deployment_latency_per_output_token``). Proxy-wide service keys (``service:<service>:...``) may sit on
any model; they are summed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from otelmock.config import Settings
from otelmock.exporters.base import Family, Process
from otelmock.exporters.litellm_table import FAILED_REQUESTS_LABELS, FAMILIES, LATENCY, SERVICES
from otelmock.exporters.pyclient import (
    CounterRows,
    GaugeRows,
    HistogramRows,
    Labels,
    PythonProcess,
    counter,
    gauge,
    histogram,
    histogram_bounds,
    python_runtime,
)
from otelmock.vec import uniform
from otelmock.world.snapshot import Histogram, LitellmModel, Snapshot

# The clients' identity: the master key with no budget, no team, no end user (what the proxy logs for it).
CALLER: Labels = {
    "end_user": "None", "hashed_api_key": "litellm_proxy_master_key", "api_key_alias": "None", "team": "None",
    "team_alias": "None", "user": "default_user_id", "user_email": "None", "org_id": "None", "org_alias": "None",
    "client_ip": "172.18.0.1", "user_agent": "OpenAI/Python 1.109.1", "route": "/chat/completions",
    "service_tier": "None", "status_code": "200",
}
# The proxy process (uvicorn worker). Python patch level of the ghcr.io/berriai/litellm image: unverified.
PROXY = PythonProcess("3.13.9", resident_bytes=1_152_393_216.0, virtual_bytes=3_493_363_712.0, cpu_per_s=0.08,
                      open_fds=43.0, gc_per_s=(3.5, 0.3, 0.02), startup_gcs=(1900.0, 170.0, 12.0))
UNLABELLED_AT_STARTUP = {"litellm_total_users", "litellm_active_users", "litellm_teams_count",
                         "litellm_check_batch_cost_jobs_polled", "litellm_check_batch_cost_last_run_timestamp"}
MAXSIZE = float(sys.maxsize)  # remaining requests/tokens of a key without a model limit


def model_name(m: LitellmModel) -> str:
    """The deployment's model without the provider prefix, as the proxy's logging payload carries it."""
    return m.model.split("/", 1)[1] if "/" in m.model else m.model


def context(m: LitellmModel) -> Labels:
    """Every label value a series of this model group can carry (families take the names they declare)."""
    name = model_name(m)
    return CALLER | {"model": name, "litellm_model_name": name, "model_group": m.model_group,
                     "requested_model": m.model_group, "model_id": m.model_id, "api_base": m.api_base,
                     "api_provider": m.api_provider}


def failures(m: LitellmModel) -> Iterable[tuple[str, str, float]]:
    """(status, exception class, count) from ``failures:<status>:<exception_class>`` keys."""
    for key, n in m.counters.items():
        if key.startswith("failures:"):
            _, status, cls = key.split(":", 2)
            yield status, cls, n


def _created(s: Snapshot, p: Process) -> float:
    """Series are created by the first request after the proxy started; its start stands in for that."""
    return next((c.start_time for c in s.containers if c.kind == "proxy"), p.start_time)


def _each(s: Snapshot, p: Process, value: Callable[[LitellmModel], Iterable[tuple[Labels, float]]]
          ) -> Iterable[tuple[Labels, float, float]]:
    created = _created(s, p)
    return ((context(m) | extra, v, created) for m in s.litellm for extra, v in value(m))


def _key(key: str) -> Callable[[LitellmModel], Iterable[tuple[Labels, float]]]:
    return lambda m: (({}, m.counters[key]),) if key in m.counters else ()


def _gauge_key(key: str) -> Callable[[LitellmModel], Iterable[tuple[Labels, float]]]:
    return lambda m: (({}, m.gauges[key]),) if key in m.gauges else ()


def _served(m: LitellmModel) -> bool:
    """Whether the model group has served a request (its series exist): over a run, at every tick or none."""
    return bool(uniform(m.counters.get("successes", 0.0) > 0))


def _proxy_totals(m: LitellmModel) -> Iterable[tuple[Labels, float]]:
    if "successes" in m.counters:
        yield {"status_code": "200"}, m.counters["successes"]
    by_status: dict[str, float] = {}
    for status, _, n in failures(m):
        by_status[status] = by_status.get(status, 0.0) + n
    yield from (({"status_code": st}, n) for st, n in by_status.items())


def _failed(m: LitellmModel) -> Iterable[tuple[Labels, float]]:
    return (({"exception_status": st, "exception_class": cls}, n) for st, cls, n in failures(m))


def _requests(m: LitellmModel) -> Iterable[tuple[Labels, float]]:
    fails = [n for _, _, n in failures(m)]
    if "requests" in m.counters or "successes" in m.counters or fails:
        yield {}, m.counters.get("requests", m.counters.get("successes", 0.0) + sum(fails))


def _tokens(m: LitellmModel) -> Iterable[tuple[Labels, float]]:
    if "input_tokens" in m.counters or "output_tokens" in m.counters:
        yield {}, m.counters.get("input_tokens", 0.0) + m.counters.get("output_tokens", 0.0)


COUNTERS: dict[str, Callable[[LitellmModel], Iterable[tuple[Labels, float]]]] = {
    "litellm_proxy_failed_requests_metric": _failed,
    "litellm_proxy_total_requests_metric": _proxy_totals,
    "litellm_spend_metric": _key("spend"),
    "litellm_total_tokens_metric": _tokens,
    "litellm_input_tokens_metric": _key("input_tokens"),
    "litellm_output_tokens_metric": _key("output_tokens"),
    "litellm_deployment_cooled_down": lambda m: (
        ({"exception_status": k.split(":", 1)[1]}, n) for k, n in m.counters.items() if k.startswith("cooled_down:")),
    "litellm_deployment_success_responses": _key("successes"),
    "litellm_deployment_failure_responses": _failed,
    "litellm_deployment_total_requests": _requests,
    "litellm_llm_api_failed_requests_metric": lambda m: (
        (({}, sum(n for _, _, n in failures(m))),) if any(True for _ in failures(m)) else ()),
    "litellm_requests_metric": _key("successes"),
}
GAUGES: dict[str, Callable[[LitellmModel], Iterable[tuple[Labels, float]]]] = {
    "litellm_remaining_api_key_requests_for_model": lambda m: (({"model": m.model_group}, MAXSIZE),) * _served(m),
    "litellm_remaining_api_key_tokens_for_model": lambda m: (({"model": m.model_group}, MAXSIZE),) * _served(m),
    "litellm_remaining_requests_metric": _gauge_key("remaining_requests"),
    "litellm_remaining_tokens_metric": _gauge_key("remaining_tokens"),
    "litellm_deployment_state": lambda m: (
        (({}, m.gauges.get("deployment_state", 0.0)),) if "deployment_state" in m.gauges or _served(m) else ()),
    "litellm_deployment_tpm_limit": _gauge_key("tpm_limit"),
    "litellm_deployment_rpm_limit": _gauge_key("rpm_limit"),
}
# Histograms a proxy under load fills (TTFT: streaming requests); the others never get a series here.
HISTOGRAMS_WITH_TRAFFIC = {
    "litellm_request_total_latency_metric", "litellm_llm_api_latency_metric",
    "litellm_llm_api_time_to_first_token_metric", "litellm_overhead_latency_metric",
    "litellm_overhead_with_guardrails_latency_metric", "litellm_request_queue_time_seconds",
    "litellm_deployment_latency_per_output_token",
}
# prometheus_system services a single proxy with Postgres and no Redis uses all the time.
ACTIVE_SERVICES = {"postgres", "batch_write_to_db", "reset_budget_job", "self", "router", "auth", "proxy_pre_call"}


def _counter_rows(name: str) -> CounterRows:
    # litellm_<key>_metric <- counters[<key>] when the world has that key (cache_hits, input_cached_tokens...)
    value = COUNTERS.get(name) or _key(name.removeprefix("litellm_").removesuffix("_metric"))
    return lambda s, p: _each(s, p, value)


def _gauge_rows(name: str) -> GaugeRows:
    if name in UNLABELLED_AT_STARTUP:
        return lambda s, p: (({}, 0.0),)
    # The proxy also sets litellm_remaining_{api_key,user}_budget_metric to +Inf for the budget-less master key
    # after each request; OTel drops non-finite observations, so the bridge cannot serve them (left out).
    value = GAUGES.get(name, lambda m: ())
    return lambda s, p: ((lv, v) for lv, v, _ in _each(s, p, value))


def _hist_rows(name: str, bounds: tuple[float, ...]) -> HistogramRows:
    key = name.removeprefix("litellm_")

    def rows(s: Snapshot, p: Process) -> Iterable[tuple[Labels, Histogram, float]]:
        created = _created(s, p)
        for m in s.litellm:
            h = m.histograms.get(key)
            if h is not None:
                if histogram_bounds(h) != bounds:
                    raise ValueError(f"{m.model_group}: histogram {key} has bounds {h.bounds}, LiteLLM uses {bounds}")
                yield context(m), h, created
    return rows


def _proxy_families() -> list[Family]:
    out: list[Family] = []
    for row in FAMILIES:
        name, type_, help_, labels = row[:4]
        names = labels.split()
        if type_ == "counter":
            # Only the request/token/spend counters carry a _created family: an empty one is not printed by
            # prometheus_client, and the others have series only if the world adds their keys.
            out += counter(name, help_, names, _counter_rows(name), created=name in COUNTERS)
        elif type_ == "gauge":
            out += gauge(name, help_, names, _gauge_rows(name))
        else:
            bounds = row[4] if len(row) > 4 else LATENCY
            out += histogram(name, help_, names, _hist_rows(name, bounds), created=name in HISTOGRAMS_WITH_TRAFFIC)
    return out


def _summed(s: Snapshot, table: Callable[[LitellmModel], dict[str, float]], prefix: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in s.litellm:
        for k, v in table(m).items():
            if k.startswith(prefix):
                out[k[len(prefix):]] = out.get(k[len(prefix):], 0.0) + v
    return out


def _summed_hist(s: Snapshot, key: str) -> Histogram | None:
    hs = [m.histograms[key] for m in s.litellm if key in m.histograms]
    if not hs:
        return None
    return Histogram(hs[0].bounds, tuple(map(sum, zip(*(h.buckets for h in hs), strict=True))), sum(h.sum for h in hs))


def _service_families() -> list[Family]:
    """``PrometheusServicesLogger``: the Redis circuit breaker collectors, then per service its metrics.

    Keys: gauges ``redis_circuit_breaker_state:<state>``, counters ``service:<svc>:total_requests``,
    ``service:<svc>:failed_requests:<error_class>:<function_name>``, histograms ``service:<svc>:latency``,
    gauges ``service:<svc>:size``.
    """
    out = [
        *gauge("litellm_redis_circuit_breaker_state", "Number of Redis circuit breakers currently in each state",
               ("state",), lambda s, p: (({"state": st}, _summed(s, lambda m: m.gauges, "redis_circuit_breaker_state:")
                                          .get(st, 0.0)) for st in ("closed", "open", "half_open"))),
        *counter("litellm_redis_circuit_breaker_transitions", "Redis circuit breaker state transitions", ("state",),
                 lambda s, p: ((({"state": st}, n, _created(s, p)) for st, n in _summed(
                     s, lambda m: m.counters, "redis_circuit_breaker_transitions:").items())), created=False),
        *counter("litellm_redis_circuit_breaker_failures", "Redis health failures counted by the circuit breaker",
                 ("failure_class",), lambda s, p: ((({"failure_class": c}, n, _created(s, p)) for c, n in _summed(
                     s, lambda m: m.counters, "redis_circuit_breaker_failures:").items())), created=False),
    ]
    for svc, kinds in SERVICES:
        active = svc in ACTIVE_SERVICES  # see counter(): no _created family for families without series
        for kind in kinds:
            out += _service_family(svc, kind, active)
    return out


def _service_family(svc: str, kind: str, active: bool) -> tuple[Family, ...]:
    name, pre = f"litellm_{svc}_{kind}", f"service:{svc}:{kind}"

    def latency(s: Snapshot, p: Process) -> Iterable[tuple[Labels, Histogram, float]]:
        h = _summed_hist(s, pre)
        return () if h is None else (({svc: svc}, h, _created(s, p)),)

    def size(s: Snapshot, p: Process) -> Iterable[tuple[Labels, float]]:
        return (({svc: svc}, v) for k, v in _summed(s, lambda m: m.gauges, pre).items() if k == "")

    def total(s: Snapshot, p: Process) -> Iterable[tuple[Labels, float, float]]:
        return (({svc: svc}, v, _created(s, p)) for k, v in _summed(s, lambda m: m.counters, pre).items() if k == "")

    def failed(s: Snapshot, p: Process) -> Iterable[tuple[Labels, float, float]]:
        return (({svc: svc, "error_class": k.split(":", 1)[0], "function_name": k.split(":", 1)[1]}, v, _created(s, p))
                for k, v in _summed(s, lambda m: m.counters, pre + ":").items())

    if kind == "latency":
        return histogram(name, f"Latency for {svc} service", (svc,), latency, created=active)
    if kind == "size":
        return gauge(name, f"Gauge for {svc} service", (svc,), size)
    if kind == "total_requests":
        return counter(name, f"Total {kind} for {svc} service", (svc,), total, created=active)
    return counter(name, f"Total {kind} for {svc} service", (svc, *FAILED_REQUESTS_LABELS), failed, created=False)


def families(settings: Settings | None = None, *, service_metrics: bool | None = None) -> tuple[Family, ...]:
    """The proxy's exposition: runtime collectors, ``PrometheusLogger``, then (option) service metrics."""
    opts = getattr(settings, "litellm", None)
    services = service_metrics if service_metrics is not None else bool(getattr(opts, "service_metrics", True))
    runtime = python_runtime(PROXY, (), lambda s, p: (({}, _created(s, p)),))
    return (*runtime, *_proxy_families(), *(_service_families() if services else ()))


__all__ = ["CALLER", "context", "failures", "families", "model_name"]

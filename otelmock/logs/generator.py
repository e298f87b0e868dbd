"""Container log records between two snapshots, consistent with the metrics the exporters serve.

``LogGenerator.records(prev, cur)`` is pure: the records depend only on (seed, prev, cur). Every event falls
in ``(prev.t, cur.t]`` and its randomness is keyed by (seed, container, run start, event number) through
:mod:`otelmock.rng`, never a global generator. What is written:

- vLLM: the start-up sequence of each run (``start_time`` moved, or still loading), spread over the load
  time the metrics show; one access line per finished request (successes sampled, at most
  ``LogRates.access_sample`` per tick); per failed request exactly one ``ERROR`` line (its traceback on the
  following lines, which carry no level) and one ``500`` access line, so the ``ERROR`` lines of a container
  over any window equal the delta of ``VllmState.counters["errors"]``; engine statistics every 10 s with the
  snapshot's gauges; ``/metrics`` scrapes and health checks; warnings; XID events of its GPUs.
- LiteLLM: JSON lines; per sampled success the router's ``200 OK`` and the access line; per
  ``failures:500:*`` and ``failures:429:*`` increment exactly one ``ERROR`` line.
- Infra services: start-up lines and their periodic housekeeping (:data:`templates.INFRA_LOGS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from otelmock.logs import templates as tpl
from otelmock.rng import block_rng, hash_uniform, key_of
from otelmock.world.deployment import MODELS
from otelmock.world.snapshot import ContainerState, GpuState, LitellmModel, Snapshot, VllmState

NS = 1_000_000_000
_SPECS = {m.container: m for m in MODELS}
_OK = ("request_success:stop", "request_success:length", "request_success:abort")


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One write of a container to its stdout or stderr; ``message`` has no trailing newline."""

    container_id: str
    container_name: str
    stream: str                   # stdout | stderr
    time_ns: int
    message: str
    severity: str = "INFO"        # DEBUG | INFO | WARNING | ERROR | FATAL (for OpenTelemetry)


@dataclass(frozen=True, slots=True)
class LogRates:
    """How much the containers write besides what the counters dictate (errors are never sampled)."""

    access_sample: int = 20           # success access lines kept per container per tick (vLLM and LiteLLM)
    stats_interval_s: float = 10.0    # vLLM engine statistics (VLLM_LOG_STATS_INTERVAL)
    scrape_interval_s: float = 15.0   # Prometheus GET /metrics on vLLM and LiteLLM; 0: none
    health_interval_s: float = 30.0   # health checks; 0: none
    warning_share: float = 0.01       # share of vLLM requests that log a warning
    infra_scale: float = 1.0          # multiplier of the infra services' periodic lines; 0: start-up only


@dataclass(slots=True)
class _Out:
    c: ContainerState
    lo: int
    hi: int
    events: list[tuple[int, int, str, str, str]] = field(default_factory=list)

    def add(self, t: int, message: str, severity: str = "INFO", stream: str = "stdout") -> None:
        if self.lo < t <= self.hi:
            self.events.append((t, len(self.events), stream, severity, message))


def _ns(t: float) -> int:
    return round(t * NS)


def _periodic(lo: int, hi: int, base: int, period_s: float) -> list[tuple[int, int]]:
    """(k, t) for t = base + k * period in (lo, hi], k >= 0."""
    if period_s <= 0:
        return []
    period = _ns(period_s)
    k0 = max(0, (lo - base) // period + 1)
    return [(k, base + k * period) for k in range(k0, (hi - base) // period + 1)]


def _delta(cur: dict[str, float], prev: dict[str, float] | None, key: str) -> int:
    if prev is None:
        return 0
    now, before = cur.get(key, 0.0), prev.get(key, 0.0)
    return int(now - before) if now >= before else int(now)  # a reset: everything since the restart


class LogGenerator:
    """Log records of every container of the snapshot, tick by tick."""

    def __init__(self, seed: int, rates: LogRates | None = None) -> None:
        self.seed = seed
        self.rates = rates or LogRates()
        self._runs: dict[tuple[str, int], list[float]] = {}  # a cache of a pure function

    def _u(self, key: tuple[object, ...], counter: int) -> float:
        return float(hash_uniform(key_of(self.seed, *key), counter))

    def _run(self, name: str, start: int) -> list[float]:
        """Uniforms fixed for one run of a container: pid, start-up timing, phases of its periodic lines."""
        got = self._runs.get((name, start))
        if got is None:
            if len(self._runs) > 4096:
                self._runs.clear()
            got = self._runs[(name, start)] = hash_uniform(key_of(self.seed, name, "run", start), np.arange(8)).tolist()
        return got

    def records(self, prev: Snapshot | None, cur: Snapshot) -> list[LogRecord]:
        dt = cur.t / cur.tick if cur.tick else 1.0
        lo, hi = (_ns(prev.t) if prev is not None else _ns(cur.t - dt)), _ns(cur.t)
        if hi <= lo:
            return []
        ticks = max(1, round((hi - lo) / _ns(dt)))
        ips = {c.name: f"172.18.0.{i + 2}" for i, c in enumerate(cur.containers)}
        before = {c.name: c for c in prev.containers} if prev is not None else {}
        out: list[LogRecord] = []
        for c in cur.containers:
            o = _Out(c, lo, hi)
            pc = before.get(c.name)
            restarted = pc is not None and pc.start_time != c.start_time
            if restarted and pc is not None:
                self._ending(o, pc, prev, cur)
            same_run = prev if pc is not None and not restarted else None
            if c.kind == "vllm":
                self._vllm(o, same_run, prev if restarted else None, cur, ips, ticks)
            elif c.kind == "proxy":
                self._litellm(o, prev, cur, ips, ticks)
            else:
                self._infra(o)
            o.events.sort()
            out += [LogRecord(c.id, c.name, s, t, m, sev) for t, _, s, sev, m in o.events]
        out.sort(key=lambda r: r.time_ns)  # stable: each container keeps its order
        return out

    # --- vLLM ------------------------------------------------------------------------------------------------
    @staticmethod
    def _model(v: VllmState) -> tpl.VllmModel:
        spec = _SPECS.get(v.container)  # load time, weights and KV size per token: the deployment's catalogue
        load_s, weights = (spec.load_s, spec.weights_gib) if spec else (120.0, 16.0)
        kv_gib = v.num_gpu_blocks * v.block_size * (spec.kv_bytes_per_token if spec else 131072) / v.tp / 2**30
        return tpl.VllmModel(v.model_name, v.version, v.kind, v.tp, v.max_model_len, v.gpu_memory_utilization,
                             v.num_gpu_blocks, v.block_size, load_s, weights, kv_gib)

    def _vllm(self, o: _Out, prev: Snapshot | None, restart_prev: Snapshot | None, cur: Snapshot,
              ips: dict[str, str], ticks: int) -> None:
        c, r = o.c, self.rates
        v = next((x for x in cur.vllm if x.container == c.name), None)
        if v is None:
            return
        m = self._model(v)
        start = _ns(c.start_time)
        ready = start + _ns(m.load_s + 1.0)
        u = self._run(c.name, start)
        pid = 100 + int(u[0] * 300)
        pids = {"APIServer": 1, "EngineCore_DP0": pid} | {f"Worker_TP{i}": pid + 60 + i for i in range(m.tp)}
        if o.lo < ready + NS and o.hi > start:
            for line in tpl.vllm_startup(m, u[1]):
                t = start + _ns(line.at) if line.at >= 0 else ready + _ns(line.at)
                pre = tpl.vllm_prefix(m.version, line.proc, pids.get(line.proc, 1))
                text = pre + line.text if not line.level else tpl.vllm_line(pre, line.level, t, line.where, line.text)
                o.add(t, text, line.level or "INFO", line.stream)
        api = tpl.vllm_prefix(m.version, "APIServer", 1)
        prom = ips.get("prometheus", "172.18.0.1")
        for k, t in _periodic(o.lo, o.hi, ready + _ns(u[2]), r.scrape_interval_s):
            o.add(t, tpl.access_line(api, f"{prom}:{40000 + k % 20000}", "GET", "/metrics", 200))
        for k, t in _periodic(o.lo, o.hi, ready + _ns(u[3]), r.health_interval_s):
            o.add(t, tpl.access_line(api, f"127.0.0.1:{50000 + k % 10000}", "GET", "/health", 200))
        pv = next((x for x in prev.vllm if x.container == c.name), None) if prev is not None else None
        self._stats(o, v, pv, prev, cur, ready + _ns(u[4]), api)
        self._xid(o, v, cur, restart_prev or prev, pids)
        base = pv.counters if pv is not None else ({} if restart_prev is not None else None)
        if base is None:
            return
        n_ok = sum(_delta(v.counters, base, k) for k in _OK)
        n_err = _delta(v.counters, base, "errors")
        self._requests(o, v, m, cur, max(o.lo, start), n_ok, n_err, int(base.get("errors", 0.0)), ips, ticks, api)

    def _stats(self, o: _Out, v: VllmState, pv: VllmState | None, prev: Snapshot | None, cur: Snapshot,
               ready: int, api: str) -> None:
        span = cur.t - prev.t if prev is not None else 0.0
        tps = [(v.counters[k] - pv.counters[k]) / span if pv is not None and span > 0 else 0.0
               for k in ("prompt_tokens", "generation_tokens")]
        if tps[0] <= 0 and tps[1] <= 0:
            return  # vLLM logs an idle engine at DEBUG only
        hit = v.counters["prefix_cache_hits"] / max(v.counters["prefix_cache_queries"], 1.0)
        g = v.gauges
        line = tpl.engine_stats(tps[0], tps[1], int(g["num_requests_running"]), int(g["num_requests_waiting"]),
                                g["kv_cache_usage_perc"], hit)
        for _, t in _periodic(o.lo, o.hi, ready, self.rates.stats_interval_s):
            o.add(t, tpl.vllm_line(api, "INFO", t, "loggers.py:127", line))

    def _xid(self, o: _Out, v: VllmState, cur: Snapshot, prev: Snapshot | None, pids: dict[str, int]) -> None:
        for r, g in enumerate(v.gpus):
            gs = _gpu(cur, g)
            if gs is None:
                continue
            xid, before = _xid_of(gs), _xid_of(_gpu(prev, g)) if prev is not None else 0
            if xid and xid != before:
                t = o.lo + 1 + int(self._u((v.container, "xid", g), cur.tick) * (o.hi - o.lo - 1))
                proc = f"Worker_TP{r}" if v.tp > 1 else "EngineCore_DP0"
                pre = tpl.vllm_prefix(v.version, proc, pids.get(proc, 1))
                text = f"NVML reported Xid {xid} ({tpl.XID_TEXT.get(xid, 'GPU error')}) on GPU {g} ({gs.pci_bus_id})"
                o.add(t, tpl.vllm_line(pre, "WARNING", t, "gpu_worker.py:412", text), "WARNING")

    def _requests(self, o: _Out, v: VllmState, m: tpl.VllmModel, cur: Snapshot, lo: int, n_ok: int, n_err: int,
                  err_base: int, ips: dict[str, str], ticks: int, api: str) -> None:
        n = n_ok + n_err
        if n <= 0 or o.hi <= lo:
            return
        rng = block_rng(key_of(self.seed, "vllm-requests", v.container), cur.tick)
        times = np.sort(lo + 1 + (rng.random(n) * (o.hi - lo)).astype(np.int64)).clip(max=o.hi).tolist()
        failed = np.zeros(n, dtype=bool)
        failed[rng.permutation(n)[:n_err]] = True
        keep = np.zeros(n, dtype=bool)
        ok_idx = np.flatnonzero(~failed)
        cap = self.rates.access_sample * ticks
        keep[ok_idx if len(ok_idx) <= cap else rng.choice(ok_idx, cap, replace=False)] = True
        ports = rng.integers(32768, 60999, n).tolist()
        warn = rng.random(n).tolist()
        client = ips.get("litellm", "172.18.0.1")
        path = tpl.ROUTE_PATHS.get(v.kind, "/v1/chat/completions")
        e = err_base
        for i, t in enumerate(times):
            if failed[i]:
                where_text, tb = tpl.vllm_error(*self._error_kind(v, cur, e), v.kind)
                head = f"{api}ERROR {tpl.vllm_time(t)} {where_text}"
                o.add(t, "\n".join([head, *(api + line for line in tb)]), "ERROR")
                o.add(t, tpl.access_line(api, f"{client}:{ports[i]}", "POST", path, 500))
                e += 1
                continue
            if warn[i] < self.rates.warning_share:
                o.add(t, tpl.vllm_line(api, "WARNING", t, "protocol.py:93", "The following fields were present in "
                                       "the request but ignored: {'metadata'}"), "WARNING")
            if keep[i]:
                o.add(t, tpl.access_line(api, f"{client}:{ports[i]}", "POST", path, 200))

    def _error_kind(self, v: VllmState, cur: Snapshot, e: int) -> tuple[str, dict[str, str]]:
        gpus = [g for g in (_gpu(cur, i) for i in v.gpus) if g is not None]
        g0 = gpus[0] if gpus else None
        bad = next((g for g in gpus if _xid_of(g)), None)
        u = self._u((v.container, "error-kind"), e)
        if bad is not None:
            return "xid", {"gpu": str(bad.index), "xid": str(_xid_of(bad))}
        if v.tp > 1 and u < 0.15:
            return "nccl", {"rank": str(int(u * 100) % v.tp), "seq": str(10_000 + e), "ran": str(600_000 + e % 97)}
        if u < 0.15 + 0.05 + 2.0 * max(v.gauges["kv_cache_usage_perc"] - 0.8, 0.0) and g0 is not None:
            mib = {k: g0.values.get(f"fb_{k}_mib", 0.0) / 1024 for k in ("free", "used", "total")}
            return "oom", {"gpu": "0", "alloc": f"{0.5 + 3 * u:.2f}", "pid": str(2000 + e % 900)} | {
                k: f"{x:.2f}" for k, x in mib.items()}
        return "generic", {}

    # --- a run that ended --------------------------------------------------------------------------------------
    def _ending(self, o: _Out, pc: ContainerState, prev: Snapshot | None, cur: Snapshot) -> None:
        c = o.c
        end = min(_ns(c.start_time), o.hi)  # a start slightly ahead of the snapshot: end the old run now
        if c.memory.get("oom_events", 0.0) > 0:
            return  # SIGKILL: the process wrote nothing more
        lines: list[tuple[str, str, str]]  # stream, severity, text
        if c.kind == "vllm":
            v = next((x for x in cur.vllm if x.container == c.name), None)
            api = tpl.vllm_prefix(v.version if v else "0.11.0", "APIServer", 1)
            if c.start_time - pc.start_time < 3600:  # a short run ended by a crash, not a redeploy
                lines = [("stderr", "FATAL", "\n".join(api + line for line in tpl.vllm_crash()))]
            else:
                lines = [("stdout", "INFO", api + line) for line in tpl.VLLM_SHUTDOWN]
        elif c.kind == "proxy":
            lines = [("stdout", "INFO", text) for text in
                     ("Shutting down", "Waiting for application shutdown.", "Application shutdown complete.")]
        else:
            return
        first = max(o.lo, end - 2 * NS)
        for j, (stream, severity, text) in enumerate(lines):
            t = first + (end - first) * (j + 1) // (len(lines) + 2)
            text = tpl.litellm_json(t, "INFO", "uvicorn.error", text) if c.kind == "proxy" else text
            o.add(t, text, severity, stream)

    # --- LiteLLM -----------------------------------------------------------------------------------------------
    def _litellm(self, o: _Out, prev: Snapshot | None, cur: Snapshot, ips: dict[str, str], ticks: int) -> None:
        c, r = o.c, self.rates
        start = _ns(c.start_time)
        ready = start + 15 * NS
        j = tpl.litellm_json
        if o.lo < ready and o.hi > start:
            for at, name, text, extra in tpl.litellm_startup([m.model_group for m in cur.litellm]):
                o.add(start + _ns(at), j(start + _ns(at) - 150_000, "INFO", name, text, **extra))
        prom = ips.get("prometheus", "172.18.0.1")
        u = self._run(c.name, start)
        for k, t in _periodic(o.lo, o.hi, ready + _ns(u[2]), r.scrape_interval_s):
            o.add(t, j(t - 90_000, "INFO", "uvicorn.access", tpl.access(f"{prom}:{40000 + k % 9999}", "GET /metrics/")))
        for k, t in _periodic(o.lo, o.hi, ready + _ns(u[3]), r.health_interval_s):
            o.add(t, j(t - 90_000, "INFO", "uvicorn.access",
                       tpl.access(f"127.0.0.1:{50000 + k % 10000}", "GET /health/liveliness")))
        if prev is None:
            return
        before = {m.model_group: m for m in prev.litellm}
        events: list[tuple[LitellmModel, int]] = []
        for m in cur.litellm:
            pm = before.get(m.model_group)
            base = pm.counters if pm is not None else {}
            for status, key in ((200, "successes"), (500, "failures:500:InternalServerError"),
                                (429, "failures:429:RateLimitError")):
                events += [(m, status)] * _delta(m.counters, base, key)
        if not events:
            return
        rng = block_rng(key_of(self.seed, "litellm-requests", c.name), cur.tick)
        n = len(events)
        times = np.sort(o.lo + 1 + (rng.random(n) * (o.hi - o.lo)).astype(np.int64)).clip(max=o.hi).tolist()
        order = rng.permutation(n).tolist()
        ok = [i for i in range(n) if events[order[i]][1] == 200]
        cap = r.access_sample * ticks
        keep = set(ok if len(ok) <= cap else rng.choice(ok, cap, replace=False).tolist())
        ports = rng.integers(32768, 60999, n).tolist()
        serving = {v.container: v.serving for v in cur.vllm}
        for i, t in enumerate(times):
            m, status = events[order[i]]
            if status == 200 and i not in keep:
                continue
            if status == 200:  # one line per (sampled) success: the router's, which names the model
                call = f"litellm.{tpl.LITELLM_CALLS.get(m.kind, 'acompletion')}(model={m.model})"
                o.add(t, j(t - 300_000, "INFO", "LiteLLM Router", f"{call}\x1b[32m 200 OK\x1b[0m"))
                continue
            down = next((x for x in m.containers if not serving.get(x, True)), None)
            message, stack = tpl.litellm_error(m.model_group, status, down, ips.get(down or "", "172.18.0.1"))
            o.add(t, j(t - 200_000, "ERROR", "LiteLLM Proxy", message, stacktrace=stack), "ERROR")
            request = f"POST {tpl.ROUTE_PATHS.get(m.kind, '/v1/chat/completions')}"
            o.add(t, j(t - 100_000, "INFO", "uvicorn.access", tpl.access(f"172.18.0.1:{ports[i]}", request, status)))

    # --- infra -------------------------------------------------------------------------------------------------
    def _infra(self, o: _Out) -> None:
        c = o.c
        spec = tpl.INFRA_LOGS.get(c.service)
        if spec is None:
            return
        start = _ns(c.start_time)
        ctx = {"v": c.image.rsplit(":", 1)[-1].lstrip("v"), "pid": 0, "a": 0, "d": 0.0, "k": 0}
        if o.lo < start + 5 * NS and o.hi > start:
            for i, line in enumerate(spec.startup):
                t = start + NS // 2 + i * 200_000_000
                o.add(t, line.format(**ctx | {"ts": spec.ts(t), "a": i * 37 % 1000, "d": 1.5}), stream=spec.stream)
        if self.rates.infra_scale <= 0:
            return
        for g, (period, lines) in enumerate(spec.periodic):
            base = start + _ns(self._run(c.name, start)[5 + g % 3] * period)
            for k, t in _periodic(o.lo, o.hi, base, period / self.rates.infra_scale):
                u = self._u((c.name, "infra-values", g), k)
                vals = ctx | {"k": k, "a": int(u * 1000), "d": 0.05 + 2 * u, "pid": 100 + int(u * 9000)}
                for i, line in enumerate(lines):
                    ti = min(t + i * 1_000_000, o.hi)
                    o.add(ti, line.format(**vals | {"ts": spec.ts(ti)}), stream=spec.stream)


def _gpu(s: Snapshot | None, index: int) -> GpuState | None:
    return next((g for g in s.gpus if g.index == index), None) if s is not None else None


def _xid_of(g: GpuState | None) -> int:
    if g is None:
        return 0
    xid = int(g.values.get("xid", 0.0))
    return xid or (0 if g.present else 79)


"""What each container kind writes, in its program's own format: vLLM, the LiteLLM proxy, the infra services.

Only text lives here: line shapes, the vLLM start-up sequence, tracebacks and the infra services' periodic
lines. :mod:`otelmock.logs.generator` decides *when* and *how many* from the snapshots.

- vLLM (``vllm.logger``: ``%(levelname)s %(asctime)s [%(fileinfo)s:%(lineno)d] %(message)s``, date
  ``%m-%d %H:%M:%S``); from 0.10.1 every line of a process starts with ``(APIServer pid=1) `` or
  ``(EngineCore_DP0 pid=N) ``. Uvicorn's access lines are ``INFO:     ip:port - "POST /path HTTP/1.1" 200 OK``.
- LiteLLM with ``json_logs: true``: one JSON object per line, ``message``, ``level``, ``timestamp`` (naive
  ISO 8601 local time, UTC in the container), then ``extra`` fields and ``stacktrace``; written here through
  python-json-logger's ``JsonFormatter``, which serialises with ``json.dumps`` as LiteLLM does.
- Prometheus, Loki and Promtail log logfmt to stderr; Grafana logfmt to stdout; Postgres and Redis their own.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

try:
    from pythonjsonlogger.json import JsonFormatter
except ImportError:  # python-json-logger < 3.1
    from pythonjsonlogger.jsonlogger import JsonFormatter  # type: ignore[no-redef,attr-defined,unused-ignore]

from otelmock.logs.dockerjson import format_time

PY: Final = "/usr/local/lib/python3.12/dist-packages"
UTC: Final = dt.UTC


def _utc(t_ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(t_ns // 1000 / 1e6, UTC)


def vllm_time(t_ns: int) -> str:
    return _utc(t_ns).strftime("%m-%d %H:%M:%S")


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split(".")[:3] if p.isdigit())


def vllm_prefix(version: str, proc: str, pid: int) -> str:
    """The process prefix vLLM >= 0.10.1 writes before every line of its API server and engine processes."""
    return f"({proc} pid={pid}) " if proc and _version(version) >= (0, 10, 1) else ""


def vllm_line(prefix: str, level: str, t_ns: int, where: str, text: str) -> str:
    return f"{prefix}{level} {vllm_time(t_ns)} [{where}] {text}"


def access(client: str, request: str, status: int = 200) -> str:
    """Uvicorn's access message (``%s - "%s %s HTTP/%s" %d``), as a plain formatter such as LiteLLM's shows it."""
    return f'{client} - "{request} HTTP/1.1" {status}'


def access_line(prefix: str, client: str, method: str, path: str, status: int) -> str:
    """Uvicorn's access line through its own ``AccessFormatter``: level, padding, the status phrase."""
    phrase = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error"}[status]
    return f"{prefix}INFO:     {access(client, f'{method} {path}', status)} {phrase}"


def engine_stats(prompt_tps: float, gen_tps: float, running: int, waiting: int, kv: float, hit: float) -> str:
    """``LoggingStatLogger.log`` of vLLM v1 (every ``VLLM_LOG_STATS_INTERVAL`` = 10 s)."""
    return (f"Engine 000: Avg prompt throughput: {prompt_tps:.1f} tokens/s, Avg generation throughput: {gen_tps:.1f} "
            f"tokens/s, Running: {running} reqs, Waiting: {waiting} reqs, GPU KV cache usage: {kv * 100:.1f}%, "
            f"Prefix cache hit rate: {hit * 100:.1f}%")


ROUTE_PATHS: Final = {"llm": "/v1/chat/completions", "embedding": "/v1/embeddings", "reranker": "/v1/rerank"}
LITELLM_CALLS: Final = {"llm": "acompletion", "embedding": "aembedding", "reranker": "arerank"}
ARCHITECTURES: Final = {"llama": "LlamaForCausalLM", "qwen": "Qwen2ForCausalLM", "mistral": "MistralForCausalLM",
                        "gemma": "Gemma2ForCausalLM", "phi": "Phi3ForCausalLM", "bge-m3": "XLMRobertaModel",
                        "reranker": "XLMRobertaForSequenceClassification"}
XID_TEXT: Final = {13: "Graphics Engine Exception", 31: "GPU memory page fault", 43: "GPU stopped processing",
                   48: "Double Bit ECC Error", 63: "Row remapping event", 74: "NVLINK Error",
                   79: "GPU has fallen off the bus", 92: "High single-bit ECC error rate", 94: "Contained ECC error",
                   95: "Uncontained ECC error", 119: "Timeout waiting for GSP"}


@dataclass(frozen=True, slots=True)
class StartupLine:
    at: float          # seconds after the container started; negative: relative to the moment it is ready
    proc: str          # "APIServer", "EngineCore_DP0", "Worker_TP<r>", or "" for a line without the prefix
    level: str         # INFO | WARNING | "" (raw text such as a tqdm bar)
    where: str
    text: str
    stream: str = "stdout"


@dataclass(frozen=True, slots=True)
class VllmModel:
    """What the start-up lines of one vLLM server mention (from its VllmState and its deployment spec)."""

    model: str
    version: str
    kind: str                     # llm | embedding | reranker
    tp: int
    max_model_len: int
    mem_util: float
    num_gpu_blocks: int
    block_size: int
    load_s: float                 # from start to "Application startup complete."
    weights_gib: float            # over all its GPUs
    kv_gib: float                 # KV cache per GPU


def _arch(model: str) -> str:
    low = model.lower()
    return next((a for k, a in reversed(ARCHITECTURES.items()) if k in low), "LlamaForCausalLM")


def vllm_startup(m: VllmModel, u: float) -> list[StartupLine]:
    """vLLM's start-up, from ``vllm serve`` to "Application startup complete." (``u`` in [0, 1) varies timings)."""
    big, llm, v = m.load_s, m.kind == "llm", _version(m.version)
    shards = max(1, round(m.weights_gib / 4.6))
    load = big * (0.40 + 0.05 * u)
    args = (f"{{'model_tag': '{m.model}', 'host': '0.0.0.0', 'model': '{m.model}', 'max_model_len': {m.max_model_len}, "
            f"'served_model_name': ['{m.model}'], 'tensor_parallel_size': {m.tp}, "
            f"'gpu_memory_utilization': {m.mem_util}}}")
    tasks = {"llm": "['generate']", "embedding": "['embed', 'encode']", "reranker": "['score', 'classify']"}[m.kind]
    tokens = m.num_gpu_blocks * m.block_size
    api, eng = "APIServer", "EngineCore_DP0"
    out = [
        StartupLine(0.6, "", "INFO", "__init__.py:216", "Automatically detected platform cuda."),
        StartupLine(1.5, api, "INFO", "api_server.py:1839", f"vLLM API server version {m.version}"),
        StartupLine(1.5, api, "INFO", "utils.py:233", f"non-default args: {args}"),
        StartupLine(0.05 * big, api, "INFO", "model.py:547", f"Resolved architecture: {_arch(m.model)}"),
        StartupLine(0.05 * big, api, "INFO", "model.py:1510", f"Using max model len {m.max_model_len}"),
    ]
    if llm:
        out += [StartupLine(0.05 * big, api, "INFO", "scheduler.py:205",
                            "Chunked prefill is enabled with max_num_batched_tokens=8192."),
                StartupLine(0.06 * big, api, "WARNING", "model.py:1682",
                            "Default sampling parameters have been overridden by the model's Hugging Face generation "
                            "config recommended from the model creator. If this is not intended, please relaunch vLLM "
                            "instance with `--generation-config vllm`.")]
    out.append(StartupLine(0.08 * big, eng, "INFO", "core.py:77", f"Initializing a V1 LLM engine (v{m.version}) with "
                           f"config: model='{m.model}', speculative_config=None, tokenizer='{m.model}', dtype=torch."
                           f"bfloat16, max_seq_len={m.max_model_len}, tensor_parallel_size={m.tp}, quantization=None, "
                           f"served_model_name={m.model}, enable_prefix_caching=True, chunked_prefill_enabled={llm}"))
    workers = [f"Worker_TP{r}" for r in range(m.tp)] if m.tp > 1 else [eng]
    if m.tp > 1:
        out += [StartupLine(0.1 * big, w, "INFO", "parallel_state.py:1208", f"rank {r} in world size {m.tp} is "
                            f"assigned as DP rank 0, PP rank 0, TP rank {r}, EP rank {r}")
                for r, w in enumerate(workers)]
        out.append(StartupLine(0.1 * big, workers[0], "INFO", "pynccl.py:70",
                               f"vLLM is using nccl=={'2.27.3' if v >= (0, 11) else '2.26.2'}"))
    w0 = workers[0]
    secs = f"{int(load) // 60:02d}:{int(load) % 60:02d}"
    out += [
        StartupLine(0.12 * big, w0, "INFO", "gpu_model_runner.py:2602", f"Starting to load model {m.model}..."),
        StartupLine(0.12 * big, w0, "INFO", "cuda.py:366", "Using Flash Attention backend on V1 engine."),
        StartupLine(0.13 * big, "", "", "", f"Loading safetensors checkpoint shards:   0% Completed | 0/{shards} "
                                            "[00:00<?, ?it/s]", "stderr"),
        StartupLine(0.13 * big + load, "", "", "", f"Loading safetensors checkpoint shards: 100% Completed | "
                    f"{shards}/{shards} [{secs}<00:00, {load / shards:5.2f}s/it]", "stderr"),
        StartupLine(0.14 * big + load, w0, "INFO", "default_loader.py:267", f"Loading weights took {load:.2f} seconds"),
        StartupLine(0.15 * big + load, w0, "INFO", "gpu_model_runner.py:2653",
                    f"Model loading took {m.weights_gib / m.tp:.4f} GiB and {load + 0.8 + u:.6f} seconds"),
        StartupLine(0.62 * big, w0, "INFO", "backends.py:559", f"Dynamo bytecode transform time: {3 + 4 * u:.2f} s"),
        StartupLine(0.72 * big, w0, "INFO", "monitor.py:34", f"torch.compile takes {0.08 * big:.2f} s in total"),
        StartupLine(0.78 * big, w0, "INFO", "gpu_worker.py:298", f"Available KV cache memory: {m.kv_gib:.2f} GiB"),
        StartupLine(0.79 * big, eng, "INFO", "kv_cache_utils.py:1087", f"GPU KV cache size: {tokens:,} tokens"),
        StartupLine(0.79 * big, eng, "INFO", "kv_cache_utils.py:1091",
                    f"Maximum concurrency for {m.max_model_len:,} tokens per request: "
                    f"{tokens / m.max_model_len:.2f}x"),
    ]
    if llm:
        bar = ("Capturing CUDA graphs (mixed prefill-decode, PIECEWISE)" if v >= (0, 10, 2)
               else "Capturing CUDA graph shapes")
        out += [StartupLine(0.93 * big, "", "", "", f"{bar}: 100%|██████████| 67/67 [00:{int(0.1 * big):02d}<00:00,"
                                                    f" {67 / (0.1 * big):5.2f}it/s]", "stderr"),
                StartupLine(0.94 * big, w0, "INFO", "gpu_model_runner.py:3480",
                            f"Graph capturing finished in {int(0.1 * big)} secs, took {0.3 + 0.4 * u:.2f} GiB")]
    server = "Starting vLLM API server 0 on" if v >= (0, 10, 2) else "Starting vLLM API server on"
    out += [
        StartupLine(0.96 * big, eng, "INFO", "core.py:210",
                    f"init engine (profile, create kv cache, warmup model) took {0.5 * big:.2f} seconds"),
        StartupLine(-0.4, api, "INFO", "loggers.py:147",
                    f"Engine 000: vllm cache_config_info with initialization after num_gpu_blocks is: "
                    f"{m.num_gpu_blocks}"),
        StartupLine(-0.3, api, "INFO", "api_server.py:1637", f"Supported_tasks: {tasks}"),
        StartupLine(-0.3, api, "INFO", "api_server.py:1915", f"{server} http://0.0.0.0:8000"),
        StartupLine(-0.3, api, "INFO", "launcher.py:34", "Available routes are:"),
    ]
    routes = ("/openapi.json|HEAD, GET", "/docs|HEAD, GET", "/health|GET", "/load|GET", "/tokenize|POST",
              "/v1/models|GET", "/version|GET", "/v1/chat/completions|POST", "/v1/completions|POST",
              "/v1/embeddings|POST", "/v1/score|POST", "/v1/rerank|POST", "/metrics|GET")
    out += [StartupLine(-0.3, api, "INFO", "launcher.py:42", "Route: {}, Methods: {}".format(*r.split("|")))
            for r in routes]
    out += [StartupLine(-0.2, api, "", "", f"INFO:     {t}") for t in
            ("Started server process [1]", "Waiting for application startup.", "Application startup complete.")]
    return out


VLLM_SHUTDOWN: Final = ("INFO:     Shutting down", "INFO:     Waiting for application shutdown.",
                         "INFO:     Application shutdown complete.", "INFO:     Finished server process [1]")


def _tb(*frames: tuple[str, int, str, str]) -> list[str]:
    out = ["Traceback (most recent call last):"]
    for path, line, func, code in frames:
        out += [f'  File "{PY}/vllm/{path}", line {line}, in {func}', f"    {code}"]
    return out


_STREAM: Final = ("entrypoints/openai/serving_chat.py", 579, "chat_completion_stream_generator",
                  "async for res in result_generator:")
_GENERATE: Final = ("v1/engine/async_llm.py", 387, "generate", "out = q.get_nowait() or await q.get()")


def vllm_error(kind: str, detail: dict[str, str], task: str = "llm") -> tuple[str, list[str]]:
    """The ERROR line's ``[file:line] text`` and the traceback under it, for one failed request."""
    if task == "llm":
        head = "serving_chat.py:1157", "Error in chat completion stream generator."
        tb = _tb(_STREAM, _GENERATE, ("v1/engine/output_processor.py", 59, "get", "raise output"))
    else:
        head = "serving_engine.py:1079", "Error in pooling request."
        tb = _tb(("entrypoints/openai/serving_engine.py", 1071, "_collect_batch", "async for i, res in "
                  "result_generator:"), ("v1/engine/output_processor.py", 59, "get", "raise output"))
    if kind == "oom":
        d = detail
        tb += [f"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate {d['alloc']} GiB. GPU {d['gpu']} has a "
               f"total capacity of {d['total']} GiB of which {d['free']} GiB is free. Process {d['pid']} has "
               f"{d['used']} GiB memory in use. Of the allocated memory {d['used']} GiB "
               "is allocated by PyTorch, and 1.02 GiB is reserved by PyTorch but unallocated. If reserved but "
               "unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid "
               "fragmentation.  See documentation for Memory Management  "
               "(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)"]
    elif kind == "nccl":
        tb += [f"torch.distributed.DistBackendError: [Rank {detail['rank']}] Watchdog caught collective operation "
               f"timeout: WorkNCCL(SeqNum={detail['seq']}, OpType=ALLREDUCE, NumelIn=8192, NumelOut=8192, "
               f"Timeout(ms)=600000) ran for {detail['ran']} milliseconds before timing out."]
    elif kind == "xid":
        tb += ["RuntimeError: CUDA error: unspecified launch failure",
               "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below "
               "might be incorrect.",
               "For debugging consider passing CUDA_LAUNCH_BLOCKING=1",
               "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions."]
    else:
        tb += ["vllm.v1.engine.exceptions.EngineGenerateError"]
    return f"[{head[0]}] {head[1]}", tb


def vllm_crash() -> list[str]:
    """What an API server that lost its engine prints on its way out (an uncaught exception, no log level)."""
    return _tb(("entrypoints/openai/api_server.py", 1953, "run_server", "await run_server_worker(listen_address, "
                "sock, args, **uvicorn_kwargs)"), ("v1/engine/core_client.py", 727, "get_output_async",
               "raise self._format_exception(outputs) from None")) + [
        "vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the "
        "root cause."]


class LitellmFormatter(JsonFormatter):
    """LiteLLM's JSON log shape: message, level, timestamp (naive ISO 8601), extras, stacktrace."""

    def __init__(self) -> None:
        super().__init__("{message}{levelname}{asctime}", style="{",
                         rename_fields={"levelname": "level", "asctime": "timestamp"})

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return dt.datetime.fromtimestamp(record.created, UTC).replace(tzinfo=None).isoformat()


_LITELLM: Final = LitellmFormatter()
_LEVELS: Final = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}


def litellm_json(t_ns: int, level: str, name: str, msg: str, **extra: str) -> str:
    record = logging.LogRecord.__new__(logging.LogRecord)  # skips __init__'s clock, pid and thread look-ups
    record.__dict__.update(name=name, msg=msg, args=(), levelname=level, levelno=_LEVELS[level], exc_info=None,
                           exc_text=None, stack_info=None, created=t_ns // 1000 / 1e6, **extra)
    return str(_LITELLM.format(record))


def litellm_startup(groups: list[str]) -> list[tuple[float, str, str, dict[str, str]]]:
    """(seconds after start, logger, message, extra) of the proxy's start; "Uvicorn running" ends it at 15 s."""
    models = "\n".join(f"    {g}" for g in groups)
    return [(0.5, "uvicorn.error", "Started server process [1]",
             {"color_message": "Started server process [\x1b[36m%d\x1b[0m]"}),
            (0.6, "uvicorn.error", "Waiting for application startup.", {}),
            (12.0, "LiteLLM Proxy", f"LiteLLM: Proxy initialized with Config, Set models:\n{models}", {}),
            (14.8, "uvicorn.error", "Application startup complete.", {}),
            (15.0, "uvicorn.error", "Uvicorn running on http://0.0.0.0:4000 (Press CTRL+C to quit)",
             {"color_message": "Uvicorn running on \x1b[1m%s://%s:%d\x1b[0m (Press CTRL+C to quit)"})]


def litellm_error(group: str, status: int, down: str | None, ip: str) -> tuple[str, str]:
    """The proxy's ERROR message and stacktrace for one failed request (429, or 500 from a vLLM server)."""
    if status == 429:
        exc = (f"litellm.RateLimitError: RateLimitError: Hosted_vllmException - Rate limit exceeded for model group "
               f"{group}, retry after 60 seconds")
    elif down is not None:
        exc = (f"litellm.InternalServerError: InternalServerError: Hosted_vllmException - Cannot connect to host "
               f"{down}:8000 ssl:default [Connect call failed ('{ip}', 8000)]")
    else:
        exc = "litellm.InternalServerError: InternalServerError: Hosted_vllmException - Internal Server Error"
    return (f"litellm.proxy.proxy_server._handle_llm_api_exception(): Exception occured - {exc}. Received Model "
            f"Group={group}\nAvailable Model Group Fallbacks=None", _litellm_stacktrace(exc))


def _litellm_stacktrace(exc: str) -> str:
    site = "/usr/lib/python3.13/site-packages/litellm"
    return ("Traceback (most recent call last):\n"
            f'  File "{site}/proxy/proxy_server.py", line 4098, in chat_completion\n'
            "    result = await base_llm_response_processor.base_process_llm_request(\n"
            f'  File "{site}/router.py", line 1054, in acompletion\n'
            "    raise e\n"
            f'  File "{site}/litellm_core_utils/exception_mapping_utils.py", line 2201, in exception_type\n'
            "    raise e\n"
            f"{exc}")


# --- infra services ----------------------------------------------------------------------------------------

def _ms(t_ns: int) -> str:
    return format_time(t_ns // 1_000_000 * 1_000_000)


def _pg(t_ns: int) -> str:
    return _utc(t_ns).strftime("%Y-%m-%d %H:%M:%S.") + f"{t_ns // 1_000_000 % 1000:03d} UTC"


def _redis(t_ns: int) -> str:
    return _utc(t_ns).strftime("%d %b %Y %H:%M:%S.") + f"{t_ns // 1_000_000 % 1000:03d}"


@dataclass(frozen=True, slots=True)
class InfraLog:
    """One service's lines: ``startup`` after each (re)start, ``periodic`` as (period_s, lines) groups.

    Lines are ``str.format`` templates over ``ts`` (the service's own time format), ``k`` (the event number),
    ``a`` (0-999), ``d`` (a duration in seconds), ``pid`` and ``v`` (the image version)."""

    stream: str
    ts: Callable[[int], str]
    startup: tuple[str, ...]
    periodic: tuple[tuple[float, tuple[str, ...]], ...]


INFRA_LOGS: Final[dict[str, InfraLog]] = {
    "prometheus": InfraLog("stderr", _ms, (
        'ts={ts} caller=main.go:650 level=info msg="Starting Prometheus Server" mode=server version="(version={v}, '
        'branch=HEAD, revision=6d7569113f1ca814f1e149f74176656540043b8d)"',
        'ts={ts} caller=head.go:626 level=info component=tsdb msg="Replaying WAL, this may take a while"',
        'ts={ts} caller=main.go:1150 level=info msg="TSDB started"',
        'ts={ts} caller=main.go:1172 level=info msg="Server is ready to receive web requests."'), (
        (7200.0, ('ts={ts} caller=compact.go:576 level=info component=tsdb msg="write block" '
                  'ulid=01JD{a:03d}Q8Z7N4K2X6Y5W3V9T1R duration={d:.3f}s',
                  'ts={ts} caller=head.go:1355 level=info component=tsdb msg="Head GC completed" duration={d:.3f}ms',
                  'ts={ts} caller=checkpoint.go:101 level=info component=tsdb msg="Creating checkpoint" '
                  'from_segment={k} to_segment={k} mint={a}')),)),
    "grafana": InfraLog("stdout", format_time, (
        'logger=settings t={ts} level=info msg="Starting Grafana" version={v} commit=unknown-dev '
        'branch=main compiled={ts}',
        'logger=sqlstore t={ts} level=info msg="Connecting to DB" dbtype=sqlite3',
        'logger=http.server t={ts} level=info msg="HTTP Server Listen" address=[::]:3000 protocol=http '
        'subUrl= socket='), (
        (600.0, ('logger=cleanup t={ts} level=info msg="Completed cleanup jobs" duration={d:.7f}ms',)),
        (600.0, ('logger=plugins.update.checker t={ts} level=info msg="Update check succeeded" duration={d:.7f}ms',)),
    )),
    "loki": InfraLog("stderr", format_time, (
        'level=info ts={ts} caller=main.go:126 msg="Starting Loki" version="(version={v}, branch=HEAD)"',
        'level=info ts={ts} caller=server.go:352 msg="server listening on addresses" http=[::]:3100 grpc=[::]:9095',
        'level=info ts={ts} caller=loki.go:505 msg="Loki started" startup_time={d:.6f}s'), (
        (60.0, ('level=info ts={ts} caller=table_manager.go:136 index-store=tsdb-2020-10-24 msg="uploading tables"',)),
        (300.0, ('level=info ts={ts} caller=checkpoint.go:615 msg="starting checkpoint"',
                 'level=info ts={ts} caller=checkpoint.go:340 msg="attempting checkpoint for" dir=/loki/wal/'
                 'checkpoint.{k:06d}',
                 'level=info ts={ts} caller=checkpoint.go:502 msg="atomic checkpoint finished" old=/loki/wal/'
                 'checkpoint.{k:06d}.tmp new=/loki/wal/checkpoint.{k:06d}')),
    )),
    "promtail": InfraLog("stderr", format_time, (
        'level=info ts={ts} caller=promtail.go:133 msg="Reloading configuration file" md5sum=5e3c1f{a:03d}',
        'level=info ts={ts} caller=server.go:352 msg="server listening on addresses" http=[::]:9080 '
        'grpc=[::]:41{a:03d}',
        'level=info ts={ts} caller=main.go:173 msg="Starting Promtail" version="(version={v}, branch=HEAD)"'), ()),
    "litellm-db": InfraLog("stderr", _pg, (
        "{ts} [1] LOG:  starting PostgreSQL {v} (Debian {v}-1.pgdg120+2) on x86_64-pc-linux-gnu, compiled by gcc "
        "(Debian 12.2.0-14) 12.2.0, 64-bit",
        '{ts} [1] LOG:  listening on IPv4 address "0.0.0.0", port 5432',
        "{ts} [1] LOG:  database system is ready to accept connections"), (
        (300.0, ("{ts} [27] LOG:  checkpoint starting: time",
                 "{ts} [27] LOG:  checkpoint complete: wrote {a} buffers (0.{k}%); 0 WAL file(s) added, 0 removed, "
                 "1 recycled; write={d:.3f} s, sync=0.004 s, total={d:.3f} s; sync files=12, longest=0.002 s, "
                 "average=0.001 s; distance={a} kB, estimate={a} kB")),)),
    "redis": InfraLog("stdout", _redis, (
        "1:C {ts} # oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
        "1:C {ts} # Redis version={v}, bits=64, commit=00000000, modified=0, pid=1, just started",
        "1:M {ts} * Server initialized", "1:M {ts} * Ready to accept connections tcp"), (
        (300.0, ("1:M {ts} * 100 changes in 300 seconds. Saving...",
                 "1:M {ts} * Background saving started by pid {pid}", "{pid}:C {ts} * DB saved on disk",
                 "{pid}:C {ts} * Fork CoW for RDB: current 0 MB, peak 0 MB, average 0 MB",
                 "1:M {ts} * Background saving terminated with success")),)),
    "dcgm-exporter": InfraLog("stdout", format_time, (
        'time={ts} level=INFO msg="Starting dcgm-exporter" Version={v}',
        'time={ts} level=INFO msg="DCGM successfully initialized!"',
        'time={ts} level=INFO msg="Collecting DCP Metrics"',
        'time={ts} level=INFO msg="Starting webserver"',
        'time={ts} level=INFO msg="Listening on" address=[::]:9400'), ()),
}

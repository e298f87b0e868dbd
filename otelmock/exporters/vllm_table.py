"""vLLM's metric vocabulary, read from the 0.11.0 and 0.33.0 wheels: bucket bounds (``vllm/v1/metrics/buckets.py``,
inline lists in 0.11.0), finished reasons, ``CacheConfig`` fields, long HELP texts, and prometheus-fastapi-
instrumentator's default buckets (7.1.0 / 8.1.0 ``metrics.default``).
"""

from __future__ import annotations

from otelmock.exporters.pyclient import Labels
from otelmock.vec import uniform
from otelmock.world.snapshot import VllmState

VERSIONS = ("0.11.0", "0.33.0")
REQUEST_LATENCY = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
                   240.0, 480.0, 960.0, 1920.0, 7680.0)
TIME_TO_FIRST_TOKEN = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                       20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
INTER_TOKEN_LATENCY = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                       20.0, 40.0, 80.0)
ITERATION_TOKENS = (1.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0)
REQUEST_PARAMS_N = (1.0, 2.0, 5.0, 10.0, 20.0)
REQUEST_NUM_PREEMPTIONS = (1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0)
HTTP_HIGHR = (0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 7.5,
              10.0, 30.0, 60.0)
HTTP_LOWR = (0.1, 0.5, 1.0)
FINISHED_REASONS = {"0.11.0": ("stop", "length", "abort"),
                    "0.33.0": ("stop", "length", "abort", "error", "repetition")}
def request_tokens(max_model_len: int) -> tuple[float, ...]:
    """``build_1_2_5_buckets(max_model_len)``: 1, 2, 5, 10, ... up to max_model_len."""
    out: list[float] = []
    exp = 0
    while True:
        for m in (1, 2, 5):
            if m * 10**exp > max_model_len:
                return tuple(out)
            out.append(float(m * 10**exp))
        exp += 1


def buckets(name: str, max_model_len: int) -> tuple[float, ...]:
    """The upper bounds (without +Inf) vLLM gives histogram ``name`` (without ``vllm:``): build the world's
    :class:`~otelmock.world.snapshot.Histogram` for that key with exactly these."""
    fixed = {"time_to_first_token_seconds": TIME_TO_FIRST_TOKEN, "inter_token_latency_seconds": INTER_TOKEN_LATENCY,
             "request_time_per_output_token_seconds": INTER_TOKEN_LATENCY,
             "time_per_output_token_seconds": INTER_TOKEN_LATENCY, "iteration_tokens_total": ITERATION_TOKENS,
             "request_params_n": REQUEST_PARAMS_N, "request_num_preemptions": REQUEST_NUM_PREEMPTIONS,
             "http_request_duration_highr_seconds": HTTP_HIGHR}
    if name in fixed:
        return fixed[name]
    if name.endswith("_time_seconds") or name == "e2e_request_latency_seconds":
        return REQUEST_LATENCY
    if name.startswith("http_request_duration_seconds"):
        return HTTP_LOWR
    return request_tokens(max_model_len)


def cache_config_info(version: str, v: VllmState | None = None) -> Labels:
    """``CacheConfig.metrics_info()`` + ``engine`` in the API server process (fields str()-ed; num_cpu_blocks is
    only set in the engine-core process). 0.33.0's values of the fields set at the engine handshake are
    approximate. Without ``v``: the label names, with placeholder values."""
    block_size, blocks, mml = (v.block_size, v.num_gpu_blocks, v.max_model_len) if v else (16, 0, 1)
    gmu, engine = (str(uniform(v.gpu_memory_utilization)), v.engine) if v else ("0.9", "0")
    bs = str(block_size)
    if version == "0.11.0":
        return {"block_size": bs, "gpu_memory_utilization": gmu, "swap_space": "4.0",
                "cache_dtype": "auto", "is_attention_free": "False", "num_gpu_blocks_override": "None",
                "sliding_window": "None", "enable_prefix_caching": "True", "prefix_caching_hash_algo": "sha256",
                "cpu_offload_gb": "0.0", "calculate_kv_scales": "False", "cpu_kvcache_space_bytes": "None",
                "mamba_page_size_padded": "None", "mamba_cache_dtype": "auto", "mamba_ssm_cache_dtype": "auto",
                "num_gpu_blocks": str(blocks), "num_cpu_blocks": "None", "kv_sharing_fast_prefill": "False",
                "kv_cache_memory_bytes": "None", "swap_space_bytes": "4294967296.0", "engine": engine}
    none = "None"
    return {"block_size": bs, "user_specified_block_size": "False", "kv_cache_layout": none,
            "prefix_match_unit": none, "gpu_memory_utilization": gmu,
            "cache_dtype": "auto", "is_attention_free": "False", "num_gpu_blocks_override": none,
            "sliding_window": none, "enable_prefix_caching": "True", "prefix_caching_hash_algo": "sha256",
            "prefix_cache_retention_interval": "0", "kv_cache_dtype_skip_layers": "[]",
            "mamba_page_size_padded": none, "skip_page_size_padded": none, "mamba_block_size": none,
            "mamba_cache_dtype": "auto", "mamba_ssm_cache_dtype": "auto", "mamba_cache_mode": "none",
            "enable_mamba_shared_prefix_checkpoint": "False", "replayssm_buffer_len": "16", "use_replayssm": "False",
            "use_kda_recoverssm": "False", "num_gpu_blocks": str(blocks), "num_cpu_blocks": none,
            "simple_cpu_offload_num_blocks": none, "effective_attention_block_size": bs,
            "kv_cache_size_tokens": str(blocks * block_size),
            "kv_cache_max_concurrency": str(blocks * block_size / max(mml, 1)),
            "hash_block_size": none, "cache_hit_alignment_tokens": none, "kv_sharing_fast_prefill": "False",
            "swa_bounded_replay": "True", "kv_cache_memory_bytes": none, "kv_offloading_size": none,
            "kv_offloading_backend": "native", "_block_size_resolved": "True", "engine": engine}


WAITING_BY_REASON_HELP = (
    "Number of waiting requests by reason. Reason labels: 'capacity' = waiting for scheduling capacity; 'deferred' "
    "= deferred by transient constraints (LoRA budget, KV transfer, blocked status). Sum of all reasons equals "
    "vllm:num_requests_waiting.")
SLEEP_STATE_HELP = (
    "Engine sleep state; awake = 0 means engine is sleeping; awake = 1 means engine is awake; weights_offloaded = 1 "
    "means sleep level 1; discard_all = 1 means sleep level 2.")
CACHED_BY_SOURCE_HELP = (
    "Prefix-cache hit tokens by the cache tier that supplied them: device (local HBM), host (offloaded to DRAM), "
    "disk, p2p (transferred from another vLLM instance) or external_unspecified. Counted at admission; sums to "
    "vllm:prefix_cache_hits + vllm:external_prefix_cache_hits.")
NO_PERCENTILE = "Only value of header is respected. Otherwise ignored. No percentile calculated. "

"""The simulated deployment: which containers run on the host, which GPUs they hold, what they serve.

Static for a given (seed, host index): ids, names and GPU identities are derived by stable hashing
(DESIGN invariant 7). The default catalogue is a typical 8x H200 LLM server: a 70B model on four GPUs
(tensor parallel 4), a 32B model on two, and small chat, embedding and reranker models sharing the
last two GPUs with fractions of their memory (``gpu_memory_utilization``), behind a LiteLLM proxy,
next to the monitoring and storage containers of such a server.
"""

from __future__ import annotations

from dataclasses import dataclass

from otelmock.rng import hash_uniform, identity_hex, key_of
from otelmock.world.identity import HostIdentity

DAY_S = 86_400.0
PCI_BUSES = ("18", "2A", "3A", "5D", "9A", "AB", "BA", "DB")  # an HGX H200 8-GPU board


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One vLLM server: what it serves and how fast (capacities at saturation on its GPUs)."""

    container: str
    model: str                 # HF id = --served-model-name
    alias: str                 # LiteLLM model group
    kind: str                  # llm | embedding | reranker
    tp: int
    gpus: tuple[int, ...]
    mem_util: float            # --gpu-memory-utilization
    vllm_version: str
    base_rpm: float            # requests per minute at activity 1
    prompt_tokens: float       # median prompt length
    gen_tokens: float          # median output length (0: pooling model)
    gen_capacity: float        # generated tokens/s at saturation
    prefill_capacity: float    # prompt tokens/s at saturation
    tpot_s: float              # time per output token at low load
    max_model_len: int
    load_s: float              # time from container start to "Uvicorn running"
    weights_gib: float         # bf16 weights over all its GPUs
    kv_bytes_per_token: int    # layers * kv heads * head dim * 2 (K and V) * 2 bytes


@dataclass(frozen=True, slots=True)
class InfraSpec:
    container: str
    image: str
    service: str
    cpu_cores: float           # mean cores at activity 1
    mem_bytes: float           # resident memory
    net_bps: float             # bytes/s each way at activity 1


MODELS: tuple[ModelSpec, ...] = (
    # container, model, alias, kind, tp, gpus, mem_util, vllm, rpm, prompt, gen, gen_cap, prefill_cap, tpot,
    # max_model_len, load_s, weights_gib, kv_bytes_per_token
    ModelSpec("vllm-llama-70b", "meta-llama/Llama-3.1-70B-Instruct", "llama-3.1-70b", "llm", 4, (0, 1, 2, 3), 0.92,
              "0.11.0", 18, 1100, 280, 3200, 9000, 0.024, 131072, 420, 131.0, 327680),
    ModelSpec("vllm-qwen-32b", "Qwen/Qwen2.5-32B-Instruct", "qwen2.5-32b", "llm", 2, (4, 5), 0.92,
              "0.10.2", 16, 900, 240, 3000, 11000, 0.019, 32768, 260, 61.0, 262144),
    ModelSpec("vllm-llama-8b", "meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b", "llm", 1, (6,), 0.45,
              "0.11.0", 20, 800, 220, 7000, 24000, 0.009, 131072, 120, 15.0, 131072),
    ModelSpec("vllm-mistral-7b", "mistralai/Mistral-7B-Instruct-v0.3", "mistral-7b", "llm", 1, (6,), 0.30,
              "0.10.1.1", 12, 700, 200, 6000, 22000, 0.009, 32768, 110, 13.5, 131072),
    ModelSpec("vllm-llama-3b", "meta-llama/Llama-3.2-3B-Instruct", "llama-3.2-3b", "llm", 1, (6,), 0.12,
              "0.11.0", 14, 500, 150, 9000, 40000, 0.006, 8192, 80, 6.0, 114688),
    ModelSpec("vllm-qwen-7b", "Qwen/Qwen2.5-7B-Instruct", "qwen2.5-7b", "llm", 1, (7,), 0.35,
              "0.11.0", 15, 800, 220, 6500, 23000, 0.009, 32768, 115, 14.2, 57344),
    ModelSpec("vllm-gemma-9b", "google/gemma-2-9b-it", "gemma-2-9b", "llm", 1, (7,), 0.35,
              "0.9.2", 10, 750, 210, 5000, 18000, 0.011, 8192, 130, 17.2, 344064),
    ModelSpec("vllm-phi-3-mini", "microsoft/Phi-3-mini-4k-instruct", "phi-3-mini", "llm", 1, (7,), 0.12,
              "0.10.2", 11, 450, 160, 8000, 36000, 0.006, 4096, 75, 7.1, 393216),
    ModelSpec("vllm-bge-m3", "BAAI/bge-m3", "bge-m3", "embedding", 1, (7,), 0.08,
              "0.10.2", 20, 350, 0, 1, 60000, 0.0, 8192, 60, 1.1, 98304),
    ModelSpec("vllm-bge-reranker", "BAAI/bge-reranker-v2-m3", "bge-reranker-v2-m3", "reranker", 1, (6,), 0.08,
              "0.10.2", 12, 600, 0, 1, 50000, 0.0, 8192, 60, 1.1, 98304),
)

INFRA: tuple[InfraSpec, ...] = (
    InfraSpec("litellm", "ghcr.io/berriai/litellm:main-v1.110.2", "litellm", 0.35, 1.1e9, 60e3),
    InfraSpec("litellm-db", "postgres:16.4", "litellm-db", 0.05, 3.2e8, 8e3),
    InfraSpec("redis", "redis:7.4.1", "redis", 0.03, 6.0e7, 12e3),
    InfraSpec("prometheus", "prom/prometheus:v2.55.1", "prometheus", 0.12, 1.4e9, 90e3),
    InfraSpec("grafana", "grafana/grafana:11.3.0", "grafana", 0.04, 2.1e8, 15e3),
    InfraSpec("loki", "grafana/loki:3.2.1", "loki", 0.06, 4.5e8, 40e3),
    InfraSpec("promtail", "grafana/promtail:3.2.1", "promtail", 0.03, 9.0e7, 40e3),
    InfraSpec("dcgm-exporter", "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-ubuntu22.04", "dcgm-exporter", 0.05,
              1.5e8, 3e3),
)


@dataclass(frozen=True, slots=True)
class GpuIdentity:
    index: int
    uuid: str
    pci_bus_id: str
    serial: str


@dataclass(frozen=True, slots=True)
class ContainerIdentity:
    id: str
    name: str
    image: str
    service: str
    kind: str
    restart_period_s: float
    restart_phase_s: float
    created: float


def gpu_identities(ident: HostIdentity, count: int) -> tuple[GpuIdentity, ...]:
    out = []
    for i in range(count):
        h = identity_hex(ident.seed, ident.index, "gpu", i, length=32)
        uuid = f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
        serial = str(1650924000000 + int(h[:6], 16) % 1_000_000)
        out.append(GpuIdentity(i, uuid, f"00000000:{PCI_BUSES[i % len(PCI_BUSES)]}:00.0", serial))
    return tuple(out)


def container_identities(ident: HostIdentity) -> tuple[ContainerIdentity, ...]:
    """vLLM containers restart every few days (deploys, crashes), infra every few weeks; phases from the seed."""
    out = []
    specs = [(m.container, f"vllm/vllm-openai:v{m.vllm_version}", m.container, "vllm", 4.0) for m in MODELS]
    specs += [(s.container, s.image, s.service, "proxy" if s.service == "litellm" else "infra", 21.0) for s in INFRA]
    for name, image, service, kind, days in specs:
        u = float(hash_uniform(key_of(ident.seed, ident.index, "restart", name), 0))
        period = days * DAY_S * (0.6 + 0.8 * u)
        phase = float(hash_uniform(key_of(ident.seed, ident.index, "restart-phase", name), 0)) * period
        created = 1_767_225_600.0 - 86_400.0 * (10 + 30 * u)  # created weeks before 2026
        out.append(ContainerIdentity(identity_hex(ident.seed, ident.index, "container", name), name, image, service,
                                     kind, round(period), round(phase), round(created)))
    return tuple(out)

"""The mock exporters: name -> how to build its family table, its dialect and service name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from otelmock.config import Settings
from otelmock.exporters import cadvisor, dcgm, litellm, node, vllm
from otelmock.exporters.base import Family


@dataclass(frozen=True, slots=True)
class ExporterSpec:
    service_name: str
    dialect: str
    families: Callable[[Settings], Sequence[Family]]
    landing_title: str
    host_only: bool = False   # its families read the host's snapshot only (never GPUs, containers or models)


EXPORTERS: dict[str, ExporterSpec] = {
    "node": ExporterSpec("node-exporter", "go", node.families, "Node Exporter", host_only=True),
    "dcgm": ExporterSpec("dcgm-exporter", "dcgm", dcgm.families, "GPU Exporter"),
    "cadvisor": ExporterSpec("cadvisor", "go", cadvisor.families, "cAdvisor"),
    "litellm": ExporterSpec("litellm-proxy", "python", litellm.families, "LiteLLM"),
    "vllm": ExporterSpec("vllm", "python", vllm.families, "vLLM"),
}

__all__ = ["EXPORTERS", "ExporterSpec"]

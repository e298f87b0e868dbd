"""Settings: the only module that reads configuration files or the environment.

Precedence (lowest first): the packaged ``settings.toml``, a user file (``--config``, TOML or YAML),
``OTELMOCK_*`` environment variables (nested keys with ``__``: ``OTELMOCK_PORTS__NODE=9101``), then
keyword overrides from code. Everything is validated once; a bad value raises :class:`ConfigError`
naming where it came from, the key and the value. The result is a frozen :class:`Settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from dynaconf import Dynaconf

from otelmock.errors import ConfigError

DEFAULTS_FILE = Path(__file__).with_name("settings.toml")
ENV_PREFIX = "OTELMOCK_"
EXPORTER_NAMES = ("node", "dcgm", "cadvisor", "litellm", "vllm")


@dataclass(frozen=True, slots=True)
class Ports:
    node: int
    dcgm: int
    cadvisor: int
    litellm: int
    vllm: int
    control: int


@dataclass(frozen=True, slots=True)
class Host:
    hostname: str
    index: int
    cpus: int
    memory_bytes: int
    reboot_every_days: float
    kernel: str
    os_id: str
    os_version: str


@dataclass(frozen=True, slots=True)
class Gpu:
    count: int
    driver_version: str


@dataclass(frozen=True, slots=True)
class Dcgm:
    collectors: str          # counters CSV (dcgm-exporter's -f); "" = the packaged default-counters.csv
    hostname_label: str      # "Hostname" (up to 4.5.3-4.8.2) or "hostname" (later)
    container_labels: bool   # container/namespace/pod labels on GPUs held by containers


@dataclass(frozen=True, slots=True)
class Vllm:
    version: str             # 0.11.0 | 0.33.0
    deprecated_names: bool   # also vllm:gpu_cache_usage_perc etc. (--show-hidden-metrics-for-version)
    per_container_base_port: int  # >0: each vLLM container also alone on base + its index


@dataclass(frozen=True, slots=True)
class Litellm:
    service_metrics: bool    # the proxy's own dependency families (redis, postgres, self, router)


@dataclass(frozen=True, slots=True)
class Logs:
    enabled: bool
    dir: str                 # data root: containers/<id>/<id>-json.log beneath it
    logpath_root: str        # the data root written into config.v2.json (where a shipper mounts it)
    max_size: str            # json-file max-size (go-units, "10m")
    max_file: int
    compress: bool
    access_sample: int       # success access lines kept per container per tick
    stats_interval_s: float  # vLLM engine statistics period
    write_interval_s: float  # lines are generated and appended in batches this often (each keeps its own time)


@dataclass(frozen=True, slots=True)
class Otlp:
    enabled: bool            # push metrics (and logs) over OTLP/gRPC; also on when OTEL_EXPORTER_OTLP_ENDPOINT is set
    endpoint: str            # "" = OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4317
    insecure: str            # "", "auto", "true", "false"
    certificate_file: str
    headers: str             # k=v,k2=v2
    timeout_s: float         # 0 = OTEL_EXPORTER_OTLP_TIMEOUT, else 5
    interval_s: float
    max_batch_points: int
    compression: str         # "" or "gzip"


@dataclass(frozen=True, slots=True)
class Api:
    token: str               # bearer token for the control API's write endpoints ("" = none)


@dataclass(frozen=True, slots=True)
class Settings:
    seed: int
    tick_s: float
    speed: float
    bind: str
    scenario: str
    scenarios_dir: str
    state_file: str          # "" or where scenario switches and anomalies are kept across restarts
    render: str              # otel: Prometheus text read through each MeterProvider; direct: same text, no SDK
    exporters: tuple[str, ...]
    host: Host
    gpu: Gpu
    ports: Ports
    dcgm: Dcgm
    vllm: Vllm
    litellm: Litellm
    logs: Logs
    otlp: Otlp
    api: Api
    params: dict[str, float]          # scenario parameter overrides, applied on top of every scenario


# key path -> (type, check, what is allowed)
def _rng(lo: float, hi: float) -> tuple[Any, str]:
    return (lambda v: lo <= v <= hi), f"between {lo:g} and {hi:g}"


_PORT = _rng(1, 65535)
SCHEMA: dict[str, tuple[type, Any, str]] = {
    "seed": (int, lambda v: 0 <= v < 2**63, "a non-negative integer"),
    "tick_s": (float, *_rng(0.05, 3600)),
    "speed": (float, *_rng(0.001, 100_000)),
    "bind": (str, lambda v: bool(v), "a non-empty address"),
    "scenario": (str, lambda v: bool(v), "a scenario name"),
    "scenarios_dir": (str, lambda v: True, "a folder path"),
    "render": (str, lambda v: v in ("otel", "direct"), "otel or direct"),
    "state_file": (str, lambda v: len(v) < 4096, "a file path (or empty)"),
    "exporters": (tuple, lambda v: bool(v) and all(e in (*EXPORTER_NAMES, "all") for e in v),
                  f"a list of all, {', '.join(EXPORTER_NAMES)}"),
    "host.hostname": (str, lambda v: len(v) <= 63 and all(c.isalnum() or c in "-." for c in v), "a hostname"),
    "host.index": (int, *_rng(0, 9999)),
    "host.cpus": (int, *_rng(1, 1024)),
    "host.memory_bytes": (int, *_rng(2**30, 2**44)),
    "host.reboot_every_days": (float, *_rng(1, 400)),
    "host.kernel": (str, lambda v: bool(v), "a kernel release"),
    "host.os_id": (str, lambda v: bool(v), "an os id"),
    "host.os_version": (str, lambda v: bool(v), "an os version"),
    "gpu.count": (int, *_rng(0, 8)),
    "dcgm.collectors": (str, lambda v: True, "a counters CSV path"),
    "dcgm.hostname_label": (str, lambda v: v in ("Hostname", "hostname", ""), "Hostname, hostname or empty"),
    "dcgm.container_labels": (bool, lambda v: True, "true or false"),
    "vllm.version": (str, lambda v: v in ("0.11.0", "0.33.0"), "0.11.0 or 0.33.0"),
    "vllm.deprecated_names": (bool, lambda v: True, "true or false"),
    "vllm.per_container_base_port": (int, *_rng(0, 65000)),
    "litellm.service_metrics": (bool, lambda v: True, "true or false"),
    "api.token": (str, lambda v: len(v) <= 4096, "a bearer token"),
    "logs.enabled": (bool, lambda v: True, "true or false"),
    "otlp.enabled": (bool, lambda v: True, "true or false"),
    "otlp.endpoint": (str, lambda v: len(v) < 2048, "an OTLP gRPC endpoint such as http://collector:4317"),
    "otlp.insecure": (str, lambda v: v.lower() in ("", "auto", "true", "false"), "'', auto, true or false"),
    "otlp.certificate_file": (str, lambda v: True, "a PEM file path"),
    "otlp.headers": (str, lambda v: True, "k=v,k2=v2"),
    "otlp.timeout_s": (float, *_rng(0, 300)),
    "otlp.interval_s": (float, *_rng(0.1, 3600)),
    "otlp.max_batch_points": (int, *_rng(1, 1_000_000)),
    "otlp.compression": (str, lambda v: v in ("", "gzip"), "'' or gzip"),
    "logs.dir": (str, lambda v: bool(v), "a folder path"),
    "logs.logpath_root": (str, lambda v: v.startswith("/"), "an absolute path"),
    "logs.max_size": (str, lambda v: bool(v) and v[0].isdigit(), "a size such as 10m"),
    "logs.max_file": (int, *_rng(1, 100)),
    "logs.compress": (bool, lambda v: True, "true or false"),
    "logs.access_sample": (int, *_rng(0, 10_000)),
    "logs.stats_interval_s": (float, *_rng(1, 3600)),
    "logs.write_interval_s": (float, *_rng(0, 60)),
    "gpu.driver_version": (str, lambda v: bool(v), "a driver version such as 580.159.04"),
    **{f"ports.{name}": (int, *_PORT) for name in (*EXPORTER_NAMES, "control")},
}


_DYNACONF_OPTIONS = {"settings_files", "envvar_prefix", "environments", "load_dotenv", "merge_enabled"}


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{str(k).lower()}"
        if not prefix and key in _DYNACONF_OPTIONS:
            continue
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _source(key: str, user_keys: set[str], config_file: Path | None, environ: Mapping[str, str]) -> str:
    env_name = ENV_PREFIX + key.upper().replace(".", "__")
    if env_name in environ:
        return f"environment variable {env_name}"
    if config_file is not None and key in user_keys:
        return str(config_file)
    return str(DEFAULTS_FILE)


def _cast(key: str, value: Any, kind: type) -> Any:
    if kind is tuple:
        if isinstance(value, str):
            value = [p.strip() for p in value.split(",") if p.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise TypeError
        return tuple(value)
    if kind is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        if not isinstance(value, bool):
            raise TypeError
        return value
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError
    return value


def _read_user_file(config_file: Path) -> set[str]:
    if not config_file.is_file():
        raise ConfigError(f"{config_file}: config file not found")
    if config_file.suffix not in (".toml", ".yaml", ".yml"):
        raise ConfigError(f"{config_file}: config file must be .toml, .yaml or .yml")
    probe = Dynaconf(settings_files=[str(config_file)], environments=False, load_dotenv=False, envvar_prefix=False)
    try:
        return set(_flatten(probe.as_dict()))
    except Exception as exc:  # the file's own parser error, reported with the file name
        raise ConfigError(f"{config_file}: cannot parse: {exc}") from None


def load(
    config_file: str | Path | None = None, environ: Mapping[str, str] | None = None, **overrides: Any
) -> Settings:
    """Read, validate and freeze the settings. ``overrides`` use dotted keys as ``host__cpus=8``."""
    environ = dict(os.environ if environ is None else environ)
    path = Path(config_file) if config_file else None
    user_keys = _read_user_file(path) if path else set()
    files = [str(DEFAULTS_FILE)] + ([str(path)] if path else [])
    env_backup = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
    try:  # Dynaconf reads os.environ: present exactly the injected environment while it loads
        for k in env_backup:
            del os.environ[k]
        os.environ.update({k: v for k, v in environ.items() if k.startswith(ENV_PREFIX)})
        dyn = Dynaconf(
            settings_files=files, envvar_prefix="OTELMOCK", environments=False, load_dotenv=False,
            merge_enabled=True,
        )
        try:
            raw = _flatten(dyn.as_dict())
        except Exception as exc:
            raise ConfigError(f"cannot load settings: {exc}") from None
    finally:
        for k in [k for k in os.environ if k.startswith(ENV_PREFIX)]:
            del os.environ[k]
        os.environ.update(env_backup)
    raw.update({k.replace("__", "."): v for k, v in overrides.items()})
    values: dict[str, Any] = {}
    params: dict[str, float] = {}
    for key, value in raw.items():
        if key.startswith("params."):
            params[key[7:]] = _param(key, value, user_keys, path, environ)
            continue
        if key not in SCHEMA:
            where = _source(key, user_keys, path, environ)
            raise ConfigError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(SCHEMA))})")
        kind, check, allowed = SCHEMA[key]
        try:
            value = _cast(key, value, kind)
            ok = check(value)
        except TypeError:
            ok = False
        if not ok:
            where = _source(key, user_keys, path, environ)
            raise ConfigError(f"{where}: {key} = {raw[key]!r} is invalid; expected {allowed}")
        values[key] = value
    return _build(values, params)


def _param(key: str, value: Any, user_keys: set[str], path: Path | None, environ: Mapping[str, str]) -> float:
    """A scenario parameter override (``params.serving.error_rate``, env ``OTELMOCK_PARAMS__SERVING__ERROR_RATE``)."""
    from otelmock.world.params import spec

    where = _source(key, user_keys, path, environ)
    known = spec(key[7:])
    if known is None:
        raise ConfigError(f"{where}: unknown scenario parameter {key[7:]!r}")
    if isinstance(value, bool) or not isinstance(value, int | float) or not known[1] <= value <= known[2]:
        raise ConfigError(f"{where}: {key} = {value!r} is invalid; expected a number in [{known[1]:g}, {known[2]:g}]")
    return float(value)


def _build(values: dict[str, Any], params: dict[str, float] | None = None) -> Settings:
    def section(cls: type, prefix: str) -> Any:
        return cls(**{f.name: values[f"{prefix}.{f.name}"] for f in fields(cls)})

    sections = {"host": Host, "gpu": Gpu, "ports": Ports, "dcgm": Dcgm, "vllm": Vllm, "litellm": Litellm,
                "logs": Logs, "otlp": Otlp, "api": Api}
    top = {f.name: values[f.name] for f in fields(Settings) if f.name not in (*sections, "params")}
    return Settings(**top, **{name: section(cls, name) for name, cls in sections.items()}, params=dict(params or {}))

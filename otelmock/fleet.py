"""Fleet: N simulated hosts from one process, and replicas that take their identity from their hostname.

Host ``i`` of a fleet (``i`` = 0..N-1) is a full :class:`~otelmock.runtime.Runtime` with its own world: host index
``host.index + i``, so its hostname, machine id, GPU UUIDs and container ids derive from (seed, index) and its values
are independent of the other hosts' (every random stream is keyed by the host), while all hosts share the scenario.
Its exporters listen on their configured ports plus ``PORT_STRIDE * i``: node 9100, 9200, 9300 ...; dcgm 9445, 9545
...; cadvisor 8080, 8180 ...; litellm 9901, 10001 ...; vllm 9902, 10002 ...; control API 9900, 10000 ... (at most
556 hosts with the default ports). A Prometheus ``file_sd`` file lists every exporter target with its ``job`` label.

In containers (compose scale-out, a Kubernetes Deployment or StatefulSet) each replica runs one host whose index comes
from its hostname: :func:`host_index_from_hostname` (``python -m otelmock.fleet host-index``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import re
import socket
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from otelmock.clock import Clock, WallClock
from otelmock.config import ConfigError, Settings
from otelmock.exporters import EXPORTERS
from otelmock.runtime import Runtime
from otelmock.scenario.loader import Scenario
from otelmock.scenario.timeline import Timeline
from otelmock.world.model import World

PORT_STRIDE = 100
MAX_INDEX = 9999  # the largest host.index the settings accept


def host_index_from_hostname(name: str) -> int:
    """A replica's host index: the trailing number of ``name-N`` (a StatefulSet pod ``otelmock-3``, a compose
    service ``otelmock-host-3``), else a stable hash of the whole name (a Deployment pod ``otelmock-7c9d-x2k4q``,
    a container id) in 0..9999. Distinct names may share a hashed index (2 in 10,000 per pair): prefer ordinals."""
    m = re.search(r"-(\d+)$", name)
    if m and int(m.group(1)) <= MAX_INDEX:
        return int(m.group(1))
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % (MAX_INDEX + 1)


def _names(settings: Settings) -> tuple[str, ...]:
    return tuple(EXPORTERS) if "all" in settings.exporters else settings.exporters


def host_settings(settings: Settings, i: int) -> Settings:
    """The settings of host ``i`` of a fleet: index ``host.index + i``, ports shifted by ``PORT_STRIDE * i``."""
    ports = {f.name: getattr(settings.ports, f.name) + PORT_STRIDE * i for f in dataclasses.fields(settings.ports)}
    bad = {k: v for k, v in ports.items() if v > 65535 and (k in _names(settings) or k == "control")}
    if bad:
        name, port = next(iter(bad.items()))
        raise ConfigError(f"--hosts: host {i} would put {name} on port {port} (> 65535); use fewer hosts")
    index = settings.host.index + i
    if index > MAX_INDEX:
        raise ConfigError(f"--hosts: host index {index} is above {MAX_INDEX}")
    hostname = f"{settings.host.hostname}-{i}" if settings.host.hostname and i else settings.host.hostname
    base = settings.vllm.per_container_base_port
    state_file = settings.state_file  # host i keeps its own: state.json, state-1.json, state-2.json ...
    if state_file and i:
        state_file = str(Path(state_file).with_stem(f"{Path(state_file).stem}-{i}"))
    return dataclasses.replace(
        settings, exporters=_names(settings), state_file=state_file,
        host=dataclasses.replace(settings.host, index=index, hostname=hostname),
        ports=dataclasses.replace(settings.ports, **ports),
        vllm=dataclasses.replace(settings.vllm, per_container_base_port=base + PORT_STRIDE * i if base else 0))


def build_fleet(settings: Settings, scenarios: Mapping[str, Scenario], n_hosts: int, clock: Clock,
                otlp: bool = False) -> list[Runtime]:
    """``n_hosts`` runtimes sharing ``clock`` and the scenario ``settings.scenario`` (not started).

    ``otlp``: each host pushes over OTLP as ``otelmock run`` does (its own resource: host.name, service.instance.id).
    """
    if not 1 <= n_hosts <= MAX_INDEX + 1:
        raise ConfigError(f"--hosts: {n_hosts} is outside [1, {MAX_INDEX + 1}]")
    if settings.scenario not in scenarios:
        raise ConfigError(f"scenario {settings.scenario!r} not found (available: {', '.join(sorted(scenarios))})")
    params = {**scenarios[settings.scenario].params, **settings.params}
    per_host = [host_settings(settings, i) for i in range(n_hosts)]
    ports = [p for s in per_host for p in fleet_ports(s)]
    seen: dict[int, str] = {}
    for name, port in ports:
        if port in seen:
            raise ConfigError(f"--hosts: port {port} would serve both {seen[port]} and {name}; "
                              f"space the ports.* settings at least {PORT_STRIDE} x hosts apart or use fewer hosts")
        seen[port] = name
    push = None
    if otlp:
        from otelmock.bridge.otlp import OtlpConfig

        push = OtlpConfig.of(settings.otlp)
    return [Runtime(s, World(s, Timeline.constant(s.scenario, params)), clock, dict(scenarios), otlp=push)
            for s in per_host]


def fleet_ports(settings: Settings) -> list[tuple[str, int]]:
    """(exporter, port) of one host as ``otelmock run`` binds them, the control API last (names carry the index)."""
    tag = f"host {settings.host.index} "
    ports = [(tag + n, getattr(settings.ports, n)) for n in _names(settings)]
    base = settings.vllm.per_container_base_port
    if "vllm" in _names(settings) and base > 0:
        from otelmock.world.deployment import MODELS

        ports += [(f"{tag}vllm/{m.container}", base + k) for k, m in enumerate(MODELS)]
    return [*ports, (tag + "control", settings.ports.control)]


def target_host(bind: str) -> str:
    """The address Prometheus should scrape for exporters bound to ``bind``."""
    if bind in ("0.0.0.0", "::", ""):
        return "localhost"
    return f"[{bind}]" if ":" in bind else bind


def write_file_sd(path: str | os.PathLike[str], fleet: Sequence[Runtime], bind: str) -> list[dict[str, object]]:
    """Write Prometheus ``file_sd`` JSON for every exporter of every host (atomically: Prometheus watches the file).

    Each target group carries ``job`` (the exporter's conventional job name, which overrides the scrape config's
    ``job_name``) and, for relabelling, ``__meta_otelmock_hostname`` and ``__meta_otelmock_host_index``.
    """
    host = target_host(bind)
    groups: list[dict[str, object]] = []
    for rt in fleet:
        for name, exp in rt.exporters.items():
            job = "vllm" if name.startswith("vllm/") else name
            labels = {"job": job, "__meta_otelmock_hostname": rt.world.ident.hostname,
                      "__meta_otelmock_host_index": str(rt.settings.host.index)}
            if job != name:
                labels["__meta_otelmock_vllm_container"] = name.split("/", 1)[1]
            groups.append({"targets": [f"{host}:{exp.port}"], "labels": labels})
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(groups, f, indent=2)
        f.write("\n")
    os.replace(tmp, target)
    return groups


def serve_fleet(settings: Settings, scenarios: Mapping[str, Scenario], n_hosts: int,
                file_sd: str | None = None) -> int:
    """``otelmock run --hosts N``: bind every port of every host first, then build, announce and serve them.

    Like ``otelmock run``: each host has its control API on ``ports.control + 100 i`` and at ``/otelmock`` on each of
    its exporter ports, and pushes OTLP and writes container logs when configured (container ids differ per host, so
    the hosts' log files share the logs folder). SIGHUP reload is for single-host runs.
    """
    import logging

    from otelmock.api import create_app, exporter_mount
    from otelmock.serve import bind_all, exporter_app, serve_all

    log = logging.getLogger("otelmock")
    per_host = [host_settings(settings, i) for i in range(n_hosts)]
    ports = [p for s in per_host for p in fleet_ports(s)]
    sockets = bind_all(settings.bind, ports)
    try:
        fleet = build_fleet(settings, scenarios, n_hosts, WallClock(settings.speed), otlp=True)
    except BaseException:
        for s in sockets:
            s.close()
        raise
    if file_sd:
        write_file_sd(file_sd, fleet, settings.bind)
        log.info("file_sd targets for %d hosts in %s", n_hosts, file_sd)
    apps = []
    by_port = dict(zip((p for _, p in ports), sockets, strict=True))
    token = settings.api.token or None
    for rt in fleet:
        if settings.logs.enabled:
            rt.attach_logs()
        rt.start()
        log.info("host %d %s: ports %s, control %d", rt.settings.host.index, rt.world.ident.hostname,
                 ", ".join(f"{n}:{e.port}" for n, e in rt.exporters.items()), rt.settings.ports.control)
        mount = exporter_mount(rt, token)
        for name, exp in rt.exporters.items():
            apps.append((exporter_app(exp, EXPORTERS[name.split("/")[0]].landing_title, [mount]), by_port[exp.port]))
        apps.append((create_app(rt, token), by_port[rt.settings.ports.control]))

    def stop() -> None:
        for rt in fleet:
            rt.stop()

    asyncio.run(serve_all(apps, on_stop=stop))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m otelmock.fleet host-index [NAME]``: the host index of this (or the named) host."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "host-index" or len(args) > 2:
        print("usage: python -m otelmock.fleet host-index [HOSTNAME]", file=sys.stderr)
        return 2
    print(host_index_from_hostname(args[1] if len(args) == 2 else socket.gethostname()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

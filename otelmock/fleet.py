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
import contextlib
import dataclasses
import gc
import hashlib
import json
import logging
import os
import re
import signal
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
from otelmock.world.identity import derive_host
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
                otlp: bool = False, only: range | None = None) -> list[Runtime]:
    """``n_hosts`` runtimes sharing ``clock`` and the scenario ``settings.scenario`` (not started).

    ``otlp``: each host pushes over OTLP as ``otelmock run`` does (its own resource: host.name, service.instance.id).
    ``only``: build just these hosts of the fleet (a serving process's group).
    """
    if not 1 <= n_hosts <= MAX_INDEX + 1:
        raise ConfigError(f"--hosts: {n_hosts} is outside [1, {MAX_INDEX + 1}]")
    if settings.scenario not in scenarios:
        raise ConfigError(f"scenario {settings.scenario!r} not found (available: {', '.join(sorted(scenarios))})")
    params = {**scenarios[settings.scenario].params, **settings.params}
    per_host = [host_settings(settings, i) for i in range(n_hosts)]
    _check_ports(per_host)
    push = None
    if otlp:
        from otelmock.bridge.otlp import OtlpConfig

        push = OtlpConfig.of(settings.otlp)
    return [Runtime(s, World(s, Timeline.constant(s.scenario, params)), clock, dict(scenarios), otlp=push)
            for s in (per_host if only is None else per_host[only.start:only.stop])]


def host_exporters(settings: Settings) -> list[tuple[str, int]]:
    """(exporter, port) of one host, as its runtime names them: the exporters, then the per-container vLLM ones."""
    ports = [(n, getattr(settings.ports, n)) for n in _names(settings)]
    base = settings.vllm.per_container_base_port
    if "vllm" in _names(settings) and base > 0:
        from otelmock.world.deployment import MODELS

        ports += [(f"vllm/{m.container}", base + k) for k, m in enumerate(MODELS)]
    return ports


def fleet_ports(settings: Settings) -> list[tuple[str, int]]:
    """(exporter, port) of one host as ``otelmock run`` binds them, the control API last (names carry the index)."""
    tag = f"host {settings.host.index} "
    return [(tag + n, p) for n, p in [*host_exporters(settings), ("control", settings.ports.control)]]


def _check_ports(per_host: Sequence[Settings]) -> None:
    seen: dict[int, str] = {}
    for name, port in (p for s in per_host for p in fleet_ports(s)):
        if port in seen:
            raise ConfigError(f"--hosts: port {port} would serve both {seen[port]} and {name}; "
                              f"space the ports.* settings at least {PORT_STRIDE} x hosts apart or use fewer hosts")
        seen[port] = name


def target_host(bind: str) -> str:
    """The address Prometheus should scrape for exporters bound to ``bind``."""
    if bind in ("0.0.0.0", "::", ""):
        return "localhost"
    return f"[{bind}]" if ":" in bind else bind


def write_file_sd(path: str | os.PathLike[str], hosts: Sequence[Settings], bind: str) -> list[dict[str, object]]:
    """Write Prometheus ``file_sd`` JSON for every exporter of every host (atomically: Prometheus watches the file).

    Each target group carries ``job`` (the exporter's conventional job name, which overrides the scrape config's
    ``job_name``) and, for relabelling, ``__meta_otelmock_hostname`` and ``__meta_otelmock_host_index``.
    """
    host = target_host(bind)
    groups: list[dict[str, object]] = []
    for s in hosts:
        for name, port in host_exporters(s):
            job = "vllm" if name.startswith("vllm/") else name
            labels = {"job": job, "__meta_otelmock_hostname": derive_host(s).hostname,
                      "__meta_otelmock_host_index": str(s.host.index)}
            if job != name:
                labels["__meta_otelmock_vllm_container"] = name.split("/", 1)[1]
            groups.append({"targets": [f"{host}:{port}"], "labels": labels})
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(groups, f, indent=2)
        f.write("\n")
    os.replace(tmp, target)
    return groups


def processes_for(n_hosts: int, asked: int | None = None) -> int:
    """Serving processes for ``n_hosts``: ``asked``, checked to be one to one per host, or by default one per five
    hosts, at most one per CPU."""
    if asked is None:
        return max(1, min(os.cpu_count() or 1, -(-n_hosts // 5)))
    if not 1 <= asked <= n_hosts:
        raise ConfigError(f"--processes: {asked} is outside [1, {n_hosts}] (one to one per host)")
    return asked


def serve_fleet(settings: Settings, scenarios: Mapping[str, Scenario], n_hosts: int,
                file_sd: str | None = None, processes: int = 1) -> int:
    """``otelmock run --hosts N``: bind every port of every host first, then build, announce and serve them.

    Like ``otelmock run``: each host has its control API on ``ports.control + 100 i`` and at ``/otelmock`` on each of
    its exporter ports, and pushes OTLP and writes container logs when configured (container ids differ per host, so
    the hosts' log files share the logs folder). SIGHUP reload is for single-host runs.

    ``processes`` > 1 shares the hosts among that many forked processes (contiguous groups; hosts are independent, so
    nothing crosses between them): one interpreter's lock no longer serialises every host's rendering and every
    scrape. This process then only supervises: it passes SIGTERM, SIGINT and SIGHUP on, and when a group stops on
    its own it stops the others and exits with that group's status.
    """
    processes = processes_for(n_hosts, processes)
    from otelmock.serve import bind_all

    per_host = [host_settings(settings, i) for i in range(n_hosts)]
    _check_ports(per_host)
    ports = [p for s in per_host for p in fleet_ports(s)]
    by_port = dict(zip((p for _, p in ports), bind_all(settings.bind, ports), strict=True))
    try:
        if file_sd:
            write_file_sd(file_sd, per_host, settings.bind)
            logging.getLogger("otelmock").info("file_sd targets for %d hosts in %s", n_hosts, file_sd)
        share = -(-n_hosts // processes)
        groups = [range(g * share, min((g + 1) * share, n_hosts)) for g in range(processes)]
        groups = [g for g in groups if len(g)]
        if len(groups) == 1:
            return _serve_hosts(settings, scenarios, groups[0], by_port)
        return _supervise(settings, scenarios, groups, per_host, by_port)
    finally:
        for sock in by_port.values():
            sock.close()


def _serve_hosts(settings: Settings, scenarios: Mapping[str, Scenario], hosts: range,
                 by_port: Mapping[int, socket.socket]) -> int:
    """Build, start and serve hosts ``hosts`` of the fleet on their bound sockets until stopped."""
    from otelmock.api import create_app, exporter_mount
    from otelmock.serve import exporter_app, serve_all

    log = logging.getLogger("otelmock")
    fleet = build_fleet(settings, scenarios, hosts.stop, WallClock(settings.speed), otlp=True, only=hosts)
    apps = []
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

    def reload() -> None:
        log.warning("SIGHUP: reloading is for single-host runs; restart the fleet to change its configuration")

    asyncio.run(serve_all(apps, on_stop=stop, on_reload=reload))
    return 0


def _supervise(settings: Settings, scenarios: Mapping[str, Scenario], groups: Sequence[range],
               per_host: Sequence[Settings], by_port: Mapping[int, socket.socket]) -> int:
    """Fork one serving process per group of hosts and wait for them (see :func:`serve_fleet`)."""
    from otelmock.errors import OtelmockError

    log = logging.getLogger("otelmock")
    children: dict[int, range] = {}
    stopping = False

    def forward(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = stopping or signum != signal.SIGHUP
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {sig: signal.signal(sig, forward) for sig in handled}  # before forking: no signal is lost
    import otelmock.api  # the web stack the children serve with: imported once, shared with them
    import otelmock.serve  # noqa: F401

    gc.collect()
    gc.freeze()  # what is imported now stays shared with the children: their collections never write to it
    try:
        for hosts in groups:
            pid = os.fork()
            if pid == 0:  # the child serves its hosts and never returns into the caller
                code = 1
                try:
                    children.clear()  # a signal before the event loop's handlers must not reach the siblings
                    for sig, handler in previous.items():
                        signal.signal(sig, handler)
                    mine = {p for i in hosts for _, p in fleet_ports(per_host[i])}
                    for port, sock in by_port.items():
                        if port not in mine:
                            sock.close()
                    code = _serve_hosts(settings, scenarios, hosts, by_port)
                except OtelmockError as exc:
                    print(f"otelmock: error: hosts {hosts.start}-{hosts.stop - 1}: {exc}", file=sys.stderr)
                    code = 2
                except BaseException:
                    log.exception("hosts %d-%d failed", hosts.start, hosts.stop - 1)
                finally:
                    sys.stderr.flush()
                    os._exit(code)
            children[pid] = hosts
            log.info("hosts %d-%d served by process %d", hosts.start, hosts.stop - 1, pid)
        status = 0
        while children:
            pid, raw = os.wait()
            hosts = children.pop(pid)
            code = os.waitstatus_to_exitcode(raw)
            if stopping and code in (0, -signal.SIGTERM, -signal.SIGINT):
                continue
            log.error("hosts %d-%d stopped (process %d, exit status %d); stopping the fleet",
                      hosts.start, hosts.stop - 1, pid, code)
            status = status or (code if code > 0 else 1)
            forward(signal.SIGTERM, None)
        return status
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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

"""Command line: ``otelmock run | dump EXPORTER --at T | scenarios``.

Configuration errors print one line naming the cause and exit with status 2; nothing is started.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from datetime import datetime

from otelmock import __version__, backfill, config, fleet, preview
from otelmock.bridge.otlp import OtlpConfig
from otelmock.clock import SimClock, WallClock
from otelmock.errors import OtelmockError
from otelmock.exporters import EXPORTERS
from otelmock.runtime import Runtime
from otelmock.scenario.loader import Scenario, discover
from otelmock.scenario.timeline import Timeline
from otelmock.world.deployment import MODELS
from otelmock.world.model import World

log = logging.getLogger("otelmock")


def parse_time(text: str) -> float:
    """Unix seconds (``1767225600``) or ISO 8601 (``2026-01-01T00:00:00Z``)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--at: {text!r} is neither Unix seconds nor ISO 8601") from None
    if dt.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--at: {text!r} needs a time zone (e.g. a trailing Z)")
    return dt.timestamp()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="otelmock", description="Mock exporters for an LLM-serving GPU server.")
    p.add_argument("--version", action="version", version=f"otelmock {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="settings file (TOML or YAML); OTELMOCK_* variables override it")
    common.add_argument("--scenario", help="scenario name (default: the 'scenario' setting)")
    common.add_argument("--seed", type=int, help="override the seed")
    run = sub.add_parser("run", parents=[common], help="serve every mock exporter on its port")
    run.add_argument("--bind", help="address to bind (default: the 'bind' setting)")
    dump = sub.add_parser("dump", parents=[common], help="print one scrape of an exporter without serving")
    dump.add_argument("exporter", choices=sorted(EXPORTERS))
    dump.add_argument("--at", type=parse_time, default=None, help="simulated time: Unix seconds or ISO 8601")
    sub.add_parser("scenarios", parents=[common], help="list the scenarios that can be chosen")
    run.add_argument("--hosts", type=int, default=1, help="simulated hosts; host i serves on each port + 100*i")
    run.add_argument("--file-sd", help="write a Prometheus file_sd file listing every exporter of every host")
    run.add_argument("--processes", type=int, help="serving processes sharing the hosts "
                     "(default: one per five hosts, at most one per CPU)")
    backfill.add_parser(sub, common)
    preview.add_parser(sub, common)
    return p


def _settings(args: argparse.Namespace) -> config.Settings:
    overrides = {k: v for k, v in (("scenario", args.scenario), ("seed", args.seed),
                                   ("bind", getattr(args, "bind", None))) if v is not None}
    return config.load(args.config, **overrides)


def _timeline(settings: config.Settings) -> tuple[Timeline, dict[str, Scenario]]:
    scenarios = discover(settings.scenarios_dir)
    if settings.scenario not in scenarios:
        raise config.ConfigError(
            f"scenario {settings.scenario!r} not found (available: {', '.join(sorted(scenarios))})")
    params = {**scenarios[settings.scenario].params, **settings.params}
    return Timeline.constant(settings.scenario, params), scenarios


def cmd_dump(args: argparse.Namespace) -> int:
    settings = _settings(args)
    at = time.time() if args.at is None else args.at
    clock = SimClock(at)
    timeline, scenarios = _timeline(settings)
    world = World(settings, timeline)
    rt = Runtime(settings.__class__(**{**_asdict(settings), "exporters": (args.exporter,)}), world, clock, scenarios)
    sys.stdout.buffer.write(rt.exporters[args.exporter].bridge.render())
    rt.stop()
    return 0


def _asdict(settings: config.Settings) -> dict[str, object]:
    return {f: getattr(settings, f) for f in settings.__slots__}  # type: ignore[attr-defined]


def cmd_run(args: argparse.Namespace) -> int:
    from otelmock.api import create_app, exporter_mount
    from otelmock.serve import bind_all, exporter_app, serve_all, tune_malloc

    tune_malloc()
    # the event loop answers scrapes from rendered bodies in a millisecond; while world threads render, it waits
    # for the interpreter's lock up to the switch interval at each step (5 ms by default): 1 ms keeps that short
    sys.setswitchinterval(0.001)
    settings = _settings(args)
    names = tuple(EXPORTERS) if "all" in settings.exporters else settings.exporters
    missing = [n for n in names if n not in EXPORTERS]
    if missing:
        raise config.ConfigError(f"exporters: {missing[0]!r} is not available in this version "
                                 f"(available: {', '.join(EXPORTERS)})")
    settings = settings.__class__(**{**_asdict(settings), "exporters": names})
    timeline, scenarios = _timeline(settings)
    procs = fleet.processes_for(args.hosts, args.processes)  # checked for one host too
    if args.hosts > 1 or args.file_sd:
        return fleet.serve_fleet(settings, scenarios, args.hosts, args.file_sd, procs)
    ports = [(n, getattr(settings.ports, n)) for n in names]
    if "vllm" in names and settings.vllm.per_container_base_port > 0:
        ports += [(f"vllm/{m.container}", settings.vllm.per_container_base_port + i) for i, m in enumerate(MODELS)]
    sockets = bind_all(settings.bind, [*ports, ("control", settings.ports.control)])
    world = World(settings, timeline)
    rt = Runtime(settings, world, WallClock(settings.speed), scenarios, otlp=OtlpConfig.of(settings.otlp))
    if settings.logs.enabled:
        rt.attach_logs()
    rt.start()
    for n, port in ports:
        log.info("%s exporter on http://%s:%d/metrics", n, settings.bind, port)
    log.info("host %s, scenario %s, seed %d", world.ident.hostname, settings.scenario, settings.seed)
    titles = {n: EXPORTERS[n.split("/")[0]].landing_title for n, _ in ports}
    token = settings.api.token or None
    mount = exporter_mount(rt, token)  # the control API at /otelmock on every exporter port (no ground truth there)
    apps = [(exporter_app(rt.exporters[n], titles[n], [mount]), s)
            for (n, _), s in zip(ports, sockets[:-1], strict=True)]
    apps.append((create_app(rt, token), sockets[-1]))
    log.info("control API on http://%s:%d/docs (ground truth at /metrics; also at /otelmock on every exporter port)%s",
             settings.bind, settings.ports.control, "" if token else "; writes need no token (set api.token)")

    def reload() -> None:  # SIGHUP: re-read settings and scenarios; a bad file keeps the old ones
        try:
            fresh = _settings(args)
            rt_restart = rt.reload(fresh, _timeline(fresh)[1])
        except OtelmockError as exc:
            log.error("reload rejected, the previous configuration stays active: %s", exc)
            return
        log.info("reloaded configuration and scenarios%s",
                 f" (needs a restart to change: {', '.join(rt_restart)})" if rt_restart else "")

    asyncio.run(serve_all(apps, on_stop=rt.stop, on_reload=reload))
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    settings = _settings(args)
    for name, sc in sorted(discover(settings.scenarios_dir).items()):
        print(f"{name}\t{sc.description}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        return {"run": cmd_run, "dump": cmd_dump, "scenarios": cmd_scenarios,
                "backfill": backfill.cmd, "preview": preview.cmd}[args.command](args)
    except OtelmockError as exc:
        print(f"otelmock: error: {exc}", file=sys.stderr)
        return 2

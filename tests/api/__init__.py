"""Helpers of the control API tests: a runtime on a SimClock with the packaged scenarios, an in-process client."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import cache

from starlette.exceptions import StarletteDeprecationWarning
from starlette.types import ASGIApp

from otelmock import config
from otelmock.clock import SimClock
from otelmock.runtime import Runtime
from otelmock.scenario.loader import Scenario, discover
from otelmock.scenario.timeline import Timeline
from otelmock.world.model import World

with warnings.catch_warnings():  # starlette 1.x prefers httpx2 and warns on import when it finds httpx
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

T0 = 1_795_000_019.0  # the next tick opens a serving window: changes start there (Runtime._next_tick_t)


def api_settings(exporters: Sequence[str] = ("node",)) -> config.Settings:
    """The settings of tests/conftest.py's ``runtime`` fixture, whatever OTELMOCK_* variables are set."""
    return config.load(environ={}, seed=7, host__hostname="gpu-test-01", exporters=list(exporters),
                       host__reboot_every_days=3)


@cache
def scenarios() -> dict[str, Scenario]:
    return discover()


def make_runtime(exporters: Sequence[str] = ("node",), scenario: str = "normal",
                 t0: float = T0) -> tuple[Runtime, SimClock]:
    """A runtime on a SimClock at ``t0`` that knows the packaged scenarios."""
    s = api_settings(exporters)
    clock = SimClock(t0)
    world = World(s, Timeline.constant(scenario, scenarios()[scenario].params))
    return Runtime(s, world, clock, dict(scenarios())), clock


def client(app: ASGIApp) -> TestClient:
    return TestClient(app, raise_server_exceptions=True)


__all__ = ["T0", "TestClient", "client", "api_settings", "make_runtime"]

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from otelmock import config
from otelmock.clock import SimClock
from otelmock.runtime import Runtime
from otelmock.scenario.timeline import Timeline
from otelmock.world.model import World

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"
T0 = 1_795_000_000.0  # 2026-11-18T11:06:40Z, a fixed instant for golden files


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/* from the current code")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("OTELMOCK_")]:
        monkeypatch.delenv(key)


@pytest.fixture
def settings() -> config.Settings:
    # a short reboot period keeps the history from boot (computed at start) small in tests
    return config.load(seed=7, host__hostname="gpu-test-01", exporters=["node"], host__reboot_every_days=3)


@pytest.fixture
def world(settings: config.Settings) -> World:
    return World(settings, Timeline.constant("normal", {}))


@pytest.fixture
def runtime(settings: config.Settings, world: World) -> Iterator[Runtime]:
    rt = Runtime(settings, world, SimClock(T0))
    yield rt
    rt.stop()


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))

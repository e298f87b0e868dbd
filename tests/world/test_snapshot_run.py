"""``World.snapshot_run``: a run of ticks in one pass equals the single ticks' snapshots stacked, bit for bit."""

from __future__ import annotations

import dataclasses
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from otelmock import backfill as bf
from otelmock import config
from otelmock.scenario.loader import discover
from otelmock.vec import NotUniform
from otelmock.world.identity import derive_host
from otelmock.world.model import World
from tests.world.stack import stack


def _world(scenario: str) -> World:
    settings = config.load(None, None, scenario=scenario)
    boot = derive_host(settings).boot_time(1_767_225_600.0)
    return World(settings, bf.schedule(scenario, discover(), boot, settings.params))


def _differences(a: Any, b: Any, path: str = "snapshot") -> list[str]:
    """Where ``b`` (a run's snapshot) differs from ``a`` (the stacked one); a scalar equals a constant array."""
    if dataclasses.is_dataclass(a):
        return [d for f in dataclasses.fields(a) for d in _differences(getattr(a, f.name), getattr(b, f.name),
                                                                          f"{path}.{f.name}")]
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys"]
        return [d for k in a for d in _differences(a[k], b[k], f"{path}[{k}]")]
    if isinstance(a, tuple):
        if len(a) != len(b):
            return [f"{path}: length"]
        return [d for j, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{j}]")]
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x, y = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        return [] if np.array_equal(x.view(np.uint64), y.view(np.uint64)) else [path]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]


@pytest.mark.parametrize("scenario,hour,run", [("normal", 2, 300), ("normal", 30, 300), ("high_load", 5, 300),
                                                ("degraded", 7, 90)])  # degraded: a container restarts every 4 min
def test_run_equals_stacked_ticks(scenario: str, hour: int, run: int) -> None:
    world = _world(scenario)
    first = world.n_boot(world.tick_at(1_767_225_600.0)) + hour * 3600 // int(world.dt)
    first -= first % world.block_ticks
    found = 0
    for start in range(first, first + world.block_ticks, run):  # runs of ticks 15 s apart
        ns = np.arange(start, start + run, 15)
        try:
            ref = stack([world.snapshot(int(n)) for n in ns])
        except NotUniform:
            with pytest.raises(NotUniform) as refused:
                world.snapshot_run(ns)
            at = refused.value.at
            if at is not None:  # the ticks before the first that differs form a run
                assert 0 < at < len(ns)
                assert _differences(stack([world.snapshot(int(n)) for n in ns[:at]]), world.snapshot_run(ns[:at])) == []
            continue
        assert _differences(ref, world.snapshot_run(ns)) == []
        found += 1
    assert found >= 3  # most runs of the hour are uniform


def test_run_across_a_block_is_refused() -> None:
    world = _world("normal")
    end = world.block_ticks * (world.tick_at(1_767_225_600.0) // world.block_ticks + 30)
    with pytest.raises(NotUniform, match="block"):
        world.snapshot_run(np.arange(end - 30, end + 30, 15))


@pytest.mark.parametrize("hour", [7, 20])
def test_run_cuts_are_exactly_where_runs_are_refused(hour: int) -> None:
    """Degraded (a crash loop): the parts between ``run_cuts`` are all accepted, and a run of the two ticks either
    side of each cut is refused, across a block boundary too."""
    world = _world("degraded")
    first = world.n_boot(world.tick_at(1_767_225_600.0)) + hour * 3600 // int(world.dt)
    first -= first % world.block_ticks
    ns = np.arange(first - 40 * 15, first + world.block_ticks // 2, 15)
    cuts = world.run_cuts(ns)
    assert 40 in cuts and len(cuts) > 10
    edges = [0, *cuts, len(ns)]
    for a, b in pairwise(edges):
        world.snapshot_run(ns[a:b])
    for c in cuts:
        with pytest.raises(NotUniform):
            world.snapshot_run(ns[c - 1: c + 1])


def test_host_only_run_ignores_containers_and_withholds_them() -> None:
    world = _world("degraded")
    first = world.n_boot(world.tick_at(1_767_225_600.0)) + 7 * 3600 // int(world.dt)
    first -= first % world.block_ticks
    ns = np.arange(first, first + 600, 15)  # 10 min of a container restarting every 4
    with pytest.raises(NotUniform):
        world.snapshot_run(ns)
    host = world.snapshot_run(ns, serving=False)
    assert _differences(stack([world.snapshot(int(n)).host for n in ns]), host.host) == []
    for part in (host.gpus, host.containers, host.vllm, host.litellm):
        with pytest.raises(RuntimeError, match="withheld"):
            list(part)
        with pytest.raises(RuntimeError, match="withheld"):
            bool(part)

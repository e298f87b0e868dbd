import time

import numpy as np
import pytest

from otelmock import config
from otelmock.scenario.timeline import Segment, Timeline
from otelmock.world.host import CPU_MODES
from otelmock.world.model import World

T0 = 1_795_000_000


def test_same_seed_same_time_same_snapshot(settings: config.Settings) -> None:
    a = World(settings, Timeline.constant("normal", {})).snapshot(T0 + 123)
    b = World(settings, Timeline.constant("normal", {})).snapshot(T0 + 123)
    assert np.array_equal(a.host.cpu_seconds, b.host.cpu_seconds)
    assert a.host.memory == b.host.memory and a.host.counters == b.host.counters


def test_random_access_equals_sequential_stepping(world: World, settings: config.Settings) -> None:
    for n in range(T0, T0 + 5):
        world.snapshot(n)
    fresh = World(settings, Timeline.constant("normal", {})).snapshot(T0 + 4)
    assert fresh.host.counters == world.snapshot(T0 + 4).host.counters


def test_other_seed_other_host(settings: config.Settings) -> None:
    other = World(config.load(seed=8, host__reboot_every_days=3), Timeline.constant("normal", {}))
    mine = World(settings, Timeline.constant("normal", {}))
    assert other.ident.hostname != mine.ident.hostname
    assert other.snapshot(T0).host.counters["ctxt"] != mine.snapshot(T0).host.counters["ctxt"]


def test_cpu_modes_sum_to_elapsed_time_per_core(world: World) -> None:
    s = world.snapshot(T0)
    elapsed = s.t - s.host.boot_time
    assert np.allclose(s.host.cpu_seconds.sum(axis=1), elapsed, atol=0.1)
    busy = 1 - s.host.cpu_seconds[:, CPU_MODES.index("idle")].sum() / s.host.cpu_seconds.sum()
    assert 0.15 < busy < 0.45


@pytest.fixture(scope="module")
def week() -> list:
    """A simulated week read every 15 minutes (computed once for the module)."""
    s = config.load(seed=7, host__hostname="gpu-test-01", host__reboot_every_days=3)
    w = World(s, Timeline.constant("normal", {}))
    return [w.snapshot(n) for n in range(T0, T0 + 7 * 86_400, 900)]


def test_a_week_holds_the_physical_invariants(week: list) -> None:
    snaps = week
    mem_total = 64 * 2**30
    used = []
    for s in snaps:
        m = s.host.memory
        assert 0 < m["MemFree"] <= m["MemAvailable"] <= m["MemTotal"] == mem_total
        assert m["MemFree"] + m["Cached"] + m["Buffers"] + m["SReclaimable"] <= mem_total
        used.append(mem_total - m["MemFree"] - m["Cached"] - m["Buffers"] - m["SReclaimable"])
        assert all(f.avail_bytes <= f.free_bytes <= f.size_bytes for f in s.host.filesystems)
        assert s.host.load[0] > 0
    gib = np.array(used) / 2**30
    assert 18 < gib.min() and gib.max() < 42  # 20-40 GB of 64 GB, with noise


def test_counters_are_monotonic_over_a_week_except_at_a_modelled_reboot(week: list) -> None:
    snaps = week
    for a, b in zip(snaps, snaps[1:], strict=False):
        if b.host.boot_time != a.host.boot_time:  # reboot: everything restarts from zero
            assert b.host.boot_time > a.host.boot_time and b.host.counters["ctxt"] < a.host.counters["ctxt"]
            continue
        assert np.all(b.host.cpu_seconds >= a.host.cpu_seconds)
        assert all(b.host.counters[k] >= v for k, v in a.host.counters.items())
        for da, db in zip(a.host.disks, b.host.disks, strict=True):
            assert all(db.counters[k] >= v for k, v in da.counters.items())
        for na, nb in zip(a.host.netdevs, b.host.netdevs, strict=True):
            assert all(nb.counters[k] >= v for k, v in na.counters.items())


def test_per_tick_monotonic_per_core_including_jitter(world: World) -> None:
    prev = world.snapshot(T0).host.cpu_seconds
    for n in range(T0 + 1, T0 + 400):
        cur = world.snapshot(n).host.cpu_seconds
        assert np.all(cur >= prev)
        prev = cur


def test_cpu_follows_the_daily_cycle(world: World) -> None:
    day0 = T0 - T0 % 86_400
    def busy_rate(hour: int) -> float:
        a, b = world.snapshot(day0 + hour * 3600), world.snapshot(day0 + hour * 3600 + 600)
        idle = CPU_MODES.index("idle")
        d = b.host.cpu_seconds - a.host.cpu_seconds
        return 1 - d[:, idle].sum() / d.sum()
    night, afternoon = busy_rate(3), busy_rate(15)
    assert afternoon > night + 0.05  # afternoon peak vs night trough (vLLM engines keep some CPU busy all day)
    assert 0.15 < night and afternoon < 0.45


def test_load_average_tracks_busy_cpus(world: World, settings: config.Settings) -> None:
    s = world.snapshot(T0)
    assert 0.1 * settings.host.cpus < s.host.load[0] < 0.6 * settings.host.cpus


def test_a_simulated_day_runs_in_seconds(settings: config.Settings) -> None:
    """A day of the whole server (24 blocks, a reading every 15 minutes) on a SimClock, no waiting: a bound ten
    times what it takes (~3 s here), against waiting on the clock, not a benchmark (see benchmarks/)."""
    w = World(settings, Timeline.constant("normal", {}))
    w.snapshot(T0)  # history from boot is computed once at start
    start = time.perf_counter()
    for n in range(T0, T0 + 86_400, 900):
        w.snapshot(n)
    assert time.perf_counter() - start < 30.0


def test_a_scenario_switch_keeps_the_past_and_counters_monotonic(world: World) -> None:
    before = world.snapshot(T0 + 10)
    tl = world.timeline.then(Segment("busy", T0 + 11.0, {"host.cpu_busy": 0.8, "load.activity": 1.0}, ramp_s=30))
    world.set_timeline(tl, T0 + 11)
    assert world.snapshot(T0 + 10).host.counters == before.host.counters
    prev = before
    for n in range(T0 + 11, T0 + 200):
        cur = world.snapshot(n)
        assert np.all(cur.host.cpu_seconds >= prev.host.cpu_seconds)
        prev = cur
    d = prev.host.cpu_seconds - world.snapshot(T0 + 140).host.cpu_seconds
    assert 1 - d[:, CPU_MODES.index("idle")].sum() / d.sum() > 0.6
    assert prev.scenario == "busy"


@pytest.mark.parametrize("tick_s", [1.0, 15.0])
def test_tick_grid_is_aligned_to_the_epoch(tick_s: float) -> None:
    w = World(config.load(tick_s=tick_s), Timeline.constant("normal", {}))
    n = w.tick_at(T0 + 0.7 * tick_s)
    assert n * tick_s == pytest.approx(T0 - T0 % tick_s)

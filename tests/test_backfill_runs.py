"""Backfill by runs of steps: every family computed once per run equals the same family computed step by step.

The step-by-step values are what a live scrape serves (``Family.points`` on ``World.snapshot``); the run's come from
one snapshot whose numbers hold every step (``World.snapshot_run``). Equal means the same series and the same
float64 bits. ``test_families_compute_by_runs`` also asserts that no family needs single steps in a quiet run: code
not written for runs would still be right (it falls back) but slow.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from otelmock import backfill as bf
from otelmock import config
from otelmock.exporters import EXPORTERS
from otelmock.scenario.loader import discover
from otelmock.vec import ticks
from otelmock.world.identity import derive_host

STEPS = 40


def _start(hours_after_boot: float = 1.0) -> float:
    boot = derive_host(config.load()).boot_time(1_767_225_600.0)
    return boot - boot % 15 + 3600 * hours_after_boot


def _worker(exporter: str | tuple[str, ...], scenario: str, start: float, step_s: float = 15.0) -> bf._Worker:
    settings = config.load(None, None, scenario=scenario)
    timeline = bf.schedule(scenario, discover(), start, settings.params)
    exporters = (exporter,) if isinstance(exporter, str) else exporter
    sources = bf._plan(settings, exporters, bf.target_labels(settings, exporters))
    return bf._Worker(settings, timeline, sources, start, step_s)


def _by_key(chunk: bf.Chunk) -> dict[bf.Key, np.ndarray]:
    _, _, keys, vals = chunk
    return {k: vals[j].view(np.uint64) for j, k in enumerate(keys)}


def _step_by_step(worker: bf._Worker, n: int) -> dict[bf.Key, np.ndarray]:
    parts: list[tuple[int, list[int], np.ndarray]] = []
    for i in range(n):
        worker._fill(parts, list(range(len(worker.sources))), i, i + 1)
    out = np.full((len(worker.keys), n), bf.ABSENT)
    for i0, cols, vals in parts:
        out[cols, i0: i0 + vals.shape[1]] = vals
    return {k: out[j].view(np.uint64) for j, k in enumerate(worker.keys)}


def unvectorised(worker: bf._Worker, a: int, b: int) -> list[tuple[str, str]]:
    """(family, error) of every family that cannot be computed over steps ``a`` .. ``b - 1`` at once."""
    snap = worker._run(a, b)
    out = []
    for src in worker.sources:
        try:
            for _, _, v in worker._points(src, snap, ticks(np.arange(a, b))):
                np.broadcast_to(v, (b - a,))
        except Exception as exc:
            out.append((src.family.name, f"{type(exc).__name__}: {exc}"))
    return out


@pytest.mark.parametrize("exporter", list(EXPORTERS))
@pytest.mark.parametrize("scenario,hours", [("normal", 1.0), ("high_load", 5.0), ("degraded", 9.0)])
def test_runs_equal_single_steps(exporter: str, scenario: str, hours: float) -> None:
    start = _start(hours)
    runs = _by_key(_worker(exporter, scenario, start).chunk((0, STEPS)))
    single = _step_by_step(_worker(exporter, scenario, start), STEPS)
    assert runs.keys() == single.keys()
    differ = [k for k in runs if not np.array_equal(runs[k], single[k])]
    assert not differ, f"{len(differ)} series differ, e.g. {differ[0]}"


@pytest.mark.parametrize("exporter", list(EXPORTERS))
def test_families_compute_by_runs(exporter: str) -> None:
    worker = _worker(exporter, "normal", _start())
    assert unvectorised(worker, 0, STEPS) == []


def test_crash_loop_splits_only_the_serving_families() -> None:
    """Every exporter in one worker, degraded: the node families are computed over the whole range at once
    (a host-only snapshot), the others split first where containers change (``World.run_cuts``); the values are
    the single steps' and the only single steps left are the parts of one step between two changes."""
    start = _start(9.0)
    worker = _worker(tuple(EXPORTERS), "degraded", start)
    runs = _by_key(worker.chunk((0, STEPS)))
    single = _step_by_step(_worker(tuple(EXPORTERS), "degraded", start), STEPS)
    assert runs.keys() == single.keys()
    assert not [k for k in runs if not np.array_equal(runs[k], single[k])]
    edges = [0, *worker.world.run_cuts(worker._ticks(0, STEPS)), STEPS]
    assert len(edges) > 4  # containers did change
    ones = sum(b - a == 1 for a, b in pairwise(edges))
    assert worker.fallbacks == ones * sum(src.serving for src in worker.sources)
    assert not all(src.serving for src in worker.sources)

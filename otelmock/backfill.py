"""Backfill: the history every mock exporter would have served, as OpenMetrics for ``promtool`` or as Prometheus
blocks (``--tsdb-dir``).

``promtool tsdb create-blocks-from openmetrics FILE DIR`` turns the OpenMetrics into Prometheus blocks. Values
come from the same family tables as the live exporters (``Family.points``, what ``ExporterMeters.samples()``
collects), without the OpenTelemetry SDK: rendering through the SDK costs ~0.6 s per step for the five exporters,
far too slow for 40k steps. They are computed a run of steps at a time (:class:`_Worker`), and the blocks of
``--tsdb-dir`` written while later steps are computed (:class:`_BlockWriter`). The file is one OpenMetrics exposition:
each family once (families of the same name from several exporters merged; prometheus_client's ``x_created``
gauges become the ``_created`` samples of their counter or histogram), each series' samples contiguous and in
time order, so the whole range is held in memory first (8 bytes per sample) and written family by family.

Series get the labels Prometheus would have attached when scraping: ``job`` (the exporter's conventional job
name) and ``instance`` (``host:port``); empty label values are left out, as a scrape drops them.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from multiprocessing import get_context
from queue import Empty
from typing import Any, TextIO

import numpy as np

from otelmock.bridge.otel import sample_labels
from otelmock.bridge.textformat import dcgm_value, escape_label
from otelmock.config import Settings
from otelmock.errors import ConfigError
from otelmock.exporters import EXPORTERS
from otelmock.exporters.base import Family, Process, Sample
from otelmock.scenario.loader import Scenario
from otelmock.scenario.timeline import Segment, Timeline
from otelmock.vec import NotUniform, ticks
from otelmock.world.model import World, block_ticks
from otelmock.world.snapshot import Snapshot

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]   # (phase "compute" | "write", done, total)
Key = tuple[int, str, tuple[str, ...]]       # (source index, suffix, label values)
ABSENT_BITS = 0x7FF8_DEAD_BEEF_0001          # a NaN payload no computation produces: "no sample at this step"
ABSENT = struct.unpack("<d", struct.pack("<Q", ABSENT_BITS))[0]
CHUNK_S = 3600.0                             # steps are computed (and handed between processes) an hour at a time
_CREATED_PEERS = ("counter", "histogram", "summary")  # families whose x_created gauge joins them


def parse_duration(text: str) -> float:
    """``15s``, ``5m``, ``2h``, ``7d``, ``1w`` or plain seconds."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 604_800.0}
    text = text.strip()
    scale = units.get(text[-1:], 1.0)
    try:
        value = float(text[:-1] if text[-1:] in units else text) * scale
    except ValueError:
        raise ValueError(f"{text!r} is not a duration (e.g. 15s, 5m, 2h, 7d)") from None
    if value <= 0:
        raise ValueError(f"{text!r}: a duration must be positive")
    return value


def schedule(spec: str, scenarios: Mapping[str, Scenario], start_t: float, extra: Mapping[str, float],
             ramp_s: float = 300.0) -> Timeline:
    """A timeline from ``NAME[,NAME@OFFSET...]`` (offsets from ``start_t``, e.g. ``normal,high_load@2d``)."""
    timeline: Timeline | None = None
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name, _, at = part.partition("@")
        if name not in scenarios:
            raise ValueError(f"scenario {name!r} not found (available: {', '.join(sorted(scenarios))})")
        params = {**scenarios[name].params, **extra}
        if timeline is None:
            timeline = Timeline.constant(name, params)
        else:
            timeline = timeline.then(Segment(name, start_t + (parse_duration(at) if at else 0.0), params, ramp_s))
    if timeline is None:
        raise ValueError("no scenario given")
    return timeline


def target_labels(settings: Settings, exporters: Iterable[str], host: str = "localhost",
                  extra: Mapping[str, str] | None = None, jobs: Mapping[str, str] | None = None,
                  ) -> dict[str, dict[str, str]]:
    """The labels a Prometheus scrape attaches per exporter: ``job``, ``instance`` = host:port, then ``extra``."""
    return {e: {"job": (jobs or {}).get(e, e), "instance": f"{host}:{getattr(settings.ports, e)}", **(extra or {})}
            for e in exporters}


@dataclass
class _OmFamily:
    name: str
    type: str
    help: str
    groups: dict[tuple[str, tuple[str, ...]], list[int]] = field(default_factory=dict)


@dataclass
class _Source:
    """One family-table row of one exporter, as written into an OpenMetrics family."""

    exporter: str
    family: Family
    om: _OmFamily
    target: str                 # rendered target labels
    taken: frozenset[str]       # their names: a family label of the same name becomes exported_<name>
    dcgm: bool
    target_labels: tuple[tuple[str, str], ...] = ()
    serving: bool = True        # reads the serving side (else a host-only snapshot will do)


def _om_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _plan(settings: Settings, exporters: Sequence[str], targets: Mapping[str, Mapping[str, str]]) -> list[_Source]:
    tables = {e: EXPORTERS[e].families(settings) for e in exporters}
    real = {f.name for fams in tables.values() for f in fams}
    oms: dict[str, _OmFamily] = {}
    out: list[_Source] = []
    for e, fams in tables.items():
        tl = targets.get(e, {})
        target = ",".join(f'{k}="{escape_label(v)}"' for k, v in tl.items() if v)
        for f in fams:
            base = f.name.removesuffix("_created")
            peer = oms.get(base)
            if f.type == "gauge" and base != f.name and peer is not None and peer.type in _CREATED_PEERS:
                om = peer  # prometheus_client's x_created gauge: the _created samples of the counter x
            else:
                name, typ = f.name, {"untyped": "unknown"}.get(f.type, f.type)
                if typ == "counter":
                    stem = f.name.removesuffix("_total")
                    ok = stem != f.name and stem not in real
                    name, typ = (stem, "counter") if ok else (f.name, "unknown")
                om = oms.setdefault(name, _OmFamily(name, typ, _om_help(f.help)))
            out.append(_Source(e, f, om, target, frozenset(tl), EXPORTERS[e].dialect == "dcgm",
                               tuple((k, v) for k, v in tl.items() if v), not EXPORTERS[e].host_only))
    return out


# --- computing: a worker's state and one chunk of steps ------------------------------------------------------------
Chunk = tuple[int, int, list[Key], np.ndarray]   # (pid, first step, keys new since the worker's last chunk,
#                                                    values (series, steps))


class _Worker:
    """One process's world and series index; :meth:`chunk` computes a range of steps.

    A range is computed a run of steps at a time (``World.snapshot_run``): each family is evaluated
    once on the run's snapshot, whose numbers hold every step. A family that cannot (a label or a series set changes
    within the run, or its code is not written for runs) is evaluated on two parts, split at the first step that
    differs (or in halves), down to single steps, which are computed exactly as a live scrape computes them.
    """

    def __init__(self, settings: Settings, timeline: Timeline, sources: list[_Source], start_t: float,
                 step_s: float) -> None:
        self.world = World(settings, timeline)
        self.sources, self.start_t, self.step_s = sources, start_t, step_s
        self.procs = {s.exporter: Process(start_time=start_t) for s in sources}
        self.index: dict[Key, int] = {}
        self.keys: list[Key] = []
        self.sent = 0
        self.fallbacks = 0          # (family, step) pairs computed one step at a time
        self._snaps: dict[int, Snapshot] = {}

    def column(self, key: Key) -> int:
        col = self.index.get(key)
        if col is None:
            col = self.index[key] = len(self.keys)
            self.keys.append(key)
        return col

    def _snap(self, i: int) -> Snapshot:
        snap = self._snaps.get(i)
        if snap is None:
            snap = self._snaps[i] = self.world.snapshot(self.world.tick_at(self.start_t + i * self.step_s))
        return snap

    def _ticks(self, a: int, b: int) -> np.ndarray:
        return np.array([self.world.tick_at(self.start_t + i * self.step_s) for i in range(a, b)])

    def _run(self, a: int, b: int, serving: bool = True) -> Snapshot:
        """Steps ``a`` .. ``b - 1`` as one snapshot (NotUniform if they differ in more than values); the host's
        only when not ``serving``."""
        return self.world.snapshot_run(self._ticks(a, b), serving)

    def _points(self, src: _Source, snap: Snapshot, scrapes: Any) -> list[Sample]:
        proc = self.procs[src.exporter]
        proc.scrapes["200"] = scrapes  # the scrapes before this one, as promhttp counts them
        return list(src.family.points(snap, proc))

    def _single(self, si: int, i: int) -> list[Sample]:
        src = self.sources[si]
        try:
            return self._points(src, self._snap(i), i)
        except Exception:  # as ExporterMeters.samples(): a broken family is left out of this step
            log.exception("%s: family %s failed at step %d", src.exporter, src.family.name, i)
            return []

    def _fill(self, parts: list[tuple[int, list[int], np.ndarray]], todo: list[int], a: int, b: int) -> None:
        """Families ``todo`` over steps ``a`` .. ``b - 1``: appends (first step, columns, values (columns, steps))."""
        if b - a == 1:
            self.fallbacks += len(todo)
            for si in todo:
                points = self._single(si, a)
                if points:
                    parts.append((a, [self.column((si, sfx, lv)) for sfx, lv, _ in points],
                                  np.array([[v] for _, _, v in points], dtype=np.float64)))
            return
        failed, cuts = [], []
        try:
            snap = self._run(a, b, any(self.sources[si].serving for si in todo))
        except NotUniform as exc:
            failed, cuts = todo, [exc.at]
        else:
            steps = ticks(np.arange(a, b))
            for si in todo:
                try:
                    points = self._points(self.sources[si], snap, steps)
                    vals = np.empty((len(points), b - a))
                    for j, (_, _, v) in enumerate(points):
                        vals[j] = v  # a constant or one value per step (anything else raises)
                except Exception as exc:  # NotUniform, or code not written for runs
                    failed.append(si)
                    cuts.append(exc.at if isinstance(exc, NotUniform) else None)
                    continue
                if points:
                    parts.append((a, [self.column((si, sfx, lv)) for sfx, lv, _ in points], vals))
        if failed:  # split where the first change is (as far as it is known), else in halves
            mid = a + min((c for c in cuts if c), default=(b - a) // 2)
            self._fill(parts, failed, a, mid)
            self._fill(parts, failed, mid, b)

    def chunk(self, bounds: tuple[int, int]) -> Chunk:
        a, b = bounds
        parts: list[tuple[int, list[int], np.ndarray]] = []
        host = [si for si, src in enumerate(self.sources) if not src.serving]
        if host:  # the host's families over the whole range, wherever containers change
            self._fill(parts, host, a, b)
        rest = [si for si, src in enumerate(self.sources) if src.serving]
        if rest:  # the others split first where the serving side changes (a crash loop: every few steps)
            edges = [a, *(a + c for c in self.world.run_cuts(self._ticks(a, b))), b]
            for x, y in pairwise(edges):
                self._fill(parts, rest, x, y)
        self._snaps.clear()
        out = np.full((len(self.keys), b - a), ABSENT)
        for i0, cols, vals in parts:
            out[cols, i0 - a: i0 - a + vals.shape[1]] = vals
        new, self.sent = self.keys[self.sent:], len(self.keys)
        return os.getpid(), a, new, out


class _Keys:
    """The series seen so far, one row each, and which row each worker's columns are."""

    def __init__(self) -> None:
        self.keys: list[Key] = []
        self.col: dict[Key, int] = {}
        self.workers: dict[int, list[int]] = {}

    def rows(self, pid: int, new: list[Key]) -> list[int]:
        rows = self.workers.setdefault(pid, [])
        for k in new:
            r = self.col.get(k)
            if r is None:
                r = self.col[k] = len(self.keys)
                self.keys.append(k)
            rows.append(r)
        return rows


class _Store:
    """Values of steps ``first`` .. ``first + n - 1``, one row per series of ``keys``. Rows are reserved ahead
    (untouched memory costs nothing) and filled with ABSENT when their series first appears, so a new series never
    copies the store."""

    def __init__(self, keys: _Keys, n_steps: int, first: int = 0) -> None:
        self.keys, self.n, self.first = keys, n_steps, first
        self.vals = np.empty((0, n_steps))
        self.filled = 0     # rows set to ABSENT so far
        self.steps = 0      # steps put so far

    def put(self, rows: list[int], i0: int, vals: np.ndarray) -> None:
        self._fill()
        k, steps = vals.shape
        i0 -= self.first
        if rows[k - 1] - rows[0] == k - 1 and rows[:k] == list(range(rows[0], rows[0] + k)):
            self.vals[rows[0]: rows[0] + k, i0: i0 + steps] = vals  # the usual case: a plain copy
        else:
            self.vals[rows[:k], i0: i0 + steps] = vals
        self.steps += steps

    def values(self) -> np.ndarray:
        """(series, steps): every series seen so far (ABSENT where it has no sample)."""
        self._fill()
        return self.vals[: self.filled]

    def _fill(self) -> None:
        need = len(self.keys.keys)
        if need > self.vals.shape[0]:
            grown = np.empty((max(need + need // 4, 2 * self.vals.shape[0]), self.n))
            grown[: self.filled] = self.vals[: self.filled]
            self.vals = grown
        self.vals[self.filled: need] = ABSENT
        self.filled = need


# --- writing ---------------------------------------------------------------------------------------------------------
def _om_float(v: float) -> str:
    if v != v:
        return "NaN"
    return "+Inf" if v == float("inf") else "-Inf" if v == float("-inf") else repr(v)


def _strings(col: np.ndarray, present: np.ndarray, src: _Source) -> np.ndarray:
    """Each present value as text (an object array, "" where absent); every distinct value is formatted once."""
    uniq, inv = np.unique(col[present], return_inverse=True)
    if src.dcgm:  # dcgm-exporter's %d / %f: Prometheus stores the rounded value, so the backfill writes it too
        text = [dcgm_value(v, src.family.int_format) for v in uniq.tolist()]
    else:  # shortest round-trip text: the same float64 client_golang and prometheus_client write
        text = list(map(_om_float, uniq.tolist()))
    out = np.full(col.shape, "", dtype=object)
    out[present] = np.array(text, dtype=object)[inv]
    return out


def _group_text(rows: list[int], store: _Store, sources: list[_Source], ts: np.ndarray) -> tuple[str, int]:
    """One group's samples, time-major: at each step every series of the group (buckets, _count, _sum ...)."""
    parts = np.empty((store.n, len(rows), 3), dtype=object)
    written = 0
    for j, r in enumerate(rows):
        si, suffix, lv = store.keys.keys[r]
        col = store.vals[r]
        present = col.view(np.uint64) != ABSENT_BITS
        parts[:, j, 0] = _prefix(sources[si], suffix, lv)
        parts[:, j, 1] = _strings(col, present, sources[si])
        parts[:, j, 2] = ts
        if not present.all():
            parts[~present, j, :] = ""
        written += int(np.count_nonzero(present))
    return "".join(parts.ravel().tolist()), written


def _label_names(src: _Source, suffix: str) -> tuple[str, ...]:
    return tuple(f"exported_{n}" if n in src.taken else n for n in sample_labels(src.family, suffix))


def _prefix(src: _Source, suffix: str, lv: tuple[str, ...]) -> str:
    pairs = [f'{n}="{escape_label(v)}"' for n, v in zip(_label_names(src, suffix), lv, strict=True) if v]
    labels = ",".join(filter(None, (",".join(pairs), src.target)))
    return f"{src.family.name}{suffix}{{{labels}}} " if labels else f"{src.family.name}{suffix} "


def _write(out: TextIO, store: _Store, sources: list[_Source], times: np.ndarray, progress: Progress) -> int:
    whole = bool(np.all(times == np.round(times)))
    ts = np.array([f" {int(t)}\n" if whole else f" {t!r}\n" for t in times.tolist()], dtype=object)
    store.values()
    for r, (si, _, lv) in enumerate(store.keys.keys):
        src = sources[si]
        src.om.groups.setdefault((src.exporter, lv[: len(src.family.labels)]), []).append(r)
    families = list({id(s.om): s.om for s in sources if s.om.groups}.values())
    written = 0
    for done, fam in enumerate(families):
        out.write(f"# HELP {fam.name} {fam.help}\n# TYPE {fam.name} {fam.type}\n")
        for rows in fam.groups.values():
            text, n = _group_text(rows, store, sources, ts)
            out.write(text)
            written += n
        progress("write", done + 1, len(families))
    out.write("# EOF\n")
    return written


# --- writing Prometheus blocks directly ------------------------------------------------------------------------------
GO_NAN_BITS = 0x7FF8_0000_0000_0001  # Go's math.NaN(): what Prometheus stores for a "NaN" it parsed


def _as_parsed(keys: Sequence[Key], vals: np.ndarray, sources: list[_Source]) -> np.ndarray:
    """The values (series, steps) as Prometheus stores them after parsing the text, in place: dcgm-exporter's
    %d / %f rounding, Go's NaN."""
    bits = vals.view(np.uint64)
    for r, (si, _, _) in enumerate(keys):
        src, row, rbits = sources[si], vals[r], bits[r]
        present = rbits != np.uint64(ABSENT_BITS)
        if src.dcgm:
            uniq, inv = np.unique(row[present], return_inverse=True)
            row[present] = np.array([float(dcgm_value(v, src.family.int_format)) for v in uniq.tolist()])[inv]
        rbits[present & np.isnan(row)] = np.uint64(GO_NAN_BITS)
    return vals


def _tsdb_labels(keys: Sequence[Key], sources: list[_Source]) -> list[dict[str, str]]:
    """Each series' labels as a scrape stores them: the sample name, its labels (empty ones dropped), the target's."""
    out = []
    for si, suffix, lv in keys:
        src = sources[si]
        labels = {n: v for n, v in zip(_label_names(src, suffix), lv, strict=True) if v}
        labels.update(src.target_labels)
        labels["__name__"] = src.family.name + suffix
        out.append(labels)
    return out


def block_hours(span_s: float) -> int:
    """Block length for a history of ``span_s``: 2h x 3^k as Prometheus compacts, at most 486h (20 days)."""
    hours = 2
    while hours * 3600 < span_s and hours < 486:
        hours *= 3
    return hours


def tsdb_block_hours(span_s: float) -> int:
    """Block length of ``--tsdb-dir``: as :func:`block_hours`, at most 18 h. Each block is written as soon as its
    steps are computed, so memory holds a block or two, not the whole history."""
    return min(block_hours(span_s), 18)


class _BlockWriter:
    """Receives chunks of steps and writes each block-aligned window's block (:mod:`otelmock.tsdb`) once all its
    steps have arrived, as promtool would write it."""

    def __init__(self, out_dir: str, keys: _Keys, sources: list[_Source], times: np.ndarray, block_ms: int) -> None:
        self.out_dir, self.keys, self.sources, self.block_ms = out_dir, keys, sources, block_ms
        self.times_ms = np.round(times * 1000).astype(np.int64)
        window = self.times_ms // block_ms
        cuts = np.flatnonzero(np.r_[True, window[1:] != window[:-1], True]).tolist()
        self.windows = list(zip(cuts[:-1], cuts[1:], strict=True))
        self.open: dict[int, _Store] = {}
        self.samples, self.seconds = 0, 0.0

    def put(self, pid: int, i0: int, new: list[Key], vals: np.ndarray) -> None:
        rows = self.keys.rows(pid, new)
        w = int(np.searchsorted([a for a, _ in self.windows], i0, side="right")) - 1
        a, b = self.windows[w]
        store = self.open.get(w)
        if store is None:
            store = self.open[w] = _Store(self.keys, b - a, a)
        store.put(rows, i0, vals)
        if store.steps == b - a:
            del self.open[w]
            self._write(store)

    def _write(self, store: _Store) -> None:
        from otelmock.tsdb import write_blocks

        c = time.perf_counter()
        vals = store.values()
        rows = np.flatnonzero((vals.view(np.uint64) != np.uint64(ABSENT_BITS)).any(axis=1))
        keys = [self.keys.keys[r] for r in rows.tolist()]
        vals = _as_parsed(keys, vals[rows], self.sources)
        write_blocks(self.out_dir, _tsdb_labels(keys, self.sources), self.times_ms[store.first: store.first + store.n],
                     vals, ABSENT_BITS, self.block_ms, like_promtool=True)
        self.samples += int(np.count_nonzero(vals.view(np.uint64) != np.uint64(ABSENT_BITS)))
        self.seconds += time.perf_counter() - c


def _work(queue: Any, args: tuple[Settings, Timeline, list[_Source], float, float],
          bounds: list[tuple[int, int]]) -> None:
    worker = _Worker(*args)
    for b in bounds:
        queue.put(worker.chunk(b))


def _results(args: tuple[Settings, Timeline, list[_Source], float, float], bounds: list[tuple[int, int]],
             workers: int) -> Iterator[Chunk]:
    """Chunk results; with several workers each takes a contiguous share (one cold start each) in a forked process."""
    workers = max(1, min(workers, len(bounds)))
    if workers == 1:
        yield from map(_Worker(*args).chunk, bounds)
        return
    ctx = get_context("fork")
    queue = ctx.Queue(maxsize=4 * workers)
    share = -(-len(bounds) // workers)
    procs = [ctx.Process(target=_work, args=(queue, args, bounds[w * share:(w + 1) * share]), daemon=True)
             for w in range(workers)]
    for p in procs:
        p.start()
    try:
        for _ in bounds:
            while True:
                try:
                    yield queue.get(timeout=5)
                    break
                except Empty:
                    if any(p.exitcode not in (None, 0) for p in procs):
                        raise RuntimeError("a backfill worker died") from None
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join()


def _chunks(n: int, start_t: float, step_s: float, tick_s: float,
            windows: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Ranges of steps computed together: at most ``CHUNK_S`` long, never across a world block (which a run of steps
    cannot span) nor the start of one of ``windows``."""
    per = max(1, int(CHUNK_S // step_s))
    ticks = np.floor((start_t + step_s * np.arange(n)) / tick_s + 1e-9).astype(np.int64)
    blocks = ticks // block_ticks(tick_s)
    cuts = sorted({0, n, *(np.flatnonzero(np.diff(blocks)) + 1).tolist(), *(a for a, _ in windows)})
    return [(i, min(i + per, b)) for a, b in pairwise(cuts) for i in range(a, b, per)]


# --- the whole run ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stats:
    steps: int
    series: int
    samples: int
    compute_s: float    # until the last step was computed
    write_s: float      # after that
    writing_s: float    # all the writing (blocks: most of it while computing)

    @property
    def samples_per_s(self) -> float:
        return self.samples / max(self.compute_s + self.write_s, 1e-9)


def _quiet(phase: str, done: int, total: int) -> None:
    pass


def backfill(settings: Settings, scenarios: Mapping[str, Scenario], start_t: float, end_t: float, step_s: float,
             out: TextIO | None, exporters: Sequence[str] | None = None, progress: Progress | None = None, *,
             timeline: Timeline | None = None, targets: Mapping[str, Mapping[str, str]] | None = None,
             workers: int = 1, tsdb_dir: str | None = None, block_hours: int | None = None) -> Stats:
    """Write every step ``start_t + i * step_s <= end_t`` of ``exporters`` as one OpenMetrics exposition, or with
    ``tsdb_dir`` as Prometheus blocks in that folder (``out`` unused), ``block_hours`` long (default
    :func:`tsdb_block_hours`), each written while the later steps are computed.

    ``timeline`` defaults to ``settings.scenario`` held throughout; ``targets`` (exporter -> labels) defaults to
    :func:`target_labels` (``{}``: none). ``workers`` > 1 shares the steps among forked processes.
    """
    exporters = tuple(exporters or EXPORTERS)
    if step_s <= 0 or end_t < start_t:
        raise ValueError(f"empty range: start {start_t}, end {end_t}, step {step_s}")
    progress = progress or _quiet
    if timeline is None:
        timeline = schedule(settings.scenario, scenarios, start_t, settings.params)
    sources = _plan(settings, exporters, target_labels(settings, exporters) if targets is None else targets)
    n = int(np.floor((end_t - start_t) / step_s + 1e-9)) + 1
    bounds = _chunks(n, start_t, step_s, settings.tick_s)
    times = start_t + step_s * np.arange(n)
    keys = _Keys()
    if tsdb_dir is not None:
        hours = tsdb_block_hours(times[-1] - times[0]) if block_hours is None else block_hours
        sink = _BlockWriter(tsdb_dir, keys, sources, times, hours * 3_600_000)
        bounds = _chunks(n, start_t, step_s, settings.tick_s, sink.windows)
    done = 0
    t0 = time.perf_counter()
    store = _Store(keys, n)
    for pid, i0, new, vals in _results((settings, timeline, sources, start_t, step_s), bounds, workers):
        if tsdb_dir is None:
            store.put(keys.rows(pid, new), i0, vals)
        else:
            sink.put(pid, i0, new, vals)
        done += vals.shape[1]
        progress("compute", done, n)
    t1 = time.perf_counter()
    if tsdb_dir is not None:
        written, wrote_s = sink.samples, sink.seconds
    else:
        assert out is not None
        written = _write(out, store, sources, times, progress)
        out.flush()
        wrote_s = time.perf_counter() - t1
    return Stats(n, len(keys.keys), written, t1 - t0, time.perf_counter() - t1, wrote_s)


# --- promtool and the command line -----------------------------------------------------------------------------------
def run_promtool(path: str, out_dir: str, span_s: float) -> float:
    """``promtool tsdb create-blocks-from openmetrics`` on ``path``; returns its wall time in seconds.

    promtool reads the whole file once per block; blocks as long as the range (2h x 3^k, at most 486h) keep that
    to one or two passes.
    """
    exe = shutil.which("promtool")
    if exe is None:
        raise FileNotFoundError("promtool is not on the PATH")
    hours = block_hours(span_s)
    t0 = time.perf_counter()
    subprocess.run([exe, "tsdb", "create-blocks-from", "openmetrics", f"--max-block-duration={hours}h", "--quiet",
                    path, out_dir], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


class StderrProgress:
    """Progress on stderr: a line every few seconds (or in place on a terminal)."""

    def __init__(self, every_s: float = 2.0) -> None:
        self.every, self.last, self.t0 = every_s, 0.0, time.perf_counter()
        self.tty = sys.stderr.isatty()

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self.last < self.every and done < total:
            return
        self.last = now
        eta = (now - self.t0) / max(done, 1) * (total - done)
        what = "steps computed" if phase == "compute" else "families written"
        end = "\r" if self.tty and done < total else "\n"
        print(f"backfill: {done}/{total} {what} ({100 * done / max(total, 1):.0f}%), ETA {eta:.0f}s", end=end,
              file=sys.stderr, flush=True)
        if done == total:
            self.t0 = now


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``otelmock backfill``: registered by the CLI (``cmd`` runs it)."""
    p = sub.add_parser("backfill", parents=[common], help="write the history every exporter would have served, "
                       "as OpenMetrics for promtool tsdb create-blocks-from openmetrics")
    p.add_argument("--days", type=float, default=1.0, help="length of the history ending at --end (default 1)")
    p.add_argument("--end", help="end of the history: Unix seconds or ISO 8601 (default: now)")
    p.add_argument("--step", default="15s", help="scrape interval to simulate (default 15s)")
    p.add_argument("--out", default="-", help="output file (default: stdout)")
    p.add_argument("--exporters", default="all", help="comma-separated exporters (default: all)")
    p.add_argument("--instance-host", default="localhost",
                   help="host part of the instance label, as in your scrape config (default localhost)")
    p.add_argument("--job", action="append", default=[], metavar="EXPORTER=JOB", help="job name for an exporter")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="extra label on every series")
    p.add_argument("--no-target-labels", action="store_true", help="leave out job and instance")
    p.add_argument("--workers", type=int, default=max(1, min(4, (os.cpu_count() or 1) - 1)),
                   help="processes computing steps (default: CPUs - 1, at most 4)")
    p.add_argument("--promtool-dir", help="also run promtool tsdb create-blocks-from openmetrics into this folder")
    p.add_argument("--tsdb-dir", help="write Prometheus blocks straight into this folder instead of OpenMetrics "
                   "(no promtool needed: the blocks promtool would make from the OpenMetrics)")
    return p


def _pairs(items: Sequence[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise ValueError(f"{what}: {item!r} is not KEY=VALUE")
        out[k.strip()] = v.strip()
    return out


def settings_for(args: argparse.Namespace) -> Settings:
    """The settings of a backfill or preview: the first scenario of ``--scenario``'s schedule, ``--seed``."""
    from otelmock import config

    spec = args.scenario or ""
    overrides = {k: v for k, v in (("scenario", spec.split(",")[0].split("@")[0] or None), ("seed", args.seed))
                 if v is not None}
    return config.load(args.config, None, **overrides)


def _report(stats: Stats, end: str) -> None:
    print(f"backfill: {stats.samples} samples of {stats.series} series over {stats.steps} steps in "
          f"{stats.compute_s + stats.write_s:.1f}s ({stats.samples_per_s:,.0f} samples/s{end}", file=sys.stderr)


def cmd(args: argparse.Namespace) -> int:
    from otelmock.cli import parse_time
    from otelmock.scenario.loader import discover

    spec = args.scenario or ""
    settings = settings_for(args)
    try:
        step = parse_duration(args.step)
        end = parse_time(args.end) if args.end else time.time()
        end -= end % step
        start = end - args.days * 86_400.0
        exporters = tuple(EXPORTERS) if args.exporters == "all" else tuple(args.exporters.split(","))
        unknown = [e for e in exporters if e not in EXPORTERS]
        if unknown:
            raise ValueError(f"--exporters: unknown {unknown[0]!r} (available: {', '.join(EXPORTERS)})")
        scenarios = discover(settings.scenarios_dir)
        timeline = schedule(spec or settings.scenario, scenarios, start, settings.params)
        targets = {} if args.no_target_labels else target_labels(
            settings, exporters, args.instance_host, _pairs(args.label, "--label"), _pairs(args.job, "--job"))
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise ConfigError(str(exc)) from None
    if args.tsdb_dir:
        if args.promtool_dir or args.out != "-":
            raise ConfigError("--tsdb-dir writes blocks itself: leave out --out and --promtool-dir")
        try:
            stats = backfill(settings, scenarios, start, end, step, None, exporters, StderrProgress(),
                             timeline=timeline, targets=targets, workers=args.workers, tsdb_dir=args.tsdb_dir)
        except ValueError as exc:  # e.g. two exporters' process_* series alike once job/instance are left out
            raise ConfigError(f"--tsdb-dir {args.tsdb_dir}: {exc}") from None
        _report(stats, f"; blocks written in {stats.writing_s:.1f}s, {stats.write_s:.1f}s of it after the last step "
                f"was computed) -> {args.tsdb_dir}")
        return 0
    path = args.out
    if args.promtool_dir and path == "-":
        fd, path = tempfile.mkstemp(suffix=".om", prefix="otelmock-backfill-")
        os.close(fd)
    out = sys.stdout if path == "-" else open(path, "w", encoding="utf-8", buffering=1 << 20)
    try:
        stats = backfill(settings, scenarios, start, end, step, out, exporters, StderrProgress(),
                         timeline=timeline, targets=targets, workers=args.workers)
    finally:
        if out is not sys.stdout:
            out.close()
    _report(stats, ")")
    if args.promtool_dir:
        took = run_promtool(path, args.promtool_dir, end - start)
        print(f"backfill: promtool tsdb create-blocks-from openmetrics took {took:.1f}s -> {args.promtool_dir}",
              file=sys.stderr)
        if args.out == "-":
            os.unlink(path)
    return 0


def main_backfill(argv: Sequence[str] | None = None) -> int:
    """``otelmock backfill`` on its own (``python -m otelmock.backfill ...``)."""
    from otelmock.errors import OtelmockError

    parser = argparse.ArgumentParser(prog="otelmock")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config")
    common.add_argument("--scenario", help="NAME or a schedule NAME,NAME@OFFSET,... (e.g. normal,high_load@2d)")
    common.add_argument("--seed", type=int)
    add_parser(parser.add_subparsers(dest="command", required=True), common)
    args = parser.parse_args(["backfill", *(sys.argv[1:] if argv is None else argv)])
    try:
        return cmd(args)
    except (OtelmockError, FileNotFoundError, subprocess.CalledProcessError) as exc:
        print(f"otelmock: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main_backfill())

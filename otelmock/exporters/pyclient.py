"""prometheus_client's text format 0.0.4 in the table vocabulary: what vLLM and LiteLLM really print.

``generate_latest`` (prometheus_client 0.20-0.26, ``exposition.py``) writes

* a counter ``x`` as the family ``x_total`` (HELP/TYPE with ``_total``), then a separate gauge family
  ``x_created`` with the same HELP, printed only when it has samples;
* a histogram ``h`` as ``h_bucket`` (``le`` a Python float: ``"1.0"``, ``"+Inf"``), ``h_count``, ``h_sum``
  per series, then a gauge family ``h_created``; a summary without quantiles as ``_count``, ``_sum``, ``_created``;
* every sample's label pairs sorted by name (``le`` included), values with ``floatToGoString``.

The builders below return those families (two per counter and histogram), with label names stored sorted.
Histogram and summary families want their sample suffixes in prometheus_client's order: pass
:func:`extra_suffixes` to ``ExporterMeters``. The runtime families are prometheus_client's default
``GCCollector``, ``PlatformCollector`` and ``ProcessCollector`` of a long-running CPython server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TypeAlias

import numpy as np

from otelmock.bridge.textformat import python_float
from otelmock.exporters.base import Family, Process, Sample
from otelmock.vec import uniform, vfloor, vmax, vround_to
from otelmock.world.snapshot import Histogram, Snapshot

Labels: TypeAlias = dict[str, str]
GaugeRows = Callable[[Snapshot, Process], Iterable[tuple[Labels, float]]]
CounterRows = Callable[[Snapshot, Process], Iterable[tuple[Labels, float, float]]]  # labels, value, created
HistogramRows = Callable[[Snapshot, Process], Iterable[tuple[Labels, Histogram, float]]]  # labels, hist, created
SummaryRows = Callable[[Snapshot, Process], Iterable[tuple[Labels, float, float, float]]]  # count, sum, created
INF = float("inf")
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


@cache
def le_values(bounds: tuple[float, ...]) -> tuple[str, ...]:
    """The ``le`` label values prometheus_client prints for these upper bounds (+Inf last)."""
    return (*(python_float(b) for b in bounds), "+Inf")


def histogram_bounds(h: Histogram) -> tuple[float, ...]:
    """``h.bounds``; in a run (each bound per tick) they must be the same at every tick (``uniform``)."""
    if h.bounds and isinstance(h.bounds[0], np.ndarray):
        return tuple(float(uniform(b)) for b in h.bounds)  # type: ignore[arg-type]
    return h.bounds


def zero_histogram(bounds: Sequence[float]) -> Histogram:
    """A histogram child right after ``.labels()``: every bucket 0."""
    return Histogram(tuple(float(b) for b in bounds), (0.0,) * (len(bounds) + 1), 0.0)


def _names(labels: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(labels))


def _vals(names: tuple[str, ...], labels: Labels) -> tuple[str, ...]:
    return tuple(labels[n] for n in names)


def gauge(name: str, help_: str, labels: Iterable[str], rows: GaugeRows) -> tuple[Family, ...]:
    names = _names(labels)

    def points(s: Snapshot, p: Process) -> Iterable[Sample]:
        return (("", _vals(names, lv), v) for lv, v in rows(s, p))

    return (Family(name, "gauge", help_, names, points),)


def counter(
    name: str, help_: str, labels: Iterable[str], rows: CounterRows, created: bool = True,
) -> tuple[Family, ...]:
    """``name`` as passed to ``prometheus_client.Counter`` (a trailing ``_total`` is stripped, as it does).

    ``created=False`` leaves out the ``_created`` family: for counters that never get a series (an
    empty ``_created`` family is not printed by prometheus_client) and for custom collectors.
    """
    base = name.removesuffix("_total")
    names = _names(labels)

    def total(s: Snapshot, p: Process) -> Iterable[Sample]:
        return (("", _vals(names, lv), v) for lv, v, _ in rows(s, p))

    def created_at(s: Snapshot, p: Process) -> Iterable[Sample]:
        return (("", _vals(names, lv), c) for lv, _, c in rows(s, p))

    fams = (Family(base + "_total", "counter", help_, names, total),)
    return (*fams, Family(base + "_created", "gauge", help_, names, created_at)) if created else fams


def histogram(
    name: str, help_: str, labels: Iterable[str], rows: HistogramRows, created: bool = True,
) -> tuple[Family, ...]:
    names = _names(labels)

    def points(s: Snapshot, p: Process) -> Iterable[Sample]:
        for lv, h, _ in rows(s, p):
            vals = _vals(names, lv)
            for le, n in zip(le_values(histogram_bounds(h)), h.buckets, strict=True):
                yield "_bucket", (*vals, le), n
            yield "_count", vals, h.count
            yield "_sum", vals, h.sum

    def created_at(s: Snapshot, p: Process) -> Iterable[Sample]:
        return (("", _vals(names, lv), c) for lv, _, c in rows(s, p))

    fams = (Family(name, "histogram", help_, names, points),)
    return (*fams, Family(name + "_created", "gauge", help_, names, created_at)) if created else fams


def summary(name: str, help_: str, labels: Iterable[str], rows: SummaryRows) -> tuple[Family, ...]:
    """A ``prometheus_client.Summary`` (no quantiles): ``_count``, ``_sum``, then ``_created``."""
    names = _names(labels)

    def points(s: Snapshot, p: Process) -> Iterable[Sample]:
        for lv, count, total, _ in rows(s, p):
            vals = _vals(names, lv)
            yield "_count", vals, count
            yield "_sum", vals, total

    def created_at(s: Snapshot, p: Process) -> Iterable[Sample]:
        return (("", _vals(names, lv), c) for lv, _, _, c in rows(s, p))

    return (Family(name, "summary", help_, names, points),
            Family(name + "_created", "gauge", help_, names, created_at))


def extra_suffixes(families: Iterable[Family]) -> dict[str, tuple[str, ...]]:
    """Sample suffixes in prometheus_client's order, for ``ExporterMeters(extra_suffixes=...)``."""
    order = {"histogram": ("_bucket", "_count", "_sum"), "summary": ("_count", "_sum")}
    return {f.name: order[f.type] for f in families if f.type in order}


# --- prometheus_client's default collectors, as a long-running CPython server shows them ---------------------


@dataclass(frozen=True, slots=True)
class PythonProcess:
    """How one CPython server process's self-metrics look and grow with its uptime."""

    python_version: str                       # "3.12.11"
    resident_bytes: float                     # flat once the server has loaded
    virtual_bytes: float
    cpu_per_s: float                          # CPU seconds per second of uptime
    open_fds: float
    max_fds: float = 1048576.0                # Docker's default RLIMIT_NOFILE
    gc_per_s: tuple[float, float, float] = (2.0, 0.18, 0.012)    # collections per second, per generation
    collected_per_gc: tuple[float, float, float] = (95.0, 160.0, 900.0)
    startup_gcs: tuple[float, float, float] = (900.0, 80.0, 6.0)  # imports before serving


# (extra labels, process start time, now) for each process a family table describes
ProcessRows = Callable[[Snapshot, Process], Iterable[tuple[Labels, float]]]


def python_runtime(py: PythonProcess, extra: Iterable[str], rows: ProcessRows) -> tuple[Family, ...]:
    """python_gc_*, python_info, process_* in prometheus_client's registration order.

    ``rows`` yields, per process, its extra labels (empty on a single-process endpoint) and its start time.
    """
    extra = tuple(extra)
    major, minor, patch = py.python_version.split(".")

    def up(s: Snapshot, start: float) -> float:
        return vmax(s.t - start, 0.0)

    def gcs(s: Snapshot, start: float, g: int) -> float:  # int() of a count that is never negative: its floor
        return vfloor(py.startup_gcs[g] + py.gc_per_s[g] * up(s, start))

    def per_gen(value: Callable[[Snapshot, float, int], float]) -> CounterRows:
        return lambda s, p: ((lv | {"generation": str(g)}, value(s, start, g), 0.0)
                             for lv, start in rows(s, p) for g in range(3))

    def one(value: Callable[[Snapshot, float], float]) -> GaugeRows:
        return lambda s, p: ((lv, value(s, start)) for lv, start in rows(s, p))

    gen = (*extra, "generation")
    info = {"implementation": "CPython", "major": major, "minor": minor, "patchlevel": patch,
            "version": py.python_version}
    return (
        *counter("python_gc_objects_collected_total", "Objects collected during gc", gen,
                 per_gen(lambda s, st, g: vfloor(gcs(s, st, g) * py.collected_per_gc[g])), created=False),
        *counter("python_gc_objects_uncollectable_total", "Uncollectable objects found during GC", gen,
                 per_gen(lambda s, st, g: 0.0), created=False),
        *counter("python_gc_collections_total", "Number of times this generation was collected", gen,
                 per_gen(gcs), created=False),
        *gauge("python_info", "Python platform information", (*extra, *info),
               lambda s, p: ((lv | info, 1.0) for lv, _ in rows(s, p))),
        *gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", extra,
               one(lambda s, st: py.virtual_bytes)),
        *gauge("process_resident_memory_bytes", "Resident memory size in bytes.", extra,
               one(lambda s, st: py.resident_bytes)),
        *gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", extra,
               one(lambda s, st: vround_to(st, 2))),  # boot time + start ticks / 100
        *counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", extra,
                 lambda s, p: ((lv, vround_to(py.cpu_per_s * up(s, st), 2), 0.0) for lv, st in rows(s, p)),
                 created=False),
        *gauge("process_open_fds", "Number of open file descriptors.", extra, one(lambda s, st: py.open_fds)),
        *gauge("process_max_fds", "Maximum number of open file descriptors.", extra, one(lambda s, st: py.max_fds)),
    )

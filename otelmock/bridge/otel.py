"""OpenTelemetry inside: one MeterProvider per mock exporter, its instruments built from the table.

Each family row becomes observable instruments (one per sample suffix: ``""``, ``_bucket``, ``_sum``,
``_count``, ``_created``, ``_total``). Their callbacks read the samples of the snapshot being collected;
readers (the Prometheus bridge's in-memory reader, the OTLP push reader) pull them. A scrape pins its
snapshot in a thread-local so every instrument of one collection sees the same tick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource

from otelmock.exporters.base import Family, Process
from otelmock.world.snapshot import Snapshot

log = logging.getLogger(__name__)
Source = Callable[[], tuple[Snapshot, Process]]
_COUNTER_SUFFIXES = {"_total", "_count", "_bucket", "_sum"}


def otel_name(real_name: str) -> str:
    """The instrument name for a real metric name: OTel forbids ``:`` and folds case."""
    return real_name.replace(":", ".").lower()


def suffixes(family: Family) -> tuple[str, ...]:
    return {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}.get(family.type, ("",))


def sample_labels(family: Family, suffix: str) -> tuple[str, ...]:
    extra = {"histogram": ("le",), "summary": ("quantile",)}.get(family.type, ()) if suffix in ("", "_bucket") else ()
    return family.labels + extra


class ExporterMeters:
    """A MeterProvider whose instruments mirror one exporter's family table.

    Without readers (the direct render and no OTLP push) nothing would ever collect the provider: it is not made,
    and only the name table the bridge writes from is kept (about 2 MB a host of a fleet).
    """

    def __init__(
        self, name: str, families: Sequence[Family], resource: Resource, source: Source,
        readers: Sequence[MetricReader], extra_suffixes: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.name = name
        self.families = tuple(families)
        self._source = source
        self._pinned = threading.local()
        self._cache: tuple[int, int, dict[str, dict[str, list[tuple[tuple[str, ...], float]]]]] | None = None
        self._cache_lock = threading.Lock()
        self._attrs: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[str, str]] = {}
        # exemplars mean nothing for observed totals; leaving them off saves a fifth of the collection
        self.provider = MeterProvider(metric_readers=list(readers), resource=resource,
                                      exemplar_filter=AlwaysOffExemplarFilter()) if readers else None
        meter = self.provider.get_meter(f"otelmock.exporters.{name}") if self.provider else None
        self.instruments: dict[str, tuple[Family, str]] = {}
        extra_suffixes = extra_suffixes or {}
        for fam in self.families:
            for suffix in extra_suffixes.get(fam.name, suffixes(fam)):
                iname = otel_name(fam.name + suffix)
                if iname in self.instruments:
                    raise ValueError(f"{name}: two families map to the OTel instrument {iname!r}")
                self.instruments[iname] = (fam, suffix)
                if meter is None:
                    continue
                cb = self._callback(fam, suffix)
                if fam.type == "counter" and suffix != "_created" or suffix in _COUNTER_SUFFIXES - {"_sum"}:
                    meter.create_observable_counter(iname, callbacks=[cb], description=fam.help)
                else:
                    meter.create_observable_gauge(iname, callbacks=[cb], description=fam.help)

    def pin(self, snapshot: Snapshot | None, process: Process | None = None) -> None:
        """Make this thread's collections observe ``snapshot`` (``None``: the source's latest)."""
        self._pinned.value = None if snapshot is None else (snapshot, process)

    def current(self) -> tuple[Snapshot, Process]:
        pinned = getattr(self._pinned, "value", None)
        return pinned if pinned is not None else self._source()

    def samples(self) -> dict[str, dict[str, list[tuple[tuple[str, ...], float]]]]:
        """family name -> suffix -> [(label values, value)] for the current snapshot (cached per tick)."""
        snap, proc = self.current()
        key = (snap.tick, id(snap))
        with self._cache_lock:
            if self._cache is not None and self._cache[:2] == key:
                return self._cache[2]
        out: dict[str, dict[str, list[tuple[tuple[str, ...], float]]]] = {}
        for fam in self.families:
            per: dict[str, list[tuple[tuple[str, ...], float]]] = {}
            try:
                for suffix, lv, value in fam.points(snap, proc):
                    per.setdefault(suffix, []).append((lv, value))
            except Exception:  # one broken family must not take the others down
                log.exception("%s: family %s failed at tick %d; left out", self.name, fam.name, snap.tick)
                per = {}
            out[fam.name] = per
        with self._cache_lock:
            self._cache = (*key, out)
        return out

    def release(self) -> None:
        """Forget the cached samples of the current tick: when only the bridge reads them (no provider), the
        rendered body is cached instead, and a fleet need not hold both."""
        if self.provider is None:
            with self._cache_lock:
                self._cache = None

    def _callback(self, fam: Family, suffix: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        names = sample_labels(fam, suffix)

        def observe(options: CallbackOptions) -> Iterable[Observation]:
            rows = self.samples().get(fam.name, {}).get(suffix, ())
            return [Observation(value, self._attributes(names, lv)) for lv, value in rows]

        return observe

    def _attributes(self, names: tuple[str, ...], values: tuple[str, ...]) -> dict[str, Any]:
        key = (names, values)
        attrs = self._attrs.get(key)
        if attrs is None:
            attrs = dict(zip(names, values, strict=True))
            if len(self._attrs) < 200_000:
                self._attrs[key] = attrs
        return attrs

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()

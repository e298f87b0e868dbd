"""The Prometheus side: read an exporter's OTel provider and write the real exporter's exact text.

client_python's custom-collector idea applied to OTel: on a scrape, collect the exporter's in-memory
reader and write each point under the real name, TYPE, HELP and label order, in that exporter's
dialect (see :mod:`otelmock.bridge.textformat`). The text of a tick is rendered once and cached, so
concurrent scrapes of the same tick cost nothing and a slow client never holds the world.
The scrape path never raises: a family whose points fail is logged and left out.
"""

from __future__ import annotations

import gzip
import logging
import math
import threading
from collections.abc import Callable, Sequence

from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otelmock.bridge.otel import ExporterMeters, otel_name, sample_labels, suffixes
from otelmock.bridge.textformat import dcgm_value, escape_help, escape_label, go_float, python_float
from otelmock.exporters.base import Family, Process
from otelmock.world.snapshot import Snapshot

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DIALECTS = ("go", "python", "dcgm")
# otel: through the MeterProvider's in-memory reader; direct: the same callbacks' observations, no SDK
SOURCES = ("otel", "direct")
Rows = list[tuple[tuple[str, ...], float]]


def _le_key(lv: tuple[str, ...]) -> float:
    return float(lv[-1].replace("+Inf", "inf"))


class PrometheusBridge:
    """Renders one exporter's exposition from its OTel instruments."""

    def __init__(self, meters: ExporterMeters, reader: InMemoryMetricReader, dialect: str,
                 source: str = "otel") -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}")
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}")
        self.source = source
        self.meters = meters
        self.reader = reader
        self.dialect = dialect
        self._lock = threading.Lock()
        self._cached: tuple[int, int, bytes] | None = None   # (tick, id of its snapshot, gzip body)
        self._ahead: tuple[int, bytes] | None = None           # (a tick not yet current, its gzip body)
        self._order: dict[tuple[str, ...], tuple[int, ...]] = {}
        # family -> (its series last scrape, HELP/TYPE lines, [(sample prefix, value index)])
        self._layouts: dict[str, tuple[tuple[tuple[tuple[str, ...], ...], ...], list[str] | None,
                                       list[tuple[str, int]]]] = {}
        self._fmt = go_float if dialect == "go" else python_float
        # each family's registered sample suffixes, in registration order (computed once, not per scrape)
        self._suffixes_of: dict[str, tuple[str, ...]] = {}
        for fam, suffix in meters.instruments.values():
            self._suffixes_of[fam.name] = (*self._suffixes_of.get(fam.name, ()), suffix)
        families: Sequence[Family] = meters.families
        self.families = sorted(families, key=lambda f: f.name) if dialect == "go" else list(families)

    def render(self) -> bytes:
        """The exposition of the current tick."""
        return gzip.decompress(self.render_gzip())

    def peek_gzip(self, tick: int) -> bytes | None:
        """The compressed body of ``tick`` if it is rendered already (a served tick never changes), else None."""
        cached, ahead = self._cached, self._ahead
        if cached is not None and cached[0] == tick:
            return cached[2]
        return ahead[1] if ahead is not None and ahead[0] == tick else None

    def render_gzip(self) -> bytes:
        """The exposition of the current tick, gzip-compressed (what Prometheus asks for). Only this form is kept
        between scrapes: a tenth of the text's size, which is what a fleet of hosts holds in memory."""
        snap, proc = self.meters.current()
        key = (snap.tick, id(snap))
        with self._lock:
            if self._cached is not None and self._cached[:2] == key:
                return self._cached[2]
            if self._ahead is not None and self._ahead[0] == snap.tick:  # rendered a tick early: now it is current
                self._cached, self._ahead = (*key, self._ahead[1]), None
                return self._cached[2]
            body = self._render(snap, proc)
            self._cached = (*key, body)
            return body

    def render_ahead(self, snap: Snapshot, proc: Process, still_valid: Callable[[], bool]) -> None:
        """Render ``snap``, a tick not yet current, and keep it for when it is: a scrape then finds its tick
        rendered. ``still_valid`` is asked, under the lock :meth:`forget_ahead` takes, before the body is kept."""
        with self._lock:
            if self._cached is not None and self._cached[0] == snap.tick:
                return
            body = self._render(snap, proc)
            if still_valid():
                self._ahead = (snap.tick, body)

    def forget_ahead(self) -> None:
        """Drop a body rendered ahead (the timeline changed after it was rendered)."""
        with self._lock:
            self._ahead = None

    def _render(self, snap: Snapshot, proc: Process) -> bytes:
        self.meters.pin(snap, proc)
        try:
            points = self._points_direct() if self.source == "direct" else self._points_otel()
        finally:
            self.meters.pin(None)
        body = gzip.compress(self._text(points).encode(), compresslevel=1, mtime=0)
        self.meters.release()
        return body

    def _points_otel(self) -> dict[str, Rows]:
        """Collect the exporter's MeterProvider through its in-memory reader (the OpenTelemetry path)."""
        data = self.reader.get_metrics_data()
        points: dict[str, Rows] = {}
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    fam, suffix = self.meters.instruments[metric.name]
                    names = sample_labels(fam, suffix)
                    points[metric.name] = [
                        (tuple(str(p.attributes.get(n, "")) for n in names), float(p.value))
                        for p in metric.data.data_points
                    ]
        return points

    def _points_direct(self) -> dict[str, Rows]:
        """The same observations the instruments' callbacks make, without the SDK's per-point cost."""
        samples = self.meters.samples()
        points: dict[str, Rows] = {}
        for iname, (fam, suffix) in self.meters.instruments.items():
            rows = [(lv, float(v)) for lv, v in samples.get(fam.name, {}).get(suffix, ()) if math.isfinite(v)]
            if rows:
                points[iname] = rows
        return points

    def _text(self, points: dict[str, Rows]) -> str:
        out: list[str] = []
        for fam in self.families:
            try:
                out.extend(self._family(fam, points))
            except Exception:  # a broken family must not break the scrape
                log.exception("family %s failed; left out of this scrape", fam.name)
        return "".join(out)

    def _family(self, fam: Family, points: dict[str, Rows]) -> list[str]:
        """The family's lines. Where its series are the ones of the last scrape (almost always), the lines' order
        and label prefixes are reused and only the values are written."""
        present = {s: points.get(otel_name(fam.name + s), []) for s in self._suffixes_of[fam.name]}
        series = tuple(tuple(lv for lv, _ in rows) for rows in present.values())
        layout = self._layouts.get(fam.name)
        if layout is None or layout[0] != series:
            layout = self._layouts[fam.name] = (series, *self._layout(fam, present))
        _, head, lines = layout
        if head is None:
            return []
        values = [v for rows in present.values() for _, v in rows]
        values.append(0.0)  # a histogram's _sum or _count that has no point of its own
        if self.dialect == "dcgm":
            return head + [f"{prefix}{dcgm_value(values[i], fam.int_format)}\n" for prefix, i in lines]
        fmt = self._fmt
        return head + [f"{prefix}{fmt(values[i])}\n" for prefix, i in lines]

    def _layout(self, fam: Family, present: dict[str, Rows]) -> tuple[list[str] | None, list[tuple[str, int]]]:
        """(HELP and TYPE lines or None when the family writes nothing, [(sample prefix, index of its value)])
        with the values numbered in ``present``'s order."""
        n = 0
        indexed: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        for suffix, rows in present.items():
            indexed[suffix] = [(lv, n + i) for i, (lv, _) in enumerate(rows)]
            n += len(rows)
        if self.dialect in ("go", "dcgm") and not n:
            return None, []  # client_golang and dcgm-exporter's template write nothing for a family without series
        head = [f"# HELP {fam.name} {escape_help(fam.help)}\n", f"# TYPE {fam.name} {fam.type}\n"]
        if self.dialect == "dcgm":
            head[0] = f"# HELP {fam.name} {fam.help}\n"
            lines = []
            for lv, i in indexed[""]:
                labels = ",".join(f'{k}="{escape_label(x)}"' for k, x in zip(fam.labels, lv, strict=True) if x)
                lines.append((f"{fam.name}{{{labels}}} ", i))
            return head, lines
        if self.dialect == "python":
            if fam.name.endswith("_created") and not n:
                return None, []  # prometheus_client writes a _created family only once it has samples
            return head, self._python_samples(fam, indexed)
        return head, self._go_samples(fam, indexed, zero=n)

    def _python_samples(self, fam: Family, present: dict[str, list[tuple[tuple[str, ...], int]]],
                        ) -> list[tuple[str, int]]:
        """prometheus_client: one block per series (buckets, _count, _sum ...), labels sorted by name."""
        groups: dict[tuple[str, ...], list[tuple[str, tuple[str, ...], tuple[str, ...], int]]] = {}
        for suffix, rows in present.items():
            names = sample_labels(fam, suffix) if suffix in suffixes(fam) else fam.labels
            for lv, i in rows:
                groups.setdefault(lv[: len(fam.labels)], []).append((suffix, names, lv, i))
        out = []
        for rows in groups.values():
            for suffix, names, lv, i in rows:
                order = self._order.get(names)
                if order is None:
                    order = self._order[names] = tuple(sorted(range(len(names)), key=names.__getitem__))
                out.append((self._prefix(fam.name + suffix, tuple(names[j] for j in order),
                                         tuple(lv[j] for j in order)), i))
        return out

    def _go_samples(self, fam: Family, present: dict[str, list[tuple[tuple[str, ...], int]]],
                    zero: int) -> list[tuple[str, int]]:
        order = sorted(fam.labels)
        idx = [fam.labels.index(n) for n in order]
        names = tuple(order)
        lines = []
        if fam.type in ("histogram", "summary"):
            first = "_bucket" if fam.type == "histogram" else ""
            groups: dict[tuple[str, ...], list[tuple[tuple[str, ...], int]]] = {}
            for lv, i in present.get(first, []):
                groups.setdefault(lv[:-1], []).append((lv, i))
            sums = dict(present.get("_sum", []))
            counts = dict(present.get("_count", []))
            extra = "le" if fam.type == "histogram" else "quantile"
            for base in sorted(groups, key=lambda b: tuple(b[k] for k in idx)):
                sb = tuple(base[k] for k in idx)
                for lv, i in sorted(groups[base], key=lambda row: _le_key(row[0])):
                    lines.append((self._prefix(fam.name + first, (*names, extra), (*sb, lv[-1])), i))
                lines.append((self._prefix(fam.name + "_sum", names, sb), sums.get(base, zero)))
                lines.append((self._prefix(fam.name + "_count", names, sb), counts.get(base, zero)))
            return lines
        rows = sorted((tuple(lv[k] for k in idx), i) for lv, i in present[""])
        return [(self._prefix(fam.name, names, lv), i) for lv, i in rows]

    def _labels(self, names: Sequence[str], values: Sequence[str]) -> str:
        return ",".join(f'{n}="{escape_label(v)}"' for n, v in zip(names, values, strict=True))

    def _prefix(self, name: str, names: tuple[str, ...], values: tuple[str, ...]) -> str:
        """A series' ``name{labels} `` (kept in its family's layout, made again only when the series change)."""
        return f"{name}{{{self._labels(names, values)}}} " if names else f"{name} "

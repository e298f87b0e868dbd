"""The table vocabulary every mock exporter module is written in.

An exporter module is a tuple of :class:`Family` rows in the real exporter's order: exact name, TYPE,
HELP, label names, and a function from the tick's :class:`~otelmock.world.snapshot.Snapshot` (plus the
serving process's :class:`Process` facts) to its samples. The bridge turns each row into OpenTelemetry
instruments and reads them back into the exact text the real exporter serves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from otelmock.world.snapshot import Snapshot

# (suffix, label values in Family.labels order (+ "le"/"quantile" value for buckets/quantiles), value)
Sample = tuple[str, tuple[str, ...], float]


@dataclass
class Process:
    """Facts about the serving process that a real exporter reports about itself."""

    start_time: float
    scrapes: dict[str, int] = field(default_factory=lambda: {"200": 0, "500": 0, "503": 0})
    in_flight: int = 0


Points = Callable[[Snapshot, Process], Iterable[Sample]]


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    type: str                 # counter | gauge | untyped | summary | histogram
    help: str
    labels: tuple[str, ...]
    points: Points
    int_format: bool = False  # dcgm dialect: %d instead of %f

    def __post_init__(self) -> None:
        if self.type not in ("counter", "gauge", "untyped", "summary", "histogram"):
            raise ValueError(f"{self.name}: unknown type {self.type!r}")


def scalar(name: str, type_: str, help_: str, value: Callable[[Snapshot, Process], float]) -> Family:
    """A family with a single unlabelled series."""
    return Family(name, type_, help_, (), lambda s, p: (("", (), value(s, p)),))


def labelled(
    name: str, type_: str, help_: str, labels: tuple[str, ...],
    rows: Callable[[Snapshot, Process], Iterable[tuple[tuple[str, ...], float]]],
) -> Family:
    """A family whose ``rows`` yields (label values, value) pairs."""
    return Family(name, type_, help_, labels, lambda s, p: (("", lv, v) for lv, v in rows(s, p)))


def info(name: str, help_: str, labels: tuple[str, ...], values: Callable[[Snapshot], tuple[str, ...]]) -> Family:
    """An ``*_info``-style gauge: one series with value 1."""
    return Family(name, "gauge", help_, labels, lambda s, p: (("", values(s), 1.0),))

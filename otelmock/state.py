"""The state file: the timeline a running mock was switched to, so a restart resumes the same series.

Every value the mock serves is a function of seed, host and time through the timeline (DESIGN invariant 2), and
counters are integrals over it (invariant 3). Scenario switches and anomalies made at run time extend the timeline;
a restart without them would recompute the past from the configured scenario alone, and a counter that had run
faster under ``high_load`` would fall back. With ``state_file`` set, every change is written (atomically) as it is
made and read back at start, so the restarted mock serves exactly the series it would have served had it kept
running: counters continue. Only the exporter's own process counters (scrapes, CPU seconds) start again, with
``process_start_time_seconds``, as a real exporter's restart does.

The file is JSON::

    {"otelmock_state": 1, "seed": 42, "host": "gpu-a1b2c3", "tick_s": 1.0,
     "segments": [{"name": "normal", "start_t": null, "params": {...}, "ramp_s": 0.0}, ...],
     "anomalies": [{"id": "a1", "kind": "load_spike", "target": "", "magnitude": 3.0, "start_t": ..., ...}]}

A file written by another seed, host or tick, or one that does not parse, stops the start with the file, key and
value named; it is never half-applied.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from otelmock.errors import ConfigError, ScenarioError
from otelmock.scenario.anomaly import Anomaly
from otelmock.scenario.loader import MAX_FILE_BYTES, validate_params
from otelmock.scenario.timeline import Segment, Timeline

VERSION = 1
MAX_ENTRIES = 10_000   # segments + anomalies a file may hold


def identity(seed: int, host: str, tick_s: float) -> dict[str, Any]:
    return {"otelmock_state": VERSION, "seed": seed, "host": host, "tick_s": tick_s}


def to_doc(timeline: Timeline, ident: dict[str, Any]) -> dict[str, Any]:
    segs = [{"name": s.name, "start_t": None if math.isinf(s.start_t) else s.start_t, "params": dict(s.params),
             "ramp_s": s.ramp_s} for s in timeline.segments]
    anomalies = [{"id": a.id, "kind": a.kind, "target": a.target, "magnitude": a.magnitude, "start_t": a.start_t,
                  "duration_s": a.duration_s, "ramp_s": a.ramp_s} for a in timeline.anomalies]
    return {**ident, "segments": segs, "anomalies": anomalies}


def write(path: Path, doc: dict[str, Any]) -> None:
    """Replace ``path`` with ``doc`` atomically (a crash leaves the old file or the new one, never half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _field(where: str, obj: dict[str, Any], key: str, kind: type | tuple[type, ...], check: Callable[[Any], bool],
           what: str) -> Any:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, kind) or not check(value):
        raise ConfigError(f"{where}.{key}: {value!r} is not {what}")
    return value


def read(path: Path, ident: dict[str, Any],
         check_anomaly: Callable[[str, str, float, float, float], None]) -> Timeline | None:
    """The timeline saved in ``path`` (None when there is no file yet), validated whole before it is used.

    ``check_anomaly(kind, target, magnitude, duration_s, ramp_s)`` raises ScenarioError for an anomaly this
    deployment would refuse from the control API.
    """
    where = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{where}: state file larger than {MAX_FILE_BYTES} bytes")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read the state file ({exc}); fix or remove it") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: not an otelmock state file (expected a JSON object)")
    for key, want in ident.items():
        if doc.get(key) != want:
            raise ConfigError(f"{where}: {key}: {doc.get(key)!r} was written by another mock (this one has "
                              f"{want!r}); remove the file or point state_file elsewhere")
    segs, anomalies = doc.get("segments"), doc.get("anomalies", [])
    if not isinstance(segs, list) or not segs or not isinstance(anomalies, list) \
            or len(segs) + len(anomalies) > MAX_ENTRIES:
        raise ConfigError(f"{where}: segments and anomalies must be lists (at least one segment, at most "
                          f"{MAX_ENTRIES} entries in all)")
    number = (int, float)
    finite = math.isfinite
    try:
        out: list[Segment] = []
        for i, s in enumerate(segs):
            w = f"{where}: segments[{i}]"
            if not isinstance(s, dict):
                raise ConfigError(f"{w}: {s!r} is not an object")
            first_open = s.get("start_t") is None and i == 0
            start = float("-inf") if first_open else float(_field(w, s, "start_t", number, finite, "a time"))
            if out and start < out[-1].start_t:
                raise ConfigError(f"{w}.start_t: {start} is before the previous segment's")
            name = _field(w, s, "name", str, lambda v: 0 < len(v) <= 200, "a scenario name")
            ramp = float(_field(w, s, "ramp_s", number, lambda v: 0 <= v <= 3600, "a ramp in [0, 3600] s"))
            out.append(Segment(name, start, validate_params(s.get("params"), w), ramp))
        found: list[Anomaly] = []
        for i, a in enumerate(anomalies):
            w = f"{where}: anomalies[{i}]"
            if not isinstance(a, dict):
                raise ConfigError(f"{w}: {a!r} is not an object")
            an = Anomaly(_field(w, a, "id", str, lambda v: v[:1] == "a" and v[1:].isdigit(), "an id such as a7"),
                         _field(w, a, "kind", str, bool, "an anomaly kind"),
                         _field(w, a, "target", str, lambda v: len(v) <= 200, "a target"),
                         float(_field(w, a, "magnitude", number, finite, "a number")),
                         float(_field(w, a, "start_t", number, finite, "a time")),
                         float(_field(w, a, "duration_s", number, lambda v: v >= 0, "a duration")),
                         float(_field(w, a, "ramp_s", number, lambda v: v >= 0, "a ramp")))
            try:
                check_anomaly(an.kind, an.target, an.magnitude, an.duration_s, an.ramp_s)
            except ScenarioError as exc:
                raise ConfigError(f"{w}: {exc}") from None
            found.append(an)
    except ScenarioError as exc:  # a segment's params
        raise ConfigError(str(exc)) from None
    return Timeline(tuple(out), tuple(found))

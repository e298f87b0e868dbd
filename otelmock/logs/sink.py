"""Where the log records go: Docker's json-file layout on disk, and OpenTelemetry log records.

Files, as the daemon lays them out (see :mod:`otelmock.logs.dockerjson`)::

    <root>/containers/<id>/<id>-json.log[.1[.gz] ...]   one RotatingLogWriter per container
    <root>/containers/<id>/config.v2.json               name, image, compose labels, start time
    <root>/containers/<id>/hostconfig.json              the log options (max-size, max-file, compress, tag, labels)

With the default log options every line carries ``attrs`` with the compose service and project labels and
``tag`` = the container name, which is how a file-tailing Promtail gets those labels (it cannot read
config.v2.json). The same records go to an optional ``LoggerProvider``, one resource per container
(``container.id``, ``container.name``, ``container.image.name``, ``container.image.tags``, ``host.name``).

A directory that cannot be written (read-only, full, not a directory) never raises into the caller: the
records are dropped and one error is logged per kind of failure (errno), at most once per
``error_interval_s``, naming the first container it hit.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from opentelemetry._logs import LogRecord as OtelLogRecord
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, ReadWriteLogRecord
from opentelemetry.sdk.resources import Resource

from otelmock.logs.dockerjson import (
    CHUNK_BYTES,
    Container,
    encode_entry,
    format_time,
    log_attrs,
    marshal_attrs,
    split_output,
    write_container_config,
)
from otelmock.logs.generator import LogRecord
from otelmock.logs.rotate import RotatingLogWriter, RotationPolicy
from otelmock.world.snapshot import ContainerState, Snapshot

log = logging.getLogger(__name__)

DEFAULT_LOG_OPTS: Final = {"labels": "com.docker.compose.project,com.docker.compose.service", "tag": "{{.Name}}"}
SEVERITY: Final = {"DEBUG": SeverityNumber.DEBUG, "INFO": SeverityNumber.INFO, "WARNING": SeverityNumber.WARN,
                   "ERROR": SeverityNumber.ERROR, "FATAL": SeverityNumber.FATAL}
_NS: Final = 1_000_000_000
_PLAIN: Final = re.compile(rb"[^\x20-\x7e]")  # printable ASCII needs only the five escapes below


def record_entries(message: str, stream: str, time_ns: int, raw_attrs: bytes = b"") -> list[bytes]:
    """The json-file entries of one record (``message`` has no final newline): ``dockerjson.encode_entry`` of
    each ``split_output`` line, byte for byte, with a quicker path for printable ASCII."""
    data = message.encode("utf-8", "surrogateescape")
    lines = [data + b"\n"] if len(data) < CHUNK_BYTES and b"\n" not in data else split_output(data)
    tail = b'","stream":"' + stream.encode() + b'"' + (b',"attrs":' + raw_attrs if raw_attrs else b"")
    tail += b',"time":"' + format_time(time_ns).encode() + b'"}\n'
    out = []
    for line in lines:
        text, newline = (line[:-1], b"\\n") if line.endswith(b"\n") else (line, b"")
        if _PLAIN.search(text) is not None:
            out.append(encode_entry(line, stream, time_ns, raw_attrs))
            continue
        text = text.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"<", b"\\u003c")
        out.append(b'{"log":"' + text.replace(b">", b"\\u003e").replace(b"&", b"\\u0026") + newline + tail)
    return out


def policy_log_opts(policy: RotationPolicy) -> dict[str, str]:
    """``max-size``/``max-file``/``compress`` as a user would have written them in ``--log-opt``."""
    opts: dict[str, str] = {}
    if policy.max_size is not None:
        size = policy.max_size
        unit = next(((u, f) for u, f in (("g", 10**9), ("m", 10**6), ("k", 10**3)) if size % f == 0), ("", 1))
        opts["max-size"] = f"{size // unit[1]}{unit[0]}"
    if policy.max_file != 1:
        opts["max-file"] = str(policy.max_file)
    if policy.compress:
        opts["compress"] = "true"
    return opts


class DockerLogSink:
    """Writes records as Docker's json-file driver would, and optionally as OpenTelemetry log records."""

    def __init__(
        self,
        root: Path,
        policy: RotationPolicy,
        otel: LoggerProvider | None = None,
        *,
        log_opts: Mapping[str, str] | None = None,
        logpath_root: str | None = None,
        error_interval_s: float = 60.0,
    ) -> None:
        self.root = Path(root)
        self.policy = policy
        self.log_opts = {**(DEFAULT_LOG_OPTS if log_opts is None else log_opts), **policy_log_opts(policy)}
        self._logpath_root = logpath_root
        self._error_interval_s = error_interval_s
        self._writers: dict[str, RotatingLogWriter] = {}
        self._meta: dict[str, Container] = {}
        self._attrs: dict[str, bytes] = {}     # container id -> raw "attrs" JSON of its lines
        self._written: dict[str, float] = {}   # container id -> start time whose config files are on disk
        self._errors: dict[str, float] = {}    # errno -> monotonic time of the last error logged
        self._host = ""
        self._otel = otel
        self._logger = otel.get_logger("otelmock.logs") if otel is not None else None
        self._resources: dict[str, Resource] = {}

    def sync(self, snapshot: Snapshot) -> None:
        """Learn the containers (and the host name) of ``snapshot``; (re)write their config files on a start."""
        self._host = snapshot.host.hostname
        for c in snapshot.containers:
            if self._written.get(c.id) == c.start_time:
                continue
            meta = _container(c)
            self._meta[c.id] = meta
            self._attrs[c.id] = marshal_attrs(log_attrs(meta, self.log_opts))
            self._resources.pop(c.id, None)
            try:
                write_container_config(self.root, meta, self.log_opts, logpath_root=self._logpath_root)
                self._writer(c.id)  # the daemon creates the (empty) log file with the container
            except OSError as exc:
                self._error(c.id, c.name, exc)
                continue
            self._written[c.id] = c.start_time

    def write(self, records: Iterable[LogRecord]) -> None:
        """Append each record to its container's log (split into entries at ``\\n``) and emit it to OTel."""
        failed: set[str] = set()
        for r in records:
            if self._logger is not None:
                self._emit(r)
            if r.container_id in failed:
                continue
            try:
                writer = self._writer(r.container_id)
                attrs = self._attrs.get(r.container_id, b"")
                writer.writelines(record_entries(r.message, r.stream, r.time_ns, attrs))
            except (OSError, ValueError) as exc:
                failed.add(r.container_id)
                self._error(r.container_id, r.container_name, exc)

    def close(self) -> None:
        for cid, writer in list(self._writers.items()):
            try:
                writer.close()
            except OSError as exc:
                self._error(cid, self._meta[cid].name if cid in self._meta else cid, exc)
        self._writers.clear()

    def _writer(self, cid: str) -> RotatingLogWriter:
        writer = self._writers.get(cid)
        if writer is None:
            path = self.root / "containers" / cid / f"{cid}-json.log"
            writer = self._writers[cid] = RotatingLogWriter(path, self.policy)
        return writer

    def _error(self, cid: str, name: str, exc: BaseException) -> None:
        # one report per kind of failure: an unwritable or full root fails every container the same way
        key = str(getattr(exc, "errno", None) or type(exc).__name__)
        now = time.monotonic()
        last = self._errors.get(key)
        if last is not None and now - last < self._error_interval_s:
            return
        self._errors[key] = now
        log.error("container log lines dropped (first: %s, %s): %s; the same error is not reported again for %gs",
                  name, cid[:12], exc, self._error_interval_s)

    def _resource(self, r: LogRecord) -> Resource:
        res = self._resources.get(r.container_id)
        if res is None:
            meta = self._meta.get(r.container_id)
            image, _, tag = (meta.image if meta else "").rpartition(":")
            attrs: dict[str, str | list[str]] = {"container.id": r.container_id, "container.name": r.container_name}
            if meta is not None:
                attrs |= {"container.image.name": image or meta.image, "container.image.tags": [tag] if image else []}
            if self._host:
                attrs["host.name"] = self._host
            assert self._otel is not None
            res = self._resources[r.container_id] = self._otel.resource.merge(Resource(attrs))
        return res

    def _emit(self, r: LogRecord) -> None:
        try:
            assert self._logger is not None
            record = OtelLogRecord(timestamp=r.time_ns, observed_timestamp=r.time_ns, severity_text=r.severity,
                                   severity_number=SEVERITY.get(r.severity, SeverityNumber.INFO), body=r.message,
                                   attributes={"log.iostream": r.stream})
            scope = getattr(self._logger, "instrumentation_scope", None)
            # the SDK's Logger takes its own ReadWriteLogRecord as is: that is how each container gets its resource
            self._logger.emit(ReadWriteLogRecord(record, self._resource(r), scope))  # type: ignore[call-overload]
        except Exception:  # an exporter's problem must not stop the files (nor the tick)
            log.exception("OpenTelemetry log record of %s dropped", r.container_name)


def _container(c: ContainerState) -> Container:
    return Container(id=c.id, name=c.name, image=c.image, created_ns=round(c.created * _NS), labels=c.labels,
                     env=[f"{k}={v}" for k, v in c.env.items()], started_ns=round(c.start_time * _NS))

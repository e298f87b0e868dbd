r"""Docker ``json-file`` log entries, byte for byte, and the container files around them.

Each entry is one line, written the way moby's ``jsonlog.JSONLogs.MarshalJSONBuf`` writes it: no spaces and
always this key order::

    {"log":"GET /health 200\n","stream":"stdout","attrs":{"tag":"vllm"},"time":"2024-01-02T03:04:05.1234Z"}<LF>

- ``log`` holds the bytes the program wrote, including the ``\n`` that ended the line. It is escaped like moby's
  ``ffjsonWriteJSONBytesAsString``: ``"`` and ``\`` are backslash-escaped, ``\n`` and ``\r`` use short escapes,
  every other byte below 0x20 (TAB and ESC too) becomes ``\u00xx``, ``< > &`` become ``\u003c \u003e \u0026``,
  U+2028 and U+2029 become ``\u2028`` and ``\u2029``, each invalid UTF-8 byte becomes ``\ufffd``, and any other
  non-ASCII character is written as raw UTF-8.
- ``stream`` is ``stdout`` or ``stderr``. ``log`` and ``stream`` are left out when they are empty.
- ``attrs`` appears only with ``--log-opt labels=/labels-regex=/env=/env-regex=/tag=``. It is Go ``encoding/json``
  of a map: keys sorted, and TAB written as ``\t`` here (unlike in ``log``).
- ``time`` is Go ``time.RFC3339Nano`` in UTC: trailing zeros of the fraction are dropped, and so is the dot
  when the fraction is zero.
- The daemon's copier reads through a 16 KiB buffer. A line longer than that becomes 16384-byte entries
  without ``\n``, then one entry holding the rest plus ``\n``. Output that ends without a newline still gets
  ``\n``, as observed with Docker 20.10.

Files: ``<root>/containers/<64-hex id>/<id>-json.log``, plus ``config.v2.json`` and ``hostconfig.json`` in
the same directory. Both are compact Go JSON, with the field order of moby's structs.
``encode_cri_line`` writes Podman's ``k8s-file`` line: ``<time with +00:00> <stream> <F|P> <raw content>``.
"""

import codecs
import datetime as dt
import functools
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

STDOUT: Final = "stdout"
STDERR: Final = "stderr"
CHUNK_BYTES: Final = 16 * 1024  # daemon/logger/copier.go bufSize
LOG_OPTS: Final = frozenset({"max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag"})
GO_ZERO_TIME: Final = "0001-01-01T00:00:00Z"

_BAD: Final = "\ud800"  # stands for one invalid input byte; strict UTF-8 decoding never yields a surrogate


def _go_decode_error(exc: UnicodeError) -> tuple[str, int]:
    # Go's utf8.DecodeRune reports every invalid sequence as a single bad byte, so resume at the next byte.
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return _BAD, exc.start + 1


codecs.register_error("otelmock.go-utf8", _go_decode_error)


def _table(short: Mapping[int, str]) -> dict[int, str]:
    table = {c: f"\\u{c:04x}" for c in (*range(0x20), ord("<"), ord(">"), ord("&"), 0x2028, 0x2029)}
    table.update({ord('"'): '\\"', ord("\\"): "\\\\", ord(_BAD): "\\ufffd"})
    table.update(short)
    return table


_MOBY_TABLE: Final = _table({0x0A: "\\n", 0x0D: "\\r"})
_GO_TABLE: Final = _table({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})
_NEEDS_ESCAPE: Final = re.compile(rb'[\x00-\x1f"\\<>&\x80-\xff]')


def _to_bytes(text: str | bytes) -> bytes:
    if isinstance(text, bytes):
        return text
    try:  # lone surrogates: from bytes.decode(errors="surrogateescape") they stand for one byte each
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _quote(data: bytes, table: Mapping[int, str]) -> bytes:
    if _NEEDS_ESCAPE.search(data) is None:
        return b'"' + data + b'"'
    return b'"' + data.decode("utf-8", "otelmock.go-utf8").translate(table).encode() + b'"'


def escape_log(data: str | bytes) -> bytes:
    """Quoted JSON string of ``data``, escaped exactly as moby's ``ffjsonWriteJSONBytesAsString``."""
    return _quote(_to_bytes(data), _MOBY_TABLE)


def go_json_string(text: str | bytes) -> bytes:
    """Quoted JSON string as Go ``encoding/json`` writes it (Go < 1.22: ``\\b`` and ``\\f`` as ``\\u00xx``)."""
    return _quote(_to_bytes(text), _GO_TABLE)


_EPOCH: Final = dt.datetime(1970, 1, 1)


@functools.lru_cache(maxsize=256)
def _seconds_text(seconds: int) -> str:
    try:
        return (_EPOCH + dt.timedelta(seconds=seconds)).isoformat()
    except OverflowError as exc:
        raise ValueError(f"timestamp {seconds} s is outside years 1-9999") from exc


def format_time(time_ns: int) -> str:
    """Go ``time.RFC3339Nano`` of a UTC Unix time in ns: ``2024-01-02T03:04:05.1234Z``, ``...05Z``."""
    seconds, frac = divmod(time_ns, 1_000_000_000)
    text = _seconds_text(seconds)
    return f"{text}.{frac:09d}".rstrip("0") + "Z" if frac else text + "Z"


def _go_json(value: object) -> bytes:
    if value is None:
        return b"null"
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, str | bytes):
        return go_json_string(value)
    if isinstance(value, Mapping):
        return b"{" + b",".join(go_json_string(k) + b":" + _go_json(v) for k, v in value.items()) + b"}"
    if isinstance(value, Sequence):
        return b"[" + b",".join(_go_json(v) for v in value) + b"]"
    raise TypeError(f"cannot write {type(value).__name__} as Go JSON")


def _go_map(mapping: Mapping[str, str]) -> dict[str, str]:
    """Go marshals a map with its keys sorted bytewise."""
    return {k: mapping[k] for k in sorted(mapping, key=_to_bytes)}


def marshal_attrs(attrs: Mapping[str, str]) -> bytes:
    """The raw ``attrs`` value (Go ``json.Marshal`` of a ``map[string]string``); empty bytes when there are none."""
    return _go_json(_go_map(attrs)) if attrs else b""


def encode_entry(log: str | bytes, stream: str, time_ns: int, raw_attrs: bytes = b"") -> bytes:
    """One ``JSONLogs`` object and its ``\\n``. ``log`` is written as given: add the line's ``\\n`` yourself."""
    fields = []
    if log:
        fields.append(b'"log":' + escape_log(log))
    if stream:
        fields.append(b'"stream":' + escape_log(stream))
    if raw_attrs:
        fields.append(b'"attrs":' + raw_attrs)
    fields.append(b'"time":"' + format_time(time_ns).encode() + b'"')
    return b"{" + b",".join(fields) + b"}\n"


def split_output(data: str | bytes) -> list[bytes]:
    """The ``log`` values the daemon makes from ``data`` written to one stream: per line, in 16 KiB chunks."""
    lines = _to_bytes(data).split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the data ended with a newline (or was empty)
    logs: list[bytes] = []
    for line in lines:
        full = len(line) // CHUNK_BYTES
        logs.extend(line[i * CHUNK_BYTES : (i + 1) * CHUNK_BYTES] for i in range(full))
        logs.append(line[full * CHUNK_BYTES :] + b"\n")
    return logs


def encode_entries(
    message: str | bytes, stream: str, time_ns: int, attrs: Mapping[str, str] | None = None
) -> list[bytes]:
    """The entries (each one line) for ``message`` written to ``stream`` at ``time_ns``; see ``split_output``."""
    raw_attrs = marshal_attrs(attrs) if attrs else b""
    return [encode_entry(log, stream, time_ns, raw_attrs) for log in split_output(message)]


def encode_record(message: str | bytes, stream: str, time_ns: int, attrs: Mapping[str, str] | None = None) -> bytes:
    """The bytes the json-file driver appends for one record; ``\\n`` at its end is optional."""
    return b"".join(encode_entries(message, stream, time_ns, attrs))


def encode_cri_line(content: str | bytes, stream: str, time_ns: int, *, partial: bool = False) -> bytes:
    """A Podman ``k8s-file`` line: 9-digit fraction, ``+00:00``, ``P`` for a partial line, raw content."""
    raw = _to_bytes(content)
    if b"\n" in raw:
        raise ValueError("a CRI log line cannot contain a newline; split the content first")
    seconds, frac = divmod(time_ns, 1_000_000_000)
    head = f"{_seconds_text(seconds)}.{frac:09d}+00:00 {stream} {'P' if partial else 'F'} "
    return head.encode() + raw + b"\n"


_ID_RE: Final = re.compile(r"[0-9a-f]{64}")
_NAME_RE: Final = re.compile(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]+")  # moby's RestrictedNamePattern
_TAG_RE: Final = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")


def container_dir(root: str | os.PathLike[str], container_id: str) -> Path:
    """``<root>/containers/<id>``; ``ValueError`` unless the id is 64 lowercase hex digits."""
    if not _ID_RE.fullmatch(container_id):
        raise ValueError(f"container id must be 64 lowercase hex digits, got {container_id!r}")
    return Path(root) / "containers" / container_id


def log_path(root: str | os.PathLike[str], container_id: str) -> Path:
    """``<root>/containers/<id>/<id>-json.log``."""
    return container_dir(root, container_id) / f"{container_id}-json.log"


def _short_id(full: str) -> str:
    return full.partition(":")[2][:12] if ":" in full else full[:12]  # moby stringid.TruncateID


@dataclass(frozen=True, slots=True)
class Container:
    """What ``config.v2.json`` records about one running container; ``name`` may omit the leading slash."""

    id: str
    name: str
    image: str
    created_ns: int
    labels: Mapping[str, str] = field(default_factory=dict)
    env: Sequence[str] = ()
    cmd: Sequence[str] = ()
    image_id: str = ""  # "sha256:<64 hex>"; derived from ``image`` when empty
    started_ns: int | None = None  # defaults to created_ns; a restart moves it
    pid: int = 0

    def __post_init__(self) -> None:
        container_dir(".", self.id)  # validates the id
        if not _NAME_RE.fullmatch(self.name):
            raise ValueError(f"container name must match [a-zA-Z0-9][a-zA-Z0-9_.-]+, got {self.name!r}")

    @property
    def docker_name(self) -> str:
        return "/" + self.name.removeprefix("/")

    @property
    def full_image_id(self) -> str:
        return self.image_id or "sha256:" + hashlib.sha256(self.image.encode()).hexdigest()


def log_attrs(container: Container, log_opts: Mapping[str, str]) -> dict[str, str]:
    """The ``attrs`` Docker adds for ``labels``/``labels-regex``/``env``/``env-regex``/``tag`` log options."""
    attrs: dict[str, str] = {}
    for key in filter(None, log_opts.get("labels", "").split(",")):
        if key in container.labels:
            attrs[key] = container.labels[key]
    if pattern := log_opts.get("labels-regex"):
        attrs.update((k, v) for k, v in container.labels.items() if re.search(pattern, k))
    env = dict(e.split("=", 1) for e in container.env if "=" in e)
    for key in filter(None, log_opts.get("env", "").split(",")):
        if key in env:
            attrs[key] = env[key]
    if pattern := log_opts.get("env-regex"):
        attrs.update((k, v) for k, v in env.items() if re.search(pattern, k))
    if tag := log_opts.get("tag"):
        fields = {
            "ID": container.id[:12], "FullID": container.id, "Name": container.docker_name[1:],
            "ImageID": _short_id(container.full_image_id), "ImageFullID": container.full_image_id,
            "ImageName": container.image, "DaemonName": "docker", "Command": " ".join(container.cmd),
        }  # fmt: skip
        unknown = [m for m in _TAG_RE.findall(tag) if m not in fields]
        if unknown or "{{" in _TAG_RE.sub("", tag):
            raise ValueError(f"unsupported log tag template {tag!r}")
        attrs["tag"] = _TAG_RE.sub(lambda m: fields[m.group(1)], tag)
    return attrs


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_container_config(
    root: str | os.PathLike[str],
    container: Container,
    log_opts: Mapping[str, str] | None = None,
    *,
    logpath_root: str | None = None,
) -> Path:
    """Write ``config.v2.json`` (0600) and ``hostconfig.json`` (0644); return the log file's path.

    ``logpath_root`` is the data-root written into ``LogPath`` (default: ``root`` made absolute), for when the
    files are mounted where a shipper expects ``/var/lib/docker``.
    """
    opts = dict(log_opts or {})
    if unknown := sorted(set(opts) - LOG_OPTS):
        raise ValueError(f"unknown log opt '{unknown[0]}' for json-file log driver")
    directory = container_dir(root, container.id)
    directory.mkdir(mode=0o710, parents=True, exist_ok=True)
    started = container.created_ns if container.started_ns is None else container.started_ns
    config = {
        "State": {
            "Running": True, "Pid": container.pid, "ExitCode": 0,
            "StartedAt": format_time(started), "FinishedAt": GO_ZERO_TIME,
        },
        "ID": container.id,
        "Created": format_time(container.created_ns),
        "Config": {
            "Hostname": container.id[:12], "Env": list(container.env), "Cmd": list(container.cmd),
            "Image": container.image, "Labels": _go_map(container.labels),
        },
        "Image": container.full_image_id,
        "LogPath": str(log_path(logpath_root or os.path.abspath(root), container.id)),
        "Name": container.docker_name,
        "Driver": "overlay2",
    }  # fmt: skip
    host_config = {
        "LogConfig": {"Type": "json-file", "Config": _go_map(opts)},
        "NetworkMode": "default",
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
    }
    _atomic_write(directory / "config.v2.json", _go_json(config), 0o600)
    _atomic_write(directory / "hostconfig.json", _go_json(host_config), 0o644)
    return log_path(root, container.id)

r"""A rotating, append-only log file that behaves like Docker's json-file driver (moby ``loggerutils.LogFile``).

Options, as ``--log-opt`` strings (``RotationPolicy.from_log_opts``):

- ``max-size``: go-units ``FromHumanSize``, so the units are decimal: ``512k`` is 512000 bytes, ``10m`` is
  10000000, ``1g`` is 10**9. Also accepted: ``1.5m``, ``10MB``, ``10 mib``. Unset means unlimited.
- ``max-file``: how many files to keep, the current one included (default 1).
- ``compress``: gzip the rotated files. Docker allows it only with ``max-file`` >= 2 and a ``max-size``.

Before each entry is written: if the current file has reached ``max-size``, the oldest rotated file
``<path>.<max-file - 1>[.gz]`` is deleted, ``.i-1`` is renamed to ``.i``, the current file becomes ``.1``,
and an empty current file is started. With ``max-file`` 1 the current file is removed instead. With
``compress``, ``.1`` is gzipped to ``.1.gz``. The gzip header carries ``FEXTRA = {"lastTime":"<RFC3339Nano>"}``
and OS byte 255, as Go's ``compress/gzip`` writes it. Docker compresses in the background; this writer does
it before it returns. One entry can push a file past ``max-size``, so the space used stays at or below
``max-file * (max-size + longest entry)``.

Every failure is raised as ``LogWriteError``, whose message is one line naming the path.
"""

import errno
import os
import re
import struct
import threading
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Self

_SIZE_RE: Final = re.compile(r"([0-9]+(?:\.[0-9]+)*) ?([kmgtp])?i?b?", re.IGNORECASE)
_DECIMAL: Final = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}
_TRUE: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})  # Go strconv.ParseBool
_FALSE: Final = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_TIME_KEY: Final = b'"time":"'


class LogWriteError(OSError):
    """A container log could not be written: directory unwritable, disk full, and so on."""

    def __str__(self) -> str:
        return f"cannot write container log {self.filename}: {self.strerror}"


def _error(exc: OSError, path: str | os.PathLike[str]) -> LogWriteError:
    return LogWriteError(exc.errno or errno.EIO, exc.strerror or str(exc), os.fspath(path))


def parse_size(text: str) -> int:
    """Bytes for a Docker ``max-size`` string (go-units ``FromHumanSize``: ``k`` = 1000)."""
    match = _SIZE_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid size: '{text}'")
    try:
        size = float(match.group(1))
    except ValueError as exc:  # "1.2.3" passes the regex, as in Go, and fails here
        raise ValueError(f"invalid size: '{text}'") from exc
    return int(size * _DECIMAL.get((match.group(2) or "").lower(), 1))


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    """``max_size`` in bytes (``None``: unlimited), ``max_file`` files kept, ``compress`` rotated files."""

    max_size: int | None = None
    max_file: int = 1
    compress: bool = False

    def __post_init__(self) -> None:
        if self.max_size is not None and self.max_size <= 0:
            raise ValueError("max-size must be a positive number")
        if self.max_file < 1:
            raise ValueError("max-file cannot be less than 1")
        if self.compress and (self.max_file == 1 or self.max_size is None):
            raise ValueError("compress cannot be true when max-file is less than 2 or max-size is not set")

    @classmethod
    def from_log_opts(cls, opts: Mapping[str, str]) -> Self:
        """Read ``max-size``, ``max-file`` and ``compress``; other json-file options are ignored here."""
        max_size = parse_size(opts["max-size"]) if "max-size" in opts else None
        max_file_text = opts.get("max-file", "1")
        if not re.fullmatch(r"[+-]?[0-9]+", max_file_text):  # Go strconv.Atoi
            raise ValueError(f"max-file: invalid number {max_file_text!r}")
        max_file = int(max_file_text)
        compress = opts.get("compress", "false")
        if compress not in _TRUE | _FALSE:
            raise ValueError(f"compress: invalid boolean {compress!r}")
        return cls(max_size, max_file, compress in _TRUE)


def _gzip_file(source: str, target: str, last_time: bytes) -> None:
    extra = b'{"lastTime":"' + last_time + b'"}'
    deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    crc, size = 0, 0
    with open(source, "rb") as src, open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640), "wb") as dst:
        dst.write(b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff" + struct.pack("<H", len(extra)) + extra)
        while chunk := src.read(1 << 16):
            crc, size = zlib.crc32(chunk, crc), size + len(chunk)
            dst.write(deflate.compress(chunk))
        dst.write(deflate.flush() + struct.pack("<II", crc, size & 0xFFFFFFFF))


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class RotatingLogWriter:
    """Appends whole entries to ``path`` and rotates it like the json-file driver; thread-safe.

    With ``buffer_size`` > 0, entries are collected until that many bytes are waiting (or ``flush()``), and
    only whole entries are ever written. The default 0 writes each entry at once, as Docker does.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        policy: RotationPolicy | None = None,
        *,
        buffer_size: int = 0,
        file_mode: int = 0o640,
    ) -> None:
        self.path = Path(path)
        self.policy = policy or RotationPolicy()
        self._name = os.fspath(self.path)
        self._buffer_size = buffer_size
        self._mode = file_mode
        self._pending = bytearray()
        self._last_entry = b""
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._closed = False
        self._size = 0
        try:
            self.path.parent.mkdir(mode=0o710, parents=True, exist_ok=True)
            self._reopen()
        except OSError as exc:
            raise _error(exc, self.path) from exc

    @property
    def size(self) -> int:
        """Bytes in the current file, counting entries still buffered."""
        return self._size

    def write(self, entry: bytes) -> None:
        """Append one entry (one line); rotate first if the current file has reached ``max-size``."""
        with self._lock:
            try:
                if self._fd is None:  # closed, or a failed rotation left no file open
                    self._reopen()
                limit = self.policy.max_size
                if limit is not None and self._size >= limit:
                    self._rotate()
                self._pending += entry
                self._size += len(entry)
                self._last_entry = entry
                if len(self._pending) >= self._buffer_size:
                    self._drain()
            except OSError as exc:
                raise _error(exc, self.path) from exc

    def writelines(self, entries: Iterable[bytes]) -> None:
        for entry in entries:
            self.write(entry)

    def flush(self) -> None:
        with self._lock:
            try:
                self._drain()
            except OSError as exc:
                raise _error(exc, self.path) from exc

    def close(self) -> None:
        with self._lock:
            try:
                self._drain()
            except OSError as exc:
                raise _error(exc, self.path) from exc
            finally:
                self._closed = True
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _open(self, flag: int) -> None:
        self._fd = os.open(self._name, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | flag, self._mode)

    def _reopen(self) -> None:
        if self._closed:
            raise OSError(errno.EBADF, "the writer is closed")
        self._open(os.O_APPEND)
        self._size = os.fstat(self._fd_or_raise()).st_size

    def _fd_or_raise(self) -> int:
        if self._fd is None:
            raise OSError(errno.EBADF, "the writer is closed")
        return self._fd

    def _drain(self) -> None:
        if not self._pending:
            return
        fd = self._fd_or_raise()
        data, self._pending = self._pending, bytearray()
        written = 0
        try:
            while written < len(data):
                written += os.write(fd, memoryview(data)[written:])
        finally:
            self._size -= len(data) - written  # what failed to reach the disk is dropped, as Docker drops it

    def _last_time(self) -> bytes:
        at = self._last_entry.rfind(_TIME_KEY)
        if at < 0:
            return b"0001-01-01T00:00:00Z"  # Go's zero time: nothing written since the writer started
        start = at + len(_TIME_KEY)
        return self._last_entry[start : self._last_entry.index(b'"', start)]

    def _rotate(self) -> None:
        self._drain()
        os.close(self._fd_or_raise())
        self._fd = None
        name, keep, ext = self._name, self.policy.max_file, ".gz" if self.policy.compress else ""
        if keep < 2:
            _remove(name)
        else:
            _remove(f"{name}.{keep - 1}{ext}")
            for i in range(keep - 1, 1, -1):
                try:
                    os.rename(f"{name}.{i - 1}{ext}", f"{name}.{i}{ext}")
                except FileNotFoundError:
                    pass
            os.rename(name, f"{name}.1")
        self._open(os.O_TRUNC | os.O_APPEND)
        self._size = 0
        if self.policy.compress:
            try:
                _gzip_file(f"{name}.1", f"{name}.1.gz", self._last_time())
            except OSError:
                _remove(f"{name}.1.gz")
                raise
            os.unlink(f"{name}.1")

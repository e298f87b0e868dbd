"""Chunk cut points (as Prometheus' head cuts them) and the ``chunks/`` segment files of a block.

Cutting, from tsdb/head_append.go (``memSeries.appendPreprocessor``, ``computeChunkEndTime``,
``rangeForTimestamp``) of 2.42: a chunk starts with ``nextAt = rangeForTimestamp(mint, chunkRange)`` (the end of
its head range, here the block's window); when it holds 30 samples (a quarter of the 120 it aims at) ``nextAt``
becomes ``start + (nextAt - start) / n`` with ``n = (nextAt - start) / ((last - start + 1) * 4)`` (``nextAt``
itself if n <= 1), and the sample at or past ``nextAt`` opens the next chunk. For regular steps that is 120
samples a chunk; a series starting late in a window gets fewer, longer chunks, which ``max_samples`` caps.

Segment files, from tsdb/chunks/chunks.go (``Writer.WriteChunks``, ``cutSegmentFile``) and
tsdb/docs/format/chunks.md: ``chunks/000001``, ``000002``...; each starts with magic 0x85BD40DD, version 1 and 3
zero bytes; a chunk is ``uvarint(len(data)) | encoding byte | data | CRC32C(encoding | data)`` big-endian. A
series' chunks are cut into a new segment when they would pass 512 MiB (counting 5 bytes for every length
field), as WriteChunks decides. A chunk's reference is ``segment index << 32 | offset`` (index from 0).
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np

from otelmock.tsdb.bits import put_uvarints, uvarint_len, words_to_bytes
from otelmock.tsdb.crc32c import crc32c_many
from otelmock.tsdb.xor import ENCODING, XorChunks

MAGIC = 0x85BD40DD
SEGMENT_HEADER = MAGIC.to_bytes(4, "big") + b"\x01\x00\x00\x00"
SEGMENT_SIZE = 512 * 1024 * 1024
SAMPLES_PER_CHUNK = 120
_MAX_LEN_FIELD = 5  # binary.MaxVarintLen32: WriteChunks' estimate of a length field


def _go_div(a: np.ndarray, b: int | np.ndarray) -> np.ndarray:
    """Go's integer division (truncates toward zero)."""
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (np.asarray(b) < 0), -q, q)


def cut(times: np.ndarray, starts: np.ndarray, lens: np.ndarray, window_end: int, chunk_range: int,
        max_samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut runs of samples into chunks as the head does. Run r is ``times[starts[r]:starts[r] + lens[r]]``
    (increasing, all before ``window_end``, runs laid end to end). Returns each chunk's run, first index into
    ``times`` and length, runs in order and each run's chunks in time order."""
    starts = np.asarray(starts, dtype=np.int64)
    ends = starts + np.asarray(lens, dtype=np.int64)
    run = np.arange(len(starts))
    # one increasing key over all runs, for the search of the first sample at or past nextAt
    span = int(window_end - times.min()) + 1 if len(times) else 1
    base = int(times.min()) if len(times) else 0
    key = np.repeat(run * span, ends - starts) + (times - base)
    out_run, out_first, out_len = [], [], []
    cur = starts.copy()
    live = cur < ends
    while live.any():
        run, cur, end = run[live], cur[live], ends[live]
        first = times[cur]
        next_at = (_go_div(first, chunk_range) + 1) * chunk_range  # rangeForTimestamp
        at30 = times[np.minimum(cur + 29, end - 1)]
        n = (next_at - first) // ((at30 - first + 1) * 4)
        next_at = np.where(n <= 1, next_at, first + (next_at - first) // np.maximum(n, 1))
        target = run * span + np.minimum(next_at - base, span)
        nxt = np.searchsorted(key, target, side="left")
        nxt = np.minimum(np.maximum(nxt, cur + 30), cur + max_samples)
        nxt = np.where(cur + 30 < end, np.minimum(nxt, end), end)
        out_run.append(run)
        out_first.append(cur)
        out_len.append(nxt - cur)
        cur, ends = nxt, end
        live = cur < ends
    r, f, ln = (np.concatenate(x) if x else np.zeros(0, np.int64) for x in (out_run, out_first, out_len))
    order = np.lexsort((f, r))
    return r[order], f[order], ln[order]


class SegmentWriter:
    """Appends chunk records to ``chunks/`` segment files, cutting segments as Prometheus' WriteChunks does."""

    def __init__(self, directory: Path, segment_size: int = SEGMENT_SIZE) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_size = segment_size
        self.seq = -1  # index of the current segment (file 000001 is index 0)
        self.n = 0  # bytes in the current segment
        self.file: BinaryIO | None = None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def _place(self, sizes: np.ndarray, est: np.ndarray, series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Segment index and offset of each record (a series' chunks together, in order)."""
        seq, n = (self.seq, self.n) if self.n else (self.seq + 1, len(SEGMENT_HEADER))  # the first segment
        if n + int(est.sum()) <= self.segment_size:  # no cut possible: the common case
            return np.full(len(sizes), seq), n + np.cumsum(sizes) - sizes
        seg = np.empty(len(sizes), dtype=np.int64)
        off = np.empty(len(sizes), dtype=np.int64)
        bounds = np.flatnonzero(np.r_[True, series[1:] != series[:-1], True]).tolist()
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            batch, first_batch, n0 = 0, True, n
            for i in range(a, b):  # WriteChunks: a new segment before a chunk that would not fit
                batch += int(est[i])
                cut_new = i != a and batch + len(SEGMENT_HEADER) > self.segment_size
                if first_batch and n0 > len(SEGMENT_HEADER):
                    cut_new = batch + n0 > self.segment_size
                    first_batch = first_batch and not cut_new
                if cut_new:
                    seq, n, batch = seq + 1, len(SEGMENT_HEADER), int(est[i])
                seg[i], off[i] = seq, n
                n += int(sizes[i])
        return seg, off

    def write(self, xc: XorChunks, series: np.ndarray) -> np.ndarray:
        """Append the chunks of ``xc`` (of series numbers ``series``, ascending) and return their references."""
        data = xc.nbytes
        lenlen = uvarint_len(data)
        sizes = lenlen + 1 + data + 4
        seg, off = self._place(sizes, data + _MAX_LEN_FIELD + 1 + 4, series)
        at = np.cumsum(sizes) - sizes  # the records laid end to end, then split by segment
        total = int(sizes.sum())
        words = np.zeros(total // 8 + xc.width * 3 + 4, dtype=np.uint64)  # slack: fields past chunk ends add 0
        enc = at + lenlen
        xc.write(words, enc + 1)
        buf = words_to_bytes(words)
        put_uvarints(buf, at, data)
        buf[enc] = ENCODING
        crc = crc32c_many(buf, enc, data + 1)
        buf[(enc + 1 + data)[:, None] + np.arange(4)] = crc.astype(">u4").view(np.uint8).reshape(-1, 4)
        bounds = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1], True]).tolist()
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            if int(seg[a]) != self.seq:
                self._cut()
            assert self.file is not None and self.n == int(off[a])
            end = int(at[b - 1] + sizes[b - 1])
            self.file.write(buf[int(at[a]) : end].tobytes())
            self.n += end - int(at[a])
        return (seg << 32) | off

    def _cut(self) -> None:
        self.close()
        self.seq += 1
        self.file = open(self.dir / f"{self.seq + 1:06d}", "wb")  # closed by close()
        self.file.write(SEGMENT_HEADER)
        self.n = len(SEGMENT_HEADER)

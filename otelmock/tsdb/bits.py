"""Vectorised building blocks of the TSDB encodings: Go varints, bit fields, byte segments.

* ``uvarint``/``varint`` are Go's ``encoding/binary`` PutUvarint/PutVarint: 7 bits a byte, low group first, the
  high bit set on every byte but the last; ``varint`` zig-zags first (``(x << 1) ^ (x >> 63)``).
* Bit fields are written most significant bit first, as ``bstream.writeBits`` does (tsdb/chunkenc/bstream.go):
  a stream is an array of uint64 words whose bit 63 is the stream's first bit, turned into bytes big-endian.
  Fields are added in with ``np.add.at`` (their bits are disjoint, so adding is ORing; numpy's ``add.at`` has
  a fast path, its ``bitwise_or.at`` has not).

numpy mixes uint64 with signed integers into float64, so shift counts here are always unsigned.
"""

from __future__ import annotations

import numpy as np

U64 = np.uint64
_SEVEN = np.array([1 << (7 * k) for k in range(1, 10)], dtype=np.uint64)


def zigzag(x: np.ndarray) -> np.ndarray:
    """int64 -> uint64 as Go's PutVarint encodes signed numbers."""
    x = np.asarray(x, dtype=np.int64)
    return ((x << 1) ^ (x >> 63)).view(np.uint64)


def uvarint_len(x: np.ndarray) -> np.ndarray:
    """Bytes of each uvarint (1..10), as int64."""
    x = np.asarray(x, dtype=np.uint64)
    n = np.ones(x.shape, dtype=np.int64)
    for bound in _SEVEN:
        n += x >= bound
    return n


def put_uvarints(buf: np.ndarray, pos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Write the uvarint of each ``x`` into the uint8 ``buf`` at ``pos``; returns the lengths."""
    x = np.asarray(x, dtype=np.uint64)
    pos = np.asarray(pos, dtype=np.int64)
    n = uvarint_len(x)
    top = int(n.max()) if len(n) else 0
    for k in range(top):
        sel = n > k if k else slice(None)
        b = ((x[sel] >> U64(7 * k)) & U64(0x7F)).astype(np.uint8)
        b |= np.where(n[sel] > k + 1, np.uint8(0x80), np.uint8(0))
        buf[pos[sel] + k] = b
    return n


def uvarint_bytes(x: int) -> bytes:
    """One uvarint, in Python."""
    out = bytearray()
    while x >= 0x80:
        out.append((x & 0x7F) | 0x80)
        x >>= 7
    out.append(x)
    return bytes(out)


def uvarint_fields(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each uvarint as bit fields: its first up to 8 bytes (value, bits), then the rest (value, bits; often 0)."""
    x = np.asarray(x, dtype=np.uint64)
    n = uvarint_len(x)
    hi = np.zeros(x.shape, dtype=np.uint64)
    lo = np.zeros(x.shape, dtype=np.uint64)
    for k in range(int(n.max()) if len(n) else 0):
        b = (x >> U64(7 * k)) & U64(0x7F)
        b |= np.where(n > k + 1, U64(0x80), U64(0))
        on = n > k
        if k < 8:
            hi = np.where(on, (hi << U64(8)) | b, hi)
        else:
            lo = np.where(on, (lo << U64(8)) | b, lo)
    return hi, 8 * np.minimum(n, 8), lo, 8 * np.maximum(n - 8, 0)


def put(words: np.ndarray, pos: np.ndarray, val: np.ndarray, nbits: np.ndarray) -> None:
    """Add bit fields into ``words``: the low ``nbits`` (0..64) bits of ``val``, most significant first, at
    stream bit ``pos`` (>= 0). Fields must not overlap; zero-bit fields must have value 0 (and may lie anywhere
    up to the end of ``words`` less one). numpy defines shifts by 64 or more as giving 0."""
    pos = np.asarray(pos, dtype=np.int64).ravel()
    if len(pos) == 0:
        return
    s = pos.view(np.uint64) & U64(63)
    aligned = np.asarray(val, dtype=np.uint64).ravel() << (np.uint8(64) - np.asarray(nbits, dtype=np.uint8).ravel())
    w = pos >> 6
    np.add.at(words, w, aligned >> s)
    w += 1
    np.add.at(words, w, aligned << (U64(64) - s))


def words_to_bytes(words: np.ndarray) -> np.ndarray:
    """The stream of ``words`` as bytes (uint8 view of a big-endian copy)."""
    return words.astype(">u8").view(np.uint8)


def gather(src: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The byte segments ``src[starts[i]:starts[i] + lengths[i]]`` concatenated."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.uint8)
    out_starts = np.cumsum(lengths) - lengths
    idx = np.repeat(np.asarray(starts, dtype=np.int64) - out_starts, lengths) + np.arange(total, dtype=np.int64)
    return src[idx]

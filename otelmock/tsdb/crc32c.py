"""CRC-32C (Castagnoli), the checksum of every chunk and index section of a Prometheus TSDB block.

Prometheus builds it with ``crc32.MakeTable(crc32.Castagnoli)`` (tsdb/chunks/chunks.go, tsdb/index/index.go) and
stores it big-endian (tsdb/docs/format/chunks.md). zlib only has the IEEE polynomial, so this is table driven:
the reflected polynomial 0x82F63B78, init 0xFFFFFFFF, final xor 0xFFFFFFFF.

Speed comes from two facts:

* A step over 4 bytes is ``c = L(c ^ word)`` with ``L`` linear, so two 65536-entry tables (low and high half of
  the register) do 4 bytes in two lookups.
* Many messages are checksummed at once, one numpy operation per 4-byte column across all of them
  (:func:`crc32c_many`). A message is read from its start minus ``p`` bytes (``p`` makes its length a multiple
  of 4); those leading bytes are masked to zero, which leaves a register starting at 0 untouched. The init value
  0xFFFFFFFF is folded in by complementing the first 4 message bytes (CRC linearity: starting from register
  ``x`` equals starting from 0 with ``x`` xored into the first 4 bytes).

One long message (an index section) is cut into equal pieces that are checksummed together, then combined with
the "append n zero bytes" map (:func:`crc32c`).
"""

from __future__ import annotations

import numpy as np

POLY = 0x82F63B78
_MASK = 0xFFFFFFFF


def _byte_table() -> np.ndarray:
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(POLY), t >> 1).astype(np.uint32)
    return t


T8 = _byte_table()


def _zero_bytes(c: np.ndarray, n: int) -> np.ndarray:
    """The registers ``c`` after ``n`` zero bytes."""
    for _ in range(n):
        c = T8[c & 0xFF] ^ (c >> 8)
    return c


_HALF = np.arange(65536, dtype=np.uint32)
TLO = _zero_bytes(_HALF, 4)  # L(x) for x < 2**16
THI = _zero_bytes(_HALF << 16, 4)  # L(x << 16)
# the register 0xFFFFFFFF after 0..3 bytes: the init term of messages too short for the complement trick
_INIT_SHORT = np.array([int(_zero_bytes(np.array([_MASK], np.uint32), n)[0]) for n in range(4)], np.uint32)


def _step(c: np.ndarray) -> np.ndarray:
    return TLO[c & 0xFFFF] ^ THI[c >> 16]


def _words(buf: np.ndarray) -> tuple[np.ndarray, int]:
    """The buffer as aligned little-endian words four times, shifted by 0..3 bytes: the word at byte offset x is
    ``words[(x & 3) * q + (x >> 2)]``. (Gathers from a byte-strided uint32 view are several times slower.)"""
    q = (len(buf) - 3) // 4
    words = np.empty(4 * q, dtype=np.uint32)
    for k in range(4):
        words[k * q : (k + 1) * q] = buf[k : k + 4 * q].view("<u4")
    return words, q


def _raw(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, init: bool) -> np.ndarray:
    """The CRC registers after each message, without the final xor; started from 0xFFFFFFFF if ``init``, else 0."""
    out = np.zeros(len(starts), dtype=np.uint32)
    if len(starts) == 0:
        return out
    pad = -lengths % 4
    if int((starts - pad).min()) < 0 or int((starts + lengths).max()) + 4 > len(buf):
        # room for the 4-byte reads before the first and past the last message
        padded = np.zeros(len(buf) + 8, dtype=np.uint8)
        padded[4 : 4 + len(buf)] = buf
        return _raw(padded, starts + 4, lengths, init)
    words, q = _words(buf)
    nwords = (lengths + pad) // 4
    order = np.argsort(-nwords, kind="stable")
    base = (starts - pad)[order]
    at = (base & 3) * q + (base >> 2)
    nw = nwords[order]
    keep = (np.uint64(_MASK) << (pad[order].astype(np.uint64) * np.uint64(8))).astype(np.uint32)
    # init: complement the first 4 message bytes (word 0 from byte p on, word 1 below byte p)
    long_ = (lengths[order] >= 4) & init
    flip0 = np.where(long_, keep, 0).astype(np.uint32)
    flip1 = np.where(long_, ~keep, 0).astype(np.uint32)
    steps = int(nw[0])
    active = len(nw) - np.searchsorted(nw[::-1], np.arange(steps), side="right")  # how many have nw > j
    crc = np.zeros(len(nw), dtype=np.uint32)
    for j in range(steps):
        n = int(active[j])
        w = words[at[:n] + j]
        if j == 0:
            w = (w & keep[:n]) ^ flip0[:n]
        elif j == 1:
            w ^= flip1[:n]
        crc[:n] = _step(crc[:n] ^ w)
    if init:  # messages under 4 bytes: add the init value's term directly
        short = lengths[order] < 4
        crc[short] ^= _INIT_SHORT[lengths[order][short]]
    out[order] = crc
    return out


def crc32c_many(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """CRC-32C of ``buf[starts[i]:starts[i] + lengths[i]]`` for every i, as uint32.

    ``buf`` is a contiguous uint8 array; messages must lie inside it (they may overlap).
    """
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    return _raw(buf, starts, lengths, True) ^ np.uint32(_MASK)


_PIECE = 4096
_shift_tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _shift_table(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Tables of the linear map "append n zero bytes" on a register, by its low and high 16 bits."""
    if n not in _shift_tables:
        basis = _zero_bytes(np.uint32(1) << np.arange(32, dtype=np.uint32), n)
        lo = np.zeros(65536, dtype=np.uint32)
        hi = np.zeros(65536, dtype=np.uint32)
        for b in range(16):
            set_ = (_HALF >> np.uint32(b)) & 1 == 1
            lo[set_] ^= basis[b]
            hi[set_] ^= basis[16 + b]
        _shift_tables[n] = (lo, hi)
    return _shift_tables[n]


def crc32c(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """CRC-32C of one message of any length."""
    buf = data.view(np.uint8).ravel() if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
    m = len(buf)
    if m <= 2 * _PIECE:
        return int(crc32c_many(buf, np.zeros(1, np.int64), np.array([m], np.int64))[0])
    k = -(-m // _PIECE)
    front = k * _PIECE - m  # leading zeros leave a register at 0 as it is
    padded = np.zeros(k * _PIECE + 8, dtype=np.uint8)
    padded[front : front + m] = buf
    padded[front : front + 4] ^= 0xFF  # the init value, as in _raw
    raw = _raw(padded, np.arange(k, dtype=np.int64) * _PIECE, np.full(k, _PIECE, np.int64), False)
    lo, hi = _shift_table(_PIECE)
    c = 0
    for r in raw.tolist():
        c = int(lo[c & 0xFFFF] ^ hi[c >> 16]) ^ r
    return c ^ _MASK

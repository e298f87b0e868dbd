"""CRC-32C (Castagnoli), the checksum of every chunk and index section of a Prometheus TSDB block.

Prometheus builds it with ``crc32.MakeTable(crc32.Castagnoli)`` (tsdb/chunks/chunks.go, tsdb/index/index.go) and
stores it big-endian (tsdb/docs/format/chunks.md). zlib only has the IEEE polynomial, so this is table driven
(reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF) and vectorised with numpy across many messages:

* The register is linear over GF(2). Four bytes at once are ``c = L(c ^ word)``, two lookups in 65536-entry
  tables of ``L`` (by the register's low and high half).
* Every message is cut into pieces of at most ``PIECE`` bytes, laid back to front (the first piece takes the
  remainder). All pieces are checksummed together, one numpy step per 4-byte column, from register 0; a piece
  whose length is not a multiple of 4 is read from up to 3 bytes earlier, those bytes masked to zero (zeros
  leave a zero register as it is).
* The pieces of a message are combined pairwise from its end, ``crc(a | b) = Z(crc(a), len(b)) ^ crc(b)`` where
  ``Z(x, n)`` appends n zero bytes, a linear map tabled for ``n = PIECE * 2^level`` (by squaring).
* The init value 0xFFFFFFFF equals complementing the message's first 4 bytes; messages under 4 bytes get its
  term added instead.
"""

from __future__ import annotations

import numpy as np

POLY = 0x82F63B78
PIECE = 128  # bytes: a multiple of 4
_MASK = 0xFFFFFFFF


def _byte_table() -> np.ndarray:
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(POLY), t >> 1).astype(np.uint32)
    return t


T8 = _byte_table()


def _zero_bytes(c: np.ndarray, n: int) -> np.ndarray:
    """The registers ``c`` after ``n`` zero bytes (a byte at a time; for building tables)."""
    for _ in range(n):
        c = T8[c & 0xFF] ^ (c >> 8)
    return c


_HALF = np.arange(65536, dtype=np.uint32)
TLO = _zero_bytes(_HALF, 4)  # L(x) for x < 2**16
THI = _zero_bytes(_HALF << 16, 4)  # L(x << 16)
# the init register 0xFFFFFFFF after 0..3 bytes: its term in messages too short for the complement
_INIT_SHORT = np.array([int(_zero_bytes(np.array([_MASK], np.uint32), n)[0]) for n in range(4)], np.uint32)
_BITS = np.uint32(1) << np.arange(32, dtype=np.uint32)


def _byte_tables(basis: np.ndarray) -> np.ndarray:
    """A linear map, given by the images of the 32 register bits, as four 256-entry tables (one a byte)."""
    v = np.arange(256, dtype=np.uint32)
    tables = np.zeros((4, 256), dtype=np.uint32)
    for lane in range(4):
        for i in range(8):
            tables[lane] ^= np.where(v & (1 << i), basis[8 * lane + i], np.uint32(0))
    return tables


_levels: list[np.ndarray] = []  # byte tables of Z(., PIECE * 2**level)


def _shift_level(level: int) -> np.ndarray:
    while len(_levels) <= level:
        if not _levels:
            basis = _zero_bytes(_BITS, PIECE)
        else:  # Z(., 2n) = Z(Z(., n), n)
            prev = _levels[-1]
            basis = _lookup(prev, _lookup(prev, _BITS))
        _levels.append(_byte_tables(basis))
    return _levels[level]


def _lookup(tables: np.ndarray, x: np.ndarray) -> np.ndarray:
    return tables[0][x & 0xFF] ^ tables[1][(x >> 8) & 0xFF] ^ tables[2][(x >> 16) & 0xFF] ^ tables[3][x >> 24]


def _pieces_raw(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, flip: np.ndarray) -> np.ndarray:
    """Registers after each piece, from register 0 (no init, no final xor); ``flip``: complement the piece's
    first 4 bytes (the init value of its message). ``buf`` must extend 4 * (PIECE / 4 + 1) bytes past the end
    of the last piece and 3 bytes before the first."""
    pad = -lengths % 4
    nwords = (lengths + pad) // 4
    order = np.argsort((PIECE // 4 + 1 - nwords).astype(np.uint8), kind="stable")  # longest first (radix sort)
    nw = nwords[order]
    steps = int(nw[0]) if len(nw) else 0
    if steps == 0:
        return np.zeros(len(nw), dtype=np.uint32)
    # each piece's bytes as a row of words (rows read memory in order), then transposed: word j of all pieces
    rows = np.lib.stride_tricks.sliding_window_view(buf, 4 * steps)[(starts - pad)[order]].view("<u4")
    cols = np.ascontiguousarray(rows.T)
    keep = (np.uint64(_MASK) << (pad[order].astype(np.uint64) * np.uint64(8))).astype(np.uint32)
    fl = flip[order]
    cols[0] &= keep
    cols[0] ^= np.where(fl, keep, 0).astype(np.uint32)  # the init complement: word 0 from byte p on,
    if steps > 1:
        cols[1] ^= np.where(fl, ~keep, 0).astype(np.uint32)  # word 1 below byte p
    active = len(nw) - np.searchsorted(nw[::-1], np.arange(steps), side="right")  # how many have nw > j
    crc = np.zeros(len(nw), dtype=np.uint32)
    for j in range(steps):
        n = int(active[j])
        c = crc[:n] ^ cols[j, :n]
        crc[:n] = TLO[c & 0xFFFF] ^ THI[c >> 16]
    out = np.empty_like(crc)
    out[order] = crc
    return out


def crc32c_many(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """CRC-32C of ``buf[starts[i]:starts[i] + lengths[i]]`` for every i, as uint32.

    ``buf`` is a contiguous uint8 array; messages must lie inside it (they may overlap).
    """
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(starts) == 0:
        return np.zeros(0, dtype=np.uint32)
    # a copy of the span the messages cover, with room for the reads around them
    lo = int(starts.min()) - 3
    hi = int((starts + lengths).max())
    span = np.zeros(hi - lo + 4 * (PIECE // 4 + 1) + 4, dtype=np.uint8)
    a, b = max(lo, 0), min(hi, len(buf))
    span[a - lo : b - lo] = buf[a:b]
    starts = starts - lo
    # pieces: the first takes the remainder (4 .. PIECE + 3 bytes, so it holds the init complement whole)
    head = np.where(lengths <= PIECE + 3, lengths, (lengths - 4) % PIECE + 4)
    count = 1 + (lengths - head) // PIECE
    msg = np.repeat(np.arange(len(starts)), count)
    first = np.cumsum(count) - count
    j = np.arange(len(msg)) - first[msg]  # piece number in its message
    p_len = np.where(j == 0, head[msg], PIECE)
    p_start = starts[msg] + np.where(j == 0, 0, head[msg] + (j - 1) * PIECE)
    val = _pieces_raw(span, p_start, p_len, (j == 0) & (lengths[msg] >= 4))
    # combine from the end: at each level, element k (from the end) takes k + 1 on its left
    k = count[msg] - 1 - j
    level = 0
    while len(val) > len(starts):
        keep = k % 2 == 0
        idx = np.flatnonzero(keep)
        has_left = idx > 0
        has_left[has_left] = msg[idx[has_left] - 1] == msg[idx[has_left]]
        new = val[idx]
        left = idx[has_left] - 1
        new[has_left] ^= _lookup(_shift_level(level), val[left])
        val, msg, k = new, msg[idx], k[idx] // 2
        level += 1
    short = lengths < 4
    val[short] ^= _INIT_SHORT[lengths[short]]
    return val ^ np.uint32(_MASK)


def crc32c(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """CRC-32C of one message."""
    buf = data.view(np.uint8).ravel() if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
    return int(crc32c_many(buf, np.zeros(1, np.int64), np.array([len(buf)], np.int64))[0])

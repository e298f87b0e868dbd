"""Gorilla/XOR chunk encoding (Prometheus chunk encoding 1), vectorised across the samples of many chunks.

Follows prometheus/tsdb/chunkenc/xor.go (``xorAppender.Append``, ``writeVDelta``) and bstream.go as of 2.42;
the layout is tsdb/docs/format/chunks.md ("XOR chunk data"):

* 2 bytes big-endian: the number of samples;
* sample 0: varint timestamp, then the 64 value bits;
* sample 1: uvarint of the time delta, then the value as below;
* sample n >= 2: delta of deltas ``dod`` of the timestamps: ``0`` if 0, else ``10`` + 14 bits, ``110`` + 17,
  ``1110`` + 20 (two's complement, range ``-(2^(b-1)-1) .. 2^(b-1)``), else ``1111`` + 64 bits; then the value;
* a value is xored with the previous one: ``0`` if equal; else ``1``, then ``0`` + the meaningful bits if they
  fit the window (leading, trailing zeros) of the last value that opened one, else ``1`` + 5 bits leading zeros
  (clamped to 31) + 6 bits significant-bit count (64 written as 0) + the bits, which opens a new window. A chunk
  starts with no window (leading 0xff), so its first non-zero xor opens one.

Chunks are rows of a (C, W) matrix, so every rule is array arithmetic, except the window rule: a recurrence, run
as a loop over the W sample positions (vectorised across chunks). Timestamps are given once per group of chunks
that share them (all fully present series of a block cut alike), so their encoding costs little. Fields are
added into 64-bit words; their bits are disjoint, so adding is ORing.

One bstream detail decides the byte length: ``writeByte`` on a byte-aligned stream leaves an empty byte behind
(it writes the byte and appends the next one), ``writeBit`` does not. A chunk ending on a byte boundary after a
``writeBits`` of a multiple of 8 bits (a one-sample chunk; a last value of 8, 16, ... meaningful bits) is one zero
byte longer than its bits.
"""

from __future__ import annotations

import numpy as np

from otelmock.tsdb.bits import U64, put, uvarint_fields, uvarint_len, zigzag

ENCODING = 1  # chunkenc.EncXOR

# delta-of-delta buckets: (largest positive value, bits, prefix)
_DOD_BUCKETS = ((1 << 13, 14, 0b10), (1 << 16, 17, 0b110), (1 << 19, 20, 0b1110))


def _lead_trail(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leading zeros clamped to 31 (as xor.go clamps them) and trailing zeros of non-zero uint64, as uint8.

    With the clamp only the high bits matter: ``x >> 33`` converts to float64 exactly, and its exponent (the top
    16 bits of the float hold sign, exponent and 4 mantissa bits) gives the leading zeros. Trailing zeros are
    the bits set by ``x ^ (x - 1)``, less one."""
    top = (x >> U64(33)).astype(np.int32).astype(np.float64).view(np.uint16)[..., 3::4]
    lead = (np.minimum(np.uint16(((1023 + 30) << 4) | 15) - top, np.uint16(31 << 4)) >> np.uint16(4))
    trail = np.bitwise_count(x ^ (x - U64(1))) - np.uint8(1)
    return lead.astype(np.uint8), trail


def _windows(lead: np.ndarray, trail: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Position by position (rows), each chunk's window after each xor (leading, trailing zeros) and whether
    that xor opened it. Zero xors and padding carry lead = trail = 255, which never opens a window.

    A row is blended from the previous one with a 0/255 byte mask (``p ^ ((p ^ new) & mask)``): numpy's masked
    copies are ten times slower than three plain byte operations."""
    rows, cols = lead.shape
    lw = np.empty((rows + 1, cols), dtype=np.uint8)
    tw = np.empty((rows + 1, cols), dtype=np.uint8)
    lw[0] = 0xFF  # no window yet: the first non-zero xor opens one
    tw[0] = 0
    opens = np.empty(lead.shape, dtype=bool)
    mask = np.empty(cols, dtype=np.uint8)
    for q in range(rows):
        o = opens[q]
        np.less(lead[q], lw[q], out=o)
        o |= trail[q] < tw[q]
        np.negative(o.view(np.uint8), out=mask)
        for w, new in ((lw, lead[q]), (tw, trail[q])):
            np.bitwise_xor(w[q], new, out=w[q + 1])
            w[q + 1] &= mask
            w[q + 1] ^= w[q]
    return lw[1:], tw[1:], opens


def _timestamps(times: np.ndarray, used: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bits of each timestamp of each time group (G, W, the first ``used[g]`` used), and the fields of its delta
    of deltas (columns 2 on: value, or the 64 raw bits for the widest bucket; 0 where the dod is 0 or unused)."""
    groups, width = times.shape
    tb = np.zeros((groups, width), dtype=np.int64)
    dodval = np.zeros((groups, width), dtype=np.uint64)
    tb[:, 0] = 8 * uvarint_len(zigzag(times[:, 0])) + 64
    if width >= 2:
        tb[:, 1] = 8 * uvarint_len(times[:, 1] - times[:, 0])
    if width >= 3:
        dt = times[:, 1:] - times[:, :-1]
        dod = dt[:, 1:] - dt[:, :-1]
        dod[np.arange(2, width)[None, :] >= used[:, None]] = 0
        bits = np.full(dod.shape, 68, dtype=np.int64)
        bits[dod == 0] = 1
        val = dod.view(np.uint64).copy()
        val[dod == 0] = 0
        for top, nb, prefix in reversed(_DOD_BUCKETS):
            fits = (dod >= -(top - 1)) & (dod <= top) & (dod != 0)
            bits[fits] = nb + prefix.bit_length()
            val[fits] = (U64(prefix) << U64(nb)) | (dod[fits].view(np.uint64) & U64((1 << nb) - 1))
        tb[:, 2:] = bits
        dodval[:, 2:] = val
    return tb, dodval


class XorChunks:
    """The XOR encoding of C chunks: chunk c holds ``lens[c]`` samples, values ``u[c, :lens[c]]`` (float64 bits
    as uint64, shape (C, W)) at times ``times[tgroup[c], :lens[c]]`` (int64 ms, shape (G, W)). Entries past a
    chunk's length are ignored.

    :attr:`nbytes` is each chunk's data length (header included); :meth:`write` adds the data into a zeroed
    uint64 word stream at given byte offsets (past the last chunk the stream needs ``3 * W`` spare words:
    positions past a chunk's end are computed for all W samples, though only zeros are added there).
    """

    def __init__(self, u: np.ndarray, lens: np.ndarray, times: np.ndarray, tgroup: np.ndarray) -> None:
        lens = np.asarray(lens, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        tgroup = np.asarray(tgroup, dtype=np.int64)
        count, width = u.shape
        self.lens, self.width, self.tgroup, self.times = lens, width, tgroup, times
        self.u0 = u[:, 0]
        rows = np.arange(count)
        used = np.zeros(len(times), dtype=np.int64)
        np.maximum.at(used, tgroup, lens)
        self.tb, self.dodval = _timestamps(times, used)
        self.ctb = np.cumsum(self.tb, axis=1)  # bits up to and with each timestamp, per time group
        chunk_bits = self.ctb[tgroup, lens - 1]
        tail = lens == 1
        if width >= 2:
            vd = u[:, 1:] ^ u[:, :-1]
            if int(lens.min()) < width:
                vd[np.arange(1, width)[None, :] >= lens[:, None]] = 0
            self._values(vd)
            cvb = np.cumsum(self.vb.ravel(), dtype=np.int64).reshape(vd.shape)
            cvb -= cvb[:, :1] - self.vb[:, :1]  # inclusive, per chunk
            self.vbit = self.ctb[tgroup, 1:] + (cvb - self.vb)  # where each value starts in its chunk (C, W-1)
            last = np.maximum(lens - 2, 0)
            two = lens >= 2
            chunk_bits = chunk_bits + cvb[rows, last] * two
            tail |= two & (vd[rows, last] != 0) & (self.me[rows, last] % 8 == 0)
        # the empty byte writeByte leaves behind (see the module docstring)
        extra = (chunk_bits % 8 == 0) & tail
        self.nbytes = 2 + (chunk_bits + 7) // 8 + extra

    def _values(self, vd: np.ndarray) -> None:
        """The value fields of samples 1 on, from their xors with the previous value (C, W-1). Byte arithmetic
        with 0/1 and 0/255 masks stands in for np.where, which is several times slower."""
        nz = (vd != 0).view(np.uint8)
        lead, trail = _lead_trail(vd)
        zero = nz - np.uint8(1)  # 255 where the xor is 0
        lead |= zero
        trail |= zero
        lw, tw, opens = (np.ascontiguousarray(a.T) for a in _windows(np.ascontiguousarray(lead.T),
                                                                      np.ascontiguousarray(trail.T)))
        op = opens.view(np.uint8)
        me = (np.uint8(64) - lw - tw) & ~zero  # meaningful bits written (0 for a zero xor)
        hb = nz + np.uint8(1) + np.uint8(11) * op  # control bits: 0 / 10 / 11 + 5 + 6
        # the header: 2 (reuse), or 0b11 + 5 bits leading zeros + 6 bits significant bits (opens), or 0
        hdr = op * ((lw.astype(np.uint16) << 6) | (me & np.uint8(63)) | np.uint16(3 << 11))
        hdr += (nz - op) << np.uint8(1)
        hdr = hdr.astype(np.uint64)
        payload = vd >> tw
        vb = hb + me
        self.vb = vb
        self.split = vb > 64  # header and payload as two fields
        self.merged = (hdr << me) | payload
        self.merged_bits = vb
        if self.split.any():
            self.merged[self.split] = hdr[self.split]
            self.merged_bits = np.where(self.split, hb, vb)
        self.payload, self.hb, self.me = payload, hb, me

    def write(self, words: np.ndarray, offsets: np.ndarray) -> None:
        """Add the chunks into ``words`` (stream bit 0 = bit 63 of words[0]), chunk c's data at byte offsets[c]."""
        head = 8 * np.asarray(offsets, dtype=np.int64) + 16  # where the samples start
        count = len(head)
        put(words, head - 16, self.lens.astype(np.uint64), np.full(count, 16))
        hi, hb, lo, lb = uvarint_fields(zigzag(self.times[self.tgroup, 0]))
        put(words, head, hi, hb)
        put(words, head + hb, lo, lb)
        put(words, head + hb + lb, self.u0, np.full(count, 64))
        if self.width < 2:
            return
        two = self.lens >= 2
        g = self.tgroup[two]
        at = head[two] + self.ctb[g, 0]
        hi, hb, lo, lb = uvarint_fields(self.times[g, 1] - self.times[g, 0])
        put(words, at, hi, hb)
        put(words, at + hb, lo, lb)
        if self.dodval.any():  # timestamps whose delta of deltas is not 0 (none for regular steps)
            dod = self.dodval[self.tgroup] != 0
            dod &= np.arange(self.width)[None, :] < self.lens[:, None]
            c, p = np.nonzero(dod)
            g = self.tgroup[c]
            bits, val = self.tb[g, p], self.dodval[g, p]
            at = head[c] + self.vbit[c, p - 1] - bits  # right before the sample's value
            wide = bits == 68
            put(words, at, np.where(wide, U64(0b1111), val), np.where(wide, 4, bits))
            put(words, at[wide] + 4, val[wide], np.full(int(wide.sum()), 64))
        vstart = head[:, None] + self.vbit
        put(words, vstart, self.merged, self.merged_bits)
        if self.split.any():
            split = self.split
            put(words, vstart[split] + self.hb[split], self.payload[split], self.me[split])

"""Prometheus TSDB blocks from arrays: :func:`write_blocks`, plus ``meta.json``, ``tombstones`` and the ULID.

A block (tsdb/docs/format/README.md, tsdb/block.go) is a directory named by a ULID holding ``meta.json``,
``index`` (:mod:`.index`), ``chunks/`` (:mod:`.chunks`) and ``tombstones``. As Prometheus 2.42's compactor writes
them (tsdb/compact.go ``LeveledCompactor.write``, tsdb/block.go ``writeMetaFile``):

* ``meta.json``: ``json.MarshalIndent(meta, "", "\\t")``, no trailing newline: ulid, minTime, maxTime (the last
  sample + 1), stats (numSamples, numSeries, numChunks), compaction (level 1, sources: itself), version 1;
* ``tombstones`` (tsdb/docs/format/tombstones.md): magic 0x0130BA30, version 1, the CRC32C of no tombstones;
* written under ``<ulid>.tmp-for-creation`` and renamed, as Prometheus does (it deletes such leftovers).

A ULID (github.com/oklog/ulid) is 48 bits of Unix milliseconds and 80 random bits, 26 characters of Crockford
base32. Blocks cover ``block_ms``-aligned windows (``floor(t / block_ms) * block_ms``, as promtool aligns).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from otelmock.tsdb.chunks import SAMPLES_PER_CHUNK, SEGMENT_SIZE, SegmentWriter, cut
from otelmock.tsdb.index import Symbols, write_index
from otelmock.tsdb.xor import XorChunks

TOMBSTONES = (0x0130BA30).to_bytes(4, "big") + b"\x01" + bytes(4)  # no tombstones: CRC32C of nothing is 0
BATCH_SAMPLES = 500_000  # samples encoded at once: large enough for numpy, small enough for the caches
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")

Labels = tuple[tuple[str, str], ...]


def new_ulid(ms: int | None = None) -> str:
    """A ULID: 48-bit Unix time in ms, then 80 random bits, in Crockford base32 (26 characters)."""
    ms = int(time.time() * 1000) if ms is None else ms
    n = (ms & (2**48 - 1)) << 80 | secrets.randbits(80)
    return "".join(_CROCKFORD[(n >> (125 - 5 * i)) & 31] for i in range(26))


def _normalise(labels: Sequence[Mapping[str, str]]) -> list[Labels]:
    """Labels sorted by name, empty values dropped (as Prometheus drops them); checked."""
    out = []
    for i, lset in enumerate(labels):
        pairs = tuple(sorted((str(k), str(v)) for k, v in lset.items() if v != ""))
        for k, v in pairs:
            if not _LABEL_NAME.match(k):
                raise ValueError(f"labels[{i}]: invalid label name {k!r}")
            try:
                v.encode()
            except UnicodeEncodeError:
                raise ValueError(f"labels[{i}]: label {k} has a value that is not valid UTF-8: {v!r}") from None
        name = dict(pairs).get("__name__")
        if name is None or not _METRIC_NAME.match(name):
            raise ValueError(f"labels[{i}]: missing or invalid metric name (__name__={name!r})")
        out.append(pairs)
    return out


def _series_text(lset: Labels) -> str:
    d = dict(lset)
    rest = ", ".join(f'{k}="{v}"' for k, v in lset if k != "__name__")
    return f"{d['__name__']}{{{rest}}}"


def _check(labels: Sequence[Mapping[str, str]], times: np.ndarray, values: np.ndarray,
           block_ms: int) -> tuple[list[Labels], np.ndarray, np.ndarray]:
    t = np.asarray(times)
    v = np.asarray(values)
    if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"times_ms must be a 1-D integer array (got {t.dtype} of shape {t.shape})")
    if v.dtype != np.float64 or v.ndim != 2:
        raise ValueError(f"values must be a 2-D float64 array (got {v.dtype} of shape {v.shape})")
    if v.shape != (len(labels), len(t)):
        raise ValueError(f"values has shape {v.shape}, expected (len(labels), len(times_ms)) = "
                         f"{(len(labels), len(t))}")
    t = t.astype(np.int64)
    bad = np.flatnonzero(np.diff(t) <= 0)
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"times_ms must be strictly increasing: times_ms[{i}] = {t[i]}, "
                         f"times_ms[{i + 1}] = {t[i + 1]}")
    if int(block_ms) <= 0:
        raise ValueError(f"block_ms must be positive (got {block_ms})")
    norm = _normalise(labels)
    seen: dict[Labels, int] = {}
    for i, lset in enumerate(norm):
        j = seen.setdefault(lset, i)
        if j != i:
            raise ValueError(f"duplicate series {_series_text(lset)}: labels[{j}] and labels[{i}]")
    return norm, t, v


@contextlib.contextmanager
def _malloc_kept() -> Iterator[None]:
    """Keep freed memory in the process while writing (glibc only).

    The encoder frees and allocates arrays of the same few sizes batch after batch. By default glibc hands
    such memory back to the kernel (its trim threshold adapts to at most 64 MiB, less than a batch's arrays) and
    every new array page-faults its pages back in: 1.5 times the whole run's time here. So the mmap threshold is
    raised to 256 MiB and the trim threshold to 1 GiB for the duration, then set back to glibc's initial
    values (128 KiB, fixed: glibc stops adapting them once set) and the memory released with malloc_trim."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt, trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):
        yield
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 256 << 20)
    mallopt(m_trim_threshold, 1 << 30)
    try:
        yield
    finally:
        mallopt(m_mmap_threshold, 128 << 10)
        mallopt(m_trim_threshold, 128 << 10)
        trim(0)


def write_blocks(out_dir: str | os.PathLike[str], labels: Sequence[Mapping[str, str]], times_ms: np.ndarray,
                 values: np.ndarray, absent_bits: int | None = None, block_ms: int = 2 * 3600 * 1000, *,
                 like_promtool: bool = False) -> list[Path]:
    """Write Prometheus TSDB blocks (as Prometheus 2.42 writes them) into ``out_dir``; returns the block dirs.

    labels[s] are series s's labels including "__name__" (may be given in any order, may contain empty values
    which are dropped as Prometheus drops them); times_ms is int64 (T,) strictly increasing; values is float64
    (S, T) — value of series s at times_ms[t]; an element whose uint64 bit pattern equals absent_bits means "no
    sample" (series absent at that step, e.g. a container restarting). Writes one block per block_ms-aligned
    window (window start = floor(t / block_ms) * block_ms, as promtool/Prometheus align) that has samples.

    ``like_promtool``: cut chunks as ``promtool tsdb create-blocks-from`` does (its head's chunk range is twice the
    block, chunks of up to 240 samples), so the files are byte-identical to promtool's but for the block ids.

    Raises ValueError for bad input (shapes, dtypes, unsorted times, invalid or duplicate label sets).
    """
    if like_promtool:
        return _write_blocks(out_dir, labels, times_ms, values, absent_bits, block_ms, chunk_range=2 * block_ms,
                             max_samples=2 * SAMPLES_PER_CHUNK)
    return _write_blocks(out_dir, labels, times_ms, values, absent_bits, block_ms)


def _write_blocks(out_dir: str | os.PathLike[str], labels: Sequence[Mapping[str, str]], times_ms: np.ndarray,
                  values: np.ndarray, absent_bits: int | None, block_ms: int, *, chunk_range: int | None = None,
                  max_samples: int = SAMPLES_PER_CHUNK, segment_size: int = SEGMENT_SIZE) -> list[Path]:
    """:func:`write_blocks` with the head's chunk range (default: ``block_ms``; promtool uses twice the block),
    the chunk sample cap and the segment size exposed, for tests against promtool and of segment cuts."""
    norm, t, v = _check(labels, times_ms, values, block_ms)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if v.size == 0:
        return []
    order = sorted(range(len(norm)), key=norm.__getitem__)
    strings = sorted({s for lset in norm for pair in lset for s in pair})
    symbols = Symbols(strings)
    sid = {s: i for i, s in enumerate(strings)}
    sorted_labels = [norm[i] for i in order]
    nlab = np.array([len(lset) for lset in sorted_labels], dtype=np.int64)
    label_offsets = np.r_[0, np.cumsum(nlab)]
    names = np.array([sid[k] for lset in sorted_labels for k, _ in lset], dtype=np.int64)
    vals = np.array([sid[x] for lset in sorted_labels for _, x in lset], dtype=np.int64)
    window = t // block_ms
    bounds = np.flatnonzero(np.r_[True, window[1:] != window[:-1], True])
    rows = np.asarray(order)
    blocks = []
    with _malloc_kept():
        for i0, i1 in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            w_end = (int(window[i0]) + 1) * block_ms
            block = _write_block(out, v, t, rows, i0, i1, w_end, absent_bits, chunk_range or block_ms,
                                 max_samples, segment_size, symbols, label_offsets, names, vals)
            if block is not None:
                blocks.append(block)
    return blocks


def _write_block(out: Path, values: np.ndarray, times: np.ndarray, order: np.ndarray, i0: int, i1: int,
                 w_end: int, absent_bits: int | None, chunk_range: int, max_samples: int, segment_size: int,
                 symbols: Symbols, label_offsets: np.ndarray, names: np.ndarray, vals: np.ndarray) -> Path | None:
    """The block of steps ``i0:i1`` (one window), series in ``order`` (sorted by labels), or None if empty."""
    ulid = new_ulid()
    tmp = out / f"{ulid}.tmp-for-creation"
    try:
        meta = _fill_block(tmp, ulid, values, times, order, i0, i1, w_end, absent_bits, chunk_range, max_samples,
                           segment_size, symbols, label_offsets, names, vals)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if meta is None:
        shutil.rmtree(tmp)
        return None
    (tmp / "meta.json").write_text(json.dumps(meta, indent="\t"))
    (tmp / "tombstones").write_bytes(TOMBSTONES)
    final = out / ulid
    tmp.rename(final)
    return final


def _fill_block(tmp: Path, ulid: str, values: np.ndarray, times: np.ndarray, order: np.ndarray, i0: int, i1: int,
                w_end: int, absent_bits: int | None, chunk_range: int, max_samples: int, segment_size: int,
                symbols: Symbols, label_offsets: np.ndarray, names: np.ndarray,
                vals: np.ndarray) -> dict[str, object] | None:
    """Chunks and index of a block into ``tmp``, series a batch at a time; returns its meta (None if empty)."""
    writer = SegmentWriter(tmp / "chunks", segment_size)
    tw = times[i0:i1]
    per_batch = max(1, BATCH_SAMPLES // len(tw))
    parts: list[tuple[np.ndarray, ...]] = []
    try:
        for b0 in range(0, len(order), per_batch):
            bits = values[order[b0 : b0 + per_batch], i0:i1].view(np.uint64)
            present = None if absent_bits is None else bits != np.uint64(absent_bits)
            batch = _encode(bits, present, tw, w_end, chunk_range, max_samples)
            if batch is not None:
                xc, series, mint, maxt = batch
                parts.append((series + b0, mint, maxt, writer.write(xc, series), xc.lens))
    finally:
        writer.close()
    if not parts:
        return None
    series, mint, maxt, refs, lens = (np.concatenate(p) for p in zip(*parts, strict=True))
    present, counts = np.unique(series, return_counts=True)
    # the labels of the series with samples here: their slices of names / vals, laid end to end
    lo, hi = label_offsets[present], label_offsets[present + 1]
    sub_offsets = np.r_[0, np.cumsum(hi - lo)]
    take = np.repeat(lo - sub_offsets[:-1], hi - lo) + np.arange(int(sub_offsets[-1]))
    write_index(tmp / "index", symbols, sub_offsets, names[take], vals[take], counts, mint, maxt, refs)
    return {
        "ulid": ulid,
        "minTime": int(mint.min()),
        "maxTime": int(maxt.max()) + 1,
        "stats": {"numSamples": int(lens.sum()), "numSeries": len(present), "numChunks": len(mint)},
        "compaction": {"level": 1, "sources": [ulid]},
        "version": 1,
    }


def _encode(bits: np.ndarray, present: np.ndarray | None, tw: np.ndarray, w_end: int, chunk_range: int,
            max_samples: int) -> tuple[XorChunks, np.ndarray, np.ndarray, np.ndarray] | None:
    """Cut and encode a batch of series over one window: ``bits`` (S, T) float64 bits, ``present`` (S, T) or
    None if all are. Returns the chunks (by row, then time), each chunk's row, mint and maxt; None if empty."""
    nrows = bits.shape[0]
    full = np.ones(nrows, dtype=bool) if present is None else present.all(axis=1)
    full_rows = np.flatnonzero(full)
    part_rows = np.flatnonzero(~full)
    shared = len(full_rows) > 0
    # runs to cut: the window's times once for all fully present rows, then each other row's own times
    run_times = [tw] if shared else []
    run_lens = [np.array([len(tw)])] if shared else []
    run_rows = [np.array([-1])] if shared else []
    part_vals = np.zeros(0, dtype=np.uint64)
    if len(part_rows):
        assert present is not None
        mask = present[part_rows]
        pr, pc = np.nonzero(mask)
        counts = np.bincount(pr, minlength=len(part_rows))
        run_times.append(tw[pc])
        run_lens.append(counts[counts > 0])
        run_rows.append(part_rows[counts > 0])
        part_vals = bits[part_rows][mask]
    flat_times = np.concatenate(run_times) if run_times else np.zeros(0, np.int64)
    if len(flat_times) == 0:
        return None
    rl = np.concatenate(run_lens)
    run_row = np.concatenate(run_rows)
    run, first, clen = cut(flat_times, np.cumsum(rl) - rl, rl, w_end, chunk_range, max_samples)
    width = int(clen.max())
    within = np.arange(int(clen.sum())) - np.repeat(np.cumsum(clen) - clen, clen)  # sample number in its chunk
    times = np.zeros((len(run), width), dtype=np.int64)  # a time group per cut chunk
    times.ravel()[np.repeat(np.arange(len(run)) * width, clen) + within] = flat_times[np.repeat(first, clen) + within]
    # output: rows ascending, each row's chunks in time order; fully present rows share the first run's chunks
    k_shared = int((run == 0).sum()) if shared else 0
    own = np.flatnonzero(run >= (1 if shared else 0))  # cut chunks of rows with absences
    row_chunks = np.zeros(nrows, dtype=np.int64)
    row_chunks[full_rows] = k_shared
    np.add.at(row_chunks, run_row[run[own]], 1)
    row_first = np.cumsum(row_chunks) - row_chunks
    count = int(row_chunks.sum())
    u = np.zeros((count, width), dtype=np.uint64)
    lens = np.empty(count, dtype=np.int64)
    series = np.empty(count, dtype=np.int64)
    tgroup = np.empty(count, dtype=np.int64)
    for k in range(k_shared):
        dest = row_first[full_rows] + k
        a, n = int(first[k]), int(clen[k])
        u[dest, :n] = bits[full_rows, a : a + n]
        lens[dest], series[dest], tgroup[dest] = n, full_rows, k
    if len(own):
        rows = run_row[run[own]]
        dest = row_first[rows] + own - np.searchsorted(run, run[own], side="left")
        sub = within[np.repeat(np.isin(np.arange(len(run)), own), clen)]
        src = np.repeat(first[own] - (len(tw) if shared else 0), clen[own]) + sub
        u.ravel()[np.repeat(dest * width, clen[own]) + sub] = part_vals[src]
        lens[dest], series[dest], tgroup[dest] = clen[own], rows, own
    xc = XorChunks(u, lens, times, tgroup)
    return xc, series, times[tgroup, 0], times[tgroup, lens - 1]

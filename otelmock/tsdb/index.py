"""The ``index`` file of a block, format v2, laid out as Prometheus 2.42's index writer lays it out.

Follows tsdb/index/index.go (``Writer``: ``AddSymbol``/``finishSymbols``, ``AddSeries``, ``writeLabelIndices``,
``writePostingsToTmpFiles``, ``writePostings``, the two offset tables, ``writeTOC``) and
tsdb/docs/format/index.md:

* magic 0xBAAAD700, version 2;
* symbols: every label name and value plus ``""`` (the head's postings hold the all-series key ``""=""``, so
  its symbol table has it), sorted; ``len`` (BE32, counts from the symbol count on), count, ``uvarint`` length +
  bytes each, CRC32C;
* series, sorted by label set, each at a 16-byte boundary (its reference is offset / 16): ``uvarint`` length,
  label count, (name, value) symbol references, chunk count, the first chunk's ``varint`` mint, ``uvarint``
  maxt - mint and ``uvarint`` ref, each next chunk's mint - previous maxt, maxt - mint and ``varint`` ref delta,
  CRC32C;
* one label index per label name (BE32: len, 1, value count, value symbol references; CRC32C), each at a
  4-byte boundary;
* postings: the all-series list ``""=""`` first, then one list per (name, value) in name, value order
  (BE32 len, count, series references, CRC32C);
* the label index table and the postings offset table (entries ``n``, then ``uvarint``-prefixed strings, then
  the ``uvarint`` offset), each BE32 len, BE32 count, entries, CRC32C;
* the TOC: six BE64 offsets (the sections above; the series offset is where the first series' padding
  starts, as Prometheus records it), CRC32C.

Everything is built with numpy (vectorised varints, one CRC pass for all series or lists).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from otelmock.tsdb.bits import gather, put_uvarints, uvarint_bytes, uvarint_len, zigzag
from otelmock.tsdb.crc32c import crc32c, crc32c_many

MAGIC = 0xBAAAD700
VERSION = 2


class Symbols:
    """The label strings of all series: sorted, each encoded as its symbol table entry (uvarint length, bytes)."""

    def __init__(self, strings: list[str]) -> None:
        self.strings = strings  # sorted, unique, without ""
        raw = [s.encode() for s in strings]
        lens = np.array([len(r) for r in raw], dtype=np.int64)
        heads = [uvarint_bytes(len(r)) for r in raw]
        self.entry_len = lens + np.array([len(h) for h in heads], dtype=np.int64)
        self.entry_start = np.cumsum(self.entry_len) - self.entry_len
        self.entries = np.frombuffer(b"".join(h + r for h, r in zip(heads, raw, strict=True)), dtype=np.uint8)


def _section(body: bytes | bytearray | np.ndarray) -> bytes:
    """BE32 length, body, CRC32C of the body (symbols, tables)."""
    b = bytes(body)
    return len(b).to_bytes(4, "big") + b + crc32c(b).to_bytes(4, "big")


def _be32_lists(lists_start: np.ndarray, counts: np.ndarray, members: np.ndarray, lead: list[int]) -> np.ndarray:
    """Lists of BE32 numbers as Prometheus writes postings and label indices: for list i, BE32 len, the ``lead``
    words, BE32 count, ``members[lists_start[i]:...]``, CRC32C of everything after len. Returns the bytes."""
    k = len(lead)
    words = counts + 3 + k  # len, lead..., count, members, crc
    first = np.cumsum(words) - words
    out = np.zeros(int(words.sum()), dtype=">u4")
    out[first] = 4 * (counts + 1 + k)
    for j, v in enumerate(lead):
        out[first + 1 + j] = v
    out[first + 1 + k] = counts
    at = np.repeat(first + 2 + k - lists_start, counts) + np.arange(len(members))
    out[at] = members
    b = out.view(np.uint8)
    crc = crc32c_many(b, 4 * (first + 1), 4 * (counts + 1 + k))
    out[first + words - 1] = crc
    return b


def write_index(path: Path, symbols: Symbols, label_offsets: np.ndarray, names: np.ndarray, values: np.ndarray,
                chunk_counts: np.ndarray, mint: np.ndarray, maxt: np.ndarray, ref: np.ndarray) -> None:
    """Write the index of a block's series (in order: sorted by label set). Series s has the labels
    ``names[label_offsets[s]:label_offsets[s + 1]]`` / ``values[...]`` (symbol numbers of ``symbols``, names
    ascending) and the next ``chunk_counts[s]`` chunks of ``mint``, ``maxt``, ``ref``."""
    nseries = len(chunk_counts)
    nlabels = np.diff(label_offsets)
    # symbols: "" and the strings these series use; remap the global numbers to table positions
    used = np.unique(np.concatenate([names, values]))
    remap = np.zeros(len(symbols.strings), dtype=np.int64)
    remap[used] = np.arange(1, len(used) + 1)
    names, values = remap[names], remap[values]
    entries = np.concatenate([np.zeros(1, np.uint8),
                              gather(symbols.entries, symbols.entry_start[used], symbols.entry_len[used])])
    sym_len = np.r_[1, symbols.entry_len[used]]
    sym_start = np.cumsum(sym_len) - sym_len
    out = [MAGIC.to_bytes(4, "big"), bytes([VERSION])]
    toc_symbols = 5
    out.append(_section((len(used) + 1).to_bytes(4, "big") + entries.tobytes()))
    toc_series = toc_symbols + len(out[-1])

    # series: per series the items nlabels, (name, value)..., nchunks, then per chunk three numbers
    first = np.cumsum(chunk_counts) - chunk_counts
    is_first = np.zeros(len(mint), dtype=bool)
    is_first[first[chunk_counts > 0]] = True
    prev_maxt = np.r_[0, maxt[:-1]]
    prev_ref = np.r_[0, ref[:-1]]
    c_items = np.empty((len(mint), 3), dtype=np.uint64)
    c_items[:, 0] = np.where(is_first, zigzag(mint), (mint - prev_maxt).astype(np.uint64))
    c_items[:, 1] = (maxt - mint).astype(np.uint64)
    c_items[:, 2] = np.where(is_first, ref.astype(np.uint64), zigzag(ref - prev_ref))
    nitems = 2 + 2 * nlabels + 3 * chunk_counts
    istart = np.cumsum(nitems) - nitems
    items = np.empty(int(nitems.sum()), dtype=np.uint64)
    items[istart] = nlabels
    lab_at = np.repeat(istart + 1 - 2 * label_offsets[:-1], nlabels) + 2 * np.arange(len(names))
    items[lab_at] = names
    items[lab_at + 1] = values
    items[istart + 1 + 2 * nlabels] = chunk_counts
    ch_at = np.repeat(istart + 2 + 2 * nlabels - 3 * first, chunk_counts) + 3 * np.arange(len(mint))
    items[ch_at[:, None] + np.arange(3)] = c_items
    ilen = uvarint_len(items)
    icum = np.cumsum(ilen) - ilen  # offset of each item from the first series' content
    content = np.add.reduceat(ilen, istart) if len(items) else np.zeros(0, np.int64)
    head = uvarint_len(content)
    size = head + content + 4
    padded = (size + 15) // 16 * 16
    pos0 = (toc_series + 15) // 16 * 16
    start = pos0 + np.cumsum(padded) - padded  # absolute file offsets
    end_series = int(start[-1] + size[-1]) if nseries else toc_series
    buf = np.zeros(end_series - toc_series + 8, dtype=np.uint8)
    rel = start - toc_series
    put_uvarints(buf, rel, content)
    put_uvarints(buf, np.repeat(rel + head - icum[istart], nitems) + icum, items)
    crc = crc32c_many(buf, rel + head, content)
    buf[(rel + head + content)[:, None] + np.arange(4)] = crc.astype(">u4").view(np.uint8).reshape(-1, 4)
    out.append(buf[: end_series - toc_series].tobytes())
    series_ref = (start // 16).astype(np.uint32)
    pos = end_series

    # postings keys (name, value) in order, each with its series
    owner = np.repeat(np.arange(nseries), nlabels)
    key = names * (len(used) + 1) + values
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    members = series_ref[owner[order]]
    kfirst = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
    kcount = np.diff(np.r_[kfirst, len(key_sorted)])
    pair_name = names[order][kfirst]
    pair_value = values[order][kfirst]

    # label indices: per name, its values
    toc_label_indices = pos
    pad = -pos % 4
    out.append(bytes(pad))
    pos += pad
    nfirst = np.flatnonzero(np.r_[True, pair_name[1:] != pair_name[:-1]])
    ncount = np.diff(np.r_[nfirst, len(pair_name)])
    label_index = _be32_lists(nfirst, ncount, pair_value.astype(np.uint32), [1])
    li_words = ncount + 4
    li_offsets = pos + 4 * (np.cumsum(li_words) - li_words)
    out.append(label_index.tobytes())
    pos += len(label_index)

    # postings: all series, then each (name, value)
    toc_postings = pos
    pad = -pos % 4
    out.append(bytes(pad))
    pos += pad
    all_and_pairs = _be32_lists(np.r_[0, nseries + kfirst], np.r_[nseries, kcount],
                                np.concatenate([series_ref, members]), [])
    p_words = np.r_[nseries, kcount] + 3
    p_offsets = pos + 4 * (np.cumsum(p_words) - p_words)
    out.append(all_and_pairs.tobytes())
    pos += len(all_and_pairs)

    # label index table
    toc_label_table = pos
    table = bytearray(len(nfirst).to_bytes(4, "big"))
    for n, off in zip(pair_name[nfirst].tolist(), li_offsets.tolist(), strict=True):
        s = entries[sym_start[n] : sym_start[n] + sym_len[n]].tobytes()
        table += b"\x01" + s + uvarint_bytes(off)
    out.append(_section(table))
    pos += len(out[-1])

    # postings offset table: 0x02, name, value, offset (the all-series list is "", "")
    toc_postings_table = pos
    n_entries = len(p_offsets)
    offs = np.zeros(n_entries * 10, dtype=np.uint8)
    olen = put_uvarints(offs, 10 * np.arange(n_entries), p_offsets)
    src = np.concatenate([entries, offs, np.full(1, 2, np.uint8)])
    nm = np.r_[0, pair_name]
    vl = np.r_[0, pair_value]
    seg_start = np.stack([np.full(n_entries, len(src) - 1), sym_start[nm], sym_start[vl],
                          len(entries) + 10 * np.arange(n_entries)], axis=1).ravel()
    seg_len = np.stack([np.ones(n_entries, np.int64), sym_len[nm], sym_len[vl], olen], axis=1).ravel()
    body = n_entries.to_bytes(4, "big") + gather(src, seg_start, seg_len).tobytes()
    out.append(_section(body))
    pos += len(out[-1])

    toc = b"".join(int(x).to_bytes(8, "big") for x in (toc_symbols, toc_series, toc_label_indices, toc_label_table,
                                                        toc_postings, toc_postings_table))
    out.append(toc + crc32c(toc).to_bytes(4, "big"))
    with open(path, "wb") as f:
        for part in out:
            f.write(part)

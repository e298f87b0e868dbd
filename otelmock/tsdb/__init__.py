"""Prometheus TSDB blocks written straight from numpy arrays, as Prometheus 2.42 writes them.

``write_blocks(out_dir, labels, times_ms, values, absent_bits=None, block_ms=2h)`` writes one block per
``block_ms``-aligned window into a directory Prometheus loads as its ``--storage.tsdb.path`` (or that
``promtool tsdb`` reads), much faster than ``promtool tsdb create-blocks-from openmetrics``.

Modules, each following the Prometheus sources it names:

* :mod:`.block` — the entry point, ``meta.json``, ``tombstones``, ULIDs (tsdb/block.go, tsdb/compact.go);
* :mod:`.chunks` — chunk cut points (tsdb/head_append.go) and ``chunks/`` segment files (tsdb/chunks/chunks.go);
* :mod:`.xor` — the XOR chunk encoding (tsdb/chunkenc/xor.go, bstream.go);
* :mod:`.index` — the ``index`` file (tsdb/index/index.go, tsdb/docs/format/index.md);
* :mod:`.crc32c`, :mod:`.bits` — CRC-32C and vectorised varints and bit fields.
"""

from otelmock.tsdb.block import write_blocks

__all__ = ["write_blocks"]

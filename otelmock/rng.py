"""Keyed, counter-based randomness: every random number is a pure function of its key and position.

DESIGN.md invariant 2: computing tick ``n`` must not require drawing every number before it, and adding a
signal must not shift the others. Two tools give that:

* :func:`block_rng` -- a numpy ``Philox`` generator keyed by (seed, host, signal) and positioned at a
  block (window) index, for vectorised draws of a whole block of ticks.
* :func:`hash_uniform` -- a vectorised SplitMix64 finaliser over (key, counter) pairs, for cheap random
  access to single values (per-core jitter knots, per-series offsets).
"""

from __future__ import annotations

import hashlib

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def key_of(*parts: object) -> int:
    """A stable 64-bit key for any tuple of printable parts (seed, host, signal name, ...)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def block_rng(key: int, block: int) -> np.random.Generator:
    """A generator for one block of one signal: same (key, block), same numbers, whatever ran before."""
    return np.random.Generator(np.random.Philox(key=key, counter=[0, 0, 0, block & 0xFFFFFFFFFFFFFFFF]))


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def hash_uniform(keys: np.ndarray | int, counters: np.ndarray | int) -> np.ndarray:
    """Uniform floats in [0, 1), one per broadcast (key, counter) pair."""
    with np.errstate(over="ignore"):
        k = np.asarray(keys, dtype=np.uint64)
        c = np.asarray(counters, dtype=np.int64).astype(np.uint64)
        z = _mix(k + _GOLDEN * (c + np.uint64(1)))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def identity_hex(*parts: object, length: int = 64) -> str:
    """Stable hex identity (container ids, UUID digits) derived from its parts (DESIGN invariant 7)."""
    out = b""
    counter = 0
    while len(out) * 2 < length:
        out += hashlib.blake2b("\x1f".join(map(str, (*parts, counter))).encode(), digest_size=32).digest()
        counter += 1
    return out.hex()[:length]

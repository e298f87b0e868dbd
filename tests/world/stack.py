"""The reference for a run of ticks as one snapshot: the snapshots of single ticks, stacked.

``World.snapshot_run`` must equal :func:`stack` of the ticks' snapshots. Floats become :class:`Ticks`
(even when constant over the run), numpy arrays get the run as their last axis, an integer that changes becomes
:class:`Ticks` and one that does not stays an ``int``. Everything else (names, flags, the set of GPUs and
containers) must be the same at every tick, or :class:`~otelmock.vec.NotUniform` is raised: the run must be split.

Their :class:`~otelmock.vec.Ticks` refuse to become one scalar, a truth value or text (``float(x)``, ``if x``,
``max(x, 0)``, ``f"{x}"``, ``round(x)``), raising :class:`NotUniform`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from otelmock.vec import NotUniform, Ticks, ticks


def stack(snaps: Sequence[Any]) -> Any:
    """The snapshots (or any of their parts) of consecutive ticks as one; :class:`NotUniform` if they differ."""
    first = snaps[0]
    if isinstance(first, np.generic):  # a numpy scalar counts as the Python scalar it holds
        snaps = [s.item() for s in snaps]
        first = snaps[0]
    if isinstance(first, bool) or first is None or isinstance(first, str):
        if any(s != first for s in snaps):
            raise NotUniform(f"{first!r} changes within the run")
        return first
    if isinstance(first, float):
        return ticks(snaps)
    if isinstance(first, int):
        return first if all(s == first for s in snaps) else ticks(snaps)
    if isinstance(first, np.ndarray):
        return np.stack(snaps, axis=-1).astype(np.float64, copy=False).view(Ticks)
    if isinstance(first, dict):
        if any(s.keys() != first.keys() for s in snaps):
            raise NotUniform("a mapping's keys change within the run")
        return {k: stack([s[k] for s in snaps]) for k in first}
    if isinstance(first, tuple):
        if any(len(s) != len(first) for s in snaps):
            raise NotUniform("a tuple's length changes within the run")
        return tuple(stack([s[j] for s in snaps]) for j in range(len(first)))
    if dataclasses.is_dataclass(first):
        return type(first)(**{f.name: stack([getattr(s, f.name) for s in snaps]) for f in dataclasses.fields(first)})
    raise TypeError(f"cannot stack {type(first).__name__}")


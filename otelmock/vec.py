"""Arithmetic that works on one tick or on a run of ticks at once.

Family tables and the world's state builders are written once. Served live, their values are Python floats, and
these helpers behave exactly like ``max``, ``math.floor``, ``float`` ... on them, so the live text does not change.
During a backfill a value can be a numpy array holding one entry per tick (``World.snapshot_run``);
the same code then computes the whole run in one pass. What cannot be computed for a run raises :class:`NotUniform`:
a label value that changes inside the run, a series that appears or goes, a branch on a value. The caller then
splits the run (down to single ticks, which always work).
"""

from __future__ import annotations

import math
from typing import Any, NoReturn, TypeAlias

import numpy as np

Vec: TypeAlias = "float | np.ndarray"


class NotUniform(Exception):
    """A run of ticks differs in something that is not a plain value (a label, a series set, a branch).

    ``at``, when known, is the first tick of the run (0-based) that differs from the run's first: the run splits
    there (otherwise in halves)."""

    def __init__(self, message: str, at: int | None = None) -> None:
        super().__init__(message)
        self.at = at


class Ticks(np.ndarray):
    """Per-tick values of a run (last axis): arithmetic as numpy, no conversion to one scalar."""

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotUniform("a per-tick value used as one scalar")

    __bool__ = __float__ = __int__ = __index__ = __round__ = __str__ = __format__ = _refuse  # type: ignore
    __floor__ = __ceil__ = __trunc__ = __complex__ = _refuse  # type: ignore

    def __repr__(self) -> str:
        return f"Ticks({np.asarray(self)!r})"


def ticks(values: Any) -> Ticks:
    return np.asarray(values, dtype=np.float64).view(Ticks)


def _run(x: Any) -> Any:
    """A numpy result as :class:`Ticks` (np.where and friends drop the subclass)."""
    return x.view(Ticks) if isinstance(x, np.ndarray) else x


def vfloat(x: Vec) -> Vec:
    """``float(x)``; an array stays an array (of float64)."""
    if isinstance(x, np.ndarray):
        return _run(x.astype(np.float64, copy=False))
    return float(x)


def vmax(a: Vec, b: Vec) -> Vec:
    """``max(a, b)`` (the first of equals, as ``max``; NaN as ``max`` treats it: kept only when first)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return _run(np.where(b > a, b, a))
    return max(a, b)


def vmin(a: Vec, b: Vec) -> Vec:
    """``min(a, b)`` with ``min``'s rules for equals and NaN."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return _run(np.where(b < a, b, a))
    return min(a, b)


def vfloor(x: Vec) -> Vec:
    """``float(math.floor(x))``: a float (or array) that holds an integer."""
    if isinstance(x, np.ndarray):
        return _run(np.floor(x))
    return float(math.floor(x))


def vround(x: Vec) -> Vec:
    """``float(round(x))``: to the nearest integer, halves to even (``round`` and ``np.round`` agree there)."""
    if isinstance(x, np.ndarray):
        return _run(np.round(x))
    return float(round(x))


def vround_to(x: Vec, digits: int) -> Vec:
    """``round(x, digits)``: Python's correctly rounded result, tick by tick for a run (``np.round`` scales by a
    power of ten and can differ in the last bit)."""
    if isinstance(x, np.ndarray):
        return ticks([round(v, digits) for v in x.ravel().tolist()]).reshape(x.shape)
    return round(x, digits)


def vwhere(cond: object, a: Vec, b: Vec) -> Vec:
    """``a if cond else b``, tick by tick."""
    if isinstance(cond, np.ndarray):
        return _run(np.where(cond, a, b))
    return a if cond else b


def first_change(x: np.ndarray) -> int | None:
    """The first tick (last axis) at which ``x`` differs from its first tick, or None."""
    a = np.asarray(x)
    changed = (a != a[..., :1]).reshape(-1, a.shape[-1]).any(axis=0) if a.ndim else np.zeros(1, bool)
    return int(changed.argmax()) if changed.any() else None


def changes(x: np.ndarray) -> list[int]:
    """Every tick (last axis) at which ``x`` differs from the tick before: where a run must split for ``x``."""
    a = np.asarray(x)
    if a.ndim == 0 or a.shape[-1] < 2:
        return []
    return (np.flatnonzero((a[..., 1:] != a[..., :-1]).reshape(-1, a.shape[-1] - 1).any(axis=0)) + 1).tolist()


def uniform(x: object) -> object:
    """``x`` as one scalar: the same at every tick of the run, or :class:`NotUniform` (with the tick that differs)."""
    if not isinstance(x, np.ndarray):
        return x
    at = first_change(x)
    if at is not None:
        raise NotUniform("a value that decides a label, a series or a branch changes within the run", at)
    return np.asarray(x).ravel()[0].item()

"""The world: one object that turns (settings, timeline, tick) into an immutable :class:`Snapshot`.

Ticks sit on a grid aligned to the Unix epoch (``t = tick * tick_s``). Work is done per block of
``BLOCK_TICKS`` ticks (vectorised). Counters are integrals since their origin (host boot, container
start), kept as a prefix over whole blocks (the *ledger*) plus the within-block integral, so the value
at a tick is the same whether it was served live, dumped with ``--at``, or backfilled (DESIGN
invariant 2). Serving (containers, requests, GPUs) is computed first; the host adds the containers'
CPU and memory to its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from otelmock.config import Settings
from otelmock.scenario.timeline import Timeline
from otelmock.types import FloatArray
from otelmock.vec import NotUniform, changes, first_change, ticks
from otelmock.world.deployment import MODELS, container_identities, gpu_identities
from otelmock.world.host import INTEGRATED, HostBlock, host_block, load_averages
from otelmock.world.host_state import CoreLayout, core_layout, host_snapshot
from otelmock.world.identity import HostIdentity, derive_host
from otelmock.world.ledger import Stream
from otelmock.world.serving import LITELLM_ORIGIN, WINDOW_S, ServingBlock, serving_block
from otelmock.world.serving_state import build_states, structure_changes
from otelmock.world.snapshot import WITHHELD, HostSnapshot, Snapshot

BLOCK_S = 3600.0
_CACHE_BLOCKS = 1  # a live mock only moves forward: the current block (~10 MB a host; a fleet holds one per host)
_CACHE_LOADS = 2   # load averages are small and warm up on the block before


def block_ticks(dt: float) -> int:
    """Ticks of one world block: whole windows, about ``BLOCK_S``."""
    wt = max(1, int(round(WINDOW_S / dt)))
    return wt * max(1, int(round(BLOCK_S / dt / wt)))


@dataclass
class Ledger:
    """Integrals up to the start of block ``k`` for the origins in force (boot, container starts)."""

    k: int
    n_boot: int
    starts: np.ndarray                          # (C,) start tick of each container's current run
    host: dict[str, float]
    bases: dict[str, FloatArray] = field(default_factory=dict)   # stream -> (C, nb)
    energy: FloatArray | None = None            # (G, 1)
    nvlink: FloatArray | None = None


class World:
    """The single source of truth for one simulated host."""

    def __init__(self, settings: Settings, timeline: Timeline) -> None:
        self.settings = settings
        self.dt = settings.tick_s
        self.window_ticks = max(1, int(round(WINDOW_S / self.dt)))
        self.block_ticks = block_ticks(self.dt)
        self.ident: HostIdentity = derive_host(settings)
        self.layout: CoreLayout = core_layout(self.ident, settings.host.cpus, self.dt)
        self.cids = container_identities(self.ident)
        self._litellm_row = next(i for i, c in enumerate(self.cids) if c.name == LITELLM_ORIGIN)
        self.gpu_ids = gpu_identities(self.ident, settings.gpu.count)
        self._timeline = timeline
        self._lock = threading.RLock()
        self._serving: OrderedDict[int, ServingBlock] = OrderedDict()
        self._hosts: OrderedDict[tuple[int, int], HostBlock] = OrderedDict()
        self._loads: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._ledger: Ledger | None = None

    @property
    def timeline(self) -> Timeline:
        return self._timeline

    def set_timeline(self, timeline: Timeline, from_tick: int) -> None:
        """Replace the timeline; it must agree with the old one before ``from_tick``."""
        with self._lock:
            self._timeline = timeline
            first = from_tick // self.block_ticks
            for cache in (self._serving, self._hosts, self._loads):
                for key in [k for k in cache if (k[0] if isinstance(k, tuple) else k) >= first]:
                    del cache[key]
            if self._ledger is not None and self._ledger.k > first:
                self._ledger = None

    def tick_at(self, t: float) -> int:
        return int(np.floor(t / self.dt + 1e-9))

    def n_boot(self, n: int) -> int:
        return self.tick_at(self.ident.boot_time(n * self.dt))

    # --- blocks -------------------------------------------------------------------------------
    def _serving_block(self, k: int, tier: str = "all") -> ServingBlock:
        blk = self._serving.get(k)
        if blk is not None:
            self._serving.move_to_end(k)
            return blk
        blk = serving_block(self.ident, self._timeline, self.cids, self.dt, k, self.block_ticks,
                            self.settings.gpu.count, tier=tier)
        if tier == "all":
            self._serving[k] = blk
            while len(self._serving) > _CACHE_BLOCKS:
                self._serving.popitem(last=False)
        return blk

    def _host_block(self, k: int, n_boot: int, serving: ServingBlock) -> HostBlock:
        key = (k, n_boot)
        blk = self._hosts.get(key)
        if blk is None:
            s = self.settings
            blk = host_block(self.ident, self._timeline, s.host.cpus, self.dt, k, self.block_ticks, n_boot,
                             serving.host_load, float(s.host.memory_bytes))
            self._hosts[key] = blk
            while len(self._hosts) > _CACHE_BLOCKS:
                self._hosts.popitem(last=False)
        return blk

    def _load_block(self, k: int, n_boot: int) -> np.ndarray:
        key = (k, n_boot)
        loads = self._loads.get(key)
        if loads is None:
            prev = None
            if k - 1 >= n_boot // self.block_ticks:
                prev = self._host_block(k - 1, n_boot, self._serving_block(k - 1, "host"))
            cur = self._host_block(k, n_boot, self._serving_block(k))
            loads = load_averages(prev, cur, self.settings.host.cpus, self.dt)
            self._loads[key] = loads
            while len(self._loads) > _CACHE_LOADS:
                self._loads.popitem(last=False)
        return loads

    # --- the ledger ------------------------------------------------------------------------------
    def _ledger_at(self, k: int, n_boot: int, starts: np.ndarray) -> Ledger:
        """Integrals to the start of block ``k``; advances the cached ledger when it can."""
        led = self._ledger
        b_start = starts // self.block_ticks
        if led is None or led.n_boot != n_boot or led.k > k or np.any((led.starts != starts) & (b_start < led.k)):
            led = Ledger(n_boot // self.block_ticks, n_boot, starts.copy(), dict.fromkeys(INTEGRATED, 0.0))
        led.starts = starts.copy()
        boot_block = n_boot // self.block_ticks
        vllm_first = int(b_start[: len(MODELS)].min())
        for j in range(led.k, k):
            tier = "all" if j >= vllm_first else ("resources" if j >= b_start.min() else "host")
            srv = self._serving_block(j, tier)
            host = self._host_block(j, n_boot, srv) if (j, n_boot) in self._hosts else host_block(
                self.ident, self._timeline, self.settings.host.cpus, self.dt, j, self.block_ticks, n_boot,
                srv.host_load, float(self.settings.host.memory_bytes))
            for name in INTEGRATED:
                led.host[name] += host.total[name]
            self._advance_streams(led, srv, j, b_start, boot_block)
        led.k = k
        self._ledger = led
        return led

    def _origins(self, name: str, starts: np.ndarray) -> np.ndarray:
        """Origin tick of each row of a stream: its container's start, or the LiteLLM proxy's for "L:" streams."""
        return np.full_like(starts, starts[self._litellm_row]) if name.startswith("L:") else starts

    def _advance_streams(self, led: Ledger, srv: ServingBlock, j: int, b_start: np.ndarray, boot_block: int) -> None:
        for name, st in srv.streams.items():
            origins = self._origins(name, led.starts)
            b = origins // self.block_ticks
            from_start, before = b == j, (b < j)[:, None]
            base = led.bases.get(name)
            if base is None or base.shape != st.total.shape:
                base = np.zeros_like(st.total)
            if from_start.any():
                base = np.where(from_start[:, None], st.total - _at_starts(st, origins, srv.n0, from_start), base)
            led.bases[name] = np.where(before, base + st.total, base)
        for attr, st in (("energy", srv.gpu_energy), ("nvlink", srv.gpu_nvlink)):
            cur = getattr(led, attr)
            if j == boot_block or cur is None:
                cur = st.total - st.at(int(led.n_boot - srv.n0)) if j == boot_block else np.zeros_like(st.total)
            else:
                cur = cur + st.total
            setattr(led, attr, cur)

    # --- the snapshot ----------------------------------------------------------------------------
    def snapshot(self, n: int) -> Snapshot:
        """The whole simulated server at tick ``n`` (a pure function of settings, timeline and ``n``)."""
        with self._lock:
            return self._snapshot(n, n)

    def snapshot_run(self, ns: np.ndarray, serving: bool = True) -> Snapshot:
        """Ticks ``ns`` (increasing, in one block) as one snapshot whose numbers hold every tick
        (:class:`~otelmock.vec.Ticks`): equal to their snapshots stacked (``tests/world/stack.py``), computed in
        one pass. :class:`~otelmock.vec.NotUniform` when they differ in more than values (a container starts, the
        host boots, the scenario changes): split the run. ``serving=False``: the host only (its GPUs, containers
        and models :class:`~otelmock.world.snapshot.Withheld`), which does not split where containers change."""
        first = int(ns[0])
        with self._lock:
            for what, key in self._run_keys():
                at = first_change(np.array([key(int(m)) for m in (ns[0], ns[-1])]))
                if at is not None:
                    raise NotUniform(f"the run crosses {what}", first_change(np.array([key(int(m)) for m in ns])))
            return self._snapshot(first, ns, serving)

    def run_cuts(self, ns: np.ndarray) -> list[int]:
        """The positions in a run of ticks ``ns`` (increasing) where :meth:`snapshot_run` would refuse it: the
        first tick of each part to ask for on its own (block boundaries, boots, scenario changes, and where the
        serving side changes its structure)."""
        with self._lock:
            cuts = {c for _, key in self._run_keys() for c in changes(np.array([key(int(m)) for m in ns]))}
            edges = [0, *sorted(cuts), len(ns)]
            for a, b in pairwise(edges):
                srv = self._serving_block(int(ns[a]) // self.block_ticks)
                cuts.update(a + c for c in structure_changes(self, srv, ns[a:b] - srv.n0, ns[a:b]))
        return sorted(cuts)

    def _run_keys(self) -> tuple[tuple[str, Callable[[int], object]], ...]:
        """What a run of ticks must not cross, each as a key of a tick."""
        return (("a block boundary", lambda m: m // self.block_ticks), ("a boot", self.n_boot),
                ("a scenario change", lambda m: id(self._timeline.active(m * self.dt))))

    def _snapshot(self, n: int, ns: int | np.ndarray, serving: bool = True) -> Snapshot:
        n_boot = self.n_boot(n)
        k = n // self.block_ticks
        srv = self._serving_block(k)
        i = ns - srv.n0
        led = self._ledger_at(k, n_boot, srv.starts[:, n - srv.n0])
        loads = self._load_block(k, n_boot)
        blk = self._host_block(k, n_boot, srv)
        h = self.settings.host

        def host(m: int | np.ndarray) -> HostSnapshot:
            return host_snapshot(
                self.ident, (h.kernel, h.os_id, h.os_version, h.cpus, float(h.memory_bytes)), self.layout,
                (blk, n_boot * self.dt, led.host), loads, m, n_boot, self.dt,
            )

        if serving:
            bases = _bases_in_block(led, srv, k, lambda name: self._origins(name, led.starts), n_boot,
                                    self.block_ticks)
            gpus, containers, vllm, litellm = build_states(self, srv, bases, i, ns)
        else:
            gpus = containers = vllm = litellm = WITHHELD  # type: ignore[assignment]
        if isinstance(ns, np.ndarray):
            return Snapshot(ticks(ns), ticks(ns * self.dt), self._timeline.active(n * self.dt).name, host(ns), {},
                            gpus, containers, vllm, litellm)
        t = n * self.dt
        return Snapshot(n, t, self._timeline.active(t).name, host(n), {}, gpus, containers, vllm, litellm)


def _bases_in_block(
    led: Ledger, srv: ServingBlock, k: int, origins_of: Callable[[str], np.ndarray], n_boot: int, block_ticks: int
) -> dict[str, FloatArray]:
    """Stream bases for block ``k``: the ledger's, or minus the value at the origin for runs that began in it."""
    out: dict[str, FloatArray] = {}
    for name, st in srv.streams.items():
        origins = origins_of(name)
        here = (origins // block_ticks == k)[:, None]
        base = led.bases.get(name, np.zeros_like(st.total))
        if here.any():
            base = np.where(here, -_at_starts(st, origins, srv.n0, here[:, 0]), base)
        out[name] = base
    boot_here = n_boot // block_ticks == k
    for attr, st in (("energy", srv.gpu_energy), ("nvlink", srv.gpu_nvlink)):
        base = getattr(led, attr)
        out[f"gpu:{attr}"] = -st.at(int(n_boot - srv.n0)) if boot_here or base is None else base
    return out


def _at_starts(st: Stream, starts: np.ndarray, n0: int, mask: np.ndarray) -> FloatArray:
    """(C, nb) block integral at each masked container's start tick (zeros elsewhere)."""
    out = np.zeros_like(st.total)
    for c in np.flatnonzero(mask):
        out[c] = st.at(int(starts[c] - n0))[c]
    return out

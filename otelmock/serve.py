"""HTTP serving: each mock exporter on its own port, answering like the real one.

``GET /metrics`` answers 200 with ``text/plain; version=0.0.4; charset=utf-8`` (gzip when asked, as
client_golang's promhttp does); ``GET /health`` answers ``{"status": "ok"}``; ``GET /`` a landing page.
All ports are bound before anything starts, so a port in use is one clear error and nothing runs
half-started. Rendering happens in a worker thread, so one slow scrape never stalls another.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import signal
import socket
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from otelmock.bridge.prometheus import CONTENT_TYPE
from otelmock.errors import StartupError
from otelmock.runtime import MockExporter

log = logging.getLogger(__name__)
SETTLE_AFTER_S = 60.0


def exporter_app(exp: MockExporter, title: str, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    async def metrics(request: Request) -> Response:
        exp.predictor.observe(time.time())
        exp.process.in_flight += 1
        gz = "gzip" in request.headers.get("accept-encoding", "")

        def body_of() -> bytes:  # rendering and compressing (once per tick) off the event loop
            return exp.bridge.render_gzip() if gz else exp.bridge.render()

        try:  # a tick already rendered is answered on the loop: no thread, no wait for the interpreter's lock
            body = (exp.bridge.peek_gzip(exp.tick_now()) if gz else None) or await anyio.to_thread.run_sync(body_of)
        finally:
            exp.process.in_flight -= 1
        exp.process.scrapes["200"] += 1
        if gz:
            return Response(body, headers={"Content-Type": CONTENT_TYPE, "Content-Encoding": "gzip"})
        return Response(body, headers={"Content-Type": CONTENT_TYPE})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def landing(request: Request) -> Response:
        return HTMLResponse(
            f"<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n"
            '<p><a href="/metrics">Metrics</a></p>\n</body>\n</html>\n'
        )

    routes = [Route("/metrics", metrics, methods=["GET"]), Route("/health", health, methods=["GET"]),
              Route("/", landing, methods=["GET"]), *extra_routes]
    return Starlette(routes=routes)


def bind_all(host: str, ports: Sequence[tuple[str, int]]) -> list[socket.socket]:
    """Bind every port or none: a port in use raises :class:`StartupError` naming it."""
    bound: list[socket.socket] = []
    try:
        for name, port in ports:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                sock.close()
                reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
                raise StartupError(f"port {port} ({name}) on {host} {reason}") from None
            sock.listen(2048)
            sock.set_inheritable(True)
            bound.append(sock)
    except BaseException:
        for s in bound:
            s.close()
        raise
    return bound


def tune_malloc() -> bool:
    """glibc's allocator, set for a long-running process that allocates large numpy arrays from many threads.

    Two arenas instead of eight per core (each thread's arena otherwise keeps its own high-water mark) and a
    fixed mmap threshold (glibc raises it after the first large free, after which large blocks come from the
    arenas and stay resident): measured on a 50-host fleet, RSS 2,150 -> 1,070 MiB. Call before threads start.
    The ``MALLOC_*`` environment variables still win where set. No-op (False) off glibc.
    """
    import ctypes
    import ctypes.util
    import os

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_mmap_threshold, m_arena_max = -3, -8
    ok = True
    if "MALLOC_ARENA_MAX" not in os.environ:
        ok &= bool(mallopt(m_arena_max, 2))
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        ok &= bool(mallopt(m_mmap_threshold, 128 * 1024))
    return ok


GC_THRESHOLDS = (10_000, 50, 100)


def settle_gc() -> None:
    """Collect garbage once, then exempt every object alive now from future collections (``gc.freeze``), and
    collect the oldest generation rarely (:data:`GC_THRESHOLDS`).

    What is alive after start-up (modules, the worlds and their caches, each exporter's line layouts) stays alive
    until exit; left in the oldest generation, every full collection walks it again: 100-160 ms pauses of every
    thread on a five-host process, measured, which every scrape in flight waits out. Frozen, 15-70 ms, but then
    every few seconds: each tick's snapshots live long enough to reach the oldest generation (they die by reference
    count, not by collection, so the full collections find nothing). With the thresholds raised, a full collection
    comes every minute or so instead; what the process allocates has almost no cycles, so little waits longer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:  # signals are handled once, in serve_all
        yield

    async def main_loop(self) -> None:
        """uvicorn's loop wakes ten times a second to refresh the Date header and look for a stop; once a second,
        on the second, does both (six servers idle at a tenth of the CPU; a stop waits at most a second)."""
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864_000
            await asyncio.sleep(1.0005 - time.time() % 1.0)


async def serve_all(
    apps: Sequence[tuple[Any, socket.socket]], on_stop: Callable[[], None] | None = None,
    on_reload: Callable[[], None] | None = None,
) -> None:
    servers = [
        _Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30,
                               server_header=False))
        for app, _ in apps
    ]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for s in servers:
            s.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
    if on_reload is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, on_reload)
    settle_gc()
    loop.call_later(SETTLE_AFTER_S, settle_gc)  # once more when the first scrapes have built the line layouts
    try:
        await asyncio.gather(*(s.serve(sockets=[sock]) for s, (_, sock) in zip(servers, apps, strict=True)))
    finally:
        if on_stop is not None:
            on_stop()

"""The control API: scenarios, anomalies, world state and ground truth over HTTP (OpenAPI at /docs).

:func:`create_app` serves the control port at its root. :func:`exporter_mount` is the same API without
the ground-truth metrics, mounted at ``/otelmock`` on every mock exporter's port (they share one world).
Every change starts at the next tick. Every rejection is a 4xx ``{"detail": "..."}`` saying what is
wrong and what is allowed, and leaves the world as it was.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from otelmock import __version__
from otelmock.api import metrics
from otelmock.api.models import (
    MAX_NAME_LEN,
    START_MODELS,
    ActiveScenario,
    AnomalyKindOut,
    AnomalyOut,
    AnomalyRequest,
    Detail,
    Health,
    ScenarioOut,
    ScenarioSwitch,
    SegmentOut,
    anomaly_kinds,
    anomaly_state,
    plain,
)
from otelmock.errors import OtelmockError
from otelmock.runtime import MAX_ANOMALIES, Runtime
from otelmock.scenario.anomaly import KINDS, Anomaly
from otelmock.scenario.timeline import Segment

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
PREFIX = "/otelmock"                      # where the API sits on every exporter's port
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def _send_detail(send: Send, status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class BearerAuth:
    """Write methods need ``Authorization: Bearer <token>`` (checked before the body is read or parsed)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self._token = token.encode() if token else None   # never logged, never echoed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._token is None or scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        scheme, _, credentials = given.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self._token):
            await self.app(scope, receive, send)
            return
        log.warning("rejected %s %s: missing or wrong bearer token", scope["method"], scope.get("path", ""))
        await _send_detail(send, 401, "missing or wrong bearer token: write requests need the header "
                           "'Authorization: Bearer <token>' with the token set in the api.token setting",
                           [(b"www-authenticate", b'Bearer realm="otelmock"')])


class BodyLimit:
    """Reads at most ``max_bytes`` of request body (413 beyond), then hands the buffered body on."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body larger than {self.max_bytes} bytes"
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"0")
        if not declared.isdigit():
            await _send_detail(send, 400, "Content-Length must be a non-negative integer")
            return
        if int(declared) > self.max_bytes:
            await _send_detail(send, 413, too_large)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return                    # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await _send_detail(send, 413, too_large)
                return
            if not message.get("more_body", False):
                break
        pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> Message:
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)


# --- errors: one shape, {"detail": "..."} -------------------------------------------------------
def _allowed_fields(loc: Sequence[Any], path: str) -> str:
    if len(loc) >= 3 and loc[1] in START_MODELS:
        return ", ".join(START_MODELS[loc[1]].model_fields)
    return ", ".join(ScenarioSwitch.model_fields) if path.endswith("/scenario") else ""


def describe(errors: Sequence[Any], path: str = "") -> str:
    """Pydantic's errors as one line: where, what is wrong, what was given and what is allowed."""
    parts = []
    for e in errors[:5]:
        loc = tuple(e.get("loc", ()))
        where = ".".join(str(p) for p in loc[1:]) if loc[:1] == ("body",) and len(loc) > 1 else ".".join(map(str, loc))
        msg = str(e.get("msg", "invalid"))
        kind = e.get("type", "")
        if kind == "json_invalid":
            msg = f"invalid JSON at position {loc[-1]}: {e.get('ctx', {}).get('error', '')}"
            where = "body"
        elif kind == "extra_forbidden":
            msg = f"unknown field (allowed: {_allowed_fields(loc, path)})"
        elif kind == "union_tag_not_found":
            msg = f"missing 'kind' (allowed: {', '.join(KINDS)})"
        elif loc == ("body",) and (e.get("input") is None or isinstance(e.get("input"), bytes | str | list | float)):
            msg = "expected a JSON object, sent with Content-Type: application/json"
        value = e.get("input")
        if kind not in ("json_invalid", "missing") and (value is None or isinstance(value, str | int | float | bool)):
            msg += f" (got {json.dumps(value)[:80]})"
        parts.append(f"{where or 'body'}: {msg}")
    if len(errors) > 5:
        parts.append(f"and {len(errors) - 5} more")
    return "; ".join(parts)


async def _otelmock_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=400)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": describe(errors, request.url.path)}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = str(exc.detail)
    if isinstance(exc.__cause__, UnicodeError):
        detail = "request body is not valid UTF-8 JSON"
    elif isinstance(exc.__cause__, RecursionError):
        detail = "request body is JSON nested too deeply"
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


# --- routes -------------------------------------------------------------------------------------------
def _segment(seg: Segment) -> SegmentOut:
    return SegmentOut(name=seg.name, since=seg.start_t if seg.start_t > float("-inf") else None, ramp_s=seg.ramp_s)


def control_router(runtime: Runtime, token: str | None = None, *, ground_truth: bool = True) -> APIRouter:
    """Every endpoint; ``ground_truth=False`` leaves out ``/metrics`` (for the exporters' ports)."""
    router = APIRouter()
    write = [Security(HTTPBearer(auto_error=False, description="the api.token setting"))] if token else []
    errors: dict[int | str, dict[str, Any]] = {400: {"model": Detail}, 422: {"model": Detail}}
    write_errors: dict[int | str, dict[str, Any]] = {**errors, 401: {"model": Detail}, 413: {"model": Detail}}

    def find(anomaly_id: str) -> Anomaly:
        for a in runtime.world.timeline.anomalies:
            if a.id == anomaly_id:
                return a
        known = ", ".join(a.id for a in runtime.world.timeline.anomalies[-20:]) or "none yet"
        raise HTTPException(404, f"no anomaly {anomaly_id!r} (latest ids: {known}; GET /anomalies?all=true)")

    @router.get("/health", response_model=Health, tags=["meta"])
    def health() -> Health:
        return Health()

    @router.get("/scenarios", response_model=list[ScenarioOut], tags=["scenarios"])
    def list_scenarios() -> list[ScenarioOut]:
        return [ScenarioOut(name=s.name, description=s.description, params=dict(s.params))
                for _, s in sorted(runtime.scenarios.items())]

    @router.get("/scenario", response_model=ActiveScenario, tags=["scenarios"])
    def active_scenario() -> ActiveScenario:
        now = runtime.clock.now()
        timeline = runtime.world.timeline
        seg, last = timeline.active(now), timeline.segments[-1]
        sc = runtime.scenarios.get(seg.name)
        return ActiveScenario(**_segment(seg).model_dump(), description=sc.description if sc else "",
                              pending=_segment(last) if last.start_t > now else None)

    @router.put("/scenario", response_model=SegmentOut, tags=["scenarios"], dependencies=write,
                responses=write_errors)
    def switch_scenario(body: ScenarioSwitch) -> SegmentOut:
        seg = runtime.switch_scenario(body.name, body.ramp_s)
        log.info("scenario %s from t=%.0f (ramp %g s)", seg.name, seg.start_t, seg.ramp_s)
        return _segment(seg)

    @router.get("/state", tags=["state"], response_model=dict[str, Any])
    def state() -> JSONResponse:
        return JSONResponse(plain(runtime.summary()))

    @router.get("/anomalies", response_model=list[AnomalyOut], tags=["anomalies"], responses=errors)
    def list_anomalies(include_all: bool = Query(False, alias="all", description="include ended anomalies")
                       ) -> list[AnomalyOut]:
        now = runtime.clock.now()
        out = [AnomalyOut.of(a, now) for a in runtime.world.timeline.anomalies]
        return out if include_all else [a for a in out if a.state != "ended"]

    @router.post("/anomalies", status_code=201, response_model=AnomalyOut, tags=["anomalies"], dependencies=write,
                 responses={**write_errors, 409: {"model": Detail}})
    def start_anomaly(body: AnomalyRequest) -> AnomalyOut:
        if len(runtime.active_anomalies()) >= MAX_ANOMALIES:
            raise HTTPException(409, f"too many active anomalies (at most {MAX_ANOMALIES}); stop one first")
        if KINDS[body.kind][1] == "event":
            a = runtime.start_anomaly(body.kind, body.target, None, 0.0, 0.0)
        else:
            a = runtime.start_anomaly(body.kind, body.target, body.magnitude, body.duration_s, body.ramp_s)
        log.info("anomaly %s %s target=%r magnitude=%g from t=%.0f for %g s", a.id, a.kind, a.target, a.magnitude,
                 a.start_t, a.duration_s)
        return AnomalyOut.of(a, runtime.clock.now())

    @router.get("/anomalies/{anomaly_id}", response_model=AnomalyOut, tags=["anomalies"],
                responses={404: {"model": Detail}, 422: {"model": Detail}})
    def get_anomaly(anomaly_id: str = Path(max_length=MAX_NAME_LEN)) -> AnomalyOut:
        return AnomalyOut.of(find(anomaly_id), runtime.clock.now())

    @router.delete("/anomalies/{anomaly_id}", response_model=AnomalyOut, tags=["anomalies"], dependencies=write,
                   responses={**write_errors, 404: {"model": Detail}, 409: {"model": Detail}})
    def stop_anomaly(anomaly_id: str = Path(max_length=MAX_NAME_LEN)) -> AnomalyOut:
        a, now = find(anomaly_id), runtime.clock.now()
        if KINDS[a.kind][1] == "event":
            raise HTTPException(409, f"anomaly {a.id} is a {a.kind}, a one-off event: it cannot be stopped")
        if anomaly_state(a, now) == "ended":
            raise HTTPException(409, f"anomaly {a.id} already ended at t={a.end_t:.0f}")
        stopped = runtime.stop_anomaly(a.id)
        log.info("anomaly %s stopped at t=%.0f", a.id, stopped.end_t)
        return AnomalyOut.of(stopped, now)

    @router.get("/anomaly-kinds", response_model=list[AnomalyKindOut], tags=["anomalies"])
    def list_kinds() -> list[AnomalyKindOut]:
        return anomaly_kinds({"gpu": [str(i) for i in range(runtime.settings.gpu.count)],
                              "container": [c.name for c in runtime.world.cids]})

    if ground_truth:
        registry = metrics.registry(runtime)

        @router.get("/metrics", tags=["meta"], response_class=Response,
                    responses={200: {"content": {metrics.CONTENT_TYPE: {"schema": {"type": "string"}}}}})
        def ground_truth_metrics() -> Response:
            return Response(metrics.render(registry), media_type=metrics.CONTENT_TYPE)

    return router


def create_app(runtime: Runtime, token: str | None = None, *, ground_truth: bool = True,
               max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The control API for ``runtime``; with ``token``, PUT/POST/DELETE need ``Authorization: Bearer``."""
    app = FastAPI(title="otelmock control API", version=__version__,
                  description="Switch scenarios and inject anomalies into the simulated server; every change "
                              "starts at the next tick. Ground-truth metrics at /metrics (control port only).")
    app.include_router(control_router(runtime, token or None, ground_truth=ground_truth))
    app.add_exception_handler(OtelmockError, _otelmock_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(BearerAuth, token=token or None)   # outermost: no body is read without the token
    return app


def exporter_mount(runtime: Runtime, token: str | None = None) -> Mount:
    """The API at ``/otelmock`` for an exporter's Starlette routes (no ground truth there)."""
    return Mount(PREFIX, app=create_app(runtime, token, ground_truth=False))

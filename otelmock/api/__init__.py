"""The control API (FastAPI): scenarios, anomalies, world state and ground-truth metrics."""

from otelmock.api.app import MAX_BODY_BYTES, PREFIX, control_router, create_app, exporter_mount

__all__ = ["MAX_BODY_BYTES", "PREFIX", "control_router", "create_app", "exporter_mount"]

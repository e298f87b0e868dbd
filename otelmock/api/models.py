"""Bodies of the control API. Bounds come from the anomaly and parameter tables, so /openapi.json documents them.

A request to start an anomaly is a union tagged by ``kind``: one model per entry of
:data:`otelmock.scenario.anomaly.KINDS`, each with that kind's magnitude bounds and default.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from otelmock.runtime import MAX_DURATION_S
from otelmock.scenario.anomaly import KINDS, Anomaly
from otelmock.world.params import PARAMS, TARGET_PARAMS

MAX_SCENARIO_RAMP_S = 3600.0     # Runtime.switch_scenario's bound
EVENT_WINDOW_S = 60.0            # an event (restart, OOM kill) counts as active this long, as in Timeline
MAX_NAME_LEN = 128

AnomalyStateName = Literal["scheduled", "active", "ended"]

_EVENT_MEANING = {
    "container_restart": "restart the container once (its counters restart from 0, start_time moves)",
    "container_oom_kill": "OOM-kill the container once (oom_events counts it, then it restarts)",
}
_TARGETS = {
    "none": "must be empty: this kind acts on the whole server",
    "gpu": "GPU index as a string, '0'..'<gpu count - 1>' (GET /anomaly-kinds lists them)",
    "container": "container name (GET /anomaly-kinds lists them)",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ScenarioSwitch(_Strict):
    """Switch the whole server to another scenario, reached by a linear ramp starting at the next tick."""

    name: str = Field(min_length=1, max_length=MAX_NAME_LEN, description="scenario name (GET /scenarios)",
                      examples=["high_load"])
    ramp_s: float = Field(30.0, ge=0.0, le=MAX_SCENARIO_RAMP_S,
                          description="transition time in seconds (0: jump at the next tick)")


class StartAnomaly(_Strict):
    """What every start request carries; each kind narrows the bounds (models ``Start<Kind>``)."""

    kind: str
    target: str = ""
    magnitude: float | None = None
    duration_s: float = 300.0
    ramp_s: float = 0.0


def meaning(kind: str) -> str:
    """What an anomaly kind does, from the parameter table."""
    if kind in _EVENT_MEANING:
        return _EVENT_MEANING[kind]
    key, mode = KINDS[kind][0], KINDS[kind][1]
    parts = key.split(".")
    spec = PARAMS.get(key) or TARGET_PARAMS.get(f"{parts[0]}.{parts[-1]}")
    how = {"mul": "multiplies", "add": "adds to", "set": "sets", "grow": "grows linearly over the duration"}[mode]
    return f"{how} {key}: {spec[3] if spec else key}"


def _camel(kind: str) -> str:
    return "".join(p.capitalize() for p in kind.split("_"))


def _anomaly_model(kind: str) -> type[StartAnomaly]:
    _, mode, (lo, hi), default_mag, target_kind = KINDS[kind]
    event = mode == "event"
    ignored = " (ignored: this kind is a one-off event)" if event else ""
    fields: dict[str, Any] = {
        "kind": (Literal[kind], Field(description=meaning(kind))),
        "target": (str, Field("", max_length=MAX_NAME_LEN, description=_TARGETS[target_kind])),
        "magnitude": (Annotated[float, Field(ge=lo, le=hi)] | None,
                      Field(None, description=f"in [{lo:g}, {hi:g}]; null: {default_mag:g}{ignored}")),
        "duration_s": (float, Field(0.0 if event else 300.0, ge=0.0 if event else 1.0, le=MAX_DURATION_S,
                                    description=f"seconds the anomaly lasts{ignored}")),
        "ramp_s": (float, Field(0.0, ge=0.0, le=MAX_DURATION_S,
                                description=f"seconds to reach the magnitude, at most duration_s{ignored}")),
    }
    return create_model(f"Start{_camel(kind)}", __base__=StartAnomaly, __doc__=meaning(kind), **fields)


START_MODELS: dict[str, type[StartAnomaly]] = {kind: _anomaly_model(kind) for kind in KINDS}
if TYPE_CHECKING:
    AnomalyRequest = StartAnomaly
else:  # one model per kind, told apart by "kind", so /openapi.json carries each kind's bounds
    AnomalyRequest = Annotated[Union[tuple(START_MODELS.values())], Field(discriminator="kind")]  # noqa: UP007


class Detail(BaseModel):
    """Every error: what is wrong and what is allowed."""

    detail: str


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class ScenarioOut(BaseModel):
    name: str
    description: str
    params: dict[str, float] = Field(description="parameters the scenario sets (others take their defaults)")


class SegmentOut(BaseModel):
    name: str
    since: float | None = Field(description="Unix time the switch took effect (null: since the world began)")
    ramp_s: float


class ActiveScenario(SegmentOut):
    description: str
    pending: SegmentOut | None = Field(None, description="a switch accepted but starting at the next tick")


class AnomalyOut(BaseModel):
    id: str
    kind: str
    target: str
    magnitude: float
    start_t: float = Field(description="Unix time it starts (the tick after the request)")
    end_t: float
    duration_s: float
    ramp_s: float
    state: AnomalyStateName

    @classmethod
    def of(cls, a: Anomaly, t: float) -> AnomalyOut:
        return cls(id=a.id, kind=a.kind, target=a.target, magnitude=a.magnitude, start_t=a.start_t,
                   end_t=a.end_t, duration_s=a.duration_s, ramp_s=a.ramp_s, state=anomaly_state(a, t))


class Range(BaseModel):
    min: float
    max: float


class MagnitudeRange(Range):
    default: float


class AnomalyKindOut(BaseModel):
    kind: str
    description: str
    parameter: str = Field(description="world parameter it moves ({target} is replaced by the target)")
    mode: Literal["mul", "add", "set", "grow", "event"]
    target_kind: Literal["none", "gpu", "container"]
    targets: list[str] = Field(description="allowed targets (empty: the target must be empty)")
    magnitude: MagnitudeRange
    duration_s: Range | None = Field(description="null: a one-off event")


def anomaly_state(a: Anomaly, t: float) -> AnomalyStateName:
    """Scheduled before its start, then active until its end (events: for EVENT_WINDOW_S), then ended."""
    if t < a.start_t:
        return "scheduled"
    if KINDS[a.kind][1] == "event":
        return "active" if t < a.start_t + EVENT_WINDOW_S else "ended"
    return "active" if t < a.end_t else "ended"


def anomaly_kinds(targets: dict[str, list[str]]) -> list[AnomalyKindOut]:
    out = []
    for kind, (key, mode, (lo, hi), default_mag, target_kind) in KINDS.items():
        out.append(AnomalyKindOut(
            kind=kind, description=meaning(kind), parameter=key, mode=mode,  # type: ignore[arg-type]
            target_kind=target_kind, targets=targets.get(target_kind, []),  # type: ignore[arg-type]
            magnitude=MagnitudeRange(min=lo, max=hi, default=default_mag),
            duration_s=None if mode == "event" else Range(min=1.0, max=MAX_DURATION_S)))
    return out


def plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN and infinities to null."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


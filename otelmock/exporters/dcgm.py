"""NVIDIA dcgm-exporter 4.5.x (``4.5.3-4.8.2``) on an 8x H200 node: one family per row of its counters CSV.

The real exporter writes its text with a Go ``text/template`` (``internal/pkg/rendermetrics``), not with
client_golang, so the ``dcgm`` dialect of the bridge does::

    # HELP DCGM_FI_DEV_GPU_TEMP GPU temperature (in C).
    # TYPE DCGM_FI_DEV_GPU_TEMP gauge
    DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-…",pci_bus_id="00000000:18:00.0",device="nvidia0",modelName=…
                         …"NVIDIA H200",Hostname="gpu-…",DCGM_FI_DRIVER_VERSION="580.159.04"} 58

* Families are sorted by DCGM field id: the template ranges over a map keyed by the ``Counter`` struct
  (field id first), which Go visits in key order. ``order="csv"`` keeps the file order instead.
* Labels: ``gpu, UUID, pci_bus_id, device, modelName, Hostname`` in that fixed order, then the CSV's
  ``label`` rows sorted by name, then the attributes sorted by name: ``container, namespace, pod`` on
  the series of a GPU held by containers (one series per container, as the pod mapper does for shared
  GPUs), ``err_code, err_msg`` on ``DCGM_FI_DEV_XID_ERRORS``.
* int64 fields print ``%d``, doubles ``%f``; counters keep their DCGM names; a blank value (an absent
  GPU, a field the H200 answers N/A) writes no series; there are no ``go_*``/``process_*`` families.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from otelmock.config import Settings
from otelmock.errors import ConfigError
from otelmock.exporters.base import Family, Process, Sample
from otelmock.exporters.dcgm_fields import EXPORTER_FIELDS, INT, STRING, XID_MESSAGES, XID_UNKNOWN, Field, lookup
from otelmock.vec import Vec, uniform, vfloat
from otelmock.world.snapshot import GpuState, Snapshot

log = logging.getLogger(__name__)
PACKAGED = ("default-counters.csv", "dcp-metrics-included.csv")  # etc/ of dcgm-exporter 4.5.3-4.8.2
PROM_TYPES = ("gauge", "counter", "label")
XID_FIELD_ID = 230
ORDERS = ("field_id", "csv")
HOSTNAME_LABELS = ("Hostname", "hostname", "")


@dataclass(frozen=True, slots=True)
class Options:
    """How the simulated dcgm-exporter was started (flags and environment)."""

    hostname_label: str = "Hostname"   # "hostname" from the commit after 4.5.3-4.8.2 (#655); "" leaves it out
    hostname: str = ""                 # NODE_NAME; "" = the simulated host's name
    container_labels: bool = True      # container/namespace/pod on the series of GPUs held by containers
    namespace: str = "default"         # Docker has no namespaces: what the pod mapper would write
    use_old_namespace: bool = False    # --use-old-namespace: uuid, container_name, pod_name, pod_namespace
    order: str = "field_id"            # "csv": families in file order (dcgm-exporter 2.x)

    def __post_init__(self) -> None:
        if self.hostname_label not in HOSTNAME_LABELS:
            raise ConfigError(f"dcgm.hostname_label = {self.hostname_label!r}; expected 'Hostname', 'hostname' or ''")
        if self.order not in ORDERS:
            raise ConfigError(f"dcgm.family_order = {self.order!r}; expected one of {', '.join(ORDERS)}")


@dataclass(frozen=True, slots=True)
class Counter:
    """One row of a counters CSV."""

    field: Field
    name: str                          # as written (a 1.x name stays the family name)
    type: str                          # gauge | counter | label
    help: str


def read_counters(text: str, origin: str = "<csv>") -> tuple[Counter, ...]:
    """Parse dcgm-exporter's CSV format (``# comment``, ``FIELD, type, help``); errors name ``origin:line``."""
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        record = [part.strip() for part in next(csv.reader([line]))]
        where = f"{origin}:{lineno}"
        if len(record) != 3:
            raise ConfigError(f"{where}: expected 3 fields (DCGM field, Prometheus type, help), got {line.strip()!r}")
        name, type_, help_ = record
        field = lookup(name)
        if field is None and name in EXPORTER_FIELDS:
            log.warning("%s: %s is not simulated; left out", where, name)
            continue
        if field is None:
            raise ConfigError(f"{where}: unknown DCGM field {name!r} (not in otelmock's H200 field catalog)")
        if type_ not in PROM_TYPES:
            raise ConfigError(f"{where}: {name}: unknown Prometheus type {type_!r}; expected {', '.join(PROM_TYPES)}")
        if field.kind == STRING and type_ != "label":
            raise ConfigError(f"{where}: {name} is a string field: its type must be 'label', not {type_!r}")
        rows.append(Counter(field, name, type_, help_))
    return tuple(rows)


def families_from_csv(source: str | Path, options: Options | None = None) -> tuple[Family, ...]:
    """The families a counters CSV asks for: ``source`` is a path, a packaged file name or the CSV text."""
    text, origin = _read(source)
    return build(read_counters(text, origin), options or Options())


def build(counters: Sequence[Counter], options: Options) -> tuple[Family, ...]:
    seen: set[int] = set()
    kept = []
    for c in counters:  # values are matched to the first row with their field id; later rows stay empty
        if c.field.id not in seen:
            seen.add(c.field.id)
            kept.append(c)
    labels = sorted((c for c in kept if c.type == "label" and c.field.supported), key=lambda c: c.name)
    metrics = [c for c in kept if c.type != "label" and c.field.supported]
    if options.order == "field_id":
        metrics.sort(key=lambda c: c.field.id)
    return tuple(_family(c, labels, options) for c in metrics)


def _identity_names(o: Options) -> tuple[str, ...]:
    uuid = "uuid" if o.use_old_namespace else "UUID"
    return ("gpu", uuid, "pci_bus_id", "device", "modelName", *((o.hostname_label,) if o.hostname_label else ()))


def _identity(g: GpuState, host: str, o: Options) -> tuple[str, ...]:
    # device is nvidia<DCGM gpu id> (gpu_collector.go), which is the NVML index, not the /dev minor
    return (str(g.index), g.uuid, g.pci_bus_id, f"nvidia{g.index}", g.model, *((host,) if o.hostname_label else ()))


def _holder_names(o: Options) -> tuple[str, str, str]:
    """(container, namespace, pod) attribute names."""
    return ("container_name", "pod_namespace", "pod_name") if o.use_old_namespace else ("container", "namespace", "pod")


def _holders(g: GpuState, o: Options) -> list[dict[str, str]]:
    if not o.container_labels:
        return [{}]
    container, namespace, pod = _holder_names(o)
    if not g.containers:  # device-level series; the empty values stand for absent labels
        return [{container: "", namespace: "", pod: ""}]
    return [{container: name, namespace: o.namespace, pod: name} for name in g.containers]


def _label_value(f: Field, g: GpuState, s: Snapshot) -> str:
    v = uniform(f.value(g, s))
    if v is None or isinstance(v, str):
        return v or ""
    return f"{int(v)}" if f.kind == INT else f"{v:f}"


def _isnan(v: Vec) -> object:
    """``math.isnan(v)``; of a run, tick by tick."""
    return np.isnan(v) if isinstance(v, np.ndarray) else math.isnan(v)


def _xid(code: int) -> dict[str, str]:
    return {"err_code": str(code), "err_msg": XID_MESSAGES.get(code, XID_UNKNOWN)}


def _family(c: Counter, labels: Sequence[Counter], o: Options) -> Family:
    field, xid = c.field, c.field.id == XID_FIELD_ID
    holders = _holder_names(o) if o.container_labels else ()
    attrs = tuple(sorted((*holders, *(("err_code", "err_msg") if xid else ()))))

    def points(s: Snapshot, p: Process) -> Iterator[Sample]:
        host = o.hostname or getattr(s.host, "hostname", "")
        for g in s.gpus:
            if not g.present:
                continue
            v = field.value(g, s)
            if v is None or isinstance(v, str) or uniform(_isnan(v)):
                continue
            base = (*_identity(g, host, o), *(_label_value(lab.field, g, s) for lab in labels))
            extra = _xid(int(uniform(v))) if xid else {}
            for holder in _holders(g, o):
                values = holder | extra
                yield "", (*base, *(values[a] for a in attrs)), vfloat(v)

    names = (*_identity_names(o), *(lab.name for lab in labels), *attrs)
    return Family(c.name, c.type, c.help, names, points, int_format=field.kind == INT)


def _read(source: str | Path) -> tuple[str, str]:
    if isinstance(source, str) and ("\n" in source or "," in source):
        return source, "<csv>"
    path = Path(source)
    if not path.is_file() and path.name in PACKAGED:  # -f /etc/dcgm-exporter/<name> as in the image
        return packaged_csv(path.name)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: counters CSV not found (dcgm.collectors)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the counters CSV: {exc}") from None


def packaged_csv(name: str = PACKAGED[0]) -> tuple[str, str]:
    """(text, origin) of a CSV shipped with dcgm-exporter and copied into ``otelmock/data/dcgm``."""
    packaged = resources.files("otelmock").joinpath(f"data/dcgm/{name}")
    return packaged.read_text(encoding="utf-8"), str(packaged)


def _get(section: object, key: str, default: Any) -> Any:
    if isinstance(section, Mapping):
        return section.get(key, default)
    return getattr(section, key, default)


def options_from(settings: Settings | None) -> Options:
    """``dcgm.*`` settings (absent keys take the defaults of :class:`Options`)."""
    d, o = getattr(settings, "dcgm", None), Options()
    return Options(
        hostname_label=_get(d, "hostname_label", o.hostname_label), hostname=_get(d, "hostname", o.hostname),
        container_labels=bool(_get(d, "container_labels", o.container_labels)),
        namespace=_get(d, "namespace", o.namespace), use_old_namespace=bool(_get(d, "use_old_namespace", False)),
        order=_get(d, "family_order", o.order),
    )


def families(settings: Settings | None = None) -> tuple[Family, ...]:
    """The exporter's table: ``dcgm.collectors`` (a CSV path; "" = the packaged default-counters.csv)."""
    collectors = _get(getattr(settings, "dcgm", None), "collectors", "")
    text, origin = _read(collectors) if collectors else packaged_csv()
    return build(read_counters(text, origin), options_from(settings))

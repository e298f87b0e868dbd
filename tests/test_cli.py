"""The command line as a user runs it: one-line errors with exit status 2, nothing half-started."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import T0


def otelmock(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTELMOCK_")}
    return subprocess.run([sys.executable, "-m", "otelmock", *args], capture_output=True, text=True,
                          env={**base, **(env or {})}, timeout=timeout, check=False)


def test_dump_is_a_pure_function_of_seed_and_time() -> None:
    env = {"OTELMOCK_HOST__REBOOT_EVERY_DAYS": "3"}
    a = otelmock("dump", "node", "--at", str(T0), "--seed", "7", env=env)
    b = otelmock("dump", "node", "--at", "2026-11-18T11:06:40Z", "--seed", "7", env=env)
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    assert "node_boot_time_seconds" in a.stdout and a.stdout.startswith("# HELP go_gc_duration_seconds")


def test_bad_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    r = otelmock("run", env={"OTELMOCK_PORTS__NODE": "99999"})
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "otelmock: error: environment variable OTELMOCK_PORTS__NODE: ports.node = 99999 is invalid; "
        "expected between 1 and 65535"
    ]
    cfg = tmp_path / "c.toml"
    cfg.write_text("colour = 'blue'\n")
    r = otelmock("run", "--config", str(cfg))
    assert r.returncode == 2 and f"{cfg}: unknown setting 'colour'" in r.stderr


def test_unknown_scenario_and_bad_time() -> None:
    r = otelmock("dump", "node", "--scenario", "nope")
    assert r.returncode == 2 and "scenario 'nope' not found (available: degraded, high_load, normal)" in r.stderr
    r = otelmock("dump", "node", "--at", "yesterday")
    assert r.returncode == 2 and "--at: 'yesterday' is neither Unix seconds nor ISO 8601" in r.stderr


def test_port_in_use_is_reported_and_nothing_starts() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = otelmock("run", env={"OTELMOCK_BIND": "127.0.0.1", "OTELMOCK_PORTS__NODE": str(port)}, timeout=30)
    assert r.returncode == 2
    assert r.stderr.strip() == f"otelmock: error: port {port} (node) on 127.0.0.1 is already in use"


def test_scenarios_lists_the_packaged_ones() -> None:
    r = otelmock("scenarios")
    names = [line.split("\t")[0] for line in r.stdout.splitlines()]
    assert r.returncode == 0 and names == ["degraded", "high_load", "normal"]


def test_processes_out_of_range_is_one_line_and_nothing_starts() -> None:
    cases = ((("--processes", "2"), "2 is outside [1, 1]"),
             (("--hosts", "3", "--processes", "4"), "4 is outside [1, 3]"),
             (("--hosts", "3", "--processes", "0"), "0 is outside [1, 3]"))
    for args, bad in cases:
        r = otelmock("run", *args, env={"OTELMOCK_BIND": "127.0.0.1"}, timeout=30)
        assert r.returncode == 2
        assert r.stderr.strip() == f"otelmock: error: --processes: {bad} (one to one per host)"

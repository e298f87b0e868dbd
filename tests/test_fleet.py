"""Fleet: distinct, independent hosts on offset ports, a valid file_sd file, identity from a hostname."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from otelmock import config, fleet
from otelmock.clock import SimClock
from otelmock.runtime import Runtime
from otelmock.scenario.loader import discover

REQUIRE = os.environ.get("REQUIRE_REAL_TOOLS") == "1"
T0 = 1_795_000_000.0


@pytest.fixture(scope="module")
def hosts() -> Iterator[list[Runtime]]:
    # a one-day reboot period keeps each host's history from boot (computed at start) short
    s = config.load(host__reboot_every_days=1)
    rts = fleet.build_fleet(s, discover(), 3, SimClock(T0))
    yield rts
    for rt in rts:
        rt.stop()


def _value(body: bytes, name: str) -> list[str]:
    return re.findall(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", body.decode(), re.M)


def test_hosts_have_their_own_identity_ports_and_values(hosts: list[Runtime]) -> None:
    assert [rt.settings.host.index for rt in hosts] == [0, 1, 2]
    assert len({rt.world.ident.hostname for rt in hosts}) == 3
    assert len({g for rt in hosts for g in rt.world.gpu_ids}) == 3 * len(hosts[0].world.gpu_ids)
    assert len({c.id for rt in hosts for c in rt.world.cids}) == 3 * len(hosts[0].world.cids)
    assert [rt.exporters["node"].port for rt in hosts] == [9100, 9200, 9300]
    assert [rt.exporters["vllm"].port for rt in hosts] == [9902, 10002, 10102]
    nodes = [rt.exporters["node"].bridge.render() for rt in hosts]
    for rt, body in zip(hosts, nodes, strict=True):
        assert f'nodename="{rt.world.ident.hostname}"' in body.decode()
    assert len({tuple(_value(b, "node_load1")) for b in nodes}) == 3
    assert len({tuple(_value(b, "node_network_receive_bytes_total")) for b in nodes}) == 3
    gpus = [rt.exporters["dcgm"].bridge.render() for rt in hosts]
    assert len({tuple(_value(b, "DCGM_FI_DEV_POWER_USAGE")) for b in gpus}) == 3
    uuids = [set(re.findall(r'UUID="(GPU-[^"]+)"', b.decode())) for b in gpus]
    assert not uuids[0] & uuids[1] and not uuids[1] & uuids[2]


def test_file_sd(hosts: list[Runtime], tmp_path: Path) -> None:
    path = tmp_path / "sd" / "otelmock.json"
    fleet.write_file_sd(path, [rt.settings for rt in hosts], "0.0.0.0")
    groups = json.loads(path.read_text())
    assert len(groups) == 3 * 5
    assert {g["labels"]["job"] for g in groups} == {"node", "dcgm", "cadvisor", "litellm", "vllm"}
    targets = [t for g in groups for t in g["targets"]]
    assert len(set(targets)) == len(targets) and "localhost:9300" in targets and "localhost:10001" in targets
    assert {g["labels"]["__meta_otelmock_hostname"] for g in groups} == {rt.world.ident.hostname for rt in hosts}
    if shutil.which("promtool") is None:
        if REQUIRE:
            pytest.fail("promtool is required (REQUIRE_REAL_TOOLS=1)")
        return
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(f"scrape_configs:\n  - job_name: otelmock\n    file_sd_configs:\n      - files: ['{path}']\n")
    res = subprocess.run(["promtool", "check", "config", str(cfg)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    res = subprocess.run(["promtool", "check", "service-discovery", "--timeout=2s", str(cfg), "otelmock"],
                         capture_output=True, text=True, check=True)
    found = json.loads(res.stdout[res.stdout.index("["):])
    assert len(found) == 15  # the job label of each group overrides the scrape config's job_name
    assert {(t["labels"]["job"], t["labels"]["instance"]) for t in found} >= {("node", "localhost:9300"),
                                                                              ("litellm", "localhost:10001")}


def test_ports_and_limits() -> None:
    s = config.load()
    assert fleet.host_settings(s, 2).ports.cadvisor == 8280
    assert fleet.host_settings(config.load(host__hostname="lab"), 1).host.hostname == "lab-1"
    with pytest.raises(config.ConfigError, match="65535"):
        fleet.host_settings(s, 600)
    clash = config.load(ports__node=9100, ports__dcgm=9200)
    with pytest.raises(config.ConfigError, match="port 9200"):
        fleet.build_fleet(clash, discover(), 2, SimClock(T0))
    assert fleet.target_host("127.0.0.1") == "127.0.0.1" and fleet.target_host("::1") == "[::1]"


def test_host_index_from_hostname(capsys: pytest.CaptureFixture[str]) -> None:
    assert fleet.host_index_from_hostname("otelmock-3") == 3
    assert fleet.host_index_from_hostname("otelmock-host-12") == 12
    hashed = fleet.host_index_from_hostname("otelmock-7c9d8f6b5-x2k4q")
    assert hashed == fleet.host_index_from_hostname("otelmock-7c9d8f6b5-x2k4q") and 0 <= hashed <= 9999
    assert fleet.host_index_from_hostname("otelmock-99999") != 99999
    assert len({fleet.host_index_from_hostname(f"otelmock-{h:x}-abcde") for h in range(50)}) > 45
    assert fleet.main(["host-index", "otelmock-7"]) == 0 and capsys.readouterr().out == "7\n"


def _free_base() -> int:
    for base in range(21000, 60000, 997):
        ports = [base + d + fleet.PORT_STRIDE * i for i in range(2) for d in (0, 1, 2, 3, 4, 5)]
        try:
            for p in ports:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports")


def _serve(base: int, sd: Path, processes: int, **env: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OTELMOCK_BIND": "127.0.0.1", "OTELMOCK_HOST__REBOOT_EVERY_DAYS": "1", **env,
           **{f"OTELMOCK_PORTS__{n.upper()}": str(base + d) for d, n in enumerate(
               ("node", "dcgm", "cadvisor", "litellm", "vllm", "control"))}}
    code = ("import logging, sys; from otelmock import config, fleet; from otelmock.scenario.loader import discover; "
            "logging.basicConfig(level=logging.INFO); "
            f"sys.exit(fleet.serve_fleet(config.load(), discover(), 2, {str(sd)!r}, {processes}))")
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("processes", [1, 2])
def test_serve_two_hosts(tmp_path: Path, processes: int) -> None:
    """Two hosts from one process, or each from its own (the parent passes SIGTERM on and exits 0)."""
    base = _free_base()
    sd = tmp_path / "targets.json"
    proc = _serve(base, sd, processes)
    try:
        deadline = time.time() + 60
        while not sd.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        bodies = []
        for port in (base, base + fleet.PORT_STRIDE):
            for _ in range(100):
                try:
                    bodies.append(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read())
                    break
                except OSError:
                    time.sleep(0.2)
        assert len(bodies) == 2 and bodies[0] != bodies[1]
        names = [re.search(r'nodename="([^"]+)"', b.decode()).group(1) for b in bodies]  # type: ignore[union-attr]
        assert len(set(names)) == 2
        names_by_port = dict(zip((base, base + fleet.PORT_STRIDE), names, strict=True))
        assert {t for g in json.loads(sd.read_text()) for t in g["targets"]} >= {f"127.0.0.1:{base + 100}"}
        state = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{base + 105}/state", timeout=5).read())
        assert state["hostname"] == names_by_port[base + 100]  # host 1's control API on control + 100
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, out
    if processes == 2:
        assert re.search(r"hosts 0-0 served by process \d+", out) and re.search(r"hosts 1-1 served by process", out)


def test_a_failing_host_group_stops_the_fleet(tmp_path: Path) -> None:
    """Host 1's state file is broken: its process stops naming the file, and the fleet stops with status 2."""
    base = _free_base()
    state = tmp_path / "state.json"
    (tmp_path / "state-1.json").write_text("{not json")
    proc = _serve(base, tmp_path / "targets.json", 2, OTELMOCK_STATE_FILE=str(state))
    try:
        out = proc.communicate(timeout=90)[0].decode()
    finally:
        proc.kill()
    assert proc.returncode == 2, out
    assert "state-1.json" in out and "stopping the fleet" in out


def test_each_host_keeps_its_own_state_file() -> None:
    s = config.load(environ={}, state_file="/var/lib/otelmock/state.json")
    assert [fleet.host_settings(s, i).state_file for i in range(3)] == [
        "/var/lib/otelmock/state.json", "/var/lib/otelmock/state-1.json", "/var/lib/otelmock/state-2.json"]
    assert fleet.host_settings(config.load(environ={}), 2).state_file == ""  # none configured: none per host

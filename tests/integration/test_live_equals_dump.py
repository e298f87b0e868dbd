"""DESIGN invariant 2: what `otelmock run` served at a tick is what `otelmock dump --at` prints for it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.integration.conftest import get


def _node_lines(text: str) -> dict[str, str]:
    """node_* samples (the exporter's own go_/process_/promhttp_ families describe the serving process)."""
    return {line.rsplit(" ", 1)[0]: line for line in text.splitlines() if line.startswith("node_")}


def test_a_live_scrape_equals_the_dump_of_its_tick(mock: dict[str, str]) -> None:
    live = get(f"http://{mock['node']}/metrics").decode()
    t = next(line.split()[1] for line in live.splitlines() if line.startswith("node_time_seconds "))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTELMOCK_")}
    dump = subprocess.run([sys.executable, "-m", "otelmock", "dump", "node", "--at", t], env=env,
                          capture_output=True, text=True, check=True, timeout=120).stdout
    a, b = _node_lines(live), _node_lines(dump)
    assert len(a) > 2000 and a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []

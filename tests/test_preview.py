"""Preview: a PNG of the key signals of a simulated range, sampled from the world."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PIL", reason="preview needs Pillow (the optional preview extra)")

from otelmock import config, preview
from otelmock.errors import ConfigError
from otelmock.scenario.loader import discover
from otelmock.scenario.timeline import Timeline
from otelmock.world.model import World

T = 1_767_571_200.0  # 2026-01-05T00:00:00Z


def test_sample_has_every_key_signal() -> None:
    s = config.load(host__reboot_every_days=1)
    world = World(s, Timeline.constant("normal", discover()["normal"].params))
    times, panels, models = preview.sample(world, T, 2 / 24, 300.0)
    assert len(times) == 25 and len(models) == len(world.snapshot(world.tick_at(T)).vllm)
    titles = [p.title for p in panels]
    for word in ("GPU utilisation", "GPU power", "GPU temperature", "Requests", "latency", "Errors", "CPU", "memory"):
        assert any(word in t for t in titles), word
    for p in panels:
        finite = [v[np.isfinite(v)] for v in p.series.values()]
        assert any(f.size for f in finite), p.title
    util = next(p for p in panels if p.title == "GPU utilisation")
    assert len(util.series) == s.gpu.count and all(np.nanmax(v) <= 100 for v in util.series.values())


def _parser() -> argparse.ArgumentParser:
    sub = argparse.ArgumentParser().add_subparsers()
    common = argparse.ArgumentParser(add_help=False)
    for flag in ("--config", "--scenario"):
        common.add_argument(flag)
    common.add_argument("--seed", type=int)
    return preview.add_parser(sub, common)


def test_bad_step_is_a_config_error(tmp_path: Path) -> None:
    args = _parser().parse_args(["--step", "soon", "--out", str(tmp_path / "x.png")])
    with pytest.raises(ConfigError, match="'soon' is not a duration"):
        preview.cmd(args)
    assert not (tmp_path / "x.png").exists()


def test_writes_a_png(tmp_path: Path) -> None:
    parser = _parser()
    out = tmp_path / "day.png"
    args = parser.parse_args(["--scenario", "degraded", "--days", str(3 / 24), "--start", "2026-01-05T00:00:00Z",
                              "--out", str(out), "--config", str(_short_boot(tmp_path))])
    assert preview.cmd(args) == 0
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000
    from PIL import Image

    with Image.open(out) as img:
        assert img.size[0] == 1800 and img.size[1] > 1000


def _short_boot(tmp_path: Path) -> Path:
    cfg = tmp_path / "short.toml"
    cfg.write_text("[host]\nreboot_every_days = 1\n")
    return cfg

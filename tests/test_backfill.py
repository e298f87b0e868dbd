"""Backfill: valid OpenMetrics that promtool imports, with exactly the live exporters' series and values."""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_fd_to_metric_families
from prometheus_client.parser import text_string_to_metric_families

from otelmock import backfill as bf
from otelmock import cli, config
from otelmock.scenario.loader import discover
from otelmock.world.identity import derive_host
from tests.integration.conftest import tool

REQUIRE = os.environ.get("REQUIRE_REAL_TOOLS") == "1"
LINE = re.compile(r'^([^{ ]+)(\{.*\})? (\S+) (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def _start() -> float:
    """An hour after the default host's last boot: the world's history from boot is short to compute."""
    boot = derive_host(config.load()).boot_time(1_767_225_600.0)
    return boot - boot % 15 + 3600


T = _start()


@pytest.fixture(scope="module")
def text() -> str:
    out = io.StringIO()
    stats = bf.backfill(config.load(), discover(), T, T + 600, 15.0, out)
    assert stats.steps == 41 and stats.samples > 41 * 8000
    return out.getvalue()


def _samples(text: str, at: float | None = None) -> list[tuple[str, frozenset[tuple[str, str]], float, float]]:
    """(name, labels, value, timestamp) of every sample (at one timestamp)."""
    rows = []
    stamp = None if at is None else f" {int(at)}"
    for line in text.splitlines():
        if line.startswith("#") or stamp is not None and not line.endswith(stamp):
            continue
        m = LINE.match(line)
        assert m, line
        rows.append((m.group(1), frozenset(LABEL.findall(m.group(2) or "")), float(m.group(3)), float(m.group(4))))
    return rows


def _series(text: str) -> list[tuple[str, str, float]]:
    """(name, label text, timestamp) of every sample, quickly."""
    out = []
    for line in text.splitlines():
        if not line.startswith("#"):
            head, _, ts = line.rpartition(" ")
            series, _, _ = head.rpartition(" ")
            out.append((series, ts, float(ts)))
    return out


def test_openmetrics_structure(text: str) -> None:
    """Each family once; each series' samples contiguous with its group and strictly increasing in time."""
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    types = re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M)
    names = [n for n, _ in types]
    assert len(names) == len(set(names))
    assert {t for _, t in types} <= {"counter", "gauge", "summary", "histogram", "unknown"}
    assert ("node_cpu_seconds", "counter") in types and ("vllm:e2e_request_latency_seconds", "histogram") in types
    assert "vllm:prompt_tokens_created" not in names  # prometheus_client's _created gauges join their counter
    last: dict[str, float] = {}
    for series, _, ts in _series(text):
        assert ts > last.get(series, -1.0), series
        last[series] = ts
    assert '=""' not in text  # empty label values are left out, as a scrape drops them


def test_each_step_parses_with_prometheus_client(text: str) -> None:
    """prometheus_client's parser reads one point per series (it drops later points of multi-sample groups, a
    parser limitation), so it checks every step's exposition on its own: first, middle and last."""
    lines = text.splitlines(keepends=True)
    meta = [x for x in lines if x.startswith("#")]
    for ts in (T, T + 300, T + 600):
        stamp = f" {int(ts)}\n"
        doc = [x for x in lines if x.startswith("#") or x.endswith(stamp)]
        fams = list(text_fd_to_metric_families(io.StringIO("".join(doc))))
        assert len(fams) == (len(meta) - 1) // 2
        assert sum(len(f.samples) for f in fams) == len(doc) - len(meta)


def _promtool_import(text: str, tmp_path: Path) -> float:
    """promtool's blocks of ``text`` in tmp_path/blocks (skips, or fails under REQUIRE_REAL_TOOLS, without it)."""
    tool("promtool")
    path = tmp_path / "backfill.om"
    path.write_text(text)
    return bf.run_promtool(str(path), str(tmp_path / "blocks"), 600)


def test_promtool_imports_it(text: str, tmp_path: Path) -> None:
    took = _promtool_import(text, tmp_path)
    assert took > 0 and any((tmp_path / "blocks").iterdir())
    out = subprocess.run(["promtool", "tsdb", "analyze", str(tmp_path / "blocks")], capture_output=True, text=True,
                         check=True).stdout
    series = int(re.search(r"^Series: (\d+)$", out, re.M).group(1))  # type: ignore[union-attr]
    assert series == len({s for s, _, _ in _series(text)})


def test_blocks_written_directly_are_the_blocks_promtool_makes(text: str, tmp_path: Path) -> None:
    """``--tsdb-dir``: the same files promtool makes from the OpenMetrics (index and chunks byte for byte, the
    same meta.json but for the block ids), with every value as Prometheus parses it (dcgm's %d/%f, Go's NaN)."""
    _promtool_import(text, tmp_path)
    stats = bf.backfill(config.load(), discover(), T, T + 600, 15.0, None, tsdb_dir=str(tmp_path / "ours"))
    assert stats.samples == len(_series(text))
    _assert_same_blocks(tmp_path / "ours", tmp_path / "blocks")


def _assert_same_blocks(ours_dir: Path, theirs_dir: Path) -> int:
    """The same blocks, file for file and byte for byte, but for the block ids in meta.json; returns how many."""
    def blocks(root: Path) -> list[tuple[dict[str, object], Path]]:
        out = []
        for d in root.iterdir():
            meta = json.loads((d / "meta.json").read_text())
            del meta["ulid"], meta["compaction"]["sources"]
            out.append((meta, d))
        return sorted(out, key=lambda m: int(m[0]["minTime"]))  # type: ignore[call-overload]

    ours, theirs = blocks(ours_dir), blocks(theirs_dir)
    assert [m for m, _ in ours] == [m for m, _ in theirs] and ours
    for (_, a), (_, b) in zip(ours, theirs, strict=True):
        files = sorted(str(f.relative_to(b)) for f in b.rglob("*") if f.is_file() and f.name != "meta.json")
        assert files == sorted(str(f.relative_to(a)) for f in a.rglob("*") if f.is_file() and f.name != "meta.json")
        for f in files:
            assert (a / f).read_bytes() == (b / f).read_bytes(), f
    return len(ours)


def test_blocks_of_several_windows_are_promtools(tmp_path: Path) -> None:
    """Each 2h window's block is written once its steps are computed (two workers, each window from both): the same
    blocks promtool makes of the whole history with --max-block-duration=2h."""
    tool("promtool")
    s = config.load()
    start, end = T - 1800, T + 5 * 3600
    with open(tmp_path / "dcgm.om", "w", encoding="utf-8") as out:
        bf.backfill(s, discover(), start, end, 60.0, out, exporters=["dcgm", "litellm"])
    bf.run_promtool(str(tmp_path / "dcgm.om"), str(tmp_path / "blocks"), 2 * 3600)
    stats = bf.backfill(s, discover(), start, end, 60.0, None, exporters=["dcgm", "litellm"], workers=2,
                        tsdb_dir=str(tmp_path / "ours"), block_hours=2)
    assert _assert_same_blocks(tmp_path / "ours", tmp_path / "blocks") >= 3
    assert stats.writing_s > 0 and stats.samples > 0


def test_degraded_series_that_come_and_go(tmp_path: Path) -> None:
    """Degraded: a container in a crash loop moves the dcgm container labels (%d values) and takes its vLLM series
    away while it restarts: the OpenMetrics has those series only at their steps, and promtool makes of it the
    blocks ``--tsdb-dir`` writes."""
    s = config.load(None, None, scenario="degraded")
    start, end = T, T + 1800
    with open(tmp_path / "degraded.om", "w", encoding="utf-8") as out:
        bf.backfill(s, discover(), start, end, 15.0, out, exporters=["dcgm", "vllm"])
    per_series = Counter(series for series, _, _ in _series((tmp_path / "degraded.om").read_text()))
    assert min(per_series.values()) < 121 == max(per_series.values())
    tool("promtool")
    bf.run_promtool(str(tmp_path / "degraded.om"), str(tmp_path / "blocks"), end - start)
    bf.backfill(s, discover(), start, end, 15.0, None, exporters=["dcgm", "vllm"], tsdb_dir=str(tmp_path / "ours"))
    assert _assert_same_blocks(tmp_path / "ours", tmp_path / "blocks") == 1


def _dump(exporter: str, at: float, capsysbinary: pytest.CaptureFixture[bytes], scenario: str | None = None
          ) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    chosen = ["--scenario", scenario] if scenario else []
    assert cli.main(["dump", exporter, *chosen, "--at", str(at)]) == 0
    live = {}
    for fam in text_string_to_metric_families(capsysbinary.readouterr().out.decode()):
        for s in fam.samples:  # a scrape leaves out empty label values
            live[(s.name, frozenset((k, v) for k, v in s.labels.items() if v))] = s.value
    return live


@pytest.mark.parametrize("exporter", ["node", "vllm"])
def test_values_equal_dump_at_the_same_tick(text: str, exporter: str, capsysbinary: pytest.CaptureFixture[bytes]
                                            ) -> None:
    job = {("job", exporter), ("instance", f"localhost:{getattr(config.load().ports, exporter)}")}
    # the first step: the exporter process starts there, as dump's does; vLLM has no process-dependent family
    for at in (T, T + 300) if exporter == "vllm" else (T,):
        backfilled = {(n, lb - job): v for n, lb, v, _ in _samples(text, at) if job <= lb}
        live = _dump(exporter, at, capsysbinary)
        assert backfilled.keys() == live.keys()
        bad = [k for k, v in live.items() if not (v == backfilled[k] or math.isnan(v) and math.isnan(backfilled[k]))]
        assert not bad, bad[:5]


@pytest.fixture(scope="module")
def degraded_text() -> str:
    out = io.StringIO()
    bf.backfill(config.load(None, None, scenario="degraded"), discover(), T + 3 * 3600, T + 3 * 3600 + 1200, 15.0,
                out)
    return out.getvalue()


@pytest.mark.parametrize("exporter", ["node", "dcgm", "cadvisor", "litellm", "vllm"])
def test_degraded_backfill_joins_live_scrapes(degraded_text: str, exporter: str,
                                              capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Degraded (a crash loop, an offline GPU): at steps inside the backfill, and around a restart, every exporter's
    series and values are the live dump's at the same time (the exporter process's own families aside: the backfill's
    process started at the range's start, dump's at the dumped tick)."""
    start = T + 3 * 3600
    job = {("job", exporter), ("instance", f"localhost:{getattr(config.load().ports, exporter)}")}
    own = ("go_", "process_", "promhttp_", "python_")
    sizes = set()
    for at in (start + 15 * k for k in (7, 33, 61, 80)):
        backfilled = {(n, lb - job): v for n, lb, v, _ in _samples(degraded_text, at)
                      if job <= lb and not n.startswith(own)}
        # the 0.0.4 parser names a counter's samples with _total: as written
        live = {(n if (n, lb) in backfilled else n.removesuffix("_total"), lb): v
                for (n, lb), v in _dump(exporter, at, capsysbinary, "degraded").items() if not n.startswith(own)}
        assert backfilled.keys() == live.keys()
        bad = [k for k, v in live.items() if not (v == backfilled[k] or math.isnan(v) and math.isnan(backfilled[k]))]
        assert not bad, bad[:5]
        sizes.add(len(live))
    assert len(sizes) > 1 or exporter in ("node", "litellm")  # series came and went (a container restarted)


def test_target_labels_and_collisions() -> None:
    s = config.load()
    labels = bf.target_labels(s, ["node", "dcgm"], "gpu-a", {"cluster": "lab"}, {"dcgm": "gpu"})
    assert labels["node"] == {"job": "node", "instance": "gpu-a:9100", "cluster": "lab"}
    assert labels["dcgm"]["job"] == "gpu" and labels["dcgm"]["instance"] == "gpu-a:9445"
    out = io.StringIO()
    bf.backfill(s, discover(), T, T + 15, 15.0, out, exporters=["dcgm"], targets={"dcgm": {"container": "x"}})
    line = next(x for x in out.getvalue().splitlines() if x.startswith("DCGM_FI_DEV_GPU_UTIL{"))
    assert 'exported_container="' in line and line.count('container="x"') == 1  # honor_labels: false


def test_durations_and_schedules() -> None:
    assert [bf.parse_duration(x) for x in ("15s", "5m", "2h", "7d", "1w", "30")] == [15, 300, 7200, 604800,
                                                                                      604800, 30]
    with pytest.raises(ValueError):
        bf.parse_duration("soon")
    sc = discover()
    tl = bf.schedule("normal,high_load@2d,degraded@5d", sc, 1000.0, {})
    assert [(s.name, s.start_t) for s in tl.segments][1:] == [("high_load", 1000.0 + 2 * 86400),
                                                              ("degraded", 1000.0 + 5 * 86400)]
    with pytest.raises(ValueError, match="not found"):
        bf.schedule("nope", sc, 0.0, {})


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "h.om"
    argv = ["--days", str(120 / 86400), "--end", str(T + 120), "--exporters", "dcgm", "--step", "1m",
            "--instance-host", "gpu-a", "--label", "cluster=lab", "--out", str(out), "--workers", "1"]
    if shutil.which("promtool"):
        argv += ["--promtool-dir", str(tmp_path / "blocks")]
    assert bf.main_backfill(argv) == 0
    body = out.read_text()
    assert body.endswith("# EOF\n") and 'instance="gpu-a:9445"' in body and 'cluster="lab"' in body
    assert "samples/s" in capsys.readouterr().err
    assert bf.main_backfill(["--exporters", "nope", "--out", str(out)]) == 2


def test_command_line_tsdb_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--days", str(120 / 86400), "--end", str(T + 120), "--exporters", "dcgm,node", "--workers", "1"]
    assert bf.main_backfill([*argv, "--tsdb-dir", str(tmp_path / "data")]) == 0
    blocks = [d for d in (tmp_path / "data").iterdir() if (d / "meta.json").exists()]
    assert blocks and all((d / "index").stat().st_size > 0 and (d / "chunks" / "000001").exists() for d in blocks)
    assert "-> " + str(tmp_path / "data") in capsys.readouterr().err
    assert bf.main_backfill([*argv, "--tsdb-dir", str(tmp_path / "x"), "--out", str(tmp_path / "h.om")]) == 2
    assert "leave out --out" in capsys.readouterr().err
    # without job/instance, node_exporter's and LiteLLM's process_* series would be the same: refused, named
    argv[5] = "node,litellm"
    assert bf.main_backfill([*argv, "--no-target-labels", "--tsdb-dir", str(tmp_path / "y")]) == 2
    assert "duplicate series" in capsys.readouterr().err


def test_workers_give_the_same_file() -> None:
    s = config.load()
    one, two = io.StringIO(), io.StringIO()
    bf.backfill(s, discover(), T, T + 2 * 3600, 120.0, one, exporters=["dcgm"])
    bf.backfill(s, discover(), T, T + 2 * 3600, 120.0, two, exporters=["dcgm"], workers=2)
    assert one.getvalue() == two.getvalue()
    counts: dict[str, int] = defaultdict(int)
    for series, _, _ in _series(one.getvalue()):
        counts[series.partition("{")[0]] += 1
    assert counts["DCGM_FI_DEV_POWER_USAGE"] % 61 == 0 and counts["DCGM_FI_DEV_POWER_USAGE"] >= 8 * 61

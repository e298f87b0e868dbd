"""otelmock.tsdb.write_blocks: blocks that Prometheus 2.42 reads back exactly.

Without tools: CRC-32C against its definition, the vectorised XOR encoder against a plain port of xor.go,
meta.json / tombstones / chunk limits, bad input. With Debian's promtool and prometheus (skipped when missing,
failed when ``REQUIRE_REAL_TOOLS=1``): every sample back through ``promtool tsdb dump``, ``promtool tsdb
analyze``, files byte-identical to the blocks promtool itself writes from the same samples, segment cuts, and a
real Prometheus answering queries from the blocks.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from otelmock.tsdb import write_blocks
from otelmock.tsdb.block import _write_blocks, new_ulid
from otelmock.tsdb.crc32c import crc32c, crc32c_many
from otelmock.tsdb.xor import XorChunks
from tests.integration.conftest import _stop, free_port, get, tool, wait_http

ABSENT = 0x7FF0_0000_DEAD_0001
GO_NAN = 0x7FF8_0000_0000_0001  # math.NaN(), what promtool's parser returns for "NaN"
H2 = 2 * 3600 * 1000
DUMP_LINE = re.compile(r"^\{(.*)\} (\S+) (-?\d+)$")
DUMP_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def _f(bits: int) -> float:
    return float(np.array([bits], dtype=np.uint64).view(np.float64)[0])


SPECIALS = [GO_NAN, 0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000, 0x8000_0000_0000_0000, 0, 1, 0x7FEF_FFFF_FFFF_FFFF,
            0xFFEF_FFFF_FFFF_FFFF, 0x0010_0000_0000_0000, 0x3FF0_0000_0000_0000, 0xC415_AF1D_78B5_8C40]


def edge_case() -> tuple[list[dict[str, str]], np.ndarray, np.ndarray]:
    """Irregular times (every delta-of-delta bucket, jumps over empty windows, ms offsets), special and
    random values, absent stretches, a series present once, labels in any order with empty values."""
    rng = np.random.default_rng(42)
    # delta of deltas: 0, +-1, 14-bit (-7000), 17-bit (-14999, 15000), 20-bit (75000), 64-bit (585000, ...)
    steps = rng.choice([15_000, 15_001, 14_990, 1, 8_000, 30_000, 90_000, 600_000, 9_000_000], size=1999,
                       p=[0.55, 0.1, 0.1, 0.05, 0.05, 0.07, 0.065, 0.01, 0.005])
    steps[100] = 40 * H2  # 80 hours without samples
    times = 1_700_000_123_457 + np.r_[0, np.cumsum(steps)]
    n = len(times)
    rows = [
        np.full(n, 42.0),
        np.cumsum(rng.integers(0, 1000, n)).astype(np.float64),
        rng.normal(1e4, 50, n),
        np.round(rng.normal(60, 5, n), 1),
        np.array(SPECIALS * (n // len(SPECIALS) + 1), dtype=np.uint64)[:n].view(np.float64),
        rng.integers(0, 2**63, n, dtype=np.int64).view(np.float64),
        np.cumsum(rng.integers(0, 3, n)) * 0.001,
        np.arange(n) * 2.5,
        rng.normal(0, 1e-300, n),
        np.full(n, 7.0),
        np.round(np.cumsum(rng.uniform(0, 15, n)), 2),
        -np.cumsum(rng.integers(0, 2**40, n)).astype(np.float64),
    ]
    values = np.vstack(rows)
    bits = values.view(np.uint64)
    bits[np.isnan(values) & (bits != np.uint64(GO_NAN))] = GO_NAN  # one NaN, as promtool would parse it
    bits[2, 500:800] = ABSENT
    bits[3, 1000:1001] = ABSENT
    bits[6, ::7] = ABSENT
    bits[9, :] = ABSENT
    bits[9, 1234] = np.float64(7.5).view(np.uint64)  # present once
    bits[10, :2000] = ABSENT  # starts late
    bits[11, 1500:] = ABSENT  # stops early
    labels = [{"job": ["node", "gpu"][s % 2], "__name__": f"metric_{'ab'[s % 3 > 0]}", "idx": f"{s:02d}",
               "empty": "", "uni": "ünï" if s % 4 else 'q"uo\\te'} for s in range(len(rows))]
    return labels, times, values


def expected(labels: list[dict[str, str]], times: np.ndarray, values: np.ndarray) -> dict:
    out = {}
    for lset, row in zip(labels, values.view(np.uint64), strict=True):
        key = tuple(sorted((k, v) for k, v in lset.items() if v))
        keep = row != np.uint64(ABSENT)
        if keep.any():
            out[key] = list(zip(times[keep].tolist(), row[keep].tolist(), strict=True))
    return out


def dump(blocks_dir: Path, tmp: Path) -> dict:
    """Every sample of the blocks, read back by ``promtool tsdb dump`` (on a copy: it wants a wal dir)."""
    data = tmp / "dump"
    shutil.copytree(blocks_dir, data)
    (data / "wal").mkdir()
    out = subprocess.run([tool("promtool"), "tsdb", "dump", str(data)], capture_output=True, text=True, check=True)
    got: dict = {}
    for line in out.stdout.splitlines():
        m = DUMP_LINE.match(line)
        assert m, line
        key = tuple(sorted((k, json.loads(f'"{v}"')) for k, v in DUMP_LABEL.findall(m.group(1))))
        got.setdefault(key, []).append((int(m.group(3)), float(m.group(2))))
    return got


def same_value(bits: int, value: float) -> bool:
    """The value read back is the one written (any NaN for a NaN; dump prints them all as NaN)."""
    want = _f(bits)
    if math.isnan(want):
        return math.isnan(value)
    return want == value and math.copysign(1, want) == math.copysign(1, value)


# ---------------------------------------------------------------- without tools


def test_crc32c_against_its_definition() -> None:
    def slow(b: bytes) -> int:
        c = 0xFFFFFFFF
        for x in b:
            c ^= x
            for _ in range(8):
                c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        return c ^ 0xFFFFFFFF

    assert crc32c(b"123456789") == 0xE3069283  # the standard check value
    rng = np.random.default_rng(1)
    buf = rng.integers(0, 256, 20_000, dtype=np.uint8)
    starts = rng.integers(0, 15_000, 300)
    lengths = np.r_[np.arange(140), rng.integers(0, 4_000, 160)]
    got = crc32c_many(buf, starts, lengths)
    assert all(slow(buf[s : s + n].tobytes()) == c for s, n, c in zip(starts, lengths, got, strict=True))


class RefXor:
    """A line-by-line port of tsdb/chunkenc/xor.go and bstream.go, one sample at a time."""

    def __init__(self) -> None:
        self.b = bytearray(2)  # the sample count, then the stream
        self.count = self.num = self.t = self.v = self.td = self.trail = 0
        self.lead = 255

    def bit(self, x: int) -> None:
        if self.count == 0:
            self.b.append(0)
            self.count = 8
        if x:
            self.b[-1] |= 1 << (self.count - 1)
        self.count -= 1

    def byte(self, x: int) -> None:
        if self.count == 0:
            self.b.append(0)
            self.count = 8
        self.b[-1] |= x >> (8 - self.count)
        self.b.append((x << self.count) & 0xFF)

    def bits(self, u: int, n: int) -> None:
        u = (u << (64 - n)) & (2**64 - 1)
        while n >= 8:
            self.byte(u >> 56)
            u, n = (u << 8) & (2**64 - 1), n - 8
        while n > 0:
            self.bit(u >> 63)
            u, n = (u << 1) & (2**64 - 1), n - 1

    def uvarint(self, x: int) -> None:
        while x >= 0x80:
            self.byte((x & 0x7F) | 0x80)
            x >>= 7
        self.byte(x)

    def append(self, t: int, v: int) -> None:
        td = (t - self.t) & (2**64 - 1)
        if self.num == 0:
            self.uvarint(((t << 1) ^ (t >> 63)) & (2**64 - 1))
            self.bits(v, 64)
            td = 0
        elif self.num == 1:
            self.uvarint(td)
            self.value(v)
        else:
            dod = (td - self.td) & (2**64 - 1)
            dod -= (dod >> 63) << 64
            for n, prefix in ((14, 0b10), (17, 0b110), (20, 0b1110)):
                if dod != 0 and -((1 << (n - 1)) - 1) <= dod <= 1 << (n - 1):
                    self.bits(prefix, prefix.bit_length())
                    self.bits(dod & (2**64 - 1), n)
                    break
            else:
                if dod == 0:
                    self.bit(0)
                else:
                    self.bits(0b1111, 4)
                    self.bits(dod & (2**64 - 1), 64)
            self.value(v)
        self.t, self.v, self.td, self.num = t, v, td, self.num + 1
        self.b[0:2] = self.num.to_bytes(2, "big")

    def value(self, v: int) -> None:
        d = v ^ self.v
        if d == 0:
            self.bit(0)
            return
        self.bit(1)
        lead, trail = min(64 - d.bit_length(), 31), (d & -d).bit_length() - 1
        if self.lead != 255 and lead >= self.lead and trail >= self.trail:
            self.bit(0)
            self.bits(d >> self.trail, 64 - self.lead - self.trail)
        else:
            self.lead, self.trail = lead, trail
            self.bit(1)
            self.bits(lead, 5)
            self.bits((64 - lead - trail) & 63, 6)
            self.bits(d >> trail, 64 - lead - trail)


def test_xor_chunks_match_a_port_of_xor_go() -> None:
    """Chunks of 1..240 samples over every kind of value and time step, sharing time groups or not."""
    labels, times, values = edge_case()
    rng = np.random.default_rng(3)
    lens = rng.integers(1, 241, 60)
    lens[:3] = [1, 2, 3]
    width = int(lens.max())
    u = np.zeros((len(lens), width), dtype=np.uint64)
    t = np.zeros((len(lens), width), dtype=np.int64)
    for c, n in enumerate(lens):
        a = int(rng.integers(0, len(times) - n))
        u[c, :n] = values[c % len(values), a : a + n].view(np.uint64)
        t[c, :n] = times[a : a + n]
    shared = np.r_[np.arange(30), np.zeros(30, dtype=np.int64)]  # the last 30 share the first chunk's times
    t[30:] = t[0]
    lens[30:] = np.minimum(lens[30:], lens[0])
    xc = XorChunks(u, lens, t[:30], shared)
    offsets = np.cumsum(xc.nbytes + 3) - xc.nbytes  # gaps between chunks must stay zero
    words = np.zeros(int(offsets[-1] + xc.nbytes[-1]) // 8 + 3 * width, dtype=np.uint64)
    xc.write(words, offsets)
    out = words.astype(">u8").view(np.uint8)
    for c, n in enumerate(lens):
        ref = RefXor()
        for i in range(n):
            ref.append(int(t[shared[c], i]), int(u[c, i]))
        assert out[offsets[c] : offsets[c] + xc.nbytes[c]].tobytes() == bytes(ref.b), (c, n)
        assert not out[offsets[c] + xc.nbytes[c] : offsets[c] + xc.nbytes[c] + 3].any()


def _uvarint(b: bytes, i: int) -> tuple[int, int]:
    """The unsigned varint at ``b[i:]`` and the offset after it."""
    x, shift = 0, 0
    while True:
        x |= (b[i] & 0x7F) << shift
        shift += 7
        i += 1
        if b[i - 1] < 0x80:
            return x, i


def chunk_records(block: Path) -> list[tuple[int, bytes]]:
    """(sample count, data) of every chunk in a block's segment files, checking their framing and CRC."""
    out = []
    for seg in sorted((block / "chunks").iterdir()):
        b = seg.read_bytes()
        assert b[:8] == bytes.fromhex("85bd40dd01000000")
        i = 8
        while i < len(b):
            n, i = _uvarint(b, i)
            assert b[i] == 1  # XOR
            data = b[i + 1 : i + 1 + n]
            assert int.from_bytes(b[i + 1 + n : i + 5 + n], "big") == crc32c(b[i : i + 1 + n])
            out.append((int.from_bytes(data[:2], "big"), data))
            i += 5 + n
    return out


def test_blocks_files_and_chunk_limits(tmp_path: Path) -> None:
    labels, times, values = edge_case()
    blocks = write_blocks(tmp_path, labels, times, values, absent_bits=ABSENT)
    assert len(blocks) == len({int(t) // H2 for t in times})
    assert all(not p.name.endswith(".tmp-for-creation") for p in tmp_path.iterdir())
    total = 0
    for block in blocks:
        meta_text = (block / "meta.json").read_text()
        meta = json.loads(meta_text)
        assert meta_text == json.dumps(meta, indent="\t") and not meta_text.endswith("\n")
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", meta["ulid"]) and meta["ulid"] == block.name
        assert meta["compaction"] == {"level": 1, "sources": [block.name]} and meta["version"] == 1
        window = meta["minTime"] // H2 * H2
        inside = times[(times >= window) & (times < window + H2)]
        assert meta["minTime"] >= window and meta["maxTime"] <= window + H2 and meta["maxTime"] - 1 in inside
        assert (block / "tombstones").read_bytes() == bytes.fromhex("0130ba300100000000")
        records = chunk_records(block)
        assert len(records) == meta["stats"]["numChunks"]
        assert sum(n for n, _ in records) == meta["stats"]["numSamples"]
        assert max(n for n, _ in records) <= 120
        for _, data in records:  # the first timestamp (varint after the count) lies in the block
            x, _ = _uvarint(data, 2)
            assert meta["minTime"] <= (x >> 1) ^ -(x & 1) < meta["maxTime"]
        total += meta["stats"]["numSamples"]
    assert total == int((values.view(np.uint64) != np.uint64(ABSENT)).sum())
    assert len(new_ulid()) == 26 and new_ulid(0).startswith("0000000000")


def test_bad_input(tmp_path: Path) -> None:
    t = np.arange(3, dtype=np.int64) * 1000
    v = np.zeros((2, 3))
    ok = [{"__name__": "a", "x": "1"}, {"__name__": "a", "x": "2"}]
    with pytest.raises(ValueError, match=r'duplicate series a\{x="1"\}: labels\[0\] and labels\[1\]'):
        write_blocks(tmp_path, [{"__name__": "a", "x": "1", "y": ""}, {"x": "1", "__name__": "a"}], t, v)
    with pytest.raises(ValueError, match=r"strictly increasing: times_ms\[1\] = 1000, times_ms\[2\] = 1000"):
        write_blocks(tmp_path, ok, np.array([0, 1000, 1000]), v)
    with pytest.raises(ValueError, match=r"values has shape \(2, 3\), expected .* \(2, 4\)"):
        write_blocks(tmp_path, ok, np.arange(4) * 1000, v)
    with pytest.raises(ValueError, match="shape"):
        write_blocks(tmp_path, ok[:1], t, v)
    with pytest.raises(ValueError, match="float64"):
        write_blocks(tmp_path, ok, t, v.astype(np.float32))
    with pytest.raises(ValueError, match="integer"):
        write_blocks(tmp_path, ok, t.astype(float), v)
    with pytest.raises(ValueError, match="invalid label name 'a-b'"):
        write_blocks(tmp_path, [{"__name__": "a", "a-b": "1"}, ok[1]], t, v)
    with pytest.raises(ValueError, match="not valid UTF-8"):
        write_blocks(tmp_path, [{"__name__": "a", "x": "\ud800"}, ok[1]], t, v)
    with pytest.raises(ValueError, match="metric name"):
        write_blocks(tmp_path, [{"x": "1"}, ok[1]], t, v)
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------- with promtool and prometheus


def test_every_sample_back_through_promtool_dump(tmp_path: Path) -> None:
    labels, times, values = edge_case()
    write_blocks(tmp_path / "blocks", labels, times, values, absent_bits=ABSENT)
    got = dump(tmp_path / "blocks", tmp_path)
    want = expected(labels, times, values)
    assert got.keys() == want.keys()
    assert any(("uni", 'q"uo\\te') in k for k in got)
    assert all(("empty", "") not in k and "empty" not in dict(k) for k in got)
    for key, samples in want.items():
        assert [t for t, _ in got[key]] == [t for t, _ in samples], key
        bad = [(t, b, v) for (t, b), (_, v) in zip(samples, got[key], strict=True) if not same_value(b, v)]
        assert not bad, (key, bad[:3])


def test_promtool_analyze_accepts_the_blocks(tmp_path: Path) -> None:
    labels, times, values = edge_case()
    blocks = write_blocks(tmp_path, labels, times, values, absent_bits=ABSENT)
    for block in (blocks[0], blocks[len(blocks) // 2]):
        res = subprocess.run([tool("promtool"), "tsdb", "analyze", str(tmp_path), block.name],
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        meta = json.loads((block / "meta.json").read_text())
        assert f"Series: {meta['stats']['numSeries']}" in res.stdout


def openmetrics(labels: list[dict[str, str]], times: np.ndarray, values: np.ndarray) -> str:
    lines = []
    for lset, row in zip(labels, values, strict=True):
        inner = ",".join(f'{k}="{json.dumps(v, ensure_ascii=False)[1:-1]}"' for k, v in sorted(lset.items())
                         if k != "__name__" and v)
        head = f"{lset['__name__']}{{{inner}}}"
        for t, v, b in zip(times.tolist(), row.tolist(), row.view(np.uint64).tolist(), strict=True):
            if b == ABSENT:
                continue
            text = "NaN" if math.isnan(v) else "+Inf" if v == math.inf else "-Inf" if v == -math.inf else repr(v)
            stamp = f"{t // 1000}.{t % 1000:03d}"
            assert int(float(stamp) * 1000) == t  # promtool reads seconds and truncates to ms
            lines.append(f"{head} {text} {stamp}")
    return "\n".join(lines) + "\n# EOF\n"


def test_files_identical_to_the_blocks_promtool_writes(tmp_path: Path) -> None:
    """promtool's head uses a chunk range of twice the block and (2.42) cuts chunks at 240 samples; with those
    two settings every file but meta.json's ULID is byte for byte what promtool writes."""
    labels, times, values = edge_case()
    om = tmp_path / "in.om"
    om.write_text(openmetrics(labels, times, values))
    subprocess.run([tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(om),
                    str(tmp_path / "promtool")], check=True, capture_output=True)
    ours = _write_blocks(tmp_path / "ours", labels, times, values, ABSENT, H2, chunk_range=2 * H2, max_samples=240)
    theirs = {json.loads((d / "meta.json").read_text())["minTime"]: d for d in (tmp_path / "promtool").iterdir()}
    assert sorted(theirs) == sorted(json.loads((d / "meta.json").read_text())["minTime"] for d in ours)
    for mine in ours:
        other = theirs[json.loads((mine / "meta.json").read_text())["minTime"]]
        assert (other / "meta.json").read_text().replace(other.name, mine.name) == (mine / "meta.json").read_text()
        segments = sorted(f.name for f in (other / "chunks").iterdir())
        assert sorted(f.name for f in (mine / "chunks").iterdir()) == segments
        for f in ["index", "tombstones", *(f"chunks/{name}" for name in segments)]:
            assert (mine / f).read_bytes() == (other / f).read_bytes(), (mine.name, f)


def test_segments_cut_as_prometheus_cuts_them(tmp_path: Path) -> None:
    """With 4 KiB segments a block spans many chunk files; every sample still reads back."""
    labels, times, values = edge_case()
    blocks = _write_blocks(tmp_path / "blocks", labels, times, values, ABSENT, H2, segment_size=4096)
    files = [f for b in blocks for f in (b / "chunks").iterdir()]
    assert max(f.stat().st_size for f in files) <= 4096 and len(files) > 2 * len(blocks)
    got = dump(tmp_path / "blocks", tmp_path)
    want = expected(labels, times, values)
    assert {k: [t for t, _ in v] for k, v in got.items()} == {k: [t for t, _ in v] for k, v in want.items()}


def test_prometheus_serves_the_blocks(tmp_path: Path) -> None:
    """The real server loads the blocks from its data dir and answers range and instant queries exactly."""
    binary = tool("prometheus")
    rng = np.random.default_rng(7)
    times = 1_700_000_000_000 + 15_000 * np.arange(2 * 480 + 37, dtype=np.int64)  # into a third window
    values = np.vstack([np.cumsum(rng.integers(0, 100, len(times))).astype(np.float64),
                        rng.normal(100, 7, len(times)), np.full(len(times), -0.5), rng.normal(0, 1, len(times))])
    values.view(np.uint64)[3, 100:140] = ABSENT
    labels = [{"__name__": "otelmock_test", "kind": k, "job": "tsdb"} for k in ("counter", "gauge", "const", "gap")]
    write_blocks(tmp_path / "data", labels, times, values, absent_bits=ABSENT)
    (tmp_path / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
    port = free_port()
    proc = subprocess.Popen([binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'data'}", "--storage.tsdb.retention.time=20y",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", timeout_s=30, proc=proc)

        def api(path: str, **params: str | float) -> list:
            body = json.loads(get(f"http://127.0.0.1:{port}/api/v1/{path}?{urllib.parse.urlencode(params)}"))
            assert body["status"] == "success", body
            return body["data"]["result"] if isinstance(body["data"], dict) else body["data"]

        start, end = times[0] / 1000, times[-1] / 1000
        series = api("series", **{"match[]": '{job="tsdb"}', "start": start, "end": end})
        assert sorted(s["kind"] for s in series) == ["const", "counter", "gap", "gauge"]
        for row, kind in enumerate(("counter", "gauge", "const")):
            result = api("query_range", query=f'otelmock_test{{kind="{kind}"}}', start=start, end=end, step=15)
            points = result[0]["values"]
            assert [p[0] * 1000 for p in points] == times.tolist()
            assert [float(p[1]) for p in points] == values[row].tolist()
        for i in (0, 99, 140, len(times) - 1):  # the series with a gap, at present samples
            result = api("query", query='otelmock_test{kind="gap"}', time=times[i] / 1000)
            assert float(result[0]["value"][1]) == values[3, i]
        # in the gap, past the 5 minute lookback, the series has no sample
        assert api("query", query='otelmock_test{kind="gap"}', time=times[130] / 1000) == []
    finally:
        _stop(proc)

"""Shared by the serving benchmarks: start ``otelmock run`` as a user does, and scrape it like Prometheus.

A scraper is one keep-alive HTTP/1.1 connection asking ``GET /metrics`` with ``Accept-Encoding: gzip`` every
``interval`` seconds (open loop, phases spread over the interval, as Prometheus spreads its targets), timing each
answer to its last byte. The client is a few lines over asyncio streams, so the load generator's own CPU stays small
next to the server's on the same cores. Counter monotonicity is checked per scraper over every scrape it made: each
distinct body is decompressed and parsed once, each pair of consecutive distinct bodies compared once.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.scrape import rss_mib
from tests.integration.conftest import free_port, wait_http

EXPORTERS = ("node", "dcgm", "cadvisor", "litellm", "vllm")
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Mock:
    proc: subprocess.Popen[bytes]
    targets: dict[str, str]      # "host/exporter" -> "127.0.0.1:port"

    def pids(self) -> list[int]:
        """The mock's process and its serving processes (``--hosts`` forks one per group of hosts)."""
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [self.proc.pid, *map(int, kids.read_text().split())] if kids.exists() else [self.proc.pid]

    def cpu_s(self) -> float:
        """User + system CPU seconds of the whole mock (every thread of every process)."""
        total = 0
        for pid in self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / CLK_TCK

    def rss_mib(self) -> float:
        """Resident memory of every process of the mock, summed (pages shared after the fork counted in each)."""
        return sum(rss_mib(pid) for pid in self.pids())

    def pss_mib(self) -> float:
        """Proportional set size, summed: the memory the mock really takes (shared pages split among sharers)."""
        total = 0
        for pid in self.pids():
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        return total / 1024.0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_mock(hosts: int = 1, logs: bool = True, env: dict[str, str] | None = None,
               args: tuple[str, ...] = ()) -> Mock:
    """``otelmock run [--hosts N]`` with its default settings but for ports (a free block) and the log folder."""
    workdir = Path(tempfile.mkdtemp(prefix="otelmock-bench-"))
    e = {k: v for k, v in os.environ.items() if not k.startswith("OTELMOCK_")}
    if hosts > 1:  # a fleet shifts every port by 100 per host: each exporter gets a block of its own (50 hosts),
        # all below Linux's ephemeral range (32768+), where the scrapers' own connections would take ports
        ports = {n: 2_000 + 5_000 * i + os.getpid() % 40 for i, n in enumerate(EXPORTERS)}
        control = 27_000 + os.getpid() % 40
    else:
        ports, control = {n: free_port() for n in EXPORTERS}, free_port()
    e.update(OTELMOCK_BIND="127.0.0.1", OTELMOCK_PORTS__CONTROL=str(control),
             OTELMOCK_LOGS__ENABLED=str(logs).lower(), OTELMOCK_LOGS__DIR=str(workdir / "logs"),
             **{f"OTELMOCK_PORTS__{n.upper()}": str(p) for n, p in ports.items()}, **(env or {}))
    sd = workdir / "targets.json"
    fleet = ["--hosts", str(hosts), "--file-sd", str(sd)] if hosts > 1 else []
    cmd = [sys.executable, "-m", "otelmock", "run", *fleet, *args]
    proc = subprocess.Popen(cmd, env=e, stdout=subprocess.DEVNULL, stderr=open(workdir / "stderr.log", "wb"))
    if hosts > 1:
        deadline = time.monotonic() + 60 + 10 * hosts
        while not sd.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"otelmock run --hosts did not write its file_sd targets; see {workdir}/stderr.log")
            time.sleep(0.5)
        targets = {f"{g['labels']['__meta_otelmock_host_index']}/{g['labels']['job']}": g["targets"][0]
                   for g in json.loads(sd.read_text()) if "__meta_otelmock_vllm_container" not in g["labels"]}
    else:
        targets = {f"0/{n}": f"127.0.0.1:{p}" for n, p in ports.items()}
    for addr in targets.values():
        wait_http(f"http://{addr}/health", timeout_s=60 + 10 * hosts, proc=proc)
    return Mock(proc, targets)


@dataclass
class Scraper:
    target: str
    addr: str
    lat_ms: list[float] = field(default_factory=list)
    at: list[float] = field(default_factory=list)   # time.monotonic() at the start of each scrape in lat_ms
    errors: list[str] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)   # crc of each body, in order


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> tuple[int, bytes]:
    writer.write(f"GET /metrics HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: gzip\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    fields = dict(line.lower().split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
    if b"content-length" in fields:
        return status, await reader.readexactly(int(fields[b"content-length"]))
    if fields.get(b"transfer-encoding", b"").strip() != b"chunked":
        raise RuntimeError("neither Content-Length nor chunked")
    parts = []
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):  # client_golang answers chunked
        parts.append((await reader.readexactly(size + 2))[:-2])
    await reader.readuntil(b"\r\n")
    return status, b"".join(parts)


async def _scrape_loop(s: Scraper, interval: float, phase: float, until: float, bodies: dict[int, bytes]) -> None:
    host, port = s.addr.rsplit(":", 1)
    await asyncio.sleep(phase)
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    next_t = time.monotonic()
    while next_t < until:
        t, started = time.perf_counter(), time.monotonic()
        try:
            if conn is None:
                conn = await asyncio.open_connection(host, int(port))
            status, body = await asyncio.wait_for(_get(*conn, s.addr), timeout=10)
            s.lat_ms.append((time.perf_counter() - t) * 1000)
            s.at.append(started)
            if status != 200:
                s.errors.append(str(status))
            else:
                crc = zlib.crc32(body) ^ (len(body) << 32)
                bodies.setdefault(crc, body)
                if not s.seen or s.seen[-1] != crc:
                    s.seen.append(crc)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, RuntimeError, ValueError) as exc:
            s.errors.append(type(exc).__name__)
            if conn is not None:
                conn[1].close()
            conn = None
        next_t += interval
        await asyncio.sleep(max(0.0, next_t - time.monotonic()))
    if conn is not None:
        conn[1].close()


def scrape(targets: dict[str, str], clients: int, interval: float, seconds: float,
           sample: Callable[[], float] | None = None) -> tuple[list[Scraper], dict[int, bytes], list[float]]:
    """``clients`` scrapers per target, each every ``interval`` s, phases spread evenly over the interval;
    ``sample()`` (e.g. the mock's RSS) is read every tenth of the run."""
    scrapers = [Scraper(t, a) for t, a in targets.items() for _ in range(clients)]
    bodies: dict[int, bytes] = {}
    samples: list[float] = []

    async def sampler(until: float) -> None:
        while sample is not None and time.monotonic() < until:
            samples.append(sample())
            await asyncio.sleep(seconds / 10)

    async def run() -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(sampler(until), *(_scrape_loop(s, interval, interval * i / len(scrapers), until, bodies)
                                               for i, s in enumerate(scrapers)))

    asyncio.run(run())
    return scrapers, bodies, samples


def _counters(body: bytes) -> dict[bytes, float]:
    """Every counter-like sample (counters, histogram buckets/counts/sums, summary counts/sums) of an exposition."""
    text = gzip.decompress(body)
    kinds: dict[bytes, bytes] = {}
    out: dict[bytes, float] = {}
    for line in text.split(b"\n"):
        if line.startswith(b"# TYPE "):
            _, _, name, kind = line.split(b" ", 3)
            kinds[name] = kind
        elif line and not line.startswith(b"#"):
            key, _, value = line.rpartition(b" ")
            name = key.split(b"{", 1)[0]
            for suffix in (b"", b"_total", b"_bucket", b"_count", b"_sum"):
                base = name.removesuffix(suffix) if suffix else name
                if base != name or not suffix:
                    kind = kinds.get(base)
                    if kind in (b"counter", b"histogram", b"summary") and b"quantile=" not in key:
                        out[key] = float(value)
                        break
    return out


def counter_decreases(scrapers: list[Scraper], bodies: dict[int, bytes]) -> tuple[int, list[str]]:
    """(decreases seen over every scraper's consecutive scrapes, a few of them named)."""
    parsed: dict[int, dict[bytes, float]] = {}
    pairs: dict[tuple[int, int], list[bytes]] = {}
    total, names = 0, []
    for s in scrapers:
        for a, b in zip(s.seen, s.seen[1:], strict=False):
            if (a, b) not in pairs:
                for c in (a, b):
                    if c not in parsed:
                        parsed[c] = _counters(bodies[c])
                pa, pb = parsed[a], parsed[b]
                pairs[(a, b)] = [k for k, v in pb.items() if v < pa.get(k, v)]
            bad = pairs[(a, b)]
            total += len(bad)
            names += [f"{s.target} {k.decode()[:120]}" for k in bad[:3 - len(names)]] if len(names) < 3 else []
    return total, names


def pct(xs: list[float], q: float) -> float:
    ys = sorted(xs)
    return ys[min(len(ys) - 1, int(q * len(ys)))] if ys else float("nan")

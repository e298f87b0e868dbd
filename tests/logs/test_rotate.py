import errno
import gzip
import json
import os
import random
import stat
import struct
from pathlib import Path

import pytest

from otelmock.logs.dockerjson import encode_entries, log_path
from otelmock.logs.rotate import LogWriteError, RotatingLogWriter, RotationPolicy, parse_size

CID = "ab" * 32


@pytest.mark.parametrize(("text", "expected"), [
    ("10m", 10_000_000), ("1g", 1_000_000_000), ("512k", 512_000), ("100", 100), ("1.5m", 1_500_000),
    ("10MB", 10_000_000), ("10 mib", 10_000_000), ("2K", 2000), ("1b", 1), ("0.5k", 500),
])  # fmt: skip
def test_parse_size_is_go_units_from_human_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "ten", "-1", "1.2.3", "10m\n", "10 m b", "10x", " 10m", "１０m"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(text)


def test_policy_from_log_opts_validates_like_docker() -> None:
    opts = {"max-size": "10m", "max-file": "3", "compress": "true", "tag": "{{.Name}}"}
    assert RotationPolicy.from_log_opts(opts) == RotationPolicy(10_000_000, 3, True)
    assert RotationPolicy.from_log_opts({}) == RotationPolicy(None, 1, False)
    for bad, message in [
        ({"max-size": "0"}, "max-size must be a positive"),
        ({"max-file": "0"}, "max-file cannot be less than 1"),
        ({"max-file": "x"}, "max-file"),
        ({"compress": "yes"}, "compress"),
        ({"compress": "true", "max-file": "1", "max-size": "1m"}, "compress cannot be true"),
        ({"compress": "1", "max-file": "2"}, "compress cannot be true"),
    ]:
        with pytest.raises(ValueError, match=message):
            RotationPolicy.from_log_opts(bad)


def entries(count: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    t0 = 1_795_810_789_000_000_000
    out = []
    for i in range(count):
        text = f"{i:06d} " + "x" * rng.randrange(10, 400)
        out += encode_entries(text, rng.choice(["stdout", "stderr"]), t0 + i * 1_234_567)
    return out


def disk_use(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir())


def test_long_write_loop_keeps_the_directory_bounded(tmp_path: Path) -> None:
    path = log_path(tmp_path, CID)
    policy = RotationPolicy(max_size=4000, max_file=3)
    lines = entries(3000)
    longest = max(map(len, lines))
    with RotatingLogWriter(path, policy) as writer:
        for line in lines:
            writer.write(line)
            assert disk_use(path.parent) <= 3 * (4000 + longest)
            assert {p.name for p in path.parent.iterdir()} <= {path.name, path.name + ".1", path.name + ".2"}
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == [path.name, path.name + ".1", path.name + ".2"]
    for rotated in (".1", ".2"):
        assert 4000 <= os.path.getsize(f"{path}{rotated}") < 4000 + longest
    kept = b"".join(Path(f"{path}{s}").read_bytes() for s in (".2", ".1", ""))
    assert b"".join(lines).endswith(kept)  # the newest entries, contiguous and whole
    assert kept.startswith(b'{"log":')


def test_compressed_rotation_names_and_gzip_content(tmp_path: Path) -> None:
    path = log_path(tmp_path, CID)
    lines = entries(400, seed=1)
    with RotatingLogWriter(path, RotationPolicy(max_size=3000, max_file=4, compress=True)) as writer:
        writer.writelines(lines)
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == [f"{CID}-json.log", f"{CID}-json.log.1.gz", f"{CID}-json.log.2.gz", f"{CID}-json.log.3.gz"]
    parts = [gzip.decompress(Path(f"{path}.{i}.gz").read_bytes()) for i in (3, 2, 1)] + [path.read_bytes()]
    assert b"".join(lines).endswith(b"".join(parts))
    for i in (1, 2, 3):
        raw = Path(f"{path}.{i}.gz").read_bytes()
        assert raw[:4] == b"\x1f\x8b\x08\x04" and raw[9] == 255  # deflate, FEXTRA, OS unknown: Go's header
        (xlen,) = struct.unpack("<H", raw[10:12])
        last_time = json.loads(raw[12 : 12 + xlen])["lastTime"]
        content = gzip.decompress(raw).splitlines()
        assert last_time == json.loads(content[-1])["time"]
        assert stat.S_IMODE(os.stat(f"{path}.{i}.gz").st_mode) == 0o640 & ~current_umask()


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_single_file_is_restarted_without_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    lines = entries(300, seed=2)
    with RotatingLogWriter(path, RotationPolicy(max_size=2000, max_file=1)) as writer:
        for line in lines:
            writer.write(line)
            assert path.stat().st_size < 2000 + max(map(len, lines))
    assert os.listdir(tmp_path) == ["c-json.log"]
    assert b"".join(lines).endswith(path.read_bytes())


def test_append_only_continues_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    first, second = entries(3), entries(3, seed=9)
    with RotatingLogWriter(path) as writer:
        writer.writelines(first)
    with RotatingLogWriter(path) as writer:
        assert writer.size == len(b"".join(first))
        writer.writelines(second)
    assert path.read_bytes() == b"".join(first + second)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 & ~current_umask()


def test_an_existing_full_file_rotates_before_the_first_write(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    path.write_bytes(b"y" * 100)
    with RotatingLogWriter(path, RotationPolicy(max_size=50, max_file=2, compress=True)) as writer:
        writer.write(b"z\n")
    assert path.read_bytes() == b"z\n"
    raw = Path(f"{path}.1.gz").read_bytes()
    assert raw[10:12] == b"\x23\x00" and raw[12:47] == b'{"lastTime":"0001-01-01T00:00:00Z"}'  # Go zero time
    assert gzip.decompress(raw) == b"y" * 100


def test_buffered_writer_only_writes_whole_entries(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    lines = entries(50)
    writer = RotatingLogWriter(path, buffer_size=1 << 20)
    writer.writelines(lines)
    assert path.read_bytes() == b"" and writer.size == len(b"".join(lines))
    writer.flush()
    assert path.read_bytes() == b"".join(lines)
    writer.write(lines[0])
    writer.close()
    assert path.read_bytes() == b"".join(lines + lines[:1])


def test_unwritable_directory_raises_log_write_error_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    path = tmp_path / "file" / "x" / f"{CID}-json.log"
    with pytest.raises(LogWriteError) as caught:
        RotatingLogWriter(path)
    assert isinstance(caught.value, OSError) and caught.value.errno == errno.ENOTDIR
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_disk_full_raises_log_write_error_and_drops_the_entry() -> None:
    writer = RotatingLogWriter("/dev/full")
    with pytest.raises(LogWriteError, match="/dev/full") as caught:
        writer.write(b'{"log":"x\\n"}\n')
    assert caught.value.errno == errno.ENOSPC and str(caught.value).count("\n") == 0
    assert writer.size == 0
    buffered = RotatingLogWriter("/dev/full", buffer_size=1 << 16)
    buffered.write(b"a\n")
    with pytest.raises(LogWriteError, match="No space left"):
        buffered.flush()
    writer.close()
    buffered.close()


def test_write_after_close_raises(tmp_path: Path) -> None:
    writer = RotatingLogWriter(tmp_path / "c-json.log")
    writer.close()
    writer.close()
    with pytest.raises(LogWriteError, match="closed"):
        writer.write(b"x\n")

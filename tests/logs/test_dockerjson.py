import datetime as dt
import json
import os
import random
import re
import stat
from pathlib import Path

import pytest

from otelmock.logs.dockerjson import (
    CHUNK_BYTES,
    Container,
    container_dir,
    encode_cri_line,
    encode_entries,
    encode_entry,
    encode_record,
    escape_log,
    format_time,
    go_json_string,
    log_attrs,
    log_path,
    marshal_attrs,
    split_output,
    write_container_config,
)

REFERENCE = Path("/work/shared/reference/docker-logs")

# Real Docker 20.10.24 json-file lines (docker-json-log-sample.txt), as raw bytes.
DOCKER_LINES = [
    b'{"log":"err-line\\n","stream":"stderr","time":"2026-11-27T20:19:49.756462972Z"}\n',
    b'{"log":"out-line\\n","stream":"stdout","time":"2026-11-27T20:19:49.756624853Z"}\n',
    b'{"log":"partial-no-newline\\n","stream":"stdout","time":"2026-11-27T20:19:49.756629116Z"}\n',
    b'{"log":"tab\\u0009here \\"quoted\\" \\\\ back \xc3\xa9\\n","stream":"stdout",'
    b'"time":"2026-11-27T20:19:49.756630589Z"}\n',
    b'{"log":"\\u003chtml\\u003e\\u0026amp; \\r cr \\u001b[31mred\\u001b[0m\\n","stream":"stdout",'
    b'"attrs":{"FOO":"bar","com.example.app":"mock","tag":"rp-json3"},"time":"2026-11-27T20:20:08.499786774Z"}\n',
]
# Real Podman 4.3.1 k8s-file lines (podman-k8s-file-log-sample.txt).
PODMAN_LINES = [
    b"2026-11-27T20:19:14.753782922+00:00 stdout F out-line\n",
    b"2026-11-27T20:19:14.753782922+00:00 stdout P partial-no-newline\n",
    b"2026-11-27T20:19:14.754071608+00:00 stderr F err-line\n",
]
SAMPLE_ID = "1363f3f1d5bbc483dbc07424263dbb4640bf8c1b6c2af8dc0f1f14250d9130e2"


def parse_time(text: str) -> int:
    """RFC 3339 (Z or +00:00) to Unix ns, written independently of the code under test."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|\+00:00)", text)
    assert m, text
    seconds = int(dt.datetime.fromisoformat(m.group(1)).replace(tzinfo=dt.UTC).timestamp())
    return seconds * 10**9 + int((m.group(2) or "").ljust(9, "0"))


def uncat(line: bytes) -> bytes:
    """Undo ``cat -e``: the reference captures end lines with ``$`` and show non-ASCII bytes as ``M-x``."""
    line = line.removesuffix(b"$")
    return re.sub(rb"M-(\^?)(.)", lambda m: bytes([(m[2][0] ^ 0x40 if m[1] else m[2][0]) | 0x80]), line)


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="shared reference captures not mounted")
@pytest.mark.parametrize(("name", "lines"), [
    ("docker-json-log-sample.txt", DOCKER_LINES), ("podman-k8s-file-log-sample.txt", PODMAN_LINES),
])  # fmt: skip
def test_inline_captures_match_the_reference_files(name: str, lines: list[bytes]) -> None:
    raw = (REFERENCE / name).read_bytes().splitlines()
    assert [uncat(line) + b"\n" for line in raw] == lines


@pytest.mark.parametrize("line", DOCKER_LINES)
def test_reencoding_a_real_docker_line_gives_the_same_bytes(line: bytes) -> None:
    obj = json.loads(line)
    time_ns = parse_time(obj["time"])
    raw_attrs = marshal_attrs(obj.get("attrs", {}))
    assert encode_entry(obj["log"], obj["stream"], time_ns, raw_attrs) == line
    assert encode_record(obj["log"], obj["stream"], time_ns, obj.get("attrs")) == line
    assert encode_record(obj["log"].encode(), obj["stream"], time_ns, obj.get("attrs")) == line


@pytest.mark.parametrize("line", PODMAN_LINES)
def test_reencoding_a_real_podman_line_gives_the_same_bytes(line: bytes) -> None:
    when, stream, flag, content = line[:-1].decode().split(" ", 3)
    assert encode_cri_line(content, stream, parse_time(when), partial=flag == "P") == line


def test_cri_line_rejects_a_newline() -> None:
    with pytest.raises(ValueError, match="newline"):
        encode_cri_line("a\nb", "stdout", 0)


@pytest.mark.parametrize(("data", "expected"), [
    ("<a href=x>&</a>", rb'"\u003ca href=x\u003e\u0026\u003c/a\u003e"'),
    (bytes(range(0x20)), b'"' + b"".join(
        {10: b"\\n", 13: b"\\r"}.get(c, b"\\u00%02x" % c) for c in range(0x20)) + b'"'),
    ('"quoted" \\ back\x7f', b'"\\"quoted\\" \\\\ back\x7f"'),
    ("line\u2028sep\u2029para", b'"line\\u2028sep\\u2029para"'),
    ("emoji \U0001f642 é 日本", '"emoji \U0001f642 é 日本"'.encode()),
    (b"\xff", b'"\\ufffd"'),
    (b"a\xe2\x82b", b'"a\\ufffd\\ufffdb"'),  # truncated 3-byte sequence: one U+FFFD per byte, as Go
    (b"\xc0\x80", b'"\\ufffd\\ufffd"'),  # overlong NUL
    (b"\xed\xa0\x80", b'"\\ufffd\\ufffd\\ufffd"'),  # UTF-8-encoded surrogate
    (b"\xf4\x90\x80\x80", b'"\\ufffd\\ufffd\\ufffd\\ufffd"'),  # above U+10FFFF
    ("\ufffd", '"\ufffd"'.encode()),  # a real U+FFFD stays raw
    ("\udcff", b'"\\ufffd"'),  # str from bytes.decode(errors="surrogateescape")
    ("", b'""'),
])  # fmt: skip
def test_log_escaping_follows_moby(data: str | bytes, expected: bytes) -> None:
    assert escape_log(data) == expected


def test_go_json_string_uses_short_tab_unlike_the_log_field() -> None:
    assert go_json_string("a\tb\x08<") == b'"a\\tb\\u0008\\u003c"'
    assert escape_log("a\tb") == b'"a\\u0009b"'
    assert marshal_attrs({"z": "1", "B": "\t", "a": "<"}) == b'{"B":"\\t","a":"\\u003c","z":"1"}'
    assert marshal_attrs({}) == b""


def test_empty_log_and_stream_are_left_out() -> None:
    assert encode_entry(b"", "", 0) == b'{"time":"1970-01-01T00:00:00Z"}\n'
    assert encode_entry(b"x", "", 0, b'{"a":"b"}') == b'{"log":"x","attrs":{"a":"b"},"time":"1970-01-01T00:00:00Z"}\n'


@pytest.mark.parametrize(("time_ns", "expected"), [
    (1_704_164_645_000_000_000, "2024-01-02T03:04:05Z"),
    (1_704_164_645_123_400_000, "2024-01-02T03:04:05.1234Z"),
    (1_704_164_645_100_000_000, "2024-01-02T03:04:05.1Z"),
    (1_704_164_645_123_456_789, "2024-01-02T03:04:05.123456789Z"),
    (1_704_164_645_000_000_001, "2024-01-02T03:04:05.000000001Z"),
    (1_795_810_789_973_704_280, "2026-11-27T20:19:49.97370428Z"),  # the doc's 8-digit observation
    (0, "1970-01-01T00:00:00Z"),
    (-1, "1969-12-31T23:59:59.999999999Z"),
    (-62_135_596_800 * 10**9, "0001-01-01T00:00:00Z"),
])  # fmt: skip
def test_time_is_go_rfc3339nano(time_ns: int, expected: str) -> None:
    assert format_time(time_ns) == expected
    assert parse_time(expected) == time_ns


def test_time_outside_four_digit_years_is_rejected() -> None:
    with pytest.raises(ValueError):
        format_time(253_402_300_800 * 10**9)  # year 10000


def test_long_line_is_split_like_the_copier() -> None:
    entries = encode_entries("x" * 20000, "stdout", 0)  # the doc's observation: 16384 w/o \n, then 3617 with
    logs = [json.loads(e)["log"] for e in entries]
    assert [len(s) for s in logs] == [16384, 3617]
    assert not logs[0].endswith("\n") and logs[1].endswith("\n")
    assert "".join(logs) == "x" * 20000 + "\n"
    assert split_output(b"y" * CHUNK_BYTES) == [b"y" * CHUNK_BYTES, b"\n"]
    assert split_output(b"y" * (CHUNK_BYTES - 1)) == [b"y" * (CHUNK_BYTES - 1) + b"\n"]
    assert split_output(b"z" * (2 * CHUNK_BYTES + 5) + b"\n") == [b"z" * CHUNK_BYTES] * 2 + [b"zzzzz\n"]


def test_split_counts_bytes_so_a_character_on_the_boundary_breaks_as_in_docker() -> None:
    entries = encode_entries("a" * (CHUNK_BYTES - 1) + "é", "stdout", 0)
    assert json.loads(entries[0])["log"].endswith("a\ufffd")
    assert json.loads(entries[1])["log"] == "\ufffd\n"


def test_record_newlines() -> None:
    assert encode_record("", "stdout", 0) == b""
    assert [json.loads(e)["log"] for e in encode_entries("a\n\nb", "stderr", 0)] == ["a\n", "\n", "b\n"]
    assert encode_record("no-newline", "stdout", 0) == encode_record("no-newline\n", "stdout", 0)


def go_decode(data: bytes) -> str:
    """Reference for Go's per-byte U+FFFD replacement: a sequence is taken whole or one byte is replaced."""
    out, i = [], 0
    while i < len(data):
        lead = data[i]
        size = 1 if lead < 0x80 else 2 if lead >> 5 == 6 else 3 if lead >> 4 == 14 else 4 if lead >> 3 == 30 else 0
        try:
            out.append(data[i : i + size].decode() if size else "\ufffd")
            i += max(size, 1)
        except UnicodeDecodeError:
            out.append("\ufffd")
            i += 1
    return "".join(out)


ALPHABET = [*map(chr, range(0x20, 0x7F)), *map(chr, range(0x20)), "<", ">", "&", '"', "\\", "\u2028", "\u2029",
            "é", "日", "\U0001f642", "\ufffd", "\x7f", "\x85", "\u00a0"]  # fmt: skip


def check_lines(record: bytes, stream: str) -> list[str]:
    assert record.endswith(b"}\n")
    logs = []
    for line in record.splitlines(keepends=True):
        obj = json.loads(line)
        assert list(obj) == ["log", "stream", "time"]
        assert obj["stream"] == stream and line.endswith(b"}\n") and b"\n" not in line[:-1]
        logs.append(obj["log"])
    return logs


def test_random_strings_parse_keep_key_order_and_round_trip() -> None:
    rng = random.Random(0)
    for _ in range(400):
        pool = ALPHABET if rng.random() < 0.7 else [chr(rng.randrange(0x20, 0x110000)) for _ in range(20)]
        text = "".join(rng.choice(pool) for _ in range(rng.randrange(0, 120)))
        text = "".join(c for c in text if not 0xD800 <= ord(c) < 0xE000)
        stream = rng.choice(["stdout", "stderr"])
        record = encode_record(text, stream, rng.randrange(0, 2**62))
        if not text:
            assert record == b""
            continue
        assert "".join(check_lines(record, stream)) == (text if text.endswith("\n") else text + "\n")


def test_random_bytes_replace_invalid_utf8_per_byte() -> None:
    rng = random.Random(0)
    for _ in range(400):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60))).replace(b"\n", b"")
        if not data:
            continue
        [line] = encode_entries(data, "stdout", 0)
        assert check_lines(line, "stdout") == [go_decode(data) + "\n"]


@pytest.mark.parametrize("bad", ["../etc", "A" * 64, "a" * 63, "a" * 65, "g" * 64, "a" * 63 + "/", ""])
def test_container_id_must_be_64_lowercase_hex(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="64 lowercase hex"):
        log_path(tmp_path, bad)


def test_log_path_layout(tmp_path: Path) -> None:
    assert log_path(tmp_path, SAMPLE_ID) == tmp_path / "containers" / SAMPLE_ID / f"{SAMPLE_ID}-json.log"
    assert container_dir("/var/lib/docker", SAMPLE_ID) == Path("/var/lib/docker/containers", SAMPLE_ID)


@pytest.mark.parametrize("bad", ["../x", "a/b", "x", "-lead", "/", "a b", "name\n"])
def test_container_name_is_sanitised(bad: str) -> None:
    with pytest.raises(ValueError, match="container name"):
        Container(id=SAMPLE_ID, name=bad, image="bb:local", created_ns=0)


def sample_container() -> Container:
    return Container(
        id=SAMPLE_ID, name="rp-json3", image="bb:local", created_ns=parse_time("2026-11-27T20:20:08.195415579Z"),
        labels={"com.example.app": "mock"}, env=["FOO=bar"],
        cmd=["/bin/sh", "-c", 'printf "<html>&amp; \\r cr \\033[31mred\\033[0m\\n"'],
        image_id="sha256:01363f43ed31f6ed5344ad9f7bad33d5603e8ad5c0319202222090baed52701d",
        started_ns=parse_time("2026-11-27T20:20:08.500617138Z"),
    )  # fmt: skip


def test_attrs_from_log_opts_match_the_real_line() -> None:
    opts = {"labels": "com.example.app", "env": "FOO", "tag": "{{.Name}}"}
    attrs = log_attrs(sample_container(), opts)
    assert attrs == json.loads(DOCKER_LINES[4])["attrs"]
    assert b'"attrs":' + marshal_attrs(attrs) + b',"time"' in DOCKER_LINES[4]
    assert log_attrs(sample_container(), {"labels-regex": "^com\\.", "env-regex": "F", "tag": "{{ .ID }}"}) == {
        "com.example.app": "mock", "FOO": "bar", "tag": SAMPLE_ID[:12],
    }  # fmt: skip
    with pytest.raises(ValueError, match="tag template"):
        log_attrs(sample_container(), {"tag": "{{.Nope}}"})


def test_container_files_have_the_sample_fields(tmp_path: Path) -> None:
    opts = {"max-size": "10m", "max-file": "3", "compress": "true"}
    path = write_container_config(tmp_path, sample_container(), opts, logpath_root="/var/lib/docker")
    assert path == log_path(tmp_path, SAMPLE_ID)
    sample = json.loads((REFERENCE / "docker-config.v2.sample.trimmed.json").read_text()) if REFERENCE.is_dir() else {}
    raw = (path.parent / "config.v2.json").read_bytes()
    config = json.loads(raw)
    assert list(config) == ["State", "ID", "Created", "Config", "Image", "LogPath", "Name", "Driver"]
    for key in ("ID", "Name", "Created", "LogPath", "Image", "Driver"):
        assert config[key] == sample.get(key, config[key])
    for key in ("Hostname", "Image", "Labels", "Env", "Cmd"):
        assert config["Config"][key] == sample.get("Config", config["Config"])[key]
    assert config["State"]["Running"] is True and config["State"]["StartedAt"] == "2026-11-27T20:20:08.500617138Z"
    assert b"\\u003chtml\\u003e\\u0026amp;" in raw  # Go escapes HTML; the trimmed sample was re-serialised
    assert b'": ' not in raw and b', "' not in raw and not raw.endswith(b"\n")  # compact, as json.Marshal writes
    assert (path.parent / "hostconfig.json").read_bytes() == (
        b'{"LogConfig":{"Type":"json-file","Config":{"compress":"true","max-file":"3","max-size":"10m"}},'
        b'"NetworkMode":"default","RestartPolicy":{"Name":"no","MaximumRetryCount":0}}'
    )
    assert stat.S_IMODE(os.stat(path.parent / "config.v2.json").st_mode) == 0o600
    assert sorted(os.listdir(path.parent)) == ["config.v2.json", "hostconfig.json"]


def test_container_files_default_logpath_and_unknown_opt(tmp_path: Path) -> None:
    path = write_container_config(tmp_path, sample_container())
    config = json.loads((path.parent / "config.v2.json").read_bytes())
    assert config["LogPath"] == str(log_path(os.path.abspath(tmp_path), SAMPLE_ID))
    with pytest.raises(ValueError, match="unknown log opt 'max-szie'"):
        write_container_config(tmp_path, sample_container(), {"max-szie": "1m"})

from pathlib import Path

import pytest

from otelmock import config
from otelmock.errors import ConfigError


def test_defaults_load_from_the_packaged_file() -> None:
    s = config.load()
    assert s.ports.node == 9100 and s.ports.dcgm == 9445 and s.ports.cadvisor == 8080
    assert s.ports.litellm == 9901 and s.ports.vllm == 9902
    assert s.host.memory_bytes == 64 * 2**30 and s.tick_s == 1.0 and s.scenario == "normal"


def test_precedence_defaults_then_file_then_environment(tmp_path: Path) -> None:
    f = tmp_path / "user.toml"
    f.write_text("seed = 5\n[host]\ncpus = 8\n[ports]\nnode = 19100\n")
    s = config.load(f, environ={"OTELMOCK_HOST__CPUS": "16"})
    assert (s.seed, s.host.cpus, s.ports.node, s.ports.dcgm) == (5, 16, 19100, 9445)


def test_yaml_user_file(tmp_path: Path) -> None:
    f = tmp_path / "user.yaml"
    f.write_text("host:\n  hostname: edge-7\nspeed: 60\n")
    s = config.load(f)
    assert s.host.hostname == "edge-7" and s.speed == 60.0


def test_overrides_from_code_win() -> None:
    assert config.load(environ={"OTELMOCK_SEED": "3"}, seed=9).seed == 9


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"OTELMOCK_SEED": "abc"}, "environment variable OTELMOCK_SEED: seed = 'abc' is invalid"),
        ({"OTELMOCK_PORTS__NODE": "70000"}, "OTELMOCK_PORTS__NODE: ports.node = 70000 is invalid; expected between 1"),
        ({"OTELMOCK_NOPE": "1"}, "environment variable OTELMOCK_NOPE: unknown setting 'nope'"),
        ({"OTELMOCK_EXPORTERS": "node,gpu"}, "exporters = 'node,gpu' is invalid"),
        ({"OTELMOCK_TICK_S": "0"}, "tick_s = 0 is invalid"),
    ],
)
def test_bad_environment_values_name_variable_key_and_value(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        config.load(environ=environ)


def test_bad_file_value_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text('[host]\ncpus = "many"\n')
    with pytest.raises(ConfigError) as err:
        config.load(f)
    assert str(err.value) == f"{f}: host.cpus = 'many' is invalid; expected between 1 and 1024"


def test_unknown_key_in_file_and_unparsable_file(tmp_path: Path) -> None:
    f = tmp_path / "u.toml"
    f.write_text("[hosts]\ncpus = 3\n")
    with pytest.raises(ConfigError, match=rf"{f}: unknown setting 'hosts.cpus'"):
        config.load(f)
    f.write_text("[host\n")
    with pytest.raises(ConfigError, match=rf"{f}: cannot parse"):
        config.load(f)
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "missing.toml")


def test_settings_are_frozen() -> None:
    s = config.load()
    with pytest.raises(AttributeError):
        s.seed = 3  # type: ignore[misc]

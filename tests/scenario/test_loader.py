"""Scenario files: every shipped one loads; a bad one is one error naming the file, key path and value."""

from pathlib import Path

import pytest

from otelmock.errors import ScenarioError
from otelmock.scenario.loader import MAX_FILE_BYTES, PACKAGED_DIR, discover, load_file


@pytest.mark.parametrize("path", sorted(PACKAGED_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_loads(path: Path) -> None:
    assert load_file(path).name == path.stem


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("params:\n  serving.error_rate: 7\n", "params.serving.error_rate: 7 is outside [0, 1]"),
        ("params:\n  nope: 1\n", "params.nope: unknown parameter"),
        ("params:\n  gpu.3.throttle: yes\n", "params.gpu.3.throttle: True is not a number"),
        ("params:\n  container.x.crashloop_s: -1\n", "params.container.x.crashloop_s: -1 is outside"),
        ("colour: blue\n", "unknown key 'colour'"),
        ("name: ../../etc\n", "name: '../../etc' must be letters, digits"),
        ("params: [1, 2]\n", "params must be a mapping"),
        ("a: [\n", "invalid YAML"),
        ("!!python/object/apply:os.system ['true']\n", "invalid YAML"),  # safe loading only
    ],
)
def test_bad_files_name_file_key_and_value(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "x.yaml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_file(f)
    assert str(err.value).startswith(f"{f}: ") and message in str(err.value)


def test_oversized_file_and_missing_folder(tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    f.write_text("#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ScenarioError, match="larger than"):
        load_file(f)
    with pytest.raises(ScenarioError, match="scenarios folder not found"):
        discover(str(tmp_path / "missing"))


def test_user_folder_adds_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "normal.yaml").write_text("name: normal\nparams:\n  serving.rate_scale: 2\n")
    (tmp_path / "night.yaml").write_text("params:\n  load.activity: 0.3\n")
    found = discover(str(tmp_path))
    assert found["normal"].params == {"serving.rate_scale": 2.0} and found["night"].params == {"load.activity": 0.3}
    assert {"high_load", "degraded"} <= set(found)

"""Reading YAML, `--set` overrides, path checks and the resolved config."""

import os
import subprocess
import sys

import pytest
import yaml

from kdkeras.config import (
    ConfigError,
    apply_overrides,
    config_to_yaml,
    load_config,
    parse_override,
    write_config,
)


def write_yaml(path, data):
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text, expected",
    [
        ("distill.alpha=0.5", (("distill", "alpha"), 0.5)),
        ("scratch.epochs=3", (("scratch", "epochs"), 3)),
        ("run.tensorboard=false", (("run", "tensorboard"), False)),
        ("teacher.weights=null", (("teacher", "weights"), None)),
        ("teacher.image_size=[48, 48]", (("teacher", "image_size"), [48, 48])),
        ("run.name=my run=1", (("run", "name"), "my run=1")),
        (" data.source = mnist", (("data", "source"), "mnist")),
    ],
)
def test_parse_override_reads_the_value_as_yaml(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize("text", ["distill.alpha", "=3", "distill..alpha=1", "a.=1"])
def test_malformed_override_is_refused(text):
    with pytest.raises(ConfigError, match="--set expects key.path=value"):
        parse_override(text)


def test_overrides_create_sections_and_leave_the_input_alone():
    data = {"data": {"source": "mnist"}, "distill": {"alpha": 0.1}}
    overridden = apply_overrides(data, ["distill.alpha=0.7", "scratch.epochs=2"])
    assert overridden["distill"] == {"alpha": 0.7}
    assert overridden["scratch"] == {"epochs": 2}
    assert data["distill"] == {"alpha": 0.1} and "scratch" not in data


def test_override_into_a_value_is_refused():
    with pytest.raises(ConfigError, match=r"run\.name: --set 'run\.name\.x=1'"):
        apply_overrides({"run": {"name": "a"}}, ["run.name.x=1"])


def test_misspelt_override_is_refused_with_a_suggestion(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", {"data": {"source": "mnist"}})
    with pytest.raises(ConfigError) as info:
        load_config(path, ["distill.temprature=4"])
    assert "distill.temprature: unknown key (received: 4)" in str(info.value)
    assert "did you mean 'temperature'?" in str(info.value)


def test_override_is_validated_like_the_file(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", {"data": {"source": "mnist"}})
    with pytest.raises(ConfigError, match=r"distill\.alpha: Input should be"):
        load_config(path, ["distill.alpha=2"])
    assert load_config(path, ["distill.alpha=0.3"]).distill.alpha == 0.3


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*absent.yaml"):
        load_config(tmp_path / "absent.yaml")


def test_not_a_mapping(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("- data\n- run\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        load_config(path)


def test_invalid_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {source: mnist\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_missing_files_are_refused_with_their_key_paths(tmp_path):
    path = write_yaml(
        tmp_path / "c.yaml",
        {
            "data": {"source": "npz", "path": "data.npz"},
            "teacher": {"path": "models/teacher.keras"},
        },
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        f"data.path: expected an existing file or folder; received: 'data.npz' "
        f"(not found: {tmp_path / 'data.npz'})",
        "teacher.path: expected an existing file or folder; received: "
        f"'models/teacher.keras' (not found: {tmp_path / 'models/teacher.keras'})",
    ]


def test_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "configs").mkdir()
    (tmp_path / "data.npz").write_bytes(b"")
    path = write_yaml(
        tmp_path / "configs" / "c.yaml",
        {"data": {"source": "npz", "path": "../data.npz"}, "run": {"output_dir": "r"}},
    )
    monkeypatch.chdir(tmp_path)
    config = load_config(path)
    assert config.data.path == str(tmp_path / "data.npz")
    # Outputs go where the command runs.
    assert config.run.output_dir == str(tmp_path / "r")


def test_nested_and_list_paths_are_resolved_and_checked(tmp_path):
    (tmp_path / "teacher").mkdir()
    for name in ("teacher/teacher.keras", "a.keras"):
        (tmp_path / name).write_bytes(b"")
    data = {
        "data": {"source": "embedded_spam_assassin", "tokenizer": {"path": "teacher"}},
        "teacher": {"path": "teacher/teacher.keras"},
    }
    config = load_config(write_yaml(tmp_path / "c.yaml", data))
    assert config.data.tokenizer.path == str(tmp_path / "teacher")
    assert config.teacher.path == str(tmp_path / "teacher" / "teacher.keras")
    data["data"]["tokenizer"]["path"] = "absent"
    data["teacher"] = {"paths": ["a.keras", "b.keras"]}
    with pytest.raises(ConfigError) as info:
        load_config(write_yaml(tmp_path / "c.yaml", data))
    assert info.value.problems == [
        "data.tokenizer.path: expected an existing file or folder; received: "
        f"'absent' (not found: {tmp_path / 'absent'})",
        "teacher.paths[1]: expected an existing file or folder; received: "
        f"'b.keras' (not found: {tmp_path / 'b.keras'})",
    ]
    # Images have no data.tokenizer: nothing to resolve on the way.
    images = load_config(write_yaml(tmp_path / "i.yaml", {"data": {"source": "mnist"}}))
    assert images.data.tokenizer is None


def test_imagenet_weights_are_not_a_path(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", {"data": {"source": "mnist"}})
    assert load_config(path).teacher.weights == "imagenet"


def test_resolved_config_round_trips(tmp_path):
    path = write_yaml(
        tmp_path / "c.yaml",
        {"data": {"source": "mnist"}, "optimize": {"method": "prune"}},
    )
    config = load_config(path, ["distill.alpha=0.25", "teacher.image_size=[40, 40]"])
    resolved = write_config(config, tmp_path / "run" / "config.yaml")
    assert load_config(resolved) == config
    written = yaml.safe_load(open(resolved, encoding="utf-8"))
    # Every default is written out, overrides applied.
    assert written["distill"]["alpha"] == 0.25
    assert written["teacher"]["image_size"] == [40, 40]
    assert written["optimize"]["target_sparsity"] == 0.5
    assert written["report"]["latency_runs"] == 100
    assert config_to_yaml(config) == open(resolved, encoding="utf-8").read()


def test_write_config_keeps_an_existing_file(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", {"data": {"source": "mnist"}})
    config = load_config(path)
    with pytest.raises(FileExistsError):
        write_config(config, path)
    assert yaml.safe_load(open(path, encoding="utf-8")) == {"data": {"source": "mnist"}}
    assert os.listdir(tmp_path) == ["c.yaml"]


_IMPORTED = """
import sys

sys.argv[0] = "kdkeras"  # `import kdkeras` as the command line's: lazy
from kdkeras.config import ConfigError, load_config

try:
    load_config(sys.argv[1])
except ConfigError as error:
    print(error)
print(sorted(name for name in ("keras", "tensorflow") if name in sys.modules))
"""


@pytest.mark.parametrize(
    "sections, words, imported",
    [
        # An error elsewhere: found without Keras, in a fraction of a second,
        # though the config names a loss and a preset (checked later).
        (
            {
                "scratch": {"learning_rate": -0.1},
                "distill": {"loss": "nope"},
                "teacher": {"preset": "resnet50"},
            },
            ["scratch.learning_rate"],
            "[]",
        ),
        # The loss's own error, once the rest passes: the registry's names.
        ({"distill": {"loss": "nope"}}, ["distill.loss", "'dkd'"], "['keras'"),
        ({"teacher": {"preset": "nope"}}, ["teacher.preset", "'resnet50'"], "['keras'"),
    ],
    ids=["error-elsewhere", "bad-loss", "bad-preset"],
)
def test_registry_names_are_checked_after_the_rest(tmp_path, sections, words, imported):
    path = write_yaml(tmp_path / "bad.yaml", {"data": {"source": "mnist"}, **sections})
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTED, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, result.stderr
    for word in words:
        assert word in result.stdout, result.stdout
    assert lines[-1].startswith(imported), result.stdout
    if imported == "[]":
        assert "distill.loss" not in result.stdout


def test_the_default_distill_section_is_a_validated_one():
    """`RunConfig`'s default `distill` is built without the registry checks
    (they would import Keras with `kdkeras.config`): it equals one built with
    them."""
    from kdkeras.config.schema import RunConfig
    from kdkeras.config.stages import DistillSection

    assert RunConfig.model_fields["distill"].default == DistillSection()
    config = RunConfig.model_validate({"data": {"source": "mnist"}})
    assert config.distill == DistillSection()

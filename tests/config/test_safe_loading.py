"""A config file read as a hostile user would write it: size and alias limits,
duplicate keys, UTF-8, finite numbers and splits, all refused as
`ConfigError`s before anything is built."""

import math
import os
import tempfile
import time
import tracemalloc

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from kdkeras.cli.main import cli
from kdkeras.config import ConfigError, load_config
from kdkeras.config.loading import write_config
from kdkeras.config.safe_yaml import MAX_CONFIG_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES

MNIST = "data:\n  source: mnist\n"


def config_file(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path, overrides=()):
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return info.value.problems


def billion_laughs(levels=9):
    """Nested aliases: a few hundred bytes that stand for 9**levels strings."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        aliases = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def refused_quickly_and_small(load, seconds_limit=1.0):
    """The `ConfigError` of `load()`, checked to come in under
    `seconds_limit` (traced by `tracemalloc`, which slows Python down) and
    with under 100 MB allocated at the peak."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ConfigError) as info:
            load()
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seconds < seconds_limit, f"refused after {seconds:.2f} s"
    assert peak < 100 * 2**20, f"{peak / 2**20:.0f} MB allocated"
    return info.value


@pytest.mark.parametrize(
    "text",
    [
        MNIST + "run:\n  name: x\n" + billion_laughs(),
        billion_laughs() + MNIST,
        MNIST + "scratch: &s {epochs: 2}\ndistill:\n  <<: *s\n",
    ],
    ids=["bomb", "bomb-before-the-sections", "merge-key"],
)
def test_anchors_and_aliases_are_refused_quickly_and_small(tmp_path, text):
    path = config_file(tmp_path, text)
    error = refused_quickly_and_small(lambda: load_config(path))
    assert error.source == str(path)
    assert "expected no YAML anchors or aliases" in error.problems[0]
    assert "received &" in error.problems[0]


def test_a_bomb_in_a_set_value_is_refused_quickly_and_small(tmp_path):
    path = config_file(tmp_path, MNIST)
    bomb = "[" + ", ".join(f"&a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 30))
    override = "run.name=[&a0 [lol, lol, lol], " + bomb[1:] + "]"
    error = refused_quickly_and_small(lambda: load_config(path, [override]))
    assert error.problems[0].startswith("run.name: the --set value is refused: ")
    assert "expected no YAML anchors or aliases" in error.problems[0]


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    path = config_file(tmp_path, MNIST + "#" * MAX_CONFIG_BYTES + "\n")
    error = refused_quickly_and_small(lambda: load_config(path))
    assert error.source == str(path)
    assert error.problems == [
        f"expected a config file of at most {MAX_CONFIG_BYTES:,} bytes; "
        f"received {os.path.getsize(path):,} bytes"
    ]


def test_a_set_value_over_the_size_limit_is_refused(tmp_path):
    path = config_file(tmp_path, MNIST)
    (problem,) = problems(path, ["run.name=" + "x" * (MAX_CONFIG_BYTES + 1)])
    assert problem == (
        "run.name: the --set value is refused: expected at most "
        f"{MAX_CONFIG_BYTES:,} bytes; received {MAX_CONFIG_BYTES + 1:,}"
    )


def test_too_many_values_are_refused_small(tmp_path):
    paths = "".join(f"    - m{i}.keras\n" for i in range(MAX_YAML_NODES))
    path = config_file(tmp_path, MNIST + "teacher:\n  paths:\n" + paths)
    # Ten thousand values are read in pure Python before the limit: a
    # second or two, traced, on a busy machine.
    error = refused_quickly_and_small(lambda: load_config(path), seconds_limit=10)
    assert error.problems[0].startswith("teacher.paths[")
    assert f"expected at most {MAX_YAML_NODES:,} values" in error.problems[0]


@pytest.mark.parametrize("nesting", [MAX_YAML_DEPTH, 100_000])
def test_deep_nesting_is_refused_without_recursion_error(tmp_path, nesting):
    path = config_file(
        tmp_path, MNIST + "run:\n  name: " + "[" * nesting + "]" * nesting
    )
    (problem,) = problems(path)
    assert problem == (
        f"line 4: expected lists and mappings nested at most {MAX_YAML_DEPTH} "
        "deep; received deeper"
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            MNIST + "scratch:\n  epochs: 2\nrun:\n  seed: 1\nscratch:\n  epochs: 3\n",
            "scratch: written twice (lines 3 and 7); expected each key once",
        ),
        (
            MNIST + "scratch:\n  epochs: 2\n  batch_size: 8\n  epochs: 3\n",
            "scratch.epochs: written twice (lines 4 and 6); expected each key once",
        ),
        (
            MNIST + "distill:\n  alpha: {start: 0.1, end: 0.5, 'start': 0.2}\n",
            "distill.alpha.start: written twice (lines 4 and 4); expected each "
            "key once",
        ),
        (
            "data: {source: mnist}\nteacher:\n  paths:\n    - a\n    - {x: 1, x: 2}\n",
            "teacher.paths[1].x: written twice (lines 5 and 5); expected each key once",
        ),
    ],
    ids=["depth-1", "depth-2", "depth-3-quoted", "in-a-list"],
)
def test_a_key_written_twice_is_refused_with_its_path_and_lines(
    tmp_path, text, expected
):
    path = config_file(tmp_path, text)
    assert problems(path) == [expected]


def test_a_key_written_twice_in_a_set_value_is_refused(tmp_path):
    path = config_file(tmp_path, MNIST)
    (problem,) = problems(path, ["distill.alpha={value: 0.1, value: 0.2}"])
    assert problem == (
        "distill.alpha: the --set value is refused: value: written twice "
        "(lines 1 and 1); expected each key once"
    )


def test_bytes_that_are_not_utf8_are_refused_with_the_file_and_offset(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(MNIST.encode() + "run:\n  name: café\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    offset = len(MNIST) + len("run:\n  name: caf")
    assert info.value.problems == [
        f"expected UTF-8 text; received byte 0xe9 at byte offset {offset} (line 4)"
    ]
    assert str(path) in str(info.value)


def test_utf8_with_a_byte_order_mark_and_accents_is_read(tmp_path):
    path = tmp_path / "c.yaml"
    text = MNIST + "run:\n  name: cafe  # café, naïve\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_config(path).run.name == "cafe"


@pytest.mark.parametrize(
    "key, section",
    [
        ("learning_rate", "scratch"),
        ("learning_rate", "distill"),
        ("head_learning_rate", "teacher"),
        ("fine_tune_learning_rate", "teacher"),
        ("width", "student"),
        ("dropout", "student"),
        ("validation_split", "data"),
        ("test_split", "data"),
        ("auto_budget", "distill"),
        ("temperature", "distill"),
        ("alpha", "distill"),
        ("target_sparsity", "optimize"),
        ("min_agreement", "export"),
    ],
)
@pytest.mark.parametrize("number", [".inf", ".nan", "-.inf", "'inf'", "'nan'"])
def test_numbers_that_are_not_finite_are_refused_in_the_file_and_in_set(
    tmp_path, key, section, number
):
    # `optimize` needs its method; the other sections are valid empty.
    required = "optimize:\n  method: prune\n"
    if section == "data":
        text = MNIST + f"  {key}: {number}\n" + required
    elif section == "optimize":
        text = MNIST + required + f"  {key}: {number}\n"
    else:
        text = MNIST + required + f"{section}:\n  {key}: {number}\n"
    path = config_file(tmp_path, text)
    plain = config_file(tmp_path, MNIST + required, "plain.yaml")
    for where, overrides in [(path, ()), (plain, [f"{section}.{key}={number}"])]:
        (problem,) = problems(where, overrides)
        assert problem.startswith(f"{section}.{key}: "), problem
        received = problem.rpartition("(received: ")[2]
        assert "inf" in received or "nan" in received, problem


def test_every_float_of_the_schema_is_checked_after_validation(tmp_path):
    path = config_file(
        tmp_path,
        MNIST + "student:\n  width: .inf\n  budget:\n    size_kb: 4.0\n",
    )
    assert problems(path) == ["student.width: expected a finite number (received: inf)"]


@pytest.mark.parametrize(
    "data",
    [
        "{source: npz, path: a.npz, validation_split: 0.5, test_split: 0.6}",
        "{source: image_folder, path: photos, image_size: [8, 8], "
        "validation_split: 0.5, test_split: 0.6}",
    ],
)
def test_splits_that_hold_out_everything_are_refused_naming_both(tmp_path, data):
    (tmp_path / "a.npz").touch()
    (tmp_path / "photos").mkdir()
    path = config_file(tmp_path, f"data: {data}\n")
    assert problems(path) == [
        "data.validation_split + data.test_split: expected a sum below 1, so that "
        "examples are left to train on (received: 0.5 + 0.6 = 1.1)"
    ]


def test_splits_are_not_summed_where_the_test_set_is_separate(tmp_path):
    (tmp_path / "photos").mkdir()
    path = config_file(
        tmp_path,
        "data: {source: image_folder, path: photos, test_path: photos, "
        "image_size: [8, 8], validation_split: 0.5, test_split: 0.6}\n",
    )
    assert load_config(path).data.validation_split == 0.5
    path = config_file(tmp_path, "data: {source: mnist, validation_split: 0.9}\n")
    assert load_config(path).data.validation_split == 0.9


@pytest.mark.parametrize(
    "text",
    [
        billion_laughs(),
        "scratch: {epochs: 1}\nscratch: {epochs: 2}\n",
        "distill: {learning_rate: .inf}\n",
    ],
)
def test_kdkeras_run_refuses_before_the_run_folder(tmp_path, text):
    path = config_file(tmp_path, MNIST + text)
    result = CliRunner().invoke(
        cli, ["run", str(path), "--output", str(tmp_path / "runs")]
    )
    assert result.exit_code == 2, result.output
    assert f"Invalid config in {path}:" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


_learning_rates = st.floats(min_value=1e-6, max_value=1.0)
_sections = st.fixed_dictionaries(
    {
        "data": st.fixed_dictionaries(
            {
                "source": st.sampled_from(["mnist", "fashion_mnist"]),
                "validation_split": st.floats(min_value=0.0, max_value=0.5),
                "test_split": st.floats(min_value=1e-3, max_value=0.49),
            }
        ),
        "scratch": st.fixed_dictionaries(
            {"epochs": st.integers(1, 500), "learning_rate": _learning_rates}
        ),
        "distill": st.fixed_dictionaries(
            {
                "epochs": st.integers(1, 500),
                "learning_rate": _learning_rates,
                "alpha": st.floats(min_value=0.0, max_value=1.0),
                "temperature": st.floats(min_value=1e-3, max_value=100.0),
            }
        ),
        "export": st.fixed_dictionaries(
            {
                "quantizations": st.lists(
                    st.sampled_from(["float32", "float16", "dynamic_range", "int8"]),
                    min_size=1,
                    unique=True,
                )
            }
        ),
    }
)


@settings(max_examples=40, deadline=None)
@given(sections=_sections)
def test_an_accepted_config_round_trips_through_write_config(sections):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "c.yaml")
        with open(path, "w", encoding="utf-8") as file:
            yaml.safe_dump(sections, file)
        try:
            config = load_config(path)
        except ConfigError:
            reject()
        written = write_config(config, os.path.join(folder, "written.yaml"))
        assert load_config(written) == config
    assert math.isclose(config.distill.alpha, sections["distill"]["alpha"])


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-13-45", "line 4: expected a valid timestamp; received '2024-13-45'"),
        ("9" * 5000, "line 4: expected a valid int; received '99999"),
    ],
)
def test_a_scalar_yaml_cannot_construct_is_a_config_error(tmp_path, value, expected):
    path = config_file(tmp_path, MNIST + f"run:\n  name: {value}\n")
    (problem,) = problems(path)
    assert problem.startswith(expected), problem

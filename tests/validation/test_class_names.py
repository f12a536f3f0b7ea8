"""One rule for class names (`kdkeras.validation.labels.class_name_problem`):
a name it accepts survives `labels.txt`, YAML and JSON unchanged; a name with
a control character, a line separator or a path part is refused."""

import io
import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kdkeras.cli.data_files import read_labels_file
from kdkeras.config import ConfigError
from kdkeras.export.device_export import labels_text
from kdkeras.validation import check_class_names
from kdkeras.validation.labels import class_name_problem, class_name_problems

CONTROL = ["\n", "\r", "\t", "\x00", "\x0b", "\x0c", "\x1c", "\x7f", "\x85"]
SEPARATORS = ["\u2028", "\u2029"]


def labels_round_trip(names, tmp_path):
    """`names` written as `labels.txt` is, read back as `--labels` reads it."""
    path = tmp_path / "labels.txt"
    with open(path, "w", encoding="utf-8") as file:
        file.write(labels_text(names))
    return read_labels_file(path)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=6))
def test_accepted_names_survive_labels_txt_yaml_and_json(tmp_path_factory, names):
    if class_name_problems(names, "data.path"):
        return
    tmp_path = tmp_path_factory.mktemp("labels")
    assert labels_round_trip(names, tmp_path) == names
    assert yaml.safe_load(yaml.safe_dump({"labels": names})) == {"labels": names}
    text = yaml.safe_dump({"labels": names}, allow_unicode=True)
    assert yaml.safe_load(io.StringIO(text)) == {"labels": names}
    assert json.loads(json.dumps({"labels": names})) == {"labels": names}
    assert check_class_names(names) == names


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=10),
    st.sampled_from(CONTROL + SEPARATORS),
    st.text(max_size=10),
)
def test_a_name_with_a_control_character_is_refused(before, bad, after):
    problem = class_name_problem(before + bad + after)
    assert problem is not None
    assert "control characters" in problem or "non-empty" in problem


@settings(max_examples=200, deadline=None)
@given(
    st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8),
    st.sampled_from(["../{}", "{}/..", "/{}", "{}/", "{}\\x", "./{}", "{}//x"]),
)
def test_a_name_with_a_path_part_is_refused(word, pattern):
    problem = class_name_problem(pattern.format(word))
    assert problem is not None and ("path" in problem)


@pytest.mark.parametrize(
    "name, words",
    [
        ("", "non-empty"),
        ("   ", "non-empty"),
        (" cat", "leading or trailing spaces"),
        ("cat ", "leading or trailing spaces"),
        ("a\nb", "control characters"),
        ("a\tb", "control characters"),
        ("a\x00b", "control characters"),
        ("..", "not a path"),
        (".", "not a path"),
        ("../outside", "not a path"),
        ("a\\b", "a backslash (a path separator)"),
        ("x" * 201, "at most 200 characters"),
    ],
)
def test_each_bad_name_is_refused_with_words_that_name_the_problem(name, words):
    assert words in class_name_problem(name)
    with pytest.raises(ValueError, match="must hold names that survive"):
        check_class_names([name, "other"])


@pytest.mark.parametrize("name", ["T-shirt/top", "cat", "Ankle boot", "猫", "a#b: c"])
def test_ordinary_names_are_accepted(name):
    assert class_name_problem(name) is None


def test_problems_name_the_key_the_name_and_repeats():
    problems = class_name_problems(["a\nb", "ok", "ok"], "data.path", "class folder")
    assert problems == [
        "data.path: class folder 'a\\nb': expected a class name without control "
        "characters",
        "data.path: expected each class name once; received 'ok' 2 times",
    ]


def test_a_long_bad_name_is_cut_in_the_message():
    (problem,) = class_name_problems(["x" * 5000 + "\n"], "--labels")
    assert len(problem) < 200


def test_labels_file_with_a_bad_or_repeated_name_is_refused(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("cat\ndog\ncat\n..\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_labels_file(path)
    assert caught.value.problems == [
        "--labels: class name '..': expected a class name that is not a path "
        "(., .., a leading /)",
        "--labels: expected each class name once; received 'cat' 2 times",
    ]

"""The benchmarks' shared plumbing (`benchmarks/result_files.py`): running
`kdkeras` as a user does and writing a result file the tables are made from."""

import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def result_files(load_script):
    return load_script(ROOT / "benchmarks" / "result_files.py")


def test_a_result_file_says_what_ran_where(result_files, tmp_path):
    path = result_files.write_result(
        "example", str(tmp_path / "example.json"), seeds=[1, 2], runs=[{"a": 1}]
    )
    result = json.loads(pathlib.Path(path).read_text())
    assert result["name"] == "example"
    assert result["command"].startswith("python ")
    assert result["seeds"] == [1, 2] and result["runs"] == [{"a": 1}]
    assert set(result["versions"]) == {"tensorflow", "keras"}
    assert result["machine"]["cpu_count"] >= 1


def test_kdkeras_runs_as_a_user_runs_it(result_files, tmp_path):
    code, output, seconds = result_files.run_kdkeras(["--version"])
    assert code == 0 and "version" in output and seconds > 0
    (tmp_path / "runs" / "demo-20261206-000000").mkdir(parents=True)
    (tmp_path / "runs" / "demo-20261206-000000" / "state.json").write_text("{}")
    folder = result_files.run_folder(str(tmp_path / "runs"))
    assert result_files.read_json(folder, "state.json") == {}


def test_merged_runs_keep_the_other_commands_runs(result_files, tmp_path):
    path = str(tmp_path / "merged.json")
    result_files.write_result(
        "merged", path, merge_on=("seed",), seeds=[0, 1], runs=[{"seed": 0, "a": 1}]
    )
    result_files.write_result(
        "merged",
        path,
        merge_on=("seed",),
        command="python benchmarks/x.py --seed 1",
        seeds=[1],
        runs=[{"seed": 1, "a": 2}, {"seed": 0, "a": 3}],
    )
    result = json.loads(pathlib.Path(path).read_text())
    assert [run["a"] for run in result["runs"]] == [2, 3]
    assert result["runs"][0]["command"] == "python benchmarks/x.py --seed 1"
    assert result["seeds"] == [0, 1] and all("date" in r for r in result["runs"])


def test_a_merge_keeps_the_machine_description(result_files, tmp_path):
    path = tmp_path / "described.json"
    result_files.write_result(
        "described", str(path), merge_on=("seed",), seeds=[0], runs=[{"seed": 0}]
    )
    result = json.loads(path.read_text())
    result["machine"]["description"] = "a VM with 2 x86_64 CPU cores, no GPU"
    path.write_text(json.dumps(result))
    result_files.write_result(
        "described", str(path), merge_on=("seed",), seeds=[1], runs=[{"seed": 1}]
    )
    merged = json.loads(path.read_text())
    assert merged["machine"]["description"] == "a VM with 2 x86_64 CPU cores, no GPU"
    assert merged["machine"]["cpu_count"] >= 1
    assert [run["seed"] for run in merged["runs"]] == [0, 1]
    # Written through a temporary file: nothing else is left in the folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["described.json"]


def test_numpy_numbers_are_written_as_json_numbers(result_files, tmp_path):
    import numpy as np

    path = result_files.write_result(
        "np", str(tmp_path / "np.json"), seeds=[0], value=np.float32(0.5)
    )
    assert json.loads(pathlib.Path(path).read_text())["value"] == 0.5


def test_command_line_names_the_script_from_the_repository_root(result_files):
    script = str(ROOT / "benchmarks" / "hinton_mnist.py")
    assert result_files.command_line(script, ["--quick"]) == (
        "python benchmarks/hinton_mnist.py --quick"
    )


def test_a_recorded_command_is_quoted_for_the_shell(result_files):
    script = str(ROOT / "benchmarks" / "throughput.py")
    command = result_files.command_line(
        script, ["--variants", "plain", "online, keras.distillation"]
    )
    assert command == (
        "python benchmarks/throughput.py --variants plain 'online, keras.distillation'"
    )

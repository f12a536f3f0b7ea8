"""`student.architecture: auto` and `student.budget`: the config keys, the
candidates, the choice recorded in the run folder, and a resumed run that
trains the student chosen when the run started."""

import json
import os

import keras
import pytest
import yaml

import kdkeras
from kdkeras.config import ConfigError, config_to_yaml, validate_config
from kdkeras.config.model_sections import StudentSection
from kdkeras.export import StudentCandidate
from kdkeras.pipeline import resume_run, start_run, student_choice
from kdkeras.pipeline.model_setup import build_configured_student, student_candidate
from kdkeras.pipeline.run_data import load_run_data
from kdkeras.pipeline.run_folder import RunFolder

CNNS = [
    StudentCandidate(
        "cnn", {"filters": filters, "dense_units": dense_units, "pooling": "flatten"}
    )
    for filters, dense_units in (((4,), None), ((8, 16), None), ((32, 64), 32))
]
"""Three CNNs for 28×28 images, about 6, 8 and 120 KB as int8 files."""


@pytest.fixture
def three_cnns(monkeypatch):
    """`auto` chooses among `CNNS` (the defaults take a minute to measure)."""
    monkeypatch.setattr(student_choice, "auto_candidates", lambda *_: list(CNNS))


def auto(**budget):
    return {"architecture": "auto", "budget": budget}


@pytest.mark.parametrize(
    ("student", "message"),
    [
        (
            {"architecture": "auto"},
            "student.budget: expected a budget (size_kb, latency_ms or both) with "
            "architecture 'auto'",
        ),
        (
            auto(),
            "student.budget.size_kb: expected a size in KB, a latency_ms, or both",
        ),
        (auto(size_kb=0), "student.budget.size_kb: Input should be greater than 0"),
        (
            auto(latency_ms=float("inf")),
            "student.budget.latency_ms: expected a finite number",
        ),
        (auto(size_kb=10, bytes=3), "student.budget.bytes: unknown key"),
    ],
)
def test_budget_keys_are_checked(student, message):
    with pytest.raises(ConfigError) as info:
        validate_config({"data": {"source": "mnist"}, "student": student})
    assert info.value.problems[0].startswith(message)


def test_auto_is_accepted_for_images_and_texts():
    for source in ("mnist", "embedded_spam_assassin"):
        config = validate_config(
            {"data": {"source": source}, "student": auto(latency_ms=0.5)}
        )
        assert config.student.is_auto
        assert config.student.budget.model_dump() == {
            "size_kb": None,
            "latency_ms": 0.5,
        }


@pytest.mark.parametrize(
    "student",
    [
        {"architecture": "cnn", "filters": [8, 16], "dense_units": 32},
        {"architecture": "cnn", "filters": [4], "pooling": "avg", "dropout": 0.2},
        {"architecture": "mlp", "hidden_units": [64, 32]},
        {"architecture": "mobilenet_v3_small", "width": 0.5},
        {"architecture": "embedding_bag", "embedding_dim": 6, "hidden_units": []},
        {"architecture": "embedding_bag", "embedding_dim": 6, "hidden_units": [16]},
        {"architecture": "text_cnn", "filters": [32], "kernel_size": 5},
    ],
)
def test_a_section_and_its_candidate_describe_the_same_student(student):
    section = StudentSection.model_validate({**student, "budget": {"size_kb": 9}})
    candidate = student_candidate(section)
    assert candidate.architecture == student["architecture"]
    assert student_choice.student_section(candidate, section) == section


def test_a_candidate_builds_the_model_the_run_trains():
    section = StudentSection(filters=[8, 16], dense_units=32)
    candidate = student_candidate(section)
    assert candidate.name == "cnn filters=[8, 16] dense_units=32 pooling=flatten"
    run_model = build_configured_student(section, (28, 28, 1), 10, "student")
    assert candidate.build((28, 28, 1), 10).count_params() == run_model.count_params()
    # Bias-free convolutions, 4 numbers per batch-norm channel, 7×7×16
    # flattened into Dense(32), then the 10 logits.
    convolutions = (8 * 9 + 4 * 8) + (8 * 16 * 9 + 4 * 16)
    assert run_model.count_params() == convolutions + (784 * 32 + 32) + (32 * 10 + 10)


def test_auto_candidates_follow_the_section():
    images = student_choice.auto_candidates(
        StudentSection(pooling="avg", dense_units=16), text=False
    )
    assert [c.options["filters"] for c in images if c.architecture == "cnn"] == [
        (4, 8),
        (8, 16),
        (16, 32),
        (32, 64),
        (64, 128),
    ]
    assert {
        (c.options["pooling"], c.options["dense_units"])
        for c in images
        if c.architecture == "cnn"
    } == {("avg", 16)}
    assert [c.name for c in images if c.architecture != "cnn"] == [
        "mobilenet_v3_small width=0.25",
        "mobilenet_v3_small width=0.5",
        "mobilenet_v3_small width=0.75",
        "mobilenet_v3_small width=1.0",
        "mobilenet_v2 width=0.35",
        "mobilenet_v2 width=0.5",
        "mobilenet_v2 width=1.0",
    ]
    texts = student_choice.auto_candidates(StudentSection(kernel_size=5), text=True)
    assert [c.architecture for c in texts] == ["embedding_bag"] * 5 + ["text_cnn"] * 3
    assert {c.options["kernel_size"] for c in texts[5:]} == {5}
    # A text CNN has no dropout layer: with student.dropout, bags only.
    with_dropout = student_choice.auto_candidates(
        StudentSection(dropout=0.1), text=True
    )
    assert [c.architecture for c in with_dropout] == ["embedding_bag"] * 5


def test_the_choice_is_written_into_the_run_folder(
    tiny_run_config, tiny_teacher_path, tmp_path, three_cnns
):
    config = tiny_run_config(
        tiny_teacher_path, tmp_path / "runs", student=auto(size_kb=50)
    )
    data = load_run_data(config.data, config.run.seed)
    resolved, choice = student_choice.choose_configured_student(config, data)
    measured = choice.measurements
    assert [row["name"] for row in measured] == [c.name for c in CNNS]
    # The largest measured candidate that fits, whatever the sizes were.
    fitting = [row for row in measured if row["size_kb"] <= 50]
    assert [row["fits"] for row in measured] == [
        row["size_kb"] <= 50 for row in measured
    ]
    assert 0 < len(fitting) < 3
    best = max(fitting, key=lambda row: row["parameters"])
    assert choice.chosen == best
    assert resolved.student == student_choice.student_section(
        choice.candidate, config.student
    )
    assert resolved.student.architecture == "cnn"
    assert resolved.model_dump() == {
        **config.model_dump(),
        "student": resolved.student.model_dump(),
    }

    folder = RunFolder.create(resolved, output_dir=tmp_path / "runs")
    student_choice.record_student_choice(folder, resolved, choice)
    written = yaml.safe_load(open(folder.file("config.yaml"), encoding="utf-8"))
    assert written["student"]["architecture"] == "cnn"
    assert written["student"]["filters"] == best["options"]["filters"]
    assert written["student"]["budget"] == {"size_kb": 50.0, "latency_ms": None}
    assert folder.load_config() == resolved
    assert yaml.safe_load(config_to_yaml(folder.load_config())) == written
    state = json.load(open(folder.file("state.json"), encoding="utf-8"))
    recorded = state["stages"]["student_choice"]["artifacts"]
    assert recorded["candidates"] == measured
    assert recorded["chosen"] == best["name"]
    [finding] = folder.findings("decision")
    assert finding["stage"] == "student_choice"
    assert finding["numbers"] == {
        "parameters": best["parameters"],
        "size_kb": best["size_kb"],
        "latency_ms": best["latency_ms"],
        "num_candidates": 3,
        "budget_size_kb": 50.0,
    }
    assert finding["message"] == (
        f"student.architecture auto: {best['name']}, the largest of "
        f"{len(fitting)} of 3 measured candidates that fit student.budget "
        f"(size_kb=50): {best['parameters']:,} parameters, "
        f"{best['size_kb']:.1f} KB, {best['latency_ms']:.3f} ms (int8 .tflite "
        "on the LiteRT interpreter, 1 thread, batch 1, median of 200 runs)"
    )
    log = open(folder.file("run.log"), encoding="utf-8").read()
    assert "candidate" in log and "int8 size" in log
    for row in measured:
        assert f"{row['size_kb']:.1f} KB" in log


def test_a_budget_no_candidate_fits_stops_before_the_run_folder(
    tiny_run_config, tiny_teacher_path, tmp_path, three_cnns
):
    config = tiny_run_config(
        tiny_teacher_path, tmp_path / "runs", student=auto(size_kb=1)
    )
    with pytest.raises(ConfigError) as info:
        start_run(config)
    [problem] = info.value.problems
    # A convolution of 4 filters (bias-free) and its batch norm, then the
    # 14×14×4 flattened maps into 3 logits.
    assert problem.startswith(
        "student.budget: expected a budget the smallest candidate fits, cnn "
        "filters=[4] pooling=flatten (2,407 parameters), measured "
    )
    assert problem.endswith(
        " ms (int8 .tflite on the LiteRT interpreter, 1 thread, batch 1, median "
        "of 200 runs); received size_kb=1"
    )
    assert float(problem.split("measured ")[1].split(" KB")[0]) > 1
    assert not os.path.exists(tmp_path / "runs")


def test_a_named_student_over_budget_is_refused(
    tiny_run_config, tiny_teacher_path, tmp_path
):
    config = tiny_run_config(
        tiny_teacher_path,
        tmp_path / "runs",
        student={"filters": [4], "budget": {"size_kb": 1}},
    )
    with pytest.raises(ConfigError) as info:
        start_run(config)
    assert info.value.problems[0].startswith(
        "student.budget: expected a budget the student fits, cnn filters=[4] "
        "pooling=flatten (2,407 parameters), measured "
    )
    assert not os.path.exists(tmp_path / "runs")
    # Within budget: the same config, the one measurement as the evidence.
    config.student.budget.size_kb = 1e4
    data = load_run_data(config.data, config.run.seed)
    resolved, choice = student_choice.choose_configured_student(config, data)
    assert resolved == config
    [row] = choice.measurements
    assert row["fits"] and row["parameters"] == 2407
    assert student_choice.describe_choice(config.student, choice).startswith(
        "cnn filters=[4] pooling=flatten fits student.budget (size_kb=10000): "
        "2,407 parameters, "
    )


class SimulatedCrash(Exception):
    """Stands for a run killed in the middle of distillation."""


class CrashAfterFirstDistillEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if isinstance(self.model, kdkeras.Distiller) and epoch == 0:
            raise SimulatedCrash()


@pytest.mark.slow
def test_a_resumed_run_trains_the_student_chosen_at_the_start(
    tiny_run_config, tiny_teacher_path, tmp_path, three_cnns
):
    config = tiny_run_config(
        tiny_teacher_path,
        tmp_path / "runs",
        student=auto(size_kb=50),
        distill={"epochs": 2},
        export={"enabled": False},
        report={"enabled": False},
    )
    with pytest.raises(SimulatedCrash):
        start_run(config, extra_callbacks=[CrashAfterFirstDistillEpoch()])
    [name] = os.listdir(tmp_path / "runs")
    folder = RunFolder.open(tmp_path / "runs" / name)
    recorded = folder.artifacts("student_choice")
    [row] = [r for r in recorded["candidates"] if r["name"] == recorded["chosen"]]
    assert row["fits"] and row["size_kb"] <= 50
    scratch = keras.saving.load_model(folder.model_path("student_scratch"))
    assert scratch.count_params() == row["parameters"]

    resume_run(folder.path)
    assert folder.finished_stages() == [
        "student_choice",
        "teacher",
        "scratch",
        "distill",
    ]
    distilled = keras.saving.load_model(folder.model_path("student_distilled"))
    assert distilled.count_params() == row["parameters"]
    assert folder.load_config().student.filters == row["options"]["filters"]
    # Measured once, when the run started: the resumed run did not choose again.
    stages = [finding["stage"] for finding in folder.findings("decision")]
    assert stages.count("student_choice") == 1

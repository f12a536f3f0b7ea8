"""The schema refuses unknown keys, wrong types and impossible values, and
every error names the key path, the expectation and the received value."""

import pytest

from kdkeras.config import ConfigError, RunConfig, validate_config

MINIMAL = {"data": {"source": "embedded_fashion_mnist"}}


def problems_of(data):
    with pytest.raises(ConfigError) as info:
        validate_config(data)
    return info.value.problems


def with_section(section, **values):
    return {**MINIMAL, section: values}


def test_minimal_config_fills_in_every_default():
    config = validate_config(MINIMAL)
    assert config.distill.loss == "kd"
    assert config.distill.alpha == 0.1
    assert config.export.quantizations == ["float16", "int8"]
    assert config.optimize is None
    assert config.run.seed == 1337


def test_unknown_key_lists_the_valid_keys_and_the_closest_one():
    [problem] = problems_of(with_section("distill", alpah=0.5))
    assert problem.startswith("distill.alpah: unknown key (received: 0.5)")
    assert "Valid keys: allow_weak_teacher, alpha, " in problem
    assert problem.endswith("did you mean 'alpha'?")


def test_unknown_section_suggests_the_section():
    problems = problems_of({**MINIMAL, "distil": {"alpha": 0.5}})
    assert problems == [
        "distil: unknown key (received: {'alpha': 0.5}). Valid keys: "
        "augmentation, data, distill, export, optimize, report, run, scratch, "
        "student, teacher; did you mean 'distill'?"
    ]


def test_wrong_type_names_the_key_and_the_received_value():
    [problem] = problems_of(with_section("scratch", epochs="ten"))
    assert (
        problem == "scratch.epochs: Input should be a valid integer (received: 'ten')"
    )


def test_a_float_is_not_an_epoch_count():
    [problem] = problems_of(with_section("distill", epochs=2.5))
    assert problem.startswith("distill.epochs: Input should be a valid integer")


def test_impossible_value_gives_the_bound():
    [problem] = problems_of(with_section("distill", alpha=1.5))
    assert problem == (
        "distill.alpha: Input should be less than or equal to 1 (received: 1.5)"
    )


def test_every_problem_is_reported_at_once():
    """All but the names checked against kdkeras' registries (here
    `distill.loss`): reading those imports Keras (seconds), so they are
    checked once the rest passes (`without_registry_checks`)."""
    problems = problems_of(
        {**with_section("distill", temperature=0, loss="kdd"), "run": {"seed": "x"}}
    )
    paths = sorted(problem.split(":")[0] for problem in problems)
    assert paths == ["distill.temperature", "run.seed"]
    problems = problems_of(with_section("distill", temperature=0.5, loss="kdd"))
    assert [problem.split(":")[0] for problem in problems] == ["distill.loss"]


def test_unregistered_loss_lists_the_registry():
    [problem] = problems_of(with_section("distill", loss="hinton"))
    assert problem.startswith("distill.loss: expected a registered distillation")
    assert "'dkd'" in problem and "'kd'" in problem
    assert problem.endswith("(received: 'hinton')")


def test_method_is_read_as_the_former_name_of_loss():
    assert validate_config(with_section("distill", method="dkd")).distill.loss == "dkd"
    [problem] = problems_of(with_section("distill", method="hinton"))
    assert problem.startswith("distill.method: expected a registered distillation")
    [problem] = problems_of(with_section("distill", method="kd", loss="dkd"))
    assert problem == (
        "distill.method: expected only distill.loss (method is its former name) "
        "(received: 'kd')"
    )


def test_list_items_are_located_by_index():
    [problem] = problems_of(with_section("export", quantizations=["float16", "int9"]))
    assert problem.startswith("export.quantizations[1]: Input should be 'float32'")


def test_repeated_quantizations_are_refused():
    [problem] = problems_of(with_section("export", quantizations=["int8", "int8"]))
    assert problem.startswith("export.quantizations: expected a non-empty list")


def test_missing_data_section_is_named():
    assert problems_of({}) == ["data: required key is missing"]


def test_image_folder_needs_a_path_and_an_image_size():
    [problem] = problems_of({"data": {"source": "image_folder"}})
    assert problem == (
        "data.path: expected the image folder, required with source "
        "'image_folder' (received: None)"
    )
    [problem] = problems_of({"data": {"source": "image_folder", "path": "."}})
    assert problem.startswith("data.image_size: expected [height, width]")


def test_cross_section_errors_point_at_one_key():
    data = {
        "data": {"source": "image_folder", "path": ".", "image_size": [28, 28]},
        "augmentation": {"shift": 2},
        "distill": {"mode": "offline"},
    }
    [problem] = problems_of(data)
    assert problem.startswith("distill.mode: expected 'online' with augmentation")
    assert problem.endswith("(received: 'offline')")


def test_optimize_needs_the_distilled_student():
    data = {**MINIMAL, "optimize": {"method": "qat"}, "distill": {"enabled": False}}
    [problem] = problems_of(data)
    assert problem.startswith("distill.enabled: expected true when optimize is set")


def test_no_student_at_all_is_refused():
    data = {**MINIMAL, "scratch": {"enabled": False}, "distill": {"enabled": False}}
    [problem] = problems_of(data)
    assert problem.startswith("distill.enabled: expected true when scratch.enabled")


def test_weights_none_means_random_initialization():
    config = validate_config(with_section("teacher", weights="none"))
    assert config.teacher.weights is None


def test_schema_sections_refuse_extra_keys():
    for name, field in RunConfig.model_fields.items():
        section = field.annotation
        section = getattr(section, "__args__", (section,))[0]
        assert section.model_config["extra"] == "forbid", name

"""The distill stage's loss, schedules, augmentation and teacher ensemble in
the config: good values are read, bad ones refused with the key path."""

import pytest

from kdkeras.config import ConfigError, validate_config
from kdkeras.config.loading import config_to_yaml

MINIMAL = {"data": {"source": "embedded_fashion_mnist"}}


def problems_of(data):
    with pytest.raises(ConfigError) as info:
        validate_config(data)
    return info.value.problems


def distill(**values):
    return {**MINIMAL, "distill": values}


def test_a_loss_with_its_arguments():
    config = validate_config(
        distill(loss={"name": "dkd", "non_target_weight": 2, "target_weight": 0.5})
    )
    assert config.distill.loss_name == "dkd"
    assert config.distill.loss_arguments == {
        "non_target_weight": 2,
        "target_weight": 0.5,
    }
    assert validate_config(distill(loss="kd_standardized")).distill.loss_name == (
        "kd_standardized"
    )


@pytest.mark.parametrize(
    "loss, expected",
    [
        (
            {"name": "dkd", "beta": 8},
            "distill.loss.beta: expected an argument of 'dkd' (DKDLoss): "
            "non_target_weight, target_weight (received: 8)",
        ),
        (
            {"name": "dkd", "non_target_weight": -1},
            "distill.loss.non_target_weight: expected arguments 'dkd' accepts "
            "(`non_target_weight` must be a finite number in [0, inf]. Received: "
            "non_target_weight=-1.0) "
            "(received: -1)",
        ),
        (
            {"name": "kd", "temperature": 4},
            "distill.loss.temperature: expected the temperature in "
            "distill.temperature (a number or a schedule), not in distill.loss "
            "(received: 4)",
        ),
        (
            {"name": "hinton"},
            "distill.loss.name: expected a registered distillation loss "
            "(kdkeras.losses), one of ['dist', 'dkd', 'hard_pseudo_label', 'kd', "
            "'kd_standardized', 'logit_mse', 'soft_target_cross_entropy'] "
            "(received: 'hinton')",
        ),
        ({"non_target_weight": 8}, "distill.loss.name: expected the loss's name"),
        (3, "distill.loss: Input should be a valid string (received: 3)"),
    ],
)
def test_a_bad_loss_is_refused_at_its_key(loss, expected):
    [problem] = problems_of(distill(loss=loss))
    assert problem.startswith(expected)


def test_dist_takes_its_weights_in_the_loss_and_the_temperature_beside_it():
    config = validate_config(
        distill(loss={"name": "dist", "intra_weight": 2.0}, temperature=4.0)
    )
    assert config.distill.loss_name == "dist"
    assert config.distill.loss_arguments == {"intra_weight": 2.0}
    assert config.distill.temperature == 4.0
    assert validate_config(distill(loss="dist")).distill.loss_name == "dist"
    # As for KD, the temperature is distill.temperature (a number or a
    # schedule), not an argument of distill.loss.
    [problem] = problems_of(distill(loss={"name": "dist", "temperature": 4.0}))
    assert problem == (
        "distill.loss.temperature: expected the temperature in "
        "distill.temperature (a number or a schedule), not in distill.loss "
        "(received: 4.0)"
    )


def test_relational_feature_methods(tmp_path):
    (tmp_path / "teacher.keras").write_bytes(b"")
    features = [
        {"kind": kind, "teacher_layer": "t_embedding", "student_layer": "s_embedding"}
        for kind in ("rkd", "pkt")
    ]
    features[0]["weight"] = 2.0
    config = validate_config(
        {**distill(features=features), "teacher": {"path": "teacher.keras"}},
        base_dir=tmp_path,
    )
    rkd, pkt = (feature.build() for feature in config.distill.features)
    assert (type(rkd).__name__, rkd.weight, rkd.distance_weight) == (
        "RelationalKD",
        2.0,
        25.0,
    )
    assert (type(pkt).__name__, pkt.weight) == ("ProbabilisticKT", 1.0)


def test_a_loss_without_temperature_takes_none():
    assert validate_config(distill(loss="logit_mse")).distill.temperature is None
    [problem] = problems_of(distill(loss="logit_mse", temperature=2))
    assert problem == (
        "distill.temperature: expected null with loss 'logit_mse', which takes "
        "no temperature (received: 2.0)"
    )


def test_schedules_of_alpha_and_temperature():
    config = validate_config(
        distill(
            alpha={"schedule": "linear", "start": 1.0, "end": 0.1, "epochs": 5},
            temperature={"schedule": "cosine", "start": 8, "end": 2},
        )
    )
    assert config.distill.alpha.final_value() == 0.1
    assert config.distill.temperature.epochs is None
    constant = validate_config(distill(alpha={"schedule": "constant", "value": 0.3}))
    assert constant.distill.alpha.final_value() == 0.3
    # The written config reads back the same.
    assert "schedule: cosine" in config_to_yaml(config)


@pytest.mark.parametrize(
    "values, expected",
    [
        (
            {"alpha": {"schedule": "linear", "start": 1.0, "end": 1.5}},
            "distill.alpha.end: expected a weight in [0, 1] (received: 1.5)",
        ),
        (
            {"temperature": {"schedule": "cosine", "start": 0, "end": 2}},
            "distill.temperature.start: expected a temperature > 0 (received: 0.0)",
        ),
        (
            {"alpha": {"schedule": "step", "start": 1, "end": 0}},
            "distill.alpha.schedule: Input should be 'constant', 'linear' or "
            "'cosine' (received: 'step')",
        ),
        (
            {"alpha": {"schedule": "linear", "start": 1}},
            "distill.alpha.end: expected a number, required by schedule 'linear' "
            "(received: None)",
        ),
        (
            {"alpha": {"schedule": "constant", "value": 0.2, "epochs": 3}},
            "distill.alpha.epochs: expected no epochs with schedule 'constant'",
        ),
        (
            {"temperature": {"schedule": "linear", "start": 4, "end": 2, "step": 3}},
            "distill.temperature.step: unknown key (received: 3). Valid keys: "
            "end, epochs, schedule, start, value",
        ),
    ],
)
def test_a_bad_schedule_is_refused_at_its_key(values, expected):
    [problem] = problems_of(distill(**values))
    assert problem.startswith(expected)


def test_augmentation():
    config = validate_config({**MINIMAL, "augmentation": {"shift": 3}})
    assert (config.augmentation.shift, config.augmentation.horizontal_flip) == (3, True)
    assert config.augmentation.plan(seed=7).get_config()["seed"] == 7
    assert validate_config(MINIMAL).augmentation is None
    [problem] = problems_of({**MINIMAL, "augmentation": {"shift": -1}})
    assert problem.startswith("augmentation.shift: Input should be greater than")


def test_features_offline_and_crd(tmp_path):
    """Offline, the teacher's layers are stored beside its logits (data in
    memory, no augmentation); CRD reads each example's index from those
    batches, so it trains offline only."""
    (tmp_path / "teacher.keras").write_bytes(b"")
    teacher = {"teacher": {"path": str(tmp_path / "teacher.keras")}}
    pair = {"teacher_layer": "t_embedding", "student_layer": "s_embedding"}
    crd = {"kind": "crd", **pair}
    config = validate_config(
        {**distill(mode="offline", features=[crd, {"kind": "rkd", **pair}]), **teacher}
    )
    first, second = config.distill.features
    assert (first.needs_example_index, second.needs_example_index) == (True, False)
    method = first.build(num_examples=5000)
    assert (type(method).__name__, method.num_examples, method.weight) == (
        "ContrastiveRepresentation",
        5000,
        0.8,
    )
    [problem] = problems_of({**distill(mode="online", features=[crd]), **teacher})
    assert problem.startswith(
        "distill.features[0].kind: expected a method that trains online (crd "
        "keeps a memory bank row per training example"
    )
    assert problem.endswith("distill.mode 'offline') (received: 'crd')")
    for other in (
        {"augmentation": {"shift": 1}},
        {
            "data": {
                "source": "image_folder",
                "path": str(tmp_path),
                "image_size": [8, 8],
            }
        },
    ):
        [problem] = problems_of(
            {**distill(mode="offline", features=[crd]), **teacher, **other}
        )
        assert problem.startswith(
            "distill.mode: expected 'online' with distill.features on an image "
            "folder or with augmentation"
        )


def test_augmentation_of_an_image_folder_is_online_only(tmp_path):
    data = {
        "data": {"source": "image_folder", "path": str(tmp_path), "image_size": [8, 8]},
        "augmentation": {"shift": 1},
    }
    assert validate_config(data).augmentation.shift == 1
    [problem] = problems_of({**data, "distill": {"mode": "offline"}})
    assert problem.startswith(
        "distill.mode: expected 'online' with augmentation of an image folder "
        "(offline distillation would cache the teacher's logits of every "
        "augmented view"
    )
    assert problem.endswith("or augmentation: null (received: 'offline')")


def test_several_teachers(tmp_path):
    paths = []
    for name in ("a.keras", "b.keras"):
        (tmp_path / name).write_bytes(b"")
        paths.append(name)
    config = validate_config(
        {**MINIMAL, "teacher": {"paths": paths, "ensemble_weights": [2, 1]}},
        base_dir=tmp_path,
    )
    assert config.teacher.paths == [str(tmp_path / name) for name in paths]
    assert config.teacher.ready
    problems = problems_of({**MINIMAL, "teacher": {"paths": ["a.keras"]}})
    assert problems[0].startswith("teacher.paths: expected two or more")
    [problem] = problems_of(
        {**MINIMAL, "teacher": {"paths": paths, "ensemble_weights": [1]}}
    )
    assert problem.startswith("teacher.ensemble_weights: expected one weight per")
    with pytest.raises(ConfigError) as info:
        validate_config(
            {**MINIMAL, "teacher": {"paths": ["a.keras", "missing.keras"]}},
            base_dir=tmp_path,
        )
    assert info.value.problems[0].startswith(
        "teacher.paths[1]: expected an existing file or folder; received: "
        "'missing.keras'"
    )


def test_feature_distillation(tmp_path):
    (tmp_path / "teacher.keras").write_bytes(b"")
    features = [
        {
            "kind": "hint",
            "teacher_layer": "block2_relu",
            "student_layer": "block1_relu",
        },
        {
            "kind": "attention_transfer",
            "teacher_layer": "block2_relu",
            "student_layer": "block2_relu",
            "p": 2,
        },
    ]
    config = validate_config(
        {**distill(features=features), "teacher": {"path": "teacher.keras"}},
        base_dir=tmp_path,
    )
    hint, attention = (feature.build() for feature in config.distill.features)
    assert (type(hint).__name__, hint.weight) == ("Hint", 1.0)
    assert (type(attention).__name__, attention.weight) == ("AttentionTransfer", 500.0)
    [problem] = problems_of(distill(features=features))
    assert problem.startswith(
        "teacher.path: expected a ready functional .keras teacher with distill.features"
    )
    [problem] = problems_of(
        {
            **distill(features=[{**features[0], "p": 2}]),
            "teacher": {"path": str(tmp_path / "teacher.keras")},
        }
    )
    assert problem == (
        "distill.features[0].p: expected no p with kind 'hint' (attention_transfer "
        "only) (received: 2)"
    )
    [problem] = problems_of(
        {
            **distill(features=[{**features[0], "kind": "fitnet"}]),
            "teacher": {"path": str(tmp_path / "teacher.keras")},
        }
    )
    assert problem == (
        "distill.features[0].kind: expected a registered feature method "
        "(kdkeras.losses), one of ['attention_transfer', 'crd', 'hint', 'pkt', "
        "'rkd'] "
        "(received: 'fitnet')"
    )
    [problem] = problems_of(distill(loss="hint"))
    assert problem.startswith(
        "distill.loss: expected a registered distillation loss (kdkeras.losses), "
        "one of ['dist', 'dkd', "
    )

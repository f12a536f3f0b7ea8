"""What `kdkeras init` reads from an image folder or a folder of texts."""

import os

import numpy as np
import pytest
import yaml
from PIL import Image

from kdkeras.cli.starter_config import (
    describe_image_folder,
    holds_texts,
    starter_config,
)
from kdkeras.cli.text_starter_config import describe_text_folder
from kdkeras.config import load_config
from kdkeras.config.distillation import FeatureSection


def write_images(directory, sizes, mode="RGB"):
    directory.mkdir(parents=True)
    channels = {"RGB": 3, "L": 1}[mode]
    for index, (height, width) in enumerate(sizes):
        pixels = np.zeros((height, width, channels), "uint8").squeeze()
        Image.fromarray(pixels, mode).save(directory / f"{index}.jpg")


def test_most_common_size_scaled_to_224(tmp_path):
    write_images(tmp_path / "photos" / "cat", [(300, 450), (300, 450), (10, 10)])
    write_images(tmp_path / "photos" / "dog", [(300, 450)])
    (tmp_path / "photos" / "dog" / "notes.txt").write_text("not an image")
    folder = describe_image_folder(tmp_path / "photos")
    assert folder == {
        "class_names": ["cat", "dog"],
        "counts": {"cat": 3, "dog": 1},
        "image_size": (149, 224),
        "color_mode": "rgb",
        "unreadable": [],
        "notes": [
            "1 file without an image extension (.png, .jpg, .jpeg, .bmp, .gif) "
            "left out, as Keras leaves them",
            "expected at least 3 images in every class folder, one for each split "
            "(training, validation, test); class 'dog' has 1",
        ],
    }


def test_grayscale_folder(tmp_path):
    for name in ("a", "b"):
        write_images(tmp_path / "scans" / name, [(64, 64)], mode="L")
    assert describe_image_folder(tmp_path / "scans")["color_mode"] == "grayscale"


def test_a_class_folder_without_images_is_refused(tmp_path):
    write_images(tmp_path / "photos" / "cat", [(32, 32)])
    (tmp_path / "photos" / "dog").mkdir()
    (tmp_path / "photos" / "bird").mkdir()
    (tmp_path / "photos" / "bird" / "broken.jpg").write_bytes(b"")
    with pytest.raises(ValueError) as info:
        describe_image_folder(tmp_path / "photos")
    assert str(info.value) == (
        "`--data` must have at least one image that decodes in every class "
        "folder; these have none: 'bird', 'dog' (add images or delete them). "
        f"Received: {tmp_path / 'photos'} with {{'bird': 0, 'cat': 1, 'dog': 0}}; "
        "1 of 2 image files do not decode and are not counted: bird/broken.jpg "
        "(empty file)"
    )
    with pytest.raises(ValueError, match="at least 2"):
        describe_image_folder(tmp_path / "photos" / "cat")


def test_images_that_do_not_decode_are_named_and_not_counted(tmp_path):
    for name in ("cat", "dog"):
        write_images(tmp_path / "photos" / name, [(40, 40)] * 3)
    (tmp_path / "photos" / "dog" / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "photos" / "cat" / "empty.jpg").write_bytes(b"")
    folder = describe_image_folder(tmp_path / "photos")
    assert folder["counts"] == {"cat": 3, "dog": 3}
    assert [os.path.basename(path) for path, _ in folder["unreadable"]] == [
        "empty.jpg",
        "x.png",
    ]
    assert folder["notes"][0].startswith(
        "2 of 8 image files do not decode and are not counted: cat/empty.jpg "
        "(empty file), dog/x.png ("
    )
    assert folder["notes"][0].endswith(
        "kdkeras run refuses them until they are fixed or deleted, or "
        "data.on_unreadable is skip"
    )
    config_path = tmp_path / "kdkeras.yaml"
    text = starter_config(str(config_path), str(tmp_path / "photos"))
    assert "  # 2 classes found (cat: 3, dog: 3).\n  # 2 of 8 image files" in text
    config_path.write_text(text)
    assert load_config(config_path).data.on_unreadable == "error"


def test_unbalanced_classes_are_noted(tmp_path):
    write_images(tmp_path / "photos" / "cat", [(20, 20)] * 33)
    write_images(tmp_path / "photos" / "dog", [(20, 20)] * 3)
    assert describe_image_folder(tmp_path / "photos")["notes"] == [
        "unbalanced classes: 'cat' has 33 images, 11.0 times the 3 of 'dog' (more "
        "than 10); the models may learn to neglect 'dog'"
    ]


def test_starter_config_for_a_folder_validates(tmp_path):
    for name in ("cat", "dog"):
        write_images(tmp_path / "photos" / name, [(120, 160)])
    config_path = tmp_path / "kdkeras.yaml"
    config_path.write_text(starter_config(str(config_path), str(tmp_path / "photos")))
    config = load_config(config_path)
    assert config.data.path == str(tmp_path / "photos")
    assert config.data.image_size == (120, 160)
    assert config.teacher.image_size == (160, 160)
    assert config.run.name == "photos"


@pytest.mark.parametrize("pretrained", [True, False])
def test_the_teacher_recipe_follows_the_weights_that_can_be_had(tmp_path, pretrained):
    config_path = tmp_path / "kdkeras.yaml"
    config_path.write_text(
        starter_config(str(config_path), pretrained=pretrained, reason="offline")
    )
    teacher = load_config(config_path).teacher
    if pretrained:
        # Two stages: the head on the frozen backbone, then the top layers.
        assert (teacher.weights, teacher.head_epochs) == ("imagenet", 2)
        assert (teacher.fine_tune_epochs, teacher.fine_tune_learning_rate) == (
            2,
            0.0001,
        )
        assert teacher.num_unfrozen_layers == 20
    else:
        # From random weights: no frozen phase, the whole network, longer.
        assert (teacher.weights, teacher.head_epochs) == (None, 0)
        assert (teacher.fine_tune_epochs, teacher.fine_tune_learning_rate) == (
            12,
            0.001,
        )
        assert "could not be downloaded here (offline)" in config_path.read_text()


def test_init_offline_says_the_teacher_trains_from_scratch(tmp_path):
    from click.testing import CliRunner

    from kdkeras.cli.main import cli
    from kdkeras.cli.starter_config import imagenet_weights_reachable

    reachable, _ = imagenet_weights_reachable(48)
    if reachable:
        pytest.skip("the ImageNet weights downloaded: this machine is online")
    config_path = tmp_path / "kdkeras.yaml"
    result = CliRunner().invoke(cli, ["init", "--output", str(config_path)])
    assert result.exit_code == 0, result.output
    assert "Note: the teacher's ImageNet weights could not be downloaded" in (
        result.output
    )
    assert load_config(config_path).teacher.head_epochs == 0


def test_the_commented_distillation_keys_validate_when_uncommented(tmp_path):
    config_path = tmp_path / "kdkeras.yaml"
    text = starter_config(str(config_path))
    commented = {
        key: value
        for key, value in (
            line.strip().lstrip("# ").split(": ", 1)
            for line in text.splitlines()
            if line.startswith(("  # loss: {", "  # alpha: {", "  # temperature: {"))
        )
    }
    assert set(commented) == {"loss", "alpha", "temperature"}
    config_path.write_text(text)
    assert load_config(config_path).distill.auto_keys == ("alpha", "temperature")
    augmentation = "\n".join(
        line[2:]
        for line in text.splitlines()
        if line.startswith(("# augmentation:", "#   shift:", "#   horizontal_flip:"))
    )
    config_path.write_text(text + "\n" + augmentation + "\n")
    config = load_config(
        config_path,
        [f"distill.{key}={value}" for key, value in commented.items()],
    )
    assert config.distill.loss == {
        "name": "dkd",
        "target_weight": 1.0,
        "non_target_weight": 8.0,
    }
    assert config.distill.alpha.schedule == "linear"
    assert config.distill.temperature.schedule == "cosine"
    assert (config.augmentation.shift, config.augmentation.horizontal_flip) == (2, True)
    [feature] = [
        line.split("- ", 1)[1]
        for line in text.splitlines()
        if line.startswith("  #   - {kind:")
    ]
    assert FeatureSection.model_validate(yaml.safe_load(feature)).kind == "hint"


def write_texts(directory, texts):
    directory.mkdir(parents=True)
    for index, text in enumerate(texts):
        (directory / f"{index:03d}.txt").write_text(text, encoding="utf-8")


def test_a_folder_of_texts_is_described_by_its_tokens(tmp_path):
    # Texts of 1..9 tokens and one of 100: the 0.9 quantile, interpolated,
    # is 9 + 0.1 × 91 = 18.1 tokens, rounded up to 19, then to 32 ids.
    write_texts(tmp_path / "mail" / "ham", [" ".join(["w"] * n) for n in range(1, 6)])
    write_texts(
        tmp_path / "mail" / "spam",
        [" ".join(["free"] * n) for n in (6, 7, 8, 9)] + ["Win " * 100],
    )
    (tmp_path / "mail" / "spam" / "notes.md").write_text("not a text")
    assert holds_texts(tmp_path / "mail")
    folder = describe_text_folder(tmp_path / "mail")
    assert folder == {
        "class_names": ["ham", "spam"],
        "counts": {"ham": 5, "spam": 5},
        "num_sampled": 10,
        "distinct_words": 3,
        "median_tokens": 6,
        "covering_tokens": 19,
        "sequence_length": 32,
    }


def test_the_sequence_length_is_capped_and_a_folder_needs_two_classes(tmp_path):
    write_texts(tmp_path / "long" / "a", ["word " * 2000])
    write_texts(tmp_path / "long" / "b", ["word " * 3000])
    assert describe_text_folder(tmp_path / "long")["sequence_length"] == 512
    write_texts(tmp_path / "one" / "a", ["text"])
    (tmp_path / "one" / "b").mkdir()
    with pytest.raises(ValueError, match=r"sub-folder of \.txt files per class"):
        describe_text_folder(tmp_path / "one")


def test_images_beside_texts_make_an_image_folder(tmp_path):
    write_images(tmp_path / "photos" / "cat", [(32, 32)])
    write_images(tmp_path / "photos" / "dog", [(32, 32)])
    (tmp_path / "photos" / "dog" / "notes.txt").write_text("a note")
    assert not holds_texts(tmp_path / "photos")


def test_starter_config_for_a_folder_of_texts_validates(tmp_path):
    for name in ("complaint", "praise"):
        write_texts(tmp_path / "data" / "messages" / name, ["some words here"] * 3)
    config_path = tmp_path / "configs" / "kdkeras.yaml"
    config_path.parent.mkdir()
    text = starter_config(str(config_path), str(tmp_path / "data" / "messages"))
    assert "path: ../data/messages\n" in text
    assert "# 2 classes found (complaint: 3, praise: 3)" in text
    assert "# 3 distinct words in the 6 texts sampled, of which" in text
    assert "# 90% have at most 3 tokens (median 3)." in text
    config_path.write_text(text)
    config = load_config(config_path)
    assert config.data.source == "text_folder" and config.data.is_text
    assert config.data.path == str(tmp_path / "data" / "messages")
    assert config.data.tokenizer.sequence_length == 16
    assert config.student.architecture == "embedding_bag"
    assert config.distill.mode == "offline"
    assert config.distill.auto_keys == ("alpha", "temperature")
    assert config.run.name == "messages"
    # The commented alternatives validate when uncommented.
    alpha = text.split("  # alpha: ")[1].split("\n")[0]
    student = text.split("architecture: embedding_bag   # or text_cnn (")[1]
    filters, kernel_size = student.split(")")[0].split(", ")
    config = load_config(
        config_path,
        [
            f"distill.alpha={alpha}",
            "distill.temperature=2.0",
            "student.architecture=text_cnn",
            f"student.{filters.replace(': ', '=')}",
            f"student.{kernel_size.replace(': ', '=')}",
            "student.hidden_units=[]",
            "distill.mode=online",
        ],
    )
    assert config.student.architecture == "text_cnn"
    assert config.distill.alpha.schedule == "linear"


def test_the_judgement_keys_are_written_and_the_budget_validates(tmp_path):
    config_path = tmp_path / "kdkeras.yaml"
    text = starter_config(str(config_path), pretrained=False, reason="offline")
    config_path.write_text(text)
    config = load_config(config_path)
    assert (config.export.model, config.export.min_agreement) == ("best", 0.98)
    assert config.distill.allow_weak_teacher is False
    # The commented `student: auto` lines, uncommented, make a valid budget.
    budget = [
        line.replace("  # ", "  ", 1).split("#")[0].rstrip()
        for line in text.splitlines()
        if line.startswith(("  # architecture: auto", "  # budget:", "  #   "))
        and (
            "size_kb" in line
            or "latency_ms" in line
            or "auto" in line
            or "budget" in line
        )
    ]
    student = yaml.safe_load("\n".join(budget))
    assert student == {
        "architecture": "auto",
        "budget": {"size_kb": 100, "latency_ms": 0.5},
    }
    config = load_config(
        config_path,
        [
            "student.architecture=auto",
            "student.budget={size_kb: 100, latency_ms: 0.5}",
        ],
    )
    assert config.student.budget.size_kb == 100


@pytest.mark.parametrize(
    "folder_name", ["photos #1", "a: b", "x\ny", " lead", "yes", "[x], {y}", "'q\""]
)
@pytest.mark.parametrize("kind", ["images", "texts"])
def test_a_data_path_with_yaml_characters_reads_back_the_same(
    tmp_path, folder_name, kind
):
    folder = tmp_path / "data" / folder_name
    for name in ("cat", "dog"):
        if kind == "images":
            write_images(folder / name, [(32, 32)])
        else:
            write_texts(folder / name, ["some words here"] * 3)
    config_path = tmp_path / "configs" / "kdkeras.yaml"
    config_path.parent.mkdir()
    config_path.write_text(starter_config(str(config_path), str(folder)), "utf-8")
    config = load_config(config_path)
    assert config.data.path == str(folder)
    assert config.data.source == ("image_folder" if kind == "images" else "text_folder")


def test_init_on_a_folder_with_a_newline_and_a_hash_writes_a_config_that_reads_back(
    tmp_path,
):
    from click.testing import CliRunner

    from kdkeras.cli.main import cli

    folder = tmp_path / "my #1\nphotos"
    for name in ("cat", "dog"):
        write_texts(folder / name, ["some words here"] * 3)
    config_path = tmp_path / "kdkeras.yaml"
    result = CliRunner().invoke(
        cli, ["init", "--data", str(folder), "-o", str(config_path)]
    )
    assert result.exit_code == 0, result.output
    assert load_config(config_path).data.path == str(folder)
    assert '"my #1\\nphotos"' in config_path.read_text("utf-8")


def test_init_refuses_a_folder_path_that_is_not_utf8(tmp_path):
    from click.testing import CliRunner

    from kdkeras.cli.main import cli

    folder = tmp_path / os.fsdecode(b"data\xff")
    for name in ("cat", "dog"):
        write_texts(folder / name, ["some words here"] * 3)
    config_path = tmp_path / "kdkeras.yaml"
    result = CliRunner().invoke(
        cli, ["init", "--data", str(folder), "-o", str(config_path)]
    )
    assert result.exit_code == 2, result.output
    assert "expected a folder path that is valid UTF-8" in result.output
    assert not config_path.exists()

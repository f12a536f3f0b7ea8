"""Data that cannot train is refused before training, by name: images that
do not decode, empty or too small classes, ImageNet weights that cannot be
downloaded; unbalanced classes are warned of. On real Fashion-MNIST images
written as PNG and JPEG files."""

import io

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from kdkeras.cli.main import cli
from kdkeras.config import ConfigError, load_config, validate_config
from kdkeras.datasets import load_embedded_fashion_mnist
from kdkeras.pipeline import start_run
from kdkeras.pipeline.data_checks import (
    check_image_folder,
    check_run_image_folders,
    data_check_lines,
)
from kdkeras.pipeline.run_data import load_run_data, num_examples
from kdkeras.pipeline.run_folder import RunFolder

FASHION_LABELS = {"bag": 8, "sneaker": 7, "trouser": 1}
"""Class folder name → Fashion-MNIST label; sorted, so also the run's ids."""


def class_mark(class_id):
    """The value of the top-left pixel of every image of class `class_id`."""
    return 40 + 50 * class_id


def write_images(directory, counts, suffix="png"):
    """Writes `counts[name]` Fashion-MNIST images of each class as files,
    their top-left pixel set to `class_mark` of the class's id.

    Returns:
        `directory`.
    """
    (x_train, y_train), _ = load_embedded_fashion_mnist()
    for class_id, name in enumerate(sorted(counts)):
        (directory / name).mkdir(parents=True, exist_ok=True)
        for index, image in enumerate(x_train[y_train == FASHION_LABELS[name]][:20]):
            if index == counts[name]:
                break
            image = image.copy()
            image[0, 0] = class_mark(class_id)
            Image.fromarray(image).save(directory / name / f"{index:03d}.{suffix}")
    return directory


def jpeg_bytes():
    (x_train, _), _ = load_embedded_fashion_mnist()
    buffer = io.BytesIO()
    Image.fromarray(x_train[0]).save(buffer, "JPEG")
    return buffer.getvalue()


def write_bad_files(directory):
    """A random-bytes `.jpg`, a truncated JPEG, a 0-byte `.png` and a text
    file (no image extension) in the class folders of `directory`.

    Returns:
        The paths of the three image files, sorted.
    """
    random_bytes = np.random.default_rng(0).bytes(400)
    bad = {
        directory / "bag" / "random.jpg": random_bytes,
        directory / "sneaker" / "cut.jpg": jpeg_bytes()[:300],
        directory / "trouser" / "empty.png": b"",
    }
    for path, content in bad.items():
        path.write_bytes(content)
    (directory / "bag" / "notes.txt").write_text("not an image", "utf-8")
    return sorted(str(path) for path in bad)


def folder_config(path, **data):
    """The `data` of an image-folder run on `path` (28×28 grayscale)."""
    return {
        "source": "image_folder",
        "path": str(path),
        "image_size": [28, 28],
        "color_mode": "grayscale",
        "validation_split": 0.2,
        "test_split": 0.2,
        **data,
    }


def run_config(path, teacher_path, output_dir, **data):
    """A whole tiny run on the folder `path` with the ready `teacher_path`."""
    return {
        "run": {"name": "checks", "output_dir": str(output_dir)},
        "data": folder_config(path, **data),
        "teacher": {"path": str(teacher_path)},
        "student": {"filters": [4]},
        "scratch": {"epochs": 1, "batch_size": 8},
        "distill": {"epochs": 1, "batch_size": 8, "allow_weak_teacher": True},
        "export": {"enabled": False},
        "report": {"latency_runs": 0},
    }


def invoke_run(tmp_path, config):
    """`kdkeras run` on `config` (written as YAML), in-process."""
    path = tmp_path / "kdkeras.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return CliRunner().invoke(cli, ["run", str(path)])


@pytest.fixture
def folder_with_bad_files(tmp_path):
    """`(folder, bad_paths)`: 3 classes of 6 PNGs, 3 image files that do not
    decode and a text file."""
    folder = write_images(tmp_path / "photos", dict.fromkeys(FASHION_LABELS, 6))
    return folder, write_bad_files(folder)


def test_the_check_names_each_image_that_does_not_decode(folder_with_bad_files):
    folder, bad_paths = folder_with_bad_files
    check = check_image_folder(folder, channels=1)
    assert check.counts == {"bag": 6, "sneaker": 6, "trouser": 6}
    assert check.non_image_files == 1
    reasons = dict(check.unreadable)
    assert sorted(reasons) == bad_paths
    assert reasons[bad_paths[0]] == "Unknown image file format."
    assert (
        reasons[bad_paths[1]]
        == "jpeg::Uncompress failed. Invalid JPEG data or crop window."
    )
    assert reasons[bad_paths[2]] == "empty file"


def test_a_gif_is_checked_with_the_channels_keras_decodes_to(tmp_path):
    folder = write_images(tmp_path / "photos", {"bag": 2, "sneaker": 2})
    (x_train, _), _ = load_embedded_fashion_mnist()
    Image.fromarray(x_train[0]).save(folder / "bag" / "animated.gif")
    assert check_image_folder(folder, channels=3).unreadable == []
    [(path, reason)] = check_image_folder(folder, channels=1).unreadable
    assert path == str(folder / "bag" / "animated.gif")
    assert reason == "channels must be 0 or 3 for GIF, got 1"


def test_run_names_the_unreadable_images_before_training(
    folder_with_bad_files, tiny_teacher_path, tmp_path
):
    folder, bad_paths = folder_with_bad_files
    result = invoke_run(
        tmp_path, run_config(folder, tiny_teacher_path, tmp_path / "runs")
    )
    assert result.exit_code == 2, result.output
    assert (
        "data.path: expected images that decode; 3 of 21 image files do not "
        "(data.on_unreadable: error). Fix or delete them, or set "
        "data.on_unreadable: skip to leave them out" in result.output
    )
    for path in bad_paths:
        assert f"data.path: {path}: " in result.output
    assert "empty.png: empty file" in result.output
    assert "--resume" not in result.output
    assert not (tmp_path / "runs").exists()


def test_a_long_list_of_unreadable_images_is_cut(tmp_path):
    folder = write_images(tmp_path / "photos", {"bag": 4, "sneaker": 4})
    for index in range(8):
        (folder / "bag" / f"broken{index}.jpg").write_bytes(b"")
    config = validate_config({"data": folder_config(folder)})
    with pytest.raises(ConfigError) as info:
        check_run_image_folders(config.data)
    problems = info.value.problems
    assert problems[0].startswith("data.path: expected images that decode; 8 of 16")
    assert problems[1:6] == [
        f"data.path: {folder / 'bag' / f'broken{index}.jpg'}: empty file"
        for index in range(5)
    ]
    assert problems[6:] == ["data.path: … and 3 more"]


def test_skip_leaves_the_images_out_and_keeps_each_label_with_its_image(
    folder_with_bad_files, tmp_path
):
    folder, bad_paths = folder_with_bad_files
    test_folder = write_images(tmp_path / "test", dict.fromkeys(FASHION_LABELS, 2))
    (test_folder / "sneaker" / "broken.png").write_bytes(b"\x89PNG not really")
    config = validate_config(
        {
            "data": folder_config(
                folder, test_path=str(test_folder), on_unreadable="skip"
            )
        }
    )
    data = load_run_data(config.data, seed=3)

    skipped = [path for path, _ in data.skipped_files]
    assert skipped == [*bad_paths, str(test_folder / "sneaker" / "broken.png")]
    sizes = [num_examples(split) for split in (data.train, data.validation, data.test)]
    assert sizes[0] + sizes[1] == 18 and sizes[1] > 0
    assert sizes[2] == 6
    for split, size in zip(
        (data.train, data.validation, data.test), sizes, strict=True
    ):
        for _ in range(2):  # the training split is reshuffled on each pass
            labels, marks = [], []
            for image, label in split:
                labels.append(int(label))
                marks.append(int(image.numpy()[0, 0, 0]))
            assert len(labels) == size
            assert marks == [class_mark(label) for label in labels]
    paths, labels = data.train_files
    assert len(paths) == sizes[0] and not set(paths) & set(bad_paths)
    assert [np.asarray(Image.open(path))[0, 0] for path in paths] == [
        class_mark(label) for label in labels
    ]
    assert data_check_lines(data) == [
        "data: 1 file without an image extension (.png, .jpg, .jpeg, .bmp, "
        ".gif) left out, as Keras leaves them",
        "data: 4 images that do not decode left out (data.on_unreadable: skip):",
        *(f"  {path}: {reason}" for path, reason in data.skipped_files),
    ]


@pytest.mark.slow
def test_a_run_with_skip_trains_without_the_unreadable_images(
    folder_with_bad_files, tiny_teacher_path, tmp_path
):
    folder, bad_paths = folder_with_bad_files
    config = validate_config(
        run_config(
            folder,
            tiny_teacher_path,
            tmp_path / "runs",
            on_unreadable="skip",
        )
        | {
            "distill": {
                "epochs": 1,
                "batch_size": 8,
                "mode": "offline",
                "allow_weak_teacher": True,
            }
        }
    )
    folder = start_run(config)
    assert RunFolder.open(folder.path).finished_stages() == [
        "teacher",
        "scratch",
        "distill",
        "report",
    ]
    data = load_run_data(config.data, config.run.seed)
    assert [path for path, _ in data.skipped_files] == bad_paths


def test_an_empty_class_folder_is_refused_by_run_and_init(tmp_path, tiny_teacher_path):
    folder = write_images(tmp_path / "photos", {"bag": 5, "sneaker": 5})
    (folder / "trouser").mkdir()
    result = invoke_run(
        tmp_path, run_config(folder, tiny_teacher_path, tmp_path / "runs")
    )
    assert result.exit_code == 2, result.output
    assert (
        "data.path: expected at least one readable image in every class folder; "
        "class 'trouser' has none" in result.output
    )
    assert not (tmp_path / "runs").exists()

    init_path = tmp_path / "init.yaml"
    result = CliRunner().invoke(
        cli, ["init", "--data", str(folder), "-o", str(init_path)]
    )
    assert result.exit_code == 2, result.output
    assert "these have none: 'trouser'" in result.output
    assert not init_path.exists()


def test_init_names_the_unreadable_images_and_does_not_count_them(
    folder_with_bad_files, tmp_path
):
    folder, _ = folder_with_bad_files
    config_path = tmp_path / "init.yaml"
    result = CliRunner().invoke(
        cli, ["init", "--data", str(folder), "-o", str(config_path)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "Note: 3 of 21 image files do not decode and are not counted: "
        "bag/random.jpg (Unknown image file format.), sneaker/cut.jpg "
        "(jpeg::Uncompress failed. Invalid JPEG data or crop window.), "
        "trouser/empty.png (empty file). kdkeras run refuses them until they "
        "are fixed or deleted, or data.on_unreadable is skip.\n"
        "Note: 1 file without an image extension"
    )
    text = config_path.read_text()
    assert "# 3 classes found (bag: 6, sneaker: 6, trouser: 6)." in text
    assert load_config(config_path).data.on_unreadable == "error"


def test_a_class_whose_images_all_fail_is_empty_even_when_skipped(tmp_path):
    folder = write_images(tmp_path / "photos", {"bag": 5, "sneaker": 5})
    (folder / "trouser").mkdir()
    (folder / "trouser" / "only.jpg").write_bytes(b"")
    config = validate_config({"data": folder_config(folder, on_unreadable="skip")})
    with pytest.raises(ConfigError) as info:
        load_run_data(config.data, seed=0)
    assert info.value.problems == [
        "data.path: expected at least one readable image in every class folder; "
        "class 'trouser' has none"
    ]


def test_a_class_too_small_for_the_splits_is_refused_with_the_numbers(tmp_path):
    folder = write_images(tmp_path / "photos", {"bag": 5, "sneaker": 5, "trouser": 2})
    config = validate_config({"data": folder_config(folder)})
    with pytest.raises(ConfigError) as info:
        load_run_data(config.data, seed=0)
    assert info.value.problems == [
        "data.path: expected at least 3 images in every class folder, one for "
        "each split (training, validation, test); class 'trouser' has 2"
    ]
    test_folder = write_images(tmp_path / "test", dict.fromkeys(FASHION_LABELS, 1))
    config = validate_config(
        {
            "data": folder_config(
                folder, validation_split=0.0, test_path=str(test_folder)
            )
        }
    )
    check_run_image_folders(config.data)  # one image per class is then enough


def test_a_test_folder_needs_the_classes_of_the_training_folder(tmp_path):
    folder = write_images(tmp_path / "photos", dict.fromkeys(FASHION_LABELS, 3))
    test_folder = write_images(tmp_path / "test", {"bag": 1, "sneaker": 1})
    config = validate_config(
        {"data": folder_config(folder, test_path=str(test_folder))}
    )
    with pytest.raises(ConfigError) as info:
        check_run_image_folders(config.data)
    assert info.value.problems == [
        "data.test_path: expected the classes of data.path, ['bag', 'sneaker', "
        f"'trouser']; received {test_folder} with ['bag', 'sneaker']"
    ]


def test_unbalanced_classes_are_warned_of(tmp_path):
    folder = write_images(tmp_path / "photos", {"bag": 20, "sneaker": 20, "trouser": 2})
    config = validate_config(
        {"data": folder_config(folder, validation_split=0.0, test_split=0.5)}
    )
    data = load_run_data(config.data, seed=0)
    assert data.data_warnings == []  # 10 times: not more than 10
    assert data_check_lines(data) == []
    (x_train, y_train), _ = load_embedded_fashion_mnist()
    for index in range(2):
        image = x_train[y_train == FASHION_LABELS["bag"]][20 + index]
        Image.fromarray(image).save(folder / "bag" / f"extra{index}.png")
    data = load_run_data(config.data, seed=0)
    assert data.data_warnings == [
        "data.path: unbalanced classes: 'bag' has 22 images, 11.0 times the 2 of "
        "'trouser' (more than 10); the models may learn to neglect 'trouser'"
    ]
    assert data_check_lines(data) == [f"warning: {data.data_warnings[0]}"]


def test_text_folders_refuse_small_classes_and_warn_of_unbalanced_ones(tmp_path):
    for name, count in (("complaint", 24), ("praise", 2)):
        (tmp_path / "texts" / name).mkdir(parents=True)
        for index in range(count):
            (tmp_path / "texts" / name / f"{index}.txt").write_text(f"{name} {index}")
    config = validate_config(
        {"data": {"source": "text_folder", "path": str(tmp_path / "texts")}}
    )
    with pytest.raises(ConfigError) as info:
        load_run_data(config.data, seed=0)
    assert info.value.problems == [
        "data.path: expected at least 3 texts in every class folder, one for each "
        "split (training, validation, test); class 'praise' has 2"
    ]
    (tmp_path / "texts" / "praise" / "2.txt").write_text("praise 2")
    assert load_run_data(config.data, seed=0).data_warnings == []  # 8 times
    for index in range(24, 40):
        (tmp_path / "texts" / "complaint" / f"{index}.txt").write_text("complaint")
    data = load_run_data(config.data, seed=0)
    assert data.data_warnings == [
        "data.path: unbalanced classes: 'complaint' has 40 texts, 13.3 times the 3 "
        "of 'praise' (more than 10); the models may learn to neglect 'praise'"
    ]


def test_skip_is_refused_where_nothing_is_decoded():
    with pytest.raises(ConfigError, match=r"data.on_unreadable: expected 'error'"):
        validate_config({"data": {"source": "mnist", "on_unreadable": "skip"}})


def test_imagenet_weights_that_cannot_download_fail_before_the_run_folder(tmp_path):
    from kdkeras.models import PretrainedWeightsUnavailableError, build_backbone

    try:
        build_backbone("mobilenet_v2", (32, 32, 3), weights="imagenet", width=0.35)
    except PretrainedWeightsUnavailableError:
        pass
    else:
        pytest.skip("the ImageNet weights downloaded: this machine has internet")
    folder = write_images(tmp_path / "photos", dict.fromkeys(FASHION_LABELS, 3))
    config = run_config(folder, "unused", tmp_path / "runs")
    config["teacher"] = {"preset": "mobilenet_v2", "weights": "imagenet", "width": 0.35}
    result = invoke_run(tmp_path, config)
    assert result.exit_code == 2, result.output
    file_name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    assert "teacher.weights: expected ImageNet weights of mobilenet_v2" in result.output
    assert "the download failed" in result.output
    assert f"set teacher.weights: /path/to/{file_name}" in result.output
    assert "or set teacher.weights: none to train the backbone from scratch" in (
        result.output
    )
    assert "--resume" not in result.output and "weights=" not in result.output
    assert not (tmp_path / "runs").exists()

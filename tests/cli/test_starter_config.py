"""What `kdkeras init` reads from an image folder."""

import numpy as np
import pytest
import yaml
from PIL import Image

from kdkeras.cli.starter_config import describe_image_folder, starter_config
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
    }


def test_grayscale_folder(tmp_path):
    for name in ("a", "b"):
        write_images(tmp_path / "scans" / name, [(64, 64)], mode="L")
    assert describe_image_folder(tmp_path / "scans")["color_mode"] == "grayscale"


def test_class_folders_without_images_do_not_count(tmp_path):
    write_images(tmp_path / "photos" / "cat", [(32, 32)])
    (tmp_path / "photos" / "dog").mkdir()
    with pytest.raises(ValueError, match="at least 2"):
        describe_image_folder(tmp_path / "photos")


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


def test_the_commented_distillation_keys_validate_when_uncommented(tmp_path):
    config_path = tmp_path / "kdkeras.yaml"
    text = starter_config(str(config_path))
    commented = {
        key: value
        for key, value in (
            line.strip().lstrip("# ").split(": ", 1)
            for line in text.splitlines()
            if line.startswith("  # loss: {") or line.startswith("  # alpha: {")
        )
    }
    assert set(commented) == {"loss", "alpha"}
    temperature = text.split("temperature: 2.0       # or ")[1].split(" (")[0]
    augmentation = "\n".join(
        line[2:]
        for line in text.splitlines()
        if line.startswith(("# augmentation:", "#   shift:", "#   horizontal_flip:"))
    )
    config_path.write_text(text + "\n" + augmentation + "\n")
    config = load_config(
        config_path,
        [f"distill.{key}={value}" for key, value in commented.items()]
        + [f"distill.temperature={temperature}"],
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

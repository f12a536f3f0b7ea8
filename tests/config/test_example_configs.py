"""Every config shipped in examples/configs/ validates."""

import glob
import os

import pytest

from kdkeras.config import load_config

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = sorted(glob.glob(os.path.join(REPO_ROOT, "examples", "configs", "*.yaml")))


def test_the_three_configs_of_issue_12_are_shipped():
    names = {os.path.basename(path) for path in CONFIGS}
    assert {"demo.yaml", "fashion_mnist.yaml", "image_folder.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_shipped_config_validates(path, image_folder):
    # The template names a folder the user has; the test gives it one.
    overrides = [f"data.path={image_folder}"] if "image_folder" in path else []
    config = load_config(path, overrides)
    assert config.run.name


def test_demo_config_is_the_demo():
    config = load_config(os.path.join(REPO_ROOT, "examples", "configs", "demo.yaml"))
    assert config.data.source == "embedded_fashion_mnist"
    assert (config.teacher.preset, config.teacher.width) == ("mobilenet_v2", 0.35)
    assert config.teacher.weights.endswith(
        "mobilenet_v2_0.35_48px_fashion_mnist.weights.h5"
    )
    assert config.student.filters == [8, 16] and config.student.pooling == "flatten"
    assert (config.distill.alpha, config.distill.temperature) == (0.1, 2.0)

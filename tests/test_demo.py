"""End-to-end test of examples/demo.py in its quick mode."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import kdkeras

DEMO_PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "demo.py"
)
MODEL_NAMES = (
    "teacher",
    "student (scratch)",
    "student (distilled)",
    "distilled float16 .tflite",
    "distilled int8 .tflite",
    "distilled qat_int8 .tflite",
)
PACKAGE_FILES = (
    "model.keras",
    "model_float16.tflite",
    "model_int8.tflite",
    "model_qat_int8.tflite",
    "labels.txt",
    "metadata.json",
    "report.md",
    "report.json",
    "report.png",
)


def table_rows(output):
    """The lines of the comparison table below its header and rule."""
    lines = output.splitlines()
    header = next(
        i
        for i, line in enumerate(lines)
        if line.startswith("model") and "accuracy" in line
    )
    rows = []
    for line in lines[header + 2 :]:
        if not line.strip():
            break
        rows.append(line)
    return rows


@pytest.mark.slow
def test_quick_demo_with_qat_saves_the_package_and_prints_the_table(
    tmp_path, mediapipe_check
):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    completed = subprocess.run(
        [sys.executable, DEMO_PATH, "--quick", "--qat", "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    for file_name in ("teacher.keras", "student_scratch.keras"):
        assert (tmp_path / file_name).is_file(), file_name
    package = tmp_path / "student_distilled"
    for file_name in PACKAGE_FILES:
        assert (package / file_name).is_file(), file_name
    rows = table_rows(completed.stdout)
    assert len(rows) == len(MODEL_NAMES), completed.stdout
    for row, name in zip(rows, MODEL_NAMES, strict=True):
        assert row.startswith(name)
    with open(package / "report.json", encoding="utf-8") as file:
        saved_rows = json.load(file)["rows"]
    assert [row["name"] for row in saved_rows] == list(MODEL_NAMES)
    # The teacher is the keras.applications MobileNetV2 behind its view.
    teacher = keras.saving.load_model(tmp_path / "teacher.keras")
    backbone = teacher.get_layer("teacher").get_layer("backbone")
    assert backbone.get_layer("block_16_project")  # A MobileNetV2 layer.
    assert isinstance(teacher.layers[0], kdkeras.layers.ImageView)
    metadata = kdkeras.export.load_device_metadata(package)
    assert metadata["int8"].labels == list(kdkeras.datasets.FASHION_MNIST_CLASS_NAMES)
    assert set(metadata) == {"float16", "int8", "qat_int8"}

    # MediaPipe Tasks' ImageClassifier runs the package's RGB files unchanged
    # on the demo's test images as plain uint8 RGB images, naming the classes
    # and agreeing with kdkeras' LiteRT evaluation of the same file.
    _, (x_test, _) = kdkeras.datasets.load_embedded_fashion_mnist()
    images = np.repeat(x_test[..., None], 3, axis=-1)
    variants = json.loads((package / "metadata.json").read_text())["variants"]
    for scheme in ("float16", "int8"):
        file_name = variants[scheme]["mediapipe"]["file"]
        assert file_name == f"model_{scheme}_rgb.tflite"
        mediapipe_check(
            package / file_name, images, kdkeras.datasets.FASHION_MNIST_CLASS_NAMES
        )

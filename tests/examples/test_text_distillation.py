"""End-to-end run of examples/text_distillation.py in its quick mode."""

import json
import pathlib

import pytest

EXAMPLE = (
    pathlib.Path(__file__).resolve().parents[2] / "examples" / "text_distillation.py"
)


@pytest.mark.slow
@pytest.mark.tensorflow
def test_quick_text_distillation_exports_a_checked_package(
    tmp_path, capsys, load_script, mediapipe_text_check
):
    results = load_script(EXAMPLE).main(["--quick", "--output-dir", str(tmp_path)])

    names = [row["name"] for row in results["rows"]]
    assert names == [
        "teacher",
        "student (scratch)",
        "student (distilled)",
        "distilled float16 .tflite",
        "distilled int8 .tflite",
    ]
    by_name = {row["name"]: row for row in results["rows"]}
    # 60 test e-mails, 20 per class: the teacher is far above chance (1/3).
    assert by_name["teacher"]["accuracy"] >= 0.5
    for quantization, check in results["checks"].items():
        assert check["top1_agreement"] >= 0.95, quantization
    package = tmp_path / "student_distilled"
    for name in ("model_float16.tflite", "model_int8.tflite", "vocab.txt", "report.md"):
        assert (package / name).is_file(), name
    metadata = json.loads((package / "metadata.json").read_text())
    assert metadata["labels"] == ["easy ham", "hard ham", "spam"]
    assert metadata["tokenizer"]["sequence_length"] == 64
    assert metadata["variants"]["int8"]["input_dtype"] == "int32"
    output = capsys.readouterr().out
    assert "the package's tokenizer gives the same ids on 60 texts" in output
    assert "Gap closed by distillation" in output

    # MediaPipe Tasks' TextClassifier runs each file, unchanged, on the raw
    # e-mails (its regex tokenizer and vocabulary come from the file) and
    # agrees with kdkeras' LiteRT evaluation on the package tokenizer's ids.
    from kdkeras.datasets import load_embedded_spam_assassin
    from kdkeras.text import WordTokenizer

    _, (x_test, _) = load_embedded_spam_assassin()
    tokenizer = WordTokenizer.from_package(package)
    for scheme in ("float16", "int8"):
        entry = metadata["variants"][scheme]["mediapipe"]
        assert entry["task"] == "TextClassifier"
        _, own = mediapipe_text_check(
            package / entry["file"], list(x_test), metadata["labels"], tokenizer
        )
        assert len(set(own.tolist())) >= 2  # A trained student, not one class.

"""Tests of quantization-aware training with the teacher in the loop."""

import importlib.util

import keras
import numpy as np
import pytest

import kdkeras
from kdkeras.export import Quantization, export_litert
from kdkeras.litert import LiteRTModel
from kdkeras.optimize import _training, qat

# find_spec, not importorskip: importing tfmot would set TF_USE_LEGACY_KERAS
# for the whole test session; kdkeras.optimize imports it and restores it.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_model_optimization") is None,
    reason='needs `pip install "kdkeras[optimize]"`',
)


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def test_qat_loss_equals_the_distillers_on_a_hand_checked_batch(dense_model):
    labels = np.array([0, 2])
    teacher_logits = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "float32")
    student_logits = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], "float32")
    alpha, temperature = 0.25, 2.0

    cross_entropy = -_log_softmax(student_logits)[[0, 1], labels].mean()
    log_p = _log_softmax(teacher_logits / temperature)
    log_q = _log_softmax(student_logits / temperature)
    kl = (np.exp(log_p) * (log_p - log_q)).sum(axis=-1).mean()
    expected = alpha * cross_entropy + (1 - alpha) * temperature**2 * kl

    packed = np.concatenate([labels[:, None], teacher_logits], axis=1)
    objective = _training.distillation_objective(alpha, temperature)
    ours = float(
        _training.packed_loss(objective)(packed.astype("float32"), student_logits)
    )

    distiller = kdkeras.Distiller(teacher=None, student=dense_model(units=3))
    distiller.compile(alpha=alpha, temperature=temperature)
    theirs = float(
        distiller.compute_loss(
            y=(labels, teacher_logits), y_pred=student_logits, training=True
        )
    )
    np.testing.assert_allclose(ours, expected, rtol=1e-5)
    np.testing.assert_allclose(theirs, expected, rtol=1e-5)


def test_labels_only_targets_give_the_student_loss():
    labels = np.array([[1.0]], "float32")
    logits = np.array([[0.0, 1.0]], "float32")
    objective = _training.distillation_objective(0.1, 3.0)
    loss = float(_training.packed_loss(objective)(labels, logits))
    np.testing.assert_allclose(loss, -_log_softmax(logits)[0, 1], rtol=1e-5)


def test_unquantizable_layer_gives_a_clear_error():
    student = kdkeras.models.build_cnn(filters=(4,), dense_units=None)
    x = np.zeros((8, 28, 28, 1), "uint8")
    with pytest.raises(qat.UnsupportedQuantizationError) as error:
        qat.quantize_aware(
            student, (x, np.zeros(8, "int32")), epochs=1, output_quantized_layers=()
        )
    message = str(error.value)
    assert "'rescaling' (Rescaling)" in message
    assert "output_quantized_layers" in message
    assert "quantize_annotate_layer" in message
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_teacher_and_stored_logits_are_exclusive():
    student = kdkeras.models.build_cnn(filters=(4,), dense_units=None)
    x = np.zeros((8, 28, 28, 1), "uint8")
    with pytest.raises(ValueError, match="not both"):
        qat.quantize_aware(
            student,
            (x, np.zeros(8)),
            teacher=student,
            teacher_logits=np.zeros((8, 10)),
        )


def test_verbose_is_checked_before_the_rebuild():
    student = kdkeras.models.build_cnn(filters=(4,), dense_units=None)
    x = np.zeros((8, 28, 28, 1), "uint8")
    with pytest.raises(ValueError, match="`verbose` must be 0, 1, 2 or 'auto'"):
        qat.quantize_aware(student, (x, np.zeros(8)), verbose=3)


def _export_int8(qat_model, path):
    return export_litert(
        qat_model, path, quantization=Quantization("int8", quantization_aware=True)
    )


def _tflite_accuracy(path, x, y):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    input_details = interpreter.get_input_details()[0]
    output_details = interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(input_details["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(input_details["index"], x.astype("float32"))
    interpreter.invoke()
    logits = interpreter.get_tensor(output_details["index"])
    dtypes = {detail["dtype"] for detail in interpreter.get_tensor_details()}
    return float(np.mean(logits.argmax(axis=-1) == y)), dtypes


def _trained(model, x, y, epochs):
    model.compile(
        "adam",
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
    return model


@pytest.mark.slow
def test_qat_with_teacher_gives_an_int8_tflite_as_accurate_as_the_student(tmp_path):
    (x_train, y_train), (x_test, y_test) = (
        kdkeras.datasets.load_embedded_fashion_mnist()
    )
    # 4,000 of the 9,000 training images: enough for a student that int8
    # must not make worse, at half the time.
    x_train, y_train = x_train[:4000, ..., None], y_train[:4000]
    x_test = x_test[..., None]
    keras.utils.set_random_seed(0)
    teacher = _trained(
        kdkeras.models.build_cnn(
            filters=(16, 32), dense_units=64, pooling="flatten", name="teacher"
        ),
        x_train,
        y_train,
        epochs=2,
    )
    student = _trained(
        kdkeras.models.build_cnn(
            filters=(8, 16), dense_units=32, pooling="flatten", name="student"
        ),
        x_train,
        y_train,
        epochs=2,
    )
    float_accuracy = student.evaluate(x_test, y_test, verbose=0)[1]

    result = qat.quantize_aware(
        student,
        (x_train, y_train),
        teacher=teacher,
        epochs=1,
        validation_data=(x_test, y_test),
    )
    path = _export_int8(result.model, tmp_path / "student_int8.tflite")
    int8_accuracy, dtypes = _tflite_accuracy(path, x_test, y_test)

    print(f"float student {float_accuracy:.4f}, int8 tflite {int8_accuracy:.4f}")
    assert np.int8 in dtypes
    assert int8_accuracy >= float_accuracy - 0.01
    assert set(result.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    # The Keras 3 student is untouched and Keras 3 keeps working alongside.
    assert student.evaluate(x_test, y_test, verbose=0)[1] == float_accuracy
    with pytest.raises(FileExistsError):
        _export_int8(result.model, path)


def _int8_kernel_sparsity(path):
    """The fraction of zeros in the weight tensors of a .tflite's conv/dense ops."""
    model = LiteRTModel(path)
    zeros = total = 0
    for op in model.ops:
        if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            kernel = model.get_tensor(op["inputs"][1])
            assert kernel.dtype == np.int8
            zeros += int(np.count_nonzero(kernel == 0))
            total += kernel.size
    return zeros / total


def _zero_smallest_half(model):
    """Magnitude-prunes every kernel of `model` to 50% in place; returns masks."""
    masks = {}
    for layer in model.layers:
        if not hasattr(layer, "kernel"):
            continue
        kernel = layer.kernel.numpy()
        kernel[np.abs(kernel) < np.median(np.abs(kernel))] = 0
        layer.kernel.assign(kernel)
        masks[layer.name] = kernel == 0
    return masks


@pytest.mark.slow
def test_qat_of_a_pruned_student_keeps_its_zeros_by_default(tmp_path):
    (x_train, y_train), (x_test, y_test) = (
        kdkeras.datasets.load_embedded_fashion_mnist()
    )
    x_train, x_test = x_train[:3000, ..., None], x_test[:500, ..., None]
    y_train, y_test = y_train[:3000], y_test[:500]
    keras.utils.set_random_seed(0)
    student = _trained(
        kdkeras.models.build_cnn(filters=(8, 16), dense_units=32, pooling="flatten"),
        x_train,
        y_train,
        epochs=1,
    )
    masks = _zero_smallest_half(student)
    assert kdkeras.sparsity.is_pruned(student)
    sparse_accuracy = student.evaluate(x_test, y_test, verbose=0)[1]

    kept = qat.quantize_aware(student, (x_train, y_train), epochs=1)
    lost = qat.quantize_aware(
        student, (x_train, y_train), epochs=1, preserve_sparsity=False
    )

    for name, mask in masks.items():
        kernel = kept.keras_model.get_layer(name).kernel.numpy()
        assert np.all(kernel[mask] == 0), name
        assert np.any(kernel[~mask] != student.get_layer(name).kernel.numpy()[~mask])
    assert kdkeras.sparsity.sparsity_report(kept.keras_model)["overall"] >= 0.49
    # Plain QAT moves most zeros (dead units' weights get no gradient).
    assert kdkeras.sparsity.sparsity_report(lost.keras_model)["overall"] < 0.25
    kept_path = _export_int8(kept.model, tmp_path / "kept.tflite")
    lost_path = _export_int8(lost.model, tmp_path / "lost.tflite")
    # The zeros survive into the int8 file's kernels, where gzip finds them.
    assert _int8_kernel_sparsity(kept_path) >= 0.49
    assert kdkeras.sparsity.gzipped_size_bytes(
        kept_path
    ) < kdkeras.sparsity.gzipped_size_bytes(lost_path)
    int8_accuracy, _ = _tflite_accuracy(kept_path, x_test, y_test)
    print(
        f"pruned float {sparse_accuracy:.4f}, prune-preserving QAT {int8_accuracy:.4f}"
    )
    assert int8_accuracy >= sparse_accuracy - 0.02
    with pytest.raises(ValueError, match="preserve_sparsity"):
        qat.quantize_aware(student, (x_train, y_train), preserve_sparsity="yes")


def test_labels_and_teacher_logits_are_checked_like_the_distillers():
    student = kdkeras.models.build_cnn(filters=(4,), dense_units=None)
    x = np.zeros((8, 28, 28, 1), "uint8")
    with pytest.raises(ValueError, match=r"class ids in \[0, 10\).*\[-3\]"):
        qat.quantize_aware(student, (x, np.array([0, 1, 2, 3, 4, 5, 6, -3])))
    with pytest.raises(ValueError, match="`teacher_logits` must be finite"):
        qat.quantize_aware(
            student, (x, np.zeros(8)), teacher_logits=np.full((8, 10), np.nan)
        )
    with pytest.raises(ValueError, match="`validation_data`.*class ids"):
        qat.quantize_aware(
            student, (x, np.zeros(8)), validation_data=(x, np.full(8, 10))
        )

"""Bad input across the public API: one bad argument per call.

Each case calls a public function with one argument wrong and expects a
clear error (the exception type, and the words that name the argument and
what was expected) before any expensive work: no model is trained or
converted, and nothing is written into the case's output directory.
"""

import os
import types

import keras
import numpy as np
import pytest

import kdkeras
from kdkeras import caches, datasets, export, litert, losses, models
from kdkeras.distillation import (
    TeacherEnsemble,
    average_teacher_logits,
    schedules,
)
from kdkeras.evaluation import compare_models, evaluate_model, report
from kdkeras.models.transfer import fine_tune

NUM_CLASSES = 10


def _dense(units=NUM_CLASSES, activation=None, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(units, activation=activation)]
    )


def _two_outputs():
    inputs = keras.Input((4,))
    return keras.Model(
        inputs, [keras.layers.Dense(NUM_CLASSES)(inputs), keras.layers.Dense(2)(inputs)]
    )


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Tiny models, data and files (good and bad) the cases read."""
    directory = tmp_path_factory.mktemp("bad_inputs")
    teacher, student = _dense(seed=1), _dense(seed=2)
    x = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
    y = np.arange(20) % NUM_CLASSES
    cache = str(directory / "teacher.npz")
    caches.cache_teacher_logits(teacher, x, cache)
    truncated = directory / "truncated.npz"
    truncated.write_bytes(open(cache, "rb").read()[:100])
    keras_file = directory / "student.keras"
    student.save(keras_file)
    junk_tflite = directory / "junk.tflite"
    junk_tflite.write_bytes(b"not a flatbuffer" * 8)
    junk_keras = directory / "junk.keras"
    junk_keras.write_bytes(b"not a zip archive" * 8)
    idx = directory / "images.idx"
    idx.write_bytes(b"\x00\x00")
    return types.SimpleNamespace(
        teacher=teacher,
        student=student,
        x=x,
        y=y,
        cache=cache,
        truncated=str(truncated),
        keras_file=str(keras_file),
        junk_tflite=str(junk_tflite),
        junk_keras=str(junk_keras),
        idx=str(idx),
        missing=str(directory / "missing"),
        names=[f"class {i}" for i in range(NUM_CLASSES)],
    )


@pytest.fixture
def c(shared, tmp_path):
    """The shared objects, a compiled Distiller and an empty output directory."""
    distiller = kdkeras.Distiller(teacher=shared.teacher, student=shared.student)
    distiller.compile(optimizer="adam")
    return types.SimpleNamespace(**vars(shared), out=tmp_path, distiller=distiller)


def _with(array, index, value):
    array = np.array(array, dtype="float32")
    array[index] = value
    return array


def _distiller(c, **kwargs):
    return kdkeras.Distiller(teacher=c.teacher, student=c.student, **kwargs)


def _compile(c, **kwargs):
    return _distiller(c).compile(optimizer="adam", **kwargs)


def _report(c, **kwargs):
    arguments = dict(
        models={"student": c.student},
        x=c.x,
        y=c.y,
        directory=c.out / "report",
        class_names=c.names,
        latency_runs=0,
    )
    return report.compare_and_report(**{**arguments, **kwargs})


def _tflite(c, **kwargs):
    return export.export_litert(
        **{"model": c.student, "path": c.out / "m.tflite", **kwargs}
    )


def _device(c, **kwargs):
    arguments = dict(model=c.student, directory=c.out, labels=c.names)
    return export.save_for_device(**{**arguments, "quantizations": "float32", **kwargs})


def _prune(c, **kwargs):
    return kdkeras.optimize.prune(
        **{"student": c.student, "data": (c.x, c.y), **kwargs}
    )


def _qat(c, **kwargs):
    arguments = {"student": c.student, "data": (c.x, c.y), **kwargs}
    return kdkeras.optimize.quantize_aware(**arguments)


TF = pytest.mark.tensorflow

CASES = {
    # The Distiller: constructor.
    "distiller-teacher-path": (
        lambda c: kdkeras.Distiller(teacher="t.keras", student=c.student),
        TypeError,
        "`teacher` must be a `keras.Model`",
    ),
    "distiller-student-none": (
        lambda c: kdkeras.Distiller(teacher=c.teacher, student=None),
        TypeError,
        "`student` must be a `keras.Model`",
    ),
    "distiller-view-string": (
        lambda c: _distiller(c, teacher_view="resize"),
        TypeError,
        "`teacher_view` must be a Keras layer",
    ),
    "distiller-teacher-outputs": (
        lambda c: _distiller(c, teacher_outputs="scores"),
        ValueError,
        "`teacher_outputs` must be one of",
    ),
    "distiller-class-counts": (
        lambda c: kdkeras.Distiller(teacher=_dense(5), student=c.student),
        ValueError,
        "`teacher` and `student` must output the same number of classes",
    ),
    "distiller-two-outputs": (
        lambda c: kdkeras.Distiller(teacher=c.teacher, student=_two_outputs()),
        ValueError,
        "`student` must have one output",
    ),
    "distiller-softmax-student": (
        lambda c: kdkeras.Distiller(c.teacher, _dense(activation="softmax")),
        ValueError,
        "`student` must output logits",
    ),
    "distiller-features-string": (
        lambda c: _distiller(c, features="hint"),
        TypeError,
        "`features` must be a list",
    ),
    # The Distiller: compile.
    "compile-alpha-range": (
        lambda c: _compile(c, alpha=1.5),
        ValueError,
        r"`alpha` must be in \[0, 1\]. Received: alpha=1.5",
    ),
    "compile-alpha-string": (
        lambda c: _compile(c, alpha="0.5"),
        TypeError,
        "`alpha` must be a number",
    ),
    "compile-temperature-zero": (
        lambda c: _compile(c, temperature=0),
        ValueError,
        "`temperature` must be > 0",
    ),
    "compile-temperature-inf": (
        lambda c: _compile(c, temperature=float("inf")),
        ValueError,
        "`temperature` must be > 0 and finite. Received: temperature=inf",
    ),
    "compile-temperature-string": (
        lambda c: _compile(c, temperature="2"),
        TypeError,
        "`temperature` must be a positive number",
    ),
    "compile-unknown-loss": (
        lambda c: _compile(c, distillation_loss_fn="kdd"),
        ValueError,
        "distillation_loss_fn='kdd'",
    ),
    "compile-probability-student-loss": (
        lambda c: _compile(c, student_loss_fn="sparse_categorical_crossentropy"),
        ValueError,
        "from_logits=False",
    ),
    "compile-student-loss-type": (
        lambda c: _compile(c, student_loss_fn=3),
        TypeError,
        "`student_loss_fn` must be",
    ),
    "compile-alpha-schedule": (
        lambda c: _compile(c, alpha=schedules.Linear(0.0, 2.0, 10)),
        ValueError,
        "schedule of `alpha`",
    ),
    "compile-loss-argument": (
        lambda c: _compile(c, loss="mse"),
        ValueError,
        "not `loss`",
    ),
    # The Distiller: fit.
    "fit-label-out-of-range": (
        lambda c: c.distiller.fit(c.x, _with(c.y, 0, 12), verbose=0),
        ValueError,
        r"`y` must hold class ids in \[0, 10\).*\[12",
    ),
    "fit-fractional-label": (
        lambda c: c.distiller.fit(c.x, _with(c.y, 0, 3.5), verbose=0),
        ValueError,
        r"`y` must hold whole class ids.*\[3\.5\]",
    ),
    "fit-string-labels": (
        lambda c: c.distiller.fit(c.x, c.y.astype(str), verbose=0),
        ValueError,
        "`y` must hold class ids",
    ),
    "fit-one-hot-width": (
        lambda c: c.distiller.fit(c.x, np.eye(3)[c.y % 3], verbose=0),
        ValueError,
        "`y` must have 10 columns",
    ),
    "fit-empty": (
        lambda c: c.distiller.fit(c.x[:0], c.y[:0], verbose=0),
        ValueError,
        "`x` must hold at least one example",
    ),
    "fit-nan-inputs": (
        lambda c: c.distiller.fit(_with(c.x, (2, 1), np.nan), c.y, verbose=0),
        ValueError,
        "`x` must be finite. Received 1 NaN",
    ),
    "fit-batch-size": (
        lambda c: c.distiller.fit(c.x, c.y, batch_size=0, verbose=0),
        ValueError,
        "`batch_size` must be a positive integer",
    ),
    "fit-validation-labels": (
        lambda c: c.distiller.fit(
            c.x, c.y, validation_data=(c.x, _with(c.y, 1, -1)), verbose=0
        ),
        ValueError,
        r"`validation_data` must hold class ids in \[0, 10\)",
    ),
    # Losses.
    "kd-loss-shapes": (
        lambda c: losses.kd_loss(np.zeros((2, 3)), np.zeros((2, 4))),
        ValueError,
        "`teacher_logits` and `student_logits` must have the same shape",
    ),
    "kd-loss-temperature": (
        lambda c: losses.kd_loss(np.zeros((2, 3)), np.zeros((2, 3)), -1.0),
        ValueError,
        "`temperature` must be > 0",
    ),
    "kd-loss-class-nan-temperature": (
        lambda c: losses.KDLoss(temperature=float("nan")),
        ValueError,
        "`temperature` must be > 0 and finite",
    ),
    "logit-mse-shapes": (
        lambda c: losses.logit_mse(np.zeros((2, 3)), np.zeros((3, 3))),
        ValueError,
        "`teacher_logits` and `student_logits` must have the same shape",
    ),
    "dkd-labels-out-of-range": (
        lambda c: losses.dkd_loss(np.zeros((2, 3)), np.zeros((2, 3)), np.array([0, 5])),
        ValueError,
        r"`labels` must hold class ids in \[0, 3\).*\[5\]",
    ),
    "losses-get-unknown": (
        lambda c: losses.get("kld"),
        ValueError,
        "Received: identifier='kld'",
    ),
    "losses-get-type": (
        lambda c: losses.get(3),
        TypeError,
        "Received: identifier=3",
    ),
    "function-loss-not-callable": (
        lambda c: losses.FunctionLoss(3),
        TypeError,
        "`fn` must be callable",
    ),
    # Schedules.
    "schedule-steps": (
        lambda c: schedules.Linear(0.0, 1.0, 0),
        ValueError,
        "`steps` must be a positive integer",
    ),
    "schedule-nan-start": (
        lambda c: schedules.Linear(float("nan"), 1.0, 10),
        ValueError,
        "`start` must be finite",
    ),
    "schedule-string-start": (
        lambda c: schedules.Cosine("a", 1.0, 10),
        TypeError,
        "`start` must be a number",
    ),
    "schedule-infinite-constant": (
        lambda c: schedules.Constant(float("inf")),
        ValueError,
        "`value` must be finite",
    ),
    "schedule-get-name": (
        lambda c: schedules.get("linear"),
        TypeError,
        "`schedule` must be a number, a kdkeras schedule or a callable",
    ),
    # Several teachers.
    "ensemble-empty": (
        lambda c: TeacherEnsemble([]),
        TypeError,
        "`teachers` must be a list of Keras models",
    ),
    "ensemble-negative-weight": (
        lambda c: TeacherEnsemble([c.teacher, c.teacher], weights=[1.0, -1.0]),
        ValueError,
        "`weights` must be ≥ 0",
    ),
    "average-logits-nan": (
        lambda c: average_teacher_logits([np.full((2, 3), np.nan)]),
        ValueError,
        r"`teacher_logits\[0\]` must be finite",
    ),
    # Offline caches.
    "load-without-teacher": (
        lambda c: caches.load_teacher_logits(c.cache, c.x),
        ValueError,
        "`load_teacher_logits` needs exactly one of `teacher`",
    ),
    "load-bad-fingerprint": (
        lambda c: caches.load_teacher_logits(c.cache, c.x, teacher_fingerprint="ab"),
        ValueError,
        "`teacher_fingerprint` must be the 64 hexadecimal characters",
    ),
    "load-allow-any-not-bool": (
        lambda c: caches.load_teacher_logits(c.cache, c.x, allow_any_teacher="yes"),
        TypeError,
        "`allow_any_teacher` must be True or False",
    ),
    "load-other-teacher": (
        lambda c: caches.load_teacher_logits(c.cache, c.x, teacher=c.student),
        caches.StaleCacheError,
        "made by another teacher",
    ),
    "load-other-data": (
        lambda c: caches.load_teacher_logits(
            c.cache, c.x[::-1].copy(), teacher=c.teacher
        ),
        caches.StaleCacheError,
        "other data than `x`",
    ),
    "load-truncated-cache": (
        lambda c: caches.load_teacher_logits(c.truncated, c.x, teacher=c.teacher),
        ValueError,
        "is not a kdkeras teacher-logits cache",
    ),
    "cache-teacher-none": (
        lambda c: caches.cache_teacher_logits(None, c.x, c.out / "t.npz"),
        TypeError,
        "`teacher` must be a Keras model or an estimator",
    ),
    "cache-batch-size": (
        lambda c: caches.cache_teacher_logits(
            c.teacher, c.x, c.out / "t.npz", batch_size=0
        ),
        ValueError,
        "`batch_size` must be a positive integer",
    ),
    "compute-logits-empty": (
        lambda c: caches.compute_teacher_logits(c.teacher, c.x[:0]),
        ValueError,
        "`x` must hold at least one example",
    ),
    "save-logits-nan": (
        lambda c: caches.save_teacher_logits(
            c.out / "t.npz", np.full((20, 10), np.nan), c.x, "teacher-id"
        ),
        ValueError,
        "`teacher_logits` must be finite",
    ),
    "save-logits-rows": (
        lambda c: caches.save_teacher_logits(
            c.out / "t.npz", np.zeros((19, 10)), c.x, "teacher-id"
        ),
        ValueError,
        "`teacher_logits` must have shape \\(num_samples, num_classes\\)",
    ),
    "offline-dataset-fractional-labels": (
        lambda c: caches.offline_dataset(c.x, c.y + 0.5, np.zeros((20, 10))),
        ValueError,
        "`y` must hold whole class ids",
    ),
    "offline-dataset-batch-size": (
        lambda c: caches.offline_dataset(c.x, c.y, np.zeros((20, 10)), batch_size=0),
        ValueError,
        "`batch_size` must be a positive integer",
    ),
    "offline-dataset-label-rows": (
        lambda c: caches.offline_dataset(c.x, c.y[:3], np.zeros((20, 10))),
        ValueError,
        "`y` must have one row per sample of `x`",
    ),
    "fingerprint-unpicklable-teacher": (
        lambda c: caches.fingerprint_teacher(lambda inputs: inputs),
        TypeError,
        "`teacher` must be a Keras model, a picklable estimator or a string id",
    ),
    # Export.
    "export-missing-keras-file": (
        lambda c: _tflite(c, model=c.missing + ".keras"),
        FileNotFoundError,
        "`model` must be a Keras model file",
    ),
    "export-junk-keras-file": (
        lambda c: _tflite(c, model=c.junk_keras),
        ValueError,
        "`model` must be a Keras model file.*another format",
    ),
    "export-tflite-as-model": (
        lambda c: _tflite(c, model=c.junk_tflite),
        TypeError,
        r"`model` must be a `keras.Model` or the path of a Keras model file",
    ),
    "export-function-as-model": (
        lambda c: _tflite(c, model=lambda inputs: inputs),
        TypeError,
        "`model` must be a `keras.Model`",
    ),
    "export-path-extension": (
        lambda c: _tflite(c, path=c.out / "m.lite"),
        ValueError,
        "`path` must end with '.tflite'",
    ),
    "export-quantization": (
        lambda c: _tflite(c, quantization="int4"),
        ValueError,
        "`quantization` must be one of",
    ),
    "export-int8-without-data": (
        lambda c: _tflite(c, quantization="int8"),
        ValueError,
        "`representative_data` is required",
    ),
    "export-nan-calibration": (
        lambda c: _tflite(
            c, quantization="int8", representative_data=_with(c.x, (3, 0), np.inf)
        ),
        ValueError,
        "`representative_data` must be finite: 1 of the 20",
    ),
    "export-calibration-count": (
        lambda c: _tflite(
            c, quantization=export.Quantization("int8", num_calibration_examples=0)
        ),
        ValueError,
        "`num_calibration_examples` must be a positive integer",
    ),
    "device-label-count": (
        lambda c: _device(c, labels=c.names[:5]),
        ValueError,
        r"`labels` must have one name per model output \(10\)",
    ),
    "device-labels-string": (
        lambda c: _device(c, labels="abcdefghij"),
        TypeError,
        "`labels` must be a list of class names",
    ),
    "device-quantizations": (
        lambda c: _device(c, quantizations=("int4",)),
        ValueError,
        "`quantizations` must be distinct schemes",
    ),
    "add-variant-name": (
        lambda c: export.add_variant(c.student, c.out, c.names, "bad name!"),
        ValueError,
        "`variant` must be a name of letters, digits and underscores",
    ),
    # LiteRT.
    "litert-keras-file": (
        lambda c: litert.LiteRTModel(c.keras_file),
        ValueError,
        "`path` must be a LiteRT .*keras.saving.load_model",
    ),
    "litert-junk-file": (
        lambda c: litert.LiteRTModel(c.junk_tflite),
        ValueError,
        r"`path` must be a LiteRT \(.tflite\) model.*another format",
    ),
    "litert-missing-file": (
        lambda c: litert.LiteRTModel(c.missing + ".tflite"),
        FileNotFoundError,
        "`path` must be an existing .tflite file",
    ),
    "litert-path-type": (
        lambda c: litert.LiteRTModel(3),
        TypeError,
        "`path` must be a file path",
    ),
    "litert-load-type": (
        lambda c: litert.load_litert_model(3),
        ValueError,
        "`path_or_model` must be the path of a .tflite file",
    ),
    "litert-compare-junk": (
        lambda c: litert.compare_with_keras(c.student, c.junk_tflite, c.x),
        ValueError,
        "`path_or_model` must be a LiteRT",
    ),
    "litert-compare-keras-path": (
        lambda c: litert.compare_with_keras(c.keras_file, c.junk_tflite, c.x),
        TypeError,
        "`keras_model` must be a `keras.Model`",
    ),
    # The report and scoring.
    "report-class-name-count": (
        lambda c: _report(c, class_names=c.names[:5]),
        ValueError,
        "`class_names` must name each class the models output. Received: 5",
    ),
    "report-label-outside-classes": (
        lambda c: _report(c, y=_with(c.y, 4, 12)),
        ValueError,
        r"`y` must hold class ids in \[0, 10\).*\[12",
    ),
    "report-directory-is-a-file": (
        lambda c: _report(c, directory=c.keras_file),
        ValueError,
        "`directory` must be a directory",
    ),
    "report-class-names-string": (
        lambda c: _report(c, class_names="abcdefghij"),
        TypeError,
        "`class_names` must be a list of strings",
    ),
    "report-duplicate-class-names": (
        lambda c: _report(c, class_names=["a"] * NUM_CLASSES),
        ValueError,
        "`class_names` must name each class once",
    ),
    "report-title": (
        lambda c: _report(c, title=3),
        TypeError,
        "`title` must be a non-empty string",
    ),
    "report-latency-runs": (
        lambda c: _report(c, latency_runs=-1),
        ValueError,
        "`latency_runs` must be a non-negative integer",
    ),
    "report-junk-tflite": (
        lambda c: _report(c, models={"int8": c.junk_tflite}),
        ValueError,
        r"`models\['int8'\]` must be a LiteRT",
    ),
    "score-fractional-labels": (
        lambda c: evaluate_model(c.student, c.x, c.y + 0.5),
        ValueError,
        "`y` must hold whole class ids",
    ),
    "score-empty": (
        lambda c: evaluate_model(c.student, c.x[:0], c.y[:0]),
        ValueError,
        "`x` must hold at least one example",
    ),
    "score-lengths": (
        lambda c: evaluate_model(c.student, c.x, c.y[:5]),
        ValueError,
        "`x` and `y` must hold as many examples",
    ),
    "score-nan-inputs": (
        lambda c: evaluate_model(c.student, _with(c.x, (0, 0), np.nan), c.y),
        ValueError,
        "`x` must be finite",
    ),
    "score-string-labels": (
        lambda c: evaluate_model(c.student, c.x, c.y.astype(str)),
        ValueError,
        "`y` must hold class ids",
    ),
    "score-batch-size": (
        lambda c: evaluate_model(c.student, c.x, c.y, batch_size=0),
        ValueError,
        "`batch_size` must be a positive integer",
    ),
    "score-keras-file-as-litert": (
        lambda c: evaluate_model(c.keras_file, c.x, c.y),
        ValueError,
        "`model` must be a LiteRT .*keras.saving.load_model",
    ),
    "score-two-outputs": (
        lambda c: evaluate_model(_two_outputs(), c.x, c.y),
        ValueError,
        "`model` must have one output",
    ),
    "compare-no-models": (
        lambda c: compare_models({}, c.x, c.y),
        ValueError,
        "`models` must be a non-empty dict",
    ),
    # kdkeras.optimize (tfmot): checked before the tf_keras rebuild.
    "prune-sparsity-string": (
        lambda c: _prune(c, target_sparsity="0.5"),
        TypeError,
        "`target_sparsity` must be a number",
        TF,
    ),
    "prune-sparsity-one": (
        lambda c: _prune(c, target_sparsity=1.0),
        ValueError,
        r"`target_sparsity` must be in \(0, 1\)",
        TF,
    ),
    "prune-epochs": (
        lambda c: _prune(c, epochs=0),
        ValueError,
        "`epochs` must be a positive integer",
        TF,
    ),
    "prune-label-out-of-range": (
        lambda c: _prune(c, data=(c.x, _with(c.y, 0, 12))),
        ValueError,
        r"`data` must hold class ids in \[0, 10\)",
        TF,
    ),
    "prune-teacher-logit-width": (
        lambda c: _prune(c, teacher_logits=np.zeros((20, 7))),
        ValueError,
        r"`teacher_logits` must have shape \(n, classes\)",
        TF,
    ),
    "qat-learning-rate": (
        lambda c: _qat(c, learning_rate=-1e-3),
        ValueError,
        r"`learning_rate` must be a finite number in \(0, inf\]",
        TF,
    ),
    "qat-batch-size": (
        lambda c: _qat(c, batch_size=0),
        ValueError,
        "`batch_size` must be a positive integer",
        TF,
    ),
    "qat-student-path": (
        lambda c: _qat(c, student=c.keras_file),
        TypeError,
        "`student` must be a `keras.Model`",
        TF,
    ),
    "qat-preserve-sparsity": (
        lambda c: _qat(c, preserve_sparsity="yes"),
        ValueError,
        "`preserve_sparsity` must be True, False or",
        TF,
    ),
    "qat-empty-data": (
        lambda c: _qat(c, data=(c.x[:0], c.y[:0])),
        ValueError,
        "`data` must hold at least one example",
        TF,
    ),
    # Data and models.
    "fashion-mnist-source": (
        lambda c: datasets.load_fashion_mnist(source="web"),
        ValueError,
        "`source`.*Received: source='web'",
    ),
    "mnist-missing-local-files": (
        lambda c: datasets.load_mnist(path=c.missing, source="local"),
        FileNotFoundError,  # a DatasetNotFoundError
        "Could not find the MNIST IDX files",
    ),
    "read-idx-junk": (
        lambda c: datasets.read_idx(c.idx),
        ValueError,
        "Invalid IDX file",
    ),
    "build-cnn-filters": (
        lambda c: models.build_cnn(filters=(0,)),
        ValueError,
        "`filters` must be a non-empty sequence of positive integers",
    ),
    "build-teacher-preset": (
        lambda c: models.build_teacher("resnet9000", 10, (32, 32, 3)),
        ValueError,
        "Unknown backbone preset",
    ),
    "build-teacher-classes": (
        lambda c: models.build_teacher("mobilenet_v2", 0, (32, 32, 3)),
        ValueError,
        "`num_classes` must be a positive integer",
    ),
    "fine-tune-label-out-of-range": (
        lambda c: fine_tune(c.student, (c.x, _with(c.y, 0, 12)), head_epochs=1),
        ValueError,
        r"`train_data` must hold class ids in \[0, 10\)",
    ),
    "fine-tune-validation-labels": (
        lambda c: fine_tune(
            c.student, (c.x, c.y), validation_data=(c.x, c.y + 0.5), head_epochs=1
        ),
        ValueError,
        "`validation_data` must hold whole class ids",
    ),
    "fine-tune-learning-rate": (
        lambda c: fine_tune(c.student, (c.x, c.y), head_learning_rate=0),
        ValueError,
        r"`head_learning_rate` must be a finite number in \(0, inf\]",
    ),
    "fine-tune-epochs": (
        lambda c: fine_tune(c.student, (c.x, c.y), fine_tune_epochs=-1),
        ValueError,
        "`fine_tune_epochs` must be a non-negative integer",
    ),
    "image-view-channels": (
        lambda c: kdkeras.layers.ImageView(size=(8, 8), channels=2),
        ValueError,
        "`channels` must be 1, 3 or None",
    ),
}


def _params():
    for name, (call, error, message, *marks) in CASES.items():
        yield pytest.param(call, error, message, id=name, marks=marks)


def test_there_are_at_least_sixty_cases():
    assert len(CASES) >= 60


@pytest.mark.parametrize("call, error, message", list(_params()))
def test_bad_input_gets_a_clear_error_before_any_work(c, call, error, message):
    with pytest.raises(error, match=message):
        call(c)
    assert os.listdir(c.out) == []

"""How `accuracy_methods.py` trains one student by one method: the students,
the layers the feature methods read, the optimizer and schedule every method
shares, and the dispatch from a method's name to its `kdkeras` training
(`train_one`).
"""

import keras
import numpy as np

import kdkeras
from kdkeras import augmentation, batches, caches
from kdkeras.models import build_cnn, build_mlp

LABEL_LOSS = kdkeras.losses.LabelCrossEntropy()  # class ids or (mixed) one-hot
STUDENTS = {
    # The demo's student: 9,098 parameters.
    "cnn9k": lambda: build_cnn(filters=(8, 16), dense_units=None, pooling="flatten"),
    # A 784-128-10 MLP: 101,770 parameters, no convolutions.
    "mlp": lambda: build_mlp(hidden_units=(128,)),
    # A 4k-parameter CNN: a larger gap to the teacher.
    "cnn4k": lambda: build_cnn(filters=(4, 8), dense_units=None, pooling="flatten"),
    # A 34k-parameter CNN: a teacher assistant between the 9k CNN and the
    # 289k VGG (their geometric mean is ~51k).
    "cnn34k": lambda: build_cnn(filters=(24, 48), dense_units=None, pooling="flatten"),
}
# The penultimate embeddings (teacher layer, student layer) that RKD, PKT and
# CRD relate: the VGG teacher's pooled features and the CNN students' flattened
# second block.
EMBEDDING_PAIR = ("pool", "pool")
# Attention transfer pairs (teacher layer, student layer) of equal resolution:
# the VGG teacher's stages 1-2 (28x28, 14x14) and the CNN students' blocks.
ATTENTION_PAIRS = (
    ("stage1_conv2_relu", "block1_relu"),
    ("stage2_conv2_relu", "block2_relu"),
)


def compile_student(model, args, steps_per_epoch, **kd):
    schedule = keras.optimizers.schedules.CosineDecay(
        args.learning_rate, args.epochs * steps_per_epoch
    )
    model.compile(optimizer=keras.optimizers.Adam(schedule), metrics=["accuracy"], **kd)


def fit_options(epochs, validation=None, history=None, select_best=False):
    """The `fit` arguments every method shares.

    With `validation`, the student is scored on it after every epoch (into
    `history`, a `keras.callbacks.History`); with `select_best` as well, it
    ends with the weights of its best validation epoch: Keras'
    `EarlyStopping(restore_best_weights=True)` with a patience of all the
    epochs, so training never stops early and every method gets the same
    rule. Each epoch prints one line of its logs: a run lasts up to an hour.
    """
    options = dict(epochs=epochs, verbose=2)
    if validation is None:
        return options
    callbacks = [history] if history is not None else []
    if select_best:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy",
                mode="max",
                patience=epochs,
                restore_best_weights=True,
            )
        )
    return dict(options, validation_data=validation, callbacks=callbacks)


def train_one(
    method, student, train, teachers, args, seed, validation=None, history=None
):
    """Trains `student` in place by `method`; returns the trained student.

    `teachers` holds what the methods need: `"plain"` (cached logits),
    `"views"` (the view cache), `"ensemble"` (mean cached logits),
    `"assistant"` (the teacher assistant's cached logits) and `"model"` (the
    teacher itself, for online methods). `validation` and `history`: see
    `fit_options` (`--select-best`).
    """
    x, y = train
    steps = batches.steps_per_epoch(len(x), args.batch_size)
    fit = fit_options(args.epochs, validation, history, args.select_best)
    if method == "scratch":
        compile_student(student, args, steps, loss=LABEL_LOSS)
        student.fit(x, y, batch_size=args.batch_size, shuffle=True, **fit)
        return student
    if method == "scratch_views":
        compile_student(student, args, steps, loss=LABEL_LOSS)
        dataset = augmentation.augmented_dataset(
            x,
            y,
            teachers["views"].parameters,
            args.batch_size,
            num_classes=10,
            seed=seed,
        )
        student.fit(dataset, steps_per_epoch=steps, **fit)
        return student
    if method in ("kd_at", "rkd", "pkt", "crd"):
        if method == "kd_at":
            features = [
                kdkeras.distillation.AttentionTransfer(t, s, weight=args.at_weight)
                for t, s in ATTENTION_PAIRS
            ]
            kd = dict(alpha=args.alpha, temperature=args.temperature)
        else:
            relation = {
                "rkd": {},
                "pkt": {"weight": args.pkt_weight},
                "crd": {"num_examples": len(x)},
            }[method]
            teacher_layer, student_layer = EMBEDDING_PAIR
            features = [
                kdkeras.losses.get(
                    method,
                    teacher_layer=teacher_layer,
                    student_layer=student_layer,
                    **relation,
                )
            ]
            # The labels and the relations, no KD term (RepDistiller's `-a 0`),
            # or with `--feature-kd` beside KD as the papers also report.
            kd = (
                dict(alpha=args.alpha, temperature=args.temperature)
                if args.feature_kd
                else dict(alpha=1.0)
            )
        if method != "kd_at" and args.teacher_features == "stored":
            stored = teachers["features"]
            distiller = kdkeras.Distiller(
                None,
                student,
                features=features,
                teacher_feature_shapes={k: v.shape[1:] for k, v in stored.items()},
            )
            dataset = caches.offline_dataset(
                x,
                y,
                teachers["plain"],
                batch_size=args.batch_size,
                seed=seed,
                teacher_features=stored,
                example_index=method == "crd",
            )
            compile_student(distiller, args, steps, **kd)
            distiller.fit(dataset, **fit)
            return distiller.student
        distiller = kdkeras.Distiller(teachers["model"], student, features=features)
        compile_student(distiller, args, steps, **kd)
        distiller.fit(x, y, batch_size=args.batch_size, shuffle=True, **fit)
        return distiller.student
    distiller = kdkeras.Distiller(teacher=None, student=student)
    standardized = kdkeras.losses.StandardizedKDLoss(temperature=args.lskd_temperature)
    if method in ("kd", "dkd", "lskd", "kd_ensemble", "kd_assistant", "dist"):
        source = {"kd_ensemble": "ensemble", "kd_assistant": "assistant"}
        logits = teachers[source.get(method, "plain")]
        dataset = caches.offline_dataset(
            x, y, logits, batch_size=args.batch_size, seed=seed
        )
        if method in ("kd", "kd_ensemble", "kd_assistant"):
            kd = dict(alpha=args.alpha, temperature=args.temperature)
        elif method == "lskd":
            kd = dict(alpha=args.alpha, distillation_loss_fn=standardized)
        elif method == "dist":
            kd = dict(
                alpha=args.dist_alpha,
                temperature=args.dist_temperature,
                distillation_loss_fn=kdkeras.losses.DISTLoss(),
            )
        else:
            kd = dict(
                alpha=args.alpha,
                distillation_loss_fn=kdkeras.losses.DKDLoss(
                    temperature=args.dkd_temperature, non_target_weight=args.dkd_beta
                ),
            )
        compile_student(distiller, args, steps, **kd)
        distiller.fit(dataset, **fit)
        return distiller.student
    kd = {
        "kd_views": dict(alpha=args.alpha, temperature=args.temperature),
        "lskd_views": dict(alpha=args.alpha, distillation_loss_fn=standardized),
        "fm": dict(alpha=0.0, temperature=args.fm_temperature),
    }[method]
    compile_student(distiller, args, steps, **kd)
    distiller.fit(
        teachers["views"].dataset(x, y, args.batch_size, seed=seed),
        steps_per_epoch=steps,
        **fit,
    )
    return distiller.student


def accuracy(model, data):
    """The fraction of `data = (images, labels)` the model classifies right."""
    logits = model.predict(data[0], batch_size=1000, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == data[1]))

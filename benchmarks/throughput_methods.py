"""The rows of `benchmarks/throughput.py --methods`: what each distillation
method costs per step, against plain training of the same student, and the
online Distiller against Keras' own `keras.distillation.Distiller`.

Every variant trains the throughput benchmark's student from the same
initial weights, on the same cached, unshuffled pipeline:

* `online, keras.distillation`: `keras.distillation.Distiller` with
  `LogitsDistillation(temperature=3)` and the student loss weighted 0.5, as
  the online kdkeras Distiller's default objective (alpha 0.5, T 3);
* offline, from the cached logits: `kd` (the `offline` row), `dkd`, `dist`;
* online, the teacher run on every batch: `kd` (the `online` row), `dist`,
  and the feature methods over the penultimate layers, with the labels
  alone as the other term (`alpha=1`): `rkd`, `pkt`, `crd` (its indices
  attached by `kdkeras.distillation.with_example_index`, its memory bank
  of the 10,000 examples);
* offline, from the teacher's stored penultimate features
  (`kdkeras.caches.compute_teacher_features`) and logits: `rkd`, `pkt`,
  `crd` (`offline_dataset(..., example_index=True)`).
"""

import keras
import tensorflow as tf
from throughput_variants import Variant, make_dataset, make_optimizer, with_autotune

import kdkeras

KERAS_DISTILLATION = "online, keras.distillation"

RATIOS = {
    "online": KERAS_DISTILLATION,
    "offline": "plain",
    "offline, dkd": "plain",
    "offline, dist": "plain",
    "online, dist": "plain",
    "online, rkd": "plain",
    "online, pkt": "plain",
    "online, crd": "plain",
    "offline, rkd": "plain",
    "offline, pkt": "plain",
    "offline, crd": "plain",
}
"""Each method row's baseline in the result's ratios."""

GOALS = {"offline / plain": 0.98, f"online / {KERAS_DISTILLATION}": 1.0}
"""The Distiller's speed goals: offline KD at plain training's speed, online
KD at least as fast as Keras' own Distiller."""


def method_variants(teacher, new_student, x, y, batch_size):
    """The method rows, as `Variant`s."""
    teacher_logits = kdkeras.caches.compute_teacher_logits(teacher, x)
    offline_data = kdkeras.caches.offline_dataset(
        x, y, teacher_logits, batch_size=batch_size, shuffle=False
    )
    rows = []

    reference = keras.distillation.Distiller(
        teacher=teacher,
        student=new_student(),
        distillation_losses=keras.distillation.LogitsDistillation(temperature=3.0),
        student_loss_weight=0.5,
    )
    reference.compile(
        optimizer=make_optimizer(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rows.append(Variant(KERAS_DISTILLATION, reference, make_dataset(x, y, batch_size)))

    for name, loss in (
        ("dkd", kdkeras.losses.DKDLoss()),
        ("dist", kdkeras.losses.DISTLoss()),
    ):
        distiller = kdkeras.Distiller(teacher=None, student=new_student())
        distiller.compile(optimizer=make_optimizer(), distillation_loss_fn=loss)
        rows.append(Variant(f"offline, {name}", distiller, offline_data))

    online_dist = kdkeras.Distiller(teacher=teacher, student=new_student())
    online_dist.compile(
        optimizer=make_optimizer(),
        distillation_loss_fn=kdkeras.losses.DISTLoss(),
    )
    rows.append(Variant("online, dist", online_dist, make_dataset(x, y, batch_size)))

    teacher_layer = teacher.layers[-2].name
    stored = kdkeras.caches.compute_teacher_features(teacher, x, teacher_layer)
    for source in ("online", "offline"):
        for name in ("rkd", "pkt", "crd"):
            student = new_student()
            layers = {
                "teacher_layer": teacher_layer,
                "student_layer": student.layers[-2].name,
            }
            if name == "crd":
                layers["num_examples"] = len(x)
            method = kdkeras.losses.get(name, **layers)
            if source == "online":
                distiller = kdkeras.Distiller(
                    teacher=teacher, student=student, features=[method]
                )
                dataset = make_dataset(x, y, batch_size)
                if name == "crd":
                    dataset = indexed_dataset(x, y, batch_size)
            else:
                distiller = kdkeras.Distiller(
                    teacher=None,
                    student=student,
                    features=[method],
                    teacher_feature_shapes={
                        teacher_layer: stored[teacher_layer].shape[1:]
                    },
                )
                dataset = kdkeras.caches.offline_dataset(
                    x,
                    y,
                    teacher_logits,
                    batch_size=batch_size,
                    shuffle=False,
                    teacher_features=stored,
                    example_index=name == "crd",
                )
            distiller.compile(optimizer=make_optimizer(), alpha=1.0)
            rows.append(Variant(f"{source}, {name}", distiller, dataset))
    return rows


def indexed_dataset(x, y, batch_size):
    """The benchmark's pipeline with each example's index, for CRD."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    dataset = kdkeras.distillation.with_example_index(dataset).cache()
    return with_autotune(dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE), False)

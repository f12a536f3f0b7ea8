"""The run's judgement: every model it trains is held against what it already
has, so it never ships a worse student than one it trained itself.

* After the teacher stage: a teacher at chance stops the run
  (`WeakTeacherError`) before any student learns from it.
* After the scratch stage: a teacher clearly below the scratch student stops
  it too. `distill.allow_weak_teacher: true` turns both into warnings.
* After the distill stage: the scratch and distilled students are compared on
  the validation split; the device package holds the better one
  (`export.model: best`), and a student that predicts (almost) one class, or
  a distilled student clearly below scratch, is a warning.

Every figure is measured on the validation split (the training split when
there is none: then the figures say so) with `kdkeras.evaluation`'s one
scorer, and recorded as a finding of the run folder: the log, the report and
the command line's last lines repeat it.

"Clearly" is two standard errors: with `n` examples an accuracy `p` is known
to about `sqrt(p (1 - p) / n)`, so a difference counts when it is larger than
twice the standard error of the difference (and at least one point).
"""

import math

import numpy as np

SAMPLE_SIZE = 2000
"""Examples of the split the gates score on (the first ones)."""

MIN_MARGIN = 0.01
"""The smallest accuracy difference that counts as "clearly" (one point)."""


class WeakTeacherError(RuntimeError):
    """The teacher is at chance, or clearly below the scratch student."""


def split_sample(data, max_examples=SAMPLE_SIZE):
    """`(x, y, split_name)`: up to `max_examples` examples of the validation
    split as arrays, or of the training split when there is none."""
    split, name = data.validation, "validation"
    if split is None:
        split, name = data.train, "training"
    if isinstance(split, tuple):
        x, y = split
        return x[:max_examples], np.asarray(y[:max_examples]), name
    images, labels = [], []
    for image, label in split.take(max_examples).as_numpy_iterator():
        images.append(image)
        labels.append(label)
    return np.stack(images), np.asarray(labels), name


def score(model, x, y, name):
    """What the gates read of `model` on `(x, y)`.

    Returns:
        A dict: `accuracy`, `majority_rate` (the share of the most frequent
        true class: the accuracy of always guessing it), `top_prediction_share`
        (the share of the most predicted class), `num_examples`, `name`.
    """
    from kdkeras.evaluation import evaluate_model

    row = evaluate_model(model, x, y, name=name)
    confusion = np.asarray(row["confusion_matrix"])
    total = max(1, int(confusion.sum()))
    return {
        "name": name,
        "accuracy": row["accuracy"],
        "majority_rate": float(confusion.sum(axis=1).max() / total),
        "top_prediction_share": float(confusion.sum(axis=0).max() / total),
        "num_examples": total,
    }


def standard_error(accuracy, num_examples):
    """`sqrt(p (1 - p) / n)`: how well `n` examples know an accuracy `p`."""
    return math.sqrt(max(accuracy * (1 - accuracy), 0.0) / max(1, num_examples))


def at_chance(scores):
    """Whether a model's accuracy is no better than always guessing the most
    frequent class: within two standard errors of it (and one point)."""
    chance = scores["majority_rate"]
    margin = max(MIN_MARGIN, 2 * standard_error(chance, scores["num_examples"]))
    return scores["accuracy"] <= chance + margin


def collapsed(scores):
    """Whether a model predicts (almost) one class: its most predicted class
    takes at least half of what the true classes leave to the others beyond
    the most frequent one's share (e.g. 55 % of the predictions on 10
    balanced classes, 91 % where one class is 82 % of the data)."""
    chance = scores["majority_rate"]
    return scores["top_prediction_share"] >= chance + 0.5 * (1 - chance)


def clearly_below(scores, reference):
    """Whether `scores`' accuracy is clearly below `reference`'s on the same
    examples: by more than two standard errors of the difference."""
    num_examples = scores["num_examples"]
    spread = math.hypot(
        standard_error(scores["accuracy"], num_examples),
        standard_error(reference["accuracy"], num_examples),
    )
    return scores["accuracy"] < reference["accuracy"] - max(MIN_MARGIN, 2 * spread)


def describe(scores, split_name):
    return (
        f"{scores['name']} {scores['accuracy']:.4f} on {scores['num_examples']} "
        f"{split_name} examples"
    )


def numbers(scores):
    """The finding's numbers of one model's scores."""
    name = scores["name"].replace(" ", "_")
    return {
        f"{name}_accuracy": round(scores["accuracy"], 4),
        f"{name}_top_prediction_share": round(scores["top_prediction_share"], 4),
    }


def _scores(context, model_name, row_name):
    """`score` of the run's model `model_name` on the gates' sample."""
    if context.gate_sample is None:
        context.gate_sample = split_sample(context.data)
    x, y, _ = context.gate_sample
    return score(context.models[model_name], x, y, row_name)


def _split_name(context):
    return context.gate_sample[2]


def _weak_teacher_cause(config):
    """The likely cause of a weak teacher, in config keys, and what to change."""
    teacher = config.teacher
    if teacher.ready:
        return (
            "the ready teacher (teacher.path / teacher.paths) does not predict "
            "these classes: check that it was trained on this data, with the "
            "classes in the same (sorted folder name) order"
        )
    if teacher.transformer is not None:
        return (
            "too little training: raise teacher.transformer.epochs or "
            "teacher.transformer.learning_rate"
        )
    if teacher.weights is None:
        cause = (
            "teacher.weights: none trains the backbone from random weights, "
            "which needs many epochs at a high learning rate"
        )
        if teacher.head_epochs:
            cause += (
                f", and teacher.head_epochs: {teacher.head_epochs} trains only "
                "the head on a frozen random backbone, which learns little"
            )
        return (
            cause + ": set teacher.head_epochs: 0, teacher.fine_tune_epochs: 12 "
            "or more and teacher.fine_tune_learning_rate: 0.001 (kdkeras init "
            "writes these), or give pretrained teacher.weights"
        )
    return (
        "too little fine-tuning: raise teacher.fine_tune_epochs or "
        "teacher.fine_tune_learning_rate, or unfreeze more layers "
        "(teacher.num_unfrozen_layers)"
    )


def _weak_teacher(context, stage, measured):
    """Stops the run, or warns when `distill.allow_weak_teacher` is set."""
    config = context.config
    message = f"{measured}. Likely cause: {_weak_teacher_cause(config)}."
    if config.distill.allow_weak_teacher:
        context.warn(stage, message + " Going on (distill.allow_weak_teacher).")
        return
    context.folder.add_finding(stage, "warning", message)
    raise WeakTeacherError(
        message + " A student distilled from it would learn its mistakes, so the "
        "run stops here; start a new run with the changed config, or set "
        "distill.allow_weak_teacher: true to distill from it anyway (the "
        f"package then holds the better student). Run folder: {context.folder.path}"
    )


def check_teacher(context):
    """After the teacher stage: a teacher at chance stops the run."""
    teacher = _scores(context, "teacher", "teacher")
    split_name = _split_name(context)
    context.decide(
        "teacher_gate",
        f"teacher accuracy {teacher['accuracy']:.4f} on "
        f"{teacher['num_examples']} {split_name} examples; always guessing the "
        f"most frequent class gives {teacher['majority_rate']:.4f}",
        majority_rate=round(teacher["majority_rate"], 4),
        **numbers(teacher),
    )
    if at_chance(teacher):
        _weak_teacher(
            context,
            "teacher_gate",
            f"The teacher is at chance: accuracy {teacher['accuracy']:.4f} on "
            f"{teacher['num_examples']} {split_name} examples, where always "
            f"guessing the most frequent class gives {teacher['majority_rate']:.4f}"
            f" (its most predicted class takes {teacher['top_prediction_share']:.0%}"
            " of its predictions)",
        )


def check_teacher_against_scratch(context):
    """After the scratch stage, when a teacher will teach: a teacher clearly
    below the scratch student stops the run."""
    teacher = _scores(context, "teacher", "teacher")
    scratch = _scores(context, "student_scratch", "student (scratch)")
    if clearly_below(teacher, scratch):
        _weak_teacher(
            context,
            "scratch_gate",
            f"The teacher is clearly below the student trained from the labels "
            f"alone: {describe(teacher, _split_name(context))} against "
            f"{scratch['accuracy']:.4f}",
        )


EXPORT_CHOICES = {"distilled": "student_distilled", "scratch": "student_scratch"}
"""`export.model` → the model the device package holds."""


def choose_shipped_student(context):
    """After the distill stage: which student the package holds, and the
    warnings about the students; sets `context.shipped_student`."""
    setting = context.config.export.model
    available = [name for name in EXPORT_CHOICES.values() if name in context.models]
    students = {name: _scores(context, name, REPORT_NAMES[name]) for name in available}
    split_name = _split_name(context)
    for scores in students.values():
        if collapsed(scores):
            context.warn(
                "selection",
                f"{scores['name']} predicts (almost) one class: "
                f"{scores['top_prediction_share']:.0%} of its {split_name} "
                f"predictions are one class, whose true share is at most "
                f"{scores['majority_rate']:.0%} (accuracy {scores['accuracy']:.4f})",
                **numbers(scores),
            )
    distilled = students.get("student_distilled")
    scratch = students.get("student_scratch")
    if distilled and scratch and clearly_below(distilled, scratch):
        context.warn(
            "selection",
            f"the distilled student is clearly below the scratch one: "
            f"{describe(distilled, split_name)} against {scratch['accuracy']:.4f}",
            **numbers(distilled),
            **numbers(scratch),
        )
    if setting != "best":
        shipped = EXPORT_CHOICES[setting]
        reason = f"export.model: {setting}"
    elif distilled and scratch:
        better = distilled["accuracy"] >= scratch["accuracy"]
        shipped = "student_distilled" if better else "student_scratch"
        reason = (
            f"the better on the {split_name} split: distilled "
            f"{distilled['accuracy']:.4f}, scratch {scratch['accuracy']:.4f}"
        )
    else:
        shipped = available[0]
        reason = "the only student of the run"
    context.shipped_student = shipped
    context.decide(
        "selection",
        f"the device package holds the {REPORT_NAMES[shipped]} ({reason})",
        shipped=shipped,
        **{key: value for s in students.values() for key, value in numbers(s).items()},
    )


REPORT_NAMES = {
    "student_scratch": "student (scratch)",
    "student_distilled": "student (distilled)",
}

"""The report stage of `kdkeras run`: every model of the run on the test set,
what the run decided and warned about, and the teacher-to-student figures
(`kdkeras.evaluation`: every model timed by the LiteRT interpreter, a Keras
model through its float32 conversion, so the ratios compare one runtime with
the same threads)."""

from kdkeras.pipeline import run_data
from kdkeras.pipeline.context import REPORT_ROWS

CURVE_STAGES = {
    "teacher_head": "teacher (head)",
    "teacher_fine_tune": "teacher (fine-tuning)",
    "scratch": "student (scratch)",
    "distill": "student (distilled)",
}
"""The training stages plotted (their histories `history/<stage>.csv`), and
their names in the legend."""


def run_report(context):
    """Every model of the run on the test set: `report/report.{md,json,png}`,
    with what the run decided and warned about, and the teacher-to-student
    figures."""
    from kdkeras.evaluation import (
        compare_models,
        format_table,
        plot_training_curves,
        report,
    )

    settings = context.config.report
    models = {
        row: context.models[name]
        for name, row in REPORT_ROWS.items()
        if name in context.models
    }
    x, y = run_data.evaluation_data(context.data.test)
    tflite = context.tflite
    context.log.info(
        "  scoring %d models on %d test %s%s",
        len(models) + len(tflite),
        run_data.num_examples(context.data.test),
        "images" if context.data.tokenizer is None else "texts",
        f", {settings.latency_runs} timed batch-1 runs each"
        if settings.latency_runs
        else "",
    )
    rows = compare_models(
        {**models, **tflite},
        x,
        y,
        latency_runs=settings.latency_runs,
        num_threads=settings.num_threads,
        verbose=2,
    )
    _teacher_to_student(context, rows)
    report.write_report(
        rows,
        context.folder.directory("report"),
        class_names=context.data.class_names,
        title=settings.title or f"kdkeras run {context.config.run.name}",
        findings=context.folder.findings(),
    )
    context.log.info("\n%s", format_table(rows, report.report_columns(rows)))
    artifacts = {"report": context.folder.file("report", "report.md")}
    curves = plot_training_curves(
        context.folder.file("history"),
        context.folder.file("report", "training_curves.png"),
        CURVE_STAGES,
    )
    if curves is not None:
        context.log.info("  training curves: %s", curves)
        artifacts["training_curves"] = curves
    return artifacts


def _teacher_to_student(context, rows):
    """Records the teacher-to-student figures of the shipped student's
    smallest LiteRT file (its Keras model without one) as the run's result."""
    from kdkeras.evaluation import describe_teacher_to_student, teacher_to_student

    names = [row["name"] for row in rows]
    if "teacher" not in names:
        return
    teacher = "teacher"
    deployed = [row for row in rows if row["name"] in context.tflite]
    if deployed:
        student = min(deployed, key=lambda row: row["size_bytes"])["name"]
    else:
        student = REPORT_ROWS[context.final_student_name()]
    figures = teacher_to_student(rows, teacher, student)
    context.folder.add_finding(
        "report", "result", describe_teacher_to_student(figures), **figures
    )
    context.log.info("  %s", describe_teacher_to_student(figures))
